//! The sum API: a drop-in replacement for the Go sum service, with exact sums, stable JSON
//! errors, Prometheus metrics on a separate port and graceful shutdown for rolling deploys.
//!
//! Data flow: [`config`] (flags with `SERVICE_` env fallbacks, validated before anything
//! binds) → [`start`] binds the public and the metrics listener and serves [`app::app`], the
//! factory that tests drive too, through [`serve`] (actix's HTTP/1 service over connections
//! with a [`deadline`] for every request). A request passes one [`middleware`] layer:
//! [`request_id`] (keeps or makes `X-Request-ID`) → [`chunked`] (an unread chunked body
//! closes the connection) → [`observe`] (metrics from [`metrics`], one log line) →
//! [`origin_guard`] (gateway-bypass guard) → a handler in [`health`] or [`api`] →
//! [`error::explain`] (turns unexpected failures into the generic JSON 500); `api` checks
//! the body's headers, reads it whole with [`body`] (size limit, body timeout, no copy of a
//! one-chunk body), reads the numbers with [`numbers`] and calls [`sum`], the exact summation
//! that knows nothing of HTTP. [`json_text`] writes the JSON the hot path answers and logs.
//! Every failure is one [`error::ApiError`] variant: one status, one stable code, one JSON
//! shape. [`shutdown`] owns readiness and the drain; [`run`] ties it to SIGTERM/Ctrl-C.
//! [`healthcheck`] is the container health check client, [`logging`] the log setup.

pub mod api;
pub mod app;
pub mod body;
pub mod chunked;
pub mod clock;
pub mod config;
pub mod deadline;
pub mod error;
pub mod health;
pub mod healthcheck;
pub mod json_text;
pub mod logging;
pub mod metrics;
pub mod middleware;
pub mod numbers;
pub mod observe;
pub mod origin_guard;
pub mod request_id;
pub mod serve;
pub mod shutdown;
pub mod sum;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpResponse, web};
use anyhow::Context;
use tokio::task::JoinHandle;

pub use app::{AppState, app, routes};
pub use config::Config;

/// The metrics listener's keep-alive and first-request head timeout (actix's defaults).
const METRICS_KEEP_ALIVE: Duration = Duration::from_secs(5);
const METRICS_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A service that is serving on both listeners.
pub struct RunningService {
    addr: SocketAddr,
    metrics_addr: SocketAddr,
    state: AppState,
    api: ServerHandle,
    api_task: JoinHandle<std::io::Result<()>>,
    metrics_server: ServerHandle,
    metrics_task: JoinHandle<std::io::Result<()>>,
    drain: Duration,
    timeout: Duration,
}

impl RunningService {
    /// The bound address of the public API.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of the metrics listener (`GET /metrics`).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Shuts down as on SIGTERM: readiness turns 503 at once, everything is served for the
    /// drain period, then the listener stops accepting and open connections get the shutdown
    /// timeout to finish (idle keep-alive connections count as open until they close).
    /// Tests that do not exercise the drain want `--shutdown-drain 0s --shutdown-timeout 1s`.
    pub async fn shutdown(self) {
        self.state.readiness.begin_shutdown();
        tracing::info!(drain = ?self.drain, timeout = ?self.timeout, "shutdown began: readiness is 503, still serving during the drain");
        tokio::time::sleep(self.drain).await;
        tracing::info!("drain over: no longer accepting connections, finishing in-flight requests");
        if tokio::time::timeout(self.timeout, self.api.stop(true))
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?self.timeout, "in-flight requests did not finish in time; closing them");
            self.api.stop(false).await;
        }
        self.metrics_server.stop(false).await;
        for (name, task) in [("api", self.api_task), ("metrics", self.metrics_task)] {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(server = name, error = %e, "server ended with an error")
                }
                Err(e) => tracing::error!(server = name, error = %e, "server task failed"),
            }
        }
        tracing::info!("shutdown complete");
    }
}

/// Connections the kernel queues for a listener before the service accepts them (std's bind
/// fixes 128; a burst of new connections from the ALB after a deploy can exceed that).
const BACKLOG: i32 = 1024;

fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let listener = listen(addr, BACKLOG)
        .with_context(|| format!("cannot bind the {what} listener on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    Ok(listener)
}

/// A listening socket on `addr`, set up as std's `TcpListener::bind` does (`SO_REUSEADDR`),
/// with `backlog`.
fn listen(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Validates `config`, binds both listeners and returns once they serve.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    config.validate().context("invalid configuration")?;
    let metrics = metrics::Metrics::new(config.record_metrics);
    let state = AppState::new(
        metrics.clone(),
        config.max_body,
        config.body_timeout,
        &config.origin_secrets,
    );

    let api_listener = bind(config.listen, "API")?;
    let metrics_listener = bind(config.metrics_listen, "metrics")?;
    let addr = api_listener.local_addr().context("API listener address")?;
    let metrics_addr = metrics_listener
        .local_addr()
        .context("metrics listener address")?;

    // actix takes whole seconds; `shutdown` enforces the exact timeout itself.
    let actix_timeout = config.shutdown_timeout.as_secs().max(1) + 1;
    let app_state = state.clone();
    let api_settings = serve::Settings {
        workers: config.workers,
        keep_alive: config.keep_alive,
        request_timeout: config.body_timeout,
        // A head and a body, each within the body timeout: a slow body still gets its 408.
        answer_deadline: config.body_timeout.saturating_mul(2),
        shutdown_timeout_secs: actix_timeout,
        on_cut: cut_counter(&metrics, metrics::Listener::Api),
    };
    let api_server = serve::serve(api_listener, &api_settings, move || {
        app::app(app_state.clone())
    })
    .context("cannot serve the API listener")?;

    let exposition = metrics.clone();
    let metrics_settings = serve::Settings {
        workers: Some(1),
        keep_alive: METRICS_KEEP_ALIVE,
        request_timeout: METRICS_REQUEST_TIMEOUT,
        answer_deadline: METRICS_REQUEST_TIMEOUT.saturating_mul(2),
        shutdown_timeout_secs: 1,
        on_cut: cut_counter(&metrics, metrics::Listener::Metrics),
    };
    let metrics_server = serve::serve(metrics_listener, &metrics_settings, move || {
        App::new()
            .app_data(web::Data::new(exposition.clone()))
            .service(
                web::resource("/metrics")
                    .route(web::get().to(render_metrics))
                    .route(web::head().to(render_metrics))
                    .default_service(web::to(|| async {
                        HttpResponse::MethodNotAllowed()
                            .insert_header((header::ALLOW, "GET, HEAD"))
                            .body("only GET /metrics here\n")
                    })),
            )
            .default_service(web::to(|| async {
                HttpResponse::NotFound().body("only /metrics here\n")
            }))
    })
    .context("cannot serve the metrics listener")?;

    let api = api_server.handle();
    let metrics_handle = metrics_server.handle();
    tracing::info!(%addr, %metrics_addr, record_metrics = config.record_metrics, origin_guard = !config.origin_secrets.is_empty(), "serving");
    Ok(RunningService {
        addr,
        metrics_addr,
        state,
        api,
        api_task: tokio::spawn(api_server),
        metrics_server: metrics_handle,
        metrics_task: tokio::spawn(metrics_server),
        drain: config.shutdown_drain,
        timeout: config.shutdown_timeout,
    })
}

/// Counts the connections of `listener` that the service cuts.
fn cut_counter(
    metrics: &metrics::Metrics,
    listener: metrics::Listener,
) -> std::sync::Arc<dyn Fn(deadline::Cut) + Send + Sync> {
    let metrics = metrics.clone();
    std::sync::Arc::new(move |cut| metrics.connection_cut(listener, cut))
}

async fn render_metrics(metrics: web::Data<metrics::Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// What `main` runs: start, serve until SIGTERM/Ctrl-C, then shut down gracefully.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let service = start(config).await?;
    let signal = shutdown::signal()
        .await
        .context("cannot listen for shutdown signals")?;
    tracing::info!(signal, "shutdown signal received");
    service.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of `n` connections to a listener that never accepts complete their handshake
    /// within `wait` (all are held open until counted).
    fn queued(listener: &TcpListener, n: usize, wait: Duration) -> usize {
        let addr = listener.local_addr().expect("address");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut connects = tokio::task::JoinSet::new();
            for _ in 0..n {
                connects.spawn(tokio::time::timeout(
                    wait,
                    tokio::net::TcpStream::connect(addr),
                ));
            }
            let mut open = Vec::new();
            while let Some(done) = connects.join_next().await {
                if let Ok(Ok(Ok(stream))) = done {
                    open.push(stream);
                }
            }
            open.len()
        })
    }

    #[test]
    fn listeners_queue_a_burst_of_new_connections() {
        let local: SocketAddr = ([127, 0, 0, 1], 0).into();
        // The kernel caps every backlog at `somaxconn` (4096 on current kernels).
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(128);
        let burst = 300;
        let ours = listen(local, BACKLOG).expect("listener");
        // The kernel completes queued handshakes at once; the wait is for a busy test machine.
        assert!(queued(&ours, burst, Duration::from_secs(5)) >= burst.min(somaxconn));
        // The same burst against a small backlog: most connections wait for a retry.
        let small = listen(local, 16).expect("listener");
        // Refused connections retry after 1 s, and find the queue still full.
        let got = queued(&small, burst, Duration::from_millis(900));
        assert!(got < 100, "{got} of {burst} queued with a backlog of 16");
    }
}
