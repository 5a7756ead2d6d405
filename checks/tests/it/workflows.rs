//! The GitHub workflows as an attacker would read them: zizmor (offline) finds nothing, every
//! workflow validates against GitHub's workflow schema (check-jsonschema's vendored copy), and the
//! rules zizmor leaves to judgement hold here: actions pinned by commit with the version named,
//! nothing granted at workflow level, an OIDC token only for jobs that assume an AWS role, no
//! expression spliced into a shell script, and no build cache in the release workflow.

use crate::common;
use crate::supply_chain::installed;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, run, temp_dir, text};

/// Every workflow file, sorted, with its text and its YAML as JSON.
fn workflows() -> Vec<(String, String, serde_json::Value)> {
    let mut found: Vec<(String, String, serde_json::Value)> =
        fs::read_dir(root().join(".github/workflows"))
            .expect(".github/workflows")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
            .map(|p| {
                let name = p
                    .file_name()
                    .expect("a file")
                    .to_string_lossy()
                    .into_owned();
                let text = fs::read_to_string(&p).expect("workflow");
                let doc = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                (name, text, doc)
            })
            .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 4, "workflows: {found:?}");
    found
}

/// Every step of every job: (workflow, job, step).
fn steps(doc: &serde_json::Value) -> Vec<(&str, &serde_json::Value)> {
    let jobs = doc["jobs"].as_object().expect("jobs");
    jobs.iter()
        .flat_map(|(job, body)| {
            body["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |step| (job.as_str(), step))
        })
        .collect()
}

// --- zizmor ---------------------------------------------------------------------------------------

/// zizmor over `target`, offline: no GitHub API, so no token and no network.
fn zizmor(target: &Path) -> Output {
    run(Command::new(installed("ZIZMOR", "zizmor.sh"))
        .args(["--offline", "--no-progress", "--format", "plain"])
        .arg(target)
        .env_remove("GH_TOKEN")
        .env_remove("GITHUB_TOKEN")
        .env_remove("ZIZMOR_GITHUB_TOKEN")
        .env("NO_COLOR", "1"))
}

#[test]
fn zizmor_finds_nothing_in_the_workflows() {
    let out = zizmor(&root().join(".github/workflows"));
    let report = text(&out);
    assert!(
        out.status.success(),
        "zizmor --offline .github/workflows found problems (fix them; docs/supply-chain.md):\n{report}"
    );
    assert!(report.contains("No findings"), "{report}");
    for name in ["ci.yml", "release.yml", "terraform.yml", "fuzz.yml"] {
        assert!(
            report.contains(name),
            "zizmor did not audit {name}:\n{report}"
        );
    }
}

#[test]
fn zizmor_flags_each_mistake_the_workflows_were_cleaned_of() {
    let dir = temp_dir("zizmor").join(".github/workflows");
    fs::create_dir_all(&dir).expect("mkdir");
    // The release workflow as it was: a tag instead of a commit, a checkout that keeps its
    // token, the OIDC grant for the whole workflow, a dispatch input spliced into the shell,
    // and a build cache where artifacts are published.
    let bad = "\
name: bad
on:
  push:
    tags: [\"v*\"]
  workflow_dispatch:
    inputs:
      seconds:
        description: seconds
permissions:
  contents: read
  id-token: write
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: Swatinem/rust-cache@v2
      - run: cargo build --release && echo ${{ inputs.seconds }}
      - uses: actions/upload-artifact@v4
        with:
          name: binary
          path: target/release/
  test:
    runs-on: ubuntu-24.04
    steps:
      - run: cargo test
";
    fs::write(dir.join("bad.yml"), bad).expect("write");
    let out = zizmor(&dir);
    let report = text(&out);
    assert!(
        !out.status.success(),
        "zizmor passed a bad workflow:\n{report}"
    );
    for audit in [
        "unpinned-uses",
        "artipacked",
        "excessive-permissions",
        "template-injection",
        "cache-poisoning",
    ] {
        assert!(report.contains(audit), "zizmor missed {audit}:\n{report}");
    }
}

// --- GitHub's workflow schema ---------------------------------------------------------------------

fn check_jsonschema(files: &[PathBuf]) -> Output {
    run(
        Command::new(installed("CHECK_JSONSCHEMA", "check-jsonschema.sh"))
            // Vendored in the package: nothing is downloaded.
            .args([
                "--builtin-schema",
                "vendor.github-workflows",
                "--color",
                "never",
            ])
            .args(files),
    )
}

#[test]
fn workflows_validate_against_githubs_schema() {
    let files: Vec<PathBuf> = workflows()
        .iter()
        .map(|(name, _, _)| root().join(".github/workflows").join(name))
        .collect();
    let out = check_jsonschema(&files);
    assert!(
        out.status.success(),
        "the workflows do not validate against GitHub's workflow schema:\n{}",
        text(&out)
    );
}

#[test]
fn the_schema_check_rejects_a_misspelt_workflow() {
    let dir = temp_dir("workflow-schema");
    let good = "on: push\npermissions:\n  contents: read\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: make\n";
    // `runs_on` for `runs-on`, and a permission level that does not exist.
    let bad = good.replace("runs-on", "runs_on").replace("read", "reed");
    fs::write(dir.join("good.yml"), good).expect("write");
    fs::write(dir.join("bad.yml"), &bad).expect("write");
    let out = check_jsonschema(&[dir.join("good.yml")]);
    assert!(
        out.status.success(),
        "a valid workflow failed:\n{}",
        text(&out)
    );
    let out = check_jsonschema(&[dir.join("bad.yml")]);
    let report = text(&out);
    assert!(
        !out.status.success(),
        "check-jsonschema passed a misspelt workflow:\n{report}"
    );
    assert!(
        report.contains("'runs-on' is a required property") && report.contains("'reed'"),
        "{report}"
    );
}

// --- what zizmor leaves to judgement --------------------------------------------------------------

/// `owner/repo[/path]@<40 hex> # <ref>`: the commit runs, the comment says which tag it was.
fn pinned_by_commit(uses: &str) -> bool {
    let Some((action, rest)) = uses.split_once('@') else {
        return false;
    };
    let Some((sha, comment)) = rest.split_once(" # ") else {
        return false;
    };
    action.split('/').count() >= 2
        && sha.len() == 40
        && sha
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && !comment.trim().is_empty()
}

#[test]
fn every_action_is_pinned_by_commit_with_its_version_named() {
    let mut seen = 0;
    for (name, text, _) in workflows() {
        for line in text.lines() {
            let Some(uses) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") else {
                continue;
            };
            seen += 1;
            assert!(
                pinned_by_commit(uses),
                "{name}: `{uses}` is not pinned by full commit SHA with its version in a comment \
                 (`owner/repo@<sha> # vX.Y.Z`, the tag's commit read from the action's repository)"
            );
        }
    }
    assert!(seen >= 30, "only {seen} `uses:` lines found");
    for bad in [
        "actions/checkout@v4",
        "actions/checkout@11d5960a326750d5838078e36cf38b85af677262",
        "actions/checkout@11d5960 # v4",
        "actions/checkout@11D5960A326750D5838078E36CF38B85AF677262 # v4",
    ] {
        assert!(!pinned_by_commit(bad), "{bad}");
    }
}

#[test]
fn permissions_are_granted_per_job_and_oidc_only_to_jobs_that_assume_a_role() {
    for (name, _, doc) in workflows() {
        assert_eq!(
            doc["permissions"],
            serde_json::json!({}),
            "{name}: grant nothing at workflow level (`permissions: {{}}`), each job asks for its own"
        );
        for (job, body) in doc["jobs"].as_object().expect("jobs") {
            let assumes_role = body["steps"].as_array().into_iter().flatten().any(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            });
            let permissions = body["permissions"]
                .as_object()
                .unwrap_or_else(|| panic!("{name}: job {job} has no `permissions:` of its own"));
            let id_token = permissions.get("id-token").and_then(|v| v.as_str());
            if assumes_role {
                assert_eq!(
                    id_token,
                    Some("write"),
                    "{name}: job {job} assumes a role with OIDC"
                );
            } else {
                assert_eq!(
                    id_token, None,
                    "{name}: job {job} assumes no role, needs no OIDC token"
                );
            }
            for (scope, level) in permissions {
                assert!(
                    level == "read" || (scope == "id-token" && level == "write"),
                    "{name}: job {job} gets {scope}: {level}; nothing here writes to GitHub"
                );
            }
        }
    }
}

#[test]
fn no_expression_is_spliced_into_a_shell_script() {
    for (name, _, doc) in workflows() {
        for (job, step) in steps(&doc) {
            let script = step["run"].as_str().unwrap_or_default();
            assert!(
                !script.contains("${{"),
                "{name}: job {job}, step `{}` expands an expression inside `run:`; pass it \
                 through `env:` and quote the variable",
                step["name"].as_str().unwrap_or("?")
            );
        }
    }
}

#[test]
fn the_release_workflow_restores_no_build_cache() {
    let (_, text, doc) = workflows()
        .into_iter()
        .find(|(name, _, _)| name == "release.yml")
        .expect("release.yml");
    for (job, step) in steps(&doc) {
        let uses = step["uses"].as_str().unwrap_or_default();
        assert!(
            !uses.contains("cache"),
            "release.yml: job {job} restores a cache ({uses}); a poisoned one would ship"
        );
        assert!(
            step["with"].get("cache").is_none(),
            "release.yml: job {job}: {step}"
        );
    }
    for forbidden in ["--cache-from", "cache-from:", "type=gha"] {
        assert!(
            !text.contains(forbidden),
            "release.yml uses a build cache ({forbidden})"
        );
    }
}

#[test]
fn ci_installs_the_cargo_deny_the_script_pins() {
    let script = fs::read_to_string(root().join("scripts/deps/cargo-deny.sh")).expect("script");
    let version = script
        .lines()
        .find_map(|l| l.strip_prefix("version="))
        .expect("scripts/deps/cargo-deny.sh sets version=");
    let (_, text, _) = workflows()
        .into_iter()
        .find(|(name, _, _)| name == "ci.yml")
        .expect("ci.yml");
    assert!(
        text.contains(&format!("cargo-deny@{version}")),
        "ci.yml installs another cargo-deny than scripts/deps/cargo-deny.sh's {version} \
         (the script would then build it from source on every run)"
    );
}
