//! The latency-against-throughput curve both renderings draw: one point per step (ordered by
//! achieved throughput), the latency the first latency gate reads (its corrected value exactly
//! as judged, and the uncorrected one when the report keeps that percentile), the median, the
//! SLO line (that gate's bound) and the knee (the step whose rate is the capacity).

use super::StepVerdict;
use super::report::CapacityReport;
use crate::report::Latency;
use crate::slo::{Metric, Slo};

/// One step on the curve.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Achieved throughput, requests/s.
    pub achieved: f64,
    /// Target rate, requests/s.
    pub rate: f64,
    /// The plotted latency, corrected, ms.
    pub corrected: f64,
    /// The plotted latency, uncorrected, ms (when the report keeps that percentile).
    pub uncorrected: Option<f64>,
    /// Corrected median, ms.
    pub p50: f64,
    /// The step's verdict.
    pub verdict: StepVerdict,
    /// Whether this step is the knee.
    pub knee: bool,
}

/// The curve of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// What is plotted, e.g. `p99` (the gate's percentile) or `p99` when no latency gate.
    pub metric: String,
    /// The SLO line, ms: the latency gate's bound.
    pub slo_ms: Option<f64>,
    /// The gate the SLO line is drawn for, as written.
    pub slo_expr: Option<String>,
    /// The steps, by achieved throughput.
    pub points: Vec<Point>,
}

/// The value of percentile `p` kept in `l`, if it is one of those reports keep.
fn kept(l: &Latency, p: f64) -> Option<f64> {
    [
        (50.0, l.p50),
        (90.0, l.p90),
        (99.0, l.p99),
        (99.9, l.p999),
        (99.99, l.p9999),
    ]
    .into_iter()
    .find(|(q, _)| (q - p).abs() < 1e-9)
    .map(|(_, v)| v)
}

impl Curve {
    /// The curve of `r`.
    pub fn of(r: &CapacityReport) -> Curve {
        // The first gate on a latency percentile (corrected before uncorrected) sets the line.
        let gates: Vec<Slo> = r
            .steps
            .first()
            .map(|s| s.slo.iter().filter_map(|g| g.expr.parse().ok()).collect())
            .unwrap_or_default();
        let gate = gates
            .iter()
            .find(|g| matches!(g.metric, Metric::Percentile(_)))
            .or_else(|| {
                gates
                    .iter()
                    .find(|g| matches!(g.metric, Metric::UncorrectedPercentile(_)))
            });
        let knee_rate = r.knee().map(|s| s.rate);
        let points = r.steps.iter().map(|s| {
            let gate_value =
                gate.and_then(|g| s.slo.iter().find(|x| x.expr == g.expr).map(|x| x.actual));
            let (corrected, uncorrected) = match gate.map(|g| &g.metric) {
                Some(Metric::Percentile(p)) => (
                    gate_value.unwrap_or_else(|| kept(&s.latency_ms.corrected, *p).unwrap_or(0.0)),
                    kept(&s.latency_ms.uncorrected, *p),
                ),
                Some(Metric::UncorrectedPercentile(p)) => (
                    kept(&s.latency_ms.corrected, *p).unwrap_or(0.0),
                    gate_value.or_else(|| kept(&s.latency_ms.uncorrected, *p)),
                ),
                _ => (
                    s.latency_ms.corrected.p99,
                    Some(s.latency_ms.uncorrected.p99),
                ),
            };
            Point {
                achieved: s.achieved,
                rate: s.rate,
                corrected,
                uncorrected,
                p50: s.latency_ms.corrected.p50,
                verdict: s.verdict,
                knee: knee_rate == Some(s.rate) && s.verdict == StepVerdict::Pass,
            }
        });
        let mut points: Vec<Point> = points.collect();
        points.sort_by(|a, b| {
            a.achieved
                .total_cmp(&b.achieved)
                .then(a.rate.total_cmp(&b.rate))
        });
        let metric = match gate.map(|g| &g.metric) {
            Some(Metric::Percentile(p)) | Some(Metric::UncorrectedPercentile(p)) => {
                format!("p{p}")
            }
            _ => "p99".to_string(),
        };
        Curve {
            metric,
            slo_ms: gate.map(|g| g.threshold),
            slo_expr: gate.map(|g| g.expr.clone()),
            points,
        }
    }

    /// The knee's point.
    pub fn knee(&self) -> Option<&Point> {
        self.points.iter().find(|p| p.knee)
    }
}
