//! The optional external heartbeat (`--heartbeat-url`): after each completed run, one GET or POST
//! to a healthchecks.io-style dead-man service, so that a silent canary is noticed even when
//! CloudWatch itself is what broke. The URL may embed a token, so only its host is ever logged.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use crate::config::HeartbeatUrl;
use crate::http_client::HttpClient;

/// Calls the heartbeat URL; the error names the host and the problem, never the full URL.
pub async fn ping(client: &HttpClient, hb: &HeartbeatUrl, timeout: Duration) -> Result<(), String> {
    let host = hb.url.host().unwrap_or("?").to_owned();
    let request = Request::builder()
        .method(hb.method.clone())
        .uri(hb.url.clone())
        .header(http::header::USER_AGENT, "sumapi-canary")
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("heartbeat request to {host} could not be built: {e}"))?;
    let mut attempt = 0;
    loop {
        let result = client.send(request_clone(&request), timeout).await;
        let retry = match &result {
            Ok(ex) if ex.status.is_success() => return Ok(()),
            Ok(ex) => {
                if !ex.status.is_server_error() || attempt >= 2 {
                    return Err(format!("heartbeat to {host} answered {}", ex.status));
                }
                true
            }
            Err(e) => {
                if !e.is_retryable() || attempt >= 2 {
                    return Err(format!("heartbeat to {host} failed: {e}"));
                }
                true
            }
        };
        if retry {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            attempt += 1;
        }
    }
}

fn request_clone(r: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(r.method().clone())
        .uri(r.uri().clone());
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::new()))
        .expect("a copy of a request that was already valid")
}
