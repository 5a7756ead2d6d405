//! The running service: [`start`] validates the configuration, binds the public and the
//! metrics listener and serves them ([`crate::http::serve`]), with the span exporter when
//! tracing is configured; [`RunningService::shutdown`] runs the drain for rolling deploys and
//! flushes the spans still queued; [`run`] ties it to SIGTERM/Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, web};
use anyhow::Context;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::state::AppState;
use crate::{app, http, metrics, shutdown};

/// The metrics listener's keep-alive and first-request head timeout (actix's defaults).
const METRICS_KEEP_ALIVE: Duration = Duration::from_secs(5);
const METRICS_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest shutdown waits for queued spans to be exported (less when
/// `--shutdown-timeout` is shorter); what is still queued then is counted as dropped.
const TRACE_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// The default `service.name` of exported spans (`OTEL_SERVICE_NAME` overrides it).
pub const SERVICE_NAME: &str = "sum-api";

/// What the metrics listener serves from: the registry and the tracer's span counts.
#[derive(Clone)]
struct Exposition {
    metrics: metrics::Metrics,
    tracer: Option<trace::Tracer>,
}
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
        if let Some(tracer) = self.state.tracer.clone() {
            let limit = self.timeout.min(TRACE_FLUSH_LIMIT);
            match tokio::task::spawn_blocking(move || tracer.shutdown(limit)).await {
                Ok(spans) => tracing::info!(
                    exported = spans.exported,
                    dropped = spans.dropped,
                    failed = spans.failed,
                    "span export finished"
                ),
                Err(e) => tracing::error!(error = %e, "span export did not finish"),
            }
        }
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

/// Validates `config`, binds both listeners and returns once they serve.
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    config.validate().context("invalid configuration")?;
    let metrics = metrics::Metrics::new(config.record_metrics);
    let mut state = AppState::new(
        metrics.clone(),
        config.max_body,
        config.body_timeout,
        &config.origin_secrets,
    );
    state.one_answer_per_connection = config.keep_alive.is_zero();
    state.tracer = match config.trace.clone() {
        Some(trace) => trace::Tracer::start(trace).context("cannot start span export")?,
        None => None,
    };
    match (
        &state.tracer,
        config.trace.as_ref().and_then(|t| t.endpoint.as_ref()),
    ) {
        (Some(tracer), Some(endpoint)) => tracing::info!(
            endpoint = %endpoint,
            sampler = %tracer.sampler(),
            "exporting spans over OTLP/HTTP"
        ),
        _ => tracing::info!(
            "span export off (no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)"
        ),
    }

    let api_listener = http::serve::bind(config.listen, "API")?;
    let metrics_listener = http::serve::bind(config.metrics_listen, "metrics")?;
    let addr = api_listener.local_addr().context("API listener address")?;
    let metrics_addr = metrics_listener
        .local_addr()
        .context("metrics listener address")?;

    // actix takes whole seconds; `shutdown` enforces the exact timeout itself.
    let actix_timeout = config.shutdown_timeout.as_secs().max(1) + 1;
    let app_state = state.clone();
    let api_settings = http::serve::Settings {
        workers: config.workers,
        keep_alive: config.keep_alive,
        request_timeout: config.body_timeout,
        // A head and a body, each within the body timeout: a slow body still gets its 408.
        answer_deadline: config.body_timeout.saturating_mul(2),
        read_budget: http::budget::for_body(config.max_body),
        continue_limit: config.max_body as u64,
        shutdown_timeout_secs: actix_timeout,
        on_cut: cut_counter(&metrics, metrics::Listener::Api),
    };
    let api_server = http::serve::serve(api_listener, &api_settings, move || {
        app::app(app_state.clone())
    })
    .context("cannot serve the API listener")?;

    let exposition = Exposition {
        metrics: metrics.clone(),
        tracer: state.tracer.clone(),
    };
    let metrics_settings = http::serve::Settings {
        workers: Some(1),
        keep_alive: METRICS_KEEP_ALIVE,
        request_timeout: METRICS_REQUEST_TIMEOUT,
        answer_deadline: METRICS_REQUEST_TIMEOUT.saturating_mul(2),
        // Its routes read no body: none is invited, and a request is its head.
        read_budget: http::budget::for_body(0),
        continue_limit: 0,
        shutdown_timeout_secs: 1,
        on_cut: cut_counter(&metrics, metrics::Listener::Metrics),
    };
    let metrics_server = http::serve::serve(metrics_listener, &metrics_settings, move || {
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
) -> std::sync::Arc<dyn Fn(http::deadline::Cut) + Send + Sync> {
    let metrics = metrics.clone();
    std::sync::Arc::new(move |cut| metrics.connection_cut(listener, cut))
}

/// `GET /metrics`: the Prometheus text, or OpenMetrics (with exemplars) when the scraper's
/// `Accept` prefers it.
async fn render_metrics(req: HttpRequest, exposition: web::Data<Exposition>) -> HttpResponse {
    let accept = req.headers().get_all(header::ACCEPT).map(|v| v.as_bytes());
    let format = http::openmetrics::negotiate(accept);
    let spans = exposition.tracer.as_ref().map(trace::Tracer::counts);
    HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::VARY, "Accept"))
        .body(exposition.metrics.render_as(format, spans))
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
