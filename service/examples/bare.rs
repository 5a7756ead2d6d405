//! The benchmark's baseline: a bare actix-web handler that answers every `POST /api/v1/sum`
//! with a fixed JSON body (no parsing, no middleware, no metrics, no logs). It does read the
//! body to the end, as the service does: a handler that leaves it unread makes actix close
//! the connection after each answer, turning the baseline into a reconnect benchmark. The
//! server settings are the service's defaults (keep-alive, request timeout, read from its
//! config): only the request handling differs between the two.
//!
//! With a third argument `no-keep-alive-timer`, kept-alive connections are never timed out
//! (actix's `KeepAlive::Os`): no server should run so, but it shows what actix's keep-alive
//! timer costs the baseline, since the service times idle connections its own, cheaper way.
//!
//! Usage: `bare ADDR [WORKERS] [no-keep-alive-timer]`, e.g. `bare 127.0.0.1:18081 1`.

use actix_web::http::KeepAlive;
use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"sum":55,"count":10,"numbers":[1,2,3,4,5,6,7,8,9,10],"timestamp":"2026-01-01T00:00:00.000Z","request_id":"00000000000000000000000000000000"}"#;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18081".into());
    let workers = args.next().and_then(|w| w.parse().ok()).unwrap_or(1);
    // A misspelt third argument must not quietly measure the other variant.
    let keep_alive_timer = match args.next().as_deref() {
        None => true,
        Some("no-keep-alive-timer") => false,
        Some(other) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("usage: bare ADDR [WORKERS] [no-keep-alive-timer], not {other:?}"),
            ));
        }
    };
    // The service's own defaults (keep-alive, request timeout), so that only the handling
    // differs between the servers the benchmark compares.
    let defaults = service::Config::loopback(&[]).expect("the service's defaults parse");
    HttpServer::new(|| {
        App::new().route(
            "/api/v1/sum",
            web::post().to(|body: web::Payload| async {
                // Read to the end of the stream, as the service does (see the module comment).
                let _ = body.to_bytes_limited(64 * 1024).await;
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(BODY)
            }),
        )
    })
    .workers(workers)
    .keep_alive(if keep_alive_timer {
        KeepAlive::Timeout(defaults.keep_alive)
    } else {
        KeepAlive::Os
    })
    .client_request_timeout(defaults.body_timeout)
    .bind(addr)?
    .run()
    .await
}
