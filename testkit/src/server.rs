//! A loopback TCP server on a thread of its own, with its own tokio runtime: for a synchronous
//! test (one that drives a binary and has no runtime to spawn a server on), and for a server
//! whose work must not share the test's runtime or count as the test's CPU. It hands each
//! accepted connection to the test's handler, counts them, and stops when dropped.
//!
//! [`Server::silent`] accepts and never answers: an upstream that hangs, for timeouts under test.
//! A server that answers HTTP reads its requests with [`crate::stub::read_request`].

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A running server: its address and how many connections it accepted. Dropping it stops the
/// accept loop and the runtime, which closes every connection still open.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves on a new thread: each accepted connection (with
    /// `TCP_NODELAY` set) is handed to `handler` in a task of its own.
    ///
    /// Panics when no loopback port can be bound or no thread started, which fails the test.
    pub fn start<F, Fut>(handler: F) -> Server
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .expect("a test machine can bind a free loopback port");
        std_listener
            .set_nonblocking(true)
            .expect("a listener can be made non-blocking");
        let addr = std_listener
            .local_addr()
            .expect("a bound listener has an address");
        let connections = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let counted = Arc::clone(&connections);
        let thread = std::thread::Builder::new()
            .name("testkit-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a test machine can start a tokio runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(std_listener)
                        .expect("a non-blocking listener goes into the runtime");
                    loop {
                        tokio::select! {
                            _ = &mut stopped => break,
                            accepted = listener.accept() => {
                                let Ok((sock, _)) = accepted else { continue };
                                let _ = sock.set_nodelay(true);
                                counted.fetch_add(1, Ordering::Relaxed);
                                tokio::spawn(handler(sock));
                            }
                        }
                    }
                });
            })
            .expect("a test machine can start a thread");
        Server {
            addr,
            connections,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A server that accepts connections and never reads or answers them: they stay open, the
    /// request unread in the socket, until the server is dropped.
    pub fn silent() -> Server {
        Server::start(|sock| async move {
            let _held = sock;
            std::future::pending::<()>().await;
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// How many connections it has accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    #[test]
    fn hands_each_connection_to_the_handler_and_closes_them_when_dropped() {
        let echo = Server::start(|mut sock| async move {
            let (mut r, mut w) = sock.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
        });
        let mut conn = std::net::TcpStream::connect(echo.addr()).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        conn.write_all(b"ping").expect("write");
        let mut got = [0u8; 4];
        conn.read_exact(&mut got).expect("echoed");
        assert_eq!(&got, b"ping");
        assert_eq!(echo.connections(), 1);
        assert_eq!(echo.url("/x"), format!("http://{}/x", echo.addr()));

        let silent = Server::silent();
        let mut held = std::net::TcpStream::connect(silent.addr()).expect("connect");
        held.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        held.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
        let err = held.read(&mut got).expect_err("no answer");
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        assert_eq!(silent.connections(), 1);
        drop(silent);
        held.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let n = held.read(&mut got).unwrap_or(0);
        assert_eq!(n, 0, "closed once the server is dropped");
    }
}
