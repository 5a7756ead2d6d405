//! What the handlers and the middleware share: one [`AppState`] per running service.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::Metrics;
use crate::shutdown::Readiness;

/// Everything the handlers and middleware share.
#[derive(Clone)]
pub struct AppState {
    /// The service's metrics registry.
    pub metrics: Metrics,
    /// Readiness, flipped when shutdown begins.
    pub readiness: Readiness,
    /// Largest accepted body in bytes.
    pub max_body: usize,
    /// How long a client may take to send the body.
    pub body_timeout: Duration,
    /// Accepted `X-Origin-Secret` values; empty turns the guard off.
    pub origin_secrets: Arc<[Vec<u8>]>,
    /// When the service started, for the uptime in `/healthz`.
    pub started: Instant,
    /// Every connection ends after its first answer (`--keep-alive 0s`), with nothing pipelined
    /// behind it answered.
    pub one_answer_per_connection: bool,
    /// Sampling and span export; `None` when no OTLP endpoint is configured (then requests
    /// still get trace ids for their log lines, and nothing is exported).
    pub tracer: Option<trace::Tracer>,
}

impl AppState {
    /// State for the given settings, with fresh readiness (ready).
    pub fn new(
        metrics: Metrics,
        max_body: usize,
        body_timeout: Duration,
        origin_secrets: &[String],
    ) -> Self {
        Self {
            readiness: Readiness::new(metrics.clone()),
            metrics,
            max_body,
            body_timeout,
            origin_secrets: origin_secrets
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            started: Instant::now(),
            one_answer_per_connection: false,
            tracer: None,
        }
    }
}
