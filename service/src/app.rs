//! The app factory used by `start` and by the in-process tests: the route table, built from
//! [`ROUTES`], and the one middleware layer ([`crate::middleware`]: request id → observe →
//! origin guard → handlers → JSON 500 safety net).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse, fn_service};
use actix_web::http::Method;
use actix_web::{App, Error, HttpRequest, HttpResponse, Responder, web};

use crate::error::ApiError;
use crate::routes::{self, Endpoint, ROUTES, Route};
use crate::state::AppState;
use crate::{api, health, middleware};

/// The route table: every route of [`ROUTES`] with its handler, and a 405 with `Allow` for
/// the methods it does not answer.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for route in &ROUTES {
        match route.endpoint {
            // The sum route is one plain service that dispatches on the method itself, rather
            // than a resource with a route per method: that saves a boxed future, the method
            // guards (each check stores the allowed methods in the request's extensions) and
            // the extractors on the hot path (see docs/performance.md). Same answers, same 405
            // with `Allow`.
            Endpoint::Sum => cfg.service(
                web::service(route.pattern)
                    .name(route.pattern)
                    .finish(fn_service(sum_endpoint)),
            ),
            Endpoint::Index => cfg.service(get_head(route, api::index)),
            Endpoint::Health => cfg.service(get_head(route, health::healthz)),
            Endpoint::Live => cfg.service(get_head(route, health::live)),
            Endpoint::Ready => cfg.service(get_head(route, health::ready)),
        };
    }
}

/// A resource for `route` that answers GET and HEAD with `handler`, and 405 otherwise.
fn get_head<F, Args>(route: &'static Route, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let allow = route.allow;
    web::resource(route.pattern)
        .name(route.pattern)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(move |r: HttpRequest| not_allowed(r, allow)))
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
            allow: routes::of(Endpoint::Sum).allow,
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
