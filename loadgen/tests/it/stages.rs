//! `--stage DURATION:RATE` (k6's ramping arrival rate) against a local server: ramps up and
//! down send the integral of their rate (counted by the server and by the report), per-second
//! intervals follow the ramp, a server that cannot follow misses the scheduled count, a warmup
//! runs at `--rate` before the stages, two ramped generators started with `--start-at` merge
//! into one report, and bad stages are exit 64 naming the flag.

use crate::common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use clap::Parser;
use common::{TestServer, loadgen, stderr};
use loadgen::cli::{Cli, Command};
use loadgen::config::{MAX_STAGES, RunConfig};
use loadgen::report::hlog::{HlogFile, summarize};
use loadgen::report::{Report, Verdict};
use loadgen::run::run_blocking;
use testkit::tempdir;

fn config(args: &[&str]) -> RunConfig {
    let mut argv = vec!["loadgen", "run", "--quiet", "--max-lag", "250ms"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("valid flags");
    let Command::Run(a) = cli.command else {
        panic!("not a run command")
    };
    RunConfig::from_args(&a).expect("valid config")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read JSON report"))
        .expect("valid JSON")
}

/// Asserts `actual` is within 1% of `expected`.
fn within_1pct(what: &str, actual: u64, expected: u64) {
    assert!(
        actual.abs_diff(expected) * 100 <= expected,
        "{what}: {actual}, expected {expected} (within 1%)"
    );
}

/// Requests per whole second of an interval log, from its start.
fn per_second(hlog: &Path) -> Vec<u64> {
    let file = HlogFile::read(hlog).expect("the interval log reads back");
    let summary = summarize(&[file]).expect("summarizes");
    let mut counts = Vec::new();
    for i in &summary.intervals {
        let s = usize::try_from(i.second).expect("small");
        if counts.len() <= s {
            counts.resize(s + 1, 0);
        }
        counts[s] += i.total();
    }
    counts
}

#[test]
fn a_ramp_up_sends_the_integral_of_its_rate_and_its_seconds_climb() {
    // 0 -> 400/s over 3 s: 600 requests, 67, 200 and 333 in the three seconds.
    let srv = TestServer::start(None);
    let dir = tempdir::unique("stage-up");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (report, hlog) = (dir.join("up.json"), dir.join("up.hlog"));
    let out = loadgen(
        &[
            "run",
            &srv.url("/fast"),
            "--stage",
            "3s:400",
            "-c",
            "16",
            "--quiet",
            "--max-lag",
            "250ms",
            "--json",
            s(&report),
            "--hlog",
            s(&hlog),
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    within_1pct("requests the server saw", srv.requests(), 600);
    let r = json(&report);
    within_1pct(
        "requests in the report",
        r["requests"]["total"].as_u64().expect("total"),
        600,
    );
    assert_eq!(r["verdict"], "pass", "{}", r["reasons"]);
    // The target is the stages' mean scheduled rate, judged against what was sent.
    assert_eq!(r["target_rate"].as_f64(), Some(200.0));
    let d = r["duration_s"].as_f64().expect("duration");
    assert!(
        (d - 3.0).abs() < 1e-3,
        "measured {d} s, the stages last 3 s"
    );

    let text = std::fs::read_to_string(&hlog).expect("hlog");
    assert!(text.contains("#[TargetRate: 200]\n"), "{text}");
    assert!(text.contains("#[Stages: --stage 3s:400]\n"), "{text}");
    let meta = HlogFile::read(&hlog).expect("reads").meta;
    assert_eq!(meta.stages.as_deref(), Some("--stage 3s:400"));
    assert_eq!(meta.target_rate, Some(200.0));
    let counts = per_second(&hlog);
    assert!(counts.len() >= 3, "{counts:?}");
    for (got, want) in counts.iter().zip([67u64, 200, 333]) {
        assert!(
            got.abs_diff(want) <= want / 4 + 5,
            "per second {counts:?}, expected about 67, 200, 333"
        );
    }
    assert!(
        counts[0] < counts[1] && counts[1] < counts[2],
        "the seconds climb: {counts:?}"
    );
}

#[test]
fn a_ramp_down_sends_the_integral_of_its_rate_and_its_seconds_fall() {
    // 400/s -> 0 over 3 s: 600 requests, 333, 200 and 67 in the three seconds.
    let srv = TestServer::start(None);
    let cfg = config(&[
        &srv.url("/fast"),
        "--rate",
        "400",
        "--stage",
        "3s:0",
        "-c",
        "16",
    ]);
    let m = run_blocking(&cfg, None).expect("run");
    let r = Report::build(&m.summary, &m.meta, &cfg.slos, None);
    within_1pct("requests the server saw", srv.requests(), 600);
    within_1pct("requests in the report", r.requests.total, 600);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
    assert_eq!(r.target_rate, Some(200.0));
    let counts: Vec<u64> = m.summary.intervals.iter().map(|i| i.total()).collect();
    assert!(counts.len() >= 3, "{counts:?}");
    assert!(
        counts[0] > counts[1] && counts[1] > counts[2],
        "the seconds fall: {counts:?}"
    );
    // Due times that follow the ramp leave a fast server nothing to queue: corrected latency
    // stays with uncorrected (a schedule ahead of the ramp would queue requests and show).
    let (c, u) = (&r.latency_ms.corrected, &r.latency_ms.uncorrected);
    assert!(c.p50 - u.p50 < 1.0, "corrected {c:?}, uncorrected {u:?}");
}

#[test]
fn a_ramp_the_server_cannot_follow_misses_its_scheduled_count() {
    // 0 -> 200/s over 2 s schedules 200 requests (a mean of 100/s); 2 connections x 50 ms
    // carry at most 40/s, so about 80 are sent in the window: the target is not reached, and
    // the report says so against the stages' mean, not their peak or starting rate.
    let srv = TestServer::start(None);
    let cfg = config(&[
        &srv.url("/slow/50"),
        "--stage",
        "2s:200",
        "-c",
        "2",
        "--timeout",
        "300ms",
    ]);
    let m = run_blocking(&cfg, None).expect("run");
    let r = Report::build(&m.summary, &m.meta, &cfg.slos, None);
    assert_eq!(r.target_rate, Some(100.0));
    assert!(r.achieved_rate < 60.0, "{}", r.achieved_rate);
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.reasons);
    assert!(
        r.reasons
            .iter()
            .any(|x| x.contains("target rate not reached") && x.contains("of 100.0 req/s")),
        "{:?}",
        r.reasons
    );
    // Every scheduled request is accounted for, those never sent as timeouts.
    assert_eq!(r.requests.total, 200);
}

#[test]
fn stages_continue_from_each_other_and_a_warmup_runs_at_rate_first() {
    // 1 s warmup at 100/s (unmeasured), then 100 -> 300 over 1 s and 300/s for 1 s:
    // 100 warmup requests, then 200 + 300 measured.
    let srv = TestServer::start(None);
    let cfg = config(&[
        &srv.url("/fast"),
        "--rate",
        "100",
        "--warmup",
        "1s",
        "--stage",
        "1s:300",
        "--stage",
        "1s:300",
        "-c",
        "16",
    ]);
    let m = run_blocking(&cfg, None).expect("run");
    let r = Report::build(&m.summary, &m.meta, &cfg.slos, None);
    within_1pct("requests the server saw", srv.requests(), 600);
    within_1pct("measured requests", r.requests.total, 500);
    assert_eq!(r.target_rate, Some(250.0));
    assert!((r.duration_s - 2.0).abs() < 1e-3, "{}", r.duration_s);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.reasons);
}

#[test]
fn two_ramped_generators_started_together_merge_into_one_report() {
    // Each: 50 -> 150/s over 2 s, 200 requests; together 400 at a mean of 200/s.
    let srv = TestServer::start(None);
    let dir = tempdir::unique("stage-merge");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let at = SystemTime::now() + Duration::from_secs(2);
    let at_text = humantime::format_rfc3339_millis(at).to_string();
    let url = srv.url("/fast");
    let generators: Vec<_> = ["gen-a", "gen-b"]
        .into_iter()
        .map(|id| {
            let (url, at_text) = (url.clone(), at_text.clone());
            let hlog = dir.join(format!("{id}.hlog"));
            std::thread::spawn(move || {
                let out = loadgen(
                    &[
                        "run",
                        &url,
                        "--rate",
                        "50",
                        "--stage",
                        "2s:150",
                        "-c",
                        "8",
                        "--quiet",
                        "--max-lag",
                        "250ms",
                        "--start-at",
                        &at_text,
                        "--generator-id",
                        id,
                        "--hlog",
                        s(&hlog),
                    ],
                    &[],
                );
                (out, hlog)
            })
        })
        .collect();
    let mut logs = Vec::new();
    for g in generators {
        let (out, hlog) = g.join().expect("the generator finishes");
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        logs.push(hlog);
    }
    within_1pct("requests the server saw", srv.requests(), 400);
    let merged = dir.join("merged.json");
    let out = loadgen(
        &["merge", s(&logs[0]), s(&logs[1]), "--json", s(&merged)],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let r = json(&merged);
    within_1pct(
        "merged requests",
        r["requests"]["total"].as_u64().expect("total"),
        400,
    );
    assert_eq!(r["target_rate"].as_f64(), Some(200.0));
    assert_eq!(r["generators"], serde_json::json!(["gen-a", "gen-b"]));
    assert_eq!(r["verdict"], "pass", "{}", r["reasons"]);
    let first = HlogFile::read(&logs[0]).expect("reads");
    let second = HlogFile::read(&logs[1]).expect("reads");
    for f in [&first, &second] {
        assert_eq!(f.meta.stages.as_deref(), Some("--rate 50 --stage 2s:150"));
        assert_eq!(f.meta.target_rate, Some(100.0));
    }
    let files = [first, second];
    let both = summarize(&files).expect("merges");
    let counts: Vec<u64> = both.intervals.iter().map(|i| i.total()).collect();
    // 100 + 200/s over the first second, 200 + 300/s over the second: 2 x 100 then 2 x 200.
    assert!(counts.len() >= 2 && counts[0] < counts[1], "{counts:?}");
}

#[test]
fn bad_stages_are_usage_errors_naming_the_flag() {
    let srv = TestServer::start(None);
    let url = srv.url("/fast");
    let too_many = vec!["1s:1"; MAX_STAGES + 1].join(",");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--stage", "5s:-100"], "--stage `5s:-100`"),
        (vec!["--stage", "0s:100"], "--stage `0s:100`"),
        (vec!["--stage", "5s100"], "--stage `5s100`"),
        (vec!["--stage", "garbage"], "--stage `garbage`"),
        (vec!["--stage", "5s:lots"], "--stage `5s:lots`"),
        (vec!["--stage", "-5s:100"], "--stage `-5s:100`"),
        (
            vec!["--stage", "99999999999999999999999s:1"],
            "--stage `9999",
        ),
        (
            vec!["--stage", "2562047788015215h:1"],
            "--stage `2562047788015215h:1`",
        ),
        (vec!["--stage", "5s:NaN"], "--stage `5s:NaN`"),
        (vec!["--stage", "5s:inf"], "--stage `5s:inf`"),
        (vec!["--stage", "5s:1e400"], "--stage `5s:1e400`"),
        (vec!["--stage", &too_many], "--stage: 10001 stages"),
        (
            vec!["--stage", "4d:1", "--stage", "4d:1"],
            "--stage: the stages last",
        ),
        (
            vec!["--stage", "5s:0", "--stage", "5s:0"],
            "--stage: the rate is 0",
        ),
        (
            vec!["--stage", "5s:10", "--duration", "5s"],
            "--duration cannot be combined with --stage",
        ),
        (
            vec!["--stage", "5s:10", "--requests", "50"],
            "--requests cannot be combined with --stage",
        ),
        (
            vec!["--stage", "5s:10", "--warmup", "5s"],
            "--warmup with --stage",
        ),
        (vec!["--stage", "5s:10", "--rate", "-1"], "--rate -1"),
        (vec!["--stage", "5s:10", "--rate", "NaN"], "--rate NaN"),
    ];
    for (flags, says) in cases {
        let mut args = vec!["run", url.as_str(), "--quiet"];
        args.extend_from_slice(&flags);
        let out = loadgen(&args, &[]);
        let err = stderr(&out);
        assert_eq!(code(&out), 64, "{flags:?}: {err}");
        assert!(
            err.contains(says),
            "{flags:?}: `{err}` does not say `{says}`"
        );
        assert!(!err.contains("panicked"), "{flags:?}: {err}");
    }
    // The environment fallback is checked the same way.
    let out = loadgen(
        &["run", &url, "--quiet"],
        &[("LOADGEN_STAGE", "5s:10,oops")],
    );
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(stderr(&out).contains("--stage `oops`"), "{}", stderr(&out));
    assert_eq!(srv.requests(), 0, "no usage error sends a request");
}
