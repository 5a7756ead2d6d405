//! The report of a run (or of merged runs): one serializable [`Report`] built from a recorder
//! [`Summary`] plus what the engine knows ([`RunMeta`]). It measures what each SLO gate reads
//! ([`measure`]) and hands the values to [`verdict`] to be judged. The text summary (`text`),
//! the JSON report (`json`, schema in `loadgen/schema/report.schema.json`), `hgrm` and `html`
//! are renderings of it; a JSON report read back is the [`Baseline`] of a later run. Errors are
//! broken down by kind, and a `--targets` mix by entry, in [`breakdown`].

pub mod breakdown;
pub mod hgrm;
pub mod hlog;
pub mod html;
pub mod json;
pub(crate) mod plot;
pub mod text;
pub mod traces;

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use breakdown::{ErrorsByKind, TargetRow};
pub use traces::{TraceMeta, TraceReport};

use crate::recorder::{Outcome, Summary};
use crate::selfcheck::SelfCheck;
use crate::slo::{Metric, Slo};
use crate::verdict::{self, Comparison, Evidence, Figures, SloResult};

/// The verdict a report carries (judged by [`verdict`]).
pub use crate::verdict::Verdict;

/// Version of the JSON report's shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// What the engine (or `merge`) knows about a run beyond the recorder's summary.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// The URL or targets file (for merged logs: the files).
    pub url: String,
    /// "open" or "closed" (or "merged").
    pub model: String,
    /// Connection pool size.
    pub connections: Option<usize>,
    /// Target rate in the open model.
    pub target_rate: Option<f64>,
    /// Achieved requests/s.
    pub achieved_rate: f64,
    /// Measured span.
    pub duration: Duration,
    /// This generator's name.
    pub generator_id: Option<String>,
    /// The generator self-check, for a live run.
    pub self_check: Option<SelfCheck>,
    /// `--trace-sample` and `--trace-url`, for a traced live run.
    pub trace: Option<TraceMeta>,
}

/// A previous report to compare against (`--baseline`).
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Where it came from (shown in the table).
    pub source: String,
    /// The earlier report.
    pub report: Report,
    /// Largest tolerated regression, as a fraction.
    pub max_regression: f64,
    /// Latency differences excused by the regression floor, ms (`--regression-floor`).
    pub regression_floor_ms: f64,
}

/// Latency statistics in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Maximum.
    pub max: f64,
    /// Mean, in whole microseconds like the rest (`2.073`, not `2.0731004999999993`).
    pub mean: f64,
}

impl Latency {
    /// Statistics of a µs histogram (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: quantile_ms(h, 50.0),
            p90: quantile_ms(h, 90.0),
            p99: quantile_ms(h, 99.0),
            p999: quantile_ms(h, 99.9),
            p9999: quantile_ms(h, 99.99),
            max: h.max() as f64 / 1000.0,
            mean: h.mean().round() / 1000.0,
        }
    }
}

/// Percentile `p` (0..=100) of a µs histogram, in ms.
pub fn quantile_ms(h: &Histogram<u64>, p: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    if p >= 100.0 {
        return h.max() as f64 / 1000.0;
    }
    h.value_at_quantile(p / 100.0) as f64 / 1000.0
}

/// Corrected (from intended send) and uncorrected (from actual send) latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyPair {
    /// From the intended send time (coordinated-omission corrected).
    pub corrected: Latency,
    /// From the actual send time.
    pub uncorrected: Latency,
}

/// Request counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Every measured request.
    pub total: u64,
    /// 2xx and 3xx responses.
    pub ok: u64,
    /// 4xx, 429, 5xx responses and connection/protocol errors.
    pub errors: u64,
    /// Requests without a response within --timeout.
    pub timeouts: u64,
    /// Per outcome class: "2xx","3xx","4xx","429","5xx","error","timeout".
    pub by_class: BTreeMap<String, u64>,
}

/// The whole report; its JSON form is described by `loadgen/schema/report.schema.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// "loadgen X.Y.Z".
    pub tool: String,
    /// URL or targets file.
    pub url: String,
    /// Generators that contributed.
    pub generators: Vec<String>,
    /// Wall-clock start of measurement, RFC 3339.
    pub start: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why the verdict is not pass (empty on pass).
    pub reasons: Vec<String>,
    /// "open", "closed" or "merged".
    pub model: String,
    /// Connection pool size.
    pub connections: Option<usize>,
    /// Target requests/s (null in the closed model).
    pub target_rate: Option<f64>,
    /// Achieved requests/s.
    pub achieved_rate: f64,
    /// Measured span in seconds.
    pub duration_s: f64,
    /// Counts.
    pub requests: Requests,
    /// Share of requests that were errors or timeouts.
    pub error_rate: f64,
    /// Share of requests answered 5xx or not answered at all (connection and protocol errors,
    /// timeouts): what an availability SLO counts as bad; 4xx answers are not counted. Reports
    /// written before it existed read back as 0.
    #[serde(default)]
    pub server_error_rate: f64,
    /// Complete exchanges per status code ("200": n); classes ("2xx") when only those are
    /// known. A response whose body broke counts as a `malformed` error, not as its status.
    pub status_counts: BTreeMap<String, u64>,
    /// Errors by kind (refused, reset, timeout, TLS, malformed, other) and by status class
    /// (4xx, 5xx). Reports written before it existed read back as zeros.
    #[serde(default)]
    pub errors_by_kind: ErrorsByKind,
    /// One row per entry of a `--targets` mix of two or more entries (else empty).
    #[serde(default)]
    pub targets: Vec<TargetRow>,
    /// Latency over all requests, ms.
    pub latency_ms: LatencyPair,
    /// Latency per outcome class, ms.
    pub latency_by_class_ms: BTreeMap<String, LatencyPair>,
    /// Each SLO gate.
    pub slo: Vec<SloResult>,
    /// Comparison with --baseline.
    pub baseline: Option<Comparison>,
    /// The generator self-check (absent for merged logs).
    pub self_check: Option<SelfCheck>,
    /// The trace ids of the slowest and the failed traced requests (`--trace-sample`); null
    /// for a run without it and for merged logs. Reports written before it existed read back
    /// as null.
    #[serde(default)]
    pub traces: Option<TraceReport>,
}

impl Report {
    /// Builds and judges the report of `summary`.
    pub fn build(
        summary: &Summary,
        meta: &RunMeta,
        slos: &[Slo],
        baseline: Option<&Baseline>,
    ) -> Report {
        let mut by_class = BTreeMap::new();
        let mut latency_by_class_ms = BTreeMap::new();
        for (outcome, stats) in &summary.by_outcome {
            by_class.insert(outcome.tag().to_string(), stats.count);
            latency_by_class_ms.insert(
                outcome.tag().to_string(),
                LatencyPair {
                    corrected: Latency::of(&stats.corrected),
                    uncorrected: Latency::of(&stats.uncorrected),
                },
            );
        }
        let ok = summary.count(Outcome::Success) + summary.count(Outcome::Redirect);
        let timeouts = summary.count(Outcome::Timeout);
        let errors = summary.total.saturating_sub(ok + timeouts);
        let share = |n: u64| {
            if summary.total == 0 {
                0.0
            } else {
                n as f64 / summary.total as f64
            }
        };
        let error_rate = share(errors + timeouts);
        let server_error_rate = share(
            summary.count(Outcome::ServerError)
                + summary.count(Outcome::Error)
                + summary.count(Outcome::Timeout),
        );
        let mut generators = summary.generators.clone();
        if let Some(id) = &meta.generator_id
            && !generators.contains(id)
        {
            generators.push(id.clone());
        }
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            url: meta.url.clone(),
            generators,
            start: humantime::format_rfc3339_millis(summary.start).to_string(),
            verdict: Verdict::Pass,
            reasons: Vec::new(),
            model: meta.model.clone(),
            connections: meta.connections,
            target_rate: meta.target_rate,
            achieved_rate: meta.achieved_rate,
            duration_s: meta.duration.as_secs_f64(),
            requests: Requests {
                total: summary.total,
                ok,
                errors,
                timeouts,
                by_class,
            },
            error_rate,
            server_error_rate,
            status_counts: summary.status_counts.clone(),
            errors_by_kind: ErrorsByKind::of(summary),
            targets: summary.targets.iter().map(TargetRow::of).collect(),
            latency_ms: LatencyPair {
                corrected: Latency::of(&summary.corrected),
                uncorrected: Latency::of(&summary.uncorrected),
            },
            latency_by_class_ms,
            slo: Vec::new(),
            baseline: None,
            self_check: meta.self_check.clone(),
            traces: TraceReport::build(&summary.traces, meta.trace.as_ref()),
        };
        report.slo = slos
            .iter()
            .map(|s| verdict::evaluate(s, measure(&s.metric, summary, &report)))
            .collect();
        report.baseline = baseline.map(|b| {
            verdict::compare(
                &b.source,
                b.max_regression,
                b.regression_floor_ms,
                &b.report.figures(),
                &report.figures(),
            )
        });
        let (v, reasons) = verdict::decide(&Evidence {
            total: report.requests.total,
            ok: report.requests.ok,
            self_check: report.self_check.as_ref(),
            slo: &report.slo,
            target_rate: report.target_rate,
            achieved_rate: report.achieved_rate,
            baseline: report.baseline.as_ref(),
        });
        report.verdict = v;
        report.reasons = reasons;
        report
    }

    /// The figures a baseline comparison looks at.
    pub fn figures(&self) -> Figures {
        let l = &self.latency_ms.corrected;
        Figures {
            p50_ms: l.p50,
            p99_ms: l.p99,
            p999_ms: l.p999,
            error_rate: self.error_rate,
            rps: self.achieved_rate,
        }
    }
}

/// The measured value an SLO on `metric` compares: percentiles exactly from the summary's
/// histograms, the rest from the report's figures and counts.
pub fn measure(metric: &Metric, summary: &Summary, report: &Report) -> f64 {
    match *metric {
        Metric::Percentile(p) => quantile_ms(&summary.corrected, p),
        Metric::UncorrectedPercentile(p) => quantile_ms(&summary.uncorrected, p),
        Metric::Mean => report.latency_ms.corrected.mean,
        Metric::Max => report.latency_ms.corrected.max,
        Metric::ErrorRate => report.error_rate,
        Metric::ServerErrorRate => report.server_error_rate,
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
        Metric::ErrorKind(kind) => summary.errors_of(kind) as f64,
        Metric::Requests => summary.total as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::new_histogram;

    #[test]
    fn the_mean_is_whole_microseconds_like_the_percentiles() {
        let mut h = new_histogram();
        for us in [1000, 2000, 2001] {
            h.record(us).expect("in range");
        }
        let l = Latency::of(&h);
        // 5001 / 3 = 1667.0 µs after rounding: no float tail in the reports.
        assert_eq!(l.mean.to_string(), "1.667");
        assert_eq!(l.max, 2.001);
        assert_eq!(Latency::of(&new_histogram()).mean, 0.0);
    }
}
