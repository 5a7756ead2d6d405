//! Per-second intervals: the histograms of one second ([`Slot`]), their small statistics
//! ([`IntervalStats`]), and the hub that all forks of one run share, which adds workers'
//! seconds together, finalizes them after a grace period and streams them to a sink.

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::{HIGHEST_US, MAX_SECONDS, Outcome, Summary, new_histogram};

/// Seconds an interval stays open after a later one began, for workers still recording into it.
const GRACE_SECONDS: u64 = 2;
/// Seconds an interval stays open at most for an idle worker holding unflushed data for it;
/// after that the interval is finalized and the idle worker's data counts in the oldest open
/// second (still exact in totals and hlog, only attributed late). Bounds memory.
const MAX_OPEN_SECONDS: u64 = 10;

/// Corrected and uncorrected histograms of one outcome class over one span of time.
#[derive(Clone, Debug)]
pub struct Pair {
    /// Latency from the intended send time, µs.
    pub corrected: Histogram<u64>,
    /// Latency from the actual send time, µs.
    pub uncorrected: Histogram<u64>,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            corrected: new_histogram(),
            uncorrected: new_histogram(),
        }
    }

    /// Adds `other` into `self` exactly. Both have loadgen's bounds, so addition cannot fail.
    fn add(&mut self, other: &Pair) {
        add_hist(&mut self.corrected, &other.corrected);
        add_hist(&mut self.uncorrected, &other.uncorrected);
    }

    fn reset(&mut self) {
        self.corrected.reset();
        self.uncorrected.reset();
    }
}

pub(crate) fn add_hist(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Values in `from` never exceed HIGHEST_US (recording clamps, readers check bounds), so the
    // addition stays in range; saturating per-value adds keep this panic-free regardless.
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to().min(HIGHEST_US), v.count_at_value());
        }
    }
}

/// Per-class histograms of one interval, created lazily for the classes that occurred.
#[derive(Clone, Debug, Default)]
pub struct Slot {
    pairs: [Option<Box<Pair>>; 7],
}

impl Slot {
    /// The histograms of `outcome`, if any request of that class was recorded.
    pub fn get(&self, outcome: Outcome) -> Option<&Pair> {
        self.pairs[outcome.index()].as_deref()
    }

    /// The histograms of `outcome`, created empty on first use.
    pub fn get_mut(&mut self, outcome: Outcome) -> &mut Pair {
        self.pairs[outcome.index()].get_or_insert_with(|| Box::new(Pair::new()))
    }

    /// Requests of `outcome` in this slot.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.get(outcome).map_or(0, |p| p.corrected.len())
    }

    /// Requests of every class in this slot.
    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.count(*o)).sum()
    }

    /// Adds every class of `other` into `self`.
    pub fn add(&mut self, other: &Slot) {
        for o in Outcome::ALL {
            if let Some(p) = other.get(o) {
                if p.corrected.is_empty() && p.uncorrected.is_empty() {
                    continue;
                }
                self.get_mut(o).add(p);
            }
        }
    }

    pub(super) fn reset(&mut self) {
        self.pairs.iter_mut().flatten().for_each(|p| p.reset());
    }

    /// All classes' corrected (or uncorrected) histograms added together.
    fn merged(&self, corrected: bool) -> Histogram<u64> {
        let mut h = new_histogram();
        for p in self.pairs.iter().flatten() {
            add_hist(
                &mut h,
                if corrected {
                    &p.corrected
                } else {
                    &p.uncorrected
                },
            );
        }
        h
    }
}

/// Small statistics of one second of the run, kept for the whole run (about 100 bytes each).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntervalStats {
    /// Seconds since the start of measurement.
    pub second: u64,
    /// Requests completed in this second, per class, indexed by [`Outcome::index`].
    pub requests: [u64; 7],
    /// Corrected latency of all classes, µs: median.
    pub p50_us: u64,
    /// Corrected latency of all classes, µs: 99th percentile.
    pub p99_us: u64,
    /// Corrected latency of all classes, µs: maximum.
    pub max_us: u64,
    /// Uncorrected latency (from the actual send) of all classes, µs: 99th percentile.
    pub p99_uncorrected_us: u64,
}

impl IntervalStats {
    /// Requests of `outcome` in this second.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.requests[outcome.index()]
    }

    /// Requests of every class in this second.
    pub fn total(&self) -> u64 {
        self.requests.iter().sum()
    }

    fn from_slot(second: u64, slot: &Slot) -> IntervalStats {
        let mut requests = [0; 7];
        for o in Outcome::ALL {
            requests[o.index()] = slot.count(o);
        }
        let all = slot.merged(true);
        let (p50_us, p99_us, max_us) = if all.is_empty() {
            (0, 0, 0)
        } else {
            (
                all.value_at_quantile(0.5),
                all.value_at_quantile(0.99),
                all.max(),
            )
        };
        let unc = slot.merged(false);
        let p99_uncorrected_us = if unc.is_empty() {
            0
        } else {
            unc.value_at_quantile(0.99)
        };
        IntervalStats {
            second,
            requests,
            p50_us,
            p99_us,
            max_us,
            p99_uncorrected_us,
        }
    }
}

/// Receives each finalized interval (the `--hlog` writer implements it).
pub trait IntervalSink: Send {
    /// Called once when the sink is attached, with the wall-clock start of measurement (e.g. to
    /// write a log header).
    fn start(&mut self, epoch_wall: SystemTime) -> io::Result<()> {
        let _ = epoch_wall;
        Ok(())
    }
    /// One finalized interval: `start` is its offset from the start of measurement.
    fn interval(&mut self, start: Duration, length: Duration, slot: &Slot) -> io::Result<()>;
    /// Called once after the last interval with the run's summary (e.g. to write its status
    /// counts, error kinds and per-entry rows as trailing comments, and flush).
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// The part shared by all forks of one run: open seconds, totals and finalized statistics.
pub(super) struct Hub {
    pub(super) epoch_wall: SystemTime,
    /// Seconds below this are finalized.
    pub(super) next_final: u64,
    pub(super) open: BTreeMap<u64, Slot>,
    pub(super) spare: Vec<Slot>,
    /// Per open second, how many workers hold unflushed data for it.
    pub(super) held: BTreeMap<u64, u32>,
    /// Latest second any worker has reached.
    pub(super) latest: u64,
    pub(super) totals: Slot,
    pub(super) intervals: Vec<IntervalStats>,
    /// End of measurement (latest completion seen), as offset from the epoch.
    pub(super) end: Duration,
    pub(super) sink: Option<Box<dyn IntervalSink>>,
    pub(super) sink_error: Option<io::Error>,
    /// The entries of the mix (see [`super::Recorder::set_targets`]).
    pub(super) labels: Vec<String>,
}

impl Hub {
    pub(super) fn new(epoch_wall: SystemTime) -> Hub {
        Hub {
            epoch_wall,
            next_final: 0,
            open: BTreeMap::new(),
            spare: Vec::new(),
            held: BTreeMap::new(),
            latest: 0,
            totals: Slot::default(),
            intervals: Vec::new(),
            end: Duration::ZERO,
            sink: None,
            sink_error: None,
            labels: Vec::new(),
        }
    }

    /// A worker begins recording into `second`: keep it open until the worker flushes it.
    /// Returns the second actually held (a finalized one holds the oldest open second instead).
    pub(super) fn hold(&mut self, second: u64) -> u64 {
        self.latest = self.latest.max(second);
        let second = second.max(self.next_final);
        *self.held.entry(second).or_default() += 1;
        self.finalize_ready();
        second
    }

    /// A worker no longer holds `second` (it flushed it, or it stopped).
    pub(super) fn release(&mut self, second: u64) {
        if let Some(n) = self.held.get_mut(&second) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.held.remove(&second);
            }
        }
        self.finalize_ready();
    }

    /// Adds one worker's interval of `second`; a finalized second's data goes to the oldest
    /// open one (it stays exact in totals and in the hlog, just attributed late).
    pub(super) fn add(&mut self, second: u64, slot: &Slot, end: Duration) {
        self.end = self.end.max(end);
        self.latest = self.latest.max(second);
        let second = second.max(self.next_final);
        let spare = &mut self.spare;
        self.open
            .entry(second)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .add(slot);
        self.finalize_ready();
    }

    /// Finalizes, in order, each second that is past the grace period and that no worker
    /// holds (or that was held for too long).
    fn finalize_ready(&mut self) {
        loop {
            let s = self.next_final;
            if s + GRACE_SECONDS >= self.latest {
                return;
            }
            if self.held.contains_key(&s) {
                if s + MAX_OPEN_SECONDS >= self.latest {
                    return;
                }
                self.held.remove(&s);
            }
            self.finalize_below(s + 1);
        }
    }

    /// Finalizes every second below `limit`, filling seconds without completions with zeros.
    fn finalize_below(&mut self, limit: u64) {
        while self.next_final < limit {
            let second = self.next_final;
            self.next_final += 1;
            let slot = self.open.remove(&second);
            let empty = Slot::default();
            let s = slot.as_ref().unwrap_or(&empty);
            if let (Some(sink), None) = (self.sink.as_mut(), self.sink_error.as_ref()) {
                let start = Duration::from_secs(second);
                let length = self.end.saturating_sub(start).min(Duration::from_secs(1));
                if s.total() > 0
                    && let Err(e) = sink.interval(start, length, s)
                {
                    tracing::error!(error = %e, "interval log write failed; no more intervals are written");
                    self.sink_error = Some(e);
                }
            }
            self.totals.add(s);
            self.record_stats(IntervalStats::from_slot(second, s));
            if let Some(mut slot) = slot {
                slot.reset();
                self.spare.push(slot);
            }
        }
    }

    pub(super) fn finalize_all(&mut self) {
        self.held.clear();
        let last_open = self.open.keys().next_back().map_or(0, |s| s + 1);
        let last_end = self.end.as_secs() + u64::from(self.end.subsec_nanos() > 0);
        self.finalize_below(last_open.max(last_end).max(self.next_final));
    }

    /// Stores the stats of one second; a second may already hold stats absorbed from another
    /// root, then counts add and percentiles take the larger value (an upper bound).
    fn record_stats(&mut self, stats: IntervalStats) {
        // Bounded so that a corrupt timestamp cannot allocate without limit; readers reject
        // longer spans with a clear error before they get here.
        if stats.second > MAX_SECONDS {
            return;
        }
        let i = usize::try_from(stats.second).unwrap_or(usize::MAX);
        while self.intervals.len() <= i {
            let second = self.intervals.len() as u64;
            self.intervals.push(IntervalStats {
                second,
                ..Default::default()
            });
        }
        let Some(ours) = self.intervals.get_mut(i) else {
            return;
        };
        if ours.total() == 0 {
            *ours = stats;
        } else if stats.total() > 0 {
            for (a, b) in ours.requests.iter_mut().zip(stats.requests) {
                *a += b;
            }
            ours.p50_us = ours.p50_us.max(stats.p50_us);
            ours.p99_us = ours.p99_us.max(stats.p99_us);
            ours.max_us = ours.max_us.max(stats.max_us);
            ours.p99_uncorrected_us = ours.p99_uncorrected_us.max(stats.p99_uncorrected_us);
        }
    }

    /// Absorbs the hub of another root (see the module comment for what stays exact).
    pub(super) fn absorb(&mut self, other: &Hub) {
        self.end = self.end.max(other.end);
        self.totals.add(&other.totals);
        for stats in &other.intervals {
            self.record_stats(stats.clone());
        }
        for (second, slot) in &other.open {
            self.add(*second, slot, other.end);
        }
    }
}
