//! One connection's request loop, open model ([`open_worker`]: slots of the shared schedule)
//! or closed ([`closed_worker`]: send on response), and its [`Deadline`]: the request timer,
//! which also carries the run's stop (SIGINT, SIGTERM; see [`crate::interrupt`]). After a stop
//! a connection takes no new request, and the one in flight may finish within the grace; one
//! still unanswered then is abandoned, neither recorded nor counted.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::oneshot;
use tokio::time::{Sleep, sleep_until};

use super::Shared;
use crate::client::traceparent::Traced;
use crate::client::{Conn, Exchange, build_request, exchange};
use crate::config::Target;
use crate::recorder::{Answer, ErrorKind, Outcome, Recorder, new_histogram};
use crate::schedule::{OpenSchedule, RequestBudget};

/// A slot picked up this much after it was due counts as queued (all connections were busy).
const QUEUED_AFTER: Duration = Duration::from_millis(1);

/// What one connection task hands back.
pub(super) struct WorkerResult {
    pub(super) recorder: Recorder,
    pub(super) lag: Histogram<u64>,
    pub(super) sent_in_window: u64,
    pub(super) queued: u64,
    /// Requests cut off by a stop's grace (not recorded).
    pub(super) abandoned: u64,
}

/// A connection's request timer and the run's stop. Moving a registered tokio timer to a later
/// deadline is an atomic store, while a fresh `timeout()` per request inserts into and removes
/// from the timer wheel under a lock: so each connection keeps one timer and pushes it
/// forward. The stop is a oneshot of the connection's own (its state is one atomic, so
/// checking it per request costs next to nothing, and no lock is shared between connections).
pub(super) struct Deadline {
    timer: Pin<Box<Sleep>>,
    /// The current request's deadline from the timeout alone.
    due: Instant,
    /// Whether the timer was pulled in to the stop's cutoff (before `due`).
    cut_short: bool,
    /// Fires when the run is to stop; `None` once fired or when it can no longer fire.
    stop: Option<oneshot::Receiver<()>>,
    /// Once stopping: requests in flight may finish until then.
    cutoff: Option<Instant>,
    grace: Duration,
}

/// How a raced future ended.
enum Raced<T> {
    Done(T),
    /// The request timeout passed.
    TimedOut,
    /// The stop's grace ran out first.
    Cut,
}

/// Resolves with true when the stop fires, false when it never can; pends while there is none.
async fn stop_fired(stop: &mut Option<oneshot::Receiver<()>>) -> bool {
    match stop {
        Some(rx) => rx.await.is_ok(),
        None => std::future::pending().await,
    }
}

impl Deadline {
    /// A timer for one connection; `stop` fires when the run is to stop, after which a request
    /// in flight gets `grace` more at most.
    pub(super) fn new(stop: oneshot::Receiver<()>, grace: Duration) -> Deadline {
        let due = Instant::now() + Duration::from_secs(3600);
        Deadline {
            timer: Box::pin(sleep_until(due.into())),
            due,
            cut_short: false,
            stop: Some(stop),
            cutoff: None,
            grace,
        }
    }

    /// Sets the timer for a request due by `due` (earlier when stopping).
    fn arm(&mut self, due: Instant) {
        self.due = due;
        let at = self.cutoff.map_or(due, |c| c.min(due));
        self.cut_short = at < due;
        self.timer.as_mut().reset(at.into());
    }

    /// The stop fired now: in-flight work may go on for the grace at most.
    fn begin_stop(&mut self) {
        self.stop = None;
        let cutoff = Instant::now() + self.grace;
        self.cutoff = Some(cutoff);
        if cutoff < self.due {
            self.cut_short = true;
            self.timer.as_mut().reset(cutoff.into());
        }
    }

    /// Whether the run is stopping (checked before each new request).
    pub(super) fn stopping(&mut self) -> bool {
        if self.cutoff.is_some() {
            return true;
        }
        if let Some(rx) = &mut self.stop {
            match rx.try_recv() {
                Ok(()) => {
                    self.begin_stop();
                    return true;
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => self.stop = None,
            }
        }
        false
    }

    /// Sleeps until `at`; false when the run is stopping (then possibly woken early).
    pub(super) async fn wait_until(&mut self, at: Instant) -> bool {
        let sleep = sleep_until(at.into());
        tokio::pin!(sleep);
        loop {
            if self.stopping() {
                return false;
            }
            tokio::select! {
                biased;
                () = &mut sleep => return true,
                fired = stop_fired(&mut self.stop) => {
                    if fired {
                        self.begin_stop();
                    } else {
                        self.stop = None;
                    }
                }
            }
        }
    }

    /// Runs `fut` until it completes, the deadline passes or a stop's grace runs out.
    async fn race<F: Future>(&mut self, fut: F) -> Raced<F::Output> {
        enum Woke<T> {
            Done(T),
            Timer,
            Stop(bool),
        }
        tokio::pin!(fut);
        loop {
            let woke = tokio::select! {
                biased;
                out = &mut fut => Woke::Done(out),
                () = &mut self.timer => Woke::Timer,
                fired = stop_fired(&mut self.stop) => Woke::Stop(fired),
            };
            match woke {
                Woke::Done(out) => return Raced::Done(out),
                Woke::Timer if self.cut_short => return Raced::Cut,
                Woke::Timer => return Raced::TimedOut,
                Woke::Stop(true) => self.begin_stop(),
                Woke::Stop(false) => self.stop = None,
            }
        }
    }
}

/// Sends one request of `target`, (re)connecting first when needed; the timeout covers
/// connecting, waiting for the connection and the whole response. `started` is now (the caller
/// just read the clock); `traced` the request's `traceparent`, if it carries one. `None` when a
/// stop's grace cut the request off (it is not recorded).
async fn send_one(
    sh: &Shared,
    conn: &mut Option<Conn>,
    timer: &mut Deadline,
    target: &Target,
    started: Instant,
    traced: Option<&Traced>,
) -> Option<(Instant, Exchange)> {
    let failed = |kind| Exchange::failed(kind, None);
    timer.arm(started + sh.timeout);
    if let Some(c) = conn.as_mut() {
        match timer.race(c.ready()).await {
            Raced::Done(true) => {}
            Raced::Done(false) => *conn = None,
            Raced::TimedOut => {
                *conn = None;
                return Some((started, failed(ErrorKind::Timeout)));
            }
            Raced::Cut => return None,
        }
    }
    if conn.is_none() {
        match timer.race(sh.connect()).await {
            Raced::Done(Ok(c)) => *conn = Some(c),
            Raced::Done(Err(e)) => return Some((started, failed(e.kind()))),
            Raced::TimedOut => return Some((started, failed(ErrorKind::Timeout))),
            Raced::Cut => return None,
        }
    }
    let Some(c) = conn.as_mut() else {
        return Some((started, failed(ErrorKind::Other)));
    };
    let req =
        build_request(target, c.is_h2()).with_traceparent(traced.map(|t| t.header.as_slice()));
    let sent = Instant::now();
    match timer.race(exchange(c, req)).await {
        Raced::Done(ex) => {
            if !ex.reusable {
                *conn = None;
            }
            Some((sent, ex))
        }
        Raced::TimedOut => {
            *conn = None;
            Some((sent, failed(ErrorKind::Timeout)))
        }
        Raced::Cut => {
            *conn = None;
            None
        }
    }
}

/// The open model's loop: takes slots of `sched` until it is exhausted or the run stops.
#[allow(clippy::too_many_arguments)]
pub(super) async fn open_worker(
    sh: &Shared,
    w: usize,
    sched: &OpenSchedule,
    mut conn: Option<Conn>,
    mut rec: Recorder,
    mut timer: Deadline,
    window_end: Instant,
    drain_deadline: Instant,
) -> WorkerResult {
    let mut lag = new_histogram();
    let (mut sent_in_window, mut queued, mut abandoned) = (0, 0, 0);
    let live = sh.live.slot(w);
    while let Some(i) = sched.take() {
        if sh.reach.stopped() || timer.stopping() {
            break;
        }
        let intended = sched.intended(i);
        let measured = sched.is_measured(i);
        let mut now = Instant::now();
        // Where corrected latency starts: the intended time when the request waited for this
        // connection (the server's doing: coordinated-omission correction); when the
        // connection was idle and waiting for the slot, the moment it woke. The timer's own
        // lateness (tokio's tick is 1 ms) is the generator's, not the server's: it is recorded
        // as schedule lag, which the self-check bounds (a run whose wake-ups were late is
        // invalid rather than slow).
        let mut start = intended;
        if now < intended {
            if !timer.wait_until(intended).await {
                break;
            }
            let woke = Instant::now();
            if measured {
                lag.saturating_record(micros(woke.saturating_duration_since(intended)));
            }
            now = woke;
            start = woke;
        } else if measured && now - intended > QUEUED_AFTER {
            queued += 1;
        }
        let t = sh.order[(i % sh.order.len() as u64) as usize] as usize;
        if now >= drain_deadline {
            // Owed but never sent within the drain: it would have taken at least this long.
            if measured {
                rec.record_answer(Answer::Failed(ErrorKind::Timeout), t, intended, now, now);
                live.add(Outcome::Timeout);
            }
            continue;
        }
        let target = &sh.targets[t];
        let traced = sh.trace.as_ref().and_then(|s| s.pick());
        let Some((sent, ex)) =
            send_one(sh, &mut conn, &mut timer, target, now, traced.as_ref()).await
        else {
            abandoned += u64::from(measured);
            break;
        };
        if measured {
            rec.record_answer(ex.answer(), t, start, sent, ex.done);
            if let Some(tr) = &traced {
                rec.record_trace(tr.trace_id, ex.answer(), start, sent, ex.done);
            }
            live.add(ex.outcome);
            if sent < window_end {
                sent_in_window += 1;
            }
        }
    }
    WorkerResult {
        recorder: rec,
        lag,
        sent_in_window,
        queued,
        abandoned,
    }
}

/// The closed model's loop: sends on each response until `end`, the budget is spent or the
/// run stops.
#[allow(clippy::too_many_arguments)]
pub(super) async fn closed_worker(
    sh: &Shared,
    w: usize,
    budget: &RequestBudget,
    mut conn: Option<Conn>,
    mut rec: Recorder,
    mut timer: Deadline,
    epoch: Instant,
    end: Instant,
) -> WorkerResult {
    let live = sh.live.slot(w);
    let mut k = w;
    let mut abandoned = 0;
    loop {
        let intended = Instant::now();
        if intended >= end || budget.spent() || sh.reach.stopped() || timer.stopping() {
            break;
        }
        let measured = intended >= epoch;
        if measured && !budget.take() {
            break;
        }
        let t = sh.order[k % sh.order.len()] as usize;
        let target = &sh.targets[t];
        k = k.wrapping_add(1);
        let traced = sh.trace.as_ref().and_then(|s| s.pick());
        let Some((sent, ex)) =
            send_one(sh, &mut conn, &mut timer, target, intended, traced.as_ref()).await
        else {
            abandoned += u64::from(measured);
            break;
        };
        if measured {
            rec.record_answer(ex.answer(), t, intended, sent, ex.done);
            if let Some(tr) = &traced {
                rec.record_trace(tr.trace_id, ex.answer(), intended, sent, ex.done);
            }
            live.add(ex.outcome);
        }
        if ex.outcome == Outcome::Error && ex.status.is_none() && conn.is_none() {
            // A refused connection fails in microseconds; pace the retries instead of spinning.
            timer
                .wait_until(Instant::now() + Duration::from_millis(10))
                .await;
        }
    }
    WorkerResult {
        recorder: rec,
        lag: new_histogram(),
        sent_in_window: 0,
        queued: 0,
        abandoned,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
