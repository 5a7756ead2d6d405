//! What the code emits, as the checks need it: the service's Prometheus metric names, the
//! canary's CloudWatch metrics with the dimension names each carries (and the `Region` its
//! per-region copies add), and the names that
//! `docs/metrics.md` documents. The names themselves come from the crates' constant modules
//! (`service::metrics`, `canary::metrics`), passed in by the tests, so there is one list only.

use std::collections::{BTreeMap, BTreeSet};

/// The metrics the code emits.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// Prometheus metric names of the service (histograms by their base name).
    pub prometheus: BTreeSet<String>,
    /// CloudWatch namespace the canary publishes to by default.
    pub canary_namespace: String,
    /// Canary metric name => the dimension names it is published with.
    pub canary: BTreeMap<String, BTreeSet<String>>,
    /// Probe names of the canary's default suite: the values of its `Probe` dimension.
    pub probes: BTreeSet<String>,
    /// The dimension the canary adds to a second copy of every datum: where it ran.
    pub canary_region_dimension: String,
}

/// The canary's vocabulary, as its constants spell it.
#[derive(Debug, Clone, Copy)]
pub struct CanaryVocabulary<'a> {
    /// `canary::metrics::DEFAULT_NAMESPACE`.
    pub namespace: &'a str,
    /// `canary::metrics::DIM_ENVIRONMENT`.
    pub dim_environment: &'a str,
    /// `canary::metrics::DIM_PROBE`.
    pub dim_probe: &'a str,
    /// `canary::metrics::DIM_REGION`: every metric is published also with it appended.
    pub dim_region: &'a str,
    /// `canary::metrics::DIM_HOST`.
    pub dim_host: &'a str,
    /// `canary::metrics::ALL`.
    pub all: &'a [&'a str],
    /// The per-run metrics (`RunStarted`, `Heartbeat`): dimension `Environment` only.
    pub per_run: &'a [&'a str],
    /// The per-host metrics (`CertificateDaysRemaining`): dimensions `Environment` and `Host`.
    pub per_host: &'a [&'a str],
    /// Probe names of the default suite.
    pub probes: &'a [&'a str],
}

impl Catalog {
    /// Builds the catalog from the crates' constants.
    pub fn new(service_metrics: &[&str], canary: CanaryVocabulary<'_>) -> Self {
        let per_probe: BTreeSet<String> = [canary.dim_environment, canary.dim_probe]
            .iter()
            .map(|d| d.to_string())
            .collect();
        let per_run: BTreeSet<String> = [canary.dim_environment.to_string()].into();
        let per_host: BTreeSet<String> = [canary.dim_environment, canary.dim_host]
            .iter()
            .map(|d| d.to_string())
            .collect();
        Catalog {
            prometheus: service_metrics.iter().map(|m| m.to_string()).collect(),
            canary_namespace: canary.namespace.to_string(),
            canary: canary
                .all
                .iter()
                .map(|m| {
                    let dims = if canary.per_run.contains(m) {
                        per_run.clone()
                    } else if canary.per_host.contains(m) {
                        per_host.clone()
                    } else {
                        per_probe.clone()
                    };
                    (m.to_string(), dims)
                })
                .collect(),
            probes: canary.probes.iter().map(|p| p.to_string()).collect(),
            canary_region_dimension: canary.dim_region.to_string(),
        }
    }

    /// Whether a Prometheus series name is one the service exports: the name itself, or a
    /// histogram's `_bucket`, `_sum` or `_count` series.
    pub fn has_prometheus_series(&self, series: &str) -> bool {
        self.prometheus.contains(series)
            || ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                series
                    .strip_suffix(suffix)
                    .is_some_and(|base| self.prometheus.contains(base))
            })
    }
}

/// Every name written in backticks in a Markdown document (how `docs/metrics.md` names metrics).
pub fn backticked_names(markdown: &str) -> BTreeSet<String> {
    let pieces: Vec<&str> = markdown.split('`').collect();
    // An odd number of backticks leaves the last piece unclosed: it is not a name.
    let closed = if pieces.len().is_multiple_of(2) {
        pieces.len() - 1
    } else {
        pieces.len()
    };
    pieces[..closed]
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(
            &["sumapi_http_request_duration_seconds", "sumapi_ready"],
            CanaryVocabulary {
                namespace: "SumApi/Canary",
                dim_environment: "Environment",
                dim_probe: "Probe",
                dim_region: "Region",
                dim_host: "Host",
                all: &["ProbeSuccess", "Heartbeat", "CertificateDaysRemaining"],
                per_run: &["Heartbeat"],
                per_host: &["CertificateDaysRemaining"],
                probes: &["sum"],
            },
        )
    }

    #[test]
    fn histogram_series_resolve_to_their_base_name() {
        let c = catalog();
        assert!(c.has_prometheus_series("sumapi_http_request_duration_seconds_bucket"));
        assert!(c.has_prometheus_series("sumapi_ready"));
        assert!(!c.has_prometheus_series("sumapi_ready_total"));
        assert!(!c.has_prometheus_series("_bucket"));
    }

    #[test]
    fn per_run_metrics_carry_only_the_environment() {
        let c = catalog();
        assert_eq!(
            c.canary["Heartbeat"].iter().collect::<Vec<_>>(),
            vec!["Environment"]
        );
        assert_eq!(c.canary["ProbeSuccess"].len(), 2);
        assert_eq!(
            c.canary["CertificateDaysRemaining"]
                .iter()
                .collect::<Vec<_>>(),
            vec!["Environment", "Host"]
        );
    }

    #[test]
    fn backticked_names_are_extracted() {
        let names =
            backticked_names("| `ProbeSuccess` | Count | `Environment`, `Probe` |\nunclosed `x");
        assert!(names.contains("ProbeSuccess") && names.contains("Probe"));
        assert!(!names.contains("x"));
    }
}
