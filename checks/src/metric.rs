//! One CloudWatch metric reference (namespace, name, dimensions), wherever it was found, and the
//! rules it must follow: an AWS metric exists in its namespace and is keyed on the dimensions
//! AWS publishes it with (for the ALB and its target groups, their `arn_suffix`, never their
//! names); a custom metric is one the canary emits, with exactly the dimensions it emits (its
//! per-region copy: with `Region`, one of the regions the canary stack runs it in).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::catalog::Catalog;

/// A metric as an alarm or a dashboard widget names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRef {
    /// CloudWatch namespace.
    pub namespace: String,
    /// Metric name.
    pub name: String,
    /// Dimension name => value.
    pub dimensions: BTreeMap<String, String>,
}

impl fmt::Display for MetricRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {:?}", self.namespace, self.name, self.dimensions)
    }
}

/// Where the templates take ALB dimension values from: these template variables, which the
/// observability module fills with `aws_lb.arn_suffix` and `aws_lb_target_group.arn_suffix`.
pub const ALB_VARIABLE: &str = "${alb_arn_suffix}";
/// See [`ALB_VARIABLE`].
pub const TARGET_GROUP_VARIABLE: &str = "${target_group_arn_suffix}";

/// ALB metrics published per load balancer only (no TargetGroup dimension).
const ALB_LOAD_BALANCER_METRICS: &[&str] = &[
    "ActiveConnectionCount",
    "ClientTLSNegotiationErrorCount",
    "ConsumedLCUs",
    "HTTPCode_ELB_3XX_Count",
    "HTTPCode_ELB_4XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_500_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "NewConnectionCount",
    "ProcessedBytes",
    "RejectedConnectionCount",
];
/// ALB metrics that exist per target group (TargetGroup together with LoadBalancer).
const ALB_TARGET_GROUP_METRICS: &[&str] = &[
    "HealthyHostCount",
    "UnHealthyHostCount",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "RequestCountPerTarget",
    "TargetConnectionErrorCount",
    "TargetResponseTime",
    "TargetTLSNegotiationErrorCount",
];
/// ALB metrics published both per load balancer and per target group.
const ALB_EITHER_METRICS: &[&str] = &["RequestCount"];
/// AWS/ECS service metrics (ClusterName, ServiceName).
const ECS_METRICS: &[&str] = &["CPUUtilization", "MemoryUtilization"];
/// Container Insights service metrics (ClusterName, ServiceName).
const CONTAINER_INSIGHTS_METRICS: &[&str] = &[
    "CpuUtilized",
    "CpuReserved",
    "MemoryUtilized",
    "MemoryReserved",
    "RunningTaskCount",
    "DesiredTaskCount",
    "PendingTaskCount",
    "DeploymentCount",
    "TaskSetCount",
];

/// Checks a metric reference whose values have been rendered with the sample variables;
/// `raw` is the same reference before rendering, to check where the values come from.
pub fn check(rendered: &MetricRef, raw: &MetricRef, catalog: &Catalog) -> Result<(), String> {
    let dims: BTreeSet<&str> = rendered.dimensions.keys().map(String::as_str).collect();
    let has = |names: &[&str]| dims == names.iter().copied().collect::<BTreeSet<_>>();
    match rendered.namespace.as_str() {
        "AWS/ApplicationELB" => {
            let name = rendered.name.as_str();
            let allowed: &[&[&str]] = if ALB_LOAD_BALANCER_METRICS.contains(&name) {
                &[&["LoadBalancer"]]
            } else if ALB_TARGET_GROUP_METRICS.contains(&name) {
                &[&["LoadBalancer", "TargetGroup"]]
            } else if ALB_EITHER_METRICS.contains(&name) {
                &[&["LoadBalancer"], &["LoadBalancer", "TargetGroup"]]
            } else {
                return Err(format!("{raw}: AWS/ApplicationELB has no metric `{name}`"));
            };
            if !allowed.iter().any(|a| has(a)) {
                return Err(format!(
                    "{raw}: `{name}` is published with dimensions {allowed:?}, not {dims:?}"
                ));
            }
            for (dim, variable, pattern) in [
                ("LoadBalancer", ALB_VARIABLE, "app/<name>/<id>"),
                (
                    "TargetGroup",
                    TARGET_GROUP_VARIABLE,
                    "targetgroup/<name>/<id>",
                ),
            ] {
                let Some(raw_value) = raw.dimensions.get(dim) else {
                    continue;
                };
                if raw_value != variable {
                    return Err(format!(
                        "{raw}: dimension {dim} must be the arn_suffix variable `{variable}`, not `{raw_value}` \
                         (a name or a literal never matches the metrics AWS publishes)"
                    ));
                }
                let value = &rendered.dimensions[dim];
                if !is_arn_suffix(value, pattern.split('/').next().unwrap_or_default()) {
                    return Err(format!(
                        "{raw}: {dim} renders to `{value}`, not an arn_suffix ({pattern})"
                    ));
                }
            }
            Ok(())
        }
        "AWS/ECS" | "ECS/ContainerInsights" => {
            let known = if rendered.namespace == "AWS/ECS" {
                ECS_METRICS
            } else {
                CONTAINER_INSIGHTS_METRICS
            };
            if !known.contains(&rendered.name.as_str()) {
                return Err(format!(
                    "{raw}: {} has no service metric `{}`",
                    rendered.namespace, rendered.name
                ));
            }
            if !has(&["ClusterName", "ServiceName"]) {
                return Err(format!(
                    "{raw}: ECS service metrics need exactly ClusterName and ServiceName"
                ));
            }
            for (dim, variable) in [
                ("ClusterName", "${cluster_name}"),
                ("ServiceName", "${service_name}"),
            ] {
                if raw.dimensions.get(dim).map(String::as_str) != Some(variable) {
                    return Err(format!("{raw}: dimension {dim} must be `{variable}`"));
                }
            }
            Ok(())
        }
        ns if ns == catalog.canary_namespace => {
            if raw.namespace != "${canary_namespace}" {
                return Err(format!(
                    "{raw}: the canary's namespace is configurable; use `${{canary_namespace}}`"
                ));
            }
            let Some(expected) = catalog.canary.get(&rendered.name) else {
                return Err(format!(
                    "{raw}: the canary emits no metric `{}` (it emits {:?})",
                    rendered.name,
                    catalog.canary.keys().collect::<Vec<_>>()
                ));
            };
            let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
            let region = catalog.canary_region_dimension.as_str();
            let mut per_region = expected.clone();
            per_region.insert(region);
            if dims != expected && dims != per_region {
                return Err(format!(
                    "{raw}: the canary publishes `{}` with dimensions {expected:?} (and with \
                     {region} added), not {dims:?} (CloudWatch matches dimensions exactly: this \
                     would never receive data)",
                    rendered.name
                ));
            }
            if let Some(value) = raw.dimensions.get(region)
                && !value.starts_with("${canary_regions[")
            {
                return Err(format!(
                    "{raw}: dimension {region} must be one of `${{canary_regions}}` (a loop \
                     over the regions the canary runs in), not `{value}`"
                ));
            }
            if let Some(probe) = rendered.dimensions.get("Probe")
                && !catalog.probes.contains(probe)
            {
                return Err(format!(
                    "{raw}: no default probe is named `{probe}` (probes: {:?})",
                    catalog.probes
                ));
            }
            // The host the canary probes is the deployment's, never written into the data.
            if let Some(host) = raw.dimensions.get("Host")
                && host != "${canary_target_host}"
            {
                return Err(format!(
                    "{raw}: dimension Host must be `${{canary_target_host}}`, not {host:?}"
                ));
            }
            match raw.dimensions.get("Environment").map(String::as_str) {
                Some("${environment}") => Ok(()),
                other => Err(format!(
                    "{raw}: dimension Environment must be `${{environment}}`, not {other:?}"
                )),
            }
        }
        ns if ns.starts_with("AWS/") => Err(format!(
            "{raw}: namespace {ns} is not one this platform alarms on"
        )),
        ns => Err(format!(
            "{raw}: no code emits to namespace `{ns}` (the canary's is `{}`)",
            catalog.canary_namespace
        )),
    }
}

/// `app/<name>/<hex id>` or `targetgroup/<name>/<hex id>`.
fn is_arn_suffix(value: &str, kind: &str) -> bool {
    let parts: Vec<&str> = value.split('/').collect();
    parts.len() == 3
        && parts[0] == kind
        && !parts[1].is_empty()
        && !parts[2].is_empty()
        && parts[2].chars().all(|c| c.is_ascii_hexdigit())
}
