//! The definition checks reject the mistakes they exist for: each test mutates the real
//! `alarms/cloudwatch.yaml` (an ALB alarm keyed on a name, an unknown metric, wrong dimensions,
//! a dead-man alarm that ignores silence, ...) and expects the matching complaint.

use crate::common;

use checks::alarms;
use checks::template;
use common::repo::*;

// --- the checks reject what they exist for -------------------------------------------------------

#[test]
fn an_alb_alarm_keyed_on_the_load_balancer_name_is_rejected() {
    let (raw, rendered) = mutated(
        "LoadBalancer: \"${alb_arn_suffix}\"",
        "LoadBalancer: \"${cluster_name}\"",
    );
    let problems = alarm_metric_problems(&raw, &rendered);
    assert!(
        problems.iter().any(|p| p.contains("arn_suffix variable")),
        "{problems:?}"
    );
    let (raw, rendered) = mutated(
        "TargetGroup: \"${target_group_arn_suffix}\"",
        "TargetGroup: \"sum-api-dev\"",
    );
    assert!(!alarm_metric_problems(&raw, &rendered).is_empty());
}

#[test]
fn unknown_metrics_wrong_dimensions_and_foreign_namespaces_are_rejected() {
    for (from, to, expect) in [
        (
            "metric_name: Heartbeat",
            "metric_name: HeartBeat",
            "emits no metric",
        ),
        (
            "metric_name: HTTPCode_ELB_5XX_Count",
            "metric_name: HTTPCode_ELB_5xx_Count",
            "has no metric",
        ),
        (
            "    dimensions:\n      Environment: \"${environment}\"\n    statistic: Sum",
            "    dimensions:\n      Environment: \"${environment}\"\n      Probe: sum\n    statistic: Sum",
            "with dimensions",
        ),
        (
            "      Probe: health\n",
            "      Probe: /healthz\n",
            "no default probe",
        ),
        (
            "namespace: AWS/ECS\n",
            "namespace: AWS/EC2\n",
            "not one this platform",
        ),
        (
            "namespace: \"${canary_namespace}\"\n    metric_name: ProbeLatency",
            "namespace: SumApi/Canary\n    metric_name: ProbeLatency",
            "configurable",
        ),
    ] {
        let (raw, rendered) = mutated(from, to);
        let problems = alarm_metric_problems(&raw, &rendered);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "`{to}` should be rejected with `{expect}`: {problems:?}"
        );
    }
}

#[test]
fn malformed_alarm_rules_are_rejected() {
    for (from, to, expect) in [
        (
            "    evaluation_periods: 5\n    datapoints_to_alarm: 3\n    comparison: LessThanThreshold\n    threshold: 1\n    # No Heartbeat",
            "    evaluation_periods: 3\n    datapoints_to_alarm: 5\n    comparison: LessThanThreshold\n    threshold: 1\n    # No Heartbeat",
            "datapoints_to_alarm <= evaluation_periods",
        ),
        // A window over a day with a period under an hour, and over a week at all.
        (
            "    period: 60\n    evaluation_periods: 15\n",
            "    period: 3540\n    evaluation_periods: 25\n",
            "exceeds 86400",
        ),
        ("period: 300", "period: 300000", "exceeds 604800"),
        (
            "comparison: GreaterThanThreshold",
            "comparison: GreaterThan",
            "unknown comparison",
        ),
        (
            "treat_missing_data: breaching",
            "treat_missing_data: breach",
            "unknown treat_missing_data",
        ),
        (
            "    statistic: Maximum",
            "    extended_statistic: p199",
            "not a percentile",
        ),
        (
            "        return_data: true",
            "        return_data: false",
            "exactly one series",
        ),
        (
            "runbook: alb-elb-5xx.md",
            "runbook: elb.md",
            "runbook must be",
        ),
        (
            "      - canary-sum-probe-failing\n",
            "      - canary-sum-probe-fails\n",
            "not an alarm of this file",
        ),
    ] {
        let (_, file) = mutated(from, to);
        let problems = alarms::check(&file);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "`{to}` should be rejected with `{expect}`: {problems:?}"
        );
    }
}

#[test]
fn cloudwatch_window_limits_are_a_day_below_an_hourly_period_and_a_week_from_it() {
    // 3 x 25 h: over a day, but CloudWatch takes up to a week when the period is an hour or more.
    let (_, file) = mutated("period: 300", "period: 90000");
    assert_eq!(alarms::check(&file), Vec::<String>::new());
    let (_, file) = mutated("period: 300", "period: 3540");
    assert_eq!(alarms::check(&file), Vec::<String>::new(), "3 x 59 min");
}

#[test]
fn slo_burn_composites_over_missing_or_silent_alarms_are_rejected() {
    let text = read(SLO_ALARMS);
    for (from, to, expect) in [
        (
            "      - slo-sum-api-synthetic-page-1h-5m\n",
            "      - slo-sum-api-synthetic-page-1h-5min\n",
            "not an alarm of this file",
        ),
        (
            "    severity: page\n",
            "    severity: none\n",
            "a composite exists to notify someone",
        ),
        (
            "    all_of:\n",
            "    any_of: [slo-sum-api-synthetic-page-1h-1h]\n    all_of:\n",
            "both any_of and all_of",
        ),
        (
            "    runbook: SLOErrorBudgetBurn.md\n",
            "    runbook: slo-sum-api-synthetic-page-1h-1h.md\n",
            "runbook must be `SLOErrorBudgetBurn.md`",
        ),
    ] {
        assert!(
            text.contains(from),
            "fixture text `{from}` not in {SLO_ALARMS}"
        );
        let (_, file) = parsed(SLO_ALARMS, &text.replacen(from, to, 1));
        let problems = alarms::check(&file);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "`{to}` should be rejected with `{expect}`: {problems:?}"
        );
    }
    // A window alarm no burn reads would notify nobody, ever.
    let orphan = text.replacen(
        "      - slo-sum-api-synthetic-page-1h-5m\n",
        "      - slo-sum-api-synthetic-page-1h-1h\n",
        1,
    );
    let (_, file) = parsed(SLO_ALARMS, &orphan);
    let problems = alarms::check(&file);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("slo-sum-api-synthetic-page-1h-5m")
                && p.contains("no composite reads it")),
        "{problems:?}"
    );
    // The SLO file's names clash with nothing of the hand-written file.
    let (_, main) = alarm_files();
    let (_, slo) = parsed(SLO_ALARMS, &text);
    let mut twice = slo.clone();
    twice.alarms.push(main.alarms[0].clone());
    assert!(
        alarms::check_files(&[&main, &twice])
            .iter()
            .any(|p| p.contains("duplicate name"))
    );
}

#[test]
fn malformed_alarm_files_fail_with_a_clear_error() {
    assert!(alarms::parse("alarms: [").is_err());
    assert!(
        alarms::parse("alarms:\n  - name: x\n")
            .expect_err("missing fields")
            .to_string()
            .contains("missing field")
    );
    let unknown = read(ALARMS).replacen(
        "    severity: ticket\n",
        "    severity: ticket\n    sevrity: page\n",
        1,
    );
    let err = alarms::parse(&unknown).expect_err("a misspelt field is not ignored");
    assert!(err.to_string().contains("sevrity"), "{err}");
    let bad_severity = read(ALARMS).replacen("severity: ticket", "severity: sms", 1);
    assert!(alarms::parse(&bad_severity).is_err());
    // A template variable no one provides fails rendering like templatefile would.
    let err = template::render(
        &read(ALARMS).replacen("${alb_arn_suffix}", "${alb_name}", 1),
        &vars(),
    )
    .expect_err("unknown variable");
    assert!(err.to_string().contains("alb_name"), "{err}");
}

#[test]
fn a_dead_man_alarm_that_ignores_silence_or_the_schedule_is_rejected() {
    let minute = vec![("rate(1 minute)".to_string(), 60)];
    let (_, file) = mutated(
        "    # No Heartbeat is exactly what this alarm exists to catch.\n    treat_missing_data: breaching",
        "    treat_missing_data: notBreaching",
    );
    assert!(
        dead_man_problems(&file, &minute)
            .iter()
            .any(|p| p.contains("breaching"))
    );
    let (_, file) = alarm_files();
    let hourly = vec![("rate(1 hour)".to_string(), 3_600)];
    assert!(
        dead_man_problems(&file, &hourly)
            .iter()
            .any(|p| p.contains("shorter than the canary's schedule"))
    );
    let (_, file) = mutated(
        "    period: 60\n    evaluation_periods: 5\n    datapoints_to_alarm: 3\n    comparison: LessThanThreshold\n    threshold: 1\n    # No Heartbeat",
        "    period: 3600\n    evaluation_periods: 30\n    datapoints_to_alarm: 3\n    comparison: LessThanThreshold\n    threshold: 1\n    # No Heartbeat",
    );
    assert!(
        dead_man_problems(&file, &minute)
            .iter()
            .any(|p| p.contains("86400"))
    );
    let (_, file) = mutated("metric_name: Heartbeat", "metric_name: RunStarted");
    assert!(
        dead_man_problems(&file, &minute)
            .iter()
            .any(|p| p.contains("no alarm"))
    );
}
