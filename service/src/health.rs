//! Health endpoints, shaped as the old service's: `/healthz` (self-checks), `/healthz/live`
//! (the process serves) and `/healthz/ready` (503 once shutdown has begun).

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::http::clock;
use crate::request_id;
use crate::state::AppState;

/// The version reported by every health answer.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `GET /healthz`: 200 `healthy` when every self-check passes, 503 `unhealthy` otherwise.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    // The one thing this service can get wrong on its own is arithmetic.
    let sum_ok = crate::sum::exact_sum(&[1e16, 1.0, -1e16]) == Some(1.0);
    let healthy = sum_ok;
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "timestamp": clock::now_rfc3339(),
        "version": VERSION,
        "uptime": clock::uptime_since(state.started),
        "checks": { "exact_sum": if sum_ok { "ok" } else { "failed" } },
        "request_id": request_id::current_text(),
    });
    if healthy {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /healthz/live`: 200 while the process serves requests.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "alive",
        "timestamp": clock::now_rfc3339(),
        "request_id": request_id::current_text(),
    }))
}

/// `GET /healthz/ready`: 200 `ready`, or 503 `not_ready` once shutdown has begun.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let ready = state.readiness.is_ready();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "timestamp": clock::now_rfc3339(),
        "request_id": request_id::current_text(),
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
