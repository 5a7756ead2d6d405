//! Helpers shared by the black-box tests of several workspace crates; a dev-dependency only.
//!
//! [`http_stub`] is a scripted HTTP/1.1 server on a free loopback port: it parses each request,
//! records it, asks the test's handler for the reply and writes that back. The canary's tests use
//! it as a target that fails, stalls or answers garbage on demand; the gateway's tests use it as
//! the upstream that echoes what the gateway forwarded.
//!
//! [`raw_http`] parses responses read off a raw socket, for tests that send hostile bytes.
//!
//! [`refused_port`] reserves a loopback port that refuses connections for as long as a test
//! holds it, for "the upstream is down" without racing other tests for the port.

pub mod http_stub;
pub mod raw_http;
pub mod refused_port;

pub use refused_port::RefusedPort;
