//! The real tools over the repository's data: `terraform fmt`, Terraform's own `templatefile`
//! compared with the checks' renderer, checkov (offline) over `terraform/`, and promtool on the
//! Prometheus rules and their unit tests. A missing tool fails the test and names the script
//! that installs it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use checks::template;

fn root() -> PathBuf {
    checks::repo_root()
}

fn tool(name: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("`{name}` is not installed; run {install}"))
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A fresh directory under the target dir, unique per test process and call.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = root().join("target").join("checks-tmp").join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn terraform() -> Command {
    // No terraform is installed by the scripts: it comes with the machine image (and CI's).
    let mut cmd = Command::new(tool(
        "terraform",
        "the machine image's terraform (>= 1.11); see README",
    ));
    cmd.env("TF_CLI_CONFIG_FILE", "/dev/null")
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1");
    cmd
}

// --- terraform ------------------------------------------------------------------------------------

#[test]
fn terraform_fmt_is_clean() {
    let out = run(terraform()
        .args(["fmt", "-check", "-recursive", "-diff", "terraform/"])
        .current_dir(root()));
    assert!(
        out.status.success(),
        "terraform fmt -check -recursive terraform/ failed; run `terraform fmt -recursive terraform/`:\n{}",
        text(&out)
    );
}

#[test]
fn terraform_fmt_check_catches_misformatting() {
    let dir = temp_dir("fmt");
    fs::write(dir.join("main.tf"), "locals {\n    a=1\n  bb = 2\n}\n").expect("write");
    let out = run(terraform().args(["fmt", "-check", "-recursive"]).arg(&dir));
    assert!(
        !out.status.success(),
        "fmt -check must fail on misformatted HCL"
    );
}

/// Renders `file` with Terraform's real `templatefile` and `decode` (yamldecode or jsondecode),
/// returning the decoded value as JSON.
fn terraform_render(file: &Path, decode: &str) -> Result<serde_json::Value, String> {
    let dir = temp_dir("templatefile");
    let main = format!(
        "variable \"vars\" {{\n  type = map(string)\n}}\n\noutput \"rendered\" {{\n  value = {decode}(templatefile(\"{}\", var.vars))\n}}\n",
        file.display()
    );
    fs::write(dir.join("main.tf"), main).expect("write main.tf");
    let vars = serde_json::json!({ "vars": checks::sample_variables() });
    fs::write(dir.join("vars.auto.tfvars.json"), vars.to_string()).expect("write vars");
    for args in [
        &["init", "-input=false", "-no-color"][..],
        &["apply", "-auto-approve", "-input=false", "-no-color"][..],
    ] {
        let out = run(terraform().args(args).current_dir(&dir));
        if !out.status.success() {
            return Err(text(&out));
        }
    }
    let out = run(terraform()
        .args(["output", "-json", "rendered"])
        .current_dir(&dir));
    let value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("terraform output is not JSON: {e}: {}", text(&out)));
    let _ = fs::remove_dir_all(&dir);
    value
}

fn checks_render(file: &Path, yaml: bool) -> serde_json::Value {
    let raw = fs::read_to_string(file).expect("template readable");
    let rendered =
        template::render(&raw, &checks::sample_variables()).expect("the checks render it");
    if yaml {
        serde_norway::from_str(&rendered).expect("rendered YAML")
    } else {
        serde_json::from_str(&rendered).expect("rendered JSON")
    }
}

#[test]
fn terraform_templatefile_renders_alarms_and_dashboards_exactly_like_the_checks() {
    let mut files = vec![(root().join("alarms/cloudwatch.yaml"), true)];
    let dir = root().join("dashboards/cloudwatch");
    for entry in fs::read_dir(&dir)
        .expect("dashboards dir")
        .filter_map(Result::ok)
    {
        if entry.path().extension().is_some_and(|e| e == "json") {
            files.push((entry.path(), false));
        }
    }
    assert!(files.len() >= 3);
    for (file, yaml) in files {
        let by_terraform = terraform_render(&file, if yaml { "yamldecode" } else { "jsondecode" })
            .unwrap_or_else(|e| panic!("terraform cannot render {}:\n{e}", file.display()));
        assert_eq!(
            by_terraform,
            checks_render(&file, yaml),
            "{} renders differently in terraform",
            file.display()
        );
    }
}

#[test]
fn terraform_templatefile_rejects_what_the_checks_reject() {
    let dir = temp_dir("bad-template");
    let bad = dir.join("bad.json");
    fs::write(&bad, r#"{"lb": "${alb_name}"}"#).expect("write");
    let err = terraform_render(&bad, "jsondecode").expect_err("unknown variable");
    assert!(err.contains("alb_name"), "{err}");
    assert!(template::render(r#"{"lb": "${alb_name}"}"#, &checks::sample_variables()).is_err());
}

// --- checkov --------------------------------------------------------------------------------------

fn checkov() -> PathBuf {
    if let Some(path) = std::env::var_os("CHECKOV").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let script = root().join("scripts/deps/checkov.sh");
    let out = run(&mut Command::new(&script));
    assert!(
        out.status.success(),
        "scripts/deps/checkov.sh failed (it installs checkov from PyPI):\n{}",
        text(&out)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn run_checkov(dir: &Path) -> Output {
    run(Command::new(checkov())
        .args([
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--quiet",
            "-o",
            "cli",
            "-d",
        ])
        .arg(dir)
        // Offline: no policy download, no guideline mapping, no platform key.
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .env_remove("BC_API_KEY")
        .env("LOG_LEVEL", "WARNING"))
}

#[test]
fn checkov_passes_on_terraform() {
    let out = run_checkov(&root().join("terraform"));
    let report = text(&out);
    assert!(
        out.status.success(),
        "checkov found problems in terraform/:\n{report}"
    );
    assert!(
        report.contains("Passed checks:"),
        "checkov scanned nothing:\n{report}"
    );
}

#[test]
fn checkov_fails_an_unencrypted_public_bucket() {
    let dir = temp_dir("checkov");
    fs::write(
        dir.join("main.tf"),
        "resource \"aws_s3_bucket\" \"b\" {\n  bucket = \"x\"\n}\n",
    )
    .expect("write");
    let out = run_checkov(&dir);
    assert!(
        !out.status.success(),
        "checkov must fail a bare bucket:\n{}",
        text(&out)
    );
}

#[test]
fn every_skipped_checkov_check_is_justified_inline() {
    let mut problems = Vec::new();
    let mut skips = 0;
    let mut stack = vec![root().join("terraform")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)
            .expect("terraform dir")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "tf") {
                continue;
            }
            let content = fs::read_to_string(&path).expect("tf readable");
            for (n, line) in content.lines().enumerate() {
                let Some(skip) = line.split("checkov:skip=").nth(1) else {
                    continue;
                };
                skips += 1;
                let (id, reason) = skip.split_once(':').unwrap_or((skip, ""));
                if !id.starts_with("CKV") || reason.trim().len() < 30 {
                    problems.push(format!(
                        "{}:{}: `{}` needs a check id and a real justification",
                        path.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(skips > 0);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// --- promtool -------------------------------------------------------------------------------------

fn promtool() -> Command {
    Command::new(tool(
        "promtool",
        "scripts/deps/apt.sh (Debian package prometheus)",
    ))
}

#[test]
fn promtool_check_rules_passes() {
    let out = run(promtool()
        .args(["check", "rules", "alarms/prometheus/sum-api.rules.yml"])
        .current_dir(root()));
    assert!(
        out.status.success(),
        "promtool check rules:\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains("SUCCESS: 4 rules found"),
        "{}",
        text(&out)
    );
}

#[test]
fn promtool_rule_tests_pass() {
    let out = run(promtool()
        .args(["test", "rules", "sum-api.rules.test.yml"])
        .current_dir(root().join("alarms/prometheus")));
    assert!(out.status.success(), "promtool test rules:\n{}", text(&out));
}

#[test]
fn promtool_rule_tests_fail_when_a_rule_stops_firing() {
    // The unit tests are not vacuous: loosen each threshold and they fail.
    let source = root().join("alarms/prometheus");
    let rules = fs::read_to_string(source.join("sum-api.rules.yml")).expect("rules");
    for (from, to) in [
        ("> 0.02", "> 0.5"),
        (") > 0.5", ") > 5"),
        (
            "for: 5m\n        labels:\n          severity: page\n        annotations:\n          summary: \"No",
            "for: 30m\n        labels:\n          severity: page\n        annotations:\n          summary: \"No",
        ),
    ] {
        assert!(rules.contains(from), "fixture `{from}`");
        let dir = temp_dir("promtool");
        fs::write(dir.join("sum-api.rules.yml"), rules.replacen(from, to, 1)).expect("write rules");
        fs::copy(
            source.join("sum-api.rules.test.yml"),
            dir.join("sum-api.rules.test.yml"),
        )
        .expect("copy tests");
        let out = run(promtool()
            .args(["test", "rules", "sum-api.rules.test.yml"])
            .current_dir(&dir));
        assert!(
            !out.status.success(),
            "changing `{from}` to `{to}` should fail the rule tests:\n{}",
            text(&out)
        );
    }
}

#[test]
fn promtool_rejects_a_broken_rule() {
    let dir = temp_dir("promtool-bad");
    fs::write(dir.join("bad.yml"), "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(sumapi_http_requests_total[5m]\n").expect("write");
    let out = run(promtool()
        .args(["check", "rules", "bad.yml"])
        .current_dir(&dir));
    assert!(!out.status.success());
}

// --- scripts --------------------------------------------------------------------------------------

#[test]
fn deploy_order_applies_every_stack_after_the_states_it_reads() {
    let out = run(Command::new(root().join("scripts/deploy.sh")).arg("--print-order"));
    assert!(out.status.success(), "{}", text(&out));
    let order: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let envs = root().join("terraform/environments/dev");
    let mut stacks = 0;
    for entry in fs::read_dir(&envs)
        .expect("environments/dev")
        .filter_map(Result::ok)
    {
        let stack = entry.file_name().to_string_lossy().into_owned();
        let position = order
            .iter()
            .position(|s| *s == stack)
            .unwrap_or_else(|| panic!("deploy.sh does not deploy the {stack} stack"));
        stacks += 1;
        let mut sources = String::new();
        for tf in fs::read_dir(entry.path())
            .expect("stack dir")
            .filter_map(Result::ok)
        {
            if tf.path().extension().is_some_and(|e| e == "tf") {
                sources.push_str(&fs::read_to_string(tf.path()).expect("tf"));
            }
        }
        for dep in sources
            .split("data \"terraform_remote_state\" \"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
        {
            let dep_position = order
                .iter()
                .position(|s| s == dep)
                .unwrap_or_else(|| panic!("{stack} reads unknown stack {dep}"));
            assert!(
                dep_position < position,
                "{stack} reads {dep}'s state but is deployed before it: {order:?}"
            );
        }
        assert!(
            entry.path().join("terraform.tfvars.example").is_file(),
            "{stack} has no terraform.tfvars.example"
        );
        let versions = fs::read_to_string(entry.path().join("versions.tf")).expect("versions.tf");
        assert!(
            versions.contains("backend \"s3\"") && versions.contains("use_lockfile = true"),
            "{stack}: S3 backend with native locking"
        );
    }
    assert!(
        stacks >= 6,
        "networking, secrets, compute, canary, loadgen, observability"
    );
}

#[test]
fn scripts_reject_bad_usage_with_exit_64() {
    for (script, args) in [
        ("scripts/deploy.sh", vec!["no-such-stack"]),
        ("scripts/deploy.sh", vec!["--env", "Bad Env"]),
        ("scripts/deploy.sh", vec!["--bogus"]),
        (
            "scripts/distributed-loadtest.sh",
            vec!["-n", "0", "--", "http://127.0.0.1:1/"],
        ),
        ("scripts/distributed-loadtest.sh", vec!["-n", "2"]),
        (
            "scripts/distributed-loadtest.sh",
            vec!["-n", "2", "--start-delay", "0", "--", "http://127.0.0.1:1/"],
        ),
        (
            "scripts/distributed-loadtest.sh",
            vec![
                "-n",
                "2",
                "--",
                "http://127.0.0.1:1/",
                "--start-at",
                "2026-01-01T00:00:00Z",
            ],
        ),
        (
            "scripts/distributed-loadtest.sh",
            vec!["-n", "999999999999999999999", "--", "x"],
        ),
    ] {
        let out = run(Command::new(root().join(script))
            .args(&args)
            .env_remove("TF_STATE_BUCKET"));
        assert_eq!(
            out.status.code(),
            Some(64),
            "{script} {args:?} should be a usage error:\n{}",
            text(&out)
        );
        assert!(!text(&out).is_empty(), "{script} {args:?} says nothing");
    }
}

// --- distributed load test, end to end with AWS shimmed -------------------------------------------

/// `aws` as the script uses it: `ecs run-task` runs the real loadgen the way the image's
/// entrypoint does (interval log and report into the "bucket", exit code recorded when the
/// "task" stops), `ecs describe-tasks` reports them, `s3 cp --recursive` copies from the bucket.
const FAKE_AWS: &str = r#"#!/usr/bin/env python3
import json, os, shlex, shutil, subprocess, sys
state = os.environ["FAKE_AWS_DIR"]
args = sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as f:
    f.write(json.dumps(args) + "\n")
def opt(name):
    return args[args.index(name) + 1]
def task_ids():
    i = args.index("--tasks") + 1
    out = []
    while i < len(args) and not args[i].startswith("--"):
        out.append(args[i]); i += 1
    return out
def exit_code(arn):
    p = os.path.join(state, arn.rsplit("/", 1)[1] + ".exit")
    return open(p).read().strip() if os.path.exists(p) else None
if args[:2] == ["ecs", "run-task"]:
    c = json.loads(opt("--overrides"))["containerOverrides"][0]
    env = dict(os.environ, **{e["name"]: e["value"] for e in c["environment"]})
    gen, run = env["LOADGEN_GENERATOR_ID"], env["LOADGEN_RUN_ID"]
    task = "task-" + gen
    dest = os.path.join(state, "s3", "results-bucket", "runs", run)
    os.makedirs(dest, exist_ok=True)
    cmd = [os.environ["LOADGEN"], *c["command"], "--quiet", "--hlog", f"{dest}/{gen}.hlog", "--json", f"{dest}/{gen}.json"]
    log, done = os.path.join(state, task + ".log"), os.path.join(state, task + ".exit")
    subprocess.Popen(["sh", "-c", f"{shlex.join(cmd)} >{log} 2>&1; echo $? >{done}.tmp; mv {done}.tmp {done}"], env=env,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    print("arn:aws:ecs:eu-west-1:123456789012:task/test-cluster/" + task)
elif args[:2] == ["ecs", "describe-tasks"]:
    q = opt("--query")
    if q.startswith("length("):
        print(sum(1 for t in task_ids() if exit_code(t) is None))
    else:
        for t in task_ids():
            print(f"{t}\t{exit_code(t)}\tEssential container in task exited")
elif args[:2] == ["ecs", "stop-task"]:
    pass
elif args[:2] == ["s3", "cp"]:
    src, dst = [a for a in args[2:] if not a.startswith("--")][:2]
    shutil.copytree(os.path.join(state, "s3", src[len("s3://"):]), dst, dirs_exist_ok=True)
else:
    sys.exit("unexpected aws call: " + " ".join(args))
"#;

/// `terraform output` of the loadgen and networking stacks.
const FAKE_TERRAFORM: &str = r#"#!/usr/bin/env bash
case ${@: -1} in
  cluster_name) printf test-cluster ;;
  task_definition_arn) printf arn:aws:ecs:eu-west-1:123456789012:task-definition/sum-api-dev-loadgen:7 ;;
  results_bucket) printf results-bucket ;;
  private_subnet_ids) printf '["subnet-a","subnet-b"]' ;;
  probe_security_group_id) printf sg-probe ;;
  *) echo "unexpected terraform call: $*" >&2; exit 1 ;;
esac
"#;

fn loadgen_binary() -> PathBuf {
    // target/debug/deps/tools-* -> target/debug/loadgen (built by the workspace test run).
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("loadgen"))
        .expect("target dir");
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p loadgen` (the workspace test run does)",
        path.display()
    );
    path
}

struct FakeAws {
    dir: PathBuf,
    bin: PathBuf,
}

impl FakeAws {
    fn new() -> FakeAws {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("fake-aws");
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).expect("bin dir");
        for (name, text) in [("aws", FAKE_AWS), ("terraform", FAKE_TERRAFORM)] {
            let p = bin.join(name);
            fs::write(&p, text).expect("write shim");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod shim");
        }
        FakeAws { dir, bin }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let loadgen = loadgen_binary();
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = tokio::process::Command::new(root().join("scripts/distributed-loadtest.sh"));
        cmd.args(args)
            .env("PATH", path)
            .env("FAKE_AWS_DIR", &self.dir)
            .env("LOADGEN", &loadgen)
            .env("LOADTEST_POLL_SECONDS", "1")
            .kill_on_drop(true);
        cmd
    }

    fn calls(&self) -> Vec<Vec<String>> {
        fs::read_to_string(self.dir.join("calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("call log line"))
            .collect()
    }
}

async fn run_script(cmd: &mut tokio::process::Command) -> Output {
    tokio::time::timeout(std::time::Duration::from_secs(90), cmd.output())
        .await
        .expect("the script finishes within 90 s")
        .expect("the script runs")
}

async fn target() -> service::RunningService {
    use clap::Parser;
    let config = service::Config::try_parse_from([
        "service",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--shutdown-drain",
        "0s",
        "--shutdown-timeout",
        "1s",
    ])
    .expect("service flags");
    service::start(config).await.expect("the service starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_loadtest_starts_generators_together_and_merges_their_logs_exactly() {
    let service = target().await;
    let aws = FakeAws::new();
    let out_dir = aws.dir.join("out");
    let url = format!("http://{}/healthz", service.addr());
    let out = run_script(&mut aws.command(&[
        "-n",
        "2",
        "--start-delay",
        "10",
        "--timeout",
        "60",
        "--out",
        &out_dir.display().to_string(),
        "--slo",
        "error_rate<1%",
        "--",
        &url,
        "--rate",
        "40",
        "--duration",
        "2s",
        "--max-lag",
        "500ms",
    ]))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "the merged run passes:\n{}",
        text(&out)
    );

    // Both generators were started with one shared --start-at, their own ids, in the stack's network.
    let run_tasks: Vec<Vec<String>> = aws
        .calls()
        .into_iter()
        .filter(|c| c[..2] == ["ecs", "run-task"])
        .collect();
    assert_eq!(run_tasks.len(), 2);
    let mut start_ats = BTreeSet::new();
    let mut generators = BTreeSet::new();
    for call in &run_tasks {
        let arg = |name: &str| call[call.iter().position(|a| a == name).expect("flag") + 1].clone();
        assert_eq!(arg("--cluster"), "test-cluster");
        assert!(arg("--task-definition").ends_with("sum-api-dev-loadgen:7"));
        let network: serde_json::Value =
            serde_json::from_str(&arg("--network-configuration")).expect("network JSON");
        assert_eq!(
            network["awsvpcConfiguration"]["subnets"],
            serde_json::json!(["subnet-a", "subnet-b"])
        );
        assert_eq!(network["awsvpcConfiguration"]["assignPublicIp"], "DISABLED");
        let overrides: serde_json::Value =
            serde_json::from_str(&arg("--overrides")).expect("overrides JSON");
        let command: Vec<String> =
            serde_json::from_value(overrides["containerOverrides"][0]["command"].clone())
                .expect("command");
        assert_eq!(command[..2], ["run".to_string(), url.clone()]);
        start_ats.insert(
            command[command
                .iter()
                .position(|a| a == "--start-at")
                .expect("--start-at")
                + 1]
            .clone(),
        );
        for e in overrides["containerOverrides"][0]["environment"]
            .as_array()
            .expect("env")
        {
            if e["name"] == "LOADGEN_GENERATOR_ID" {
                generators.insert(e["value"].as_str().expect("id").to_string());
            }
        }
    }
    assert_eq!(
        start_ats.len(),
        1,
        "every generator shares one --start-at: {start_ats:?}"
    );
    assert_eq!(
        generators,
        BTreeSet::from(["gen-1".to_string(), "gen-2".to_string()])
    );

    // The merged report holds exactly the requests of both generators.
    let report = |p: PathBuf| -> serde_json::Value {
        serde_json::from_str(
            &fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .expect("report JSON")
    };
    let merged = report(out_dir.join("merged.json"));
    let per_generator: Vec<serde_json::Value> = ["gen-1", "gen-2"]
        .iter()
        .map(|g| report(out_dir.join(format!("{g}.json"))))
        .collect();
    let totals: Vec<u64> = per_generator
        .iter()
        .map(|r| r["requests"]["total"].as_u64().expect("total"))
        .collect();
    assert!(
        totals.iter().all(|t| *t >= 40),
        "each generator ran its share: {totals:?}"
    );
    assert_eq!(
        merged["requests"]["total"].as_u64(),
        Some(totals.iter().sum()),
        "merge is exact"
    );
    let merged_generators: BTreeSet<String> =
        serde_json::from_value(merged["generators"].clone()).expect("generators");
    assert_eq!(merged_generators, generators);
    assert!(out_dir.join("merged.html").is_file());
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_loadtest_fails_when_a_generator_fails() {
    let aws = FakeAws::new();
    // An argument loadgen rejects: every task exits 64, and the script reports them, exit 1.
    let out = run_script(&mut aws.command(&[
        "-n",
        "2",
        "--start-delay",
        "1",
        "--",
        "http://127.0.0.1:9/",
        "--rate",
        "abc",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("exit code 64"),
        "the failed task and its exit code are named:\n{}",
        text(&out)
    );
}

#[test]
fn deploy_initialises_each_stack_with_its_own_state_and_applies_in_order() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("fake-terraform");
    let log = dir.join("calls.log");
    let shim = dir.join("terraform");
    fs::write(
        &shim,
        format!("#!/usr/bin/env bash\necho \"$* | state_bucket=$TF_VAR_state_bucket prefix=$TF_VAR_state_key_prefix\" >> '{}'\n", log.display()),
    )
    .expect("write shim");
    fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let deploy = |args: &[&str]| {
        let _ = fs::remove_file(&log);
        let out = run(Command::new(root().join("scripts/deploy.sh"))
            .args(args)
            .env("PATH", &path)
            .env("TF_STATE_BUCKET", "state-bucket")
            .env("TF_STATE_REGION", "eu-west-1"));
        assert!(out.status.success(), "deploy.sh {args:?}:\n{}", text(&out));
        fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };

    let calls = deploy(&[]);
    let stacks: Vec<String> = calls
        .iter()
        .filter(|c| c.contains(" apply "))
        .map(|c| {
            c.split("environments/dev/")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .expect("-chdir")
                .to_string()
        })
        .collect();
    let order_out = run(Command::new(root().join("scripts/deploy.sh")).arg("--print-order"));
    let existing: Vec<String> = String::from_utf8_lossy(&order_out.stdout)
        .lines()
        .filter(|s| root().join("terraform/environments/dev").join(s).is_dir())
        .map(str::to_string)
        .collect();
    assert_eq!(
        stacks, existing,
        "every existing stack applied, in dependency order"
    );
    for stack in &stacks {
        let init = calls
            .iter()
            .position(|c| c.contains(&format!("dev/{stack} init")))
            .expect("init");
        let apply = calls
            .iter()
            .position(|c| c.contains(&format!("dev/{stack} apply")))
            .expect("apply");
        assert!(init < apply, "{stack}: init before apply");
        let init_call = &calls[init];
        for expected in [
            "-backend-config=bucket=state-bucket".to_string(),
            format!("-backend-config=key=sum-api/dev/{stack}.tfstate"),
            "-backend-config=region=eu-west-1".to_string(),
            "state_bucket=state-bucket prefix=sum-api/dev".to_string(),
        ] {
            assert!(
                init_call.contains(&expected),
                "{stack} init lacks {expected}: {init_call}"
            );
        }
        assert!(calls[apply].contains("-auto-approve"));
    }

    let calls = deploy(&["--plan", "observability", "networking"]);
    let planned: Vec<&String> = calls.iter().filter(|c| c.contains(" plan ")).collect();
    assert_eq!(planned.len(), 2, "{calls:?}");
    assert!(
        planned[0].contains("dev/networking") && planned[1].contains("dev/observability"),
        "dependency order, not argument order"
    );
    assert!(
        !calls.iter().any(|c| c.contains(" apply ")),
        "--plan never applies"
    );
}

#[test]
fn tfvars_examples_are_formatted_and_set_only_declared_variables() {
    let envs = root().join("terraform/environments/dev");
    let mut checked = 0;
    for entry in fs::read_dir(&envs)
        .expect("environments/dev")
        .filter_map(Result::ok)
    {
        let example = entry.path().join("terraform.tfvars.example");
        let Ok(example_text) = fs::read_to_string(&example) else {
            continue;
        };
        checked += 1;
        let mut fmt = terraform();
        fmt.args(["fmt", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = fmt.spawn().expect("terraform fmt -");
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(example_text.as_bytes())
                .expect("write");
        }
        let out = child.wait_with_output().expect("terraform fmt output");
        assert!(
            out.status.success(),
            "{}: {}",
            example.display(),
            text(&out)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            example_text,
            "{} is not `terraform fmt`-formatted",
            example.display()
        );
        let mut declared = String::new();
        for tf in fs::read_dir(entry.path())
            .expect("stack")
            .filter_map(Result::ok)
        {
            if tf.path().extension().is_some_and(|e| e == "tf") {
                declared.push_str(&fs::read_to_string(tf.path()).expect("tf"));
            }
        }
        for line in example_text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains('='))
        {
            let name = line.split('=').next().unwrap_or_default().trim();
            assert!(
                declared.contains(&format!("variable \"{name}\"")),
                "{}: `{name}` is not a variable of the stack",
                example.display()
            );
        }
    }
    assert!(checked >= 6);
}
