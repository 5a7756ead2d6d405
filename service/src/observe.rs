//! Per-request observation: the in-flight gauge, the request counter and latency histogram
//! (labelled with the matched route pattern, never the raw path; a sampled request's trace as
//! its bucket's exemplar), rejections by error code, the server span ([`server_span`]), and one
//! log line per request carrying the trace and span ids.

use std::time::Instant;

use actix_web::Error;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Level;

use crate::error::ErrorCode;
use crate::http::client_ip::ClientIp;
use crate::http::histogram::Exemplar;
use crate::http::server_span::{self, Answered, RequestTrace};
use crate::http::{clock, json_text, log_json as json};
use crate::metrics::{self, UNMATCHED_ROUTE};
use crate::request_id::RequestId;
use crate::routes;
use crate::state::AppState;
use trace::{SpanId, TraceId};

/// One request being observed: started by [`Observation::start`] before anything else runs,
/// finished by [`Observation::finish`] with the answer.
pub struct Observation {
    start: Instant,
    method: &'static str,
    /// The request's trace context (from its `traceparent`, or new).
    trace: RequestTrace,
    /// Dropped with the observation, on every path (a client that went away included).
    _in_flight: Option<metrics::InFlight>,
}

impl Observation {
    /// Starts the clock, reads the request's trace context and counts the request in flight.
    pub fn start(req: &ServiceRequest, state: &AppState) -> Self {
        Self {
            start: Instant::now(),
            method: metrics::method_label(req.method()),
            trace: RequestTrace::begin(state.tracer.as_ref(), req.headers()),
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
                routes::pattern(res.request().match_name()),
                res.response().extensions().get::<ErrorCode>().map(|c| c.0),
            ),
            Err(err) => (err.as_response_error().status_code(), None, None),
        };
        let (trace_id, span_id) = (self.trace.trace_id(), self.trace.span_id());
        let sampled = self.trace.is_sampled();
        // A sampled request's clock reading, shared by its exemplar and its span.
        let answered_at = sampled.then(|| clock::wall_at(now));
        let exemplar = answered_at.map(|at| Exemplar {
            trace_id,
            span_id,
            at,
        });
        state.metrics.request_traced(
            method,
            route.unwrap_or(UNMATCHED_ROUTE),
            status.as_u16(),
            elapsed,
            exemplar,
        );
        if let Some(code) = code {
            state.metrics.rejected(code);
        }
        if let Some(end) = answered_at {
            let span_method = if method == metrics::OTHER_METHOD {
                server_span::OTHER_METHOD
            } else {
                method
            };
            self.trace.end(
                state.tracer.as_ref(),
                &Answered {
                    method: span_method,
                    route,
                    path: result.as_ref().ok().map(|res| res.request().path()),
                    status: status.as_u16(),
                    request_id: request_id.map_or(&b""[..], RequestId::as_bytes),
                    error_code: code,
                    elapsed,
                    end,
                },
            );
        }
        let route = route.unwrap_or(UNMATCHED_ROUTE);
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
            trace_id,
            span_id,
            client_ip: client_ip.as_bytes(),
            code,
            at: answered_at.unwrap_or_else(|| clock::wall_at(now)),
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
    /// The trace id (written as 32 lowercase hex digits).
    pub trace_id: TraceId,
    /// The server span's id (written as 16 lowercase hex digits).
    pub span_id: SpanId,
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
        line.reserve(384 + self.request_id.len() + self.client_ip.len());
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
        // Hex digits: nothing to escape.
        // Both ids in one piece of fixed length, filled in place.
        let mut ids =
            *b",\"trace_id\":\"................................\",\"span_id\":\"................\"";
        json_text::write_hex(&self.trace_id.to_bytes(), &mut ids[13..45]);
        json_text::write_hex(&self.span_id.to_bytes(), &mut ids[58..74]);
        line.extend_from_slice(&ids);
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
            trace_id,
            span_id,
            client_ip,
            code,
            at: _,
        } = *self;
        let latency_ms = latency_us as f64 / 1e3;
        let request_id = &*String::from_utf8_lossy(request_id);
        let client_ip = &*String::from_utf8_lossy(client_ip);
        let (trace_id, span_id) = (trace_id.to_hex(), span_id.to_hex());
        let trace_id = std::str::from_utf8(&trace_id).unwrap_or_default();
        let span_id = std::str::from_utf8(&span_id).unwrap_or_default();
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
                    trace_id,
                    span_id,
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
