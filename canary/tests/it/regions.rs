//! Several regions and custom suites, with the real binary: the `Region` dimension in EMF and in
//! LocalStack's CloudWatch (a canary running in one region publishes into the home region's
//! CloudWatch), `--probes` running a subset, the custom-suite example that the docs walk through,
//! and bad region labels, home regions and probe names refused with exit 64 naming the flag.

use crate::common;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudwatch::types::DimensionFilter;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use common::{LocalStack, canary, finish, stack, stat};

const NS: &str = "SumApi/Canary";

/// A client of LocalStack's CloudWatch in `region`.
async fn client_in(ls: &LocalStack, region: &'static str) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(region))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(ls.endpoint())
        .load()
        .await;
    Client::new(&config)
}

/// The metric names listed in `client`'s CloudWatch for `environment`.
async fn listed(client: &Client, environment: &str) -> Vec<(String, Vec<(String, String)>)> {
    let out = client
        .list_metrics()
        .namespace(NS)
        .dimensions(
            DimensionFilter::builder()
                .name("Environment")
                .value(environment)
                .build(),
        )
        .send()
        .await
        .expect("ListMetrics succeeds");
    out.metrics()
        .iter()
        .map(|m| {
            let dims = m
                .dimensions()
                .iter()
                .map(|d| {
                    (
                        d.name().unwrap_or_default().to_owned(),
                        d.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            (m.metric_name().unwrap_or_default().to_owned(), dims)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_label_is_the_region_dimension_in_emf_and_in_the_home_regions_cloudwatch() {
    let ls = LocalStack::start();
    let stack = stack(true).await;
    // The task runs in us-west-2 and publishes into us-east-1, the home region, as the ECS
    // tasks of every region do; its label is given.
    let mut cmd = canary(Some(&ls.endpoint()));
    cmd.env("AWS_REGION", "us-west-2")
        .args(["run", "--once", "--sink", "cloudwatch,emf"])
        .args(["--environment", "regions", "--rate-limit", "20"])
        .args(["--region-label", "eu-lab-1", "--home-region", "us-east-1"])
        .args(["--target", &stack.url()]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());

    // EMF: every datum once for all regions and once with Region=eu-lab-1.
    let records = run.emf();
    assert!(records.len() >= 4, "{}", run.all());
    let mut regional = 0;
    for r in &records {
        let dims = r["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
            .as_array()
            .expect("a dimension set")
            .clone();
        if dims.last().and_then(|d| d.as_str()) == Some("Region") {
            assert_eq!(r["Region"], "eu-lab-1", "{r}");
            regional += 1;
        } else {
            assert!(r.get("Region").is_none(), "{r}");
        }
    }
    assert_eq!(regional * 2, records.len(), "{}", run.all());

    // CloudWatch of the home region: the same, with the label as the Region dimension.
    let home = ls.client().await;
    let dims = [
        ("Environment", "regions"),
        ("Probe", "sum"),
        ("Region", "eu-lab-1"),
    ];
    let success = stat(&home, NS, "ProbeSuccess", &dims).await;
    assert_eq!(success.map(|s| s.sum), Some(1.0), "{}", run.all());
    let heartbeat = stat(
        &home,
        NS,
        "Heartbeat",
        &[("Environment", "regions"), ("Region", "eu-lab-1")],
    )
    .await;
    assert_eq!(heartbeat.map(|s| s.sum), Some(1.0));
    // The all-regions series (Environment only) is listed beside it. (LocalStack, unlike
    // CloudWatch, matches a query's dimensions as a subset: reading it would add both.)
    let heartbeats: Vec<Vec<(String, String)>> = listed(&home, "regions")
        .await
        .into_iter()
        .filter(|(name, _)| name == "Heartbeat")
        .map(|(_, dims)| dims)
        .collect();
    assert_eq!(heartbeats.len(), 2, "{heartbeats:?}");
    assert!(
        heartbeats.contains(&vec![("Environment".into(), "regions".into())]),
        "{heartbeats:?}"
    );

    // Without a label the task's AWS region is the label; still published at home.
    let mut cmd = canary(Some(&ls.endpoint()));
    cmd.env("AWS_REGION", "us-west-2")
        .env("CANARY_HOME_REGION", "us-east-1")
        .args(["run", "--once", "--sink", "cloudwatch"])
        .args(["--environment", "regions", "--rate-limit", "20"])
        .args(["--target", &stack.url()]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let heartbeat = stat(
        &home,
        NS,
        "Heartbeat",
        &[("Environment", "regions"), ("Region", "us-west-2")],
    )
    .await;
    assert_eq!(heartbeat.map(|s| s.sum), Some(1.0), "{}", run.all());
    let regions: std::collections::BTreeSet<String> = listed(&home, "regions")
        .await
        .into_iter()
        .flat_map(|(_, dims)| dims)
        .filter(|(n, _)| n == "Region")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(
        regions.into_iter().collect::<Vec<_>>(),
        ["eu-lab-1", "us-west-2"]
    );
    // Nothing went to the region the task ran in.
    let west = client_in(&ls, "us-west-2").await;
    assert_eq!(listed(&west, "regions").await, Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_runs_only_the_named_probes() {
    let stack = stack(true).await;
    let mut cmd = canary(None);
    cmd.args([
        "run",
        "--once",
        "--sink",
        "stdout",
        "--environment",
        "local",
    ])
    .args(["--probes", "sum,health", "--region-label", "lab"])
    .args(["--target", &stack.url()]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("verdict: PASS (2 of 2 probes passed)"),
        "{}",
        run.all()
    );
    let passed: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PASS "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(passed, ["health", "sum"], "the suite's order");
    assert!(
        run.stdout
            .contains("metric SumApi/Canary Heartbeat{Environment=local,Region=lab} 1 Count"),
        "{}",
        run.all()
    );
    assert!(
        run.stdout
            .contains("ProbeSuccess{Environment=local,Probe=sum,Region=lab} 1 Count"),
        "{}",
        run.all()
    );
    assert!(!run.stdout.contains("auth_bad_key"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_regions_and_probe_names_exit_64_naming_the_flag() {
    let long = "x".repeat(100_000);
    // (environment, arguments, what stderr must say)
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![],
            vec!["--region-label", ""],
            vec!["`region_label` (from --region-label or CANARY_REGION_LABEL): is empty"],
        ),
        (
            vec![("CANARY_REGION_LABEL", "eu west")],
            vec![],
            vec!["`region_label` (from --region-label or CANARY_REGION_LABEL): \"eu west\""],
        ),
        (
            vec![],
            vec!["--region-label", &long],
            vec!["`region_label`", "100000 characters"],
        ),
        (
            vec![("AWS_REGION", "not a region")],
            vec![],
            vec!["`region_label`", "taken from AWS_REGION"],
        ),
        (
            vec![],
            vec!["--home-region", "mars-north"],
            vec!["`home_region` (from --home-region or CANARY_HOME_REGION)"],
        ),
        (
            vec![],
            vec!["--probes", "health,helth"],
            vec![
                "`probe_names` (from --probes or CANARY_PROBES): unknown probe \"helth\"",
                "the suite's probes are health, sum, auth_missing_key, auth_bad_key, rate_limit_headers",
            ],
        ),
        (
            vec![("CANARY_PROBES", ",")],
            vec![],
            vec!["`probe_names` (from --probes or CANARY_PROBES): has an empty name"],
        ),
        (
            vec![],
            vec!["--probes", &long],
            vec!["unknown probe \"xxxxxxxx", "...\""],
        ),
    ];
    for (env, args, expected) in cases {
        for command in ["validate", "run"] {
            let mut cmd = canary(None);
            cmd.envs(env.iter().copied())
                .args([command, "--target", "http://127.0.0.1:9"])
                .args(&args);
            let run = finish(cmd).await;
            let shown = format!("{command} {env:?} {:.80?}", args);
            assert_eq!(run.code, 64, "{shown}\n{}", run.all());
            for e in &expected {
                assert!(run.stderr.contains(e), "{shown}: {e} not in\n{}", run.all());
            }
            assert!(!run.stderr.contains("panicked"), "{}", run.all());
            assert!(run.stderr.len() < 4096, "{shown}: a short message");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_custom_suite_example_is_valid_and_runs_through_the_local_gateway() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/custom-suite.toml");
    let mut cmd = canary(None);
    cmd.args(["validate", "--config", example]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("probes ready,add,keyless,quota"),
        "{}",
        run.all()
    );
    let stack = stack(true).await;
    common::assert_round_passes(example, &stack.url(), &["--probes", "ready,add"], 2).await;
    common::assert_round_passes(example, &stack.url(), &[], 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_lists_parse_errors_value_errors_and_flag_errors_at_once() {
    let broken = common::config_file(
        r#"target = "http://127.0.0.1:1"
retries = = 3
region_label = "has space"
home_region = "nowhere"

[[probes]]
name = "ready"
path = "/healthz/ready"
"#,
    );
    let path = broken.display().to_string();
    let mut cmd = canary(None);
    cmd.args(["validate", "--config", &path, "--probes", "ready,live"]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 64, "{}", run.all());
    let lines: Vec<&str> = run.stderr.lines().map(str::trim).collect();
    for e in [
        format!("{path}:2:11: TOML syntax error: "),
        format!("{path}:3:1: `region_label`: \"has space\" must be"),
        format!("{path}:4:1: `home_region`: \"nowhere\" is not an AWS region"),
        "`probe_names` (from --probes or CANARY_PROBES): unknown probe \"live\"; the suite's probes are ready".to_owned(),
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&e)),
            "{e} not a line of\n{}",
            run.all()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_alarms_are_accepted_by_cloudwatch_as_rendered() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
    let ls = LocalStack::start();
    let client = ls.client().await;
    let environment = format!("regions{}", std::process::id());
    let prefix = format!("sum-api-{environment}");
    let file = common::rendered_alarms("alarms/cloudwatch.yaml", &environment);
    let canary: Vec<_> = file
        .alarms
        .iter()
        .filter(|a| a.name.starts_with("canary-") && !a.name.contains("certificate"))
        .collect();
    assert!(canary.len() >= 13, "{}", canary.len());
    for def in &canary {
        let mut put = client
            .put_metric_alarm()
            .alarm_name(format!("{prefix}-{}", def.name))
            .alarm_description(def.description.trim())
            .evaluation_periods(i32::try_from(def.evaluation_periods).expect("small"))
            .datapoints_to_alarm(i32::try_from(def.datapoints_to_alarm).expect("small"))
            .threshold(def.threshold)
            .comparison_operator(ComparisonOperator::from(def.comparison.as_str()))
            .treat_missing_data(&def.treat_missing_data);
        put = match &def.metrics {
            Some(_) => put.set_metrics(Some(common::alarm_queries(def))),
            None => put
                .namespace(def.namespace.clone().expect("namespace"))
                .metric_name(def.metric_name.clone().expect("metric"))
                .set_dimensions(Some(
                    def.dimensions
                        .iter()
                        .flatten()
                        .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                        .collect(),
                ))
                .statistic(Statistic::from(def.statistic.as_deref().expect("stat")))
                .period(i32::try_from(def.period).expect("period")),
        };
        put.send()
            .await
            .unwrap_or_else(|e| panic!("PutMetricAlarm refuses `{}`: {e:?}", def.name));
    }
    let out = client
        .describe_alarms()
        .alarm_name_prefix(&prefix)
        .max_records(100)
        .send()
        .await
        .expect("DescribeAlarms succeeds");
    let got = out.metric_alarms();
    assert_eq!(got.len(), canary.len());
    for def in &canary {
        let name = format!("{prefix}-{}", def.name);
        let a = got
            .iter()
            .find(|a| a.alarm_name() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("`{name}` was not created"));
        assert_eq!(a.threshold(), Some(def.threshold), "{name}");
        if def.metrics.is_some() {
            assert_eq!(
                a.metrics(),
                common::alarm_queries(def).as_slice(),
                "{name}: queries"
            );
        }
    }
    // Both regions' dead men and the quorums' per-region queries are there.
    for region in ["us-east-1", "us-west-2"] {
        assert!(
            got.iter().any(|a| a.alarm_name()
                == Some(format!("{prefix}-canary-heartbeat-missing-{region}").as_str())),
            "{region}"
        );
    }
}
