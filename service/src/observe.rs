//! Per-request observation: the in-flight gauge, the request counter and latency histogram
//! (labelled with the matched route pattern, never the raw path), rejections by error code,
//! and one log line per request.

use std::time::Instant;

use actix_web::Error;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Level;

use crate::error::ErrorCode;
use crate::http::client_ip::ClientIp;
use crate::http::{clock, json_text, log_json as json};
use crate::metrics::{self, UNMATCHED_ROUTE};
use crate::request_id::RequestId;
use crate::routes;
use crate::state::AppState;

/// The matched route pattern as a `'static` label, or [`UNMATCHED_ROUTE`].
fn route_label(name: Option<&str>) -> &'static str {
    routes::pattern(name).unwrap_or(UNMATCHED_ROUTE)
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
