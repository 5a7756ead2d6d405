//! The real binaries of the rolling-deploy tests, each a [`Process`] stopped when dropped: a
//! `service` task, the `local-gateway`, `loadgen` and its JSON report, and canary rounds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::process::Process;
use testkit::target_health::health_check;

use crate::common;

use super::{
    CANARY_KEY, CANARY_ROUNDS, CONNECTIONS, DEPLOYED, LOADGEN_KEY, ORIGIN_SECRET, RATE, scaled,
};

/// One running `service` task.
pub struct Task {
    pub addr: SocketAddr,
    pub process: Process,
}

impl Task {
    /// Starts the real service on a new loopback port with the deployed drain and shutdown
    /// timeout (scaled) and waits until it logs its address.
    pub fn start(dir: &Path, n: usize) -> Task {
        let s = DEPLOYED;
        let mut cmd = Command::new(common::built("service"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SERVICE_ORIGIN_SECRET", ORIGIN_SECRET)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(["--workers", "2"])
            .arg("--shutdown-drain")
            .arg(format!("{}ms", scaled(s.service_drain).as_millis()))
            .arg("--shutdown-timeout")
            .arg(format!(
                "{}ms",
                scaled(s.service_shutdown_timeout).as_millis()
            ));
        let mut process = Process::spawn(&format!("task-{n}"), &mut cmd, dir);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(addr) = common::serving_addr(&process.stderr()) {
                return Task { addr, process };
            }
            assert!(
                process.exit_status().is_none() && Instant::now() < deadline,
                "the service did not start:\n{}",
                process.output_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The real `local-gateway` in front of the ALB, with the loadgen and canary consumers' keys.
pub struct Gateway {
    pub addr: SocketAddr,
    process: Process,
}

impl Gateway {
    pub fn start(dir: &Path, upstream: SocketAddr) -> Gateway {
        for attempt in 1..=3 {
            let addr = SocketAddr::from(([127, 0, 0, 1], testkit::ports::free_port()));
            let mut cmd = Command::new(common::built("local-gateway"));
            cmd.env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("SUM_API_ORIGIN_SECRET", ORIGIN_SECRET)
                .env("LOADGEN_API_KEY", LOADGEN_KEY)
                .env("CANARY_API_KEY", CANARY_KEY)
                .arg("--upstream")
                .arg(upstream.to_string())
                .arg("--listen")
                .arg(addr.to_string());
            let mut process = Process::spawn(&format!("gateway-{attempt}"), &mut cmd, dir)
                .with_stop_grace(Duration::from_secs(10));
            for _ in 0..1000 {
                if process.exit_status().is_some()
                    || std::net::TcpStream::connect(addr).is_ok()
                        && process.stderr().contains("local gateway on")
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            if process.exit_status().is_none() {
                return Gateway { addr, process };
            }
            eprintln!("gateway attempt {attempt}:\n{}", process.output_text());
        }
        panic!(
            "the local gateway did not start (scripts/deps/apt.sh installs nginx and its Lua module)"
        );
    }

    /// Waits until `GET /healthz` answers 200 through the gateway, the ALB and a task.
    pub fn wait_serving(&mut self) {
        for _ in 0..500 {
            if health_check(self.addr, "/healthz", Duration::from_secs(1)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "the gateway does not serve /healthz:\n{}",
            self.process.output_text()
        );
    }
}

/// The real loadgen at [`RATE`] through the gateway, its JSON report in the test's directory.
pub struct Loadgen {
    process: Process,
    report: PathBuf,
    duration: Duration,
    /// When it was started.
    pub started: Instant,
}

impl Loadgen {
    pub fn start(dir: &Path, gateway: String, duration: Duration) -> Loadgen {
        let report = dir.join("loadgen.json");
        let mut cmd = Command::new(common::built("loadgen"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOADGEN_API_KEY", LOADGEN_KEY)
            .arg("run")
            .arg(format!("{gateway}/api/v1/sum"))
            .args(["-X", "POST", "-H", "content-type: application/json"])
            .args(["--body", r#"{"numbers":[1,2,3]}"#])
            .args(["--header-env", "apikey=LOADGEN_API_KEY"])
            .args(["--rate", &RATE.to_string(), "--connections"])
            .arg(CONNECTIONS.to_string())
            .arg("--duration")
            .arg(format!("{}s", duration.as_secs()))
            .args([
                "--timeout",
                "5s",
                "--threads",
                "1",
                "--max-lag",
                "1s",
                "--quiet",
            ])
            .arg("--json")
            .arg(&report);
        assert_eq!(duration.subsec_nanos(), 0, "whole seconds: {duration:?}");
        Loadgen {
            process: Process::spawn("loadgen", &mut cmd, dir),
            report,
            duration,
            started: Instant::now(),
        }
    }

    /// Waits for the run to end and reads its report.
    pub fn finish(mut self) -> Report {
        let status = self
            .process
            .wait_exit(self.duration + Duration::from_secs(30))
            .unwrap_or_else(|| panic!("loadgen did not finish:\n{}", self.process.output_text()));
        // 0 pass; 2 and 3 judge the run (rate missed, generator busy), which the counts below
        // do not depend on; anything else is a failure to test.
        assert!(
            matches!(status.code(), Some(0 | 2 | 3)),
            "loadgen failed ({status}):\n{}",
            self.process.output_text()
        );
        let text = std::fs::read_to_string(&self.report)
            .unwrap_or_else(|e| panic!("{}: {e}", self.report.display()));
        Report(serde_json::from_str(&text).expect("loadgen's JSON report"))
    }
}

/// loadgen's JSON report (loadgen/schema/report.schema.json).
pub struct Report(Value);

impl Report {
    pub fn total(&self) -> u64 {
        self.0["requests"]["total"]
            .as_u64()
            .expect("requests.total")
    }

    /// Answers by exact status (`"200"`, `"502"`), and `"error"`/`"timeout"` for requests with
    /// no answer.
    pub fn status_counts(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = self.0["status_counts"]
            .as_object()
            .expect("status_counts")
            .iter()
            .filter(|(k, _)| k.len() == 3 && k.bytes().all(|b| b.is_ascii_digit()))
            .map(|(k, v)| (k.clone(), v.as_u64().expect("a count")))
            .collect();
        for class in ["error", "timeout"] {
            if let Some(n) = self.0["requests"]["by_class"][class]
                .as_u64()
                .filter(|n| *n > 0)
            {
                out.insert(class.to_owned(), n);
            }
        }
        out
    }

    /// Requests, answers, corrected latency and the verdict, for the test's output.
    pub fn summary(&self) -> String {
        let c = &self.0["latency_ms"]["corrected"];
        format!(
            "loadgen: {} requests at {}/s ({} connections): {:?}; corrected latency p50 {} ms, \
             p99 {} ms, max {} ms; verdict {} {}",
            self.total(),
            RATE,
            CONNECTIONS,
            self.status_counts(),
            c["p50"],
            c["p99"],
            c["max"],
            self.0["verdict"],
            self.0["reasons"]
        )
    }
}

/// One canary round's exit code and stdout.
#[derive(Debug)]
pub struct Round {
    pub code: Option<i32>,
    pub stdout: String,
}

impl Round {
    /// The probe lines that failed.
    pub fn failed_probes(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("FAIL "))
            .collect()
    }
}

/// Canary rounds on a thread, one after another until one has a failed probe, the test says
/// stop, or [`CANARY_ROUNDS`] ran.
pub struct Canary {
    pub stop: Arc<AtomicBool>,
    pub thread: JoinHandle<Vec<Round>>,
}

impl Canary {
    pub fn rounds_until_one_fails(dir: &Path, gateway: String) -> Canary {
        let stop = Arc::new(AtomicBool::new(false));
        let (halt, dir) = (stop.clone(), dir.to_path_buf());
        let thread = std::thread::spawn(move || {
            let mut rounds = Vec::new();
            for n in 1..=CANARY_ROUNDS {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                // No retries: a retry would land on the live task and hide what it saw.
                let mut cmd = Command::new(common::built("canary"));
                cmd.env_clear()
                    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                    .env("CANARY_API_KEY", CANARY_KEY)
                    .args([
                        "run",
                        "--once",
                        "--sink",
                        "stdout",
                        "--environment",
                        "local",
                    ])
                    .args(["--rate-limit", "20", "--retries", "0", "--timeout", "2s"])
                    .arg("--target")
                    .arg(&gateway);
                let mut p = Process::spawn(&format!("canary-{n}"), &mut cmd, &dir);
                let status = p.wait_exit(Duration::from_secs(20));
                let round = Round {
                    code: status.and_then(|s| s.code()),
                    stdout: p.stdout(),
                };
                let failed = !round.failed_probes().is_empty();
                rounds.push(round);
                if failed {
                    break;
                }
            }
            rounds
        });
        Canary { stop, thread }
    }
}
