//! Judging a run: each SLO against the measured values, the comparison with a baseline report,
//! and the verdict (`invalid` beats `fail` beats `pass`). Works on a [`Report`] and its
//! [`Summary`], so merged runs get exactly the same gates as a live one.

use serde::{Deserialize, Serialize};

use crate::numfmt::{fmt_num, fmt_value};
use crate::recorder::{Outcome, Summary};
use crate::report::{Report, Verdict, quantile_ms};
use crate::selfcheck::RATE_TOLERANCE;
use crate::slo::{Metric, Slo};

/// One SLO gate's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloResult {
    /// The expression as written.
    pub expr: String,
    /// The measured value (ms for latencies, a fraction for error_rate).
    pub actual: f64,
    /// Whether it held.
    pub pass: bool,
}

/// The measured value an SLO compares.
pub fn actual(slo: &Slo, summary: &Summary, report: &Report) -> f64 {
    match slo.metric {
        Metric::Percentile(p) => quantile_ms(&summary.corrected, p),
        Metric::UncorrectedPercentile(p) => quantile_ms(&summary.uncorrected, p),
        Metric::Mean => report.latency_ms.corrected.mean,
        Metric::Max => report.latency_ms.corrected.max,
        Metric::ErrorRate => report.error_rate,
        Metric::Rps => report.achieved_rate,
        Metric::Status(code) => report
            .status_counts
            .get(&code.to_string())
            .copied()
            .unwrap_or(0) as f64,
        Metric::StatusClass(c) => {
            let from_codes: u64 = report
                .status_counts
                .iter()
                .filter(|(k, _)| k.len() == 3 && k.as_bytes()[0] == b'0' + c)
                .map(|(_, n)| n)
                .sum();
            // 429 and the 4xx class are separate outcome classes; the status counts hold both.
            from_codes as f64
        }
        Metric::Timeouts => summary.count(Outcome::Timeout) as f64,
        Metric::Errors => summary.count(Outcome::Error) as f64,
        Metric::Requests => summary.total as f64,
    }
}

/// Evaluates one SLO.
pub fn evaluate(slo: &Slo, summary: &Summary, report: &Report) -> SloResult {
    let actual = actual(slo, summary, report);
    SloResult {
        expr: slo.expr.clone(),
        actual,
        pass: slo.op.holds(actual, slo.threshold),
    }
}

/// A previous report to compare against.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Where it came from (shown in the table).
    pub source: String,
    /// The earlier report.
    pub report: Report,
    /// Largest tolerated regression, as a fraction.
    pub max_regression: f64,
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
/// [`ERROR_RATE_SLACK`]) and achieved rps (lower is worse) with the baseline.
pub fn compare(b: &Baseline, current: &Report) -> Comparison {
    let m = b.max_regression;
    let old = &b.report;
    let change = |base: f64, cur: f64| (base > 0.0).then(|| (cur - base) / base);
    let mut rows = Vec::new();
    for (name, base, cur) in [
        (
            "p50_ms",
            old.latency_ms.corrected.p50,
            current.latency_ms.corrected.p50,
        ),
        (
            "p99_ms",
            old.latency_ms.corrected.p99,
            current.latency_ms.corrected.p99,
        ),
        (
            "p999_ms",
            old.latency_ms.corrected.p999,
            current.latency_ms.corrected.p999,
        ),
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
        baseline: old.achieved_rate,
        current: current.achieved_rate,
        change: change(old.achieved_rate, current.achieved_rate),
        pass: current.achieved_rate >= old.achieved_rate * (1.0 - m),
    });
    let pass = rows.iter().all(|r| r.pass);
    Comparison {
        source: b.source.clone(),
        max_regression: m,
        rows,
        pass,
    }
}

/// The verdict and its reasons: invalid when the self-check failed or nothing was measured;
/// fail when no request succeeded, or an SLO, the target rate, or the baseline comparison was
/// breached; else pass.
pub fn decide(r: &Report) -> (Verdict, Vec<String>) {
    let mut invalid = Vec::new();
    if r.requests.total == 0 {
        invalid.push("no requests were measured".to_string());
    }
    if let Some(c) = &r.self_check
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
    if r.requests.ok == 0 {
        fail.push(format!(
            "no request succeeded: 0 of {} got a 2xx or 3xx answer",
            r.requests.total
        ));
    }
    fail.extend(r.slo.iter().filter(|s| !s.pass).map(|s| {
        format!(
            "SLO {} breached (actual {})",
            s.expr,
            fmt_value(&s.expr, s.actual)
        )
    }));
    if let Some(target) = r.target_rate
        && r.achieved_rate < target * RATE_TOLERANCE
    {
        fail.push(format!(
            "target rate not reached: {:.1} of {target:.1} req/s",
            r.achieved_rate
        ));
    }
    if let Some(c) = &r.baseline {
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
