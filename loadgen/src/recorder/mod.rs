//! Latency recording: HdrHistograms per outcome class, corrected and uncorrected.
//!
//! Each worker owns a [`Recorder`] (no locks and no allocation per request). A recorder only
//! keeps the histograms of the *current second*; when a completion falls into a later second it
//! hands that interval to the run's shared [`hub`](crate::recorder::Recorder::fork) (one lock per
//! worker per second). The hub adds every worker's interval for a second together, and after a
//! short grace period finalizes it: the interval histograms are streamed to an optional
//! [`IntervalSink`] (the `--hlog` writer), added into the run totals, and reduced to a small
//! [`IntervalStats`]. So memory stays flat however long the run: the totals, a few open seconds,
//! and ~100 bytes per elapsed second.
//!
//! Values are microseconds, 1 µs .. 1 h at 3 significant digits. *Corrected* latency is measured
//! from the intended send time (coordinated-omission correction, as wrk2 does), *uncorrected*
//! from the actual send.
//!
//! Workers must be created with [`Recorder::fork`] from one root recorder so that they share a
//! hub: then per-second percentiles are exact. [`Recorder::merge`] then only flushes the other
//! worker's open second. Merging recorders from *different* roots is exact for totals and
//! per-second counts and max, while per-second p50/p99 of seconds both had already finalized
//! become the larger of the two (an upper bound, never an average).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;

mod answer;
mod interval;
mod targets;
mod traces;

pub use answer::{Answer, ErrorKind};
use interval::{Hub, add_hist};
pub use interval::{IntervalSink, IntervalStats, Pair, Slot};
use targets::Rows;
pub use targets::{MAX_TARGET_ROWS, TARGET_SIGFIG, TargetStats, layout, new_target_histogram};
pub use traces::{ClassTraces, MAX_TRACES, TraceLists, TracedRequest, is_failure};

/// Lowest recordable latency, µs.
pub const LOWEST_US: u64 = 1;
/// Highest recordable latency, µs (one hour); larger values are clamped to it.
pub const HIGHEST_US: u64 = 3_600_000_000;
/// Significant decimal digits kept by every histogram.
pub const SIGFIG: u8 = 3;
/// Longest run (31 days) whose per-second statistics are kept.
pub const MAX_SECONDS: u64 = 31 * 24 * 3600;

/// A new, empty histogram with loadgen's bounds (1 µs .. 1 h, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG)
        .expect("constant bounds 1..3.6e9 at 3 significant digits are valid")
}

/// Outcome class of one request; the hlog tag is [`Outcome::tag`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// 2xx.
    Success,
    /// 3xx.
    Redirect,
    /// 4xx except 429.
    ClientError,
    /// 429 Too Many Requests.
    RateLimited,
    /// 5xx.
    ServerError,
    /// Connect, I/O or protocol error (no usable response).
    Error,
    /// No response within `--timeout`.
    Timeout,
}

impl Outcome {
    /// Every class, in report order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Success,
        Outcome::Redirect,
        Outcome::ClientError,
        Outcome::RateLimited,
        Outcome::ServerError,
        Outcome::Error,
        Outcome::Timeout,
    ];

    /// The class of an HTTP status; codes outside 200..=599 count as protocol errors.
    pub fn from_status(code: u16) -> Outcome {
        match code {
            429 => Outcome::RateLimited,
            200..=299 => Outcome::Success,
            300..=399 => Outcome::Redirect,
            400..=499 => Outcome::ClientError,
            500..=599 => Outcome::ServerError,
            _ => Outcome::Error,
        }
    }

    /// Short stable name, used as hlog tag and in reports: "2xx","3xx","4xx","429","5xx","error","timeout".
    pub fn tag(self) -> &'static str {
        match self {
            Outcome::Success => "2xx",
            Outcome::Redirect => "3xx",
            Outcome::ClientError => "4xx",
            Outcome::RateLimited => "429",
            Outcome::ServerError => "5xx",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
        }
    }

    /// The class named by `tag`, the inverse of [`Outcome::tag`].
    pub fn from_tag(tag: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.tag() == tag)
    }

    /// Position in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What can go wrong while recording.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The interval sink (the hlog file) failed; the in-memory results are still complete.
    #[error("writing the interval log failed: {0}; check the --hlog path and free disk space")]
    Sink(#[source] io::Error),
}

/// One worker's recorder: no locks, no allocation per request on the hot path.
pub struct Recorder {
    epoch: Instant,
    hub: Arc<Mutex<Hub>>,
    /// The second the open interval belongs to.
    second: u64,
    /// The second this recorder keeps open in the hub (a `Cell` so that `merge(&other)` can
    /// release the other's hold).
    held: Cell<Option<u64>>,
    current: Slot,
    /// Latest completion recorded, as offset from the epoch.
    end: Duration,
    /// Responses per HTTP status code (index = code, 0..=999).
    status: Box<[u64; 1000]>,
    /// Failures per [`ErrorKind`].
    kinds: [u64; 6],
    /// Per-entry rows of a mix (none unless [`Recorder::set_targets`] named two or more).
    rows: Rows,
    /// The trace ids of traced requests worth opening (empty unless some were traced).
    traces: TraceLists,
}

impl Recorder {
    /// A root recorder. `epoch` is the instant measurement starts (after warmup); `epoch_wall`
    /// its wall-clock time. Create each worker's recorder with [`Recorder::fork`].
    pub fn new(epoch: Instant, epoch_wall: SystemTime) -> Recorder {
        Recorder {
            epoch,
            hub: Arc::new(Mutex::new(Hub::new(epoch_wall))),
            second: 0,
            held: Cell::new(None),
            current: Slot::default(),
            end: Duration::ZERO,
            status: Box::new([0; 1000]),
            kinds: [0; 6],
            rows: Rows::default(),
            traces: TraceLists::default(),
        }
    }

    /// Names the entries of the mix (method and path, in targets-file order), so that each
    /// worker forked afterwards keeps a row per entry (see [`TargetStats`]); with fewer than
    /// two entries no rows are kept. Call on the root before forking.
    pub fn set_targets(&self, labels: Vec<String>) {
        self.lock().labels = labels;
    }

    /// An empty recorder for another worker of the same run, sharing this one's hub so that
    /// per-second percentiles over all workers are exact.
    pub fn fork(&self) -> Recorder {
        let rows = layout(&self.lock().labels).len();
        Recorder {
            epoch: self.epoch,
            hub: Arc::clone(&self.hub),
            second: 0,
            held: Cell::new(None),
            current: Slot::default(),
            end: Duration::ZERO,
            status: Box::new([0; 1000]),
            kinds: [0; 6],
            rows: Rows::new(rows),
            traces: TraceLists::default(),
        }
    }

    /// Streams each finalized interval to `sink` (e.g. the hlog writer). Set it before recording.
    pub fn set_sink(&self, mut sink: Box<dyn IntervalSink>) {
        let mut hub = self.lock();
        if let Err(e) = sink.start(hub.epoch_wall) {
            tracing::error!(error = %e, "interval log header write failed; no intervals are written");
            hub.sink_error = Some(e);
        }
        hub.sink = Some(sink);
    }

    /// Adds a whole interval of histograms (e.g. read back from an hlog) at `second` after the
    /// epoch, ending at `end` (offset from the epoch). Exact, like [`Recorder::merge`]; feed
    /// intervals in time order.
    pub fn record_slot(&mut self, second: u64, slot: &Slot, end: Duration) {
        self.lock().add(second, slot, end);
    }

    /// The most recently finalized second (for live progress; takes the hub lock briefly).
    pub fn last_interval(&self) -> Option<IntervalStats> {
        self.lock().intervals.last().cloned()
    }

    fn lock(&self) -> MutexGuard<'_, Hub> {
        // A panic while holding the lock cannot leave the hub half-updated in a way that
        // matters more than losing the run, so a poisoned lock is used as is.
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one request of entry `target` of the mix (0 for a single URL) as the load loop
    /// sees it: a complete exchange counts its status, a failure its [`ErrorKind`]. corrected =
    /// done - intended, uncorrected = done - sent; µs, clamped into 1 µs .. 1 h; never panics.
    pub fn record_answer(
        &mut self,
        answer: Answer,
        target: usize,
        intended: Instant,
        sent: Instant,
        done: Instant,
    ) {
        let (corrected, uncorrected) = self.add(
            answer.outcome(),
            answer.status(),
            answer.kind(),
            intended,
            sent,
            done,
        );
        self.rows.record(
            target,
            answer.status(),
            answer.kind(),
            corrected,
            uncorrected,
        );
    }

    /// Notes the trace id of a request that carried a `traceparent`, already recorded with
    /// [`Recorder::record_answer`] (same times), for the lists of slowest and failed requests
    /// ([`TraceLists`]). Called only for traced requests, so a run without tracing never pays.
    pub fn record_trace(
        &mut self,
        trace_id: trace::TraceId,
        answer: Answer,
        intended: Instant,
        sent: Instant,
        done: Instant,
    ) {
        self.traces.add(
            answer.outcome(),
            TracedRequest {
                trace_id,
                uncorrected_us: clamp_us(done.saturating_duration_since(sent)),
                corrected_us: clamp_us(done.saturating_duration_since(intended)),
                at: done.saturating_duration_since(self.epoch),
                status: answer.status(),
            },
        );
    }

    /// Records one request known by its class and status only (replays, tests): `status` is
    /// counted as given, a timeout counts as [`ErrorKind::Timeout`] and an error as
    /// [`ErrorKind::Other`]; no per-entry row. See [`Recorder::record_answer`].
    pub fn record(
        &mut self,
        outcome: Outcome,
        status: Option<u16>,
        intended: Instant,
        sent: Instant,
        done: Instant,
    ) {
        let kind = match outcome {
            Outcome::Timeout => Some(ErrorKind::Timeout),
            Outcome::Error => Some(ErrorKind::Other),
            _ => None,
        };
        self.add(outcome, status, kind, intended, sent, done);
    }

    /// Counts one request; returns its corrected and uncorrected latency, µs.
    fn add(
        &mut self,
        outcome: Outcome,
        status: Option<u16>,
        kind: Option<ErrorKind>,
        intended: Instant,
        sent: Instant,
        done: Instant,
    ) -> (u64, u64) {
        let offset = done.saturating_duration_since(self.epoch);
        let second = offset.as_secs();
        if second > self.second || self.held.get().is_none() {
            self.roll(second.max(self.second));
        }
        self.end = self.end.max(offset);
        let corrected = clamp_us(done.saturating_duration_since(intended));
        let uncorrected = clamp_us(done.saturating_duration_since(sent));
        let pair = self.current.get_mut(outcome);
        pair.corrected.saturating_record(corrected);
        pair.uncorrected.saturating_record(uncorrected);
        if let Some(slot) = status.and_then(|c| self.status.get_mut(usize::from(c))) {
            *slot += 1;
        }
        if let Some(k) = kind {
            self.kinds[k.index()] += 1;
        }
        (corrected, uncorrected)
    }

    /// Hands the open interval to the hub and holds `next` open instead (once per second).
    fn roll(&mut self, next: u64) {
        let hub = Arc::clone(&self.hub);
        let mut hub = hub.lock().unwrap_or_else(|p| p.into_inner());
        self.flush_into(&mut hub);
        self.held.set(Some(hub.hold(next)));
        self.second = next;
    }

    /// Hands the open interval to the hub and releases its hold.
    fn flush_into(&mut self, hub: &mut Hub) {
        if self.current.total() > 0 {
            hub.add(self.second, &self.current, self.end);
            self.current.reset();
        }
        if let Some(held) = self.held.take() {
            hub.release(held);
        }
    }

    fn flush(&mut self) {
        let hub = Arc::clone(&self.hub);
        let mut hub = hub.lock().unwrap_or_else(|p| p.into_inner());
        self.flush_into(&mut hub);
    }

    /// Exact merge: `other`'s open interval and status counts are added into this run. `other`
    /// must not record afterwards (its open interval would be counted twice).
    pub fn merge(&mut self, other: &Recorder) {
        // Our own open second first, so that it is not finalized empty by the other's later one.
        self.flush();
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        for (a, b) in self.kinds.iter_mut().zip(other.kinds) {
            *a += b;
        }
        self.rows.add(&other.rows);
        self.traces.merge(&other.traces);
        self.end = self.end.max(other.end);
        let mut hub = self.lock();
        if other.current.total() > 0 {
            hub.add(other.second, &other.current, other.end);
        }
        if let Some(held) = other.held.take() {
            if Arc::ptr_eq(&self.hub, &other.hub) {
                hub.release(held);
            } else {
                other.lock().release(held);
            }
        }
        if !Arc::ptr_eq(&self.hub, &other.hub) {
            let theirs = other.lock();
            hub.absorb(&theirs);
            if hub.labels.is_empty() {
                hub.labels = theirs.labels.clone();
            }
        }
    }

    /// Finalizes the run and returns its summary; a failed interval sink is logged and ignored.
    /// `duration` is up to the latest completion; the caller may overwrite it.
    pub fn summary(self) -> Summary {
        match self.finish() {
            Ok(s) => s,
            Err((s, _)) => s,
        }
    }

    /// Like [`Recorder::summary`], but reports a failed interval sink (with the summary).
    #[allow(clippy::result_large_err)]
    pub fn finish(mut self) -> Result<Summary, (Summary, RecorderError)> {
        self.flush();
        let traces = std::mem::take(&mut self.traces);
        let status_counts: BTreeMap<String, u64> = self
            .status
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (code.to_string(), *n))
            .collect();
        let mut hub = self.lock();
        hub.finalize_all();
        let mut error = hub.sink_error.take();
        let intervals = std::mem::take(&mut hub.intervals);
        let mut summary = Summary::from_parts(
            hub.epoch_wall,
            hub.end,
            &hub.totals,
            status_counts,
            intervals,
        );
        summary.error_kinds = self.kinds;
        summary.targets = self.rows.stats(&hub.labels);
        summary.traces = traces;
        if let Some(mut sink) = hub.sink.take()
            && error.is_none()
        {
            error = sink.finish(&summary).err();
        }
        match error {
            None => Ok(summary),
            Some(e) => Err((summary, RecorderError::Sink(e))),
        }
    }
}

impl Drop for Recorder {
    /// A worker that ends without being merged stops holding its second open.
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.lock().release(held);
        }
    }
}

fn clamp_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(LOWEST_US, HIGHEST_US)
}

/// Count and latency histograms of one outcome class.
#[derive(Clone, Debug)]
pub struct OutcomeStats {
    /// Requests of this class.
    pub count: u64,
    /// Latency from the intended send time, µs.
    pub corrected: Histogram<u64>,
    /// Latency from the actual send time, µs.
    pub uncorrected: Histogram<u64>,
}

/// Everything a report needs about a run (or a merge of runs); histograms are in µs.
#[derive(Clone, Debug)]
pub struct Summary {
    /// Wall-clock start of measurement.
    pub start: SystemTime,
    /// Measured span: up to the latest completion.
    pub duration: Duration,
    /// Requests of every class.
    pub total: u64,
    /// All classes together, from the intended send time.
    pub corrected: Histogram<u64>,
    /// All classes together, from the actual send time.
    pub uncorrected: Histogram<u64>,
    /// Per class; only classes that occurred.
    pub by_outcome: BTreeMap<Outcome, OutcomeStats>,
    /// Responses per status ("200": n). From a merged hlog without status comments, class
    /// names ("2xx") instead.
    pub status_counts: BTreeMap<String, u64>,
    /// One per second from the start, without gaps.
    pub intervals: Vec<IntervalStats>,
    /// Generator ids this summary came from (empty for a single unnamed run).
    pub generators: Vec<String>,
    /// Failures per [`ErrorKind`], indexed by [`ErrorKind::index`]; they add up to the
    /// `error` and `timeout` classes. From a log written before kinds were recorded: timeouts,
    /// and every other error as [`ErrorKind::Other`].
    pub error_kinds: [u64; 6],
    /// Per-entry rows of a `--targets` mix of two or more entries (else empty).
    pub targets: Vec<TargetStats>,
    /// The trace ids of the slowest and the failed traced requests (`--trace-sample`); empty
    /// for a run without tracing and for a summary read back from interval logs, which do not
    /// carry them.
    pub traces: TraceLists,
}

impl Summary {
    /// Builds a summary from per-class totals (used by the recorder and the hlog reader).
    pub fn from_parts(
        start: SystemTime,
        duration: Duration,
        totals: &Slot,
        status_counts: BTreeMap<String, u64>,
        intervals: Vec<IntervalStats>,
    ) -> Summary {
        let mut corrected = new_histogram();
        let mut uncorrected = new_histogram();
        let mut by_outcome = BTreeMap::new();
        for o in Outcome::ALL {
            let Some(p) = totals.get(o).filter(|p| !p.corrected.is_empty()) else {
                continue;
            };
            add_hist(&mut corrected, &p.corrected);
            add_hist(&mut uncorrected, &p.uncorrected);
            by_outcome.insert(
                o,
                OutcomeStats {
                    count: p.corrected.len(),
                    corrected: p.corrected.clone(),
                    uncorrected: p.uncorrected.clone(),
                },
            );
        }
        let mut error_kinds = [0; 6];
        let count = |o| by_outcome.get(&o).map_or(0, |s: &OutcomeStats| s.count);
        error_kinds[ErrorKind::Timeout.index()] = count(Outcome::Timeout);
        error_kinds[ErrorKind::Other.index()] = count(Outcome::Error);
        Summary {
            start,
            duration,
            total: corrected.len(),
            corrected,
            uncorrected,
            by_outcome,
            status_counts,
            intervals,
            generators: Vec::new(),
            error_kinds,
            targets: Vec::new(),
            traces: TraceLists::default(),
        }
    }

    /// Failures of `kind`.
    pub fn errors_of(&self, kind: ErrorKind) -> u64 {
        self.error_kinds[kind.index()]
    }

    /// Requests of `outcome`.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.by_outcome.get(&outcome).map_or(0, |s| s.count)
    }
}

#[cfg(test)]
mod tests;
