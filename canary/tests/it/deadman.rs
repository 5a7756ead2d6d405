//! The dead-man switch end to end, in LocalStack's CloudWatch (which evaluates alarms): the
//! `Heartbeat` alarm is created from its definition in `alarms/cloudwatch.yaml` (rendered and
//! parsed by the checks crate, as Terraform renders it; only the period is shortened so the test
//! takes about a minute and a half), the real `canary` binary runs against the real service
//! behind the local gateway and keeps the alarm OK across evaluations, then the canary stops and
//! the alarm goes to ALARM on silence alone.
//!
//! LocalStack evaluates an alarm when it is put (created or updated) and then every
//! EvaluationPeriods x Period seconds (50 s here), each time over the last EvaluationPeriods + 2
//! periods. Rather than wait for that cadence, the test puts the same definition again whenever
//! it wants an evaluation: each put resets the state and evaluates the window at once.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
use checks::alarms::Alarm;

/// The definition's period (60 s, the canary's schedule) shortened for the test (LocalStack, like
/// CloudWatch, accepts 10, 30 or a multiple of 60).
const TEST_PERIOD: i32 = 10;

/// The dead-man alarm as `alarms/cloudwatch.yaml` defines it, rendered for `environment`.
fn heartbeat_definition(environment: &str) -> Alarm {
    let file = common::rendered_alarms("alarms/cloudwatch.yaml", environment);
    file.alarms
        .into_iter()
        .find(|a| a.metric_name.as_deref() == Some(canary::metrics::HEARTBEAT))
        .expect("alarms/cloudwatch.yaml defines an alarm on the canary's Heartbeat")
}

/// Creates the alarm in CloudWatch from its definition, with the test period; returns its name.
async fn create_alarm(client: &Client, def: &Alarm, environment: &str) -> String {
    let name = format!("sum-api-{environment}-{}", def.name);
    let dimensions = def
        .dimensions
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(n, v)| Dimension::builder().name(n).value(v).build())
        .collect();
    client
        .put_metric_alarm()
        .alarm_name(&name)
        .alarm_description(def.description.trim())
        .namespace(def.namespace.clone().expect("a single-metric alarm"))
        .metric_name(def.metric_name.clone().expect("a single-metric alarm"))
        .set_dimensions(Some(dimensions))
        .statistic(Statistic::from(
            def.statistic.as_deref().expect("a statistic"),
        ))
        .period(TEST_PERIOD)
        .evaluation_periods(i32::try_from(def.evaluation_periods).expect("small"))
        .datapoints_to_alarm(i32::try_from(def.datapoints_to_alarm).expect("small"))
        .threshold(def.threshold)
        .comparison_operator(ComparisonOperator::from(def.comparison.as_str()))
        .treat_missing_data(&def.treat_missing_data)
        .send()
        .await
        .expect("PutMetricAlarm succeeds");
    name
}

async fn state(client: &Client, name: &str) -> (StateValue, String) {
    let out = client
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("DescribeAlarms succeeds");
    let alarm = out.metric_alarms().first().expect("the alarm exists");
    (
        alarm.state_value().cloned().expect("a state"),
        alarm.state_reason().unwrap_or_default().to_owned(),
    )
}

/// Puts the alarm (again) and returns the state LocalStack's immediate evaluation gives it.
async fn evaluate(client: &Client, def: &Alarm, environment: &str) -> (StateValue, String) {
    let name = create_alarm(client, def, environment).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, reason) = state(client, &name).await;
        if s != StateValue::InsufficientData {
            return (s, reason);
        }
        assert!(
            Instant::now() < deadline,
            "LocalStack did not evaluate the alarm: {reason}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The service behind the local gateway, with a canary quota large enough for a run a second.
async fn healthy_stack() -> common::Stack {
    let service = service::start(common::service_config())
        .await
        .expect("the service starts");
    let builder = gateway::LocalGateway::committed()
        .expect("gateway/kong.yaml loads")
        .upstream(service.addr())
        .consumer_key("canary", common::CANARY_KEY)
        .origin_secret(common::ORIGIN_SECRET)
        .consumer_limits(
            "canary",
            gateway::RateLimits {
                second: None,
                minute: Some(100_000),
                hour: None,
                day: None,
            },
        )
        .expect("a valid limit");
    let gateway = builder.start().unwrap_or_else(|e| {
        panic!("the local gateway did not start ({e}); nginx and libnginx-mod-http-lua are installed by scripts/deps/apt.sh")
    });
    common::Stack {
        service: Some(service),
        gateway,
    }
}

/// Runs `canary run --once` back to back until `stop` (at most 300 runs); returns every run.
fn run_canary_until(
    stop: Arc<AtomicBool>,
    target: String,
    endpoint: String,
    environment: String,
) -> tokio::task::JoinHandle<Vec<common::Run>> {
    tokio::spawn(async move {
        let mut runs = Vec::new();
        for _ in 0..300 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let mut cmd = common::canary(Some(&endpoint));
            cmd.args([
                "run",
                "--once",
                "--target",
                &target,
                "--environment",
                &environment,
                "--sink",
                "cloudwatch",
            ]);
            runs.push(common::finish(cmd).await);
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        runs
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_man_alarm_stays_ok_while_the_canary_runs_and_fires_when_it_stops() {
    let localstack = common::LocalStack::start();
    let client = localstack.client().await;
    let stack = healthy_stack().await;
    let environment = format!("deadman{}", std::process::id());
    let def = heartbeat_definition(&environment);
    assert_eq!(
        def.treat_missing_data, "breaching",
        "the definition under test is the dead-man alarm"
    );
    let period = Duration::from_secs(TEST_PERIOD as u64);

    // 1. The canary runs; its heartbeats land in enough periods (N - M + 1) before the first
    //    evaluation.
    let stop = Arc::new(AtomicBool::new(false));
    let runner = run_canary_until(
        stop.clone(),
        stack.url(),
        localstack.endpoint(),
        environment.clone(),
    );
    let warm_up = period * (def.evaluation_periods - def.datapoints_to_alarm + 1) - period / 2;
    tokio::time::sleep(warm_up).await;

    // 2. While the canary runs, every evaluation finds the alarm OK.
    for _ in 0..3 {
        let (s, reason) = evaluate(&client, &def, &environment).await;
        assert_eq!(
            s,
            StateValue::Ok,
            "a healthy canary must keep the dead-man alarm OK ({reason})"
        );
        tokio::time::sleep(period / 2).await;
    }

    // 3. The canary stops: silence alone sends the alarm to ALARM, but not at once (M of N).
    stop.store(true, Ordering::SeqCst);
    let runs = runner.await.expect("the canary loop ends");
    let stopped = Instant::now();
    assert!(runs.len() >= 10, "the canary ran only {} times", runs.len());
    for run in &runs {
        assert_eq!(
            run.code,
            0,
            "a healthy canary run passes and delivers its metrics:\n{}",
            run.all()
        );
    }
    let heartbeat = common::stat(
        &client,
        canary::metrics::DEFAULT_NAMESPACE,
        canary::metrics::HEARTBEAT,
        &[
            (canary::metrics::DIM_ENVIRONMENT, &environment),
            // The canary's AWS_REGION (common::canary); LocalStack would add the all-regions
            // series to a query without it.
            (canary::metrics::DIM_REGION, "us-east-1"),
        ],
    )
    .await
    .expect("heartbeats reached CloudWatch");
    assert_eq!(
        heartbeat.sum,
        runs.len() as f64,
        "one Heartbeat per completed run"
    );

    let deadline = stopped + period * (def.evaluation_periods + 2) + Duration::from_secs(20);
    let mut ok_while_silent = 0;
    let (fired_after, reason) = loop {
        let (s, reason) = evaluate(&client, &def, &environment).await;
        if s == StateValue::Alarm {
            break (stopped.elapsed(), reason);
        }
        assert_eq!(s, StateValue::Ok, "unexpected state {s:?} ({reason})");
        ok_while_silent += 1;
        assert!(
            Instant::now() < deadline,
            "the dead-man alarm did not fire {:?} after the canary stopped",
            stopped.elapsed()
        );
        tokio::time::sleep(period / 2).await;
    };
    assert!(
        ok_while_silent > 0 && fired_after >= period * def.datapoints_to_alarm,
        "M of N: a short silence must not fire the alarm; it fired after {fired_after:?}"
    );
    assert!(
        reason.to_lowercase().contains("threshold crossed"),
        "reason: {reason}"
    );
    drop(stack);
}
