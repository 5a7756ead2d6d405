//! A deadline for every request on a connection, not only the first.
//!
//! actix-http times the head of a connection's first request (`client_request_timeout`). On a
//! kept-alive connection, a later request that starts and never finishes holds the connection
//! for good (actix/actix-web#928: "server timeout is your responsibility"). [`Deadlined`] wraps
//! the connection: once the client has sent bytes while nothing was waiting for an answer, an
//! answer must start going out within the limit, or the connection reads as closed by the
//! client. actix then closes it: quietly when no request is being handled (a head that never
//! ends); a request being handled fails as if its client had gone.
//!
//! The wrapper sees bytes, not requests, so two cases stay with actix's own timers:
//! - pipelining: bytes of the next request that arrived before the previous answer went out
//!   are taken as answered with it; a next request left unfinished that way is closed by
//!   actix's keep-alive timer (`--keep-alive`), not by this deadline;
//! - a client that stops reading an answer: the answer has started, and actix has no write
//!   timeout (the kernel's TCP timeouts end it).
//!
//! There is no timer and no clock read per connection or per request: each worker thread
//! sweeps its connections every [`SWEEP`], counting sweeps as its clock, and wakes those past
//! their deadline; a request notes the current sweep count. So a stalled connection closes
//! between the limit and the limit plus two sweeps.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How often each worker looks for connections past their deadline.
pub const SWEEP: Duration = Duration::from_millis(500);

/// What the sweep and the connection share.
struct Watch {
    /// The limit in whole sweeps, rounded up.
    limit: u64,
    /// The sweep count when the client started sending what has not been answered yet.
    waiting_since: Cell<Option<u64>>,
    /// Set by the sweep once `waiting_since + limit` has passed.
    expired: Cell<bool>,
    /// The connection's task, while it waits for the client.
    waker: RefCell<Option<Waker>>,
}

thread_local! {
    /// Sweeps so far on this worker: its clock, in [`SWEEP`]s.
    static SWEEPS: Cell<u64> = const { Cell::new(0) };
    /// This worker's connections (dropped ones are pruned by the sweep).
    static WATCHED: RefCell<Vec<Weak<Watch>>> = const { RefCell::new(Vec::new()) };
    /// Whether this worker's sweep task runs.
    static SWEEPER: RefCell<Option<tokio::task::JoinHandle<()>>> = const { RefCell::new(None) };
}

/// A connection whose requests must each be answered within a limit of their first byte.
pub struct Deadlined<IO> {
    io: IO,
    watch: Rc<Watch>,
}

impl<IO> Deadlined<IO> {
    /// Wraps `io`. Must be called on the worker thread that serves it (inside its tokio
    /// `LocalSet`, as actix's workers are), which starts that worker's sweep.
    pub fn new(io: IO, limit: Duration) -> Self {
        let sweeps = limit.as_nanos().div_ceil(SWEEP.as_nanos()).max(1);
        let watch = Rc::new(Watch {
            limit: u64::try_from(sweeps).unwrap_or(u64::MAX),
            waiting_since: Cell::new(None),
            expired: Cell::new(false),
            waker: RefCell::new(None),
        });
        WATCHED.with(|w| w.borrow_mut().push(Rc::downgrade(&watch)));
        SWEEPER.with(|sweeper| {
            let mut sweeper = sweeper.borrow_mut();
            // A worker's runtime ends with its server; a new one on this thread needs its own.
            if sweeper
                .as_ref()
                .is_none_or(tokio::task::JoinHandle::is_finished)
            {
                *sweeper = Some(tokio::task::spawn_local(async {
                    let mut tick = tokio::time::interval(SWEEP);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        sweep();
                    }
                }));
            }
        });
        Self { io, watch }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

/// Counts one more sweep, marks and wakes this worker's connections whose deadline passed,
/// and forgets the closed ones.
fn sweep() {
    let now = SWEEPS.get() + 1;
    SWEEPS.set(now);
    WATCHED.with(|watched| {
        watched.borrow_mut().retain(|weak| {
            let Some(watch) = weak.upgrade() else {
                return false;
            };
            // Noted at sweep count `since`, so at least `now - since - 1` whole sweeps ago.
            let late = watch
                .waiting_since
                .get()
                .is_some_and(|since| now.saturating_sub(since) > watch.limit);
            if late && !watch.expired.replace(true) {
                // Taken out of the cell before waking: the wake may poll the connection.
                let waker = watch.waker.borrow_mut().take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            true
        });
    });
}

impl<IO: AsyncRead + Unpin> AsyncRead for Deadlined<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let watch = &*this.watch;
        if watch.expired.get() {
            // Reads as the client closing: actix then closes the connection without an error.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        match &read {
            Poll::Ready(Ok(()))
                if buf.filled().len() > before && watch.waiting_since.get().is_none() =>
            {
                watch.waiting_since.set(Some(SWEEPS.get()));
            }
            Poll::Pending if watch.waiting_since.get().is_some() => {
                let mut waker = watch.waker.borrow_mut();
                match &mut *waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
            }
            _ => {}
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin> Deadlined<IO> {
    /// An answer went out: nothing the client sent is waiting any more.
    fn answered(&self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.watch.waiting_since.set(None);
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Deadlined<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.answered(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.answered(&written);
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
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Runs `f` on a current-thread runtime inside a `LocalSet`, as actix's workers do.
    fn on_worker<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    #[test]
    fn a_request_left_unfinished_reads_as_closed_after_the_limit() {
        on_worker(async {
            let (client, server) = tokio::io::duplex(1024);
            let mut server = Deadlined::new(server, Duration::from_millis(300));
            let mut client = client;
            client
                .write_all(b"GET / HTTP/1.1\r\nHo")
                .await
                .expect("write");
            let mut buf = [0u8; 64];
            let n = server.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\nHo");
            let started = Instant::now();
            let n = tokio::time::timeout(Duration::from_secs(5), server.read(&mut buf))
                .await
                .expect("the deadline ends the wait")
                .expect("an end of stream, not an error");
            assert_eq!(n, 0);
            let waited = started.elapsed();
            // Not before the limit; within two sweeps after it, and slack for a busy machine.
            assert!(
                waited >= Duration::from_millis(300) && waited < Duration::from_secs(4),
                "{waited:?}"
            );
        });
    }

    #[test]
    fn answered_requests_and_idle_connections_have_no_deadline() {
        on_worker(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let mut server = Deadlined::new(server, Duration::from_secs(1));
            let mut buf = [0u8; 64];
            // Requests answered in time, one after the other, for longer than the limit.
            for _ in 0..4 {
                client.write_all(b"ping").await.expect("write");
                let n = server.read(&mut buf).await.expect("read");
                assert_eq!(&buf[..n], b"ping");
                tokio::time::sleep(Duration::from_millis(350)).await;
                server.write_all(b"pong").await.expect("answer");
                let n = client.read(&mut buf).await.expect("read answer");
                assert_eq!(&buf[..n], b"pong");
            }
            // Idle past the limit and a sweep: still open.
            tokio::time::sleep(Duration::from_secs(1) + SWEEP + SWEEP / 2).await;
            client.write_all(b"late").await.expect("write");
            let n = server.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], b"late");
        });
    }

    #[test]
    fn the_sweep_forgets_dropped_connections() {
        on_worker(async {
            let count = || WATCHED.with(|w| w.borrow().len());
            let before = count();
            let conns: Vec<_> = (0..10)
                .map(|_| Deadlined::new(tokio::io::empty(), Duration::from_secs(1)))
                .collect();
            assert_eq!(count(), before + 10);
            drop(conns);
            sweep();
            assert_eq!(count(), 0);
        });
    }
}
