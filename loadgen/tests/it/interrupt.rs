//! Never lose a run: SIGINT or SIGTERM to the built binary mid-run stops it within seconds,
//! with exit 4 (`aborted`) and every requested output written for what ran: the JSON report
//! (valid against its schema), the HTML, the hgrm and a complete interval log that Python's
//! `hdrhistogram` decodes to the JSON's request count. A second signal exits at once (130,
//! 143); a target that never answers does not hold the stop up; `kill -9` leaves the intervals
//! written so far readable.

use crate::common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use loadgen::report::hgrm;
use testkit::server::Server;
use testkit::tempdir;

/// How long a stopped run may take to end: the grace for requests in flight (at most
/// `loadgen::interrupt::MAX_GRACE`), writing the reports, and a slow CI machine's slack.
const STOP_BOUND: Duration = Duration::from_secs(10);

/// A `loadgen` process run in the background, its stdout and stderr into files.
struct Bg {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Bg {
    fn start(args: &[&str], dir: &Path) -> Bg {
        let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
        let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(args)
            .env_remove("LOADGEN_API_KEY")
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(&err).expect("stderr file"))
            .spawn()
            .expect("start loadgen");
        Bg { child, out, err }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -s {name} failed");
    }

    /// Waits at most `bound` for the exit.
    fn wait(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "loadgen did not exit within {bound:?}; stderr: {}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The interval lines (not comments, not the legend) of an hlog.
fn intervals(hlog: &Path) -> usize {
    std::fs::read_to_string(hlog)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("Tag=") || l.starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

/// Waits (bounded) until `ready` holds.
fn wait_for(what: &str, bound: Duration, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + bound;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} within {bound:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads an hlog with Python's HdrHistogram (`hdrh.log.HistogramLogReader`): intervals read,
/// and the summed count per tag (`""` for the untagged all-classes line).
const PY_COUNTS: &str = r#"
import json, sys
from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader
reader = HistogramLogReader(sys.argv[1], HdrHistogram(1, 3600000000, 3))
n, counts = 0, {}
while True:
    h = reader.get_next_interval_histogram()
    if h is None:
        break
    n += 1
    tag = h.get_tag() or ""
    counts[tag] = counts.get(tag, 0) + h.get_total_count()
print(json.dumps({"intervals": n, "counts": counts}))
"#;

fn python_counts(hlog: &Path) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("HDRH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".deps/hdrh/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: install Python's hdrhistogram with scripts/deps/hdrh.sh (or set HDRH_PYTHON)",
        python.display()
    );
    let script = hlog.with_extension("py");
    std::fs::write(&script, PY_COUNTS).expect("write the reader");
    let out = Command::new(&python)
        .arg(&script)
        .arg(hlog)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python cannot read {}: {}",
        hlog.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("the JSON report was written"))
        .expect("the JSON report parses")
}

fn assert_valid_report(report: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(loadgen::report::json::SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

struct Files {
    json: PathBuf,
    html: PathBuf,
    hgrm: PathBuf,
    hlog: PathBuf,
}

impl Files {
    fn new(dir: &Path) -> Files {
        std::fs::create_dir_all(dir).expect("temp dir");
        Files {
            json: dir.join("r.json"),
            html: dir.join("r.html"),
            hgrm: dir.join("r.hgrm"),
            hlog: dir.join("r.hlog"),
        }
    }

    fn args(&self) -> Vec<String> {
        let s = |p: &PathBuf| p.to_str().expect("utf-8 path").to_string();
        vec![
            "--json".into(),
            s(&self.json),
            "--html".into(),
            s(&self.html),
            "--hgrm".into(),
            s(&self.hgrm),
            "--hlog".into(),
            s(&self.hlog),
        ]
    }
}

fn run_args<'a>(url: &'a str, model: &[&'a str], files: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["run", url, "-z", "60s", "--quiet"];
    args.extend_from_slice(model);
    args.extend(files.iter().map(String::as_str));
    args
}

#[test]
fn sigint_and_sigterm_mid_run_write_every_output_for_what_ran_and_exit_4() {
    let server = TestServer::start(None);
    let url = server.url("/fast");
    // SIGINT to an open-model run, SIGTERM to a closed-model one.
    for (sig, name, model) in [
        ("INT", "SIGINT", &["-r", "200", "-c", "4"][..]),
        ("TERM", "SIGTERM", &["-c", "2"][..]),
    ] {
        let dir = tempdir::unique("loadgen-interrupt");
        let f = Files::new(&dir);
        let file_args = f.args();
        let mut run = Bg::start(&run_args(&url, model, &file_args), &dir);
        // Running for real: the interval log already holds finished seconds (it is written,
        // and flushed, as the run goes).
        wait_for(
            "a first interval in the hlog",
            Duration::from_secs(20),
            || intervals(&f.hlog) >= 1,
        );
        run.signal(sig);
        let sent = Instant::now();
        let status = run.wait(STOP_BOUND);
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(4), "{name}: {}", run.stderr());
        assert!(took < STOP_BOUND, "{name}: took {took:?}");
        let err = run.stderr();
        assert!(err.contains(&format!("interrupted by {name}")), "{err}");
        assert!(
            run.stdout().contains("verdict: ABORTED"),
            "{}",
            run.stdout()
        );

        let report = read_json(&f.json);
        assert_valid_report(&report);
        assert_eq!(report["verdict"], "aborted", "{name}: {report}");
        let reason = report["reasons"][0].as_str().expect("a reason");
        assert!(
            reason.starts_with(&format!("interrupted by {name} after ")),
            "{reason}"
        );
        let total = report["requests"]["total"].as_u64().expect("total");
        assert!(total > 0, "{name}: what ran is reported");
        let d = report["duration_s"].as_f64().expect("duration");
        assert!(
            d > 0.5 && d < 30.0,
            "{name}: duration {d} is the part that ran"
        );

        let page = std::fs::read_to_string(&f.html).expect("the HTML was written");
        assert!(
            page.contains("ABORTED"),
            "{name}: the HTML states the verdict"
        );
        let h = hgrm::parse(&std::fs::read_to_string(&f.hgrm).expect("the hgrm was written"))
            .expect("the hgrm parses");
        assert_eq!(h.total_count, total, "{name}: hgrm");

        // The interval log is complete (closing status line) and HdrHistogram's own Python
        // reader finds every request of the JSON report in it.
        let text = std::fs::read_to_string(&f.hlog).expect("hlog");
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.starts_with("#[StatusCounts: 200=")),
            "{name}: the hlog ends with its closing line"
        );
        let py = python_counts(&f.hlog);
        assert_eq!(
            py["counts"][""], total,
            "{name}: untagged (all classes) {py}"
        );
        let ok = report["requests"]["ok"].as_u64().expect("ok");
        assert_eq!(py["counts"]["2xx"], ok, "{name}: {py}");
        assert_eq!(py["counts"]["2xx.uncorrected"], ok, "{name}: {py}");

        // And loadgen reads it back as a whole run (it would refuse a truncated one).
        let back = common::loadgen(
            &["report", f.hlog.to_str().expect("utf-8"), "--json", "-"],
            &[],
        );
        assert_ne!(back.status.code(), Some(64), "{}", common::stderr(&back));
        let back: serde_json::Value =
            serde_json::from_slice(&back.stdout).expect("report prints JSON");
        assert_eq!(back["requests"]["total"], total, "{name}");
    }
}

#[test]
fn a_second_signal_exits_at_once_with_130_or_143() {
    // A target that never answers: the first signal's grace would last seconds.
    let silent = Server::silent();
    let url = silent.url("/x");
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let dir = tempdir::unique("loadgen-interrupt-twice");
        let f = Files::new(&dir);
        let file_args = f.args();
        let mut run = Bg::start(
            &run_args(&url, &["-r", "20", "-c", "2", "-t", "60s"], &file_args),
            &dir,
        );
        let before = silent.connections();
        wait_for("the connections", Duration::from_secs(20), || {
            silent.connections() >= before + 2
        });
        std::thread::sleep(Duration::from_millis(500));
        run.signal(sig);
        std::thread::sleep(Duration::from_millis(300));
        run.signal(sig);
        let sent = Instant::now();
        let status = run.wait(STOP_BOUND);
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(code), "SIG{sig}: {}", run.stderr());
        assert!(
            took < Duration::from_millis(1500),
            "SIG{sig} twice took {took:?} (the grace is {:?})",
            loadgen::interrupt::MAX_GRACE
        );
        assert!(
            run.stderr().contains("again: exiting at once"),
            "{}",
            run.stderr()
        );
    }
}

#[test]
fn a_target_that_never_answers_does_not_hold_the_stop_up() {
    let silent = Server::silent();
    let url = silent.url("/x");
    // Open and closed model, each with a request timeout far beyond the stop's grace.
    for model in [
        &["-r", "20", "-c", "2", "-t", "60s"][..],
        &["-c", "2", "-t", "60s"][..],
    ] {
        let dir = tempdir::unique("loadgen-interrupt-stall");
        let f = Files::new(&dir);
        let file_args = f.args();
        let mut run = Bg::start(&run_args(&url, model, &file_args), &dir);
        let before = silent.connections();
        wait_for("the connections", Duration::from_secs(20), || {
            silent.connections() >= before + 2
        });
        std::thread::sleep(Duration::from_millis(500));
        run.signal("TERM");
        let sent = Instant::now();
        let status = run.wait(STOP_BOUND);
        let took = sent.elapsed();
        assert_eq!(status.code(), Some(4), "{model:?}: {}", run.stderr());
        let grace = loadgen::interrupt::MAX_GRACE;
        assert!(
            took >= grace - Duration::from_millis(200),
            "{model:?}: ended after {took:?}, before the {grace:?} grace for requests in flight"
        );
        assert!(
            took < grace + Duration::from_secs(4),
            "{model:?}: took {took:?}"
        );

        let report = read_json(&f.json);
        assert_valid_report(&report);
        assert_eq!(report["verdict"], "aborted", "{report}");
        let reason = report["reasons"][0].as_str().expect("a reason");
        assert!(
            reason.contains("request(s) still unanswered 3.0 s after the stop were abandoned"),
            "{reason}"
        );
        assert_eq!(report["requests"]["total"], 0, "nothing was answered");
        assert!(
            std::fs::metadata(&f.html).is_ok_and(|m| m.len() > 0),
            "HTML"
        );
        assert!(f.hgrm.exists(), "hgrm");
        let text = std::fs::read_to_string(&f.hlog).expect("hlog");
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.starts_with("#[StatusCounts:")),
            "complete: {text}"
        );
        assert_eq!(python_counts(&f.hlog)["intervals"], 0);
    }
}

#[test]
fn kill_9_leaves_the_intervals_written_so_far_readable() {
    let server = TestServer::start(None);
    let url = server.url("/fast");
    let dir = tempdir::unique("loadgen-interrupt-kill");
    let f = Files::new(&dir);
    let file_args = f.args();
    let mut run = Bg::start(&run_args(&url, &["-r", "200", "-c", "2"], &file_args), &dir);
    wait_for("two intervals in the hlog", Duration::from_secs(20), || {
        intervals(&f.hlog) >= 2
    });
    run.signal("KILL");
    let status = run.wait(STOP_BOUND);
    assert_eq!(status.code(), None, "killed by the signal");
    let py = python_counts(&f.hlog);
    assert!(py["intervals"].as_u64().is_some_and(|n| n >= 2), "{py}");
    let all = py["counts"][""].as_u64().expect("untagged counts");
    assert!(all > 0, "{py}");
    assert_eq!(py["counts"]["2xx"], all, "{py}");
    assert!(!f.json.exists(), "no report: the run was killed");
}
