//! A request's place in a distributed trace: its W3C `traceparent`/`tracestate` read through
//! the `trace` crate ([`RequestTrace::begin`]), the ids its access log line carries, and its
//! server span, handed to the exporter's queue when the request is answered
//! ([`RequestTrace::end`]).
//!
//! Without a tracer (no OTLP endpoint configured) the request still gets ids for its log line:
//! the caller's trace id when its `traceparent` is valid, a fresh one otherwise, and a fresh
//! span id; nothing is sampled and no span is built. A `traceparent` the spec calls invalid
//! (wrong version, all-zero ids, a wrong length, non-hex or uppercase digits, the header twice)
//! is ignored and the request starts a new trace: it never changes the answer.
//!
//! The span follows OpenTelemetry's HTTP server conventions: named `METHOD /route/pattern`
//! (only the method, or `HTTP` for an unknown one, when no route matched), `http.route` the
//! pattern, never the raw path; status `Error` for a 5xx answer only (a 4xx is the client's
//! error and leaves it unset).
//!
//! What this replaces: nothing; an OpenTelemetry SDK would keep a span object alive through the
//! request, where here the ids are held by the request's future and the span is built once, at
//! the end, and only when sampled.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{HeaderMap, HeaderName};
use trace::{
    SpanContext, SpanId, SpanKind, SpanRecord, Status, TraceFlags, TraceId, TraceState, Tracer,
};

/// W3C Trace Context's `traceparent` header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// W3C Trace Context's `tracestate` header.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The method of a request whose method is none of HTTP's standard ones, as OpenTelemetry's
/// `http.request.method` spells it.
pub const OTHER_METHOD: &str = "_OTHER";

/// The trace context of one request, from its start to its answer.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    /// The server span's own context: the trace id, a new span id, the sampling decision.
    context: SpanContext,
    /// The caller's span, when the request carried a valid `traceparent`.
    parent: Option<SpanId>,
}

/// What the span says of the answered request (known only at the end).
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    /// `GET`, `POST`, ... or [`OTHER_METHOD`].
    pub method: &'static str,
    /// The matched route pattern; `None` when no route matched.
    pub route: Option<&'static str>,
    /// The request's path as received (the span's `url.path`).
    pub path: Option<&'a str>,
    /// The answer's status code.
    pub status: u16,
    /// The request id (printable ASCII).
    pub request_id: &'a [u8],
    /// The stable error code of an error answer.
    pub error_code: Option<&'static str>,
    /// How long the request took.
    pub elapsed: Duration,
    /// When it was answered.
    pub end: SystemTime,
}

impl RequestTrace {
    /// The context of a request with these headers. With a `tracer`, the new span's context
    /// under the caller's (as its sampler decides); without one, ids for the log only.
    pub fn begin(tracer: Option<&Tracer>, headers: &HeaderMap) -> RequestTrace {
        let traceparent = headers.get_all(&TRACEPARENT).map(|v| v.as_bytes());
        let Some(tracer) = tracer else {
            // Without export the trace state is never passed on: left unread.
            let parent = SpanContext::extract(traceparent, std::iter::empty());
            let (trace_id, span_id) = match &parent {
                Some(p) => (p.trace_id, SpanId::random()),
                None => (TraceId::random(), SpanId::random()),
            };
            return RequestTrace {
                context: SpanContext {
                    trace_id,
                    span_id,
                    flags: TraceFlags::NONE,
                    trace_state: TraceState::default(),
                },
                parent: parent.map(|p| p.span_id),
            };
        };
        let tracestate = headers.get_all(&TRACESTATE).map(|v| v.as_bytes());
        let parent = SpanContext::extract(traceparent, tracestate);
        RequestTrace {
            context: tracer.new_context(parent.as_ref()),
            parent: parent.map(|p| p.span_id),
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.context.trace_id
    }

    /// The server span's id.
    pub fn span_id(&self) -> SpanId {
        self.context.span_id
    }

    /// Whether the span is sampled: it is exported, and the latency histogram may keep its ids
    /// as an exemplar.
    pub fn is_sampled(&self) -> bool {
        self.context.is_sampled()
    }

    /// Hands the server span of the answered request to `tracer`'s queue when it is sampled
    /// (never waits: a full queue drops it and counts the drop).
    pub fn end(self, tracer: Option<&Tracer>, answered: &Answered<'_>) {
        let Some(tracer) = tracer else { return };
        if !self.is_sampled() {
            return;
        }
        tracer.record(self.into_span(answered));
    }

    /// The span of the answered request.
    fn into_span(self, a: &Answered<'_>) -> SpanRecord {
        let end = unix_nanos(a.end);
        let elapsed = u64::try_from(a.elapsed.as_nanos()).unwrap_or(u64::MAX);
        let name_method = if a.method == OTHER_METHOD {
            "HTTP"
        } else {
            a.method
        };
        let name: Cow<'static, str> = match a.route {
            Some(route) => format!("{name_method} {route}").into(),
            None => name_method.into(),
        };
        let mut attributes = Vec::with_capacity(8);
        attributes.push(("http.request.method".into(), a.method.into()));
        if let Some(route) = a.route {
            attributes.push(("http.route".into(), route.into()));
        }
        attributes.push((
            "http.response.status_code".into(),
            i64::from(a.status).into(),
        ));
        attributes.push(("url.scheme".into(), "http".into()));
        if let Some(path) = a.path {
            attributes.push(("url.path".into(), path.to_owned().into()));
        }
        attributes.push((
            "request.id".into(),
            String::from_utf8_lossy(a.request_id).into_owned().into(),
        ));
        if let Some(code) = a.error_code {
            attributes.push(("sumapi.error_code".into(), code.into()));
        }
        let status = if a.status >= 500 {
            let code = a.error_code.unwrap_or("HTTP_5XX");
            attributes.push(("error.type".into(), code.into()));
            Status::error(code)
        } else {
            Status::default()
        };
        SpanRecord {
            context: self.context,
            parent_span_id: self.parent,
            parent_is_remote: self.parent.is_some(),
            name,
            kind: SpanKind::Server,
            start_unix_nanos: end.saturating_sub(elapsed),
            end_unix_nanos: end,
            attributes,
            status,
        }
    }
}

/// `at` in nanoseconds since the Unix epoch (0 before it).
fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use trace::{AttributeValue, StatusCode};

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                (*name).clone(),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn answered(
        status: u16,
        route: Option<&'static str>,
        code: Option<&'static str>,
    ) -> Answered<'static> {
        Answered {
            method: "POST",
            route,
            path: Some("/api/v1/sum"),
            status,
            request_id: b"req-1",
            error_code: code,
            elapsed: Duration::from_millis(3),
            end: SystemTime::now(),
        }
    }

    #[test]
    fn without_a_tracer_the_callers_trace_id_is_kept_and_nothing_is_sampled() {
        let t = RequestTrace::begin(None, &headers(&[(&TRACEPARENT, PARENT)]));
        assert_eq!(t.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(t.span_id().to_string(), "00f067aa0ba902b7");
        assert!(!t.is_sampled(), "nothing is exported without a tracer");
        assert_eq!(
            t.parent.map(|p| p.to_string()).as_deref(),
            Some("00f067aa0ba902b7")
        );
        let fresh = RequestTrace::begin(None, &HeaderMap::new());
        let other = RequestTrace::begin(None, &HeaderMap::new());
        assert_ne!(fresh.trace_id(), other.trace_id());
        assert!(fresh.parent.is_none());
    }

    #[test]
    fn hostile_traceparents_start_a_new_trace() {
        let hostile = [
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "",
        ];
        for value in hostile {
            let t = RequestTrace::begin(None, &headers(&[(&TRACEPARENT, value)]));
            assert_ne!(
                t.trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{value:?}"
            );
            assert!(t.parent.is_none(), "{value:?}");
        }
        // A later version is read as far as version 00 goes (the spec's forward compatibility).
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future";
        let t = RequestTrace::begin(None, &headers(&[(&TRACEPARENT, later)]));
        assert_eq!(t.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let long = format!("01{}{}", &PARENT[2..], "-0".repeat(200));
        assert!(
            RequestTrace::begin(None, &headers(&[(&TRACEPARENT, &long)]))
                .parent
                .is_none()
        );
        // The header twice, even with the same value: no parent.
        let twice = headers(&[(&TRACEPARENT, PARENT), (&TRACEPARENT, PARENT)]);
        assert!(RequestTrace::begin(None, &twice).parent.is_none());
    }

    #[test]
    fn the_span_carries_the_route_status_request_id_and_error_code() {
        let t = RequestTrace {
            context: SpanContext::root(true),
            parent: Some(SpanId::random()),
        };
        let parent = t.parent;
        let span = t.clone().into_span(&answered(
            500,
            Some("/api/v1/sum"),
            Some("INTERNAL_SERVER_ERROR"),
        ));
        assert_eq!(span.name, "POST /api/v1/sum");
        assert_eq!(span.parent_span_id, parent);
        assert!(span.parent_is_remote);
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.end_unix_nanos - span.start_unix_nanos, 3_000_000);
        let attr = |key: &str| {
            span.attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            attr("http.request.method"),
            Some(AttributeValue::from("POST"))
        );
        assert_eq!(
            attr("http.route"),
            Some(AttributeValue::from("/api/v1/sum"))
        );
        assert_eq!(
            attr("http.response.status_code"),
            Some(AttributeValue::Int(500))
        );
        assert_eq!(
            attr("request.id"),
            Some(AttributeValue::from(String::from("req-1")))
        );
        assert_eq!(
            attr("sumapi.error_code"),
            Some(AttributeValue::from("INTERNAL_SERVER_ERROR"))
        );
        assert_eq!(span.status.code, StatusCode::Error);

        // A 4xx is the client's error: the code is there, the status stays unset.
        let span = t.clone().into_span(&answered(
            400,
            Some("/api/v1/sum"),
            Some("VALIDATION_ERROR"),
        ));
        assert_eq!(span.status.code, StatusCode::Unset);
        assert!(span.attributes.iter().all(|(k, _)| k != "error.type"));
        // No route: the method alone names it, and no http.route.
        let mut unmatched = answered(404, None, Some("NOT_FOUND"));
        let span = t.clone().into_span(&unmatched);
        assert_eq!(span.name, "POST");
        assert!(span.attributes.iter().all(|(k, _)| k != "http.route"));
        unmatched.method = OTHER_METHOD;
        assert_eq!(t.into_span(&unmatched).name, "HTTP");
    }
}
