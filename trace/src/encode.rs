//! A batch of [`SpanRecord`]s as the body of an OTLP/HTTP export: an
//! `ExportTraceServiceRequest` in protobuf, built from `opentelemetry-proto`'s message types.
//! One resource (the process: `service.name` and the other resource attributes) and one
//! instrumentation scope (this crate) hold every span of the batch.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

use crate::span::{AttributeValue, SpanKind, SpanRecord, StatusCode};

/// The most attributes exported per span (OTel's default `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`);
/// the rest are counted in `dropped_attributes_count`.
pub const MAX_ATTRIBUTES: usize = 128;

/// OTLP's flag: the "parent is remote" bit below is known.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// OTLP's flag: the parent is in another process.
const FLAG_IS_REMOTE: u32 = 0x200;

/// The process's resource, made once and put on every batch.
#[derive(Clone, Debug)]
pub(crate) struct ResourceEncoder {
    resource: Resource,
    scope: InstrumentationScope,
}

impl ResourceEncoder {
    /// `service.name` first, then the other attributes (from `OTEL_RESOURCE_ATTRIBUTES`; a key
    /// `service.name` there is skipped, as `OTEL_SERVICE_NAME` wins).
    pub(crate) fn new(service_name: &str, attributes: &[(String, String)]) -> ResourceEncoder {
        let mut kvs = vec![string_kv("service.name", service_name)];
        kvs.extend(
            attributes
                .iter()
                .filter(|(k, _)| k != "service.name")
                .map(|(k, v)| string_kv(k, v)),
        );
        ResourceEncoder {
            resource: Resource {
                attributes: kvs,
                ..Resource::default()
            },
            scope: InstrumentationScope {
                name: env!("CARGO_PKG_NAME").to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                ..InstrumentationScope::default()
            },
        }
    }

    /// The request body for these spans.
    pub(crate) fn encode(&self, spans: &[SpanRecord]) -> Vec<u8> {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans: spans.iter().map(span).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        request.encode_to_vec()
    }
}

/// One span's message.
fn span(record: &SpanRecord) -> Span {
    let ctx = &record.context;
    let mut flags = u32::from(ctx.flags.to_byte());
    if record.parent_span_id.is_some() {
        flags |= FLAG_HAS_IS_REMOTE;
        if record.parent_is_remote {
            flags |= FLAG_IS_REMOTE;
        }
    }
    let kept = record.attributes.len().min(MAX_ATTRIBUTES);
    Span {
        trace_id: ctx.trace_id.to_bytes().to_vec(),
        span_id: ctx.span_id.to_bytes().to_vec(),
        trace_state: ctx.trace_state.as_str().to_owned(),
        parent_span_id: record
            .parent_span_id
            .map(|id| id.to_bytes().to_vec())
            .unwrap_or_default(),
        flags,
        name: record.name.to_string(),
        kind: match record.kind {
            SpanKind::Server => span::SpanKind::Server,
            SpanKind::Client => span::SpanKind::Client,
        } as i32,
        start_time_unix_nano: record.start_unix_nanos,
        end_time_unix_nano: record.end_unix_nanos,
        attributes: record.attributes[..kept]
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(any_value(v)),
                ..KeyValue::default()
            })
            .collect(),
        dropped_attributes_count: u32::try_from(record.attributes.len() - kept).unwrap_or(u32::MAX),
        status: Some(Status {
            message: record.status.message.to_string(),
            code: match record.status.code {
                StatusCode::Unset => 0,
                StatusCode::Ok => 1,
                StatusCode::Error => 2,
            },
        }),
        ..Span::default()
    }
}

fn any_value(value: &AttributeValue) -> AnyValue {
    AnyValue {
        value: Some(match value {
            AttributeValue::String(s) => Value::StringValue(s.to_string()),
            AttributeValue::Int(i) => Value::IntValue(*i),
            AttributeValue::Bool(b) => Value::BoolValue(*b),
        }),
    }
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::SpanContext;
    use crate::span::Status as SpanStatus;

    #[test]
    fn spans_decode_back_to_what_was_recorded() {
        let parent = SpanContext::extract(
            [b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".as_slice()],
            [b"congo=t61rcWkgMzE".as_slice()],
        )
        .expect("valid");
        let mut record = SpanRecord::start(
            parent.child(true),
            Some(&parent),
            "POST /sum",
            SpanKind::Server,
        );
        record.set("http.response.status_code", 500i64);
        record.set("http.route", "/sum");
        record.set("error", true);
        record.status = SpanStatus::error("internal");
        for i in 0..(MAX_ATTRIBUTES + 2) {
            record.set(format!("extra.{i}"), 1i64);
        }
        let encoder = ResourceEncoder::new(
            "sum-api",
            &[
                ("deployment.environment".into(), "dev".into()),
                ("service.name".into(), "ignored".into()),
            ],
        );
        let body = encoder.encode(std::slice::from_ref(&record));
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let rs = &request.resource_spans[0];
        let resource = rs.resource.as_ref().expect("resource");
        assert_eq!(resource.attributes.len(), 2);
        assert_eq!(resource.attributes[0], string_kv("service.name", "sum-api"));
        let ss = &rs.scope_spans[0];
        assert_eq!(ss.scope.as_ref().map(|s| s.name.as_str()), Some("trace"));
        let s = &ss.spans[0];
        assert_eq!(s.trace_id, parent.trace_id.to_bytes());
        assert_eq!(s.span_id, record.context.span_id.to_bytes());
        assert_eq!(s.parent_span_id, parent.span_id.to_bytes());
        assert_eq!(s.trace_state, "congo=t61rcWkgMzE");
        assert_eq!(s.flags, 0x301, "sampled, parent known to be remote");
        assert_eq!(s.kind, span::SpanKind::Server as i32);
        assert_eq!(s.name, "POST /sum");
        assert_eq!(s.start_time_unix_nano, record.start_unix_nanos);
        assert_eq!(s.attributes.len(), MAX_ATTRIBUTES);
        assert_eq!(s.dropped_attributes_count, 5);
        assert_eq!(
            s.attributes[0].value.as_ref().and_then(|v| v.value.clone()),
            Some(Value::IntValue(500))
        );
        assert_eq!(s.status.as_ref().map(|st| st.code), Some(2));

        let root = SpanRecord::start(SpanContext::root(true), None, "probe", SpanKind::Client);
        let body = encoder.encode(&[root]);
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("decodes");
        let s = &request.resource_spans[0].scope_spans[0].spans[0];
        assert!(s.parent_span_id.is_empty());
        assert_eq!(s.flags, 0x01);
        assert_eq!(s.kind, span::SpanKind::Client as i32);
    }
}
