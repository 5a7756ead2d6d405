//! Per-request observation: the in-flight gauge, the request counter and latency histogram
//! (labelled with the matched route pattern, never the raw path), rejections by error code,
//! and one log line per request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};

use crate::app::AppState;
use crate::error::ErrorCode;
use crate::metrics::UNMATCHED_ROUTE;
use crate::request_id::RequestId;

/// Middleware: measures the request and logs it once it is answered.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let _in_flight = state.as_ref().and_then(|s| s.metrics.in_flight());
    let method = req.method().clone();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let client_ip = req
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("-")
        .to_owned();

    let result = next.call(req).await;
    let elapsed = start.elapsed();
    let (status, route, code) = match &result {
        Ok(res) => (
            res.status(),
            res.request().match_pattern(),
            res.response().extensions().get::<ErrorCode>().map(|c| c.0),
        ),
        Err(err) => (err.as_response_error().status_code(), None, None),
    };
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    if let Some(state) = &state {
        state
            .metrics
            .request(method.as_str(), &route, status.as_u16(), elapsed);
        if let Some(code) = code {
            state.metrics.rejected(code);
        }
    }
    let latency_ms = elapsed.as_secs_f64() * 1e3;
    if status.is_server_error() {
        tracing::error!(method = %method, route, status = status.as_u16(), latency_ms, request_id, client_ip, code, "request");
    } else {
        tracing::info!(method = %method, route, status = status.as_u16(), latency_ms, request_id, client_ip, code, "request");
    }
    result
}
