//! The HTTP client: connections (HTTP/1.1 keep-alive or HTTP/2, plain or TLS via rustls with
//! the ring provider) and one request exchange that classifies its outcome.
//!
//! Plain-HTTP HTTP/1.1 (the common load-test case) uses the lean driver in `lean`: the
//! request written with one write from a reusable buffer, the response framed with `httparse`
//! in a reusable read buffer, body bytes dropped uncopied. TLS and HTTP/2 go through
//! `hyper::client::conn`; a hyper HTTP/1.1 connection is driven inside the task that uses it
//! (no second task per connection, so no cross-thread wake-ups per request): the request and
//! body futures are polled together with the connection's own future. Setting
//! `LOADGEN_HTTP1_DRIVER=hyper` makes plain HTTP/1.1 use hyper too (for comparisons).

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::config::{Endpoint, Target};
use crate::recorder::{Answer, ErrorKind, Outcome};

mod lean;
mod parse;
#[cfg(test)]
mod tests;
pub mod traceparent;

/// Environment variable choosing the plain HTTP/1.1 driver: `lean` (default) or `hyper`.
pub const DRIVER_ENV: &str = "LOADGEN_HTTP1_DRIVER";

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TLS set-up failed (no usable root certificates, ...).
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    /// Connecting or the handshake failed.
    #[error("connecting to {endpoint} failed: {why}")]
    Connect {
        /// Where.
        endpoint: String,
        /// Why.
        why: String,
        /// The kind of failure a report counts it as.
        kind: ErrorKind,
    },
}

impl ClientError {
    /// The kind of failure a request that needed this connection counts as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Tls(_) => ErrorKind::Tls,
            ClientError::Connect { kind, .. } => *kind,
        }
    }
}

/// Makes connections to one endpoint; cheap to clone.
#[derive(Clone)]
pub struct Connector {
    inner: HttpsConnector<HttpConnector>,
    endpoint: Endpoint,
    http2: bool,
    lean: bool,
}

type Io = MaybeHttpsStream<TokioIo<TcpStream>>;

type Driver = Pin<Box<http1::Connection<Io, Full<Bytes>>>>;

/// An HTTP/1.1 connection: the lean driver (plain HTTP) or hyper's.
pub struct H1(H1Kind);

enum H1Kind {
    Lean(lean::LeanConn),
    Hyper(HyperH1),
    /// Only while switching a lean connection over to hyper.
    Gone,
}

/// A hyper HTTP/1.1 connection and its driver, polled by the owning task (or, once
/// [`H1::send_request`] was used, by a task of its own).
struct HyperH1 {
    send: http1::SendRequest<Full<Bytes>>,
    driver: Option<Driver>,
    closed: bool,
}

/// One usable connection (or HTTP/2 stream handle).
pub enum Conn {
    /// HTTP/1.1, one request at a time.
    H1(H1),
    /// HTTP/2; clones share the TCP connection (driven by its own task).
    H2(http2::SendRequest<Full<Bytes>>),
}

impl H1 {
    /// Sends `req` for a caller that reads the response body itself (not the load loop): a
    /// lean connection is handed to hyper first, and the driver moves to a task of its own, so
    /// the body makes progress without [`exchange`].
    pub async fn send_request(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> hyper::Result<http::Response<hyper::body::Incoming>> {
        if matches!(self.0, H1Kind::Lean(_))
            && let H1Kind::Lean(c) = std::mem::replace(&mut self.0, H1Kind::Gone)
        {
            let io = MaybeHttpsStream::Http(TokioIo::new(c.into_stream()));
            let (send, driver) = http1::Builder::new().handshake(io).await?;
            self.0 = H1Kind::Hyper(HyperH1 {
                send,
                driver: Some(Box::pin(driver)),
                closed: false,
            });
        }
        let H1Kind::Hyper(c) = &mut self.0 else {
            // A failed hand-over left nothing to send on: a closed hyper connection says so.
            let (io, _) = tokio::io::duplex(1);
            let (mut send, _) = http1::handshake::<_, Full<Bytes>>(TokioIo::new(io)).await?;
            return send.send_request(req).await;
        };
        if let Some(driver) = c.driver.take() {
            tokio::spawn(driver);
        }
        c.send.send_request(req).await
    }
}

impl HyperH1 {
    /// Polls the driver once without waiting, so that it notices a close (a `Connection:
    /// close` response, or the server closing an idle connection).
    async fn poll_driver(&mut self) {
        let Some(driver) = self.driver.as_mut().filter(|_| !self.closed) else {
            return;
        };
        if poll_fn(|cx| Poll::Ready(driver.as_mut().poll(cx).is_ready())).await {
            self.closed = true;
        }
    }

    /// Waits for `fut` while driving the connection.
    async fn drive<F: Future>(&mut self, fut: F) -> F::Output {
        let Some(driver) = self.driver.as_mut() else {
            return fut.await;
        };
        tokio::pin!(fut);
        loop {
            // The driver first: what it reads in this poll completes `fut` in the same poll,
            // instead of a second wake-up of the task.
            tokio::select! {
                biased;
                _ = &mut *driver, if !self.closed => self.closed = true,
                out = &mut fut => return out,
            }
        }
    }
}

impl Conn {
    /// Another handle on the same HTTP/2 connection; HTTP/1.1 connections cannot be shared.
    pub fn share(&self) -> Option<Conn> {
        match self {
            Conn::H1(_) => None,
            Conn::H2(s) => Some(Conn::H2(s.clone())),
        }
    }

    /// Whether this connection can carry another request after waiting for readiness.
    pub async fn ready(&mut self) -> bool {
        match self {
            Conn::H1(H1(H1Kind::Lean(c))) => c.ready().await,
            Conn::H1(H1(H1Kind::Gone)) => false,
            Conn::H1(H1(H1Kind::Hyper(c))) => {
                c.poll_driver().await;
                if c.closed {
                    return false;
                }
                let HyperH1 {
                    send,
                    driver,
                    closed,
                } = c;
                let Some(driver) = driver.as_mut() else {
                    return send.ready().await.is_ok();
                };
                tokio::select! {
                    biased;
                    r = send.ready() => r.is_ok(),
                    _ = &mut *driver => { *closed = true; false }
                }
            }
            Conn::H2(s) => s.ready().await.is_ok(),
        }
    }

    /// Whether it is an HTTP/2 connection.
    pub fn is_h2(&self) -> bool {
        matches!(self, Conn::H2(_))
    }
}

impl Connector {
    /// A connector for `endpoint`.
    pub fn new(endpoint: &Endpoint, http2: bool) -> Result<Connector, ClientError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        let mut tls = if endpoint.https {
            builder
                .with_native_roots()
                .map_err(|e| {
                    ClientError::Tls(format!(
                        "{e}; install the system CA certificates (ca-certificates)"
                    ))
                })?
                .with_no_client_auth()
        } else {
            // Plain HTTP never uses the TLS config; skip loading the system store.
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        tls.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let inner = HttpsConnector::from((http, tls));
        let hyper_wanted = std::env::var(DRIVER_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("hyper"));
        Ok(Connector {
            inner,
            endpoint: endpoint.clone(),
            http2,
            lean: !endpoint.https && !http2 && !hyper_wanted,
        })
    }

    /// Opens a connection: TCP, TLS when https, then the HTTP/1.1 or HTTP/2 handshake. The
    /// connection's driver runs as its own task and ends when the connection closes.
    pub async fn connect(&self) -> Result<Conn, ClientError> {
        let err = |(why, kind): (String, ErrorKind)| ClientError::Connect {
            endpoint: self.endpoint.base.to_string(),
            why,
            kind,
        };
        let mut inner = self.inner.clone();
        let io = inner
            .call(self.endpoint.base.clone())
            .await
            .map_err(|e| err(self.describe(e.as_ref())))?;
        if self.lean {
            if let MaybeHttpsStream::Http(tcp) = io {
                return Ok(Conn::H1(H1(H1Kind::Lean(lean::LeanConn::new(
                    tcp.into_inner(),
                )))));
            }
            return Err(err((
                "a plain connection turned out to be TLS".into(),
                ErrorKind::Other,
            )));
        }
        let h2 = if self.endpoint.https {
            io.connected().is_negotiated_h2()
        } else {
            self.http2
        };
        if h2 {
            let (send, conn) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .handshake(io)
                .await
                .map_err(|e| err((e.to_string(), classify(&e))))?;
            tokio::spawn(conn);
            Ok(Conn::H2(send))
        } else {
            let (send, driver) = http1::Builder::new()
                .handshake(io)
                .await
                .map_err(|e| err((e.to_string(), classify(&e))))?;
            Ok(Conn::H1(H1(H1Kind::Hyper(HyperH1 {
                send,
                driver: Some(Box::pin(driver)),
                closed: false,
            }))))
        }
    }
}

impl Connector {
    /// Why a connection failed, in words that point at the fix: a refused port names the
    /// address, and a TLS handshake answered in plain text says the port speaks plain HTTP;
    /// with the kind a report counts it as.
    fn describe(&self, e: &(dyn std::error::Error + 'static)) -> (String, ErrorKind) {
        let authority = self
            .endpoint
            .base
            .authority()
            .map_or_else(String::new, |a| a.to_string());
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return (
                        format!("connection refused by {authority}"),
                        ErrorKind::Refused,
                    );
                }
                // An io::Error's source() skips the error it wraps: walk into that instead.
                if let Some(inner) = io.get_ref() {
                    cause = Some(inner as &(dyn std::error::Error + 'static));
                    continue;
                }
            }
            if let Some(tls) = c.downcast_ref::<rustls::Error>() {
                return (describe_tls(tls, &authority), ErrorKind::Tls);
            }
            cause = c.source();
        }
        (error_chain(e), classify(e))
    }
}

/// The kind of a failed exchange or connection, from its error and causes: an I/O error's
/// kind, a TLS error, or hyper's own view (a parse error or a message cut short is malformed;
/// a connection closed before the response began is a reset).
pub fn classify(e: &(dyn std::error::Error + 'static)) -> ErrorKind {
    use std::io::ErrorKind as Io;
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<rustls::Error>().is_some() {
            return ErrorKind::Tls;
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            match io.kind() {
                Io::ConnectionRefused => return ErrorKind::Refused,
                Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe => {
                    return ErrorKind::Reset;
                }
                Io::TimedOut => return ErrorKind::Timeout,
                // How hyper reports a body it cannot decode (a bad chunk, a body cut short).
                Io::InvalidData | Io::InvalidInput | Io::UnexpectedEof => {
                    return ErrorKind::Malformed;
                }
                _ => {}
            }
            if let Some(inner) = io.get_ref() {
                cause = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        cause = c.source();
    }
    match e.downcast_ref::<hyper::Error>() {
        Some(h) if h.is_parse() || h.is_parse_status() => ErrorKind::Malformed,
        Some(h) if h.is_incomplete_message() => ErrorKind::Malformed,
        Some(h) if h.is_canceled() || h.is_closed() => ErrorKind::Reset,
        Some(h) if h.is_timeout() => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    }
}

/// A TLS failure; a server answering the handshake with something that is not a TLS record
/// is a plain-HTTP port.
fn describe_tls(e: &rustls::Error, authority: &str) -> String {
    match e {
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => format!(
            "{authority} does not speak TLS (it answered the handshake in plain text): use http:// instead of https://"
        ),
        other => other.to_string(),
    }
}

/// `e` and its causes, joined by `: `.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

/// The result of one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// How it ended.
    pub outcome: Outcome,
    /// Status, when a response head arrived (also when the body then broke: see `error`).
    pub status: Option<u16>,
    /// Why there is no complete exchange; `None` when the whole response arrived.
    pub error: Option<ErrorKind>,
    /// When the response (head and body) was complete, or the failure was seen.
    pub done: Instant,
    /// Whether the connection may carry another request.
    pub reusable: bool,
}

impl Exchange {
    /// A request that ended without a complete response, seen now; `status` when a head had
    /// arrived before the failure (it is not counted as that status).
    pub fn failed(kind: ErrorKind, status: Option<u16>) -> Exchange {
        Exchange {
            outcome: kind.outcome(),
            status,
            error: Some(kind),
            done: Instant::now(),
            reusable: false,
        }
    }

    /// A complete exchange with `status`, done now.
    fn complete(status: u16, reusable: bool) -> Exchange {
        Exchange {
            outcome: Outcome::from_status(status),
            status: Some(status),
            error: None,
            done: Instant::now(),
            reusable,
        }
    }

    /// What the recorder counts: the status of a complete exchange, else the failure's kind.
    pub fn answer(&self) -> Answer {
        match (self.error, self.status) {
            (Some(kind), _) => Answer::Failed(kind),
            (None, Some(code)) => Answer::Status(code),
            (None, None) => Answer::Failed(ErrorKind::Other),
        }
    }
}

/// A request about to be sent: the target it is for, built for the connection's protocol only
/// when the connection needs a hyper request (the lean driver writes the target directly).
pub struct Req<'a> {
    target: &'a Target,
    h2: bool,
    /// The `traceparent` value it carries (`--trace-sample`), if any.
    traceparent: Option<&'a [u8]>,
}

/// The request for `target` on `conn`'s protocol (HTTP/2 when `h2`).
pub fn build_request(target: &Target, h2: bool) -> Req<'_> {
    Req {
        target,
        h2,
        traceparent: None,
    }
}

impl<'a> Req<'a> {
    /// The same request carrying this `traceparent` value (one made by
    /// [`traceparent::TraceSampler`]; a value that is no valid header value is not sent).
    pub fn with_traceparent(mut self, value: Option<&'a [u8]>) -> Req<'a> {
        self.traceparent = value;
        self
    }
}

impl Req<'_> {
    /// The hyper request.
    fn to_hyper(&self) -> Request<Full<Bytes>> {
        let (target, h2) = (self.target, self.h2);
        let mut req = Request::new(Full::new(target.body.clone()));
        *req.method_mut() = target.method.clone();
        *req.uri_mut() = if h2 {
            target.uri.clone()
        } else {
            target.path.clone()
        };
        *req.headers_mut() = target.headers.clone();
        if let Some(value) = self
            .traceparent
            .and_then(|v| http::HeaderValue::from_bytes(v).ok())
        {
            req.headers_mut()
                .insert(http::HeaderName::from_static(traceparent::HEADER), value);
        }
        if h2 {
            // HTTP/2 carries the authority in the :authority pseudo-header.
            req.headers_mut().remove(http::header::HOST);
        }
        req
    }
}

/// Sends `req` and reads the whole response body (discarding it) so that the connection can be
/// reused. A failure of the exchange (a broken body included: it is not a complete response)
/// is an `Error` outcome of the kind [`classify`] finds; timeouts are the caller's business.
pub async fn exchange(conn: &mut Conn, req: Req<'_>) -> Exchange {
    // A connection closed before any response is the peer dropping the request (as the lean
    // driver counts it); closed within a response, the response is cut short.
    let broken = |e: &hyper::Error, status: Option<u16>| {
        let kind = match classify(e) {
            ErrorKind::Malformed if status.is_none() && e.is_incomplete_message() => {
                ErrorKind::Reset
            }
            kind => kind,
        };
        Exchange::failed(kind, status)
    };
    match conn {
        Conn::H1(H1(H1Kind::Lean(c))) => {
            let t = req.target;
            match c
                .exchange(&t.method, &t.path, &t.headers, req.traceparent, &t.body)
                .await
            {
                Ok((status, reusable)) => Exchange::complete(status, reusable),
                Err(f) => Exchange::failed(f.kind, f.status),
            }
        }
        Conn::H1(H1(H1Kind::Gone)) => Exchange::failed(ErrorKind::Other, None),
        Conn::H1(H1(H1Kind::Hyper(c))) => {
            let fut = c.send.send_request(req.to_hyper());
            let response = match c.drive(fut).await {
                Ok(r) => r,
                Err(e) => return broken(&e, None),
            };
            let status = response.status().as_u16();
            let mut body = response.into_body();
            loop {
                match c.drive(body.frame()).await {
                    None => break,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return broken(&e, Some(status)),
                }
            }
            // A `Connection: close` is noticed by the driver poll in `ready()` before the next
            // request; polling it here as well would cost a dispatcher poll per request.
            Exchange::complete(status, !c.closed)
        }
        Conn::H2(s) => {
            let response = match s.send_request(req.to_hyper()).await {
                Ok(r) => r,
                Err(e) => return broken(&e, None),
            };
            let status = response.status().as_u16();
            let mut body = response.into_body();
            while let Some(frame) = body.frame().await {
                if let Err(e) = frame {
                    return broken(&e, Some(status));
                }
            }
            Exchange::complete(status, true)
        }
    }
}
