//! A byte budget for each request on a connection: what actix-http's chunked decoder reads
//! without counting is bounded where the bytes come in.
//!
//! actix-http (3.20) decodes chunked bodies itself and hands over only the data: the chunk-size
//! lines (with any number of leading zeros), chunk extensions and trailers are read and
//! dropped without limit and without producing a byte of body, so the body limit, which counts
//! body bytes, never sees them. A client streaming `0000…` in a chunk-size line kept a worker
//! reading at full speed until the body timeout. actix offers no hook into its decoder, so the
//! bound is on the connection's reads: [`Budgeted`] counts the bytes read since the last answer
//! went out, and once they pass the budget the connection reads as closed by the client. actix
//! then fails the body being read (the handler answers 413, asking [`spent`] why the body
//! ended) or ends a lingering close, and closes the connection once its answer is written.
//!
//! The budget for a body limit ([`for_body`]) is twice the limit plus [`SLACK`]: a body, as many
//! bytes again of chunk framing, and room for the request's head and for requests pipelined
//! behind it that actix reads ahead into its buffer. Bytes are counted per read, so a
//! connection stops within one read (actix's buffer, at most [`SLACK`]) after its budget.
//!
//! A `100 Continue` is not an answer: the body it invites belongs to the same request.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_http::Extensions;
use actix_web::HttpRequest;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::answer_start::{first_buf, is_interim};

/// Room above the body and its framing: actix buffers at most 128 KiB of a request head and
/// of requests pipelined behind the one being answered, and reads into spare buffer capacity.
pub const SLACK: u64 = 512 * 1024;

/// The bytes a request may take when its body may take `max_body`: the body, as many bytes
/// again of chunk framing (chunk-size lines, extensions, trailers), and [`SLACK`].
pub fn for_body(max_body: usize) -> u64 {
    (max_body as u64).saturating_mul(2).saturating_add(SLACK)
}

/// What the connection and its requests share.
struct State {
    /// Bytes a request may take, head, body and framing.
    budget: u64,
    /// Bytes read since the last answer went out.
    spent: Cell<u64>,
    /// Set once `spent` passed `budget`: the connection reads as closed from then on.
    over: Cell<bool>,
}

/// A connection whose reads between two answers are bounded.
pub struct Budgeted<IO> {
    io: IO,
    state: Rc<State>,
}

/// The requests' handle on their connection's budget, in actix's connection data.
struct Spent(Rc<State>);

impl<IO> Budgeted<IO> {
    /// Wraps `io`: each request (what is read between two answers) may take `budget` bytes.
    pub fn new(io: IO, budget: u64) -> Self {
        let state = Rc::new(State {
            budget,
            spent: Cell::new(0),
            over: Cell::new(false),
        });
        Self { io, state }
    }

    /// Puts the connection's handle in actix's connection data (`on_connect_ext`), for
    /// [`spent`].
    pub fn register(&self, ext: &mut Extensions) {
        ext.insert(Spent(self.state.clone()));
    }
}

/// Whether `req`'s connection ended its reads because the request passed its byte budget (so a
/// body that ended early was cut by the service, not by the client).
pub fn spent(req: &HttpRequest) -> bool {
    req.conn_data::<Spent>().is_some_and(|s| s.0.over.get())
}

impl<IO: AsyncRead + Unpin> AsyncRead for Budgeted<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let state = &*this.state;
        if state.over.get() {
            // Reads as the client closing: actix fails an unfinished body and closes the
            // connection after its answer.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            let n = (buf.filled().len() - before) as u64;
            let spent = state.spent.get().saturating_add(n);
            state.spent.set(spent);
            if spent > state.budget {
                state.over.set(true);
            }
        }
        read
    }
}

impl<IO> Budgeted<IO> {
    /// An answer went out (not an interim `1xx`): the next request starts a new budget.
    fn note_write(&self, written: &Poll<io::Result<usize>>, first: &[u8]) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) && !is_interim(first) {
            self.state.spent.set(0);
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Budgeted<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.note_write(&written, buf);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.note_write(&written, first_buf(bufs));
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    /// Reads from `server` until it reads as closed; returns how many bytes came before.
    async fn read_until_end<IO: AsyncRead + Unpin>(server: &mut IO) -> usize {
        let mut total = 0;
        let mut buf = [0u8; 100];
        loop {
            match server.read(&mut buf).await.expect("read") {
                0 => return total,
                n => total += n,
            }
        }
    }

    #[test]
    fn reads_end_once_a_request_passes_its_budget() {
        block_on(async {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let mut server = Budgeted::new(server, 1000);
            // More than the budget, without ever closing: the reads end anyway, within one
            // read after the budget, and stay ended.
            client.write_all(&[b'0'; 5000]).await.expect("write");
            let read = read_until_end(&mut server).await;
            assert!((1001..=1100).contains(&read), "{read}");
            let mut buf = [0u8; 8];
            assert_eq!(server.read(&mut buf).await.expect("read"), 0);
            assert!(server.state.over.get());
        });
    }

    #[test]
    fn each_answer_starts_a_new_budget_and_interim_answers_do_not() {
        block_on(async {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            let mut server = Budgeted::new(server, 1000);
            let mut buf = [0u8; 1000];
            let mut drain = [0u8; 256];
            // Ten requests of 800 bytes, 8,000 in all: each answered in turn, none over.
            for _ in 0..10 {
                client.write_all(&[b'x'; 800]).await.expect("request");
                server.read_exact(&mut buf[..800]).await.expect("read");
                server
                    .write_all(b"HTTP/1.1 200 OK\r\n")
                    .await
                    .expect("answer");
                let _ = client.read(&mut drain).await.expect("answer read");
            }
            assert!(!server.state.over.get());
            // A `100 Continue` between the head and the body keeps counting.
            client.write_all(&[b'h'; 600]).await.expect("head");
            server.read_exact(&mut buf[..600]).await.expect("read");
            server
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .expect("interim");
            client.write_all(&[b'b'; 600]).await.expect("body");
            // 600 + 500 bytes: the read that passed the budget of 1000 is the last.
            let read = read_until_end(&mut server).await;
            assert_eq!(read, 500);
            assert!(server.state.over.get());
        });
    }
}
