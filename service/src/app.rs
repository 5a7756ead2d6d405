//! The app factory used by `start` and by the in-process tests: shared state, the route
//! table, and the one middleware layer ([`crate::middleware`]: request id → observe → origin
//! guard → handlers → JSON 500 safety net).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse, fn_service};
use actix_web::http::Method;
use actix_web::{App, Error, HttpRequest, HttpResponse, web};

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::shutdown::Readiness;
use crate::{api, health, middleware};

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
        }
    }
}

/// Methods allowed on the health and index routes.
const GET_HEAD: &str = "GET, HEAD";
/// Methods allowed on the sum route.
const GET_HEAD_POST: &str = "GET, HEAD, POST";

/// Every route pattern; each resource is also named by its pattern, so that the metrics can
/// read the route label without allocating.
pub const ROUTES: [&str; 5] = [
    "/",
    "/healthz",
    "/healthz/live",
    "/healthz/ready",
    "/api/v1/sum",
];

/// The route table: every route with its methods, and a 405 with `Allow` for the rest.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // The sum route first: the router tries resources in order and it is the hot path. It is
    // one plain service that dispatches on the method itself, rather than a resource with a
    // route per method: that saves a boxed future, the method guards (each check stores the
    // allowed methods in the request's extensions) and the extractors, ~4% of the service's
    // CPU per request in the benchmark. Same answers, same 405 with `Allow`.
    cfg.service(
        web::service("/api/v1/sum")
            .name("/api/v1/sum")
            .finish(fn_service(sum_endpoint)),
    )
    .service(
        web::resource("/")
            .name("/")
            .route(web::get().to(api::index))
            .route(web::head().to(api::index))
            .default_service(web::to(|r: HttpRequest| not_allowed(r, GET_HEAD))),
    )
    .service(
        web::resource("/healthz")
            .name("/healthz")
            .route(web::get().to(health::healthz))
            .route(web::head().to(health::healthz))
            .default_service(web::to(|r: HttpRequest| not_allowed(r, GET_HEAD))),
    )
    .service(
        web::resource("/healthz/live")
            .name("/healthz/live")
            .route(web::get().to(health::live))
            .route(web::head().to(health::live))
            .default_service(web::to(|r: HttpRequest| not_allowed(r, GET_HEAD))),
    )
    .service(
        web::resource("/healthz/ready")
            .name("/healthz/ready")
            .route(web::get().to(health::ready))
            .route(web::head().to(health::ready))
            .default_service(web::to(|r: HttpRequest| not_allowed(r, GET_HEAD))),
    );
}

/// `/api/v1/sum`: POST sums, GET and HEAD explain how, anything else is a 405.
async fn sum_endpoint(req: ServiceRequest) -> Result<ServiceResponse, Error> {
    let (req, payload) = req.into_parts();
    let res = match (req.method(), req.app_data::<web::Data<AppState>>()) {
        (&Method::POST, Some(state)) => api::sum(&req, payload, state).await,
        (&Method::GET | &Method::HEAD, Some(state)) => api::sum_help(state),
        (&Method::POST | &Method::GET | &Method::HEAD, None) => {
            ApiError::Internal("the app has no state".into()).respond(&req)
        }
        _ => ApiError::MethodNotAllowed {
            allow: GET_HEAD_POST,
        }
        .respond(&req),
    };
    Ok(ServiceResponse::new(req, res))
}

async fn not_allowed(req: HttpRequest, allow: &'static str) -> HttpResponse {
    ApiError::MethodNotAllowed { allow }.respond(&req)
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::NotFound.respond(&req)
}

/// The whole application for `state`: what `start` serves and what the tests drive.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state.clone()))
        .configure(routes)
        .default_service(web::to(not_found))
        .wrap(middleware::Middleware::new(state))
}
