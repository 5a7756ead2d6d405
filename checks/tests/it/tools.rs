//! The real tools over the repository's data: `terraform fmt`, Terraform's own `templatefile`
//! compared with the checks' renderer, checkov (offline) over `terraform/` and the three
//! Dockerfiles, and promtool on the Prometheus rules and their unit tests. A missing tool fails
//! the test and names the script that installs it.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use checks::template;
use common::repo::prometheus_rules;
use common::{root, run, temp_dir, terraform, text, tool};

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
        "variable \"vars\" {{\n  type = any\n}}\n\noutput \"rendered\" {{\n  value = {decode}(templatefile(\"{}\", var.vars))\n}}\n",
        file.display()
    );
    fs::write(dir.join("main.tf"), main).expect("write main.tf");
    // Strings and the lists that `%{ for }` loops over, as the observability module passes them.
    let mut vars = serde_json::json!(checks::sample_variables());
    for (name, items) in checks::sample_lists() {
        vars[name] = serde_json::json!(items);
    }
    let vars = serde_json::json!({ "vars": vars });
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
        template::render_with_lists(&raw, &checks::sample_variables(), &checks::sample_lists())
            .expect("the checks render it");
    if yaml {
        serde_norway::from_str(&rendered).expect("rendered YAML")
    } else {
        serde_json::from_str(&rendered).expect("rendered JSON")
    }
}

#[test]
fn terraform_templatefile_renders_alarms_and_dashboards_exactly_like_the_checks() {
    let mut files = vec![
        (root().join("alarms/cloudwatch.yaml"), true),
        (root().join("alarms/cloudwatch-slo.yaml"), true),
    ];
    let dir = root().join("dashboards/cloudwatch");
    for entry in fs::read_dir(&dir)
        .expect("dashboards dir")
        .filter_map(Result::ok)
    {
        if entry.path().extension().is_some_and(|e| e == "json") {
            files.push((entry.path(), false));
        }
    }
    assert!(files.len() >= 4);
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
    checkov_over("terraform", &["-d".as_ref(), dir.as_os_str()])
}

/// checkov with one `framework` over `targets` (`-d DIR` or `-f FILE`...).
fn checkov_over(framework: &str, targets: &[&std::ffi::OsStr]) -> Output {
    run(Command::new(checkov())
        .args([
            "--framework",
            framework,
            "--skip-download",
            "--compact",
            "--quiet",
            "-o",
            "cli",
        ])
        .args(targets)
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

/// The images the release workflow builds, one per binary.
const DOCKERFILES: [&str; 3] = [
    "service/Dockerfile",
    "canary/Dockerfile",
    "loadgen/Dockerfile",
];

#[test]
fn checkov_passes_on_the_dockerfiles() {
    let files: Vec<PathBuf> = DOCKERFILES.iter().map(|f| root().join(f)).collect();
    let mut targets = Vec::new();
    for file in &files {
        // checkov passes a path it cannot read.
        assert!(file.is_file(), "{} is missing", file.display());
        targets.push("-f".as_ref());
        targets.push(file.as_os_str());
    }
    let out = checkov_over("dockerfile", &targets);
    let report = text(&out);
    assert!(
        out.status.success(),
        "checkov found problems in the Dockerfiles:\n{report}"
    );
    assert!(report.contains("Passed checks:"), "{report}");
}

#[test]
fn checkov_fails_a_root_image_without_a_healthcheck() {
    let dir = temp_dir("checkov-docker");
    let file = dir.join("Dockerfile");
    fs::write(
        &file,
        "FROM debian:bookworm-slim\nRUN apt-get update\nCMD [\"sh\"]\n",
    )
    .expect("write");
    let out = checkov_over("dockerfile", &["-f".as_ref(), file.as_os_str()]);
    let report = text(&out);
    assert!(!out.status.success(), "checkov must fail it:\n{report}");
    assert!(
        report.contains("CKV_DOCKER_2") && report.contains("CKV_DOCKER_3"),
        "{report}"
    );
}

/// The `FROM ... AS build` image of a Dockerfile.
fn build_image(dockerfile: &str) -> String {
    let text = fs::read_to_string(root().join(dockerfile)).expect("Dockerfile readable");
    text.lines()
        .find(|l| l.starts_with("FROM ") && l.ends_with(" AS build"))
        .unwrap_or_else(|| panic!("{dockerfile}: no `FROM ... AS build` stage"))
        .split_whitespace()
        .nth(1)
        .expect("an image")
        .to_string()
}

#[test]
fn every_image_builds_with_the_workspace_toolchain_from_a_small_context() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("workspace rust-version")
        .trim_matches('"');
    for dockerfile in DOCKERFILES {
        // `--locked` with a newer or older toolchain than the workspace's pin either fails on
        // rust-version or builds something CI never tested.
        let image = build_image(dockerfile);
        assert!(
            image.starts_with(&format!("rust:{rust_version}-")),
            "{dockerfile} builds with {image}, the workspace pins Rust {rust_version}"
        );
        // BuildKit reads `<Dockerfile>.dockerignore`; without it `COPY . .` sends target/
        // (gigabytes) and .git to the builder.
        let ignore = fs::read_to_string(root().join(format!("{dockerfile}.dockerignore")))
            .unwrap_or_else(|e| panic!("{dockerfile}.dockerignore: {e}"));
        for excluded in ["target/", ".git/", ".deps/"] {
            assert!(
                ignore.lines().any(|l| l.trim() == excluded),
                "{dockerfile}.dockerignore must exclude {excluded}"
            );
        }
    }
}

#[test]
fn every_skipped_checkov_check_is_justified_inline() {
    // Every .tf file under terraform/, and the Dockerfiles.
    let mut files: Vec<PathBuf> = DOCKERFILES.iter().map(|f| root().join(f)).collect();
    let mut stack = vec![root().join("terraform")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)
            .expect("terraform dir")
            .filter_map(Result::ok)
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "tf") {
                files.push(path);
            }
        }
    }
    let mut problems = Vec::new();
    let mut skipped_in = std::collections::BTreeSet::new();
    for path in &files {
        let content = fs::read_to_string(path).expect("readable");
        for (n, line) in content.lines().enumerate() {
            let Some(skip) = line.split("checkov:skip=").nth(1) else {
                continue;
            };
            skipped_in.insert(path.extension().is_some_and(|e| e == "tf"));
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
    // Skips exist in both kinds of file, so this test reads both.
    assert_eq!(skipped_in.len(), 2, "{skipped_in:?}");
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
        text(&out).contains("SUCCESS: 3 rules found"),
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
    // (The 5xx ratio and latency are the SLO rules', whose own mutation test is below.)
    for (from, to) in [
        ("[10m])) > 0", "[10m])) > 100"),
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

#[test]
fn promtool_checks_every_rules_file_and_its_tests_pass() {
    // Every rules file, the generated SLO rules too, is valid and has its unit tests beside it.
    let mut tests = Vec::new();
    for (path, rules) in prometheus_rules() {
        let count = rules.groups.iter().map(|g| g.rules.len()).sum::<usize>();
        let out = run(promtool()
            .args(["check", "rules", &path])
            .current_dir(root()));
        assert!(
            out.status.success() && text(&out).contains(&format!("SUCCESS: {count} rules found")),
            "promtool check rules {path}:\n{}",
            text(&out)
        );
        let file = Path::new(&path).file_name().expect("a file name");
        let test = file
            .to_string_lossy()
            .replace(".rules.yml", ".rules.test.yml");
        let test_text = fs::read_to_string(root().join("alarms/prometheus").join(&test))
            .unwrap_or_else(|e| panic!("{path} has no unit tests beside it ({test}): {e}"));
        assert!(
            test_text.contains(&format!("rule_files:\n  - {}\n", file.to_string_lossy())),
            "{test} does not test {path}"
        );
        tests.push(test);
    }
    let out = run(promtool()
        .args(["test", "rules"])
        .args(&tests)
        .current_dir(root().join("alarms/prometheus")));
    assert!(
        out.status.success(),
        "promtool test rules {tests:?}:\n{}",
        text(&out)
    );
}

/// `slo.rules.test.yml` with only its test group named `name`, as YAML.
fn slo_rule_test_group(name: &str) -> String {
    let path = root().join("alarms/prometheus/slo.rules.test.yml");
    let mut doc: serde_norway::Value =
        serde_norway::from_str(&fs::read_to_string(&path).expect("slo.rules.test.yml"))
            .expect("slo.rules.test.yml is YAML");
    let tests = doc
        .get_mut("tests")
        .and_then(serde_norway::Value::as_sequence_mut)
        .expect("a tests list");
    tests.retain(|t| t.get("name").and_then(serde_norway::Value::as_str) == Some(name));
    assert_eq!(tests.len(), 1, "no single test group named `{name}`");
    serde_norway::to_string(&doc).expect("YAML")
}

#[test]
fn promtool_slo_rule_tests_fail_when_an_alert_is_loosened() {
    // The SLO cases are not vacuous: loosen the generated rules where a case depends on them and
    // that case fails (each run holds only that case, to keep promtool quick).
    let source = root().join("alarms/prometheus");
    let rules = fs::read_to_string(source.join("slo.rules.yml")).expect("rules");
    for (from, to, case) in [
        // A page on four bad answers: the night's handful would page.
        (
            ">= 5\n",
            ">= 4\n",
            "a handful of failures at night does not page",
        ),
        // The 14.4x page at 20x: a full outage no longer pages in its first minute.
        (
            "ratio_rate1h{slo=\"sum-api-availability\"} > 0.0144",
            "ratio_rate1h{slo=\"sum-api-availability\"} > 0.02",
            "full outage",
        ),
        // 4xx counted as bad.
        ("status=~\"5..\"", "status=~\"[45]..\"", "4xx never count"),
        // The latency SLO's bound moved to the 500 ms bucket: 400 ms answers are good.
        (
            "le=\"0.25\"",
            "le=\"0.5\"",
            "slow answers burn the latency budget",
        ),
    ] {
        assert!(
            rules.contains(from),
            "fixture `{from}` not in slo.rules.yml"
        );
        let dir = temp_dir("promtool-slo");
        fs::write(dir.join("slo.rules.yml"), rules.replacen(from, to, 1)).expect("write rules");
        fs::write(dir.join("case.test.yml"), slo_rule_test_group(case)).expect("write tests");
        let out = run(promtool()
            .args(["test", "rules", "case.test.yml"])
            .current_dir(&dir));
        // `…, time: …` heads an expectation that failed (not a file promtool could not load).
        assert!(
            !out.status.success() && text(&out).contains(", time: "),
            "changing `{from}` to `{to}` should fail the case `{case}`:\n{}",
            text(&out)
        );
    }
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
