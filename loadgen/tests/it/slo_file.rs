//! `--slo-file` through the built binary: the repository's SLOs (`slo/sum-api.yaml`) as gates of
//! `run`, `merge` and `report`, shown and reported like `--slo` gates with the SLO they come
//! from; the availability gate counts 5xx, connection errors and timeouts but never 4xx; and
//! every bad SLO file is a usage error naming the flag and each problem.

use crate::common;

use std::path::{Path, PathBuf};

use common::{TestServer, loadgen, stderr, stdout};
use serde_json::Value;
use testkit::tempdir;

/// The SLOs the release gate reads.
fn repository_slos() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../slo/sum-api.yaml")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A targets file of `(path, weight)` on `server`, written into `dir`.
fn mix(dir: &Path, server: &TestServer, entries: &[(&str, u32)]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("temp dir");
    let items: Vec<String> = entries
        .iter()
        .map(|(path, weight)| format!(r#"{{"url":"{}","weight":{weight}}}"#, server.url(path)))
        .collect();
    let file = dir.join("targets.json");
    std::fs::write(&file, format!("[{}]", items.join(","))).expect("write targets");
    file
}

/// The JSON report a run printed on stdout (`--json -`).
fn report(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is no JSON report ({e}):\n{}", stderr(o)))
}

/// The gate of `report` made from the SLO `name`.
fn gate<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["slo"]
        .as_array()
        .expect("slo array")
        .iter()
        .find(|g| g["from_slo"] == name)
        .unwrap_or_else(|| panic!("no gate from SLO {name}: {report:#}"))
}

#[test]
fn a_fast_run_passes_the_repository_slos_shown_like_slo_gates_with_their_slo() {
    let server = TestServer::start(None);
    let dir = tempdir::unique("loadgen-slo-file-pass");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let html = dir.join("report.html");
    let slos = repository_slos();
    let o = loadgen(
        &[
            "run",
            &server.url("/fast"),
            "-r",
            "100",
            "-z",
            "1s",
            "--max-lag",
            "250ms",
            "--slo",
            "p99.9<5s",
            "--slo-file",
            s(&slos),
            "--json",
            "-",
            "--html",
            s(&html),
        ],
        &[],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let r = report(&o);

    // Both flags given: every gate applies, typed ones first, each file gate named by its SLO.
    let gates: Vec<(&str, Option<&str>)> = r["slo"]
        .as_array()
        .expect("slo array")
        .iter()
        .map(|g| (g["expr"].as_str().expect("expr"), g["from_slo"].as_str()))
        .collect();
    assert_eq!(
        gates,
        [
            ("p99.9<5s", None),
            ("server_error_rate<=0.1%", Some("sum-api-availability")),
            ("p99<=250ms", Some("sum-api-latency")),
        ],
        "{r:#}"
    );
    assert!(
        r["slo"]
            .as_array()
            .expect("slo")
            .iter()
            .all(|g| g["pass"] == true)
    );
    assert_eq!(gate(&r, "sum-api-availability")["actual"], 0.0);
    assert_eq!(r["server_error_rate"], 0.0);
    // A typed gate's JSON is what it was before SLO files: no `from_slo` key.
    assert!(r["slo"][0].get("from_slo").is_none(), "{r:#}");

    // Still a report of the published schema.
    let schema: Value = serde_json::from_str(loadgen::report::json::SCHEMA).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator.iter_errors(&r).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");

    // The text summary (on stderr with `--json -`) and the HTML name the SLO of each gate.
    for shown in [
        "p99<=250ms (slo sum-api-latency)",
        "server_error_rate<=0.1% (slo sum-api-availability)",
    ] {
        assert!(err.contains(shown), "summary lacks `{shown}`:\n{err}");
    }
    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(
        page.contains("p99&lt;=250ms (slo sum-api-latency)"),
        "the HTML's SLO table names the SLO"
    );
    // The canary's synthetic SLO is no load-test property: said once, with why, never dropped
    // silently.
    let note = "--slo-file: SLO sum-api-synthetic gives no gate: sli: synthetic is measured outside a load test";
    assert_eq!(err.matches(note).count(), 1, "{err}");
}

#[test]
fn server_errors_and_unanswered_requests_above_the_budget_breach_the_availability_slo() {
    let server = TestServer::start(None);
    let dir = tempdir::unique("loadgen-slo-file-breach");
    // Per 100 requests (the mix is interleaved exactly): one 503, one connection closed
    // without an answer, one answer later than --timeout: 3% unanswered or 5xx, thirty times
    // the 0.1% budget.
    let targets = mix(
        &dir,
        &server,
        &[
            ("/fast", 97),
            ("/status/503", 1),
            ("/reset", 1),
            ("/slow/1000", 1),
        ],
    );
    let hlog = dir.join("run.hlog");
    let slos = repository_slos();
    let o = loadgen(
        &[
            "run",
            "--targets",
            s(&targets),
            "-n",
            "100",
            "-c",
            "1",
            "--timeout",
            "300ms",
            "--slo-file",
            s(&slos),
            "--hlog",
            s(&hlog),
            "--json",
            "-",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let r = report(&o);
    let classes = &r["requests"]["by_class"];
    assert_eq!(
        (&classes["5xx"], &classes["error"], &classes["timeout"]),
        (&Value::from(1), &Value::from(1), &Value::from(1)),
        "{r:#}"
    );
    let availability = gate(&r, "sum-api-availability");
    assert_eq!(availability["actual"], 0.03, "{r:#}");
    assert_eq!(availability["pass"], false);
    assert_eq!(r["server_error_rate"], 0.03);
    let reasons: Vec<&str> = r["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        reasons.contains(
            &"SLO server_error_rate<=0.1% (slo sum-api-availability) breached (actual 3.000%)"
        ),
        "{reasons:?}"
    );

    // `report` and `merge` of the run's interval log take the same gates and judge the same.
    for args in [vec!["report", s(&hlog)], vec!["merge", s(&hlog)]] {
        let mut argv = args.clone();
        argv.extend(["--slo-file", s(&slos), "--json", "-"]);
        let again = loadgen(&argv, &[]);
        assert_eq!(again.status.code(), Some(2), "{args:?}: {}", stderr(&again));
        let r2 = report(&again);
        assert_eq!(
            gate(&r2, "sum-api-availability")["actual"],
            0.03,
            "{args:?}"
        );
        assert_eq!(gate(&r2, "sum-api-latency")["expr"], "p99<=250ms");
        assert!(stderr(&again).contains("SLO sum-api-synthetic gives no gate"));
    }
}

#[test]
fn client_errors_do_not_count_against_the_availability_slo() {
    let server = TestServer::start(None);
    let dir = tempdir::unique("loadgen-slo-file-4xx");
    let targets = mix(
        &dir,
        &server,
        &[("/fast", 1), ("/status/404", 1), ("/status/429", 1)],
    );
    let slos = repository_slos();
    let o = loadgen(
        &[
            "run",
            "--targets",
            s(&targets),
            "-n",
            "90",
            "-c",
            "1",
            "--slo-file",
            s(&slos),
            "--json",
            "-",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&o);
    // Two thirds are errors to `error_rate`; none is the server's.
    assert_eq!(r["requests"]["by_class"]["4xx"], 30);
    assert_eq!(r["requests"]["by_class"]["429"], 30);
    assert!(r["error_rate"].as_f64().is_some_and(|e| e > 0.66), "{r:#}");
    let availability = gate(&r, "sum-api-availability");
    assert_eq!(availability["actual"], 0.0);
    assert_eq!(availability["pass"], true);
}

#[test]
fn a_missing_unparsable_or_invalid_slo_file_is_a_usage_error_naming_each_problem() {
    let dir = tempdir::unique("loadgen-slo-file-bad");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let missing = dir.join("missing.yaml");
    let unparsable = dir.join("unparsable.yaml");
    std::fs::write(&unparsable, "apiVersion: [\n").expect("write");
    // The repository's SLOs with the latency target out of range and an unknown field.
    let invalid = dir.join("invalid.yaml");
    let text = std::fs::read_to_string(repository_slos()).expect("read slo/sum-api.yaml");
    assert!(text.contains("target: 0.99\n") && text.contains("  budgetingMethod: Occurrences\n"));
    let text = text
        .replacen("target: 0.99\n", "target: 1.5\n", 1)
        .replacen(
            "  budgetingMethod: Occurrences\n",
            "  budgetingMethod: Occurrences\n  colour: blue\n",
            1,
        );
    std::fs::write(&invalid, text).expect("write");
    // Nothing listens here, and nothing may try: the flags are refused first.
    let url = "http://127.0.0.1:9/";

    let cases: [(&Path, &[&str]); 3] = [
        (&missing, &["cannot read it"]),
        (&unparsable, &["document 1: not YAML"]),
        (
            &invalid,
            &[
                "SLO sum-api-availability: spec.colour: unknown field",
                "SLO sum-api-latency: spec.objectives[0].target: 1.5 is not strictly between 0 and 1",
            ],
        ),
    ];
    for (file, problems) in cases {
        for argv in [
            vec!["run", url, "-n", "1", "--slo-file", s(file)],
            vec!["report", s(&missing), "--slo-file", s(file)],
            vec!["merge", s(&missing), "--slo-file", s(file)],
        ] {
            let o = loadgen(&argv, &[]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(64), "{argv:?}: {err}");
            assert!(err.starts_with("loadgen: --slo-file: "), "{argv:?}: {err}");
            for problem in problems {
                assert!(
                    err.contains(&format!("{}: {problem}", file.display())),
                    "{argv:?}: `{problem}` of {} not named:\n{err}",
                    file.display()
                );
            }
            assert!(!err.contains("panicked"), "{err}");
        }
    }

    // Every problem of every file at once.
    let o = loadgen(
        &[
            "run",
            url,
            "--slo-file",
            s(&invalid),
            "--slo-file",
            s(&missing),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(64));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}: SLO sum-api-latency", invalid.display()))
            && err.contains(&format!("{}: cannot read it", missing.display())),
        "{err}"
    );
}

#[test]
fn an_slo_file_that_gives_no_gate_is_a_usage_error() {
    let dir = tempdir::unique("loadgen-slo-file-nogate");
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Only the canary's synthetic SLO: valid, but nothing a load test can check.
    let text = std::fs::read_to_string(repository_slos()).expect("read slo/sum-api.yaml");
    let synthetic = text
        .split("\n---\n")
        .find(|doc| doc.contains("name: sum-api-synthetic"))
        .expect("the synthetic SLO");
    let file = dir.join("synthetic.yaml");
    std::fs::write(&file, synthetic).expect("write");
    for argv in [
        vec!["run", "http://127.0.0.1:9/", "--slo-file", s(&file)],
        vec!["report", "no.hlog", "--slo-file", s(&file)],
    ] {
        let o = loadgen(&argv, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(64), "{argv:?}: {err}");
        assert!(
            err.contains(&format!(
                "--slo-file {}: no SLO gives a gate",
                file.display()
            )) && err
                .contains("SLO sum-api-synthetic: sli: synthetic is measured outside a load test"),
            "{argv:?}: {err}"
        );
    }
}

#[test]
fn help_says_how_slos_become_gates_and_that_4xx_do_not_count() {
    for sub in ["run", "merge", "report"] {
        let o = loadgen(&[sub, "--help"], &[]);
        assert_eq!(o.status.code(), Some(0));
        let help = stdout(&o);
        assert!(
            help.contains("--slo-file <FILE>")
                && help.contains("LOADGEN_SLO_FILE")
                && help.contains("server_error_rate")
                && help.contains("4xx"),
            "{sub} --help:\n{help}"
        );
    }
}
