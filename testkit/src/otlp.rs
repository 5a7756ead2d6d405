//! A real OTLP/HTTP trace receiver for tests: `testkit/otlp_receiver.py`, which decodes what an
//! exporter posts with the `opentelemetry-proto` package from PyPI (installed by
//! `scripts/deps/otlp.sh`, found through `OTLP_PYTHON`), an implementation independent of the
//! Rust code under test. Each span it decodes is read back here as a [`ReceivedSpan`].
//!
//! The receiver can be told to answer 503 or to stall ([`Mode`]), for tests of an exporter
//! whose collector is down or hangs. It binds a loopback port of its own choosing (no race for a
//! free port), and is stopped when the value is dropped.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long the receiver may take to start (the protobuf runtime's import included).
const START_LIMIT: Duration = Duration::from_secs(30);

/// How long a control request may take.
const CONTROL_LIMIT: Duration = Duration::from_secs(10);

/// What the receiver answers to `POST /v1/traces`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 with an empty response: every span accepted (the start).
    Accept,
    /// 503, nothing decoded.
    Unavailable,
    /// No answer until the mode changes (at most 120 s, then 503).
    Stall,
    /// 200 with a partial success rejecting every span of the request.
    Reject,
}

impl Mode {
    fn word(self) -> &'static str {
        match self {
            Mode::Accept => "accept",
            Mode::Unavailable => "unavailable",
            Mode::Stall => "stall",
            Mode::Reject => "reject",
        }
    }
}

/// One span as the independent decoder read it.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedSpan {
    /// The trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// The span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The parent's span id, or empty for a root span.
    pub parent_span_id: String,
    /// The span's name.
    pub name: String,
    /// `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, ...
    pub kind: String,
    /// The span's attributes: strings, integers and booleans as JSON values.
    pub attributes: serde_json::Map<String, Value>,
    /// `STATUS_CODE_UNSET`, `STATUS_CODE_OK` or `STATUS_CODE_ERROR`.
    pub status_code: String,
    /// The status message.
    pub status_message: String,
    /// The resource's `service.name`.
    pub service_name: Option<String>,
    /// Everything the receiver wrote for the span (trace state, flags, times, resource, scope).
    pub json: Value,
}

/// A running receiver; stopped when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    child: Child,
    addr: SocketAddr,
    spans: PathBuf,
    requests: PathBuf,
    stderr: PathBuf,
}

impl OtlpReceiver {
    /// The Python with `opentelemetry-proto`: `OTLP_PYTHON`, else `.deps/otlp/bin/python`.
    ///
    /// Panics when it is missing, saying how to install it.
    pub fn python() -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python = std::env::var_os("OTLP_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join(".deps/otlp/bin/python"));
        assert!(
            python.exists(),
            "{} is missing: install Python's opentelemetry-proto with scripts/deps/otlp.sh (or set OTLP_PYTHON)",
            python.display()
        );
        python
    }

    /// Starts a receiver writing into `dir` and waits until it listens.
    ///
    /// Panics when it cannot be started or does not listen within 30 s.
    pub fn start(dir: &Path) -> OtlpReceiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("otlp_receiver.py");
        let spans = dir.join("otlp-spans.jsonl");
        let requests = dir.join("otlp-requests.jsonl");
        let stdout = dir.join("otlp-receiver.out");
        let stderr = dir.join("otlp-receiver.err");
        let file = |path: &Path| {
            std::fs::File::create(path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
        };
        let child = Command::new(OtlpReceiver::python())
            .arg(&script)
            .arg("--spans")
            .arg(&spans)
            .arg("--requests")
            .arg(&requests)
            .stdin(Stdio::null())
            .stdout(file(&stdout))
            .stderr(file(&stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let mut receiver = OtlpReceiver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            spans,
            requests,
            stderr,
        };
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let out = std::fs::read_to_string(&stdout).unwrap_or_default();
            if let Some(addr) = out
                .lines()
                .find_map(|l| l.strip_prefix("listening "))
                .and_then(|a| a.trim().parse().ok())
            {
                receiver.addr = addr;
                return receiver;
            }
            if let Ok(Some(status)) = receiver.child.try_wait() {
                panic!(
                    "the OTLP receiver exited ({status}) before listening:\n{}",
                    receiver.stderr_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the OTLP receiver did not listen within {START_LIMIT:?}:\n{}",
                receiver.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: what `OTEL_EXPORTER_OTLP_ENDPOINT` is set to.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1/traces`: what `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set to.
    pub fn traces_url(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// Changes what it answers from now on (a stalled request re-reads it within a second).
    ///
    /// Panics when the receiver does not take it.
    pub fn set_mode(&self, mode: Mode) {
        let word = mode.word();
        let request = format!(
            "POST /control HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{word}",
            self.addr,
            word.len()
        );
        let mut stream = TcpStream::connect_timeout(&self.addr, CONTROL_LIMIT)
            .unwrap_or_else(|e| panic!("connect to the OTLP receiver: {e}"));
        let _ = stream.set_read_timeout(Some(CONTROL_LIMIT));
        let _ = stream.set_write_timeout(Some(CONTROL_LIMIT));
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("send mode {word}: {e}"));
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 204"),
            "mode {word} not taken: {answer:?}"
        );
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        read_lines(&self.spans)
            .iter()
            .map(ReceivedSpan::from_json)
            .collect()
    }

    /// Waits up to `limit` until at least `n` spans have arrived, and returns them all.
    ///
    /// Panics when fewer arrived, with the receiver's log.
    pub fn wait_for_spans(&self, n: usize, limit: Duration) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + limit;
        loop {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} spans arrived within {limit:?}; requests: {:?}\n{}",
                spans.len(),
                self.requests(),
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every export request so far, one JSON object each: `path`, `mode`, `content_type`,
    /// `headers` (lowercase names), `bytes`, the `status` answered and the `spans` decoded.
    pub fn requests(&self) -> Vec<Value> {
        read_lines(&self.requests)
    }

    /// What the receiver logged (one line per request, and any Python error).
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ReceivedSpan {
    fn from_json(json: &Value) -> ReceivedSpan {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        ReceivedSpan {
            trace_id: text(&json["trace_id"]),
            span_id: text(&json["span_id"]),
            parent_span_id: text(&json["parent_span_id"]),
            name: text(&json["name"]),
            kind: text(&json["kind"]),
            attributes: json["attributes"].as_object().cloned().unwrap_or_default(),
            status_code: text(&json["status"]["code"]),
            status_message: text(&json["status"]["message"]),
            service_name: json["service_name"].as_str().map(str::to_owned),
            json: json.clone(),
        }
    }
}

/// The JSON lines of `path` (a partly written last line is left for the next read).
fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Posts `body` to `/v1/traces` with this content type; the status line.
    fn post(addr: SocketAddr, content_type: &str, body: &[u8]) -> String {
        let mut stream = TcpStream::connect_timeout(&addr, CONTROL_LIMIT).expect("connect");
        stream
            .set_read_timeout(Some(CONTROL_LIMIT))
            .expect("timeout");
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("head");
        stream.write_all(body).expect("body");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn the_receiver_refuses_what_is_not_otlp_protobuf_and_answers_by_mode() {
        let dir = crate::tempdir::unique("testkit-otlp");
        let receiver = OtlpReceiver::start(&dir);
        assert_eq!(receiver.base_url(), format!("http://{}", receiver.addr()));
        // Field 1 (resource_spans) claiming 100 bytes that are not there.
        assert_eq!(
            post(receiver.addr(), "application/x-protobuf", b"\x0a\x64\x01"),
            "HTTP/1.1 400 Bad Request"
        );
        assert_eq!(
            post(receiver.addr(), "application/json", b"{}"),
            "HTTP/1.1 415 Unsupported Media Type"
        );
        // An empty request is valid protobuf with no spans.
        assert_eq!(
            post(receiver.addr(), "application/x-protobuf", b""),
            "HTTP/1.1 200 OK"
        );
        receiver.set_mode(Mode::Unavailable);
        assert_eq!(
            post(receiver.addr(), "application/x-protobuf", b""),
            "HTTP/1.1 503 Service Unavailable"
        );
        let statuses: Vec<_> = receiver
            .requests()
            .iter()
            .map(|r| r["status"].clone())
            .collect();
        assert_eq!(statuses, [400, 415, 200, 503]);
        assert!(receiver.spans().is_empty());
        drop(receiver);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
