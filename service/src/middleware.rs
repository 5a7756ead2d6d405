//! The service's one middleware layer, in this order: assign the request id
//! ([`request_id::assign`]) → start observing ([`observe::Observation`]) → the gateway-bypass
//! guard ([`origin_guard::allows`], 403 without calling a handler) → the handler → the JSON 500
//! safety net ([`error::explain`]) → metrics and the log line → echo `X-Request-ID`.
//!
//! One layer rather than one per concern: each layer of actix's `from_fn` boxes two futures
//! and adds a dynamic call per request, which showed in the benchmark.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::app::AppState;
use crate::{error, observe, origin_guard, request_id};

/// The middleware: wraps every route and the default service.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    request_id::assign(&req);
    let data = req.app_data::<web::Data<AppState>>().cloned();
    let state = data.as_ref().map(|d| d.get_ref());
    let observation = observe::Observation::start(&req, state);
    let mut result = if origin_guard::allows(&req, state) {
        // `Err`s from inner services carry no request to answer with (ours never return one)
        // and keep actix's own handling, as before.
        next.call(req).await.map(error::explain)
    } else {
        Ok(origin_guard::forbid(req).map_into_right_body())
    };
    observation.finish(&result);
    if let Ok(res) = &mut result {
        request_id::echo(res);
    }
    result
}
