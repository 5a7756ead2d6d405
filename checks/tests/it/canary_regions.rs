//! The canary in several regions, as the observability and canary stacks deploy it: the M-of-N
//! alarms of `alarms/cloudwatch.yaml` rendered for two and three regions (each region's series
//! read, the expression counting failing regions, evaluated for every number of failing regions
//! against the quorum), a dead-man alarm for every region, and the Terraform validation blocks
//! refusing a quorum above the number of regions and bad region lists.

use crate::common;

use std::collections::BTreeMap;
use std::fs;

use checks::alarms::{self, Alarm, AlarmFile, ONE_REGION_SUFFIX, Severity};
use checks::metric_math;
use checks::template;
use common::repo::*;
use common::{root, run, temp_dir, terraform, text};

/// The quorum alarms: (name, the probes each region's series are of, metric).
const QUORUMS: [(&str, &[&str], &str); 5] = [
    ("canary-sum-probe-failing", &["sum"], "ProbeSuccess"),
    ("canary-health-probe-failing", &["health"], "ProbeSuccess"),
    (
        "canary-auth-probe-failing",
        &["auth_missing_key", "auth_bad_key"],
        "ProbeSuccess",
    ),
    (
        "canary-rate-limit-headers-probe-failing",
        &["rate_limit_headers"],
        "ProbeSuccess",
    ),
    ("canary-latency", &["sum"], "ProbeLatency"),
];

/// `alarms/cloudwatch.yaml` rendered for `regions` and quorum `m`, checked like the real one.
fn rendered(regions: &[&str], m: u32) -> AlarmFile {
    let mut vars = vars();
    vars.insert("canary_quorum".into(), m.to_string());
    let lists: BTreeMap<String, Vec<String>> = [(
        "canary_regions".to_string(),
        regions.iter().map(|r| r.to_string()).collect(),
    )]
    .into();
    let text = template::render_with_lists(&read(ALARMS), &vars, &lists)
        .unwrap_or_else(|e| panic!("{ALARMS} renders for {regions:?}: {e}"));
    let file = alarms::parse(&text).unwrap_or_else(|e| panic!("{regions:?}: {e}"));
    let slo = parsed(SLO_ALARMS, &read(SLO_ALARMS)).1;
    assert_no_problems(
        &format!("{ALARMS} for {regions:?}"),
        alarms::check_files(&[&file, &slo]),
    );
    file
}

fn alarm<'a>(file: &'a AlarmFile, name: &str) -> &'a Alarm {
    file.alarms
        .iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no alarm `{name}`"))
}

/// Whether `a` is in ALARM for these values of its queries (one datapoint).
fn fires(a: &Alarm, values: &BTreeMap<String, Option<f64>>) -> bool {
    let queries = a.metrics.as_ref().expect("metric math");
    let returned = queries.iter().find(|q| q.return_data).expect("a result");
    let expression = returned.expression.as_deref().expect("an expression");
    let value = metric_math::parse(expression)
        .and_then(|e| e.eval(values))
        .unwrap_or_else(|e| panic!("`{}`: {expression}: {e}", a.name));
    let Some(v) = value else {
        return a.treat_missing_data == "breaching";
    };
    match a.comparison.as_str() {
        "GreaterThanOrEqualToThreshold" => v >= a.threshold,
        "GreaterThanThreshold" => v > a.threshold,
        "LessThanThreshold" => v < a.threshold,
        "LessThanOrEqualToThreshold" => v <= a.threshold,
        other => panic!("{other}"),
    }
}

#[test]
fn quorum_alarms_read_every_region_and_fire_at_m_failing_regions() {
    for (regions, m) in [
        (&["us-east-1", "us-west-2"][..], 2),
        (&["eu-west-1", "eu-central-1", "ap-southeast-2"][..], 2),
        (&["eu-west-1", "eu-central-1", "ap-southeast-2"][..], 3),
        (&["eu-west-1"][..], 1),
    ] {
        let n = regions.len();
        let file = rendered(regions, m);
        for (name, probes, metric) in QUORUMS {
            let a = alarm(&file, name);
            let at = format!("`{name}` for {regions:?}, M = {m}");
            assert_eq!(
                (a.comparison.as_str(), a.threshold),
                ("GreaterThanOrEqualToThreshold", f64::from(m)),
                "{at}"
            );
            assert_eq!(a.treat_missing_data, "notBreaching", "{at}");
            let queries = a.metrics.as_ref().expect("metric math");
            // One query per region and probe, on that region's series.
            let mut ids_by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for q in queries
                .iter()
                .filter_map(|q| q.metric.as_ref().map(|m| (q, m)))
            {
                let (q, m) = q;
                assert_eq!(m.metric_name, metric, "{at}");
                assert_eq!(m.dimensions["Environment"], "dev", "{at}");
                let region = m.dimensions.get("Region").expect("a Region dimension");
                let region = regions
                    .iter()
                    .find(|r| *r == region)
                    .unwrap_or_else(|| panic!("{at}: unknown region {region}"));
                assert!(probes.contains(&m.dimensions["Probe"].as_str()), "{at}");
                ids_by_region.entry(region).or_default().push(q.id.clone());
            }
            assert_eq!(ids_by_region.len(), n, "{at}: every region read");
            assert!(
                ids_by_region.values().all(|ids| ids.len() == probes.len()),
                "{at}: {ids_by_region:?}"
            );
            let returned: Vec<_> = queries.iter().filter(|q| q.return_data).collect();
            assert_eq!(returned.len(), 1, "{at}");
            let expression = returned[0].expression.as_deref().expect("expression");
            let parsed = metric_math::parse(expression).expect("the expression parses");
            let read: Vec<String> = ids_by_region.values().flatten().cloned().collect();
            assert_eq!(
                parsed.ids(),
                read.iter().cloned().collect(),
                "{at}: the expression reads exactly the regions' queries: {expression}"
            );
            // k failing regions out of n (the others passing, or silent): ALARM iff k >= M.
            for k in 0..=n {
                for silent_rest in [false, true] {
                    let mut values = BTreeMap::new();
                    for (i, region) in regions.iter().enumerate() {
                        let failing = i < k;
                        let value = match (metric, failing, silent_rest) {
                            (_, false, true) => None,
                            ("ProbeLatency", true, _) => Some(2500.0),
                            ("ProbeLatency", false, _) => Some(80.0),
                            (_, true, _) => Some(0.0),
                            (_, false, _) => Some(1.0),
                        };
                        for id in &ids_by_region[region] {
                            values.insert(id.clone(), value);
                        }
                    }
                    // The auth quorum: one of the two probes failing fails the region.
                    if name == "canary-auth-probe-failing" && k > 0 {
                        let first_ok = ids_by_region[regions[0]]
                            .iter()
                            .find(|id| id.starts_with("bad_key"))
                            .cloned()
                            .expect("bad_key query");
                        values.insert(first_ok, Some(1.0));
                    }
                    assert_eq!(
                        fires(a, &values),
                        k as u32 >= m,
                        "{at}: {k} of {n} regions failing (others silent: {silent_rest})"
                    );
                }
            }
            // The one-region variant tickets on the all-regions series.
            let one = alarm(&file, &format!("{name}{ONE_REGION_SUFFIX}"));
            assert_eq!(one.severity, Severity::Ticket, "{at}");
            assert_eq!(one.runbook, a.runbook, "{at}: one runbook");
            for m in one.metric_refs() {
                assert!(!m.dimensions.contains_key("Region"), "{at}: {m}");
            }
        }
        let pages: Vec<&str> = QUORUMS
            .iter()
            .map(|(name, ..)| *name)
            .filter(|name| alarm(&file, name).severity == Severity::Page)
            .collect();
        assert_eq!(
            pages.len(),
            QUORUMS.len() - 1,
            "every quorum pages but the sum probe's, which pages through users-affected"
        );
    }
}

#[test]
fn every_region_has_a_breaching_dead_man_alarm() {
    for regions in [
        &["us-east-1", "us-west-2"][..],
        &["eu-west-1", "eu-central-1", "ap-southeast-2"][..],
    ] {
        let file = rendered(regions, 2);
        for region in regions {
            let name = format!("canary-heartbeat-missing-{region}");
            let a = alarm(&file, &name);
            assert_eq!(a.metric_name.as_deref(), Some("Heartbeat"), "{name}");
            assert_eq!(
                a.dimensions.as_ref().map(|d| d["Region"].as_str()),
                Some(*region),
                "{name}"
            );
            assert_eq!(a.treat_missing_data, "breaching", "{name}");
            assert_eq!(a.runbook, "canary-heartbeat-missing.md");
        }
        let dead_men = file
            .alarms
            .iter()
            .filter(|a| a.metric_name.as_deref() == Some("Heartbeat"))
            .count();
        assert_eq!(
            dead_men,
            regions.len() + 1,
            "one per region and one for all"
        );
        // The rules every dead man follows (checked for the sample regions by
        // definitions::dead_man_alarm_is_breaching_and_covers_the_schedule): Sum < 1 over a
        // period no shorter than the schedule, M of N with M < N.
        for a in file
            .alarms
            .iter()
            .filter(|a| a.metric_name.as_deref() == Some("Heartbeat"))
        {
            assert_eq!(
                (a.statistic.as_deref(), a.comparison.as_str(), a.threshold),
                (Some("Sum"), "LessThanThreshold", 1.0),
                "{}",
                a.name
            );
            assert!(a.datapoints_to_alarm < a.evaluation_periods, "{}", a.name);
            for (expression, interval) in canary_schedules() {
                assert!(u64::from(a.period) >= interval, "{}: {expression}", a.name);
            }
        }
    }
}

#[test]
fn the_observability_module_provides_the_lists_the_alarms_loop_over() {
    let module = read("terraform/modules/observability/main.tf");
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let block = squash(&module)
        .split("template_vars={")
        .nth(1)
        .and_then(|b| b.split('}').next().map(str::to_string))
        .expect("template_vars");
    for list in template::list_variables(&read(ALARMS)) {
        assert!(
            block.contains(&format!("{list}=var.{list}")),
            "alarms loop over `{list}`, which the module does not pass: {block}"
        );
        assert!(
            lists().contains_key(&list),
            "checks::sample_lists lacks {list}"
        );
    }
    assert!(
        block.contains("canary_quorum=tostring(local.canary_quorum)"),
        "{block}"
    );
    let root_main = squash(&read("terraform/environments/dev/observability/main.tf"));
    assert!(
        root_main.contains("canary_regions=data.terraform_remote_state.canary.outputs.regions"),
        "the regions come from the canary stack"
    );
    let canary_outputs = squash(&read("terraform/environments/dev/canary/outputs.tf"));
    assert!(canary_outputs.contains("value=module.canary.regions"));
}

/// Runs `terraform apply` on a root holding only the `variables.tf` of `module` (no provider,
/// no resource) with `vars`; returns whether it succeeded and its output.
fn validate_variables(module: &str, vars: serde_json::Value) -> (bool, String) {
    let dir = temp_dir("tf-validation");
    fs::copy(
        root().join(format!("terraform/modules/{module}/variables.tf")),
        dir.join("variables.tf"),
    )
    .expect("copy variables.tf");
    fs::write(dir.join("vars.auto.tfvars.json"), vars.to_string()).expect("tfvars");
    let mut ok = true;
    let mut out = String::new();
    for args in [
        &["init", "-input=false", "-no-color"][..],
        &["apply", "-auto-approve", "-input=false", "-no-color"][..],
    ] {
        let o = run(terraform().args(args).current_dir(&dir));
        out.push_str(&text(&o));
        if !o.status.success() {
            ok = false;
            break;
        }
    }
    let _ = fs::remove_dir_all(&dir);
    (ok, out)
}

/// Values for every variable of the observability module without a default.
fn observability_vars(regions: &[&str], quorum: Option<u32>) -> serde_json::Value {
    let known: BTreeMap<&str, serde_json::Value> = [
        (
            "runbook_base_url",
            "https://runbooks.example/alarms/runbooks".into(),
        ),
        ("alb_arn_suffix", "app/sum-api-dev/50dc6c495c0c9188".into()),
        (
            "target_group_arn_suffix",
            "targetgroup/sum-api-dev/73e2d6bc24d8a067".into(),
        ),
        ("canary_regions", serde_json::json!(regions)),
        ("canary_quorum", serde_json::json!(quorum)),
    ]
    .into();
    let variables = read("terraform/modules/observability/variables.tf");
    let mut out = serde_json::Map::new();
    for block in variables.split("variable \"").skip(1) {
        let name = block.split('"').next().expect("name");
        let body = &block[..block.find("\n}").unwrap_or(block.len())];
        if let Some(v) = known.get(name) {
            out.insert(name.into(), v.clone());
        } else if !body.contains("default") {
            out.insert(name.into(), "x".into());
        }
    }
    serde_json::Value::Object(out)
}

#[test]
fn terraform_refuses_a_quorum_above_the_regions_and_bad_region_lists() {
    let (ok, out) = validate_variables(
        "observability",
        observability_vars(&["us-east-1", "us-west-2"], None),
    );
    assert!(ok, "two regions, default quorum:\n{out}");
    let (ok, out) = validate_variables(
        "observability",
        observability_vars(&["us-east-1", "us-west-2"], Some(2)),
    );
    assert!(ok, "M = N:\n{out}");
    for (regions, quorum, expect) in [
        (&["us-east-1", "us-west-2"][..], Some(3), "canary_quorum"),
        (&["us-east-1"][..], Some(0), "canary_quorum"),
        (&["us-east-1", "us-west-2"][..], Some(1), ""),
        (&[][..], None, "canary_regions"),
        (&["us-east-1", "us-east-1"][..], None, "canary_regions"),
    ] {
        let (ok, out) = validate_variables("observability", observability_vars(regions, quorum));
        if expect.is_empty() {
            assert!(ok, "{regions:?} M={quorum:?}:\n{out}");
            continue;
        }
        assert!(!ok, "{regions:?} M={quorum:?} must be refused");
        assert!(
            out.contains("Invalid value for variable") && out.contains(expect),
            "{regions:?} M={quorum:?}: names {expect}:\n{out}"
        );
    }
    // The canary stack: 1 to 5 distinct AWS region names.
    let canary = |regions: serde_json::Value| {
        serde_json::json!({
            "name_prefix": "p", "environment": "dev", "cluster_arn": "c",
            "private_subnet_ids": ["s"], "security_group_id": "g", "image": "i",
            "target_url": "https://api.example.com", "api_key_secret_arn": "a",
            "secrets_kms_key_arn": "k", "regions": regions,
        })
    };
    let (ok, out) = validate_variables(
        "canary",
        canary(serde_json::json!(["eu-west-1", "us-east-1"])),
    );
    assert!(ok, "{out}");
    for bad in [
        serde_json::json!([]),
        serde_json::json!(["eu-west-1", "eu-west-1"]),
        serde_json::json!(["eu-west-1", "mars"]),
        serde_json::json!([
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "eu-west-1",
            "eu-west-2"
        ]),
    ] {
        let (ok, out) = validate_variables("canary", canary(bad.clone()));
        assert!(
            !ok && out.contains("regions"),
            "{bad} must be refused:\n{out}"
        );
    }
    let (ok, out) = validate_variables(
        "canary",
        serde_json::json!({
            "name_prefix": "p", "environment": "dev", "cluster_arn": "c",
            "private_subnet_ids": ["s"], "security_group_id": "g", "image": "i",
            "target_url": "https://api.example.com", "api_key_secret_arn": "a",
            "secrets_kms_key_arn": "k", "regions": ["eu-west-1", "us-east-1"],
            "region_networks": { "us-east-1": { "subnet_ids": [], "security_group_id": "sg-1" } },
        }),
    );
    assert!(
        !ok && out.contains("region_networks"),
        "an empty subnet list:\n{out}"
    );
}
