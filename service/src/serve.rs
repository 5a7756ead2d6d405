//! Serving an app on a listener: actix-http's HTTP/1.1 service set up as actix-web's
//! `HttpServer::listen` sets it up (the same defaults), over connections that give every
//! request a deadline ([`crate::deadline`]), which `HttpServer` has no place for.

use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive, Protocol, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt, fn_service, map_config,
};
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::AppConfig;

use crate::deadline::{Cut, Deadlined, OnCut};

/// How one listener is served.
#[derive(Clone)]
pub struct Settings {
    /// Worker threads; `None`: one per CPU, as actix's default.
    pub workers: Option<usize>,
    /// How long an idle connection is kept open (zero: closed after each answer).
    pub keep_alive: Duration,
    /// How long a connection's first request head may take (actix's `client_request_timeout`).
    pub request_timeout: Duration,
    /// How long any request may go unanswered after its first byte ([`Deadlined`]).
    pub answer_deadline: Duration,
    /// actix's own bound on finishing in-flight requests once stopped, whole seconds.
    pub shutdown_timeout_secs: u64,
    /// Told of every connection cut: by the deadline, or for a request that is not HTTP
    /// (for the metrics).
    pub on_cut: Arc<dyn Fn(Cut) + Send + Sync>,
}

/// Starts serving `listener` with apps from `factory` (called once per worker).
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    settings: &Settings,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let settings = settings.clone();
    let mut builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    let (keep_alive, request_timeout, deadline) = (
        settings.keep_alive,
        settings.request_timeout,
        settings.answer_deadline,
    );
    let idle = (!keep_alive.is_zero()).then_some(keep_alive);
    let report = settings.on_cut.clone();
    builder = builder.listen(format!("sum-api-{addr}"), listener, move || {
        let shutdown = shutdown.clone();
        // One per worker: a connection's handle to it is not atomically counted.
        let report = report.clone();
        let on_cut: OnCut = Rc::new(move |cut| report(cut));
        let app = factory()
            .into_factory()
            .map_err(|err| err.into().error_response());
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let signal = shutdown.clone();
                async move { signal.notified().await }
            })
            // Idle connections are timed by `Deadlined` (see there for why): actix only
            // needs to know whether to keep them.
            .keep_alive(if idle.is_some() {
                KeepAlive::Os
            } else {
                KeepAlive::Disabled
            })
            .client_request_timeout(request_timeout)
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            // Placeholders (`localhost:8080`, not the listener's address; actix's own
            // constructor is private): read only by `connection_info()` for a request without
            // a Host header, `url_for` and `app_config()`, none of which the service uses.
            .finish(map_config(app, |()| AppConfig::default()));
        let malformed = on_cut.clone();
        let http = http.map_err(move |err| {
            // actix has answered it with an empty 400 or 431 and logged it; counted here.
            if let DispatchError::Parse(_) = err {
                malformed(Cut::MalformedRequest);
            }
            err
        });
        fn_service(move |io: actix_web::rt::net::TcpStream| {
            let peer = io.peer_addr().ok();
            let io = Deadlined::new(io, deadline, idle, &on_cut);
            async move { Ok::<_, DispatchError>((io, Protocol::Http1, peer)) }
        })
        .and_then(http)
    })?;
    if let Some(workers) = settings.workers {
        builder = builder.workers(workers);
    }
    Ok(builder
        .shutdown_timeout(settings.shutdown_timeout_secs)
        .disable_signals()
        .run())
}
