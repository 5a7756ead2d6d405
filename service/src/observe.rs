//! Per-request observation: the in-flight gauge, the request counter and latency histogram
//! (labelled with the matched route pattern, never the raw path), rejections by error code,
//! and one log line per request.

use std::io::Write;
use std::net::IpAddr;
use std::time::Instant;

use actix_web::Error;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderName;
use tracing::Level;

use crate::app::AppState;
use crate::app::ROUTES;
use crate::error::ErrorCode;
use crate::logging::json;
use crate::metrics::{self, UNMATCHED_ROUTE};
use crate::request_id::RequestId;
use crate::{clock, json_text};

/// The matched route pattern as a `'static` label, or [`UNMATCHED_ROUTE`].
fn route_label(name: Option<&str>) -> &'static str {
    name.and_then(|n| ROUTES.iter().find(|r| **r == n).copied())
        .unwrap_or(UNMATCHED_ROUTE)
}

/// `X-Forwarded-For`, as the ALB sets it.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Longest client address written to the log, in characters.
const MAX_CLIENT_IP: usize = 64;

/// The client address for the log, without allocating: the first `X-Forwarded-For` hop (set
/// by the ALB), else the peer. Informational only; it is client-controlled behind no proxy.
enum ClientIp<'a> {
    /// The first forwarded hop, trimmed, at most [`MAX_CLIENT_IP`] characters.
    Forwarded(&'a str),
    /// The peer's address as text (at most 45 bytes, the longest IPv6 form).
    Peer([u8; 45], usize),
    /// Neither is known.
    Unknown,
}

impl<'a> ClientIp<'a> {
    fn of(req: &'a actix_web::HttpRequest) -> Self {
        let forwarded = req
            .headers()
            .get(&X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        if let Some(hop) = forwarded {
            // `to_str` admits visible ASCII only, so every byte is a character boundary.
            return Self::Forwarded(hop.get(..MAX_CLIENT_IP).unwrap_or(hop));
        }
        let Some(peer) = req.peer_addr() else {
            return Self::Unknown;
        };
        let mut text = [0u8; 45];
        match peer.ip() {
            // The usual peer, written without the formatting machinery.
            IpAddr::V4(v4) => {
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[len] = b'.';
                        len += 1;
                    }
                    let mut digits = itoa::Buffer::new();
                    let digits = digits.format(octet).as_bytes();
                    // At most 15 bytes in all ("255.255.255.255"): always inside `text`.
                    text[len..len + digits.len()].copy_from_slice(digits);
                    len += digits.len();
                }
                Self::Peer(text, len)
            }
            ip @ IpAddr::V6(_) => {
                let mut cursor = std::io::Cursor::new(&mut text[..]);
                let written = write!(cursor, "{ip}").map(|()| cursor.position());
                match written.ok().and_then(|n| usize::try_from(n).ok()) {
                    Some(len) => Self::Peer(text, len),
                    None => Self::Unknown,
                }
            }
        }
    }

    /// The address as text (ASCII).
    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Forwarded(hop) => hop.as_bytes(),
            Self::Peer(text, len) => text.get(..*len).unwrap_or(b"-"),
            Self::Unknown => b"-",
        }
    }
}

/// One request being observed: started by [`Observation::start`] before anything else runs,
/// finished by [`Observation::finish`] with the answer.
pub struct Observation {
    start: Instant,
    method: &'static str,
    /// Dropped with the observation, on every path (a client that went away included).
    _in_flight: Option<metrics::InFlight>,
}

impl Observation {
    /// Starts the clock and counts the request in flight.
    pub fn start(req: &ServiceRequest, state: &AppState) -> Self {
        Self {
            start: Instant::now(),
            method: metrics::method_label(req.method()),
            _in_flight: state.metrics.in_flight(),
        }
    }

    /// Records the metrics (in `state`'s registry) and logs the request once it is answered.
    pub fn finish<B>(
        self,
        state: &AppState,
        result: &Result<ServiceResponse<B>, Error>,
        request_id: Option<&RequestId>,
    ) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.start);
        let method = self.method;
        let (status, route, code) = match result {
            Ok(res) => (
                res.status(),
                route_label(res.request().match_name()),
                res.response().extensions().get::<ErrorCode>().map(|c| c.0),
            ),
            Err(err) => (err.as_response_error().status_code(), UNMATCHED_ROUTE, None),
        };
        state
            .metrics
            .request(method, route, status.as_u16(), elapsed);
        if let Some(code) = code {
            state.metrics.rejected(code);
        }
        let level_enabled = if status.is_server_error() {
            tracing::enabled!(tracing::Level::ERROR)
        } else {
            tracing::enabled!(tracing::Level::INFO)
        };
        if !level_enabled {
            return;
        }
        // Whole microseconds: `0.052`, not `0.052185999999999996`, for people reading logs.
        let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let status = status.as_u16();
        // A failed inner service left no request behind: no id, no address.
        let req = result.as_ref().ok().map(ServiceResponse::request);
        let request_id = request_id.map_or(&b""[..], RequestId::as_bytes);
        let client_ip = req.map_or(ClientIp::Unknown, ClientIp::of);
        AccessLine {
            method,
            route,
            status,
            latency_us,
            request_id,
            client_ip: client_ip.as_bytes(),
            code,
            at: clock::wall_at(now),
        }
        .log();
    }
}

/// The access log line of one request: `error` for server errors, `info` otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessLine<'a> {
    /// The method label ([`metrics::method_label`]): a constant with nothing to escape.
    pub method: &'static str,
    /// The route label: a constant with nothing to escape.
    pub route: &'static str,
    pub status: u16,
    /// Written in milliseconds (`latency_ms`), whole microseconds: `0.052`.
    pub latency_us: u64,
    /// Printable ASCII ([`crate::request_id`]).
    pub request_id: &'a [u8],
    /// ASCII.
    pub client_ip: &'a [u8],
    /// The error code: a constant with nothing to escape.
    pub code: Option<&'static str>,
    /// When the request was answered (the direct line's timestamp; a tracing event has its
    /// own).
    pub at: std::time::SystemTime,
}

/// The target of the access line, as tracing names this module.
pub(crate) const TARGET: &str = module_path!();

impl AccessLine<'_> {
    fn level(&self) -> Level {
        if self.status >= 500 {
            Level::ERROR
        } else {
            Level::INFO
        }
    }

    /// Appends the line [`JsonLines`] writes for [`AccessLine::trace`]'s event: the same
    /// keys in the same order, the same encoding (checked by a test against tracing).
    ///
    /// [`JsonLines`]: crate::logging::json::JsonLines
    pub(crate) fn write_json(&self, line: &mut Vec<u8>) {
        line.reserve(320 + self.request_id.len() + self.client_ip.len());
        line.extend_from_slice(b"{\"timestamp\":\"");
        clock::write_rfc3339_micros(line, self.at);
        // Method, route and code are constants with nothing to escape.
        line.extend_from_slice(if self.level() == Level::ERROR {
            b"\",\"level\":\"ERROR\",\"message\":\"request\",\"method\":\""
        } else {
            b"\",\"level\":\"INFO\",\"message\":\"request\",\"method\":\""
        });
        line.extend_from_slice(self.method.as_bytes());
        line.extend_from_slice(b"\",\"route\":\"");
        line.extend_from_slice(self.route.as_bytes());
        line.extend_from_slice(b"\",\"status\":");
        json_text::push_u64(line, u64::from(self.status));
        line.extend_from_slice(b",\"latency_ms\":");
        json_text::push_millis(line, self.latency_us);
        line.extend_from_slice(b",\"request_id\":");
        json_text::push_text(line, self.request_id);
        line.extend_from_slice(b",\"client_ip\":");
        json_text::push_text(line, self.client_ip);
        if let Some(code) = self.code {
            line.extend_from_slice(b",\"code\":\"");
            line.extend_from_slice(code.as_bytes());
            line.push(b'"');
        }
        line.extend_from_slice(b",\"target\":\"");
        line.extend_from_slice(TARGET.as_bytes());
        line.extend_from_slice(b"\"}\n");
    }

    /// Logs the line: written directly with JSON logs (the bytes the event would give),
    /// through tracing otherwise.
    fn log(&self) {
        if !json::write_direct(|line| self.write_json(line)) {
            self.trace();
        }
    }

    /// Logs the line as a tracing event.
    pub(crate) fn trace(&self) {
        let Self {
            method,
            route,
            status,
            latency_us,
            request_id,
            client_ip,
            code,
            at: _,
        } = *self;
        let latency_ms = latency_us as f64 / 1e3;
        let request_id = &*String::from_utf8_lossy(request_id);
        let client_ip = &*String::from_utf8_lossy(client_ip);
        // `message` as a plain string field writes the same `"message":"request"` as a format
        // string would, without running the formatting machinery per request.
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    message = "request",
                    method,
                    route,
                    status,
                    latency_ms,
                    request_id,
                    client_ip,
                    code
                )
            };
        }
        if self.level() == Level::ERROR {
            event!(Level::ERROR);
        } else {
            event!(Level::INFO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn client_ip(req: TestRequest) -> String {
        let req = req.to_http_request();
        String::from_utf8_lossy(ClientIp::of(&req).as_bytes()).into_owned()
    }

    #[test]
    fn the_client_address_is_the_first_forwarded_hop_else_the_peer() {
        for ip in [
            "127.0.0.1",
            "10.20.100.255",
            "::1",
            "fe80::1",
            "::ffff:1.2.3.4",
        ] {
            let peer = std::net::SocketAddr::new(ip.parse().expect("an address"), 4242);
            let shown = client_ip(TestRequest::default().peer_addr(peer));
            assert_eq!(shown, peer.ip().to_string());
        }
        let longest: std::net::IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
            .parse()
            .expect("an address");
        let shown = client_ip(TestRequest::default().peer_addr((longest, 1).into()));
        assert_eq!(shown, longest.to_string());
        assert_eq!(client_ip(TestRequest::default()), "-");
        let forwarded = |value: &str| {
            client_ip(
                TestRequest::default()
                    .peer_addr(([10, 0, 0, 1], 1).into())
                    .insert_header(("x-forwarded-for", value)),
            )
        };
        assert_eq!(forwarded(" 203.0.113.7 , 10.0.0.2"), "203.0.113.7");
        assert_eq!(forwarded(&"9".repeat(300)), "9".repeat(MAX_CLIENT_IP));
        assert_eq!(forwarded(""), "");
    }
}
