//! Helpers of the service's black-box tests: in-process services, the sum API and the metrics
//! over raw HTTP (`testkit::raw`, full control over bytes, for hostile input) and the real binary
//! on free ports.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::raw::{self, Response};

/// A config on free loopback ports with a quick shutdown, plus `extra` flags.
pub fn config(extra: &[&str]) -> service::Config {
    service::Config::loopback(extra).expect("test flags parse")
}

/// The contract's error `code` of a response body, if it has one.
pub trait ErrorCode {
    /// The body's `code` field.
    fn code(&self) -> Option<String>;
}

impl ErrorCode for Response {
    fn code(&self) -> Option<String> {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_owned))
    }
}

/// A JSON POST to the sum endpoint over a fresh connection.
pub async fn post_sum(addr: SocketAddr, body: &str, extra_headers: &str) -> Response {
    let head = format!(
        "POST /api/v1/sum HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}{extra_headers}",
        body.len()
    );
    raw::request(addr, &head, body.as_bytes()).await
}

/// A GET over a fresh connection.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    raw::request(addr, &format!("GET {path} HTTP/1.1\r\nHost: test"), b"").await
}

/// The real `service` binary, started on free ports with JSON logs captured from stderr.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub logs: Arc<Mutex<Vec<String>>>,
    /// The thread reading stderr; it ends at end of file, once the process has exited.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Binary {
    /// Starts the binary with `args` and `envs` on 127.0.0.1:0 and waits (≤ 20 s) until it
    /// logs the bound addresses.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_service"));
        command
            .args(["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
            .args(args)
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("SERVICE_ORIGIN_SECRET")
            .env_remove("SERVICE_ORIGIN_SECRET_ALT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Only the test's own OpenTelemetry settings: none from the environment it runs in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(name);
            }
        }
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the service binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        let reader = std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent
                    && let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "serving"
                {
                    let a = v["addr"].as_str().map(str::to_owned);
                    let m = v["metrics_addr"].as_str().map(str::to_owned);
                    let _ = tx.send((a, m));
                    sent = true;
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let (addr, metrics_addr) = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "the service did not log its addresses; logs: {:?}",
                    logs.lock().map(|l| l.clone())
                )
            });
        Self {
            child,
            addr: addr.expect("addr field").parse().expect("addr parses"),
            metrics_addr: metrics_addr
                .expect("metrics_addr field")
                .parse()
                .expect("metrics addr parses"),
            logs,
            reader: Some(reader),
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit; returns its code and how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status.code(), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("the service did not exit within {limit:?}");
    }

    /// Every line the process wrote to stderr, read to its end: call after the process has
    /// exited ([`Binary::wait_exit`]).
    pub fn all_log_lines(&mut self) -> Vec<String> {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the stderr reader");
        }
        self.log_lines()
    }

    /// Every stderr line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion with `args`/`envs` (≤ 20 s); returns code and stderr.
pub fn run_to_exit(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_service"));
    command
        .args(args)
        .env_remove("SERVICE_ORIGIN_SECRET")
        .env_remove("SERVICE_ORIGIN_SECRET_ALT")
        .stdin(Stdio::null());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the service binary starts");
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("service {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of the sample `series` (name and labels exactly as exported) in a scrape of the
/// metrics listener at `metrics`; 0 when absent.
pub async fn sample(metrics: SocketAddr, series: &str) -> f64 {
    let body = get(metrics, "/metrics").await.body;
    let text = String::from_utf8(body).expect("UTF-8 exposition");
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// `sumapi_connections_cut_total` for one listener (`api`, `metrics`) and reason, scraped from
/// the metrics listener at `metrics`.
pub async fn cuts(metrics: SocketAddr, listener: &str, reason: &str) -> f64 {
    let series = format!(
        r#"{}{{listener="{listener}",reason="{reason}"}}"#,
        service::metrics::CONNECTIONS_CUT_TOTAL
    );
    sample(metrics, &series).await
}
