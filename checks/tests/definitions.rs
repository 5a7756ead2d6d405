//! The repository's alarms, dashboards and Prometheus rules, checked against the metric names
//! the code emits (the `service` and `canary` crates' constants), AWS's metric dimensions, the
//! canary's schedule, and the runbooks on disk. Negative cases show each check rejects the
//! mistake it exists for.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use checks::alarms::{self, AlarmFile};
use checks::catalog::{self, CanaryVocabulary, Catalog};
use checks::dashboard;
use checks::metric;
use checks::promql;
use checks::schedule;
use checks::template;

fn root() -> PathBuf {
    checks::repo_root()
}

fn read(rel: &str) -> String {
    let path = root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn catalog() -> Catalog {
    use canary::metrics as cm;
    use canary::suite;
    Catalog::new(
        &service::metrics::ALL,
        CanaryVocabulary {
            namespace: cm::DEFAULT_NAMESPACE,
            dim_environment: cm::DIM_ENVIRONMENT,
            dim_probe: cm::DIM_PROBE,
            all: cm::ALL,
            per_run: &[cm::RUN_STARTED, cm::HEARTBEAT],
            probes: &[
                suite::HEALTH,
                suite::SUM,
                suite::AUTH_MISSING_KEY,
                suite::AUTH_BAD_KEY,
                suite::RATE_LIMIT_HEADERS,
            ],
        },
    )
}

fn vars() -> BTreeMap<String, String> {
    let mut v = checks::sample_variables();
    v.insert(
        "canary_namespace".into(),
        canary::metrics::DEFAULT_NAMESPACE.into(),
    );
    v
}

const ALARMS: &str = "alarms/cloudwatch.yaml";

/// The alarm file before and after rendering.
fn alarm_files_from(text: &str) -> (AlarmFile, AlarmFile) {
    let raw =
        alarms::parse(text).unwrap_or_else(|e| panic!("{ALARMS} (unrendered) is not valid: {e}"));
    let rendered = template::render(text, &vars()).unwrap_or_else(|e| panic!("{ALARMS}: {e}"));
    let rendered = alarms::parse(&rendered)
        .unwrap_or_else(|e| panic!("{ALARMS} (rendered) is not valid: {e}"));
    (raw, rendered)
}

fn alarm_files() -> (AlarmFile, AlarmFile) {
    alarm_files_from(&read(ALARMS))
}

/// Every metric problem of an alarm file.
fn alarm_metric_problems(raw: &AlarmFile, rendered: &AlarmFile) -> Vec<String> {
    let catalog = catalog();
    let mut problems = Vec::new();
    for (r, a) in raw.alarms.iter().zip(&rendered.alarms) {
        for (raw_ref, ref_) in r.metric_refs().iter().zip(a.metric_refs()) {
            if let Err(e) = metric::check(&ref_, raw_ref, &catalog) {
                problems.push(format!("alarm `{}`: {e}", a.name));
            }
        }
    }
    problems
}

fn cloudwatch_dashboards() -> Vec<(String, String)> {
    let dir = root().join("dashboards/cloudwatch");
    let mut out: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.display().to_string(),
                fs::read_to_string(&p).expect("readable dashboard"),
            )
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 2,
        "expected the service overview and canary dashboards in {}",
        dir.display()
    );
    out
}

fn runbook(name: &str) -> PathBuf {
    root().join("alarms/runbooks").join(name)
}

fn assert_no_problems(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// --- alarms ---------------------------------------------------------------------------------------

#[test]
fn alarm_definitions_are_well_formed() {
    let (_, file) = alarm_files();
    assert_no_problems(ALARMS, alarms::check(&file));
    assert!(
        file.alarms.len() >= 12 + 6,
        "the old 12 scenarios plus the canary's alarms"
    );
    let pages: Vec<&str> = file
        .alarms
        .iter()
        .filter(|a| a.severity == alarms::Severity::Page)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        pages,
        vec!["canary-auth-probe-failing"],
        "only the security regression pages directly; the rest ticket"
    );
    let users = file
        .composites
        .iter()
        .find(|c| c.name == "users-affected")
        .expect("a users-affected composite");
    assert_eq!(
        users.severity,
        alarms::Severity::Page,
        "the users-affected composite pages"
    );
}

#[test]
fn every_alarm_metric_is_emitted_with_its_dimensions() {
    let (raw, rendered) = alarm_files();
    assert_no_problems("alarm metrics", alarm_metric_problems(&raw, &rendered));
}

/// The canary's schedule intervals: the stack's default and the example tfvars.
fn canary_schedules() -> Vec<(String, u64)> {
    let variables = read("terraform/environments/dev/canary/variables.tf");
    let default = schedule::variable_default(&variables, "schedule_expression")
        .expect("schedule_expression has a default");
    let mut expressions = vec![default];
    expressions.extend(schedule::string_assignment(
        &read("terraform/environments/dev/canary/terraform.tfvars.example"),
        "schedule_expression",
    ));
    expressions
        .into_iter()
        .map(|e| {
            let interval = schedule::interval(&e)
                .unwrap_or_else(|| panic!("cannot read an interval from {e}"));
            (e, interval.as_secs())
        })
        .collect()
}

/// What is wrong with the dead-man alarm of `file` for these schedules.
fn dead_man_problems(file: &AlarmFile, schedules: &[(String, u64)]) -> Vec<String> {
    let Some(d) = file
        .alarms
        .iter()
        .find(|a| a.metric_name.as_deref() == Some(canary::metrics::HEARTBEAT))
    else {
        return vec!["no alarm on the canary's Heartbeat".into()];
    };
    let mut problems = Vec::new();
    if d.treat_missing_data != "breaching" {
        problems.push(format!(
            "treat_missing_data is {}: a silent canary must alarm (breaching)",
            d.treat_missing_data
        ));
    }
    if d.statistic.as_deref() != Some("Sum")
        || d.comparison != "LessThanThreshold"
        || d.threshold != 1.0
    {
        problems.push("must be Heartbeat Sum < 1".into());
    }
    if d.datapoints_to_alarm >= d.evaluation_periods {
        problems.push("M of N needs M < N, to tolerate one late run".into());
    }
    let window = u64::from(d.evaluation_periods) * u64::from(d.period);
    if window > alarms::MAX_WINDOW_SECONDS {
        problems.push(format!(
            "EvaluationPeriods x Period = {window} s exceeds 86400 s"
        ));
    }
    for (expression, interval) in schedules {
        if u64::from(d.period) < *interval {
            problems.push(format!("period {} s is shorter than the canary's schedule {expression}: healthy periods would breach", d.period));
        }
    }
    problems
}

#[test]
fn dead_man_alarm_is_breaching_and_covers_the_schedule() {
    let (_, file) = alarm_files();
    let schedules = canary_schedules();
    assert!(
        schedules.iter().any(|(_, s)| *s == 60),
        "the canary runs every minute: {schedules:?}"
    );
    assert_no_problems("dead-man alarm", dead_man_problems(&file, &schedules));
}

#[test]
fn every_alarm_and_alert_has_a_runbook() {
    let (_, file) = alarm_files();
    let mut names: Vec<String> = file.alarms.iter().map(|a| a.runbook.clone()).collect();
    names.extend(file.composites.iter().map(|c| c.runbook.clone()));
    let rules =
        promql::parse_rules(&read("alarms/prometheus/sum-api.rules.yml")).expect("rules parse");
    for rule in rules.groups.iter().flat_map(|g| &g.rules) {
        let alert = rule.alert.as_deref().expect("alerting rules only");
        let url = rule
            .annotations
            .get("runbook_url")
            .unwrap_or_else(|| panic!("{alert} has no runbook_url"));
        assert_eq!(url, &format!("alarms/runbooks/{alert}.md"));
        names.push(format!("{alert}.md"));
    }
    let mut problems = Vec::new();
    for name in &names {
        match fs::read_to_string(runbook(name)) {
            Err(e) => problems.push(format!("{name}: {e}")),
            Ok(text) => {
                for section in [
                    "## What it means",
                    "## First checks",
                    "## Likely causes",
                    "## Mitigation",
                    "## Escalation",
                ] {
                    if !text.contains(section) {
                        problems.push(format!("{name}: no `{section}` section"));
                    }
                }
            }
        }
    }
    assert_no_problems("runbooks", problems);
    // And no orphan runbook that no alarm points to.
    let on_disk: BTreeSet<String> = fs::read_dir(root().join("alarms/runbooks"))
        .expect("runbooks dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    let used: BTreeSet<String> = names.into_iter().collect();
    assert_eq!(
        on_disk.difference(&used).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "runbooks without an alarm"
    );
}

// --- dashboards -----------------------------------------------------------------------------------

#[test]
fn cloudwatch_dashboards_render_to_valid_bodies_naming_emitted_metrics() {
    let catalog = catalog();
    let mut problems = Vec::new();
    let mut metrics_seen = BTreeSet::new();
    for (path, text) in cloudwatch_dashboards() {
        let rendered = match template::render(&text, &vars()) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{path}: {e}"));
                continue;
            }
        };
        let raw = dashboard::check_cloudwatch(&text).map_err(|e| e.join("; "));
        let content = dashboard::check_cloudwatch(&rendered).map_err(|e| e.join("; "));
        let (raw, content) = match (raw, content) {
            (Ok(r), Ok(c)) => (r, c),
            (Err(e), _) | (_, Err(e)) => {
                problems.push(format!("{path}: {e}"));
                continue;
            }
        };
        for (raw_ref, ref_) in raw.metrics.iter().zip(&content.metrics) {
            metrics_seen.insert((ref_.namespace.clone(), ref_.name.clone()));
            if let Err(e) = metric::check(ref_, raw_ref, &catalog) {
                problems.push(format!("{path}: {e}"));
            }
        }
        let base = format!("{}/", vars()["runbook_base_url"]);
        for link in &content.links {
            match link.strip_prefix(&base) {
                Some(file) if runbook(file).is_file() => {}
                _ => problems.push(format!(
                    "{path}: link {link} is not an existing runbook under ${{runbook_base_url}}"
                )),
            }
        }
        for query in &content.log_queries {
            if !query.contains("SOURCE '/ecs/sum-api-dev/") {
                problems.push(format!(
                    "{path}: log query must read a log group the tasks write to: {query}"
                ));
            }
        }
    }
    assert_no_problems("dashboards", problems);
    // The widgets are all there.
    for (ns, name) in [
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/ApplicationELB", "HealthyHostCount"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ECS", "CPUUtilization"),
        ("AWS/ECS", "MemoryUtilization"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
        ("ECS/ContainerInsights", "DeploymentCount"),
    ] {
        assert!(
            metrics_seen.contains(&(ns.to_string(), name.to_string())),
            "no widget shows {ns} {name}"
        );
    }
    for name in canary::metrics::ALL {
        assert!(
            metrics_seen.contains(&(
                canary::metrics::DEFAULT_NAMESPACE.to_string(),
                name.to_string()
            )),
            "the canary dashboard does not show {name}"
        );
    }
}

#[test]
fn grafana_dashboard_and_prometheus_rules_query_exported_metrics_of_the_sum_api_job() {
    let catalog = catalog();
    let grafana: serde_json::Value = serde_json::from_str(&read("dashboards/grafana/sum-api.json"))
        .expect("Grafana dashboard is JSON");
    assert!(
        grafana
            .get("panels")
            .and_then(|p| p.as_array())
            .is_some_and(|p| !p.is_empty()),
        "Grafana dashboard has panels"
    );
    let mut exprs: Vec<(String, String)> = dashboard::grafana_queries(&grafana)
        .into_iter()
        .map(|e| ("grafana".to_string(), e))
        .collect();
    let rules =
        promql::parse_rules(&read("alarms/prometheus/sum-api.rules.yml")).expect("rules parse");
    exprs.extend(
        rules
            .groups
            .iter()
            .flat_map(|g| &g.rules)
            .map(|r| (r.alert.clone().unwrap_or_default(), r.expr.clone())),
    );
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for (origin, expr) in &exprs {
        for selector in promql::selectors(expr, "sumapi_") {
            if selector != "up" && !catalog.has_prometheus_series(&selector) {
                problems.push(format!(
                    "{origin}: `{selector}` is not exported by the service (service::metrics::ALL)"
                ));
            }
            used.insert(selector);
        }
        for job in promql::job_matchers(expr) {
            if job != "sum-api" {
                problems.push(format!(
                    "{origin}: job `{job}` is not the scrape job `sum-api`"
                ));
            }
        }
        if expr.contains("sumapi_") && promql::job_matchers(expr).is_empty() {
            problems.push(format!("{origin}: selects no job: {expr}"));
        }
    }
    assert_no_problems("PromQL", problems);
    for name in &catalog.prometheus {
        assert!(
            used.iter().any(|u| u.starts_with(name.as_str())),
            "no panel or rule uses {name}"
        );
    }
}

#[test]
fn metrics_named_in_dashboards_and_alarms_are_documented() {
    let documented = catalog::backticked_names(&read("docs/metrics.md"));
    let catalog = catalog();
    let mut missing: Vec<&String> = catalog
        .canary
        .keys()
        .filter(|m| !documented.contains(*m))
        .collect();
    missing.extend(
        catalog
            .prometheus
            .iter()
            .filter(|m| !documented.contains(*m)),
    );
    assert!(
        missing.is_empty(),
        "docs/metrics.md does not list: {missing:?}"
    );
}

#[test]
fn alb_outputs_are_arn_suffixes_all_the_way_to_the_alarms() {
    // The dimension values come from the compute stack's arn_suffix outputs, never names.
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let outputs = squash(&read("terraform/modules/compute/outputs.tf"));
    for (output, attribute) in [
        ("alb_arn_suffix", "aws_lb.this.arn_suffix"),
        (
            "target_group_arn_suffix",
            "aws_lb_target_group.service.arn_suffix",
        ),
    ] {
        let block = outputs
            .split(&format!("output\"{output}\""))
            .nth(1)
            .expect("output exists");
        assert!(
            block[..block.find('}').unwrap_or(block.len())].contains(&format!("value={attribute}")),
            "{output} must be {attribute}"
        );
    }
    let root_main = squash(&read("terraform/environments/dev/observability/main.tf"));
    for output in ["alb_arn_suffix", "target_group_arn_suffix"] {
        assert!(
            root_main.contains(&format!(
                "{output}=data.terraform_remote_state.compute.outputs.{output}"
            )),
            "observability root must pass compute's {output}"
        );
    }
    let module = read("terraform/modules/observability/main.tf");
    assert!(
        squash(&module).contains("yamldecode(templatefile(var.alarms_file,local.template_vars))"),
        "alarms are rendered from alarms/"
    );
    assert!(
        squash(&module).contains(
            "jsondecode(templatefile(\"${var.dashboards_dir}/${each.value}\",local.template_vars))"
        ),
        "dashboards are rendered from dashboards/"
    );
    // Every variable the templates use is one the module provides.
    let provided: BTreeSet<String> = module
        .split("template_vars = {")
        .nth(1)
        .and_then(|b| b.split('}').next())
        .expect("template_vars block")
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    let mut used = template::variables(&read(ALARMS));
    for (_, text) in cloudwatch_dashboards() {
        used.extend(template::variables(&text));
    }
    let sample: BTreeSet<String> = vars().keys().cloned().collect();
    for name in used {
        assert!(
            provided.contains(&name),
            "templates use `{name}` but the observability module does not provide it"
        );
        assert!(
            sample.contains(&name),
            "checks::sample_variables lacks `{name}`"
        );
    }
}

// --- the checks reject what they exist for -------------------------------------------------------

fn mutated(from: &str, to: &str) -> (AlarmFile, AlarmFile) {
    let text = read(ALARMS);
    assert!(text.contains(from), "fixture text `{from}` not in {ALARMS}");
    alarm_files_from(&text.replacen(from, to, 1))
}

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
        ("period: 300", "period: 90000", "exceeds 86400"),
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
            "extended_statistic: p99",
            "extended_statistic: p199",
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

// --- workflows ------------------------------------------------------------------------------------

#[test]
fn workflows_use_oidc_roles_and_existing_scripts_only() {
    let dir = root().join(".github/workflows");
    let mut seen = BTreeSet::new();
    for entry in fs::read_dir(&dir)
        .expect(".github/workflows")
        .filter_map(Result::ok)
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = fs::read_to_string(entry.path()).expect("workflow");
        let doc: serde_json::Value =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            doc.get("jobs")
                .and_then(|j| j.as_object())
                .is_some_and(|j| !j.is_empty()),
            "{name}: no jobs"
        );
        for forbidden in [
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
        ] {
            assert!(
                !text.contains(forbidden),
                "{name}: long-lived AWS keys ({forbidden}); assume a role with OIDC"
            );
        }
        if text.contains("configure-aws-credentials") {
            assert_eq!(
                doc["permissions"]["id-token"], "write",
                "{name}: OIDC needs id-token: write"
            );
            assert_eq!(
                text.matches("uses: aws-actions/configure-aws-credentials")
                    .count(),
                text.matches("role-to-assume:").count(),
                "{name}: every AWS login assumes a role"
            );
        }
        for script in text.split("scripts/").skip(1).filter_map(|s| {
            s.split(|c: char| c.is_whitespace() || c == '"' || c == ')')
                .next()
        }) {
            assert!(
                script.contains('*') || root().join("scripts").join(script).is_file(),
                "{name}: scripts/{script} does not exist"
            );
        }
        seen.insert(name);
    }
    for expected in ["ci.yml", "release.yml", "terraform.yml"] {
        assert!(seen.contains(expected), "missing workflow {expected}");
    }
    let release = read(".github/workflows/release.yml");
    for step in [
        "loadgen ratelimit",
        "target/release/loadgen run",
        "--baseline",
        "scripts/deploy.sh --env staging",
        "scripts/deploy.sh --env prod",
    ] {
        assert!(release.contains(step), "release workflow lacks `{step}`");
    }
}

#[test]
fn log_queries_read_the_log_groups_the_tasks_write_to() {
    // The old project's log filter read a group nobody wrote to. Here every dashboard query
    // names a template variable, the variable is the output of the stack whose task definition
    // logs to exactly that group.
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let mut variables_used = BTreeSet::new();
    for (path, text) in cloudwatch_dashboards() {
        let raw = dashboard::check_cloudwatch(&text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        for query in raw.log_queries {
            let source = query
                .split("SOURCE '")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .expect("SOURCE '<group>'");
            assert!(
                source == "${service_log_group}" || source == "${canary_log_group}",
                "{path}: log query reads `{source}`, not a log group a task writes to"
            );
            variables_used.insert(source.to_string());
        }
    }
    assert_eq!(
        variables_used.len(),
        2,
        "the service and canary logs are both on a dashboard"
    );
    let root_main = squash(&read("terraform/environments/dev/observability/main.tf"));
    assert!(root_main.contains(
        "service_log_group=data.terraform_remote_state.compute.outputs.service_log_group"
    ));
    assert!(
        root_main.contains("canary_log_group=data.terraform_remote_state.canary.outputs.log_group")
    );
    for (module, resource, output) in [
        (
            "compute",
            "aws_cloudwatch_log_group.service",
            "service_log_group",
        ),
        ("canary", "aws_cloudwatch_log_group.canary", "log_group"),
    ] {
        let outputs = squash(&read(&format!("terraform/modules/{module}/outputs.tf")));
        assert!(
            outputs.contains(&format!("output\"{output}\"{{description=")),
            "{module} outputs {output}"
        );
        let block = outputs
            .split(&format!("output\"{output}\""))
            .nth(1)
            .expect("output");
        assert!(
            block[..block.find('}').unwrap_or(block.len())]
                .contains(&format!("value={resource}.name")),
            "{module}.{output} is {resource}"
        );
        let main = squash(&read(&format!("terraform/modules/{module}/main.tf")));
        assert!(
            main.contains(&format!("awslogs-group={resource}.name")),
            "{module}'s task logs to {resource}"
        );
    }
}
