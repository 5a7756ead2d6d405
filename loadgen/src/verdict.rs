//! Judging a run: each SLO's measured value against its threshold, the comparison with a
//! baseline's figures, and the verdict (`invalid` beats `fail` beats `pass`; an interrupted run is
//! `aborted` whatever its gates say, see [`abort`]). It works on plain
//! values that `report` measures, so a live run and merged logs are judged by the same code,
//! and the verdict knows nothing of how a report is built or rendered.

use serde::{Deserialize, Serialize};

use crate::exit;
use crate::numfmt::{fmt_num, fmt_value};
use crate::selfcheck::{RATE_TOLERANCE, SelfCheck};
use crate::slo::{Slo, parse_latency_ms};

/// Overall result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every gate held.
    Pass,
    /// An SLO, the rate target or the baseline comparison was breached.
    Fail,
    /// The generator was the bottleneck, or nothing was measured.
    Invalid,
    /// The run was stopped by a signal: the results cover only what ran and are not judged.
    Aborted,
}

impl Verdict {
    /// The exit code for this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => exit::PASS,
            Verdict::Fail => exit::BREACH,
            Verdict::Invalid => exit::INVALID,
            Verdict::Aborted => exit::ABORTED,
        }
    }

    /// Upper-case name for the text report.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Invalid => "INVALID",
            Verdict::Aborted => "ABORTED",
        }
    }
}

/// One SLO gate's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// The expression as written.
    pub expr: String,
    /// The measured value (ms for latencies, a fraction for error rates).
    pub actual: f64,
    /// Whether it held.
    pub pass: bool,
    /// The SLO of an `--slo-file` this gate was made from; absent for a `--slo` gate (and in
    /// reports written before SLO files existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_slo: Option<String>,
}

impl SloResult {
    /// How reports name the gate: the expression, and the SLO it came from if any
    /// (`p99<=250ms (slo sum-api-latency)`).
    pub fn label(&self) -> String {
        match &self.from_slo {
            Some(name) => format!("{} (slo {name})", self.expr),
            None => self.expr.clone(),
        }
    }
}

/// Judges one SLO against its measured value.
pub fn evaluate(slo: &Slo, actual: f64) -> SloResult {
    SloResult {
        expr: slo.expr.clone(),
        actual,
        pass: slo.op.holds(actual, slo.threshold),
        from_slo: slo.from_slo.clone(),
    }
}

/// The figures a baseline comparison looks at, of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    /// Corrected median latency, ms.
    pub p50_ms: f64,
    /// Corrected 99th percentile, ms.
    pub p99_ms: f64,
    /// Corrected 99.9th percentile, ms.
    pub p999_ms: f64,
    /// Share of requests that were errors or timeouts.
    pub error_rate: f64,
    /// Achieved requests/s.
    pub rps: f64,
}

/// One compared metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// "p50_ms", "p99_ms", "p999_ms", "error_rate" or "rps".
    pub metric: String,
    /// The baseline's value.
    pub baseline: f64,
    /// This run's value.
    pub current: f64,
    /// Relative change (current - baseline) / baseline; null when the baseline is 0.
    pub change: Option<f64>,
    /// Whether the change is within the bound.
    pub pass: bool,
    /// A latency row that passed only because of the regression floor (the relative bound
    /// alone would have failed it); absent (false) otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub within_floor: bool,
}

/// The comparison with a baseline report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline file.
    pub source: String,
    /// The bound, as a fraction.
    pub max_regression: f64,
    /// The latency regression floor used, ms (see [`latency_within`]); 0 in reports written
    /// before the floor existed, which judged by the relative bound alone.
    #[serde(default)]
    pub regression_floor_ms: f64,
    /// One row per metric.
    pub rows: Vec<ComparisonRow>,
    /// Whether every row passed.
    pub pass: bool,
}

/// Error rates may rise by this much (absolute) on top of the relative bound, so that 0 → 0.01%
/// is not a regression.
pub const ERROR_RATE_SLACK: f64 = 0.001;

/// The default `--regression-floor`.
pub const DEFAULT_REGRESSION_FLOOR: &str = "1ms";

/// The largest `--regression-floor` accepted, ms: a floor of a minute would excuse anything.
pub const MAX_REGRESSION_FLOOR_MS: f64 = 10_000.0;

/// Parses a `--regression-floor` value into milliseconds: the SLO grammar (`0.5ms`, `500us`,
/// `1s`) or humantime (`1ms 500us`), from 0 up to [`MAX_REGRESSION_FLOOR_MS`].
pub fn parse_regression_floor(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let ms = parse_latency_ms(t)
        .or_else(|| {
            humantime::parse_duration(t)
                .ok()
                .map(|d| d.as_secs_f64() * 1000.0)
        })
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            format!("`{s}` is not a duration such as 1ms, 500us or 0ms (non-negative)")
        })?;
    if ms > MAX_REGRESSION_FLOOR_MS {
        return Err(format!(
            "`{s}` is too large: at most {}s",
            MAX_REGRESSION_FLOOR_MS / 1000.0
        ));
    }
    Ok(ms)
}

/// The regression rule for one latency (ms; higher is worse) with the regression floor: each
/// value is taken as known only to within `floor_ms`, so a latency regresses only when it is
/// worse beyond the relative bound `max_regression` even after both values get the floor's
/// benefit of the doubt: `current - floor > (baseline + floor) * (1 + max_regression)`. Under
/// the default 1 ms floor and a 10% bound, p99 0.95 ms → 2.8 ms passes (1.8 ≤ 2.145) while
/// 0.95 ms → 3.2 ms or 0.3 ms → 50 ms fails; on latencies of tens of ms the floor barely
/// matters. A floor of 0 judges by the relative bound alone.
pub fn latency_within(max_regression: f64, floor_ms: f64, base: f64, cur: f64) -> bool {
    cur - floor_ms <= (base + floor_ms) * (1.0 + max_regression)
}

/// Compares p50/p99/p99.9 (corrected, higher is worse, a change excused by the regression
/// floor `floor_ms` as [`latency_within`] says), error rate (higher is worse, with
/// [`ERROR_RATE_SLACK`]) and achieved rps (lower is worse) of `current` with those of the
/// baseline `old` read from `source`, each within `max_regression` (a fraction).
pub fn compare(
    source: &str,
    max_regression: f64,
    floor_ms: f64,
    old: &Figures,
    current: &Figures,
) -> Comparison {
    let m = max_regression;
    let change = |base: f64, cur: f64| (base > 0.0).then(|| (cur - base) / base);
    let mut rows = Vec::new();
    for (name, base, cur) in [
        ("p50_ms", old.p50_ms, current.p50_ms),
        ("p99_ms", old.p99_ms, current.p99_ms),
        ("p999_ms", old.p999_ms, current.p999_ms),
    ] {
        let relative = cur <= base * (1.0 + m);
        let within_floor = !relative && latency_within(m, floor_ms, base, cur);
        rows.push(ComparisonRow {
            metric: name.into(),
            baseline: base,
            current: cur,
            change: change(base, cur),
            pass: relative || within_floor,
            within_floor,
        });
    }
    rows.push(ComparisonRow {
        metric: "error_rate".into(),
        baseline: old.error_rate,
        current: current.error_rate,
        change: change(old.error_rate, current.error_rate),
        pass: current.error_rate <= old.error_rate * (1.0 + m) + ERROR_RATE_SLACK,
        within_floor: false,
    });
    rows.push(ComparisonRow {
        metric: "rps".into(),
        baseline: old.rps,
        current: current.rps,
        change: change(old.rps, current.rps),
        pass: current.rps >= old.rps * (1.0 - m),
        within_floor: false,
    });
    let pass = rows.iter().all(|r| r.pass);
    Comparison {
        source: source.to_string(),
        max_regression: m,
        regression_floor_ms: floor_ms,
        rows,
        pass,
    }
}

/// What the verdict is decided from: the counts, the gates' results and the self-check.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// Every measured request.
    pub total: u64,
    /// Requests answered 2xx or 3xx.
    pub ok: u64,
    /// The generator self-check, for a live run.
    pub self_check: Option<&'a SelfCheck>,
    /// Each SLO gate.
    pub slo: &'a [SloResult],
    /// Target requests/s, in the open model.
    pub target_rate: Option<f64>,
    /// Achieved requests/s.
    pub achieved_rate: f64,
    /// The comparison with a baseline.
    pub baseline: Option<&'a Comparison>,
}

/// The verdict and its reasons: invalid when the self-check failed or nothing was measured;
/// fail when no request succeeded, or an SLO, the target rate, or the baseline comparison was
/// breached; else pass.
pub fn decide(e: &Evidence<'_>) -> (Verdict, Vec<String>) {
    let mut invalid = Vec::new();
    if e.total == 0 {
        invalid.push("no requests were measured".to_string());
    }
    if let Some(c) = e.self_check
        && !c.valid
    {
        invalid.extend(c.notes.iter().cloned());
    }
    if !invalid.is_empty() {
        return (Verdict::Invalid, invalid);
    }
    let mut fail = Vec::new();
    // Without this, a run in which every request was refused (a wrong key, a dead target)
    // would pass whenever no SLO happens to cover errors: never a release engineer's intent.
    if e.ok == 0 {
        fail.push(format!(
            "no request succeeded: 0 of {} got a 2xx or 3xx answer",
            e.total
        ));
    }
    fail.extend(e.slo.iter().filter(|s| !s.pass).map(|s| {
        format!(
            "SLO {} breached (actual {})",
            s.label(),
            fmt_value(&s.expr, s.actual)
        )
    }));
    if let Some(target) = e.target_rate
        && e.achieved_rate < target * RATE_TOLERANCE
    {
        fail.push(format!(
            "target rate not reached: {:.1} of {target:.1} req/s",
            e.achieved_rate
        ));
    }
    if let Some(c) = e.baseline {
        for row in c.rows.iter().filter(|row| !row.pass) {
            let floor = if row.metric.ends_with("_ms") && c.regression_floor_ms > 0.0 {
                format!(" and the {}ms floor", fmt_num(c.regression_floor_ms))
            } else {
                String::new()
            };
            fail.push(format!(
                "{} regressed beyond {:.1}%{floor}: {} -> {}",
                row.metric,
                c.max_regression * 100.0,
                fmt_num(row.baseline),
                fmt_num(row.current)
            ));
        }
    }
    if fail.is_empty() {
        (Verdict::Pass, fail)
    } else {
        (Verdict::Fail, fail)
    }
}

/// The verdict of a run stopped before its end (`why` says how): `aborted`, whatever the gates
/// said of the part that ran, for a partial run proves neither a pass nor a breach. `why` comes
/// first among the reasons; the judged verdict's own reasons follow it, so that what the gates
/// saw of the part that ran stays visible.
pub fn abort(judged: (Verdict, Vec<String>), why: String) -> (Verdict, Vec<String>) {
    let (_, found) = judged;
    let mut reasons = Vec::with_capacity(found.len() + 1);
    reasons.push(why);
    reasons.extend(found);
    (Verdict::Aborted, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(p99_ms: f64, error_rate: f64, rps: f64) -> Figures {
        Figures {
            p50_ms: 0.5,
            p99_ms,
            p999_ms: p99_ms,
            error_rate,
            rps,
        }
    }

    fn row<'a>(c: &'a Comparison, metric: &str) -> &'a ComparisonRow {
        c.rows
            .iter()
            .find(|r| r.metric == metric)
            .expect("every metric has a row")
    }

    #[test]
    fn sub_floor_baseline_passes_the_issues_example() {
        // p99 0.95 ms -> 2.8 ms (+194.6%) with a 10% bound and the default 1 ms floor.
        let floor = parse_regression_floor(DEFAULT_REGRESSION_FLOOR).expect("default parses");
        let c = compare(
            "b",
            0.10,
            floor,
            &figures(0.95, 0.0, 100.0),
            &figures(2.8, 0.0, 100.0),
        );
        assert!(c.pass, "{c:?}");
        assert!(row(&c, "p99_ms").within_floor);
        assert!(
            !row(&c, "p50_ms").within_floor,
            "an unchanged row is not excused"
        );
        assert_eq!(c.regression_floor_ms, 1.0);
        // Without a floor the same change is a regression.
        let c = compare(
            "b",
            0.10,
            0.0,
            &figures(0.95, 0.0, 100.0),
            &figures(2.8, 0.0, 100.0),
        );
        assert!(!c.pass);
        assert!(!row(&c, "p99_ms").pass && !row(&c, "p99_ms").within_floor);
    }

    #[test]
    fn differences_below_the_floor_pass_and_above_fail() {
        // (baseline p99, current p99, passes, passes only thanks to the 1 ms floor), bound 10%.
        let cases = [
            // +18% but only 0.9 ms: within the floor.
            (5.0, 5.9, true, true),
            // 7 ms is beyond (5 + 1) ms + 10%.
            (5.0, 8.0, false, false),
            // From a sub-floor baseline: 2.2 ms > 1.95 ms * 1.1.
            (0.95, 3.2, false, false),
            // A fast baseline against a slow server is never excused.
            (0.3, 50.0, false, false),
            // 4 ms over the floor but within 10%: the relative bound holds on its own.
            (50.0, 54.0, true, false),
        ];
        for (base, cur, pass, within_floor) in cases {
            let c = compare(
                "b",
                0.10,
                1.0,
                &figures(base, 0.0, 100.0),
                &figures(cur, 0.0, 100.0),
            );
            let p99 = row(&c, "p99_ms");
            assert_eq!(c.pass, pass, "{base} -> {cur}: {c:?}");
            assert_eq!(p99.pass, pass, "{base} -> {cur}");
            assert_eq!(p99.within_floor, within_floor, "{base} -> {cur}");
        }
    }

    #[test]
    fn error_rate_and_rps_ignore_the_floor() {
        let big_floor = MAX_REGRESSION_FLOOR_MS;
        // Error rate 0 -> 5% and rps 100 -> 50 fail whatever the floor.
        let c = compare(
            "b",
            0.10,
            big_floor,
            &figures(1.0, 0.0, 100.0),
            &figures(1.0, 0.05, 50.0),
        );
        assert!(!row(&c, "error_rate").pass && !row(&c, "error_rate").within_floor);
        assert!(!row(&c, "rps").pass && !row(&c, "rps").within_floor);
        // And within bounds they pass as before (error-rate slack, rps -5%).
        let c = compare(
            "b",
            0.10,
            0.0,
            &figures(1.0, 0.0, 100.0),
            &figures(1.0, 0.0005, 95.0),
        );
        assert!(c.pass);
    }

    #[test]
    fn an_aborted_run_is_not_judged_but_keeps_what_the_gates_saw() {
        let (v, reasons) = abort(
            (
                Verdict::Fail,
                vec!["SLO p99<1ms breached (actual 3ms)".into()],
            ),
            "interrupted by SIGINT".into(),
        );
        assert_eq!(v, Verdict::Aborted);
        assert_eq!(
            reasons,
            ["interrupted by SIGINT", "SLO p99<1ms breached (actual 3ms)"]
        );
        assert_eq!(
            abort((Verdict::Pass, Vec::new()), "x".into()).0,
            Verdict::Aborted
        );
        assert_eq!(v.exit_code(), exit::ABORTED);
        assert_eq!(v.label(), "ABORTED");
        assert_eq!(
            serde_json::to_string(&v).expect("serializes"),
            "\"aborted\""
        );
        for other in [Verdict::Pass, Verdict::Fail, Verdict::Invalid] {
            assert_ne!(other.exit_code(), exit::ABORTED);
        }
    }

    #[test]
    fn floor_values_parse_or_are_refused() {
        assert_eq!(parse_regression_floor("1ms"), Ok(1.0));
        assert_eq!(parse_regression_floor("0ms"), Ok(0.0));
        assert_eq!(parse_regression_floor("500us"), Ok(0.5));
        assert_eq!(parse_regression_floor("0.25ms"), Ok(0.25));
        assert_eq!(parse_regression_floor("1ms 500us"), Ok(1.5));
        for bad in [
            "-1ms",
            "abc",
            "",
            "1",
            "11s",
            "1h",
            "100000000000000000000s",
        ] {
            assert!(parse_regression_floor(bad).is_err(), "{bad} accepted");
        }
    }
}
