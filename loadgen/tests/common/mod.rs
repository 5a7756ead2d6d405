//! Local servers for loadgen's tests, each on a free loopback port and its own thread (so that
//! its CPU never counts as the generator's): an HTTP/1.1 server whose behaviour is chosen by path
//! (or any other per-connection handler, e.g. TLS in front of it), on `testkit`'s threaded server
//! and request reader; the configuration of testkit's nginx (for HTTP/2 and as a real server);
//! and the runner of the built
//! binary.

use std::future::Future;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testkit::nginx::Nginx;
use testkit::server::Server;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the test server saw.
#[derive(Default)]
pub struct Seen {
    /// Requests fully read.
    pub requests: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Value of the last `apikey` header.
    pub apikey: Mutex<Option<String>>,
    /// When the first request arrived.
    pub first: Mutex<Option<Instant>>,
    /// The ALPN protocol of each TLS connection, in handshake order (`none` when none was
    /// agreed); only handlers that speak TLS record it.
    pub alpn: Mutex<Vec<String>>,
    /// TLS handshakes that failed.
    pub tls_failures: AtomicU64,
}

/// A running test server; stops when dropped.
pub struct TestServer {
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// What it saw.
    pub seen: Arc<Seen>,
    /// Accepts and serves until dropped.
    _server: Server,
}

/// Stall pattern of `/stall`: after the first request, every `period` the server holds
/// responses for `stall` (from `offset` into each period), like a GC pause.
#[derive(Clone, Copy)]
pub struct Stall {
    /// Length of one cycle.
    pub period: Duration,
    /// Where in the cycle the stall begins.
    pub offset: Duration,
    /// How long it lasts.
    pub stall: Duration,
}

impl TestServer {
    /// Starts the server. Paths:
    /// `/fast` (200 "ok"), `/status/NNN`, `/slow/MS` (200 after MS ms), `/close` (200 with
    /// `Connection: close`, then closes), `/reset` (closes without answering), `/stall`
    /// (200, held during stalls), `/echo-key` (records the apikey header).
    pub fn start(stall: Option<Stall>) -> TestServer {
        TestServer::start_with(move |sock, seen| serve(sock, seen, stall))
    }

    /// Starts a server that hands each accepted connection to `handler`.
    pub fn start_with<F, Fut>(handler: F) -> TestServer
    where
        F: Fn(TcpStream, Arc<Seen>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let seen = Arc::new(Seen::default());
        let counted = Arc::clone(&seen);
        let server = Server::start(move |sock| {
            counted.connections.fetch_add(1, Ordering::Relaxed);
            handler(sock, Arc::clone(&counted))
        });
        TestServer {
            addr: server.addr(),
            seen,
            _server: server,
        }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.seen.requests.load(Ordering::Relaxed)
    }
}

/// Serves HTTP/1.1 on `sock` (see [`TestServer::start`] for the paths) until it closes.
pub async fn serve<S>(mut sock: S, seen: Arc<Seen>, stall: Option<Stall>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(4096);
    while let Some(request) = testkit::stub::read_request(&mut sock, &mut buf).await {
        let apikey = request
            .headers
            .iter()
            .rev()
            .find(|(name, _)| name == "apikey");
        if let Some((_, key)) = apikey {
            *seen.apikey.lock().expect("lock") = Some(key.clone());
        }
        let path = request.path;
        let now = Instant::now();
        let first = *seen.first.lock().expect("lock").get_or_insert(now);
        seen.requests.fetch_add(1, Ordering::Relaxed);

        let (status, close) = if path == "/reset" {
            return;
        } else if path == "/close" {
            (200, true)
        } else if let Some(code) = path.strip_prefix("/status/") {
            (code.parse().unwrap_or(500), false)
        } else if let Some(ms) = path.strip_prefix("/slow/") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(100))).await;
            (200, false)
        } else if path == "/stall" {
            if let Some(s) = stall {
                let into = now.duration_since(first).as_nanos() % s.period.as_nanos();
                let (from, to) = (s.offset.as_nanos(), (s.offset + s.stall).as_nanos());
                if into >= from && into < to {
                    tokio::time::sleep(Duration::from_nanos((to - into) as u64)).await;
                }
            }
            (200, false)
        } else {
            (200, false)
        };
        let resp = format!(
            "HTTP/1.1 {status} X\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n{}\r\nok",
            if close { "connection: close\r\n" } else { "" }
        );
        if sock.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
        if close {
            let _ = sock.shutdown().await;
            return;
        }
    }
}

/// nginx serving a static 200 on a free loopback port; `http2` makes the port speak h2c (prior
/// knowledge).
pub fn static_nginx(http2: bool) -> Nginx {
    Nginx::start("loadgen-nginx", |dir, port| {
        format!(
            "master_process off;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n  keepalive_requests 1000000;\n  server {{\n    listen 127.0.0.1:{port}{h2};\n    location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
            d = dir.display(),
            h2 = if http2 { " http2" } else { "" }
        )
    })
}

/// Runs the built `loadgen` binary with `args` and the extra environment `env`. Variables that
/// would change what a run does unseen (an API key; a trust store other than the system's) are
/// removed first, so each test states them itself.
pub fn loadgen(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args(args);
    for var in ["LOADGEN_API_KEY", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the loadgen binary")
}

/// What a run printed on stdout.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a run printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
