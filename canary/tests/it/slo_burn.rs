//! The SLO burn-rate alarms of `alarms/cloudwatch-slo.yaml`, created in LocalStack's CloudWatch
//! from the rendered data (the checks crate's renderer and sample values, as Terraform renders
//! it): every window alarm (metric math) is accepted by PutMetricAlarm and every burn
//! (composite, its rule written as the observability module writes it) by PutCompositeAlarm,
//! and each reads back as created. The canary's bad probes (ProbeSuccess 0) reach the window
//! alarm's own queries.
//!
//! What LocalStack cannot show (docs/slo.md, "What is checked"): it evaluates only single-metric
//! alarms, so a window alarm of metric math stays unevaluated however hard the budget burns;
//! and it evaluates a composite only as an OR of `ALARM("<arn>")` terms, while the burns are an
//! AND of alarm names. The test checks the first limitation, so that a LocalStack that starts
//! evaluating metric math fails it and the test grows the ALARM case.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, CompositeAlarm, Dimension, MetricAlarm, MetricDatum, StateValue,
    StatisticSet,
};
use checks::alarms::{Alarm, AlarmFile, Severity};

/// `alarms/cloudwatch-slo.yaml` rendered for `environment`, as Terraform renders it.
fn slo_alarms(environment: &str) -> AlarmFile {
    common::rendered_alarms("alarms/cloudwatch-slo.yaml", environment)
}

/// Creates (or updates) a window alarm from its definition; notifies nobody (severity none).
async fn put_window(client: &Client, prefix: &str, def: &Alarm) {
    assert_eq!(
        def.severity,
        Severity::None,
        "`{}` is a window alarm",
        def.name
    );
    client
        .put_metric_alarm()
        .alarm_name(format!("{prefix}-{}", def.name))
        .alarm_description(format!("[none] {}", def.description.trim()))
        .actions_enabled(false)
        .set_metrics(Some(common::alarm_queries(def)))
        .evaluation_periods(i32::try_from(def.evaluation_periods).expect("small"))
        .datapoints_to_alarm(i32::try_from(def.datapoints_to_alarm).expect("small"))
        .threshold(def.threshold)
        .comparison_operator(ComparisonOperator::from(def.comparison.as_str()))
        .treat_missing_data(&def.treat_missing_data)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutMetricAlarm refuses `{}`: {e:?}", def.name));
}

/// Every alarm whose name starts with `prefix`, metric and composite, by name.
async fn read_back(
    client: &Client,
    prefix: &str,
) -> (
    BTreeMap<String, MetricAlarm>,
    BTreeMap<String, CompositeAlarm>,
) {
    let out = client
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .alarm_types(AlarmType::MetricAlarm)
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await
        .expect("DescribeAlarms succeeds");
    let metric = out
        .metric_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap_or_default().to_owned(), a.clone()))
        .collect();
    let composite = out
        .composite_alarms()
        .iter()
        .map(|a| (a.alarm_name().unwrap_or_default().to_owned(), a.clone()))
        .collect();
    (metric, composite)
}

/// `samples` canary runs of the `sum` probe, all failed (ProbeSuccess 0), published now.
async fn put_failed_probes(client: &Client, environment: &str, samples: f64) {
    client
        .put_metric_data()
        .namespace(canary::metrics::DEFAULT_NAMESPACE)
        .metric_data(
            MetricDatum::builder()
                .metric_name(canary::metrics::PROBE_SUCCESS)
                .dimensions(
                    Dimension::builder()
                        .name(canary::metrics::DIM_ENVIRONMENT)
                        .value(environment)
                        .build(),
                )
                .dimensions(
                    Dimension::builder()
                        .name(canary::metrics::DIM_PROBE)
                        .value(canary::suite::SUM)
                        .build(),
                )
                .timestamp(DateTime::from(SystemTime::now()))
                .statistic_values(
                    StatisticSet::builder()
                        .sample_count(samples)
                        .sum(0.0)
                        .minimum(0.0)
                        .maximum(0.0)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData succeeds");
}

/// The value of query `id` of `def` (one of its metrics) over the last `def.period`, summed over
/// the datapoints LocalStack returns.
async fn query_value(client: &Client, def: &Alarm, id: &str) -> Option<f64> {
    let query = common::alarm_queries(def)
        .into_iter()
        .find(|q| q.id() == Some(id))
        .unwrap_or_else(|| panic!("`{}` has no query `{id}`", def.name));
    let now = SystemTime::now();
    let out = client
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from(
            now - Duration::from_secs(u64::from(def.period)),
        ))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .send()
        .await
        .expect("GetMetricData succeeds");
    let values = out.metric_data_results().first()?.values();
    (!values.is_empty()).then(|| values.iter().sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_burn_alarms_are_accepted_as_rendered_and_read_back_as_created() {
    let localstack = common::LocalStack::start();
    let client = localstack.client().await;
    let environment = format!("slo{}", std::process::id());
    let prefix = format!("sum-api-{environment}");
    let file = slo_alarms(&environment);
    assert!(
        file.alarms.len() >= 8 && file.composites.len() >= 4,
        "the synthetic SLO's four burns, two windows each"
    );

    // 1. Every window alarm and every burn is accepted as the observability module sends it.
    for def in &file.alarms {
        put_window(&client, &prefix, def).await;
    }
    for c in &file.composites {
        client
            .put_composite_alarm()
            .alarm_name(format!("{prefix}-{}", c.name))
            .alarm_description(format!("[{}] {}", c.severity.label(), c.description.trim()))
            .alarm_rule(c.rule(&prefix))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutCompositeAlarm refuses `{}`: {e:?}", c.name));
    }

    // 2. Each reads back as created.
    let (metric, composite) = read_back(&client, &prefix).await;
    assert_eq!(metric.len(), file.alarms.len(), "{:?}", metric.keys());
    assert_eq!(
        composite.len(),
        file.composites.len(),
        "{:?}",
        composite.keys()
    );
    for def in &file.alarms {
        let name = format!("{prefix}-{}", def.name);
        let got = metric
            .get(&name)
            .unwrap_or_else(|| panic!("`{name}` was not created"));
        assert_eq!(
            got.metrics(),
            common::alarm_queries(def).as_slice(),
            "{name}: queries"
        );
        assert_eq!(got.threshold(), Some(def.threshold), "{name}");
        assert_eq!(
            got.comparison_operator().map(|c| c.as_str()),
            Some(def.comparison.as_str()),
            "{name}"
        );
        assert_eq!(
            (got.evaluation_periods(), got.datapoints_to_alarm()),
            (
                i32::try_from(def.evaluation_periods).ok(),
                i32::try_from(def.datapoints_to_alarm).ok()
            ),
            "{name}: M of N"
        );
        assert_eq!(
            got.treat_missing_data(),
            Some(def.treat_missing_data.as_str()),
            "{name}"
        );
        assert_eq!(got.actions_enabled(), Some(false), "{name} notifies nobody");
    }
    for c in &file.composites {
        let name = format!("{prefix}-{}", c.name);
        let got = composite
            .get(&name)
            .unwrap_or_else(|| panic!("`{name}` was not created"));
        let rule = got.alarm_rule().unwrap_or_default();
        assert_eq!(rule, c.rule(&prefix), "{name}: rule");
        assert_eq!(
            rule.matches(" AND ").count() + 1,
            c.all_of.len(),
            "{name}: ALARM only when both windows are"
        );
        for member in c.members() {
            assert!(
                metric.contains_key(&format!("{prefix}-{member}")),
                "{name} reads `{member}`, which was not created"
            );
        }
    }

    // 3. A full outage of the sum probe: ten failed runs in the window. The alarm's own queries
    //    see them (its namespace, metric and dimensions are the ones the canary publishes):
    //    ten events, none good.
    let fast = file
        .alarms
        .iter()
        .filter(|a| a.name.starts_with("slo-sum-api-synthetic-"))
        .min_by_key(|a| a.period)
        .expect("the synthetic SLO's window alarms");
    put_failed_probes(&client, &environment, 10.0).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let (total, good) = loop {
        let total = query_value(&client, fast, "total").await;
        let good = query_value(&client, fast, "counted").await;
        if let (Some(total), Some(good)) = (total, good) {
            break (total, good);
        }
        assert!(
            Instant::now() < deadline,
            "the failed probes never reached `{}`'s queries",
            fast.name
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((total, good), (10.0, 0.0), "ten probes, none good");

    // 4. LocalStack does not evaluate metric math: put again (which evaluates a single-metric
    //    alarm at once), the window alarm stays where creation left it, though its budget burns
    //    at 1000x. If this fails, LocalStack evaluates metric math now: assert ALARM here (and
    //    the burn's composite) and update docs/slo.md.
    put_window(&client, &prefix, fast).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (metric, _) = read_back(&client, &prefix).await;
    let got = &metric[&format!("{prefix}-{}", fast.name)];
    assert_eq!(
        got.state_value(),
        Some(&StateValue::InsufficientData),
        "LocalStack evaluated a metric-math alarm ({:?}): extend this test to drive it to ALARM",
        got.state_reason()
    );
}
