//! Per-request observation: the in-flight gauge, the request counter and latency histogram
//! (labelled with the matched route pattern, never the raw path), rejections by error code,
//! and one log line per request.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};

use crate::app::AppState;
use crate::app::ROUTES;
use crate::error::ErrorCode;
use crate::metrics::{self, UNMATCHED_ROUTE};
use crate::request_id::RequestId;

/// The matched route pattern as a `'static` label, or [`UNMATCHED_ROUTE`].
fn route_label(name: Option<&str>) -> &'static str {
    name.and_then(|n| ROUTES.iter().find(|r| **r == n).copied())
        .unwrap_or(UNMATCHED_ROUTE)
}

/// The client address for the log: the first `X-Forwarded-For` hop (set by the ALB), else the
/// peer. Informational only; it is client-controlled behind no proxy.
fn client_ip(req: &actix_web::HttpRequest) -> String {
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().chars().take(64).collect())
        .or_else(|| req.peer_addr().map(|a| ip_text(a.ip())))
        .unwrap_or_else(|| "-".to_owned())
}

/// `ip` as text, the same as its `Display` form; IPv4 (the usual peer) without `fmt`.
fn ip_text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else {
        return ip.to_string();
    };
    let mut text = String::with_capacity(15);
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// One request being observed: started by [`Observation::start`] before anything else runs,
/// finished by [`Observation::finish`] with the answer.
pub struct Observation<'a> {
    start: Instant,
    state: Option<&'a AppState>,
    method: &'static str,
    /// Dropped with the observation, on every path (a client that went away included).
    _in_flight: Option<metrics::InFlight>,
}

impl<'a> Observation<'a> {
    /// Starts the clock and counts the request in flight.
    pub fn start(req: &ServiceRequest, state: Option<&'a AppState>) -> Self {
        Self {
            start: Instant::now(),
            state,
            method: metrics::method_label(req.method()),
            _in_flight: state.and_then(|s| s.metrics.in_flight()),
        }
    }

    /// Records the metrics and logs the request once it is answered.
    pub fn finish<B>(self, result: &Result<ServiceResponse<B>, Error>) {
        let elapsed = self.start.elapsed();
        let method = self.method;
        let (status, route, code) = match result {
            Ok(res) => (
                res.status(),
                route_label(res.request().match_name()),
                res.response().extensions().get::<ErrorCode>().map(|c| c.0),
            ),
            Err(err) => (err.as_response_error().status_code(), UNMATCHED_ROUTE, None),
        };
        if let Some(state) = self.state {
            state
                .metrics
                .request(method, route, status.as_u16(), elapsed);
            if let Some(code) = code {
                state.metrics.rejected(code);
            }
        }
        let level_enabled = if status.is_server_error() {
            tracing::enabled!(tracing::Level::ERROR)
        } else {
            tracing::enabled!(tracing::Level::INFO)
        };
        if !level_enabled {
            return;
        }
        let latency_ms = elapsed.as_secs_f64() * 1e3;
        let status = status.as_u16();
        match result {
            Ok(res) => {
                let req = res.request();
                let ext = req.extensions();
                let request_id = ext.get::<RequestId>().map_or("", |id| id.0.as_str());
                let client_ip = client_ip(req);
                log(
                    method, route, status, latency_ms, request_id, &client_ip, code,
                );
            }
            Err(_) => log(method, route, status, latency_ms, "", "-", code),
        }
    }
}

/// The access log line: `error` for server errors, `info` otherwise.
fn log(
    method: &str,
    route: &str,
    status: u16,
    latency_ms: f64,
    request_id: &str,
    client_ip: &str,
    code: Option<&str>,
) {
    if status >= 500 {
        tracing::error!(
            method, route, status, latency_ms, request_id, client_ip, code, "request"
        );
    } else {
        tracing::info!(
            method, route, status, latency_ms, request_id, client_ip, code, "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_text_is_the_display_form() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.100.255",
            "9.99.199.249",
            "::1",
            "fe80::1",
        ] {
            let ip: IpAddr = ip.parse().expect("valid address");
            assert_eq!(ip_text(ip), ip.to_string());
        }
    }
}
