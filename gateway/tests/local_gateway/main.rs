//! The local gateway against Kong's documented answers, on free loopback ports. Needs nginx and
//! libnginx-mod-http-lua (installed by scripts/deps/apt.sh); a missing one fails the tests.

#![allow(clippy::unwrap_used)]

mod binary;
#[path = "../common/mod.rs"]
mod common;
mod credentials;
mod kong_answers;
mod lifecycle;
mod policy;
mod service;
mod tracing;

use std::time::Duration;

use common::header;
use gateway::{LocalGateway, LocalGatewayBuilder};

pub(crate) const CANARY: &str = "canary-test-key";
pub(crate) const CUSTOMER: &str = "customer-test-key";
pub(crate) const LOADGEN: &str = "loadgen-test-key";
pub(crate) const ORIGIN: &str = "origin-test-secret";

pub(crate) fn builder(upstream: std::net::SocketAddr) -> LocalGatewayBuilder {
    builder_for(gateway::Policy::committed().unwrap(), upstream)
}

/// [`builder`] for another policy (e.g. the committed one with a field changed).
pub(crate) fn builder_for(
    policy: gateway::Policy,
    upstream: std::net::SocketAddr,
) -> LocalGatewayBuilder {
    LocalGateway::builder(policy)
        .upstream(upstream)
        .consumer_keys([
            ("canary", CANARY),
            ("example-customer", CUSTOMER),
            ("loadgen", LOADGEN),
        ])
        .origin_secret(ORIGIN)
}

pub(crate) fn start(b: LocalGatewayBuilder) -> LocalGateway {
    match b.start() {
        Ok(g) => g,
        Err(e) => panic!("local gateway failed to start (install with scripts/deps/apt.sh): {e}"),
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) async fn get(gw: &LocalGateway, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut req = client().get(format!("{}{path}", gw.base_url()));
    if let Some(k) = key {
        req = req.header("apikey", k);
    }
    req.send().await.unwrap()
}

pub(crate) async fn kong_error(resp: reqwest::Response, status: u16, message: &str) {
    assert_eq!(resp.status().as_u16(), status);
    assert_eq!(
        header(&resp, "content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    let request_id = header(&resp, "x-kong-request-id").expect("X-Kong-Request-Id");
    assert!(header(&resp, "x-kong-response-latency").is_some());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["message"], message);
    assert_eq!(
        body["request_id"],
        request_id.as_str(),
        "body and header request id agree"
    );
}
