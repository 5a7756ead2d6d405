//! Helpers of the gateway's tests: an upstream that echoes what it received as JSON (on the
//! shared `testkit::stub`), reading the headers of an answer, and clock helpers. Silent upstreams
//! and raw HTTP exchanges come from `testkit` itself.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testkit::stub::{Reply, Stub};

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

    /// Every request it has received: request target and header fields as they arrived.
    pub fn requests(&self) -> Vec<testkit::stub::Request> {
        self.stub.requests()
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
