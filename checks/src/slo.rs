//! The SLOs of `slo/*.yaml` against the code: every metric an SLO counts events from is one the
//! code emits. A Prometheus selector names a series the service exports, of its scrape job; a
//! threshold SLI names one of the service's histograms, and its bound is one of that
//! histogram's buckets (the `le` the generated rules select must exist, or nothing is ever
//! counted good). A CloudWatch source passes the same checks as an alarm's metric
//! ([`crate::metric::check`]): a canary metric with the dimensions the canary publishes and a
//! probe of its default suite, or an AWS metric with AWS's dimensions.
//!
//! The `slo` crate checks an SLO's shape and values; this module only adds what needs the code's
//! vocabulary, which the tests pass in (the checks crate depends on no binary).

use std::collections::BTreeMap;
use std::path::Path;

use ::slo::model::{CloudWatchMetric, Selector, Sli, Slo, Source};

pub use ::slo::model::Problem;

use crate::catalog::Catalog;
use crate::metric::{self, MetricRef};
use crate::template;

/// What the SLOs are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Code<'a> {
    /// The metrics the service and the canary emit.
    pub catalog: &'a Catalog,
    /// The service's histograms: base name => the `le` label values of its buckets as the
    /// service exports them (`+Inf` left out).
    pub histograms: &'a BTreeMap<String, Vec<String>>,
    /// The scrape job every Prometheus selector must select (`sum-api`).
    pub job: &'a str,
    /// Values for the Terraform template variables of CloudWatch sources.
    pub vars: &'a BTreeMap<String, String>,
}

/// Every problem of `slos` against `code`, each naming the file, the SLO and the field.
pub fn problems(slos: &[Slo], code: &Code<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    for slo in slos {
        let mut report = |field: String, message: String| {
            out.push(Problem {
                file: slo.file.clone(),
                slo: Some(slo.name.clone()),
                field,
                message,
            })
        };
        let base = "spec.indicator.spec";
        match &slo.sli {
            Sli::Ratio {
                good,
                counted,
                total,
            } => {
                let which = if *good { "good" } else { "bad" };
                for (source, field) in [
                    (
                        counted,
                        format!("{base}.ratioMetric.{which}.metricSource.spec"),
                    ),
                    (total, format!("{base}.ratioMetric.total.metricSource.spec")),
                ] {
                    match source {
                        Source::Prometheus(selector) => {
                            counter(selector, &field, code, &mut report);
                        }
                        Source::CloudWatch(query) => {
                            for (_, metric) in &query.metrics {
                                cloudwatch(metric, &field, code, &mut report);
                            }
                        }
                    }
                }
            }
            Sli::Threshold { source, value } => {
                let field = format!("{base}.thresholdMetric.metricSource.spec");
                match source {
                    Source::Prometheus(selector) => {
                        histogram(selector, *value, &field, code, &mut report);
                    }
                    Source::CloudWatch(query) => {
                        for (_, metric) in &query.metrics {
                            cloudwatch(metric, &field, code, &mut report);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Reads and checks one SLO file's text against `code` (for tests of a changed file): the
/// `slo` crate's problems if it has any, else this module's.
pub fn check_text(file: &Path, text: &str, code: &Code<'_>) -> Vec<Problem> {
    match ::slo::model::parse(file, text) {
        Ok(slos) => problems(&slos, code),
        Err(problems) => problems.0,
    }
}

/// A ratio's Prometheus source: a series the service exports (a counter, not a histogram's
/// base name, which is no series), of the scrape job.
fn counter(
    selector: &Selector,
    field: &str,
    code: &Code<'_>,
    report: &mut dyn FnMut(String, String),
) {
    let name = &selector.metric;
    if code.histograms.contains_key(name) {
        report(
            format!("{field}.query"),
            format!(
                "`{name}` is a histogram's base name, not a series: count its `_count` series, \
                 or use a thresholdMetric for a bound on it"
            ),
        );
    } else if !code.catalog.has_prometheus_series(name) {
        report(
            format!("{field}.query"),
            format!(
                "the service exports no metric `{name}` (service::metrics::ALL: {})",
                list(code.catalog.prometheus.iter())
            ),
        );
    }
    job(selector, field, code, report);
}

/// A threshold's Prometheus source: one of the service's histograms, of the scrape job, and a
/// bound that is one of its buckets.
fn histogram(
    selector: &Selector,
    value: f64,
    field: &str,
    code: &Code<'_>,
    report: &mut dyn FnMut(String, String),
) {
    let name = &selector.metric;
    job(selector, field, code, report);
    let Some(buckets) = code.histograms.get(name) else {
        report(
            format!("{field}.query"),
            format!(
                "`{name}` is no histogram of the service (histograms: {}): a thresholdMetric \
                 counts good events in a histogram's bucket",
                list(code.histograms.keys())
            ),
        );
        return;
    };
    // The generated rules select the bucket by this text; Prometheus matches labels as text.
    let le = ::slo::prometheus::num(value);
    if !buckets.contains(&le) {
        report(
            "spec.objectives[0].value".into(),
            format!(
                "{le} is no bucket bound of `{name}`: the rules would select le=\"{le}\", which \
                 the service does not export, and count no answer as good; use one of {}",
                list(buckets.iter())
            ),
        );
    }
}

/// The selector selects the scrape job, by equality.
fn job(selector: &Selector, field: &str, code: &Code<'_>, report: &mut dyn FnMut(String, String)) {
    let jobs: Vec<&(String, String, String)> = selector
        .matchers
        .iter()
        .filter(|(label, _, _)| label == "job")
        .collect();
    let selects_job = matches!(jobs.as_slice(), [(_, op, value)] if op == "=" && value == code.job);
    if !selects_job {
        report(
            format!("{field}.query"),
            format!(
                "must select the service's scrape job with job=\"{}\" (and no other job matcher), \
                 as every rule and panel does",
                code.job
            ),
        );
    }
}

/// A CloudWatch source: the checks every alarm metric passes, on the source rendered with the
/// template variables.
fn cloudwatch(
    source: &CloudWatchMetric,
    field: &str,
    code: &Code<'_>,
    report: &mut dyn FnMut(String, String),
) {
    let mut dimensions = BTreeMap::new();
    for (name, value) in &source.dimensions {
        if dimensions.insert(name.clone(), value.clone()).is_some() {
            report(
                format!("{field}.dimensions"),
                format!("dimension {name} is given twice"),
            );
        }
    }
    let raw = MetricRef {
        namespace: source.namespace.clone(),
        name: source.metric_name.clone(),
        dimensions,
    };
    let mut render = |text: &str, at: &str| match template::render(text, code.vars) {
        Ok(rendered) => Some(rendered),
        Err(e) => {
            report(format!("{field}.{at}"), e.to_string());
            None
        }
    };
    let namespace = render(&raw.namespace, "namespace");
    let name = render(&raw.name, "metricName");
    let mut rendered_dims = BTreeMap::new();
    for (dim, value) in &raw.dimensions {
        rendered_dims.insert(dim.clone(), render(value, "dimensions"));
    }
    let (Some(namespace), Some(name)) = (namespace, name) else {
        return;
    };
    let Some(dimensions) = rendered_dims
        .into_iter()
        .map(|(dim, value)| value.map(|v| (dim, v)))
        .collect::<Option<BTreeMap<_, _>>>()
    else {
        return;
    };
    let rendered = MetricRef {
        namespace,
        name,
        dimensions,
    };
    if let Err(message) = metric::check(&rendered, &raw, code.catalog) {
        report(
            format!("{field}.{}", culprit(&rendered, code.catalog, &message)),
            message,
        );
    }
}

/// Which field of a CloudWatch source a [`metric::check`] failure is about.
fn culprit(rendered: &MetricRef, catalog: &Catalog, message: &str) -> &'static str {
    let namespace = rendered.namespace.as_str();
    if namespace == catalog.canary_namespace {
        if message.contains("namespace is configurable") {
            "namespace"
        } else if catalog.canary.contains_key(&rendered.name) {
            "dimensions"
        } else {
            "metricName"
        }
    } else if !namespace.starts_with("AWS/") || message.contains(" is not one this platform") {
        "namespace"
    } else if message.contains(" has no ") {
        "metricName"
    } else {
        "dimensions"
    }
}

/// Items as `a, b, c`.
fn list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(String::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::CanaryVocabulary;

    fn catalog() -> Catalog {
        Catalog::new(
            &[
                "sumapi_http_requests_total",
                "sumapi_http_request_duration_seconds",
            ],
            CanaryVocabulary {
                namespace: "SumApi/Canary",
                dim_environment: "Environment",
                dim_probe: "Probe",
                dim_region: "Region",
                dim_host: "Host",
                all: &["ProbeSuccess", "Heartbeat"],
                per_run: &["Heartbeat"],
                per_host: &[],
                probes: &["sum", "health"],
            },
        )
    }

    fn histograms() -> BTreeMap<String, Vec<String>> {
        [(
            "sumapi_http_request_duration_seconds".to_string(),
            ["0.1", "0.25", "0.5", "1"].map(String::from).to_vec(),
        )]
        .into()
    }

    fn vars() -> BTreeMap<String, String> {
        [
            ("canary_namespace", "SumApi/Canary"),
            ("environment", "dev"),
            ("alb_arn_suffix", "app/sum-api-dev/50dc6c495c0c9188"),
            (
                "target_group_arn_suffix",
                "targetgroup/sum-api-dev/73e2d6bc24d8a067",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// One SLO document with `indicator` (indented for `spec.indicator.spec`) and `objective`
    /// (the objective's fields besides `target`).
    fn document(name: &str, indicator: &str, objective: &str) -> String {
        let sli = if indicator.contains("thresholdMetric") {
            "latency"
        } else {
            "availability"
        };
        format!(
            "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: {name}\n  labels:\n    sli: {sli}\nspec:\n  service: sum-api\n  \
             indicator:\n    metadata:\n      name: {name}-sli\n    spec:\n{indicator}  timeWindow:\n    \
             - duration: 30d\n      isRolling: true\n  budgetingMethod: Occurrences\n  objectives:\n    \
             - target: 0.99\n{objective}"
        )
    }

    fn prometheus_ratio(name: &str, bad: &str, total: &str) -> String {
        document(
            name,
            &format!(
                "      ratioMetric:\n        counter: true\n        bad:\n          metricSource:\n            \
                 type: Prometheus\n            spec:\n              query: '{bad}'\n        total:\n          \
                 metricSource:\n            type: Prometheus\n            spec:\n              query: '{total}'\n"
            ),
            "",
        )
    }

    fn latency(name: &str, query: &str, value: &str) -> String {
        document(
            name,
            &format!(
                "      thresholdMetric:\n        metricSource:\n          type: Prometheus\n          \
                 spec:\n            query: '{query}'\n"
            ),
            &format!("      op: lte\n      value: {value}\n"),
        )
    }

    fn cloudwatch_ratio(
        name: &str,
        namespace: &str,
        metric: &str,
        dims: &[(&str, &str)],
    ) -> String {
        let dims: String = dims
            .iter()
            .map(|(n, v)| format!("                - name: {n}\n                  value: '{v}'\n"))
            .collect();
        let source = |stat: &str| {
            format!(
                "          metricSource:\n            type: CloudWatch\n            spec:\n              \
                 namespace: '{namespace}'\n              metricName: {metric}\n              stat: {stat}\n              \
                 dimensions:\n{dims}"
            )
        };
        document(
            name,
            &format!(
                "      ratioMetric:\n        counter: true\n        good:\n{}        total:\n{}",
                source("Sum"),
                source("SampleCount")
            ),
            "",
        )
    }

    fn check(texts: &[String]) -> Vec<String> {
        let catalog = catalog();
        let histograms = histograms();
        let vars = vars();
        let code = Code {
            catalog: &catalog,
            histograms: &histograms,
            job: "sum-api",
            vars: &vars,
        };
        check_text(Path::new("slo/test.yaml"), &texts.join("---\n"), &code)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const REQUESTS: &str = r#"sumapi_http_requests_total{job="sum-api", route="/api/v1/sum"}"#;
    const DURATION: &str =
        r#"sumapi_http_request_duration_seconds{job="sum-api", route="/api/v1/sum"}"#;

    #[test]
    fn slos_on_emitted_metrics_pass() {
        let ok = [
            prometheus_ratio(
                "availability",
                r#"sumapi_http_requests_total{job="sum-api", status=~"5.."}"#,
                REQUESTS,
            ),
            latency("latency", DURATION, "0.25"),
            cloudwatch_ratio(
                "synthetic",
                "${canary_namespace}",
                "ProbeSuccess",
                &[("Environment", "${environment}"), ("Probe", "sum")],
            ),
            cloudwatch_ratio(
                "alb",
                "AWS/ApplicationELB",
                "RequestCount",
                &[("LoadBalancer", "${alb_arn_suffix}")],
            ),
        ];
        assert_eq!(check(&ok), Vec::<String>::new());
    }

    #[test]
    fn an_unknown_prometheus_metric_is_named_with_its_field() {
        let problems = check(&[prometheus_ratio(
            "availability",
            r#"sumapi_http_errors_total{job="sum-api"}"#,
            REQUESTS,
        )]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "slo/test.yaml: SLO availability: \
                 spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: \
                 the service exports no metric `sumapi_http_errors_total`"
            ),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_selector_of_another_job_or_none_is_refused() {
        let problems = check(&[prometheus_ratio(
            "availability",
            r#"sumapi_http_requests_total{job="other"}"#,
            r#"sumapi_http_requests_total{route="/api/v1/sum"}"#,
        )]);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].contains("ratioMetric.bad.metricSource.spec.query: must select"));
        assert!(problems[1].contains("ratioMetric.total.metricSource.spec.query: must select"));
    }

    #[test]
    fn a_latency_bound_that_is_no_bucket_is_refused() {
        let problems = check(&[latency("latency", DURATION, "0.3")]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "slo/test.yaml: SLO latency: spec.objectives[0].value: 0.3 is no bucket bound of \
                 `sumapi_http_request_duration_seconds`"
            ),
            "{problems:#?}"
        );
        assert!(problems[0].contains("0.1, 0.25, 0.5, 1"), "{problems:#?}");
    }

    #[test]
    fn a_threshold_on_a_counter_and_a_ratio_on_a_histogram_are_refused() {
        let problems = check(&[
            latency("latency", REQUESTS, "0.25"),
            prometheus_ratio("availability", DURATION, REQUESTS),
        ]);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].contains(
                "SLO latency: spec.indicator.spec.thresholdMetric.metricSource.spec.query: \
                 `sumapi_http_requests_total` is no histogram"
            ),
            "{problems:#?}"
        );
        assert!(
            problems[1].contains("SLO availability: spec.indicator.spec.ratioMetric.bad")
                && problems[1].contains("is a histogram's base name"),
            "{problems:#?}"
        );
    }

    #[test]
    fn an_unknown_canary_metric_dimension_or_probe_is_refused() {
        let problems = check(&[
            cloudwatch_ratio(
                "metric",
                "${canary_namespace}",
                "ProbeSuccesses",
                &[("Environment", "${environment}"), ("Probe", "sum")],
            ),
            cloudwatch_ratio(
                "dimension",
                "${canary_namespace}",
                "ProbeSuccess",
                &[("Environment", "${environment}"), ("Route", "sum")],
            ),
            cloudwatch_ratio(
                "probe",
                "${canary_namespace}",
                "ProbeSuccess",
                &[("Environment", "${environment}"), ("Probe", "sums")],
            ),
        ]);
        // Each SLO has the fault in both its good and its total source.
        assert_eq!(problems.len(), 6, "{problems:#?}");
        let good = "spec.indicator.spec.ratioMetric.good.metricSource.spec";
        assert!(
            problems[0].starts_with(&format!("slo/test.yaml: SLO metric: {good}.metricName:"))
                && problems[0].contains("the canary emits no metric `ProbeSuccesses`"),
            "{problems:#?}"
        );
        assert!(
            problems[2].starts_with(&format!("slo/test.yaml: SLO dimension: {good}.dimensions:"))
                && problems[2].contains("Route"),
            "{problems:#?}"
        );
        assert!(
            problems[4].starts_with(&format!("slo/test.yaml: SLO probe: {good}.dimensions:"))
                && problems[4].contains("no default probe is named `sums`"),
            "{problems:#?}"
        );
    }

    #[test]
    fn an_unknown_alb_metric_or_dimension_and_an_unknown_variable_are_refused() {
        let problems = check(&[
            cloudwatch_ratio(
                "metric",
                "AWS/ApplicationELB",
                "RequestCounts",
                &[("LoadBalancer", "${alb_arn_suffix}")],
            ),
            cloudwatch_ratio(
                "dimension",
                "AWS/ApplicationELB",
                "RequestCount",
                &[("LoadBalancerName", "${alb_arn_suffix}")],
            ),
            cloudwatch_ratio(
                "variable",
                "${canary_namespace}",
                "ProbeSuccess",
                &[("Environment", "${env}"), ("Probe", "sum")],
            ),
            cloudwatch_ratio(
                "namespace",
                "SumApi/Other",
                "ProbeSuccess",
                &[("Environment", "${environment}"), ("Probe", "sum")],
            ),
        ]);
        assert_eq!(problems.len(), 8, "{problems:#?}");
        let good = "spec.indicator.spec.ratioMetric.good.metricSource.spec";
        for (i, (slo, field, text)) in [
            ("metric", "metricName", "has no metric `RequestCounts`"),
            ("dimension", "dimensions", "LoadBalancerName"),
            ("variable", "dimensions", "unknown template variable `env`"),
            (
                "namespace",
                "namespace",
                "no code emits to namespace `SumApi/Other`",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let problem = &problems[2 * i];
            assert!(
                problem.starts_with(&format!("slo/test.yaml: SLO {slo}: {good}.{field}:"))
                    && problem.contains(text),
                "{problem}"
            );
        }
    }
}
