//! The one home of the helpers that the workspace's black-box tests share; a dev-dependency only.
//! A crate's `tests/common` keeps what is its own (its binary, its fixtures, its assertions) and
//! takes these from here.
//!
//! - [`corpus`]: a fuzz target's corpus, read for replay by the tests.
//! - [`otlp`]: a real OTLP/HTTP trace receiver (Python's `opentelemetry-proto`) that decodes what
//!   an exporter sends, and answers 503 or stalls on demand.
//! - [`ports`]: a loopback port that is free right now, for a server started in another process,
//!   and one that refuses connections while the test holds it ("the upstream is down").
//! - [`tempdir`]: a fresh, empty directory per test, unique across parallel tests and processes.
//! - [`stub`]: a scripted HTTP/1.1 server on the test's runtime that records each request and
//!   answers what the test's handler says (fails, stalls, garbage on demand; an upstream that
//!   echoes what a proxy forwarded), and the request reader for a crate's own test servers.
//! - [`server`]: a loopback TCP server on a thread and runtime of its own, for synchronous tests
//!   and for servers whose work must not count as the test's; also one that never answers.
//! - [`raw`]: raw HTTP/1.1 exchanges over a socket, for bytes no HTTP client would send, and the
//!   parser of the responses read back.
//! - [`process`]: child processes in other processes (servers, tools), their output in files,
//!   stopped when dropped.
//! - [`nginx`]: nginx on a free loopback port with a configuration of the test's.
//! - [`nginx_lb`]: nginx as an ALB stand-in over loopback targets, registered and deregistered by
//!   reloads; [`target_health`]: the target group's active health checks beside it.

pub mod corpus;
pub mod nginx;
pub mod nginx_lb;
pub mod otlp;
pub mod ports;
pub mod process;
pub mod raw;
pub mod server;
pub mod stub;
pub mod target_health;
pub mod tempdir;
