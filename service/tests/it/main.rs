//! The service's black-box tests, in one test binary (built and linked once, not once per file),
//! a module per concern:
//!
//! - [`api`]: the HTTP contract in-process, through the app factory `start` serves, and over
//!   loopback sockets with raw bytes for hostile input.
//! - [`connections`]: what a connection takes and when it ends, over raw sockets: chunked
//!   framing within the byte budget, no `100 Continue` for a body over the limit, nothing
//!   answered behind an answer that ends the connection.
//! - [`binary`]: the real `service` binary: logs, metrics checked by `promtool`, graceful
//!   shutdown, configuration errors and the `healthcheck` subcommand.
//! - [`tracing`]: the real binary exporting spans to a real OTLP receiver: W3C trace context in,
//!   one server span per sampled request, trace ids in the log, hostile `traceparent` values
//!   ignored, a refused or stalled collector under load, exemplars in OpenMetrics.
//! - [`fuzz_corpus`]: the fuzz corpus of whole requests (`fuzz/corpus/requests`), replayed on
//!   stable through the app.

mod api;
mod binary;
#[path = "../common/mod.rs"]
mod common;
mod connections;
mod fuzz_corpus;
mod tracing;
