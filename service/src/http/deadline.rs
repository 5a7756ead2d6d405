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
//! The same limit holds for the other direction, which actix does not time at all: an answer
//! that cannot be written (the client stopped reading, its window is shut) for the limit fails
//! the connection's writes and ends its reads, and actix drops the connection. Without it the
//! kernel probes a shut window forever.
//!
//! It also ends kept-alive connections that stay idle (`--keep-alive`), in place of actix's
//! keep-alive timer: once an answer has gone out and the client sends nothing more for that
//! long, the connection reads as closed by the client and actix closes it, quietly (not a
//! cut). Before the first answer, actix's head timer (`client_request_timeout`) still times a
//! connection that sends nothing, with its 408. actix's keep-alive timer allocates a tokio
//! timer and registers it in the runtime's timer wheel twice per request, and drops it again
//! when the next request comes (its cost is in `docs/performance.md`); here it is a
//! few cell updates.
//!
//! The wrapper sees bytes, not requests: bytes of a pipelined request that arrived before the
//! previous answer went out are taken as answered with it, so a next request left unfinished
//! that way is closed by the idle limit (`--keep-alive`), not by the answer deadline.
//!
//! Each connection cut is reported ([`Cut`]) to the callback given to [`Deadlined::new`], for
//! the service's metrics.
//!
//! There is no timer and no clock read per connection or per request: each worker thread
//! sweeps its connections every [`SWEEP`], counting sweeps as its clock, and wakes those past
//! their deadline; a request notes the current sweep count. So a stalled connection closes
//! between the limit and the limit plus two sweeps, an idle one likewise.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::answer_start::{first_buf, is_interim};

/// How often each worker looks for connections past their deadline.
pub const SWEEP: Duration = Duration::from_millis(500);

/// Why a connection was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The client sent bytes that were not answered within the limit (a request head or body
    /// that never ended).
    StalledRequest,
    /// An answer could not be written for the limit (the client stopped reading).
    UnreadAnswer,
    /// Not the deadline's: actix refused a request it could not parse (a 400 or 431 of its
    /// own, with no body) and closed the connection. Reported by [`crate::http::serve`].
    MalformedRequest,
}

/// Told of every connection cut, on the worker thread that cut it.
pub type OnCut = Rc<dyn Fn(Cut)>;

/// What the sweep and the connection share.
struct Watch {
    /// The limit in whole sweeps, rounded up.
    limit: u64,
    /// The sweep count when the client started sending what has not been answered yet.
    waiting_since: Cell<Option<u64>>,
    /// Set by the sweep once `waiting_since + limit` has passed.
    expired: Cell<bool>,
    /// The sweep count when a write first found the connection full, while it stays full.
    blocked_since: Cell<Option<u64>>,
    /// Set by the sweep once `blocked_since + limit` has passed: writes fail, reads end.
    write_expired: Cell<bool>,
    /// The idle limit in whole sweeps, rounded up; `None`: no limit.
    idle_limit: Option<u64>,
    /// The sweep count when the last answer went out, until the client sends again.
    idle_since: Cell<Option<u64>>,
    /// Set by the sweep once `idle_since + idle_limit` has passed: reads end.
    idle_expired: Cell<bool>,
    /// The connection's task, while it waits for the client.
    waker: RefCell<Option<Waker>>,
    on_cut: OnCut,
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
    /// Wraps `io`: each request must be answered within `limit`, and the connection ends
    /// after `idle` without one (`None`: never); `on_cut` is told if the deadline cuts it.
    /// Must be called on the worker thread that serves it (inside its tokio `LocalSet`, as
    /// actix's workers are), which starts that worker's sweep.
    pub fn new(io: IO, limit: Duration, idle: Option<Duration>, on_cut: &OnCut) -> Self {
        let watch = Rc::new(Watch {
            limit: in_sweeps(limit),
            waiting_since: Cell::new(None),
            expired: Cell::new(false),
            blocked_since: Cell::new(None),
            write_expired: Cell::new(false),
            idle_limit: idle.map(in_sweeps),
            idle_since: Cell::new(None),
            idle_expired: Cell::new(false),
            waker: RefCell::new(None),
            on_cut: on_cut.clone(),
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

/// `limit` in whole sweeps, rounded up, at least one.
fn in_sweeps(limit: Duration) -> u64 {
    let sweeps = limit.as_nanos().div_ceil(SWEEP.as_nanos()).max(1);
    u64::try_from(sweeps).unwrap_or(u64::MAX)
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
            let past = |since: &Cell<Option<u64>>, limit: u64| {
                since
                    .get()
                    .is_some_and(|since| now.saturating_sub(since) > limit)
            };
            let was_cut = watch.expired.get() || watch.write_expired.get();
            let late_read = past(&watch.waiting_since, watch.limit) && !watch.expired.replace(true);
            let late_write =
                past(&watch.blocked_since, watch.limit) && !watch.write_expired.replace(true);
            // Not a cut: the end of an idle kept-alive connection.
            let idle_over = watch.idle_limit.is_some_and(|limit| {
                past(&watch.idle_since, limit) && !watch.idle_expired.replace(true)
            });
            if !was_cut && (late_read || late_write) {
                // Counted once per connection, by the first reason found.
                (watch.on_cut)(if late_read {
                    Cut::StalledRequest
                } else {
                    Cut::UnreadAnswer
                });
            }
            if late_read || late_write || idle_over {
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
        if watch.expired.get() || watch.write_expired.get() || watch.idle_expired.get() {
            // Reads as the client closing: actix then closes the connection without an error.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        match &read {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                watch.idle_since.set(None);
                if watch.waiting_since.get().is_none() {
                    watch.waiting_since.set(Some(SWEEPS.get()));
                }
            }
            Poll::Pending
                if watch.waiting_since.get().is_some() || watch.idle_since.get().is_some() =>
            {
                watch.wake_on_expiry(cx);
            }
            _ => {}
        }
        read
    }
}

impl Watch {
    /// Keeps the task to wake when the deadline passes.
    fn wake_on_expiry(&self, cx: &Context<'_>) {
        let mut waker = self.waker.borrow_mut();
        match &mut *waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
    }
}

impl<IO: AsyncWrite + Unpin> Deadlined<IO> {
    /// Fails a write once the client has read nothing for the limit.
    fn write_failed(&self) -> Option<io::Error> {
        self.watch.write_expired.get().then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read its answer within the deadline",
            )
        })
    }

    /// Notes the outcome of a write: an answer went out, so nothing the client sent is waiting
    /// any more, the connection is not blocked, and its idle time starts; or it is full, and
    /// its deadline runs. An answer exists either way, so the read side's deadline ends: a
    /// client that stopped reading is cut (and counted) for its unread answer, not as a stalled
    /// request. An interim `1xx` (`100 Continue`, written before a body is read) is no answer:
    /// the request's deadline keeps running and the connection is not idle.
    fn note_write(&self, cx: &Context<'_>, written: &Poll<io::Result<usize>>, first: &[u8]) {
        let watch = &*self.watch;
        match written {
            Poll::Ready(Ok(n)) if *n > 0 => {
                watch.blocked_since.set(None);
                if !is_interim(first) {
                    watch.waiting_since.set(None);
                    // The idle time runs from the answer (actix may not read again until
                    // woken, so it cannot start from the next read).
                    if watch.idle_limit.is_some() {
                        watch.idle_since.set(Some(SWEEPS.get()));
                    }
                }
            }
            Poll::Pending => {
                watch.waiting_since.set(None);
                watch.idle_since.set(None);
                if watch.blocked_since.get().is_none() {
                    watch.blocked_since.set(Some(SWEEPS.get()));
                }
                watch.wake_on_expiry(cx);
            }
            _ => {}
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
        if let Some(err) = this.write_failed() {
            return Poll::Ready(Err(err));
        }
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        this.note_write(cx, &written, buf);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(err) = this.write_failed() {
            return Poll::Ready(Err(err));
        }
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.note_write(cx, &written, first_buf(bufs));
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

    /// A callback that keeps the cuts it is told of.
    fn recorder() -> (OnCut, Rc<RefCell<Vec<Cut>>>) {
        let cuts = Rc::new(RefCell::new(Vec::new()));
        let kept = cuts.clone();
        (Rc::new(move |cut| kept.borrow_mut().push(cut)), cuts)
    }

    /// Runs `f` on a current-thread runtime inside a `LocalSet`, as actix's workers do.
    fn on_worker<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    /// Reads from `server` until it reads as closed (within 5 s, else the test fails); returns
    /// how long that took.
    async fn time_to_end<IO: AsyncRead + Unpin>(server: &mut IO) -> Duration {
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .expect("the connection ends within 5 s")
            .expect("an end of stream, not an error");
        assert_eq!(n, 0, "read {:?}", &buf[..n]);
        started.elapsed()
    }

    #[test]
    fn a_request_left_unfinished_reads_as_closed_after_the_limit() {
        on_worker(async {
            let (client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let mut server = Deadlined::new(server, Duration::from_millis(300), None, &on_cut);
            let mut client = client;
            client
                .write_all(b"GET / HTTP/1.1\r\nHo")
                .await
                .expect("write");
            let mut buf = [0u8; 64];
            let n = server.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\nHo");
            let waited = time_to_end(&mut server).await;
            // Not before the limit; within two sweeps after it, and slack for a busy machine.
            assert!(
                waited >= Duration::from_millis(300) && waited < Duration::from_secs(4),
                "{waited:?}"
            );
            assert_eq!(*cuts.borrow(), [Cut::StalledRequest]);
        });
    }

    #[test]
    fn answered_requests_and_idle_connections_have_no_deadline() {
        on_worker(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let mut server = Deadlined::new(server, Duration::from_secs(1), None, &on_cut);
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
            assert!(cuts.borrow().is_empty(), "{:?}", cuts.borrow());
        });
    }

    #[test]
    fn a_connection_idle_for_the_idle_limit_reads_as_closed_and_is_not_a_cut() {
        on_worker(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let idle = Duration::from_millis(600);
            let mut server = Deadlined::new(server, Duration::from_secs(5), Some(idle), &on_cut);
            let mut buf = [0u8; 64];
            // Requests that come within the idle limit of the previous answer, for three times
            // the limit in all, while the server waits to read as actix does: it stays.
            for _ in 0..6 {
                let (read, ()) = tokio::join!(server.read(&mut buf), async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    client.write_all(b"ping").await.expect("write");
                });
                assert_eq!(&buf[..read.expect("read")], b"ping");
                server.write_all(b"pong").await.expect("answer");
                let n = client.read(&mut buf).await.expect("read answer");
                assert_eq!(&buf[..n], b"pong");
            }
            // A request handled for longer than the idle limit is not idle: reads go on
            // waiting (actix keeps reading while it handles), and it is answered.
            client.write_all(b"slow").await.expect("write");
            let n = server.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], b"slow");
            let mut more = [0u8; 8];
            let waiting = tokio::time::timeout(idle * 2 + SWEEP * 2, server.read(&mut more)).await;
            assert!(waiting.is_err(), "read during handling: {waiting:?}");
            server.write_all(b"done").await.expect("answer");
            let n = client.read(&mut buf).await.expect("read answer");
            assert_eq!(&buf[..n], b"done");
            // Then idle: the connection ends after the limit, within two sweeps after it.
            let waited = time_to_end(&mut server).await;
            assert!(
                waited >= idle && waited < Duration::from_secs(4),
                "{waited:?}"
            );
            assert!(cuts.borrow().is_empty(), "{:?}", cuts.borrow());
        });
    }

    #[test]
    fn before_its_first_answer_a_connection_is_not_idle() {
        on_worker(async {
            // actix's head timer times a connection that sends nothing, with its 408.
            let (_client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let idle = Duration::from_millis(300);
            let mut server = Deadlined::new(server, Duration::from_secs(5), Some(idle), &on_cut);
            let mut buf = [0u8; 8];
            let waited = tokio::time::timeout(idle * 2 + SWEEP * 2, server.read(&mut buf)).await;
            assert!(waited.is_err(), "ended before any answer: {waited:?}");
            assert!(cuts.borrow().is_empty(), "{:?}", cuts.borrow());
        });
    }

    #[test]
    fn an_interim_100_continue_is_no_answer() {
        on_worker(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let limit = Duration::from_millis(1500);
            let idle = Duration::from_millis(300);
            let mut server = Deadlined::new(server, limit, Some(idle), &on_cut);
            let head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
            client.write_all(head).await.expect("head");
            let mut buf = [0u8; 128];
            let n = server.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], head);
            let started = Instant::now();
            server
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .expect("interim");
            // The body never comes: not ended as idle (after 0.5-1 s), but by the request's
            // deadline, and counted as a stalled request.
            time_to_end(&mut server).await;
            let waited = started.elapsed();
            assert!(waited >= limit, "{waited:?}");
            assert_eq!(*cuts.borrow(), [Cut::StalledRequest]);
        });
    }

    /// Writes `chunk` to `server` until a write has waited `wait` for the client.
    async fn fill<IO: AsyncWrite + Unpin>(server: &mut IO, chunk: &[u8], wait: Duration) {
        for _ in 0..10_000 {
            match tokio::time::timeout(wait, server.write(chunk)).await {
                Ok(written) => assert!(written.expect("writes go through") > 0),
                Err(_) => return,
            }
        }
        panic!("the connection never filled up");
    }

    #[test]
    fn an_answer_the_client_does_not_read_fails_after_the_limit() {
        on_worker(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let mut server = Deadlined::new(server, Duration::from_millis(300), None, &on_cut);
            client
                .write_all(b"GET / HTTP/1.1\r\n\r\n")
                .await
                .expect("write");
            let mut buf = [0u8; 64];
            let n = server.read(&mut buf).await.expect("read");
            assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n");
            // The client reads nothing: the answer fills the pipe.
            fill(&mut server, &[b'a'; 256], Duration::from_millis(50)).await;
            let started = Instant::now();
            let err = tokio::time::timeout(Duration::from_secs(5), server.write(b"more"))
                .await
                .expect("the deadline ends the wait")
                .expect_err("the write fails");
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            let waited = started.elapsed();
            assert!(waited < Duration::from_secs(4), "{waited:?}");
            // Later writes fail at once, and reads end: actix drops the connection.
            assert!(server.write(b"x").await.is_err());
            assert_eq!(server.read(&mut buf).await.expect("end of stream"), 0);
            // One cut, counted once however often its sweep comes round again.
            tokio::time::sleep(SWEEP * 2).await;
            assert_eq!(*cuts.borrow(), [Cut::UnreadAnswer]);
        });
    }

    #[test]
    fn a_client_that_reads_slowly_but_within_the_limit_keeps_its_connection() {
        on_worker(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let (on_cut, cuts) = recorder();
            let mut server = Deadlined::new(server, Duration::from_millis(600), None, &on_cut);
            let reader = tokio::task::spawn_local(async move {
                let mut buf = [0u8; 256];
                let mut total = 0;
                // A read every 300 ms, for three times the limit.
                for _ in 0..6 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    total += client.read(&mut buf).await.expect("read");
                }
                total
            });
            let started = Instant::now();
            let mut written = 0;
            while started.elapsed() < Duration::from_millis(1500) {
                written += server.write(&[b'a'; 256]).await.expect("not timed out");
            }
            assert!(
                written > 1024,
                "the writer waited on the reader ({written} bytes)"
            );
            assert!(reader.await.expect("reader") > 0);
            assert!(cuts.borrow().is_empty(), "{:?}", cuts.borrow());
        });
    }

    #[test]
    fn the_sweep_forgets_dropped_connections() {
        on_worker(async {
            let count = || WATCHED.with(|w| w.borrow().len());
            let before = count();
            let (on_cut, _) = recorder();
            let conns: Vec<_> = (0..10)
                .map(|_| Deadlined::new(tokio::io::empty(), Duration::from_secs(1), None, &on_cut))
                .collect();
            assert_eq!(count(), before + 10);
            drop(conns);
            sweep();
            assert_eq!(count(), 0);
        });
    }
}
