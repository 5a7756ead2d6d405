//! A second reference point for the benchmark: `POST /api/v1/sum` as a plain actix-web handler
//! is usually written. It reads `{"numbers":[...]}` with the `web::Json` extractor (serde),
//! adds the numbers with `Iterator::sum` (not correctly rounded), and answers the service's
//! shape (`sum`, `count`, `numbers`, `timestamp`, `request_id`) with `HttpResponse::json`; no
//! validation beyond serde's, no metrics, no logs, no request id header, no origin check.
//! Same server settings as `bare`: the service's defaults.
//!
//! Usage: `plain ADDR [WORKERS]`, e.g. `plain 127.0.0.1:18082 1`.

use std::time::SystemTime;

use actix_web::{App, HttpResponse, HttpServer, web};
use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct SumRequest {
    numbers: Vec<f64>,
}

#[derive(Serialize)]
struct SumResponse {
    sum: f64,
    count: usize,
    numbers: Vec<f64>,
    timestamp: String,
    request_id: String,
}

async fn sum(request: web::Json<SumRequest>) -> HttpResponse {
    let numbers = request.into_inner().numbers;
    HttpResponse::Ok().json(SumResponse {
        sum: numbers.iter().sum(),
        count: numbers.len(),
        numbers,
        timestamp: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        request_id: format!("{:032x}", rand::rng().random::<u128>()),
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18082".into());
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    // The service's own defaults (keep-alive, request timeout), so that only the handling
    // differs between the servers the benchmark compares.
    let defaults = service::Config::loopback(&[]).expect("the service's defaults parse");
    HttpServer::new(|| App::new().route("/api/v1/sum", web::post().to(sum)))
        .workers(workers)
        .keep_alive(defaults.keep_alive)
        .client_request_timeout(defaults.body_timeout)
        .bind(addr)?
        .run()
        .await
}
