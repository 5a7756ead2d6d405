//! A finished span as the exporter takes it: whose it is (its [`SpanContext`] and parent),
//! what it did (name, kind, attributes), when (start and end, Unix nanoseconds) and how it ended
//! (status). Plain data: the caller fills it at the end of the work and hands it to
//! [`crate::Tracer::record`].

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::context::SpanContext;
use crate::ids::SpanId;

/// What side of a request the span is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// Handling a request that came in (the service).
    Server,
    /// Sending a request and waiting for its answer (loadgen, the canary).
    Client,
}

/// An attribute's value: the OTLP types the toolkit needs.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// Text.
    String(Cow<'static, str>),
    /// A signed integer (status codes, counts).
    Int(i64),
    /// A flag.
    Bool(bool),
}

impl From<&'static str> for AttributeValue {
    fn from(value: &'static str) -> AttributeValue {
        AttributeValue::String(Cow::Borrowed(value))
    }
}

impl From<String> for AttributeValue {
    fn from(value: String) -> AttributeValue {
        AttributeValue::String(Cow::Owned(value))
    }
}

impl From<i64> for AttributeValue {
    fn from(value: i64) -> AttributeValue {
        AttributeValue::Int(value)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> AttributeValue {
        AttributeValue::Bool(value)
    }
}

/// How the span ended, as OTel's status codes say it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusCode {
    /// Not set: the default; a server span with a 4xx answer stays unset (OTel's HTTP
    /// conventions: the client's error, not the server's).
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed (a server span with a 5xx answer, a client span without a good answer).
    Error,
}

/// The span's status: a code and, for errors, a short message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: StatusCode,
    /// What went wrong, for [`StatusCode::Error`]; empty otherwise.
    pub message: Cow<'static, str>,
}

impl Status {
    /// An error with this message.
    pub fn error(message: impl Into<Cow<'static, str>>) -> Status {
        Status {
            code: StatusCode::Error,
            message: message.into(),
        }
    }
}

/// One finished span.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// The span's own context: trace id, span id, flags, trace state. Only sampled spans are
    /// exported.
    pub context: SpanContext,
    /// The parent span's id; `None` for the root of a trace.
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent is in another process (read from a request's `traceparent`).
    pub parent_is_remote: bool,
    /// The operation, low in cardinality (`POST /sum`: the route pattern, never the raw path).
    pub name: Cow<'static, str>,
    /// Server or client.
    pub kind: SpanKind,
    /// When the work began, in nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// When it ended, in nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// Attributes, in order; OTel's semantic convention names where one exists
    /// (`http.request.method`, `http.route`, `http.response.status_code`, ...).
    pub attributes: Vec<(Cow<'static, str>, AttributeValue)>,
    /// How it ended.
    pub status: Status,
}

impl SpanRecord {
    /// A span starting now, under `parent` (the caller's context from the request, if any):
    /// no attributes, unset status, ended when [`SpanRecord::end`] is called.
    pub fn start(
        context: SpanContext,
        parent: Option<&SpanContext>,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
    ) -> SpanRecord {
        let now = unix_nanos_now();
        SpanRecord {
            context,
            parent_span_id: parent.map(|p| p.span_id),
            parent_is_remote: parent.is_some(),
            name: name.into(),
            kind,
            start_unix_nanos: now,
            end_unix_nanos: now,
            attributes: Vec::new(),
            status: Status::default(),
        }
    }

    /// Adds an attribute.
    pub fn set(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<AttributeValue>) {
        self.attributes.push((key.into(), value.into()));
    }

    /// Marks the end as now.
    pub fn end(&mut self) {
        self.end_unix_nanos = unix_nanos_now().max(self.start_unix_nanos);
    }
}

/// Now, in nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_records_its_parent_attributes_and_times() {
        let parent = SpanContext::root(true);
        let ctx = parent.child(true);
        let mut span = SpanRecord::start(ctx.clone(), Some(&parent), "POST /sum", SpanKind::Server);
        span.set("http.route", "/sum");
        span.set("http.response.status_code", 200i64);
        span.set("request.id", String::from("r-1"));
        span.set("error", false);
        span.end();
        assert_eq!(span.parent_span_id, Some(parent.span_id));
        assert!(span.parent_is_remote);
        assert!(span.end_unix_nanos >= span.start_unix_nanos);
        assert!(
            span.start_unix_nanos > 1_600_000_000_000_000_000,
            "a real clock"
        );
        assert_eq!(span.attributes.len(), 4);
        assert_eq!(span.attributes[1].1, AttributeValue::Int(200));
        let root = SpanRecord::start(ctx, None, "probe", SpanKind::Client);
        assert_eq!(root.parent_span_id, None);
        assert!(!root.parent_is_remote);
        assert_eq!(Status::error("boom").code, StatusCode::Error);
        assert_eq!(Status::default().code, StatusCode::Unset);
    }
}
