//! How the Terraform and the workflows wire the pieces together, checked against the code and
//! each other: ALB dimensions are arn_suffix outputs all the way to the alarms, dashboards query
//! the log groups the tasks write to, kong.yaml's secrets exist, the service's drain timing, the
//! ECS deployment settings are the ones the rolling-deploy test ran with, the ECS deployment
//! alarms are the SLO page burns, the canary's least-privilege role, OIDC-only
//! workflows, and loadgen flags the workflows use.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::process::Command;

use checks::dashboard;
use checks::template;
use common::repo::*;
use common::{root, run, temp_dir, terraform, text};

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
        squash(&module)
            .contains("yamldecode(templatefile(var.slo_alarms_file,local.template_vars))"),
        "the SLO burn alarms are rendered from alarms/ like the others"
    );
    assert!(
        root_main.contains(
            "alarms_file=\"${local.repo_root}/alarms/cloudwatch.yaml\"slo_alarms_file=\"${local.repo_root}/alarms/cloudwatch-slo.yaml\""
        ),
        "the observability root passes both alarm files"
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
    used.extend(template::variables(&read(SLO_ALARMS)));
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

#[test]
fn every_gateway_secret_reference_has_a_secrets_manager_entry() {
    // kong.yaml's {vault://env/<name>} references are read from the secrets stack's entries
    // (the gateway stack renames some); the tasks read theirs from the same entries.
    let kong = read("gateway/kong.yaml");
    let references: BTreeSet<String> = kong
        .split("{vault://env/")
        .skip(1)
        .filter_map(|s| s.split('}').next())
        .map(str::to_string)
        .collect();
    assert!(
        references.len() >= 4,
        "kong.yaml references its keys and the origin secret: {references:?}"
    );
    let secrets = read("terraform/modules/secrets/main.tf");
    let block = secrets
        .split("secrets = {")
        .nth(1)
        .and_then(|b| b.split('}').next())
        .expect("local.secrets");
    let entries: BTreeSet<String> = block
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_string)
        })
        .collect();
    let renames_text =
        fs::read_to_string(root().join("terraform/environments/dev/gateway/variables.tf"))
            .unwrap_or_default();
    let renames: Vec<(String, String)> = renames_text
        .lines()
        .filter_map(|l| {
            let r = l.split("reference = \"").nth(1)?.split('"').next()?;
            let e = l
                .split("entry = \"")
                .nth(1)
                .or_else(|| l.split("entry     = \"").nth(1))?
                .split('"')
                .next()?;
            Some((r.to_string(), e.to_string()))
        })
        .collect();
    for reference in &references {
        let entry = renames
            .iter()
            .find(|(r, _)| r == reference)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| reference.clone());
        assert!(
            entries.contains(&entry),
            "kong.yaml's {{vault://env/{reference}}} has no secrets-stack entry `{entry}` (entries: {entries:?})"
        );
    }
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    for (stack, entry) in [
        ("compute", "origin-secret"),
        ("canary", "canary-api-key"),
        ("loadgen", "loadgen-api-key"),
    ] {
        let main = squash(&read(&format!(
            "terraform/environments/dev/{stack}/main.tf"
        )));
        assert!(
            main.contains(&format!("secret_arns[\"{entry}\"]")),
            "{stack} reads the `{entry}` secret"
        );
        assert!(entries.contains(entry));
    }
    // The tasks get both origin secrets, each in the variable the service reads it from, and
    // may read both: the one the gateway does not send can then be rotated without refusals.
    // The second is looked up, so that a plan made before the secrets stack has it still works.
    let stack = squash(&read("terraform/environments/dev/compute/main.tf"));
    assert!(
        stack.contains(r#"origin_secret_alt_arn=lookup(data.terraform_remote_state.secrets.outputs.secret_arns,"origin-secret-alt",null)"#),
        "compute reads the `origin-secret-alt` secret"
    );
    assert!(entries.contains("origin-secret-alt"));
    let compute = squash(&read("terraform/modules/compute/main.tf"));
    for (variable, arn) in [
        (service::config::ORIGIN_SECRET_ENV, "var.origin_secret_arn"),
        (
            service::config::ORIGIN_SECRET_ALT_ENV,
            "var.origin_secret_alt_arn",
        ),
    ] {
        assert!(
            compute.contains(&format!("{{name=\"{variable}\",valueFrom={arn}}}")),
            "the service task injects {variable} from {arn}"
        );
    }
    assert!(
        compute.contains("secret_arns=compact([var.origin_secret_arn,var.origin_secret_alt_arn])"),
        "the service's execution role reads both origin secrets"
    );
}

#[test]
fn compute_drain_timing_matches_the_service_and_covers_its_shutdown() {
    use clap::Parser;
    let service =
        service::Config::try_parse_from(["service"]).expect("the service's defaults parse");
    let variables = read("terraform/modules/compute/variables.tf");
    let drain = number_default(&variables, "shutdown_drain_seconds");
    let timeout = number_default(&variables, "shutdown_timeout_seconds");
    assert_eq!(
        drain,
        service.shutdown_drain.as_secs(),
        "compute's drain is the service's SERVICE_SHUTDOWN_DRAIN default"
    );
    assert_eq!(
        timeout,
        service.shutdown_timeout.as_secs(),
        "compute's timeout is the service's SERVICE_SHUTDOWN_TIMEOUT default"
    );
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let main = squash(&read("terraform/modules/compute/main.tf"));
    // The target group keeps a deregistering task for drain + timeout; ECS waits longer still.
    assert!(
        main.contains(
            "deregistration_delay=var.shutdown_drain_seconds+var.shutdown_timeout_seconds"
        ),
        "deregistration delay = drain + timeout"
    );
    assert!(
        main.contains(
            "stop_timeout=min(120,var.shutdown_drain_seconds+var.shutdown_timeout_seconds+5)"
        ),
        "stopTimeout exceeds drain + timeout"
    );
    assert!(
        main.contains("deregistration_delay=local.deregistration_delay")
            && main.contains("stopTimeout=local.stop_timeout")
    );
    assert!(
        main.contains("{name=\"SERVICE_SHUTDOWN_DRAIN\",value=\"${var.shutdown_drain_seconds}s\"}"),
        "the task gets the same drain"
    );
    assert!(
        main.contains("path=\"/healthz/ready\""),
        "the target group checks readiness, which turns 503 during the drain"
    );
    assert!(
        main.contains("\"CMD\",\"/usr/local/bin/service\",\"healthcheck\""),
        "the container health check is `service healthcheck`"
    );
    assert!(main.contains("deployment_circuit_breaker{enable=truerollback=true}"));
}

#[test]
fn ecs_deployment_settings_are_the_ones_the_rolling_deploy_test_proved() {
    use crate::rolling_deploy::{DEPLOYED as D, EcsSettings, SCALE};
    use clap::Parser;
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let main = squash(&read("terraform/modules/compute/main.tf"));
    let variables = read("terraform/modules/compute/variables.tf");
    // The module's locals block, and a number assigned in it (`health_check_grace_period = 30`;
    // `target_health_check.interval` for one of the target group's check).
    let locals = main
        .split("locals{")
        .nth(1)
        .and_then(|l| l.split("data\"aws_region\"").next())
        .expect("the compute module's locals come before its data sources");
    let number_in = |text: &str, name: &str| -> u64 {
        let at = text
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no `{name} = <number>` in the compute module's locals"));
        let digits: String = text[at + name.len() + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("`{name}` is not a number literal"))
    };
    let local = |name: &str| match name.strip_prefix("target_health_check.") {
        Some(field) => {
            let block = locals
                .split("target_health_check={")
                .nth(1)
                .and_then(|b| b.split('}').next())
                .expect("target_health_check = { ... } in the locals");
            number_in(block, field)
        }
        None => number_in(locals, name),
    };
    let drain = number_default(&variables, "shutdown_drain_seconds");
    let timeout = number_default(&variables, "shutdown_timeout_seconds");
    let terraform = EcsSettings {
        desired_count: number_default(&variables, "desired_count"),
        // The expressions of these two are held by the drain-timing test above.
        deregistration_delay: drain + timeout,
        stop_timeout: (drain + timeout + 5).min(120),
        health_check_grace_period: local("health_check_grace_period"),
        health_check_interval: local("target_health_check.interval"),
        health_check_timeout: local("target_health_check.timeout"),
        healthy_threshold: local("target_health_check.healthy_threshold"),
        unhealthy_threshold: local("target_health_check.unhealthy_threshold"),
        minimum_healthy_percent: local("deployment_minimum_healthy_percent"),
        maximum_percent: local("deployment_maximum_percent"),
        service_drain: drain,
        service_shutdown_timeout: timeout,
    };
    assert_eq!(
        terraform, D,
        "the compute module deploys what the rolling-deploy test ran with (scaled 1:{SCALE})"
    );
    assert_eq!(number_default(&variables, "min_count"), D.desired_count);
    // Every setting reaches the resource it is for.
    for wired in [
        "deregistration_delay=local.deregistration_delay",
        "stopTimeout=local.stop_timeout",
        "health_check_grace_period_seconds=local.health_check_grace_period",
        "interval=local.target_health_check.interval",
        "timeout=local.target_health_check.timeout",
        "healthy_threshold=local.target_health_check.healthy_threshold",
        "unhealthy_threshold=local.target_health_check.unhealthy_threshold",
        "deployment_minimum_healthy_percent=local.deployment_minimum_healthy_percent",
        "deployment_maximum_percent=local.deployment_maximum_percent",
    ] {
        assert!(main.contains(wired), "the compute module sets {wired}");
    }
    let service =
        service::Config::try_parse_from(["service"]).expect("the service's defaults parse");
    assert_eq!(service.shutdown_drain.as_secs(), D.service_drain);
    assert_eq!(
        service.shutdown_timeout.as_secs(),
        D.service_shutdown_timeout
    );

    // Why the deploy fails no request with these values (the test proves it with them):
    let t = terraform;
    assert!(
        t.service_drain + t.service_shutdown_timeout < t.stop_timeout,
        "SIGTERM to exit (drain + shutdown timeout) ends before ECS's SIGKILL"
    );
    assert!(
        t.deregistration_delay >= t.service_drain + t.service_shutdown_timeout,
        "a deregistered task keeps its requests in flight at least as long as it would give them"
    );
    assert!(
        t.healthy_threshold * t.health_check_interval < t.health_check_grace_period,
        "a new task that is ready at once passes its checks within the grace period"
    );
    assert!(
        t.minimum_healthy_percent >= 100
            && t.maximum_percent >= t.minimum_healthy_percent + 100 / t.desired_count,
        "the new task starts before the old one stops: never fewer than desired_count serve"
    );
    assert!(
        t.desired_count >= 2,
        "one task may die while another serves"
    );
}

#[test]
fn ecs_deployments_roll_back_on_the_slo_page_burns() {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    // What the deployment must watch: per page-level burn of the SLO file, its long window (the
    // member with the longest period, which carries the low-traffic guard), named as the
    // observability module names alarms.
    let (_, slo) = parsed(SLO_ALARMS, &read(SLO_ALARMS));
    let period = |name: &str| {
        slo.alarms
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.period)
            .unwrap_or_else(|| panic!("`{name}` is no metric alarm of {SLO_ALARMS}"))
    };
    let expected: Vec<String> = slo
        .composites
        .iter()
        .filter(|c| c.severity == checks::alarms::Severity::Page)
        .map(|c| {
            let long = c
                .all_of
                .iter()
                .max_by_key(|m| period(m))
                .unwrap_or_else(|| panic!("`{}` has no all_of", c.name));
            format!("sum-api-dev-{long}")
        })
        .collect();
    assert!(
        expected.len() >= 2,
        "the synthetic SLO pages on two burns: {expected:?}"
    );
    // What Terraform computes from the same file (the module has no provider: it runs offline).
    let dir = temp_dir("deployment-alarms");
    let module = root().join("terraform/modules/slo-deployment-alarms");
    fs::write(
        dir.join("main.tf"),
        format!(
            "module \"d\" {{\n  source          = \"{}\"\n  slo_alarms_file = \"{}\"\n  name_prefix     = \"sum-api-dev\"\n}}\n\noutput \"names\" {{\n  value = module.d.alarm_names\n}}\n",
            module.display(),
            root().join(SLO_ALARMS).display()
        ),
    )
    .expect("write main.tf");
    for args in [
        &["init", "-input=false", "-no-color"][..],
        &["apply", "-auto-approve", "-input=false", "-no-color"][..],
    ] {
        let out = run(terraform().args(args).current_dir(&dir));
        assert!(out.status.success(), "terraform {args:?}:\n{}", text(&out));
    }
    let out = run(terraform()
        .args(["output", "-json", "names"])
        .current_dir(&dir));
    let names: Vec<String> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("terraform output: {e}: {}", text(&out)));
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(
        names, expected,
        "the deployment alarms are the SLO page burns' long windows"
    );
    for name in &expected {
        let alarm = name.trim_start_matches("sum-api-dev-");
        let alarm = slo
            .alarms
            .iter()
            .find(|a| a.name == alarm)
            .expect("found above");
        let math = alarm
            .metrics
            .iter()
            .flatten()
            .find(|q| q.return_data)
            .and_then(|q| q.expression.clone())
            .unwrap_or_default();
        assert!(
            math.starts_with("IF(") && math.contains(">= 5"),
            "`{}` carries the low-traffic guard, or one failed probe would roll a deployment back: {math}",
            alarm.name
        );
    }
    // The names are the observability module's: both roots use the same prefix, the module
    // prefixes every alarm with it, and the compute stack passes the module's names to the
    // service, whose deployment fails and rolls back when one of them is in ALARM.
    let compute_root = squash(&read("terraform/environments/dev/compute/main.tf"));
    let observability_root = squash(&read("terraform/environments/dev/observability/main.tf"));
    for (stack, text) in [
        ("compute", &compute_root),
        ("observability", &observability_root),
    ] {
        assert!(
            text.contains("name_prefix=\"sum-api-${var.environment}\""),
            "the {stack} root's name_prefix"
        );
    }
    assert!(
        squash(&read("terraform/modules/observability/main.tf"))
            .contains("alarm_name=\"${var.name_prefix}-${each.key}\""),
        "the observability module names alarms <prefix>-<name>"
    );
    assert!(compute_root.contains(
        "source=\"../../../modules/slo-deployment-alarms\"slo_alarms_file=\"${local.repo_root}/alarms/cloudwatch-slo.yaml\"name_prefix=local.name_prefix"
    ));
    assert!(compute_root.contains("deployment_alarm_names=module.deployment_alarms.alarm_names"));
    let compute = squash(&read("terraform/modules/compute/main.tf"));
    assert!(
        compute.contains(
            "dynamic\"alarms\"{for_each=length(var.deployment_alarm_names)>0?[var.deployment_alarm_names]:[]content{alarm_names=alarms.valueenable=truerollback=true}}"
        ),
        "the ECS service watches the deployment alarms and rolls back"
    );
}

#[test]
fn canary_task_role_may_only_put_metrics_into_its_namespace() {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let main = squash(&read("terraform/modules/canary/main.tf"));
    let block = main
        .split("data\"aws_iam_policy_document\"\"task\"{")
        .nth(1)
        .expect("task policy")
        .split("}}}")
        .next()
        .expect("block end");
    assert_eq!(
        block.matches("actions=").count(),
        1,
        "one statement: {block}"
    );
    assert!(
        block.contains("actions=[\"cloudwatch:PutMetricData\"]"),
        "{block}"
    );
    assert!(
        block.contains("variable=\"cloudwatch:namespace\"values=[var.metrics_namespace]"),
        "{block}"
    );
    assert!(block.contains("test=\"StringEquals\""), "{block}");
    assert!(
        main.contains("{name=\"CANARY_NAMESPACE\",value=var.metrics_namespace}"),
        "the canary publishes where it may"
    );
    let schedule = main
        .split("resource\"aws_scheduler_schedule\"\"canary\"{")
        .nth(1)
        .expect("schedule");
    assert!(
        schedule.contains("retry_policy{") && schedule.contains("dead_letter_config{"),
        "retries and a dead-letter queue"
    );
}

/// The number default of `variable "<name>"` in a Terraform file.
fn number_default(hcl: &str, name: &str) -> u64 {
    let block = hcl
        .split(&format!("variable \"{name}\""))
        .nth(1)
        .unwrap_or_else(|| panic!("variable {name}"));
    let block = &block[..block.find("\n}").unwrap_or(block.len())];
    block
        .lines()
        .find_map(|l| {
            l.split_once('=')
                .filter(|(k, _)| k.trim() == "default")
                .and_then(|(_, v)| v.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("variable {name} has no number default"))
}

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
            // Granted to each job that assumes a role, not to the workflow (workflows.rs).
            for (job, body) in doc["jobs"].as_object().expect("jobs") {
                let assumes_role = body["steps"].as_array().into_iter().flatten().any(|s| {
                    s["uses"]
                        .as_str()
                        .is_some_and(|u| u.contains("configure-aws-credentials"))
                });
                if assumes_role {
                    assert_eq!(
                        body["permissions"]["id-token"], "write",
                        "{name}: job {job}: OIDC needs id-token: write"
                    );
                }
            }
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
    for expected in ["ci.yml", "release.yml", "terraform.yml", "fuzz.yml"] {
        assert!(seen.contains(expected), "missing workflow {expected}");
    }
    // Every fuzz target is fuzzed by the nightly workflow (a new one is not forgotten).
    let fuzz = read(".github/workflows/fuzz.yml");
    let targets: Vec<String> = read("fuzz/Cargo.toml")
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .filter(|name| *name != "service-fuzz")
        .map(str::to_owned)
        .collect();
    assert!(targets.len() >= 3, "fuzz targets: {targets:?}");
    for target in targets {
        assert!(
            fuzz.contains(&format!("- target: {target}\n")),
            "fuzz.yml does not fuzz {target}"
        );
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
fn workflows_pass_loadgen_only_flags_it_has() {
    let loadgen = common::built("loadgen");
    let mut checked = 0;
    for entry in fs::read_dir(root().join(".github/workflows"))
        .expect("workflows")
        .filter_map(Result::ok)
    {
        let workflow = fs::read_to_string(entry.path()).expect("workflow");
        // Join shell continuation lines, then take every `loadgen <subcommand> ...` invocation.
        let joined = workflow.replace("\\\n", " ");
        for line in joined.lines() {
            let Some(rest) = line.split("target/release/loadgen ").nth(1) else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let sub = words.next().expect("a subcommand");
            let out = run(Command::new(&loadgen).args([sub, "--help"]));
            assert!(
                out.status.success(),
                "`loadgen {sub}` does not exist:\n{}",
                text(&out)
            );
            let help = String::from_utf8_lossy(&out.stdout).into_owned();
            for flag in words
                .filter(|w| w.starts_with("--"))
                .map(|w| w.split('=').next().unwrap_or(w))
            {
                assert!(
                    help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                    "{}: `loadgen {sub}` has no {flag}",
                    entry.path().display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "only {checked} flags found in the workflows");
}

#[test]
fn no_state_plans_or_real_variable_values_are_committed() {
    let out = run(Command::new("git")
        .args(["ls-files", "terraform"])
        .current_dir(root()));
    assert!(out.status.success(), "git ls-files: {}", text(&out));
    let files = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(files.lines().count() > 30, "terraform/ is tracked");
    for file in files.lines() {
        let name = file.rsplit('/').next().unwrap_or(file);
        assert!(
            !(name.contains(".tfstate")
                || name == "terraform.tfvars"
                || name.ends_with(".auto.tfvars")
                || name.ends_with(".tfplan")
                || file.contains("/.terraform/")),
            "{file} must not be committed (state, plans and real values stay out of the repository)"
        );
    }
    let ignore =
        fs::read_to_string(root().join("terraform/.gitignore")).expect("terraform/.gitignore");
    for pattern in ["*.tfstate", "terraform.tfvars", ".terraform/"] {
        assert!(
            ignore.lines().any(|l| l == pattern),
            "terraform/.gitignore lacks {pattern}"
        );
    }
}

#[test]
fn workflows_that_deploy_supply_every_required_variable_of_every_stack() {
    // tfvars files are never committed, so each `scripts/deploy.sh` step must get every variable
    // without a default through TF_VAR_* (deploy.sh itself exports state_bucket,
    // state_key_prefix and environment).
    let mut required = BTreeSet::new();
    for entry in fs::read_dir(root().join("terraform/environments/dev"))
        .expect("stacks")
        .filter_map(Result::ok)
    {
        let Ok(variables) = fs::read_to_string(entry.path().join("variables.tf")) else {
            continue;
        };
        for block in variables.split("variable \"").skip(1) {
            let name = block.split('"').next().expect("name");
            let body = &block[..block.find("\n}").unwrap_or(block.len())];
            if !body.contains("default") {
                required.insert(name.to_string());
            }
        }
    }
    for exported in ["state_bucket", "state_key_prefix", "environment"] {
        required.remove(exported);
    }
    assert!(required.len() >= 5, "{required:?}");
    let mut steps = 0;
    for entry in fs::read_dir(root().join(".github/workflows"))
        .expect("workflows")
        .filter_map(Result::ok)
    {
        let doc: serde_json::Value =
            serde_norway::from_str(&fs::read_to_string(entry.path()).expect("workflow"))
                .expect("YAML");
        for job in doc["jobs"].as_object().expect("jobs").values() {
            for step in job["steps"].as_array().into_iter().flatten() {
                let runs_deploy = step["run"]
                    .as_str()
                    .is_some_and(|r| r.contains("scripts/deploy.sh"));
                if !runs_deploy {
                    continue;
                }
                steps += 1;
                for name in &required {
                    assert!(
                        step["env"].get(format!("TF_VAR_{name}")).is_some(),
                        "{}: step `{}` runs deploy.sh without TF_VAR_{name}",
                        entry.path().display(),
                        step["name"].as_str().unwrap_or("?")
                    );
                }
            }
        }
    }
    assert_eq!(steps, 3, "staging and prod deploys and the plan");
}

#[test]
fn the_adot_sidecar_the_service_exports_to_and_its_xray_permissions_agree() {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    let main = read("terraform/modules/compute/main.tf");
    let flat = squash(&main);
    // The service's exporter points at the sidecar's OTLP/HTTP receiver, on one port.
    let port = number_local(&main, "otlp_http_port");
    assert_eq!(port, 4318, "OTLP/HTTP's port");
    assert!(
        flat.contains("otlp_endpoint=\"http://localhost:${local.otlp_http_port}\""),
        "the exporter's endpoint is the sidecar on localhost"
    );
    let service = flat
        .split("resource\"aws_ecs_task_definition\"\"service\"{")
        .nth(1)
        .and_then(|b| b.split("resource\"").next())
        .expect("the service's task definition");
    assert!(
        service.contains("{name=\"OTEL_EXPORTER_OTLP_ENDPOINT\",value=local.otlp_endpoint}"),
        "the service container exports to it: {service}"
    );
    assert!(
        service.contains("},local.otel_collector_container])"),
        "the sidecar is in the service's task: {service}"
    );
    assert!(
        flat.contains("otlp={protocols={http={endpoint=\"0.0.0.0:${local.otlp_http_port}\"}}}"),
        "the collector receives OTLP/HTTP on that port"
    );
    assert!(
        flat.contains("containerPort=local.otlp_http_port"),
        "and maps it"
    );
    assert!(
        flat.contains("exporters=[\"awsxray\"]") && flat.contains("awsxray={region="),
        "traces go to X-Ray"
    );
    // A dead collector costs traces, never the service's task.
    let sidecar = flat
        .split("otel_collector_container={")
        .nth(1)
        .expect("the collector's container");
    assert!(sidecar.contains("essential=false"), "{sidecar}");
    // The image is pinned by digest.
    let image = main
        .lines()
        .find_map(|l| l.trim().strip_prefix("otel_collector_image"))
        .expect("the collector image");
    let digest = image
        .split("@sha256:")
        .nth(1)
        .map(|d| d.trim_end_matches('"'))
        .unwrap_or_default();
    assert!(
        image.contains("public.ecr.aws/aws-observability/aws-otel-collector")
            && digest.len() == 64
            && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "pinned by digest: {image}"
    );
    // The task role the collector signs with may write traces and read sampling rules, no more.
    let policy = flat
        .split("data\"aws_iam_policy_document\"\"xray\"{")
        .nth(1)
        .and_then(|b| b.split("}}").next())
        .expect("the X-Ray policy document");
    assert_eq!(
        policy.matches("actions=").count(),
        1,
        "one statement: {policy}"
    );
    let actions: BTreeSet<&str> = policy
        .split("actions=[")
        .nth(1)
        .and_then(|a| a.split(']').next())
        .expect("actions")
        .split(',')
        .map(|a| a.trim_matches('"'))
        .filter(|a| !a.is_empty())
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from([
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:GetSamplingStatisticSummaries",
        ])
    );
    assert!(
        flat.contains(
            "resource\"aws_iam_role_policy\"\"xray\"{name=\"write-xray\"role=module.task_roles.task_role_idpolicy=data.aws_iam_policy_document.xray.json}"
        ),
        "attached to the task role"
    );
    assert!(
        service.contains("task_role_arn=module.task_roles.task_role_arn"),
        "which the service's task runs with"
    );
    // Kong's spans: kong.yaml's endpoint is the ALB (the service's placeholder host, replaced
    // by the gateway stack) on the path the ALB forwards to Kong's collector.
    let kong: serde_json::Value =
        serde_norway::from_str(&read("gateway/kong.yaml")).expect("kong.yaml is YAML");
    let endpoint = kong["plugins"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "opentelemetry")
        .and_then(|p| p["config"]["traces_endpoint"].as_str())
        .expect("kong.yaml's opentelemetry plugin");
    let host = kong["services"][0]["host"]
        .as_str()
        .expect("the service host");
    assert_eq!(endpoint, format!("https://{host}/v1/traces"));
    assert!(
        flat.contains("path_pattern{values=[\"/v1/traces\"]}"),
        "the ALB forwards that path to the collector"
    );
    let gateway = squash(&read("terraform/modules/gateway/main.tf"));
    assert!(
        gateway.contains(
            "traces_endpoint=replace(each.value.config.traces_endpoint,local.service.host,var.upstream_host)"
        ),
        "the gateway stack puts the ALB's name in"
    );
}

/// The number a `name = N` line of a Terraform locals block sets.
fn number_local(hcl: &str, name: &str) -> u64 {
    hcl.lines()
        .find_map(|l| {
            l.split_once('=')
                .filter(|(k, _)| k.trim() == name)
                .and_then(|(_, v)| v.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("local {name}"))
}
