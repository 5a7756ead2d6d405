//! Serving an app on a listener: actix-http's HTTP/1.1 service set up as actix-web's
//! `HttpServer::listen` sets it up (the same defaults), over connections that give every
//! request a deadline ([`crate::http::deadline`]) and a byte budget ([`crate::http::budget`]),
//! and that requests can end after their answer ([`crate::http::close`]), none of which
//! `HttpServer` has a place for. A request announcing a body over [`Settings::continue_limit`]
//! with `Expect: 100-continue` is answered by the app at once, without the `100 Continue` that
//! actix otherwise sends before the app sees the request.

use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::header::CONTENT_LENGTH;
use actix_http::{Extensions, HttpMessage, HttpService, KeepAlive, Protocol, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt, fn_factory, fn_service,
    map_config,
};
use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;
use anyhow::Context;

use crate::http::budget::Budgeted;
use crate::http::close;
use crate::http::deadline::{Cut, Deadlined, OnCut};

/// A connection as the service serves it.
type Connection = Budgeted<Deadlined<TcpStream>>;

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
    /// How many bytes a connection may read between two answers ([`Budgeted`]).
    pub read_budget: u64,
    /// The largest `Content-Length` that gets a `100 Continue` when the request expects one;
    /// a longer one is answered by the app at once (the body it announces is never invited).
    pub continue_limit: u64,
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
    let (read_budget, continue_limit) = (settings.read_budget, settings.continue_limit);
    let report = settings.on_cut.clone();
    builder = builder.listen(format!("sum-api-{addr}"), listener, move || {
        let shutdown = shutdown.clone();
        // One per worker: a connection's handle to it is not atomically counted.
        let report = report.clone();
        let on_cut: OnCut = Rc::new(move |cut| report(cut));
        let app = factory()
            .into_factory()
            .map_err(|err| err.into().error_response());
        // A second instance of the app, for the requests answered instead of continued.
        let expecting = factory.clone();
        let expect = fn_factory(move || {
            let app = expecting().into_factory().new_service(AppConfig::default());
            async move {
                let app = Rc::new(app.await?);
                Ok::<_, S::InitError>(fn_service(move |req: Request| {
                    let app = app.clone();
                    async move { continue_or_answer(&*app, continue_limit, req).await }
                }))
            }
        });
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let signal = shutdown.clone();
                close::signal(async move { signal.notified().await })
            })
            .on_connect_ext(|io: &Connection, ext: &mut Extensions| {
                io.register(ext);
                close::attach(ext);
            })
            .expect(expect)
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
        fn_service(move |io: TcpStream| {
            let peer = io.peer_addr().ok();
            let io: Connection =
                Budgeted::new(Deadlined::new(io, deadline, idle, &on_cut), read_budget);
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

/// actix's `expect` service: `req` goes on to the app after a `100 Continue`, unless it
/// announces a body longer than `limit`: then the app answers it at once (a 413 from the sum
/// endpoint, or whatever else it answers without reading the body), as an error for actix,
/// which sends it instead of `100 Continue`.
async fn continue_or_answer<A, B>(
    app: &A,
    limit: u64,
    req: Request,
) -> Result<Request, Response<BoxBody>>
where
    A: Service<Request>,
    A::Error: Into<Error>,
    A::Response: Into<Response<B>>,
    B: MessageBody + 'static,
{
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_none_or(|n| n <= limit) {
        return Ok(req);
    }
    Err(match app.call(req).await {
        Ok(res) => res.into().map_into_boxed_body(),
        Err(err) => err.into().error_response().into(),
    })
}

/// Connections the kernel queues for a listener before the service accepts them (std's bind
/// fixes 128; a burst of new connections from the ALB after a deploy can exceed that).
pub const BACKLOG: i32 = 1024;

/// A non-blocking listener on `addr` with [`BACKLOG`]; `what` names it in the error.
pub fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let listener = listen(addr, BACKLOG)
        .with_context(|| format!("cannot bind the {what} listener on {addr}"))?;
    listener
        .set_nonblocking(true)
        .context("cannot make the listener non-blocking")?;
    Ok(listener)
}

/// A listening socket on `addr`, set up as std's `TcpListener::bind` does (`SO_REUSEADDR`),
/// with `backlog`.
pub fn listen(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
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
