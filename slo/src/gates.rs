//! What a load test can check of each SLO before a release: the `sli` label says what an SLO
//! measures, and each kind becomes one gate on the run's own measurements.
//!
//! - `sli: latency` (a threshold SLI): the target's percentile of latency at most the bound
//!   (99% within 250 ms: p99 <= 250 ms).
//! - `sli: availability` (a ratio SLI whose bad events are 5xx answers): the share of requests
//!   answered 5xx or not answered at all (connection errors, timeouts) at most the budget.
//!   4xx answers are the client's doing: they are answered requests, never bad.
//! - anything else (`sli: synthetic`, the canary's) is not a property of a load test: skipped,
//!   with the reason, so that no objective is dropped silently.

use crate::model::{Sli, Slo};

/// One gate derived from an SLO.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Latency at `percentile` (e.g. 99.0) at most `bound_ms`.
    Percentile {
        /// The SLO it comes from.
        slo: String,
        /// The percentile, 0..100 (the target as a percentage).
        percentile: f64,
        /// The bound, in milliseconds.
        bound_ms: f64,
    },
    /// The share of requests answered 5xx or not answered at most `max_ratio`.
    ServerErrorRatio {
        /// The SLO it comes from.
        slo: String,
        /// The budget, `1 - target`.
        max_ratio: f64,
    },
}

impl Gate {
    /// The SLO it comes from.
    pub fn slo(&self) -> &str {
        match self {
            Self::Percentile { slo, .. } | Self::ServerErrorRatio { slo, .. } => slo,
        }
    }

    /// Whether `other` checks the same thing with the same bound.
    pub fn same_check(&self, other: &Gate) -> bool {
        match (self, other) {
            (
                Self::Percentile {
                    percentile: a,
                    bound_ms: x,
                    ..
                },
                Self::Percentile {
                    percentile: b,
                    bound_ms: y,
                    ..
                },
            ) => a == b && x == y,
            (
                Self::ServerErrorRatio { max_ratio: a, .. },
                Self::ServerErrorRatio { max_ratio: b, .. },
            ) => a == b,
            _ => false,
        }
    }
}

/// An SLO no gate is made of, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The SLO.
    pub slo: String,
    /// Why it is not a release gate.
    pub reason: String,
}

/// The gates of `slos`, and the SLOs that give none.
pub fn gates(slos: &[Slo]) -> (Vec<Gate>, Vec<Skipped>) {
    let mut gates = Vec::new();
    let mut skipped = Vec::new();
    for slo in slos {
        let before = gates.len();
        let kind = slo.labels.get("sli").map(String::as_str);
        match (kind, &slo.sli) {
            (Some("latency"), Sli::Threshold { value, .. }) => gates.push(Gate::Percentile {
                slo: slo.name.clone(),
                percentile: slo.target * 100.0,
                bound_ms: value * 1000.0,
            }),
            (Some("availability"), Sli::Ratio { .. }) => gates.push(Gate::ServerErrorRatio {
                slo: slo.name.clone(),
                max_ratio: slo.budget(),
            }),
            // The model checked that `sli` is known and matches the indicator, so what is left
            // is the canary's synthetic SLO.
            _ => skipped.push(Skipped {
                slo: slo.name.clone(),
                reason: format!(
                    "sli: {} is measured outside a load test",
                    kind.unwrap_or("(none)")
                ),
            }),
        }
        // The same objective measured at two points (the service, the ALB) is one gate.
        if gates.len() > before
            && let Some(same) = gates[..before]
                .iter()
                .find(|g| g.same_check(&gates[before]))
        {
            let first = same.slo().to_owned();
            gates.pop();
            skipped.push(Skipped {
                slo: slo.name.clone(),
                reason: format!("the same gate as SLO {first} (one load test measures it once)"),
            });
        }
    }
    (gates, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;
    use std::path::Path;

    #[test]
    fn the_repository_slos_give_a_latency_and_an_availability_gate() {
        let text = include_str!("../sum-api.yaml");
        let slos = parse(Path::new("slo/sum-api.yaml"), text).expect("valid");
        let (gates, skipped) = gates(&slos);
        assert_eq!(
            gates,
            [
                Gate::ServerErrorRatio {
                    slo: "sum-api-availability".into(),
                    max_ratio: 1.0 - 0.999
                },
                Gate::Percentile {
                    slo: "sum-api-latency".into(),
                    percentile: 99.0,
                    bound_ms: 250.0
                },
            ]
        );
        let skipped: Vec<(&str, &str)> = skipped
            .iter()
            .map(|s| (s.slo.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                (
                    "sum-api-availability-alb",
                    "the same gate as SLO sum-api-availability (one load test measures it once)"
                ),
                (
                    "sum-api-latency-alb",
                    "the same gate as SLO sum-api-latency (one load test measures it once)"
                ),
                (
                    "sum-api-synthetic",
                    "sli: synthetic is measured outside a load test"
                ),
            ]
        );
    }
}
