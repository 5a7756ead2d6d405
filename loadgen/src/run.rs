//! The request loop: one task per connection, each with its own [`Recorder`] fork and (open
//! model) slots from the shared [`OpenSchedule`]; warmup, `--duration`/`--requests`, timeouts,
//! reconnects, the generator self-check (schedule lag, CPU headroom of the worker threads), and
//! the stop on SIGINT/SIGTERM ([`crate::interrupt`]: no new requests, a bounded grace for those
//! in flight, then the measurements of what ran). The connections' loops are in `worker`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;
use tokio::time::{sleep_until, timeout, timeout_at};

use crate::client::traceparent::TraceSampler;
use crate::client::{ClientError, Conn, Connector};
use crate::config::{Model, RunConfig, Stop, Target, mix_order};
use crate::interrupt::{self, Interrupted};
use crate::progress::{Live, Progress};
use crate::reach::Reach;
use crate::recorder::{IntervalSink, Recorder, Summary, new_histogram};
use crate::report::{RunMeta, TraceMeta};
use crate::schedule::{OpenSchedule, RequestBudget};
use crate::selfcheck::{SelfCheck, ThreadBusy, ThreadClock};

mod worker;

use worker::{Deadline, WorkerResult, closed_worker, open_worker};

/// Name of the generator's runtime threads (the self-check reads their CPU accounting).
pub const WORKER_THREAD_NAME: &str = "loadgen-worker";

/// How long before --start-at the connections are opened (see [`execute`]): enough to open
/// them all, short of any server's timeout for a connection's first request.
pub const CONNECT_LEAD: Duration = Duration::from_secs(3);

/// Why a run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The client could not be set up.
    #[error(transparent)]
    Client(#[from] crate::client::ClientError),
    /// The async runtime could not start.
    #[error("starting the async runtime failed: {0}")]
    Runtime(std::io::Error),
}

/// A finished run: the recorder's summary and what the engine knows about the run.
pub struct Measured {
    /// Latency histograms, counts, intervals.
    pub summary: Summary,
    /// Rates, self-check and settings.
    pub meta: RunMeta,
    /// Why the run was stopped early (the target never accepted a connection; see
    /// [`crate::reach`]): a failure to test, not a measurement.
    pub gave_up: Option<String>,
    /// Set when a stop was requested (SIGINT, SIGTERM; see [`crate::interrupt`]) before the run
    /// ended: everything above covers only what ran, and the verdict is to be `aborted`.
    pub aborted: Option<Interrupted>,
    /// Why the caller of [`run_blocking_until`] ended the run before its end (its outcome was
    /// already certain): everything above covers only what ran, judged as it is.
    pub decided: Option<String>,
}

struct Shared {
    connector: Connector,
    targets: Vec<Target>,
    order: Vec<u32>,
    timeout: Duration,
    live: Arc<Live>,
    reach: Reach,
    /// Which requests carry a `traceparent` (`--trace-sample`); `None`: none do.
    trace: Option<TraceSampler>,
}

impl Shared {
    /// Opens a connection, telling [`Reach`] how it went.
    async fn connect(&self) -> Result<Conn, ClientError> {
        let c = self.connector.connect().await;
        match &c {
            Ok(_) => self.reach.connected(),
            Err(e) => self.reach.failed(|| match e {
                ClientError::Connect { why, .. } => why.clone(),
                other => other.to_string(),
            }),
        }
        c
    }
}

/// Runs `cfg` and returns the measurements. `sink` receives each finished second (the
/// `--hlog` writer). The control side (progress, self-check) runs on a small runtime on this
/// thread; the connections run on `cfg.threads` threads named [`WORKER_THREAD_NAME`], each with
/// its own single-threaded runtime (like wrk's event loops: no work-stealing, no cross-thread
/// wake-ups on the hot path).
pub fn run_blocking(
    cfg: &RunConfig,
    sink: Option<Box<dyn IntervalSink>>,
) -> Result<Measured, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(execute(cfg, sink))
}

/// Something that resolves, with the reason, once the caller knows a run's outcome.
pub type Decided = std::pin::Pin<Box<dyn Future<Output = String> + Send>>;

/// [`run_blocking`], ended early, as a stop does but without the verdict `aborted`, once
/// `decided` resolves: for a caller that knows the outcome before the end (`capacity`'s steps
/// whose breach is already certain); [`Measured::decided`] then says why.
pub fn run_blocking_until(
    cfg: &RunConfig,
    sink: Option<Box<dyn IntervalSink>>,
    decided: Decided,
) -> Result<Measured, RunError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    rt.block_on(execute_until(cfg, sink, decided))
}

/// When and how the workers run; the same for every worker thread.
#[derive(Clone)]
struct Plan {
    start: Instant,
    epoch: Instant,
    window_end: Instant,
    drain_deadline: Instant,
    give_up: Instant,
    open: Option<Arc<OpenSchedule>>,
    budget: Arc<RequestBudget>,
}

/// Opens `n` connections (HTTP/2: up to 100 streams share one), each bounded by `limit`.
/// When none opens, the warning says why (an untrusted certificate, a refused port, ...).
async fn connect_all(sh: &Shared, n: usize, http2: bool, limit: Duration) -> Vec<Option<Conn>> {
    let per_connection = if http2 { 100 } else { 1 };
    let mut conns = Vec::with_capacity(n);
    let mut shared_h2: Option<Conn> = None;
    let mut why = None;
    for w in 0..n {
        let conn = if w % per_connection != 0 {
            shared_h2.as_ref().and_then(Conn::share)
        } else {
            let c = match timeout(limit, sh.connect()).await {
                Ok(Ok(c)) => Some(c),
                Ok(Err(e)) => {
                    why.get_or_insert_with(|| e.to_string());
                    None
                }
                Err(_) => {
                    why.get_or_insert_with(|| format!("no connection within {limit:?}"));
                    None
                }
            };
            if http2 {
                shared_h2 = c.as_ref().and_then(Conn::share);
            }
            c
        };
        conns.push(conn);
    }
    if let Some(why) = why.filter(|_| conns.iter().all(Option::is_none)) {
        tracing::warn!(
            error = %why,
            "no connection could be opened before the start; requests will record errors"
        );
    }
    conns
}

struct ThreadJob {
    rt: tokio::runtime::Runtime,
    sh: Arc<Shared>,
    first: usize,
    count: usize,
    http2: bool,
    connect_limit: Duration,
    connected: Arc<tokio::sync::Barrier>,
    go: oneshot::Receiver<(Plan, Vec<(Recorder, Deadline)>)>,
    done: oneshot::Sender<(Vec<WorkerResult>, Option<ThreadBusy>)>,
}

fn worker_thread(job: ThreadJob) {
    let ThreadJob {
        rt,
        sh,
        first,
        count,
        http2,
        connect_limit,
        connected,
        go,
        done,
    } = job;
    rt.block_on(async move {
        // A stop while connecting (a target that takes each connection's whole timeout to
        // refuse it) skips the rest: the run then ends at once.
        let conns = tokio::select! {
            conns = connect_all(&sh, count, http2, connect_limit) => conns,
            _ = interrupt::wait() => (0..count).map(|_| None).collect(),
        };
        connected.wait().await;
        let Ok((plan, recorders)) = go.await else { return };
        // This thread's busy time over the measured window, sampled by the thread itself (at
        // the window's start and end, or when its connections finish first).
        let mark = |at: Instant| {
            tokio::spawn(async move {
                sleep_until(at.into()).await;
                (Instant::now(), ThreadClock::own())
            })
        };
        let (start_mark, end_mark) = (mark(plan.epoch), mark(plan.window_end));
        let mut handles = Vec::with_capacity(count);
        for ((w, conn), (rec, mut timer)) in (first..first + count).zip(conns).zip(recorders) {
            let sh = Arc::clone(&sh);
            let plan = plan.clone();
            handles.push(tokio::spawn(async move {
                // Stopped before the start: the loops below end at their first check.
                timer.wait_until(plan.start).await;
                match &plan.open {
                    Some(s) => {
                        let (end, drain) = (plan.window_end, plan.drain_deadline);
                        open_worker(&sh, w, s, conn, rec, timer, end, drain).await
                    }
                    None => {
                        let b = &plan.budget;
                        closed_worker(&sh, w, b, conn, rec, timer, plan.epoch, plan.window_end)
                            .await
                    }
                }
            }));
        }
        let mut results = Vec::with_capacity(count);
        for h in handles {
            let abort = h.abort_handle();
            match timeout_at(plan.give_up.into(), h).await {
                Ok(Ok(r)) => results.push(r),
                Ok(Err(e)) => tracing::error!(error = %e, "a connection task failed"),
                Err(_) => {
                    abort.abort();
                    tracing::warn!(
                        "a connection task did not finish within the drain deadline; its requests are lost"
                    );
                }
            }
        }
        let finished = (Instant::now(), ThreadClock::own());
        let taken = |mark: tokio::task::JoinHandle<(Instant, Option<ThreadClock>)>| async move {
            if mark.is_finished() {
                mark.await.ok()
            } else {
                mark.abort();
                None
            }
        };
        let start = taken(start_mark).await;
        let end = taken(end_mark).await.or(Some(finished));
        let busy = match (start, end) {
            (Some((t0, Some(a))), Some((t1, Some(b)))) => Some(ThreadBusy::between(
                &a,
                &b,
                t1.saturating_duration_since(t0),
            )),
            _ => None,
        };
        let _ = done.send((results, busy));
    });
}

/// Runs `cfg`; the connections run on threads of their own (see [`run_blocking`]).
pub async fn execute(
    cfg: &RunConfig,
    sink: Option<Box<dyn IntervalSink>>,
) -> Result<Measured, RunError> {
    execute_until(cfg, sink, Box::pin(std::future::pending())).await
}

/// [`execute`], ended early once `decided` resolves (see [`run_blocking_until`]).
pub async fn execute_until(
    cfg: &RunConfig,
    sink: Option<Box<dyn IntervalSink>>,
    decided: Decided,
) -> Result<Measured, RunError> {
    let connector = Connector::new(&cfg.endpoint, cfg.http2)?;
    let workers = cfg.connections;
    let shared = Arc::new(Shared {
        connector,
        targets: cfg.targets.clone(),
        order: mix_order(&cfg.targets),
        timeout: cfg.timeout,
        live: Arc::new(Live::new(workers)),
        reach: Reach::default(),
        trace: cfg.trace.as_ref().and_then(|t| TraceSampler::new(t.ratio)),
    });

    // Every thread connects first (bounded by the timeout), so that the schedule starts on
    // warm connections; then the plan (start, schedule, recorder forks) is handed out. With
    // --start-at far ahead (generators started early to wait for each other), the connections
    // are opened only shortly before it: servers close a connection that sends no request for
    // a few seconds (actix answers it 408 after 5 s by default), and a stale connection would
    // fail or mis-answer the run's first requests.
    if let Some(wait) = cfg
        .start_at
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .and_then(|ahead| ahead.checked_sub(CONNECT_LEAD))
    {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = interrupt::wait() => {}
        }
    }
    let threads = cfg.threads.clamp(1, workers);
    let connected = Arc::new(tokio::sync::Barrier::new(threads + 1));
    let mut gos = Vec::with_capacity(threads);
    let mut dones = Vec::with_capacity(threads);
    let mut joins = Vec::with_capacity(threads);
    for t in 0..threads {
        let first = workers * t / threads;
        let count = workers * (t + 1) / threads - first;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("loadgen-blocking")
            .build()
            .map_err(RunError::Runtime)?;
        let (go_tx, go) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        let job = ThreadJob {
            rt,
            sh: Arc::clone(&shared),
            first,
            count,
            http2: cfg.http2,
            connect_limit: cfg.timeout,
            connected: Arc::clone(&connected),
            go,
            done,
        };
        let join = std::thread::Builder::new()
            .name(WORKER_THREAD_NAME.into())
            .spawn(move || worker_thread(job))
            .map_err(RunError::Runtime)?;
        gos.push((go_tx, first, count));
        dones.push(done_rx);
        joins.push(join);
    }
    connected.wait().await;

    let now_i = Instant::now();
    let now_w = SystemTime::now();
    let start = match cfg.start_at {
        Some(at) => {
            if let Ok(late) = now_w.duration_since(at) {
                tracing::warn!(
                    late = ?late,
                    "the connections were ready only after --start-at: this generator starts late"
                );
            }
            now_i + at.duration_since(now_w).unwrap_or(Duration::ZERO)
        }
        None => now_i + Duration::from_millis(20),
    };
    let (open, epoch, window_end) = match (cfg.model, cfg.stop) {
        (Model::Open { rate }, stop) => {
            let (d, n) = match stop {
                Stop::Duration(d) => (Some(d), None),
                Stop::Requests(n) => (None, Some(n)),
            };
            let s = Arc::new(match &cfg.ramp {
                Some(ramp) => OpenSchedule::ramped(start, ramp),
                None => OpenSchedule::new(start, rate, cfg.warmup, d, n),
            });
            let (e, end) = (s.epoch(), s.window_end());
            (Some(s), e, end)
        }
        (Model::Closed, Stop::Duration(d)) => (None, start + cfg.warmup, start + cfg.warmup + d),
        (Model::Closed, Stop::Requests(_)) => (
            None,
            start + cfg.warmup,
            start + cfg.warmup + Duration::from_secs(366 * 24 * 3600),
        ),
    };
    let epoch_wall = now_w + epoch.saturating_duration_since(now_i);
    let root = Recorder::new(epoch, epoch_wall);
    root.set_targets(
        cfg.targets
            .iter()
            .map(|t| format!("{} {}", t.method, t.path))
            .collect(),
    );
    if let Some(sink) = sink {
        root.set_sink(sink);
    }
    let drain_deadline = window_end + cfg.timeout;
    let plan = Plan {
        start,
        epoch,
        window_end,
        drain_deadline,
        give_up: drain_deadline + cfg.timeout + Duration::from_secs(5),
        open,
        budget: Arc::new(RequestBudget::new(match cfg.stop {
            Stop::Requests(n) => Some(n),
            Stop::Duration(_) => None,
        })),
    };
    // Each connection gets its recorder fork and its own stop (see `worker::Deadline`).
    let grace = interrupt::grace(cfg.timeout);
    let mut stops = Vec::with_capacity(workers);
    for (go, _, count) in gos {
        let forks = (0..count)
            .map(|_| {
                let (stop, stopped) = oneshot::channel();
                stops.push(stop);
                (root.fork(), Deadline::new(stopped, grace))
            })
            .collect();
        let _ = go.send((plan.clone(), forks));
    }
    let halt = tokio::spawn(async move {
        let cause = tokio::select! {
            signal = interrupt::wait() => Ok(signal),
            why = decided => Err(why),
        };
        for stop in stops {
            let _ = stop.send(());
        }
        (cause, Instant::now())
    });

    let progress = Progress::spawn(
        !cfg.quiet,
        Arc::clone(&shared.live),
        root.fork(),
        epoch,
        window_end,
        cfg.rate(),
    );
    // A target that never accepts a connection is given up on within seconds (see `reach`).
    let watch = {
        let sh = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let now = Instant::now();
                if now >= window_end || sh.reach.give_up(now.saturating_duration_since(start)) {
                    break;
                }
            }
        })
    };
    let mut root = root;
    let mut lag = new_histogram();
    let (mut sent_in_window, mut queued, mut abandoned) = (0, 0, 0);
    let mut busy = Vec::with_capacity(threads);
    for done in dones {
        let (results, thread_busy) = done.await.unwrap_or_default();
        for r in results {
            root.merge(&r.recorder);
            let _ = lag.add(&r.lag);
            sent_in_window += r.sent_in_window;
            queued += r.queued;
            abandoned += r.abandoned;
        }
        busy.extend(thread_busy);
    }
    for j in joins {
        let _ = j.join();
    }
    watch.abort();
    // A stop that came once every connection had finished changed nothing: the run is whole.
    let halted = if halt.is_finished() {
        halt.await.ok()
    } else {
        halt.abort();
        None
    };
    let gave_up = shared.reach.reason();
    let ended_early = halted
        .as_ref()
        .map(|(_, at)| *at)
        .or_else(|| gave_up.is_some().then(Instant::now));
    if let Some(p) = progress {
        p.finish().await;
    }
    let summary = root.summary();

    let (duration, achieved_rate) = match (cfg.model, cfg.stop) {
        (Model::Open { .. }, _) => {
            let until = ended_early.map_or(window_end, |t| t.min(window_end));
            let d = until.saturating_duration_since(epoch);
            (d, rate_of(sent_in_window, d))
        }
        (Model::Closed, Stop::Duration(d)) => {
            let d = ended_early.map_or(d, |t| d.min(t.saturating_duration_since(epoch)));
            (d, rate_of(summary.total, d))
        }
        (Model::Closed, Stop::Requests(_)) => {
            let d = summary.duration.max(Duration::from_micros(1));
            (d, rate_of(summary.total, d))
        }
    };
    let self_check = SelfCheck::new(
        &lag,
        queued,
        ThreadBusy::share(&busy),
        cfg.max_lag,
        cfg.rate(),
        achieved_rate,
    );
    let meta = RunMeta {
        url: cfg.label.clone(),
        model: if cfg.rate().is_some() {
            "open"
        } else {
            "closed"
        }
        .to_string(),
        connections: Some(cfg.connections),
        target_rate: cfg.rate(),
        achieved_rate,
        duration,
        generator_id: cfg.generator_id.clone(),
        self_check: Some(self_check),
        trace: cfg.trace.as_ref().map(|t| TraceMeta {
            ratio: t.ratio,
            url: t.url.clone(),
        }),
    };
    let decided = halted.as_ref().and_then(|(c, _)| c.as_ref().err().cloned());
    let aborted = halted.and_then(|(c, at)| c.ok().map(|signal| (signal, at)));
    let aborted = aborted.map(|(signal, at)| Interrupted {
        signal,
        ran: at.min(window_end).saturating_duration_since(epoch),
        planned: match cfg.stop {
            Stop::Duration(d) => Some(d),
            Stop::Requests(_) => None,
        },
        abandoned,
        grace,
    });
    Ok(Measured {
        summary,
        meta,
        gave_up,
        aborted,
        decided,
    })
}

fn rate_of(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}
