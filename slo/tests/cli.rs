//! The `slo` binary as a user runs it: validate the repository's SLOs, list every problem of a
//! bad file with exit 64, and generate or check the generated files in a copy of the repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn slo(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slo"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the slo binary runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace")
        .to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the repository's SLO files and generated rules, for runs that write.
fn copy_of_repo(tag: &str) -> PathBuf {
    let dir = testkit::tempdir::unique(tag);
    for file in [
        "slo/sum-api.yaml",
        "alarms/prometheus/slo.rules.yml",
        "alarms/cloudwatch-slo.yaml",
        "dashboards/grafana/sum-api.json",
        "dashboards/cloudwatch/service-overview.json",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("dir");
        std::fs::copy(repo().join(file), to).expect("copy");
    }
    dir
}

#[test]
fn the_repository_slos_validate_and_the_generated_rules_are_up_to_date() {
    let out = slo(&["validate"], &repo());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    for name in [
        "sum-api-availability",
        "sum-api-latency",
        "sum-api-synthetic",
    ] {
        assert!(listed.contains(&format!("SLO {name} ok")), "{listed}");
    }
    let out = slo(&["generate", "--check"], &repo());
    assert_eq!(
        out.status.code(),
        Some(0),
        "run `cargo run -p slo -- generate` and commit the result: {}",
        stderr(&out)
    );
}

#[test]
fn a_bad_file_is_exit_64_with_every_problem_named() {
    let dir = testkit::tempdir::unique("slo-bad");
    let text = std::fs::read_to_string(repo().join("slo/sum-api.yaml")).expect("read");
    let bad = text
        .replacen("target: 0.999", "target: 1.5", 1)
        .replacen("duration: 30d", "duration: a month", 1)
        .replacen(
            "budgetingMethod: Occurrences",
            "budgetingMethod: Timeslices",
            1,
        );
    std::fs::write(dir.join("bad.yaml"), bad).expect("write");
    let out = slo(&["validate", "bad.yaml", "missing.yaml"], &dir);
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    for expected in [
        "bad.yaml: SLO sum-api-availability: spec.objectives[0].target: 1.5 is not strictly between 0 and 1",
        "bad.yaml: SLO sum-api-availability: spec.timeWindow[0].duration: \"a month\" is not a duration",
        "bad.yaml: SLO sum-api-availability: spec.budgetingMethod: \"Timeslices\" is not supported",
        "missing.yaml: cannot read it:",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(out.stdout.is_empty(), "nothing is said to be ok");
}

#[test]
fn generate_writes_what_check_then_accepts_and_check_names_a_stale_file() {
    let dir = copy_of_repo("slo-generate");
    let yaml = dir.join("slo/sum-api.yaml");
    let text = std::fs::read_to_string(&yaml).expect("read");
    std::fs::write(&yaml, text.replacen("target: 0.999", "target: 0.995", 1)).expect("write");
    let out = slo(&["generate", "--check"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("alarms/prometheus/slo.rules.yml is not what slo/ gives"),
        "{}",
        stderr(&out)
    );
    let out = slo(&["generate"], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rules = std::fs::read_to_string(dir.join("alarms/prometheus/slo.rules.yml")).expect("read");
    // 14.4 x (1 - 0.995): the page threshold follows the new objective.
    assert!(rules.contains("> 0.072\n"), "{rules}");
    assert_eq!(slo(&["generate", "--check"], &dir).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_are_exit_64_and_help_lists_the_exit_codes() {
    let out = slo(&["generate", "--bogus"], &repo());
    assert_eq!(out.status.code(), Some(64));
    let out = slo(&["--help"], &repo());
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes:\n  0 "), "{help}");
}
