//! The SLOs of `slo/` against the code and against what is generated from them: every metric
//! an SLO names is one the service or the canary emits (with the canary's dimensions and a
//! probe of its suite, and a latency bound that is one of the service's buckets, as the
//! service's own exposition shows them), and the committed generated files are what
//! `slo generate` writes now.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use checks::slo::{self, Code};
use common::repo::*;
use common::root;

/// The scrape job of the service, which every rule and panel selects.
const JOB: &str = "sum-api";

/// The service's histograms and the `le` of their buckets, read from its real exposition after
/// one answered request.
fn service_histograms() -> BTreeMap<String, Vec<String>> {
    let metrics = service::metrics::Metrics::new(true);
    metrics.request("POST", "/api/v1/sum", 200, Duration::from_millis(1));
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in metrics.render().lines() {
        let Some((series, _)) = line.split_once('{') else {
            continue;
        };
        let Some(base) = series.strip_suffix("_bucket") else {
            continue;
        };
        let le = line
            .split("le=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("a bucket without le: {line}"));
        let buckets = out.entry(base.to_string()).or_default();
        if le != "+Inf" && !buckets.iter().any(|b| b == le) {
            buckets.push(le.to_string());
        }
    }
    out
}

/// The problems of `text` as the SLO file `slo/sum-api.yaml`, one line each.
fn problems_of(text: &str) -> Vec<String> {
    let (catalog, histograms, vars) = (catalog(), service_histograms(), vars());
    let code = Code {
        catalog: &catalog,
        histograms: &histograms,
        job: JOB,
        vars: &vars,
    };
    slo::check_text(Path::new("slo/sum-api.yaml"), text, &code)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_service_exports_its_latency_buckets_as_the_slo_check_reads_them() {
    let histograms = service_histograms();
    let latency = &histograms[service::metrics::HTTP_REQUEST_DURATION_SECONDS];
    assert!(
        latency.contains(&"0.25".to_string()) && latency.len() >= 10,
        "{latency:?}"
    );
    assert!(histograms.contains_key(service::metrics::SUM_INPUT_NUMBERS));
}

#[test]
fn every_slo_counts_events_from_metrics_the_code_emits() {
    let slos = ::slo::cli::load_repo(&root())
        .unwrap_or_else(|problems| panic!("slo/ is invalid:\n{problems}"));
    assert!(slos.len() >= 3, "{slos:?}");
    let (catalog, histograms, vars) = (catalog(), service_histograms(), vars());
    let code = Code {
        catalog: &catalog,
        histograms: &histograms,
        job: JOB,
        vars: &vars,
    };
    let problems: Vec<String> = slo::problems(&slos, &code)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_no_problems("SLOs against the code", problems);
}

#[test]
fn an_slo_on_something_the_code_does_not_emit_is_named_with_its_file_slo_and_field() {
    let text = read("slo/sum-api.yaml");
    let bad = "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query";
    let good = "spec.indicator.spec.ratioMetric.good.metricSource.spec";
    let availability = "slo/sum-api.yaml: SLO sum-api-availability";
    let synthetic = "slo/sum-api.yaml: SLO sum-api-synthetic";
    for (from, to, field, message) in [
        (
            "query: sumapi_http_requests_total{job=\"sum-api\", route=\"/api/v1/sum\", method=\"POST\", status=~\"5..\"}",
            "query: sumapi_http_errors_total{job=\"sum-api\", route=\"/api/v1/sum\", method=\"POST\", status=~\"5..\"}",
            format!("{availability}: {bad}: "),
            "the service exports no metric `sumapi_http_errors_total`",
        ),
        (
            "status=~\"5..\"}",
            "status=~\"5..\", job=\"canary\"}",
            format!("{availability}: {bad}: "),
            "must select the service's scrape job with job=\"sum-api\"",
        ),
        (
            "value: 0.25",
            "value: 0.3",
            "slo/sum-api.yaml: SLO sum-api-latency: spec.objectives[0].value: ".to_string(),
            "0.3 is no bucket bound of `sumapi_http_request_duration_seconds`",
        ),
        (
            "metricName: ProbeSuccess\n              stat: Sum",
            "metricName: ProbeSucceeded\n              stat: Sum",
            format!("{synthetic}: {good}.metricName: "),
            "the canary emits no metric `ProbeSucceeded`",
        ),
        (
            "- name: Probe\n",
            "- name: ProbeName\n",
            format!("{synthetic}: {good}.dimensions: "),
            "the canary publishes `ProbeSuccess` with dimensions",
        ),
        (
            "value: sum\n",
            "value: summ\n",
            format!("{synthetic}: {good}.dimensions: "),
            "no default probe is named `summ`",
        ),
    ] {
        assert!(
            text.contains(from),
            "fixture `{from}` not in slo/sum-api.yaml"
        );
        let problems = problems_of(&text.replacen(from, to, 1));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&field) && p.contains(message)),
            "`{to}` should give `{field}…{message}…`; got {problems:#?}"
        );
    }
    assert_eq!(problems_of(&text), Vec::<String>::new());
}

#[test]
fn the_generated_files_are_what_slo_generate_writes_now() {
    let slos = ::slo::cli::load_repo(&root())
        .unwrap_or_else(|problems| panic!("slo/ is invalid:\n{problems}"));
    let generated = ::slo::cli::generate(&slos, &root()).expect("the boards can be read");
    assert!(
        generated
            .iter()
            .any(|g| g.path == Path::new("alarms/prometheus/slo.rules.yml")),
        "{:?}",
        generated.iter().map(|g| &g.path).collect::<Vec<_>>()
    );
    let stale: Vec<String> = generated
        .iter()
        .filter(|g| fs::read_to_string(root().join(&g.path)).ok().as_deref() != Some(&g.text))
        .map(|g| g.path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what slo/ gives: run `cargo run -p slo -- generate` and commit them"
    );
}
