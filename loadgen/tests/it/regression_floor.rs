//! `--regression-floor` through the built binary: a log whose p99 is 2.8 ms judged against a
//! baseline report whose p99 is 0.95 ms (the "+194.6%") passes under the default 1 ms
//! floor, which the text, HTML and JSON reports state, and fails with `--regression-floor 0ms`
//! (flag or environment); bad floors are exit 64 naming the flag.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::common::{loadgen, stderr, stdout};
use loadgen::recorder::{Outcome, Recorder};
use loadgen::report::hlog::{HlogMeta, HlogWriter};
use testkit::tempdir;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Writes an hlog of 2,000 successful requests over 2 s: 98% take 0.5 ms, 2% take 2.8 ms, so
/// p99 and p99.9 are 2.8 ms.
fn write_log(path: &Path) {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, SystemTime::now());
    let meta = HlogMeta {
        generator: None,
        url: Some("http://127.0.0.1:9/api".into()),
        target_rate: Some(1000.0),
        stages: None,
        window: Some(Duration::from_secs(2)),
    };
    root.set_sink(Box::new(
        HlogWriter::create(path, meta).expect("create hlog"),
    ));
    let mut root = root;
    let mut w = root.fork();
    for i in 0..2000u64 {
        let done = epoch + Duration::from_millis(1 + i);
        let took = if i % 50 == 0 {
            Duration::from_micros(2800)
        } else {
            Duration::from_micros(500)
        };
        w.record(Outcome::Success, Some(200), done - took, done - took, done);
    }
    root.merge(&w);
    root.finish().map_err(|(_, e)| e).expect("hlog written");
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read JSON")).expect("valid JSON")
}

#[test]
fn sub_millisecond_noise_passes_under_the_default_floor_and_fails_without_it() {
    let dir = tempdir::unique("loadgen-floor");
    let (log, base, html, js) = (
        dir.join("run.hlog"),
        dir.join("base.json"),
        dir.join("r.html"),
        dir.join("r.json"),
    );
    write_log(&log);

    // The baseline: this log's own report with p99 edited to 0.95 ms.
    let o = loadgen(&["report", s(&log), "--json", s(&base)], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut baseline = read_json(&base);
    let p99 = baseline["latency_ms"]["corrected"]["p99"]
        .as_f64()
        .expect("p99");
    assert!(
        (2.7..=2.9).contains(&p99),
        "the log's p99 is ~2.8 ms: {p99}"
    );
    baseline["latency_ms"]["corrected"]["p99"] = 0.95.into();
    std::fs::write(&base, baseline.to_string()).expect("write baseline");

    // Default floor (1 ms), 10% bound: passes, and every report says why.
    let o = loadgen(
        &[
            "report",
            s(&log),
            "--baseline",
            s(&base),
            "--max-regression",
            "10%",
            "--html",
            s(&html),
            "--json",
            s(&js),
        ],
        &[],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("latency floor 1ms"), "{out}");
    let p99_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("p99_ms"))
        .expect("a p99 row");
    assert!(
        p99_line.contains("+194.") && p99_line.contains("PASS (within the latency floor)"),
        "{p99_line}"
    );
    let p50_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("p50_ms"))
        .expect("a p50 row");
    assert!(!p50_line.contains("within"), "{p50_line}");

    let page = std::fs::read_to_string(&html).expect("read HTML");
    assert!(page.contains("latency floor 1 ms"), "HTML states the floor");
    assert!(page.contains("PASS (within the latency floor)"));

    let report = read_json(&js);
    let schema: serde_json::Value =
        serde_json::from_str(loadgen::report::json::SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["baseline"]["regression_floor_ms"], 1.0);
    let rows = report["baseline"]["rows"].as_array().expect("rows");
    let p99_row = rows
        .iter()
        .find(|r| r["metric"] == "p99_ms")
        .expect("p99 row");
    assert_eq!(p99_row["pass"], true);
    assert_eq!(p99_row["within_floor"], true);
    assert_eq!(report["verdict"], "pass");

    // Without a floor, by flag or by environment: the same comparison is a regression.
    for (args, env) in [
        (vec!["--regression-floor", "0ms"], vec![]),
        (vec![], vec![("LOADGEN_REGRESSION_FLOOR", "0ms")]),
    ] {
        let mut argv = vec!["report", s(&log), "--baseline", s(&base)];
        argv.extend(args);
        let o = loadgen(&argv, &env);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(2), "{env:?}: {out}");
        assert!(out.contains("latency floor 0ms"), "{out}");
        assert!(out.contains("p99_ms regressed beyond 10.0%"), "{out}");
        assert!(!out.contains("within the latency floor"), "{out}");
    }
}

#[test]
fn bad_floors_are_usage_errors_naming_the_flag() {
    let dir = tempdir::unique("loadgen-floor-bad");
    let log = dir.join("run.hlog");
    write_log(&log);
    for value in ["-1ms", "abc", "1h", "18446744073709551615s", ""] {
        for cmd in [
            vec!["report", s(&log), "--regression-floor", value],
            vec!["merge", s(&log), "--regression-floor", value],
            vec!["run", "http://127.0.0.1:9/", "--regression-floor", value],
        ] {
            let o = loadgen(&cmd, &[]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(64), "{cmd:?}: {err}");
            assert!(err.contains("--regression-floor"), "{cmd:?}: {err}");
            assert!(!err.contains("panicked"), "{cmd:?}: {err}");
        }
    }
}
