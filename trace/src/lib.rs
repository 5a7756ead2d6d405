//! Distributed tracing for the toolkit's binaries: W3C Trace Context in and out, sampling as the
//! OpenTelemetry variables configure it, and spans exported over OTLP/HTTP without ever making
//! a request wait.
//!
//! Data flow: a request's `traceparent`/`tracestate` headers become the parent
//! [`SpanContext`] ([`SpanContext::extract`]; hostile values are ignored, never an error); the
//! [`Tracer`] makes the new span's context under it and samples it ([`Tracer::new_context`],
//! [`Sampler`]); the caller's work ends in a [`SpanRecord`] handed to [`Tracer::record`], a
//! `try_send` into a bounded queue; the export thread batches the queue, encodes each batch as
//! OTLP protobuf and posts it to the collector, counting every span as exported, dropped or
//! failed ([`ExportCounts`]). Clients without a tracer use [`SpanContext::root`] and
//! [`SpanContext::traceparent`] to send a trace context of their own.
//!
//! Modules, in the order they depend on each other:
//! - [`ids`]: trace and span ids, random and hex.
//! - [`traceparent`] and [`tracestate`]: the two headers, read by the spec's rules and written.
//! - [`context`]: a span's context, extracted from headers or made new.
//! - [`sampler`]: the sampling decision.
//! - [`span`]: the finished span record.
//! - [`env`](mod@env) and [`config`]: the OTel environment variables, read into a [`Config`] with
//!   warnings for what was ignored.
//! - [`counters`]: what became of the spans.
//! - `encode`, `transport` and `export`: the protobuf body, the HTTP request, and the export
//!   thread's batching loop (internal).
//! - [`tracer`]: the handle that ties sampling and the queue together.
//!
//! docs/tracing.md describes the variables, the queue's drop semantics and what is exported.

pub mod config;
pub mod context;
pub mod counters;
mod encode;
pub mod env;
mod export;
pub mod ids;
pub mod sampler;
pub mod span;
pub mod traceparent;
pub mod tracer;
pub mod tracestate;
mod transport;

pub use config::{Config, Loaded};
pub use context::SpanContext;
pub use counters::ExportCounts;
pub use encode::MAX_ATTRIBUTES;
pub use env::Warning;
pub use ids::{SpanId, TraceId};
pub use sampler::{Ratio, RootSampler, Sampler};
pub use span::{AttributeValue, SpanKind, SpanRecord, Status, StatusCode, unix_nanos_now};
pub use traceparent::{TraceFlags, TraceParent, TraceParentError};
pub use tracer::{StartError, Tracer};
pub use tracestate::TraceState;
