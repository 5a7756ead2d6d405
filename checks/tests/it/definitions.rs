//! The repository's alarms, dashboards, Prometheus rules and workflows, checked against the
//! metric names the code emits (the `service` and `canary` crates' constants), AWS's metric
//! dimensions, the canary's schedule, the runbooks on disk and the Terraform that wires them.

use crate::common;

use std::collections::BTreeSet;
use std::fs;

use checks::alarms;
use checks::catalog;
use checks::dashboard;
use checks::metric;
use checks::promql;
use checks::template;
use common::repo::*;
use common::root;

// --- alarms ---------------------------------------------------------------------------------------

#[test]
fn alarm_definitions_are_well_formed() {
    let (_, file) = alarm_files();
    assert_no_problems(ALARMS, alarms::check(&file));
    assert!(
        file.alarms.len() >= 10 + 6,
        "the ALB's and ECS's cause scenarios (the ALB's 5xx ratio and p99 are SLO burns now, in \
         alarms/cloudwatch-slo.yaml) plus the canary's alarms"
    );
    let pages: Vec<&str> = file
        .alarms
        .iter()
        .filter(|a| a.severity == alarms::Severity::Page)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        pages,
        vec![
            "canary-health-probe-failing",
            "canary-auth-probe-failing",
            "canary-rate-limit-headers-probe-failing",
            "canary-latency",
            "canary-certificate-expiry-imminent"
        ],
        "only the canary's region quorums (a failure seen from at least canary_quorum regions; \
         the sum probe's pages through users-affected) and a certificate about to expire (every \
         client will refuse the API, and nothing else warns) page directly; the rest ticket, a \
         failure seen from one region among them"
    );
    for quorum in pages.iter().filter(|p| !p.contains("certificate")) {
        let one = format!("{quorum}{}", alarms::ONE_REGION_SUFFIX);
        let one = file.alarms.iter().find(|a| a.name == one);
        assert_eq!(
            one.map(|a| a.severity),
            Some(alarms::Severity::Ticket),
            "a failure seen from one region tickets: {quorum}"
        );
    }
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
    assert_eq!(
        users.any_of,
        ["alb-no-healthy-hosts", "canary-sum-probe-failing"],
        "users-affected pages on causes that fail users now; errors and slowness page through the SLO burns"
    );
}

#[test]
fn slo_burn_alarms_are_well_formed_with_the_alarms_they_deploy_with() {
    let files = deployed_alarm_files();
    let rendered: Vec<&alarms::AlarmFile> = files.iter().map(|(_, _, r)| r).collect();
    assert_no_problems(
        &format!("{DEPLOYED_ALARMS:?} together"),
        alarms::check_files(&rendered),
    );
    let (_, slo) = parsed(SLO_ALARMS, &read(SLO_ALARMS));
    // Every window alarm notifies nobody and feeds exactly one burn; every burn pages or
    // tickets when both its windows (long and short) are in ALARM.
    for a in &slo.alarms {
        assert_eq!(a.severity, alarms::Severity::None, "`{}` notifies", a.name);
        let readers = slo
            .composites
            .iter()
            .filter(|c| c.members().contains(&a.name))
            .count();
        assert_eq!(readers, 1, "`{}` feeds {readers} burns", a.name);
    }
    for c in &slo.composites {
        assert!(
            c.any_of.is_empty() && c.all_of.len() == 2,
            "`{}`: a burn is ALARM when both windows are (all_of, 2 members)",
            c.name
        );
    }
    assert!(
        slo.composites
            .iter()
            .any(|c| c.severity == alarms::Severity::Page),
        "the synthetic SLO's fast burns page"
    );
}

#[test]
fn every_alarm_metric_is_emitted_with_its_dimensions() {
    let files = deployed_alarm_files();
    for (path, raw, rendered) in &files {
        assert_no_problems(
            &format!("{path}: alarm metrics"),
            alarm_metric_problems(raw, rendered),
        );
    }
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
    let mut names: Vec<String> = Vec::new();
    for (_, _, file) in deployed_alarm_files() {
        names.extend(file.alarms.iter().map(|a| a.runbook.clone()));
        names.extend(file.composites.iter().map(|c| c.runbook.clone()));
    }
    for (path, rules) in prometheus_rules() {
        for rule in rules.groups.iter().flat_map(|g| &g.rules) {
            let Some(alert) = rule.alert.as_deref() else {
                assert!(
                    rule.record.is_some(),
                    "{path}: a rule neither alerts nor records"
                );
                continue;
            };
            let url = rule
                .annotations
                .get("runbook_url")
                .unwrap_or_else(|| panic!("{path}: {alert} has no runbook_url"));
            assert_eq!(url, &format!("alarms/runbooks/{alert}.md"), "{path}");
            names.push(format!("{alert}.md"));
        }
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
        // Besides runbooks, the X-Ray console of the dashboard's own region (trace links).
        let region = &vars()["region"];
        let xray = format!(
            "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#xray:"
        );
        for link in &content.links {
            match link.strip_prefix(&base) {
                Some(file) if runbook(file).is_file() => {}
                _ if link.starts_with(&xray) => {}
                _ => problems.push(format!(
                    "{path}: link {link} is not an existing runbook under ${{runbook_base_url}} \
                     or the X-Ray console of the dashboard's region"
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
    let mut boards: Vec<String> = fs::read_dir(root().join("dashboards/grafana"))
        .expect("dashboards/grafana")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".json"))
        .map(|name| format!("dashboards/grafana/{name}"))
        .collect();
    boards.sort();
    assert!(
        boards.contains(&"dashboards/grafana/sum-api.json".to_string()),
        "{boards:?}"
    );
    let mut exprs: Vec<(String, String)> = Vec::new();
    for board in &boards {
        let grafana: serde_json::Value =
            serde_json::from_str(&read(board)).expect("Grafana dashboard is JSON");
        assert!(
            grafana
                .get("panels")
                .and_then(|p| p.as_array())
                .is_some_and(|p| !p.is_empty()),
            "{board} has panels"
        );
        exprs.extend(
            dashboard::grafana_queries(&grafana)
                .into_iter()
                .map(|e| (board.clone(), e)),
        );
    }
    // What a recording rule records is a series too (the SLO rules' `slo:*`), defined by the
    // rules files rather than by the service.
    let mut recorded = BTreeSet::new();
    for (path, rules) in prometheus_rules() {
        for rule in rules.groups.iter().flat_map(|g| &g.rules) {
            recorded.extend(rule.record.clone());
            let name = rule.alert.as_ref().or(rule.record.as_ref());
            exprs.push((
                format!("{path}: {}", name.map_or("", String::as_str)),
                rule.expr.clone(),
            ));
        }
    }
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for (origin, expr) in &exprs {
        for selector in promql::selectors(expr, "sumapi_") {
            if selector != "up"
                && !catalog.has_prometheus_series(&selector)
                && !recorded.contains(&selector)
            {
                problems.push(format!(
                    "{origin}: `{selector}` is not exported by the service (service::metrics::ALL) \
                     nor recorded by a rule of alarms/prometheus/"
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
