//! The configuration read from OTel's variables: endpoints, sampler, headers, limits, and the
//! warnings (never an error) for values that cannot be read.

use super::*;
use std::collections::HashMap;

fn load(vars: &[(&str, &str)]) -> Loaded {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup("sum-api", move |name| map.get(name).cloned())
}

fn endpoint(vars: &[(&str, &str)]) -> Option<String> {
    load(vars).config.endpoint.map(|u| u.to_string())
}

fn warned(loaded: &Loaded) -> Vec<&'static str> {
    loaded.warnings.iter().map(|w| w.variable).collect()
}

#[test]
fn no_endpoint_means_no_export_and_defaults_are_the_specs() {
    let loaded = load(&[]);
    assert!(loaded.warnings.is_empty());
    let c = loaded.config;
    assert_eq!(c.endpoint, None);
    assert_eq!(c.service_name, "sum-api");
    assert_eq!(c.sampler, Sampler::ParentBased(RootSampler::AlwaysOn));
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.max_queue_size, 2048);
    assert_eq!(c.max_export_batch_size, 512);
    assert_eq!(c.schedule_delay, Duration::from_secs(5));
    assert!(c.headers.is_empty());
}

#[test]
fn endpoints_signal_specific_as_is_base_with_v1_traces() {
    let base = "OTEL_EXPORTER_OTLP_ENDPOINT";
    let traces = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    for (value, want) in [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        (
            "https://c.example.com/mycollector/",
            "https://c.example.com/mycollector/v1/traces",
        ),
        (
            "http://c:4318/mycollector",
            "http://c:4318/mycollector/v1/traces",
        ),
        (
            "http://127.0.0.1:4318?x=1",
            "http://127.0.0.1:4318/v1/traces",
        ),
    ] {
        assert_eq!(endpoint(&[(base, value)]).as_deref(), Some(want), "{value}");
    }
    assert_eq!(
        endpoint(&[(traces, "http://collector:4318")]).as_deref(),
        Some("http://collector:4318/"),
        "no path: the root path, nothing appended"
    );
    assert_eq!(
        endpoint(&[
            (traces, "https://x.example/custom/path?k=v"),
            (base, "http://other:1")
        ])
        .as_deref(),
        Some("https://x.example/custom/path?k=v"),
        "the signal-specific one wins, as is"
    );
    for bad in [
        "collector:4318",
        "ftp://c/",
        "http://",
        "not a url",
        "http:///x",
    ] {
        let loaded = load(&[(base, bad)]);
        assert_eq!(loaded.config.endpoint, None, "{bad}");
        assert_eq!(warned(&loaded), [base], "{bad}");
        assert!(loaded.warnings[0].message.contains("export is off"));
    }
}

#[test]
fn export_can_be_turned_off() {
    let url = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
    assert_eq!(endpoint(&[url, ("OTEL_SDK_DISABLED", "TRUE")]), None);
    assert_eq!(endpoint(&[url, ("OTEL_TRACES_EXPORTER", "none")]), None);
    assert!(endpoint(&[url, ("OTEL_SDK_DISABLED", "false")]).is_some());
    let loaded = load(&[url, ("OTEL_TRACES_EXPORTER", "zipkin")]);
    assert!(loaded.config.endpoint.is_some());
    assert_eq!(warned(&loaded), ["OTEL_TRACES_EXPORTER"]);
    let loaded = load(&[url, ("OTEL_SDK_DISABLED", "yes")]);
    assert!(
        loaded.config.endpoint.is_some(),
        "not true: false, with a warning"
    );
    assert_eq!(warned(&loaded), ["OTEL_SDK_DISABLED"]);
}

#[test]
fn every_sampler_name_and_ratio() {
    let ratio = |r| RootSampler::TraceIdRatio(Ratio::new(r).expect("valid"));
    let cases = [
        ("always_on", None, Sampler::Root(RootSampler::AlwaysOn)),
        ("ALWAYS_OFF", None, Sampler::Root(RootSampler::AlwaysOff)),
        ("traceidratio", Some("0.25"), Sampler::Root(ratio(0.25))),
        ("traceidratio", None, Sampler::Root(ratio(1.0))),
        (
            "parentbased_always_on",
            None,
            Sampler::ParentBased(RootSampler::AlwaysOn),
        ),
        (
            "parentbased_always_off",
            Some("0.5"),
            Sampler::ParentBased(RootSampler::AlwaysOff),
        ),
        (
            "parentbased_traceidratio",
            Some("0"),
            Sampler::ParentBased(ratio(0.0)),
        ),
        (
            "parentbased_traceidratio",
            Some(" 1 "),
            Sampler::ParentBased(ratio(1.0)),
        ),
    ];
    for (name, arg, want) in cases {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
        vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
        let loaded = load(&vars);
        assert_eq!(loaded.config.sampler, want, "{name} {arg:?}");
        assert!(loaded.warnings.is_empty(), "{name}: {:?}", loaded.warnings);
    }
    // The argument alone is not used.
    let loaded = load(&[("OTEL_TRACES_SAMPLER_ARG", "0.1")]);
    assert_eq!(loaded.config.sampler, Sampler::default());
}

#[test]
fn bad_sampler_settings_fall_back_with_a_warning() {
    for bad in ["-0.1", "1.5", "NaN", "inf", "a quarter", "25%"] {
        let loaded = load(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", bad),
        ]);
        assert_eq!(
            loaded.config.sampler,
            Sampler::ParentBased(RootSampler::TraceIdRatio(Ratio::ONE)),
            "{bad}: as if the argument were unset"
        );
        assert_eq!(warned(&loaded), ["OTEL_TRACES_SAMPLER_ARG"], "{bad}");
        assert!(loaded.warnings[0].message.contains("using 1.0"));
    }
    for bad in ["jaeger_remote", "xray", "sometimes"] {
        let loaded = load(&[("OTEL_TRACES_SAMPLER", bad)]);
        assert_eq!(loaded.config.sampler, Sampler::default(), "{bad}");
        assert_eq!(warned(&loaded), ["OTEL_TRACES_SAMPLER"]);
        assert!(
            loaded.warnings[0]
                .message
                .contains("using parentbased_always_on")
        );
    }
}

#[test]
fn service_name_headers_and_limits() {
    let loaded = load(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,deployment.environment=dev",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-generic=1"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "X-Api-Key=s3cr%3Dt,bad name=v",
        ),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "250"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1500"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
    ]);
    let c = &loaded.config;
    assert_eq!(c.service_name, "from-attrs");
    assert_eq!(c.resource_attributes.len(), 2);
    assert_eq!(
        c.headers.len(),
        1,
        "the traces headers replace the generic ones"
    );
    assert_eq!(
        c.headers.get("x-api-key").map(|v| v.as_bytes()),
        Some(&b"s3cr=t"[..])
    );
    assert_eq!(c.timeout, Duration::from_millis(1500));
    assert_eq!((c.max_queue_size, c.max_export_batch_size), (100, 100));
    assert_eq!(c.schedule_delay, Duration::from_millis(20));
    assert_eq!(
        warned(&loaded),
        [
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        ]
    );
    // Secrets never show: not in warnings, not in Debug.
    let shown = format!("{c:?} {:?}", loaded.warnings);
    assert!(!shown.contains("s3cr"), "{shown}");
    assert!(shown.contains("x-api-key"));

    let named = load(&[
        ("OTEL_SERVICE_NAME", "svc"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=x"),
    ]);
    assert_eq!(named.config.service_name, "svc", "OTEL_SERVICE_NAME wins");
    let timeout = load(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "250")]);
    assert_eq!(timeout.config.timeout, Duration::from_millis(250));
    let ok = load(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/PROTOBUF")]);
    assert!(ok.warnings.is_empty());
}

#[test]
fn config_new_is_the_code_equivalent() {
    let c = Config::new(Uri::from_static("http://127.0.0.1:4318/v1/traces"), "svc");
    assert_eq!(
        c.endpoint.map(|u| u.to_string()).as_deref(),
        Some("http://127.0.0.1:4318/v1/traces")
    );
    assert_eq!(c.sampler, Sampler::default());
    assert_eq!(c.max_queue_size, DEFAULT_MAX_QUEUE_SIZE);
}
