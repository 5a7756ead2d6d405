//! checks: the workspace-level checks that keep the infrastructure honest about the code.
//!
//! Data flow: the tests read the repository's data (`alarms/cloudwatch.yaml`,
//! `dashboards/cloudwatch/*.json`, `dashboards/grafana/*.json`, `alarms/prometheus/*.yml`,
//! `terraform/`), render templates with sample values the way Terraform's `templatefile` does
//! ([`template`]), parse alarms ([`alarms`]) and dashboards ([`dashboard`]) into
//! [`metric::MetricRef`]s, and check each against what the code emits ([`catalog`], built from
//! the `service` and `canary` crates' metric constants) and AWS's own metrics and dimensions
//! ([`metric`]). [`promql`] does the same for Prometheus rules and Grafana queries, and
//! [`schedule`] reads the canary's schedule for the dead-man alarm; [`metric_math`] evaluates
//! an alarm's expression at one datapoint (what an M-of-N region alarm does for k failing
//! regions). The tests in `tests/` also
//! run the real tools: `terraform fmt`, `terraform` itself for `templatefile`, checkov and
//! promtool. [`imports`] reads each crate's module graph, so that a test keeps imports
//! flowing one way.
//!
//! [`slo`] holds the SLOs of `slo/*.yaml` (as the `slo` crate reads them) to the same
//! vocabulary: every metric an SLO counts events from is emitted, with its dimensions, and a
//! latency bound is one of the service's histogram buckets.

pub mod alarms;
pub mod catalog;
pub mod dashboard;
pub mod imports;
pub mod metric;
pub mod metric_math;
pub mod promql;
pub mod schedule;
pub mod slo;
pub mod template;
pub mod terraform_schema;

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The repository root (the workspace directory above this crate).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .expect("the checks crate lives inside the workspace")
}

/// Sample values for every template variable, shaped like the real ones (the ALB values are
/// arn_suffix forms, as the compute stack outputs them).
pub fn sample_variables() -> BTreeMap<String, String> {
    [
        ("region", "eu-west-1"),
        ("environment", "dev"),
        ("alb_arn_suffix", "app/sum-api-dev/50dc6c495c0c9188"),
        (
            "target_group_arn_suffix",
            "targetgroup/sum-api-dev/73e2d6bc24d8a067",
        ),
        ("cluster_name", "sum-api-dev"),
        ("service_name", "sum-api-dev-service"),
        ("canary_namespace", "SumApi/Canary"),
        ("canary_target_host", "api.example.com"),
        (
            "runbook_base_url",
            "https://runbooks.example/alarms/runbooks",
        ),
        ("service_log_group", "/ecs/sum-api-dev/service"),
        ("canary_log_group", "/ecs/sum-api-dev/canary"),
        ("canary_quorum", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Sample values for every list variable (what `%{ for }` loops over): the canary's regions,
/// the home region first, as the canary stack outputs them.
pub fn sample_lists() -> BTreeMap<String, Vec<String>> {
    [(
        "canary_regions".to_string(),
        vec!["eu-west-1".to_string(), "eu-central-1".to_string()],
    )]
    .into_iter()
    .collect()
}
