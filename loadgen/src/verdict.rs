//! Judging a run: each SLO's measured value against its threshold, the comparison with a
//! baseline's figures, and the verdict (`invalid` beats `fail` beats `pass`). It works on plain
//! values that `report` measures, so a live run and merged logs are judged by the same code,
//! and the verdict knows nothing of how a report is built or rendered.

use serde::{Deserialize, Serialize};

use crate::exit;
use crate::numfmt::{fmt_num, fmt_value};
use crate::selfcheck::{RATE_TOLERANCE, SelfCheck};
use crate::slo::Slo;

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
}

impl Verdict {
    /// The exit code for this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => exit::PASS,
            Verdict::Fail => exit::BREACH,
            Verdict::Invalid => exit::INVALID,
        }
    }

    /// Upper-case name for the text report.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Invalid => "INVALID",
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
}

/// The comparison with a baseline report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline file.
    pub source: String,
    /// The bound, as a fraction.
    pub max_regression: f64,
    /// One row per metric.
    pub rows: Vec<ComparisonRow>,
    /// Whether every row passed.
    pub pass: bool,
}

/// Error rates may rise by this much (absolute) on top of the relative bound, so that 0 → 0.01%
/// is not a regression.
pub const ERROR_RATE_SLACK: f64 = 0.001;

/// Compares p50/p99/p99.9 (corrected, higher is worse), error rate (higher is worse, with
/// [`ERROR_RATE_SLACK`]) and achieved rps (lower is worse) of `current` with those of the
/// baseline `old` read from `source`, each within `max_regression` (a fraction).
pub fn compare(source: &str, max_regression: f64, old: &Figures, current: &Figures) -> Comparison {
    let m = max_regression;
    let change = |base: f64, cur: f64| (base > 0.0).then(|| (cur - base) / base);
    let mut rows = Vec::new();
    for (name, base, cur) in [
        ("p50_ms", old.p50_ms, current.p50_ms),
        ("p99_ms", old.p99_ms, current.p99_ms),
        ("p999_ms", old.p999_ms, current.p999_ms),
    ] {
        rows.push(ComparisonRow {
            metric: name.into(),
            baseline: base,
            current: cur,
            change: change(base, cur),
            pass: cur <= base * (1.0 + m),
        });
    }
    rows.push(ComparisonRow {
        metric: "error_rate".into(),
        baseline: old.error_rate,
        current: current.error_rate,
        change: change(old.error_rate, current.error_rate),
        pass: current.error_rate <= old.error_rate * (1.0 + m) + ERROR_RATE_SLACK,
    });
    rows.push(ComparisonRow {
        metric: "rps".into(),
        baseline: old.rps,
        current: current.rps,
        change: change(old.rps, current.rps),
        pass: current.rps >= old.rps * (1.0 - m),
    });
    let pass = rows.iter().all(|r| r.pass);
    Comparison {
        source: source.to_string(),
        max_regression: m,
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
            fail.push(format!(
                "{} regressed beyond {:.1}%: {} -> {}",
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
