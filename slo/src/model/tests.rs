use super::*;

const REPO: &str = include_str!("../../sum-api.yaml");

fn documents() -> Vec<String> {
    REPO.split("\n---\n").map(str::to_owned).collect()
}

/// The document of the SLO named `name`.
fn document(name: &str) -> String {
    documents()
        .into_iter()
        .find(|d| d.contains(&format!("  name: {name}\n")))
        .unwrap_or_else(|| panic!("no SLO {name} in slo/sum-api.yaml"))
}

/// The problems of `text`, as printed.
fn problems(text: &str) -> Vec<String> {
    match parse(Path::new("x.yaml"), text) {
        Ok(slos) => panic!("accepted: {slos:?}"),
        Err(Problems(all)) => all.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_repository_file_is_valid_and_read_as_written() {
    let slos = parse(Path::new("slo/sum-api.yaml"), REPO).expect("valid");
    let names: Vec<&str> = slos.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "sum-api-availability",
            "sum-api-latency",
            "sum-api-availability-alb",
            "sum-api-latency-alb",
            "sum-api-synthetic"
        ]
    );
    let latency = &slos[1];
    assert_eq!(latency.target, 0.99);
    assert_eq!(latency.window_secs, 30 * 86_400);
    assert_eq!(latency.backend(), Backend::Prometheus);
    let Sli::Threshold {
        source: Source::Prometheus(histogram),
        value,
    } = &latency.sli
    else {
        panic!("latency is a threshold SLI: {:?}", latency.sli);
    };
    assert_eq!(*value, 0.25);
    assert_eq!(histogram.metric, "sumapi_http_request_duration_seconds");
    assert_eq!(slos[4].backend(), Backend::CloudWatch);
    let Sli::Ratio {
        good: false,
        counted: Source::CloudWatch(bad),
        ..
    } = &slos[2].sli
    else {
        panic!(
            "the ALB's availability counts bad events: {:?}",
            slos[2].sli
        );
    };
    let ids: Vec<Option<&str>> = bad.metrics.iter().map(|(id, _)| id.as_deref()).collect();
    assert_eq!(ids, [Some("target_5xx"), Some("elb_5xx")]);
    assert_eq!(
        bad.expression.as_deref(),
        Some("FILL(target_5xx, 0) + FILL(elb_5xx, 0)")
    );
}

#[test]
fn every_problem_of_every_document_is_listed_with_file_slo_and_field() {
    let docs = documents();
    let bad = docs[0]
        .replace("target: 0.999", "target: 1.5")
        .replace("duration: 30d", "duration: 30 days")
        .replacen(
            "  service: sum-api\n",
            "  service: sum-api\n  colour: blue\n",
            1,
        );
    let other = docs[1].replace("op: lte", "op: gte");
    let got = problems(&format!("{bad}\n---\n{other}"));
    assert_eq!(
        got,
        [
            "x.yaml: SLO sum-api-availability: spec.colour: unknown field",
            "x.yaml: SLO sum-api-availability: spec.timeWindow[0].duration: \"30 days\" is not a duration: a whole number and m, h, d or w (e.g. 30d)",
            "x.yaml: SLO sum-api-availability: spec.objectives[0].target: 1.5 is not strictly between 0 and 1 (e.g. 0.999 for 99.9%)",
            "x.yaml: SLO sum-api-latency: spec.objectives[0].op: \"gte\" is not supported: lte (good events are at most value)",
        ]
    );
}

#[test]
fn targets_outside_zero_and_one_are_refused() {
    for target in ["0", "1", "-0.5", "99.9", ".nan"] {
        let text = documents()[0].replace("target: 0.999", &format!("target: {target}"));
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p.contains("spec.objectives[0].target")),
            "{target}: {got:?}"
        );
    }
    let text = documents()[0].replace("target: 0.999", "target: high");
    let got = problems(&text);
    assert!(
        got[0].starts_with(
            "x.yaml: SLO sum-api-availability: spec.objectives[0].target: invalid type"
        ),
        "{got:?}"
    );
}

#[test]
fn targets_whose_page_alerts_could_never_fire_are_refused() {
    let text = documents()[0].replace("target: 0.999", "target: 0.9");
    let got = problems(&text);
    assert!(
        got.iter().any(
            |p| p.contains("spec.objectives[0].target: 0.9 leaves a budget")
                && p.contains("14.4x burn alert could never fire")
        ),
        "{got:?}"
    );
    let ok = documents()[0].replace("target: 0.999", "target: 0.95");
    assert!(parse(Path::new("x.yaml"), &ok).is_ok());
}

#[test]
fn the_sli_label_is_required_known_and_matches_the_indicator() {
    let cases = [
        (
            documents()[0].replace("sli: availability", "sli: availabilty"),
            "\"availabilty\" is not one of",
        ),
        (
            documents()[0].replace("  labels:\n    sli: availability\n", ""),
            "metadata.labels.sli: missing",
        ),
        (
            documents()[0].replace("sli: availability", "sli: latency"),
            "latency needs a thresholdMetric",
        ),
        (
            documents()[1].replace("sli: latency", "sli: availability"),
            "availability needs a ratioMetric",
        ),
    ];
    for (text, expected) in cases {
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p.contains(expected)),
            "{expected}: {got:?}"
        );
    }
}

#[test]
fn texts_copied_into_generated_files_hold_no_template_syntax() {
    for bad in [
        "Sum {{ $value }}",
        "Sum ${x}",
        "a: b",
        "a # b",
        "\"quoted\"",
    ] {
        let text = documents()[0].replace(
            "displayName: Sum API availability",
            &format!("displayName: '{}'", bad.replace('\'', "''")),
        );
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p.contains("metadata.displayName: ")),
            "{bad}: {got:?}"
        );
    }
}

#[test]
fn windows_must_be_rolling_durations() {
    for (window, why) in [
        ("30", "is not a duration"),
        ("0d", "longer than zero"),
        ("1y", "is not a duration"),
        ("999d", "longer than 400 days"),
        ("7d", "28- to 31-day budget"),
        ("90d", "28- to 31-day budget"),
        ("-3d", "is not a duration"),
    ] {
        let text = documents()[0].replace("duration: 30d", &format!("duration: \"{window}\""));
        let got = problems(&text);
        assert!(
            got.iter()
                .any(|p| p.contains("spec.timeWindow[0].duration") && p.contains(why)),
            "{window}: {got:?}"
        );
    }
    let text = documents()[0].replace("isRolling: true", "isRolling: false");
    assert!(problems(&text)[0].contains("spec.timeWindow[0].isRolling: must be true"));
    assert_eq!(parse_window("4w"), Ok(28 * 86_400));
    assert_eq!(parse_window("90m"), Ok(5400));
}

#[test]
fn sources_are_checked_field_by_field() {
    let doc = documents()[0].clone();
    let cases = [
        (
            doc.replace("type: Prometheus\n            spec:\n              query: sumapi_http_requests_total{job=\"sum-api\", route=\"/api/v1/sum\", method=\"POST\", status=~\"5..\"}", "type: Datadog\n            spec:\n              query: x"),
            "spec.indicator.spec.ratioMetric.bad.metricSource.type: \"Datadog\" is not supported",
        ),
        (
            doc.replacen("status=~\"5..\"}", "status=~\"5..\"} > 0", 1),
            "spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: ",
        ),
        (
            doc.replacen("              query: sumapi", "              querry: sumapi", 1),
            "spec.indicator.spec.ratioMetric.bad.metricSource.spec.querry: unknown field",
        ),
        (
            doc.replace("        bad:\n", "        good:\n"),
            "",
        ),
    ];
    for (text, expected) in cases {
        if expected.is_empty() {
            // `good` instead of `bad` is valid: the ratio is read the other way round.
            let slos = parse(Path::new("x.yaml"), &text).expect("good is valid too");
            assert!(matches!(slos[0].sli, Sli::Ratio { good: true, .. }));
            continue;
        }
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p.contains(expected)),
            "{expected}: {got:?}"
        );
    }
    let synthetic = document("sum-api-synthetic").replace("              stat: SampleCount\n", "");
    assert!(
        problems(&synthetic)
            .iter()
            .any(|p| p.ends_with("total.metricSource.spec.stat: missing"))
    );
}

#[test]
fn the_cloudwatch_json_form_is_checked() {
    let doc = document("sum-api-availability-alb");
    let field = "spec.indicator.spec.ratioMetric.bad.metricSource.spec.json: ";
    for (from, to, why) in [
        (
            "\"Id\": \"elb_5xx\"",
            "\"Id\": \"target_5xx\"",
            "is used twice",
        ),
        (
            "\"Id\": \"elb_5xx\"",
            "\"Id\": \"total\"",
            "not be one of counted, total",
        ),
        (
            "\"Id\": \"elb_5xx\", \"ReturnData\": false",
            "\"Id\": \"elb_5xx\", \"ReturnData\": true",
            "a metric is read through the expression",
        ),
        (
            "\"ReturnData\": true, \"Expression\"",
            "\"ReturnData\": false, \"Expression\"",
            "only one expression",
        ),
        (
            "{\"Stat\": \"Sum\", \"Metric\"",
            "{\"Stat\": \"Sum\", \"Period\": 60, \"Metric\"",
            "no Period",
        ),
        (
            "\"MetricName\": \"HTTPCode_ELB_5XX_Count\"",
            "\"Name\": \"HTTPCode_ELB_5XX_Count\"",
            "not a MetricDataQuery list",
        ),
    ] {
        assert!(doc.contains(from), "{from}");
        let got = problems(&doc.replacen(from, to, 1));
        assert!(
            got.iter().any(|p| p.contains(field) && p.contains(why)),
            "{why}: {got:?}"
        );
    }
}

#[test]
fn a_syntax_error_and_a_duplicate_name_are_reported() {
    let got = problems("apiVersion: openslo/v1\nkind: SLO\nmetadata: [unclosed\n");
    assert!(
        got[0].starts_with("x.yaml: document 1: not YAML: "),
        "{got:?}"
    );
    let dir = std::env::temp_dir().join(format!("slo-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
    std::fs::write(&a, &documents()[0]).expect("write");
    std::fs::write(&b, &documents()[0]).expect("write");
    let Err(Problems(all)) = load(&[a, b.clone()]) else {
        panic!("a name used twice is refused");
    };
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].file, b);
    assert!(all[0].message.starts_with("the name is used twice"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn selectors_are_a_name_and_matchers_only() {
    let s = parse_selector(r#"up{job="a", x!~"b.*"}"#).expect("valid");
    assert_eq!(s.metric, "up");
    assert_eq!(
        s.render("up_count", &[("le", "=", "1")]),
        r#"up_count{job="a", x!~"b.*", le="1"}"#
    );
    for bad in [
        "",
        "{job=\"a\"}",
        "rate(up[5m])",
        "up{job=a}",
        "up{job=\"a\"",
        "up{=\"a\"}",
        "up{job==\"a\"}x",
    ] {
        assert!(parse_selector(bad).is_err(), "{bad:?} accepted");
    }
}
