//! A scripted HTTP/1.1 server for tests, for behaviour a real server cannot be made to show on
//! demand (flaky 5xx, slowness, hostile answers) or to see exactly what a proxy forwarded; and
//! the request reader it is built on, for test servers of a crate's own that keep connections
//! alive.
//!
//! Each connection to a [`Stub`] carries one request: the head is read up to `\r\n\r\n` (a head
//! over 1 MiB, or a connection that ends before its head does, is dropped unanswered), then a body
//! of `Content-Length` bytes. The request is recorded, the handler picks the [`Reply`], and the
//! connection is closed after it is written. Chunked request bodies are not decoded.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The largest request head the stub reads before it drops the connection.
const MAX_HEAD_BYTES: usize = 1 << 20;

/// A request the stub received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (`GET`).
    pub method: String,
    /// The request target, as sent (`/api/v1/sum?x=1`).
    pub path: String,
    /// The header fields in order: names in lower case, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body announced by `Content-Length`, or as much of it as arrived before the client
    /// stopped sending.
    pub body: Vec<u8>,
}

/// What the stub answers to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    bytes: Vec<u8>,
    delay: Duration,
}

impl Reply {
    /// A response with `status`, the given header fields, and `body`; `Content-Length` and
    /// `Connection: close` are added.
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Reply {
        let body = body.as_ref();
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let mut bytes = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        for (name, value) in headers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        bytes.extend_from_slice(
            format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(body);
        Reply {
            bytes,
            delay: Duration::ZERO,
        }
    }

    /// A response with `status` and a JSON `body` (`Content-Type: application/json`).
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::new(status, &[("content-type", "application/json")], body)
    }

    /// Exactly these bytes, whatever they are: a hand-made response, or garbage.
    pub fn raw(bytes: impl AsRef<[u8]>) -> Reply {
        Reply {
            bytes: bytes.as_ref().to_vec(),
            delay: Duration::ZERO,
        }
    }

    /// The same reply, written only after `delay` (a slow server).
    pub fn delay(self, delay: Duration) -> Reply {
        Reply { delay, ..self }
    }
}

/// Picks the reply to a request, given how many requests on the same path came before it.
type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// A running stub: its address and every request it has received. It serves until the tokio
/// runtime it was started on shuts down, i.e. until the test ends.
#[derive(Debug, Clone)]
pub struct Stub {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    /// Binds `127.0.0.1:0` and starts serving; `handler` gets each request and how many earlier
    /// requests had the same path (`0` for the first), and returns the reply.
    ///
    /// Panics when no loopback port can be bound, which fails the test that asked.
    pub async fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a test machine can bind a free loopback port");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = requests.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, log.clone(), handler.clone()));
            }
        });
        Stub { addr, requests }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.requests).clone()
    }

    /// How many requests on `path` it has received so far.
    pub fn hits(&self, path: &str) -> usize {
        lock(&self.requests)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }
}

/// The request log; a handler that panicked cannot leave it half-written, so poison is ignored.
fn lock(requests: &Mutex<Vec<Request>>) -> std::sync::MutexGuard<'_, Vec<Request>> {
    requests.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Answers the one request on `sock`.
async fn serve(mut sock: TcpStream, log: Arc<Mutex<Vec<Request>>>, handler: Arc<Handler>) {
    let Some((request, _)) = read(&mut sock, &mut Vec::new()).await else {
        return;
    };
    let before = {
        let mut list = lock(&log);
        let before = list.iter().filter(|r| r.path == request.path).count();
        list.push(request.clone());
        before
    };
    let reply = handler(&request, before);
    tokio::time::sleep(reply.delay).await;
    // The client may have given up (a timeout under test); that is not the stub's failure.
    let _ = sock.write_all(&reply.bytes).await;
    let _ = sock.shutdown().await;
}

/// Reads the next whole request off a connection that may carry several (keep-alive, pipelined):
/// `buf` holds what was read past the previous request, and keeps what is read past this one.
///
/// `None` when the connection ends or fails before the request is complete (its head, then its
/// `Content-Length` body), or the head exceeds 1 MiB.
pub async fn read_request(
    sock: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
) -> Option<Request> {
    match read(sock, buf).await? {
        (request, true) => Some(request),
        (_, false) => None,
    }
}

/// Reads one request, and whether its body arrived whole: `None` when the connection ends or
/// fails before the head is complete, or the head exceeds [`MAX_HEAD_BYTES`].
async fn read(sock: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) -> Option<(Request, bool)> {
    let mut chunk = [0u8; 4096];
    let mut searched: usize = 0;
    let head_end = loop {
        // Only the new bytes (and three before them) can complete the terminator.
        let from = searched.saturating_sub(3);
        if let Some(i) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            break from + i;
        }
        searched = buf.len();
        if buf.len() > MAX_HEAD_BYTES {
            return None;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let content_length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + content_length {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body_end = buf.len().min(body_start + content_length);
    let body = buf[body_start..body_end].to_vec();
    buf.drain(..body_end);
    let whole = body.len() == content_length;
    Some((
        Request {
            method,
            path,
            headers,
            body,
        },
        whole,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_pipelined_requests_one_by_one_and_only_whole_ones() {
        let bytes: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nApiKey: k\r\n\r\nPOST /c HTTP/1.1\r\ncontent-length: 9\r\n\r\nshort";
        let mut sock = bytes;
        let mut buf = Vec::new();
        let a = read_request(&mut sock, &mut buf).await.expect("first");
        assert_eq!((a.method.as_str(), a.path.as_str()), ("POST", "/a"));
        assert_eq!(a.body, b"abc");
        let b = read_request(&mut sock, &mut buf).await.expect("second");
        assert_eq!(b.path, "/b");
        assert_eq!(b.headers, vec![("apikey".to_owned(), "k".to_owned())]);
        assert!(b.body.is_empty());
        assert_eq!(
            read_request(&mut sock, &mut buf).await,
            None,
            "a body cut short is no request"
        );
        assert_eq!(read_request(&mut sock, &mut buf).await, None, "at the end");
    }
}
