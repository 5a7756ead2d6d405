//! Report outputs through the built binary: `--hlog`, `--hgrm`, `--html` of a real run read
//! back; `merge` of two generators' logs equals one log of the whole; `report` re-renders a
//! log; bad inputs are clear usage errors (exit 64); the HTML renders in headless Chromium.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::TestServer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use loadgen::recorder::{Outcome, Recorder};
use loadgen::report::hgrm;
use loadgen::report::hlog::{HlogFile, HlogMeta, HlogWriter, summarize};
use testkit::tempdir;

const CHROMIUM: &str = "/usr/bin/chromium";

fn loadgen(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .env_remove("LOADGEN_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run the loadgen binary");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "loadgen panicked: {err}");
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("read JSON report"))
        .expect("valid JSON")
}

/// One request of a synthetic run: (completion ms after start, outcome, status, corrected
/// ms, uncorrected ms); a 1 s stall at second 3 shows in corrected latency only.
fn synthetic() -> Vec<(u64, Outcome, Option<u16>, u64, u64)> {
    (0..6000u64)
        .map(|i| {
            let done = i;
            let (o, st) = match i % 40 {
                0 => (Outcome::ServerError, Some(503)),
                1 => (Outcome::RateLimited, Some(429)),
                2 if i % 400 == 2 => (Outcome::Timeout, None),
                _ => (Outcome::Success, Some(200)),
            };
            let stalled = (3000..4000).contains(&i);
            let corrected = if stalled { 4000 - i } else { 1 + i % 7 };
            (done, o, st, corrected.max(1), 1 + i % 5)
        })
        .collect()
}

/// Writes an hlog of the requests `pick` selects, as generator `id` (no id: none written).
fn write_log(
    path: &Path,
    id: Option<&str>,
    wall: SystemTime,
    rate: f64,
    pick: impl Fn(usize) -> bool,
) {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, wall);
    let meta = HlogMeta {
        generator: id.map(String::from),
        url: Some("http://127.0.0.1:9/api".into()),
        target_rate: Some(rate),
        stages: None,
        window: Some(Duration::from_secs(6)),
    };
    root.set_sink(Box::new(
        HlogWriter::create(path, meta).expect("create hlog"),
    ));
    let mut root = root;
    let mut w = root.fork();
    for (i, (done, o, st, c, u)) in synthetic().into_iter().enumerate() {
        if pick(i) {
            let done = epoch + Duration::from_millis(done);
            w.record(
                o,
                st,
                done - Duration::from_millis(c),
                done - Duration::from_millis(u),
                done,
            );
        }
    }
    root.merge(&w);
    root.finish().map_err(|(_, e)| e).expect("hlog written");
}

#[test]
fn a_run_writes_hlog_hgrm_and_html_that_read_back() {
    let server = TestServer::start(None);
    let dir = tempdir::unique("loadgen-outputs");
    let (hlog, hgrm_path, html, js) = (
        dir.join("a.hlog"),
        dir.join("a.hgrm"),
        dir.join("a.html"),
        dir.join("a.json"),
    );
    let url = server.url("/fast");
    let o = loadgen(&[
        "run",
        &url,
        "--rate",
        "200",
        "--duration",
        "2s",
        "-c",
        "4",
        "--quiet",
        "--max-lag",
        "250ms",
        "--generator-id",
        "gen-a",
        "--hlog",
        s(&hlog),
        "--hgrm",
        s(&hgrm_path),
        "--html",
        s(&html),
        "--json",
        s(&js),
    ]);
    // Pass, or a breach when the shared test machine is too busy to hold the rate: the outputs
    // are what this test checks, and they must agree with the verdict either way.
    assert!(
        [0, 2].contains(&code(&o)),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    let report = json(&js);
    let verdict = report["verdict"].as_str().expect("verdict").to_uppercase();
    let total = report["requests"]["total"].as_u64().expect("total");
    assert!(total >= 390, "{total}");

    // The interval log, through HdrHistogram's own iterator: one untagged and two tagged
    // intervals per second, header with StartTime/BaseTime.
    let text = std::fs::read_to_string(&hlog).expect("hlog");
    assert!(text.starts_with("#[Generator: gen-a]\n"));
    let (mut base, mut tags) = (None, Vec::new());
    for e in IntervalLogIterator::new(text.as_bytes()) {
        match e.expect("parses") {
            LogEntry::BaseTime(t) => base = Some(t),
            LogEntry::Interval(i) => tags.push(i.tag().map(|t| t.as_str().to_string())),
            LogEntry::StartTime(_) => {}
        }
    }
    assert!(base.is_some());
    assert!(tags.iter().filter(|t| t.as_deref() == Some("2xx")).count() >= 2);
    assert_eq!(
        tags.iter().filter(|t| t.is_none()).count(),
        tags.iter().filter(|t| t.as_deref() == Some("2xx")).count()
    );
    let back = summarize(&[HlogFile::read(&hlog).expect("reads")]).expect("summarizes");
    assert_eq!(back.total, total, "every request is in the log");
    assert_eq!(back.status_counts.get("200").copied(), Some(total));

    let h = hgrm::parse(&std::fs::read_to_string(&hgrm_path).expect("hgrm")).expect("hgrm parses");
    assert_eq!(h.total_count, total);
    let p99 = report["latency_ms"]["corrected"]["p99"]
        .as_f64()
        .expect("p99");
    // The table's rows are ticks: the first at or past 99% is not below p99, the last before it not above.
    let below = h
        .rows
        .iter()
        .rfind(|r| r.quantile < 0.99)
        .expect("rows below p99");
    assert!(
        h.value_at(0.99).expect("p99 row") >= p99 - 0.001 && below.value_ms <= p99 + 0.001,
        "{p99}"
    );
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        page.contains(&format!("Verdict: {verdict}"))
            && page.contains("gen-a")
            && page.matches("<svg").count() == 4
    );
    assert!(
        page.contains("<th>Generator self-check</th><td>ok; schedule lag p99"),
        "self-check shown"
    );

    // `report` re-renders the same numbers from the log alone.
    let js2 = dir.join("r.json");
    let o = loadgen(&["report", s(&hlog), "--json", s(&js2)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r2 = json(&js2);
    assert_eq!(r2["requests"]["total"], report["requests"]["total"]);
    assert_eq!(
        r2["latency_ms"]["corrected"]["p99"],
        report["latency_ms"]["corrected"]["p99"]
    );
    assert_eq!(
        r2["latency_ms"]["uncorrected"]["max"],
        report["latency_ms"]["uncorrected"]["max"]
    );
    assert_eq!(r2["generators"], serde_json::json!(["gen-a"]));
    assert_eq!(r2["model"], "merged");
}

#[test]
fn merging_two_generators_halves_equals_the_whole() {
    let dir = tempdir::unique("loadgen-merge");
    let wall = SystemTime::now() - Duration::from_secs(60);
    let (a, b, whole) = (
        dir.join("a.hlog"),
        dir.join("b.hlog"),
        dir.join("whole.hlog"),
    );
    write_log(&a, Some("gen-a"), wall, 500.0, |i| i % 2 == 0);
    write_log(&b, Some("gen-b"), wall, 500.0, |i| i % 2 == 1);
    write_log(&whole, Some("whole"), wall, 1000.0, |_| true);

    let (mj, mh, wj, wh) = (
        dir.join("m.json"),
        dir.join("m.hgrm"),
        dir.join("w.json"),
        dir.join("w.hgrm"),
    );
    let m = loadgen(&["merge", s(&a), s(&b), "--json", s(&mj), "--hgrm", s(&mh)]);
    assert_eq!(code(&m), 0, "{}", stderr(&m));
    let w = loadgen(&["report", s(&whole), "--json", s(&wj), "--hgrm", s(&wh)]);
    assert_eq!(code(&w), 0, "{}", stderr(&w));

    // The same distribution, to the last bucket, and the same counts.
    assert_eq!(
        std::fs::read_to_string(&mh).expect("m.hgrm"),
        std::fs::read_to_string(&wh).expect("w.hgrm")
    );
    let (mr, wr) = (json(&mj), json(&wj));
    for key in [
        "requests",
        "status_counts",
        "latency_ms",
        "latency_by_class_ms",
        "error_rate",
        "achieved_rate",
    ] {
        assert_eq!(mr[key], wr[key], "{key}");
    }
    assert_eq!(mr["requests"]["total"], 6000);
    assert_eq!(mr["status_counts"]["503"], 150);
    assert_eq!(mr["target_rate"], 1000.0, "per-generator targets add up");
    assert_eq!(
        mr["achieved_rate"], 1000.0,
        "6000 requests in the 6 s window"
    );
    assert_eq!(mr["generators"], serde_json::json!(["gen-a", "gen-b"]));
    let text = String::from_utf8_lossy(&m.stdout);
    assert!(text.contains("generators: gen-a, gen-b"), "{text}");
    // The stall is in corrected latency only.
    assert!(mr["latency_ms"]["corrected"]["max"].as_f64().expect("max") >= 990.0);
    assert!(
        mr["latency_ms"]["uncorrected"]["max"]
            .as_f64()
            .expect("max")
            <= 5.01
    );

    // Gates apply to merged runs exactly as to live ones.
    let fail = loadgen(&["merge", s(&a), s(&b), "--slo", "p99<10ms"]);
    assert_eq!(code(&fail), 2, "corrected p99 includes the stall");
    let pass = loadgen(&[
        "merge",
        s(&a),
        s(&b),
        "--slo",
        "p99_uncorrected<10ms",
        "--slo",
        "status_503==150",
    ]);
    assert_eq!(code(&pass), 0, "{}", String::from_utf8_lossy(&pass.stdout));
}

#[test]
fn bad_inputs_are_usage_errors_that_name_the_problem() {
    let dir = tempdir::unique("loadgen-bad-inputs");
    let good = dir.join("good.hlog");
    write_log(&good, Some("gen-a"), SystemTime::now(), 1000.0, |i| {
        i < 3000
    });
    let text = std::fs::read_to_string(&good).expect("good log");
    let write = |name: &str, content: &[u8]| -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, content).expect("write input");
        p
    };
    let empty = write("empty.hlog", b"");
    let garbage = write("garbage.hlog", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let binary = write("binary.hlog", &[0u8, 159, 146, 150, 10]);
    let latin1 = write("latin1.hlog", &[b'#', 0xe9, b'\n']);
    let truncated = write("truncated.hlog", &text.as_bytes()[..text.len() * 2 / 3]);
    let huge_line = write(
        "huge.hlog",
        format!("Tag=2xx,0.000,1.000,1.0,{}\n", "A".repeat(200_000)).as_bytes(),
    );
    let missing = dir.join("missing.hlog");

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["merge", s(&missing)], "cannot read"),
        (
            vec!["merge", s(&good), s(&empty)],
            "empty.hlog`: the file is empty",
        ),
        (
            vec!["report", s(&garbage)],
            "garbage.hlog` line 1: not an interval log line",
        ),
        (vec!["report", s(&binary)], "not a text file"),
        (vec!["report", s(&truncated)], "truncated"),
        (vec!["report", s(&huge_line)], "huge.hlog"),
        (
            vec!["merge", s(&good), s(&good)],
            "both come from generator `gen-a`",
        ),
        (vec!["report", s(&dir)], "cannot read"),
        (
            vec!["report", s(&good), "--slo", "p99<<1ms"],
            "SLO `p99<<1ms`",
        ),
        (
            vec!["report", s(&good), "--max-regression", "ten"],
            "--max-regression",
        ),
        (
            vec!["report", s(&good), "--html", "/nonexistent-dir/x.html"],
            "does not exist",
        ),
        (
            vec!["report", s(&good), "--hgrm", s(&dir)],
            "is a directory",
        ),
        (
            vec!["report", s(&good), "--html", ""],
            "a value is required",
        ),
        (
            vec!["report", s(&good), "--json", "/nonexistent-dir/r.json"],
            "does not exist",
        ),
        (
            vec!["report", s(&good), "--baseline", s(&good)],
            "--baseline",
        ),
        (vec!["report", s(&latin1)], "not UTF-8"),
        // Devices that never end (and report a length of 0): refused, not read forever.
        (vec!["report", "/dev/zero"], "not a text file"),
        (vec!["merge", "/dev/zero", s(&good)], "not a text file"),
        (
            vec!["report", s(&good), "--baseline", "/dev/zero"],
            "not a text file",
        ),
    ];
    for (args, want) in cases {
        let o = loadgen(&args);
        assert_eq!(code(&o), 64, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "{args:?}: want `{want}` in: {}",
            stderr(&o)
        );
    }
    let o = loadgen(&["merge"]);
    assert_eq!(code(&o), 64, "no logs is a usage error");
    // `run` checks its output paths before sending anything.
    let o = loadgen(&[
        "run",
        "http://127.0.0.1:9/",
        "--hlog",
        "/nonexistent-dir/x.hlog",
        "--duration",
        "1s",
    ]);
    assert_eq!(code(&o), 64, "{}", stderr(&o));
    assert!(stderr(&o).contains("--hlog"), "{}", stderr(&o));
}

/// Runs headless Chromium with a deadline and returns its stdout; fails the test clearly when
/// Chromium is missing. Output goes to files, so a large DOM cannot fill a pipe and stall it.
pub(crate) fn chromium(dir: &Path, args: &[String]) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install it with scripts/deps/apt.sh (Debian package `chromium`)"
    );
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (profile, out, err) = (
        dir.join(format!("profile-{n}")),
        dir.join(format!("chromium-{n}.out")),
        dir.join(format!("chromium-{n}.err")),
    );
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,2700",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("chromium stdout file"))
        .stderr(std::fs::File::create(&err).expect("chromium stderr file"))
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    assert!(status.success(), "chromium {args:?} failed: {}", read(&err));
    read(&out)
}

#[test]
fn the_html_report_renders_in_headless_chromium_with_its_plots() {
    let dir = tempdir::unique("loadgen-html");
    let log = dir.join("run.hlog");
    // A hostile generator id: it must show as text, never become markup.
    let hostile = "<img/src=x/onerror=alert(1)>";
    write_log(&log, Some(hostile), SystemTime::now(), 1000.0, |_| true);
    let html = dir.join("report.html");
    let o = loadgen(&[
        "report",
        s(&log),
        "--html",
        s(&html),
        "--slo",
        "p99<10ms",
        "--slo",
        "error_rate<5%",
    ]);
    assert_eq!(code(&o), 2, "the stall breaches p99: {}", stderr(&o));
    let page = std::fs::read_to_string(&html).expect("html");
    for external in ["<script", "<link", "src=\"http", "@import", "url("] {
        assert!(
            !page.contains(external),
            "self-contained: found `{external}`"
        );
    }

    let url = format!("file://{}", html.display());
    let dom = chromium(&dir, &["--dump-dom".into(), url.clone()]);
    assert!(dom.contains("Verdict: FAIL"), "verdict shown");
    assert_eq!(dom.matches("<svg").count(), 4, "four plots");
    for title in [
        "Latency by percentile (log 1/(1-p) axis)",
        "Corrected latency per second",
        "Completed requests per second",
        "Responses per second by outcome class",
        "Latency (ms)",
        "Throughput (req/s)",
        "Percentile",
        "99.9%",
        "corrected (from intended send)",
        "uncorrected (from actual send)",
        "p99&lt;10ms",
    ] {
        assert!(dom.contains(title), "rendered page lacks `{title}`");
    }
    // Every plot has drawn lines with real points.
    let polylines: Vec<&str> = dom.split("<polyline").skip(1).collect();
    let drawn = polylines
        .iter()
        .filter(|p| {
            p.split("points=\"").nth(1).is_some_and(|pts| {
                pts.split('"')
                    .next()
                    .is_some_and(|v| v.split(' ').filter(|x| x.contains(',')).count() >= 3)
            })
        })
        .count();
    assert!(
        drawn >= 2 + 3 + 1 + 3,
        "corrected+uncorrected, p50/p99/max, throughput, 3 classes: {drawn}"
    );
    assert!(
        dom.contains("&lt;img/src=x/onerror=alert(1)&gt;"),
        "hostile id escaped"
    );
    assert!(
        !dom.contains("<img"),
        "no element made from the generator id"
    );

    // A screenshot is a real picture: far larger than the same-size shot of an empty page.
    let shot = dir.join("report.png");
    chromium(&dir, &[format!("--screenshot={}", shot.display()), url]);
    let blank_page = dir.join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").expect("blank page");
    let blank = dir.join("blank.png");
    chromium(
        &dir,
        &[
            format!("--screenshot={}", blank.display()),
            format!("file://{}", blank_page.display()),
        ],
    );
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert!(
        std::fs::read(&shot).expect("png").starts_with(b"\x89PNG"),
        "a PNG"
    );
    assert!(
        size(&shot) > 5 * size(&blank).max(1),
        "screenshot {} bytes vs blank {} bytes",
        size(&shot),
        size(&blank)
    );
}

/// Reads an hlog with Python's HdrHistogram (`hdrh.log.HistogramLogReader`) and prints, per
/// tag, the summed count, max and p99, and the first interval's absolute start.
const PY_READER: &str = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3600000000, 3))
sums, first = {}, None
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    if first is None:
        first = h.get_start_time_stamp()
    sums.setdefault(h.get_tag() or "", HdrHistogram(1, 3600000000, 3)).add(h)
print(json.dumps({"first_ms": first, "tags": {t: {"count": s.get_total_count(),
      "max": s.get_max_value(), "p99": s.get_value_at_percentile(99.0)} for t, s in sums.items()}}))
"#;

#[test]
fn python_hdrhistogram_reads_the_interval_log() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("HDRH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".deps/hdrh/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: install Python's hdrhistogram with scripts/deps/hdrh.sh (or set HDRH_PYTHON)",
        python.display()
    );
    let dir = tempdir::unique("loadgen-python");
    let log = dir.join("run.hlog");
    let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(1_790_000_000_125);
    write_log(&log, Some("gen-py"), wall, 1000.0, |_| true);
    let script = dir.join("read.py");
    std::fs::write(&script, PY_READER).expect("write the reader");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&log)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("reader prints JSON");

    let ours = summarize(&[HlogFile::read(&log).expect("reads")]).expect("summarizes");
    assert_eq!(got["first_ms"], 1_790_000_000_125.0, "BaseTime + offset");
    let tags = got["tags"].as_object().expect("tags");
    assert_eq!(tags.len(), 1 + 2 * ours.by_outcome.len(), "{tags:?}");
    let check = |tag: &str, h: &hdrhistogram::Histogram<u64>| {
        let t = &tags[tag];
        assert_eq!(t["count"], h.len(), "{tag} count");
        assert_eq!(t["max"], h.max(), "{tag} max");
        let (py, rs) = (
            t["p99"].as_f64().expect("p99"),
            h.value_at_quantile(0.99) as f64,
        );
        assert!(
            (py - rs).abs() <= rs * 0.002,
            "{tag} p99: python {py}, loadgen {rs}"
        );
    };
    check("", &ours.corrected);
    for (o, s) in &ours.by_outcome {
        check(o.tag(), &s.corrected);
        check(&format!("{}.uncorrected", o.tag()), &s.uncorrected);
    }
}
