//! Test helpers: a tiny upstream that echoes what it received as JSON (on the shared
//! `testkit::http_stub`), an upstream that never answers, raw HTTP over a socket (for requests
//! no HTTP client would send), and clock helpers.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testkit::http_stub::{Reply, Stub};

/// The echo upstream: counts requests and answers each with its method, path, headers, body size.
pub struct Echo {
    pub addr: SocketAddr,
    stub: Stub,
}

impl Echo {
    /// Requests it has received so far.
    pub fn hits(&self) -> usize {
        self.stub.requests().len()
    }
}

/// Starts the echo upstream on a free loopback port (runs until the test's runtime ends).
pub async fn echo_upstream() -> Echo {
    let stub = Stub::start(|req, _| {
        let body = serde_json::json!({
            "method": req.method, "path": req.path, "headers": req.headers, "body_len": req.body.len(),
        });
        Reply::json(200, &body.to_string())
    })
    .await;
    Echo {
        addr: stub.addr(),
        stub,
    }
}

/// The header values the upstream saw under `name` (lower case).
pub fn seen(echo_body: &serde_json::Value, name: &str) -> Vec<String> {
    echo_body["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == name)
        .map(|h| h[1].as_str().unwrap().to_owned())
        .collect()
}

/// Sleeps until at least `margin` remains in the current window of `window_secs`, so that a
/// burst of requests stays inside one calendar-aligned window.
pub async fn wait_for_window_room(window_secs: u64, margin: Duration) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into =
        Duration::from_nanos((now.as_nanos() % (window_secs as u128 * 1_000_000_000)) as u64);
    let left = Duration::from_secs(window_secs) - into;
    if left < margin {
        tokio::time::sleep(left + Duration::from_millis(20)).await;
    }
}

/// A header as text.
pub fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// A header as a number.
pub fn num(resp: &reqwest::Response, name: &str) -> i64 {
    header(resp, name)
        .unwrap_or_else(|| panic!("missing header {name}: {:?}", resp.headers()))
        .parse()
        .unwrap()
}

/// An upstream that accepts connections and never answers (the request stays unread in the
/// socket). Stops accepting when dropped, and after 30 s in any case.
pub struct Silent {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Silent {
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts the silent upstream on a free loopback port.
pub fn silent_upstream() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (count, stopped) = (accepted.clone(), stop.clone());
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut held = Vec::new();
        while !stopped.load(Ordering::SeqCst) && Instant::now() < deadline {
            match listener.accept() {
                Ok((conn, _)) => {
                    count.fetch_add(1, Ordering::SeqCst);
                    held.push(conn);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Silent {
        addr,
        accepted,
        stop,
    }
}

pub use testkit::raw_http::Response as RawResponse;

/// Sends `request` as it is over a new connection and reads one response: until its
/// Content-Length is complete or the server closes, for at most 10 s.
pub fn raw_request(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.write_all(request).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    while Instant::now() < deadline && buf.len() < 1 << 20 {
        if testkit::raw_http::has_whole_body(&buf) {
            break;
        }
        match sock.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // A reset after the answer (the server closed with our request unread) ends it.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "reading the response: {e}; so far: {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    testkit::raw_http::parse(&buf)
}
