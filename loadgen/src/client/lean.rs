//! The lean HTTP/1.1 driver for plain-HTTP load: the request serialized into a reusable buffer
//! and written with one write, the response read into a reusable buffer and framed by
//! [`super::parse`] (body bytes are counted and dropped, never copied). No per-request
//! allocation, no dispatch channel, no header map.

use std::future::poll_fn;
use std::task::Poll;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::parse::{self, Framing, MAX_HEAD, ParseError};
use crate::recorder::ErrorKind;

/// First size of the read buffer; it grows only for heads up to [`MAX_HEAD`].
const READ_BUF: usize = 16 * 1024;

/// Why a lean exchange failed, and whether a status had already arrived.
#[derive(Debug)]
pub struct Failed {
    /// The status, when the head arrived before the failure.
    pub status: Option<u16>,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// Why reading stopped short.
enum ReadError {
    /// The peer closed the connection.
    Eof,
    /// The read failed.
    Io(std::io::Error),
    /// The bytes are not a valid response (or a head outgrew [`MAX_HEAD`]).
    Parse,
}

/// The kind of a failed read or write: a reset (or a close before any response) is the peer
/// dropping the connection; bytes that do not frame a response are malformed.
fn io_kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as Io;
    match e.kind() {
        Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => {
            ErrorKind::Reset
        }
        Io::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::Other,
    }
}

/// One plain-TCP HTTP/1.1 connection with its reusable buffers.
pub struct LeanConn {
    stream: TcpStream,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    /// Unconsumed bytes are `rbuf[start..end]`.
    start: usize,
    end: usize,
    closed: bool,
}

/// Appends the HTTP/1.1 request for these parts to `out`: request line, headers (Host among
/// them), a `traceparent` when given (its value, already valid: `--trace-sample` makes it),
/// Content-Length when there is a body or the method expects one, then the body.
pub fn serialize(
    out: &mut Vec<u8>,
    method: &Method,
    path: &Uri,
    headers: &HeaderMap,
    traceparent: Option<&[u8]>,
    body: &Bytes,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    match path.path_and_query() {
        Some(pq) => out.extend_from_slice(pq.as_str().as_bytes()),
        None => out.push(b'/'),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(value) = traceparent {
        out.extend_from_slice(b"traceparent: ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    // As hyper does: a length for any body, and for an empty one only where a body is expected.
    if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl LeanConn {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> LeanConn {
        LeanConn {
            stream,
            wbuf: Vec::with_capacity(512),
            rbuf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            closed: false,
        }
    }

    /// Gives the stream back (for a caller that wants hyper on it).
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Whether another request may be sent: false once the server asked to close, closed the
    /// connection, or sent bytes nobody asked for. Costs no system call while the socket has
    /// nothing to read.
    pub async fn ready(&mut self) -> bool {
        if self.closed || self.start != self.end {
            self.closed = true;
            return false;
        }
        let readable = poll_fn(|cx| Poll::Ready(self.stream.poll_read_ready(cx).is_ready())).await;
        if readable {
            let mut probe = [0u8; 1];
            match self.stream.try_read(&mut probe) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // EOF, an error, or unsolicited bytes: this connection is done.
                _ => self.closed = true,
            }
        }
        !self.closed
    }

    /// Sends one request and reads its whole response, discarding the body. `Ok((status,
    /// reusable))`, or the failure (with the status when the head had arrived).
    /// The request carries `traceparent` when given.
    pub async fn exchange(
        &mut self,
        method: &Method,
        path: &Uri,
        headers: &HeaderMap,
        traceparent: Option<&[u8]>,
        body: &Bytes,
    ) -> Result<(u16, bool), Failed> {
        self.wbuf.clear();
        serialize(&mut self.wbuf, method, path, headers, traceparent, body);
        if let Err(e) = self.stream.write_all(&self.wbuf).await {
            self.closed = true;
            return Err(Failed {
                status: None,
                kind: io_kind(&e),
            });
        }
        let head_request = *method == Method::HEAD;
        let head = loop {
            match self.next_head(head_request).await {
                Ok(h) if (100..200).contains(&h.status) && h.status != 101 => continue,
                Ok(h) => break h,
                Err(e) => {
                    self.closed = true;
                    // Closed before any response byte: the peer dropped the request; closed
                    // within a head: a response cut short.
                    let kind = match e {
                        ReadError::Eof if self.start == self.end => ErrorKind::Reset,
                        ReadError::Eof | ReadError::Parse => ErrorKind::Malformed,
                        ReadError::Io(e) => io_kind(&e),
                    };
                    return Err(Failed { status: None, kind });
                }
            }
        };
        if let Err(e) = self.read_body(head.framing).await {
            self.closed = true;
            let kind = match e {
                ReadError::Io(e) => io_kind(&e),
                ReadError::Eof | ReadError::Parse => ErrorKind::Malformed,
            };
            return Err(Failed {
                status: Some(head.status),
                kind,
            });
        }
        if head.close {
            self.closed = true;
        }
        Ok((head.status, !self.closed))
    }

    /// Reads until a complete head is buffered; consumes it.
    async fn next_head(&mut self, head_request: bool) -> Result<parse::Head, ReadError> {
        loop {
            match parse::parse_head(&self.rbuf[self.start..self.end], head_request) {
                Ok(Some(h)) => {
                    self.start += h.len;
                    return Ok(h);
                }
                Ok(None) => {}
                Err(_) => return Err(ReadError::Parse),
            }
            if self.fill(true).await? == 0 {
                return Err(ReadError::Eof);
            }
        }
    }

    /// Consumes the body per `framing`, reading as needed.
    async fn read_body(&mut self, mut framing: Framing) -> Result<(), ReadError> {
        let mut eof = false;
        loop {
            let c = framing
                .consume(&self.rbuf[self.start..self.end], eof)
                .map_err(|_: ParseError| ReadError::Parse)?;
            self.start += c.used;
            if c.done {
                if eof {
                    self.closed = true;
                }
                return Ok(());
            }
            if eof {
                // The peer closed before the body was complete.
                return Err(ReadError::Eof);
            }
            if self.fill(false).await? == 0 {
                eof = true;
                self.closed = true;
            }
        }
    }

    /// Reads more bytes after the unconsumed ones; `Ok(0)` at EOF. Makes room by moving the
    /// unconsumed bytes to the front, and (`grow`, for a head) by growing up to [`MAX_HEAD`].
    async fn fill(&mut self, grow: bool) -> Result<usize, ReadError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.rbuf.len() && self.start > 0 {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.rbuf.len() {
            if !grow || self.rbuf.len() >= MAX_HEAD {
                return Err(ReadError::Parse);
            }
            let len = (self.rbuf.len() * 2).min(MAX_HEAD);
            self.rbuf.resize(len, 0);
        }
        let n = self
            .stream
            .read(&mut self.rbuf[self.end..])
            .await
            .map_err(ReadError::Io)?;
        self.end += n;
        Ok(n)
    }
}
