//! The sum API: a drop-in replacement for the Go sum service, with exact sums, stable JSON
//! errors, Prometheus metrics on a separate port and graceful shutdown for rolling deploys.
//!
//! Data flow: [`config`] (flags with `SERVICE_` env fallbacks, validated before anything
//! binds) → [`server::start`] binds the public and the metrics listener and serves
//! [`app::app`], the factory that tests drive too. [`routes::ROUTES`] is the one list of
//! routes: the route table in [`mod@app`], the metrics' route labels, the origin guard's open paths
//! and the index are derived from it. A request passes one [`middleware`] layer:
//! [`request_id`] (keeps or makes `X-Request-ID`) → [`observe`] (the W3C trace context, metrics
//! from [`metrics`], the server span handed to the exporter when sampled, one log line with the
//! trace id) → [`origin_guard`] (gateway-bypass guard) → a handler in [`health`] or [`api`] →
//! [`error::explain`] (turns unexpected failures into the generic JSON 500). `api` checks the
//! body's headers, reads the numbers with [`numbers`] and calls [`sum`], the exact summation
//! that knows nothing of HTTP. Every failure is one [`error::ApiError`] variant: one status,
//! one stable code, one JSON shape. Handlers and middleware share one [`state::AppState`].
//! [`shutdown`] owns readiness and the drain; [`server::run`] ties it to SIGTERM/Ctrl-C.
//! [`healthcheck`] is the container health check client, [`logging`] the log setup, [`exit`]
//! the exit codes.
//!
//! [`http`] is the boundary behind which the hand-made HTTP machinery lives (connection
//! serving with deadlines, body reading, chunked handling, the JSON and log writers, the
//! histograms, the cached clock, the request's trace context and server span, the OpenMetrics
//! exposition): what it replaces and why is in its module doc. The domain
//! modules above call it; it calls none of them.

pub mod api;
pub mod app;
pub mod config;
pub mod error;
pub mod exit;
pub mod health;
pub mod healthcheck;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod numbers;
pub mod observe;
#[cfg(any(test, feature = "fuzzing"))]
pub mod oracles;
pub mod origin_guard;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod sum;

pub use app::{app, routes};
pub use config::Config;
pub use server::{RunningService, run, start};
pub use state::AppState;
