//! The operational scripts, driven for real with `aws` and `terraform` replaced by recording
//! shims on PATH: `deploy.sh` (stacks in dependency order, one state key each) and
//! `distributed-loadtest.sh` (N generators started together, their interval logs merged with
//! the real `loadgen merge`), plus their usage errors; and `demo.sh` with stand-in binaries
//! (a taken port refused, an unexpected answer stops it loudly, no colour codes in a pipe).

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

use common::{root, run, temp_dir, text};

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
        let loadgen = common::built("loadgen");
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
    let config = service::Config::loopback(&[]).expect("service flags");
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

// --- the loadgen image's entrypoint ---------------------------------------------------------------

/// The entrypoint script embedded in `loadgen/Dockerfile` (a `COPY <<'SCRIPT'` heredoc).
fn loadgen_entrypoint() -> String {
    let dockerfile =
        fs::read_to_string(root().join("loadgen/Dockerfile")).expect("loadgen/Dockerfile");
    let body = dockerfile
        .split("COPY <<'SCRIPT' /usr/local/bin/loadgen-task\n")
        .nth(1)
        .expect("the entrypoint heredoc");
    body.split("\nSCRIPT\n")
        .next()
        .expect("heredoc end")
        .to_string()
        + "\n"
}

#[test]
fn loadgen_image_entrypoint_runs_loadgen_and_uploads_its_results() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("entrypoint");
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("bin");
    let script = dir.join("loadgen-task");
    fs::write(&script, loadgen_entrypoint()).expect("write entrypoint");
    for (name, text) in [
        (
            "loadgen",
            "#!/bin/sh\necho \"$*\" >> \"$FAKE_DIR/loadgen.args\"\nwhile [ $# -gt 0 ]; do case $1 in --hlog|--json) echo data > \"$2\"; shift;; esac; shift; done\nexit ${FAKE_LOADGEN_EXIT:-0}\n",
        ),
        (
            "aws",
            "#!/bin/sh\necho \"$*\" >> \"$FAKE_DIR/aws.args\"\n[ -z \"${FAKE_AWS_FAIL:-}\" ]\n",
        ),
    ] {
        fs::write(bin.join(name), text).expect("write fake");
    }
    for p in [bin.join("loadgen"), bin.join("aws"), script.clone()] {
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let results = dir.join("results");
    fs::create_dir_all(&results).expect("results dir");
    let invoke = |args: &[&str], env: &[(&str, &str)]| {
        let _ = fs::remove_file(dir.join("loadgen.args"));
        let _ = fs::remove_file(dir.join("aws.args"));
        let mut cmd = Command::new(&script);
        cmd.args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("FAKE_DIR", &dir)
            .env("LOADGEN_RESULTS_DIR", &results)
            .env_remove("LOADGEN_RESULTS_BUCKET")
            .env_remove("LOADGEN_RUN_ID")
            .env_remove("LOADGEN_GENERATOR_ID");
        cmd.envs(env.iter().copied());
        let out = run(&mut cmd);
        let read = |f: &str| fs::read_to_string(dir.join(f)).unwrap_or_default();
        (out, read("loadgen.args"), read("aws.args"))
    };
    let distributed = [
        ("LOADGEN_RESULTS_BUCKET", "results-bucket"),
        ("LOADGEN_RUN_ID", "run-7"),
        ("LOADGEN_GENERATOR_ID", "gen-3"),
    ];

    // Outside a distributed run it is plain loadgen: same arguments, no upload.
    let (out, loadgen_args, aws_args) = invoke(
        &[
            "ratelimit",
            "https://api.example.com",
            "--limit",
            "10/minute",
        ],
        &distributed,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        loadgen_args.trim(),
        "ratelimit https://api.example.com --limit 10/minute"
    );
    assert!(aws_args.is_empty());

    // In a distributed run: results written locally, both uploaded, loadgen's exit code kept.
    let (out, loadgen_args, aws_args) = invoke(
        &["run", "https://api.example.com/x", "--rate", "5"],
        &[&distributed[..], &[("FAKE_LOADGEN_EXIT", "2")]].concat(),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a breached gate stays visible: {}",
        text(&out)
    );
    let hlog = results.join("gen-3.hlog");
    assert!(
        loadgen_args.contains(&format!("--hlog {}", hlog.display())),
        "{loadgen_args}"
    );
    let uploads: Vec<&str> = aws_args.lines().collect();
    assert_eq!(uploads.len(), 2, "{aws_args}");
    for (upload, file) in uploads.iter().zip(["gen-3.hlog", "gen-3.json"]) {
        assert!(
            upload.starts_with("s3 cp")
                && upload.contains(file)
                && upload.ends_with("s3://results-bucket/runs/run-7/"),
            "{upload}"
        );
    }

    // A failed upload is its own exit code, so the script collecting results can tell.
    let (out, _, _) = invoke(
        &["run", "https://api.example.com/x"],
        &[&distributed[..], &[("FAKE_AWS_FAIL", "1")]].concat(),
    );
    assert_eq!(out.status.code(), Some(70), "{}", text(&out));
    assert!(text(&out).contains("upload of"), "{}", text(&out));

    // A distributed run without a generator id is refused before any load is sent.
    let (out, loadgen_args, _) = invoke(&["run", "https://api.example.com/x"], &distributed[..2]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("LOADGEN_GENERATOR_ID"),
        "{}",
        text(&out)
    );
    assert!(loadgen_args.is_empty(), "no load without a generator id");
}

#[test]
fn deploy_help_prints_usage_on_stdout_and_exits_0() {
    for flag in ["-h", "--help"] {
        let out = run(Command::new(root().join("scripts/deploy.sh"))
            .arg(flag)
            .env_remove("TF_STATE_BUCKET"));
        assert_eq!(
            out.status.code(),
            Some(0),
            "deploy.sh {flag}:\n{}",
            text(&out)
        );
        let usage = String::from_utf8_lossy(&out.stdout);
        for expected in [
            "scripts/deploy.sh [--env dev] [--plan]",
            "TF_STATE_BUCKET",
            "Exit codes",
        ] {
            assert!(
                usage.contains(expected),
                "deploy.sh {flag} should print {expected:?}:\n{}",
                text(&out)
            );
        }
        assert!(
            !usage.contains("set -euo"),
            "the usage is the header comment, not the code after it:\n{usage}"
        );
        assert!(out.stderr.is_empty(), "deploy.sh {flag}:\n{}", text(&out));
    }
}

// --- the demo ----------------------------------------------------------------------------------

/// Stands in for `service` and `local-gateway` in `scripts/demo.sh` (run from `DEMO_BIN_DIR`):
/// listens where told and answers like them, except that this "service" lets a call without the
/// gateway's origin secret through, the misconfiguration the demo's bypass call exists to show.
const FAKE_SERVER: &str = r#"#!/usr/bin/env python3
import http.server, os, sys, threading
args = sys.argv[1:]
gateway = os.path.basename(sys.argv[0]) == "local-gateway"
def address(flag):
    host, port = args[args.index(flag) + 1].rsplit(":", 1)
    return host, int(port)
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if gateway and self.path.startswith("/api/") and not self.headers.get("apikey"):
            code, body = 401, b'{"message":"No API key found in request"}'
        else:
            code, body = 200, b'{"sum":1.3,"count":5}'
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *_):
        pass
servers = [http.server.ThreadingHTTPServer(address(f), Handler)
           for f in ("--listen", "--metrics-listen") if f in args]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"#;

/// A `DEMO_BIN_DIR` of stand-ins: `service` and `local-gateway` are [`FAKE_SERVER`]; `loadgen`
/// and `canary` fail, as the demo must stop before it needs them.
fn fake_demo_bin() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("demo-bin");
    for (name, text) in [
        ("service", FAKE_SERVER),
        ("local-gateway", FAKE_SERVER),
        (
            "loadgen",
            "#!/bin/sh\necho 'loadgen stand-in: not expected to run' >&2\nexit 99\n",
        ),
        (
            "canary",
            "#!/bin/sh\necho 'canary stand-in: not expected to run' >&2\nexit 99\n",
        ),
    ] {
        let p = dir.join(name);
        fs::write(&p, text).expect("write stand-in");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod stand-in");
    }
    dir
}

/// Three distinct ports free on 127.0.0.1 when this returns.
fn free_ports() -> [u16; 3] {
    let listeners: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().expect("local addr").port();
    [port(0), port(1), port(2)]
}

/// `scripts/demo.sh` with stand-in binaries, the given ports, its output in `out_dir`, and no
/// terminal: stdout and stderr are pipes.
fn demo(bin: &std::path::Path, ports: [u16; 3], out_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(root().join("scripts/demo.sh"));
    cmd.env("DEMO_BIN_DIR", bin)
        .env("DEMO_SERVICE_PORT", ports[0].to_string())
        .env("DEMO_METRICS_PORT", ports[1].to_string())
        .env("DEMO_GATEWAY_PORT", ports[2].to_string())
        .env("DEMO_OUT_DIR", out_dir)
        .env_remove("NO_COLOR");
    cmd
}

/// Runs `cmd` in its own process group, stdout and stderr piped; past `limit` the whole group
/// (the script and what it started) is killed and the test fails with what it printed.
fn output_within(cmd: &mut Command, limit: std::time::Duration) -> Output {
    use std::os::unix::process::CommandExt;
    let shown = format!("{cmd:?}");
    let child = cmd
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let group = format!("-{}", child.id());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for the script"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let out = rx
                .recv()
                .expect("the waiting thread answers")
                .expect("wait for the script");
            panic!("{shown} did not finish within {limit:?}:\n{}", text(&out));
        }
    }
}

fn assert_no_escape_codes(out: &Output) {
    assert!(
        !out.stdout.contains(&0x1b) && !out.stderr.contains(&0x1b),
        "colour codes in piped output:\n{}",
        text(out)
    );
}

#[test]
fn demo_refuses_a_port_that_is_already_taken() {
    let bin = fake_demo_bin();
    for (i, var) in [
        "DEMO_SERVICE_PORT",
        "DEMO_METRICS_PORT",
        "DEMO_GATEWAY_PORT",
    ]
    .into_iter()
    .enumerate()
    {
        let mut ports = free_ports();
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        ports[i] = taken.local_addr().expect("local addr").port();
        let out_dir = temp_dir("demo-out");
        fs::write(out_dir.join(".demo-output"), "").expect("marker");
        fs::write(out_dir.join("report.html"), "an earlier run's").expect("earlier report");

        let out = output_within(
            &mut demo(&bin, ports, &out_dir),
            std::time::Duration::from_secs(30),
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{var} taken:\n{t}");
        assert!(
            t.contains(&format!("port {} ({var}) is already in use", ports[i])),
            "the refusal names the port and its variable:\n{t}"
        );
        assert!(
            !t.contains("==> Starting"),
            "nothing starts on a taken port:\n{t}"
        );
        assert!(
            out_dir.join("report.html").is_file(),
            "refused before touching the output directory"
        );
        assert_no_escape_codes(&out);
    }
}

#[test]
fn demo_stops_loudly_when_the_bypass_call_is_not_refused() {
    let bin = fake_demo_bin();
    let ports = free_ports();
    let out_dir = temp_dir("demo-out");
    fs::write(out_dir.join(".demo-output"), "").expect("marker");
    fs::write(out_dir.join("report.html"), "an earlier run's").expect("earlier report");

    let out = output_within(
        &mut demo(&bin, ports, &out_dir),
        std::time::Duration::from_secs(60),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for step in [
        "==> An authorised call through the gateway",
        "==> A call without a key",
        "==> A call that bypasses the gateway",
    ] {
        assert!(stdout.contains(step), "the demo got to {step:?}:\n{t}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("demo failed: the call bypassing the gateway: expected HTTP 403, got 200"),
        "the failure names the step, what was expected and what came back:\n{t}"
    );
    assert!(
        !stdout.contains("==> Spending"),
        "the demo stops at the unexpected answer:\n{t}"
    );
    assert_no_escape_codes(&out);
    assert!(
        !out_dir.join("report.html").exists(),
        "an earlier run's report is cleared first"
    );
    assert!(out_dir.join("service.log").is_file(), "this run's logs");
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port}: what the demo started is stopped when it exits"
        );
    }
}

#[test]
fn demo_refuses_bad_variables_with_exit_64() {
    let bin = fake_demo_bin();
    let [service, metrics, gateway] = free_ports();
    let foreign = temp_dir("demo-foreign");
    fs::write(foreign.join("keep.txt"), "not the demo's").expect("file");
    let fresh = temp_dir("demo-out");
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("DEMO_SERVICE_PORT", "http".into())],
            "DEMO_SERVICE_PORT must be a port number",
        ),
        (
            vec![("DEMO_GATEWAY_PORT", "70000".into())],
            "DEMO_GATEWAY_PORT must be a port number",
        ),
        (
            vec![("DEMO_METRICS_PORT", service.to_string())],
            "must differ",
        ),
        (
            vec![("DEMO_OUT_DIR", foreign.display().to_string())],
            "holds files the demo did not write",
        ),
        (
            vec![("DEMO_BIN_DIR", fresh.display().to_string())],
            "has no executable service",
        ),
    ];
    for (env, expected) in cases {
        let mut cmd = demo(&bin, [service, metrics, gateway], &fresh);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let out = output_within(&mut cmd, std::time::Duration::from_secs(30));
        let t = text(&out);
        assert_eq!(out.status.code(), Some(64), "{env:?}:\n{t}");
        assert!(
            t.contains(expected),
            "{env:?} should say {expected:?}:\n{t}"
        );
    }
    assert!(
        foreign.join("keep.txt").is_file(),
        "a directory the demo did not make is left alone"
    );
    let out = output_within(
        Command::new(root().join("scripts/demo.sh")).arg("--help"),
        std::time::Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("DEMO_SERVICE_PORT"),
        "{}",
        text(&out)
    );
}
