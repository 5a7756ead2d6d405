use super::*;

fn settings() -> Settings {
    Settings {
        target: Some("http://127.0.0.1:8080".into()),
        ..Settings::default()
    }
}

fn fields(err: ConfigError) -> Vec<String> {
    match err {
        ConfigError::Fields(list) => list.into_iter().map(|e| e.field).collect(),
        other => panic!("expected field errors, got {other}"),
    }
}

#[test]
fn defaults_give_the_default_suite() {
    let c = resolve_with(&settings(), FileConfig::default()).expect("valid");
    assert_eq!(c.target, "http://127.0.0.1:8080");
    assert_eq!(c.environment, "dev");
    assert_eq!(c.namespace, "SumApi/Canary");
    assert_eq!(c.api_key_env, "CANARY_API_KEY");
    assert_eq!(c.storage_resolution, 60);
    let names: Vec<&str> = c.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "health",
            "sum",
            "auth_missing_key",
            "auth_bad_key",
            "rate_limit_headers"
        ]
    );
}

#[test]
fn flags_override_the_file() {
    let file: FileConfig = toml::from_str(
        r#"
        target = "http://file.example"
        environment = "from-file"
        timeout = "9s"
        retries = 4
        sinks = ["emf"]
        "#,
    )
    .expect("parses");
    let s = Settings {
        environment: Some("from-flag".into()),
        retries: Some("1".into()),
        ..settings()
    };
    let c = resolve_with(&s, file).expect("valid");
    assert_eq!(c.target, "http://127.0.0.1:8080");
    assert_eq!(c.environment, "from-flag");
    assert_eq!(c.sinks, vec![SinkKind::Emf]);
    assert!(c.probes.iter().all(|p| p.retries == 1));
    assert!(c.probes.iter().all(|p| p.timeout == Duration::from_secs(9)));
}

#[test]
fn every_bad_field_is_named() {
    let s = Settings {
        target: Some("ftp://x".into()),
        environment: Some("has space".into()),
        api_key_env: Some("sk-live-123!".into()),
        key_header: Some("bad header".into()),
        namespace: Some("AWS/EC2".into()),
        sinks: Some(vec!["kafka".into()]),
        timeout: Some("soon".into()),
        retries: Some("-1".into()),
        retry_backoff: Some("x".into()),
        rate_limit: Some("0".into()),
        rate_limit_window: Some("0s".into()),
        storage_resolution: Some("5".into()),
        publish_timeout: Some("99999h".into()),
        publish_retries: Some("many".into()),
        heartbeat_url: Some("not a url".into()),
        heartbeat_method: Some("PUT".into()),
        cert_min_days: Some("NaN".into()),
        region_label: Some("no spaces allowed".into()),
        home_region: Some("moon-base".into()),
        probe_names: Some(vec!["nope".into()]),
        config: None,
    };
    let got = fields(resolve_with(&s, FileConfig::default()).expect_err("invalid"));
    for field in [
        "target",
        "environment",
        "api_key_env",
        "key_header",
        "namespace",
        "sinks",
        "timeout",
        "retries",
        "retry_backoff",
        "rate_limit",
        "rate_limit_window",
        "storage_resolution",
        "publish_timeout",
        "publish_retries",
        "heartbeat_url",
        "heartbeat_method",
        "cert_min_days",
        "region_label",
        "home_region",
        "probe_names",
    ] {
        assert!(
            got.iter().any(|f| f == field),
            "{field} not reported in {got:?}"
        );
    }
}

#[test]
fn missing_target_is_reported() {
    let got = fields(resolve_with(&Settings::default(), FileConfig::default()).expect_err("x"));
    assert_eq!(got, vec!["target"]);
}

#[test]
fn probe_tables_are_checked_by_index() {
    let file: FileConfig = toml::from_str(
        r#"
        [[probes]]
        name = "ok"
        path = "/healthz"
        expect = { status = [200], json_equals = { status = "healthy" } }

        [[probes]]
        name = "ok"
        kind = "teleport"
        path = "no-slash"
        auth = "maybe"
        method = "FLY"
        retries = 99
        expect = { status = [1000] }

        [[probes]]
        name = "s"
        kind = "sum"
        min_numbers = 50
        max_numbers = 3
        body = { numbers = [1] }
        "#,
    )
    .expect("parses");
    let got = fields(resolve_with(&settings(), file).expect_err("invalid"));
    assert_eq!(
        got,
        vec![
            "probes[1].name",
            "probes[1].kind",
            "probes[1].method",
            "probes[1].path",
            "probes[1].auth",
            "probes[1].expect.status",
            "probes[1].retries",
            "probes[2].min_numbers",
            "probes[2].body",
        ]
    );
}

#[test]
fn custom_probes_replace_the_suite() {
    let file: FileConfig = toml::from_str(
        r#"
        rate_limit = 60
        [[probes]]
        name = "live"
        path = "/healthz/live"
        expect = { header_present = ["x-request-id"], latency_budget = "300ms" }
        [[probes]]
        name = "quota"
        kind = "rate_limit"
        "#,
    )
    .expect("parses");
    let c = resolve_with(&settings(), file).expect("valid");
    assert_eq!(c.probes.len(), 2);
    assert_eq!(c.probes[0].assertions.status, vec![200]);
    assert_eq!(
        c.probes[1].check,
        crate::probe::Check::RateLimit {
            expected_limit: Some(60),
            window: Duration::from_secs(60)
        }
    );
}

#[test]
fn unknown_file_fields_are_parse_errors() {
    let err = toml::from_str::<FileConfig>("tiemout = \"5s\"").expect_err("unknown field");
    assert!(err.to_string().contains("tiemout"), "{err}");
}

#[test]
fn region_label_and_home_region_are_checked() {
    let s = Settings {
        region_label: Some("office-berlin".into()),
        home_region: Some("us-east-1".into()),
        ..settings()
    };
    let c = resolve_with(&s, FileConfig::default()).expect("valid");
    assert_eq!(c.region, "office-berlin");
    assert_eq!(c.home_region.as_deref(), Some("us-east-1"));

    let file: FileConfig =
        toml::from_str("region_label = \"lab-1\"\nhome_region = \"eu-west-1\"").expect("parses");
    let c = resolve_with(&settings(), file).expect("valid");
    assert_eq!(
        (c.region.as_str(), c.home_region.as_deref()),
        ("lab-1", Some("eu-west-1"))
    );

    for (label, home) in [
        ("", "us-east-1"),
        ("has space", "us-east-1"),
        ("ok", "mars-1"),
    ] {
        let s = Settings {
            region_label: Some(label.into()),
            home_region: Some(home.into()),
            ..settings()
        };
        let got = fields(resolve_with(&s, FileConfig::default()).expect_err("invalid"));
        let expected = if home == "mars-1" {
            "home_region"
        } else {
            "region_label"
        };
        assert_eq!(got, vec![expected], "{label:?} {home:?}");
    }
}

#[test]
fn probes_select_a_subset_in_suite_order_and_name_unknown_ones() {
    let pick = |names: &[&str]| Settings {
        probe_names: Some(names.iter().map(|n| n.to_string()).collect()),
        ..settings()
    };
    let c = resolve_with(&pick(&["sum", " health"]), FileConfig::default()).expect("valid");
    let names: Vec<&str> = c.probes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["health", "sum"], "the suite's order");

    let err = resolve_with(&pick(&["helth", "sum", "sum", ""]), FileConfig::default())
        .expect_err("invalid");
    let ConfigError::Fields(list) = err else {
        panic!("field errors")
    };
    let messages: Vec<String> = list.iter().map(|e| e.message.clone()).collect();
    assert!(list.iter().all(|e| e.field == "probe_names"), "{list:?}");
    assert!(
        messages[0].contains("unknown probe \"helth\"")
            && messages[0]
                .contains("health, sum, auth_missing_key, auth_bad_key, rate_limit_headers"),
        "{messages:?}"
    );
    assert!(messages[1].contains("listed twice"), "{messages:?}");
    assert!(messages[2].contains("empty name"), "{messages:?}");

    // A custom suite's own names are the ones known.
    let file: FileConfig =
        toml::from_str("[[probes]]\nname = \"live\"\npath = \"/healthz/live\"\n").expect("parses");
    let got = fields(resolve_with(&pick(&["health"]), file).expect_err("not in this suite"));
    assert_eq!(got, vec!["probe_names"]);

    let many: Vec<String> = (0..51).map(|i| format!("p{i}")).collect();
    let s = Settings {
        probe_names: Some(many),
        ..settings()
    };
    let got = fields(resolve_with(&s, FileConfig::default()).expect_err("too many"));
    assert_eq!(got, vec!["probe_names"], "one error, not 51");
}

#[test]
fn cert_min_days_is_a_finite_number_of_days_up_to_ten_years() {
    let c = resolve_with(&settings(), FileConfig::default()).expect("valid");
    assert!(c.probes.iter().all(|p| p.cert_min_days == 14.0));
    // The file's global value, a probe's own over it, and the flag over the file's global.
    let file = || -> FileConfig {
        toml::from_str(
            "cert_min_days = 30\n[[probes]]\nname = \"a\"\npath = \"/\"\n\
             [[probes]]\nname = \"b\"\npath = \"/\"\ncert_min_days = 2.5\n",
        )
        .expect("parses")
    };
    let days = |c: Config| c.probes.iter().map(|p| p.cert_min_days).collect::<Vec<_>>();
    assert_eq!(
        days(resolve_with(&settings(), file()).expect("valid")),
        [30.0, 2.5]
    );
    let s = Settings {
        cert_min_days: Some(" 0 ".into()),
        ..settings()
    };
    assert_eq!(days(resolve_with(&s, file()).expect("valid")), [0.0, 2.5]);
    for bad in [
        "-1",
        "NaN",
        "inf",
        "-inf",
        "3650.5",
        "1e400",
        "two weeks",
        "",
    ] {
        let s = Settings {
            cert_min_days: Some(bad.into()),
            ..settings()
        };
        let got = fields(resolve_with(&s, FileConfig::default()).expect_err(bad));
        assert_eq!(got, vec!["cert_min_days"], "{bad:?}");
    }
    for bad in ["-0.5", "nan", "inf", "9999"] {
        let text = format!(
            "cert_min_days = {bad}\n[[probes]]\nname = \"a\"\npath = \"/\"\ncert_min_days = {bad}\n"
        );
        let file: FileConfig = toml::from_str(&text).expect("parses");
        let got = fields(resolve_with(&settings(), file).expect_err(bad));
        assert_eq!(
            got,
            vec!["cert_min_days", "probes[0].cert_min_days"],
            "{bad}"
        );
    }
}
