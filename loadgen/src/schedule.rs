//! The schedule: when each request is *intended* to be sent. Open model: slot `i` is due when
//! the integral of the arrival rate since the start reaches `i`. At a constant rate (`--rate`,
//! [`OpenSchedule::new`]) that is `start + i / rate`. With stages (`--stage`, a [`Ramp`],
//! [`OpenSchedule::ramped`]: k6's ramping arrival rate) the rate is piecewise linear, the
//! integral of each linear segment is a quadratic, and its root is taken exactly (a constant
//! segment is the plain `i / rate`), so due times follow the ramp and corrected latency stays
//! right while the rate changes. Due times are computed from the start every time (never
//! accumulated sleeps, so timer error cannot drift the rate). Slots are handed out by one atomic
//! counter, so whichever connection is free takes the next slot; when none is free the slot
//! waits and its queueing shows in corrected latency. Closed model: a request is intended when
//! it is sent.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A constant-rate or ramped schedule of numbered slots.
#[derive(Debug)]
pub struct OpenSchedule {
    start: Instant,
    shape: Shape,
    /// First measured slot (the ones before are warmup).
    first_measured: u64,
    /// One past the last slot.
    end: u64,
    next: AtomicU64,
}

/// How due times are computed.
#[derive(Debug)]
enum Shape {
    /// Nanoseconds between slots.
    Constant { period_ns: f64 },
    /// A piecewise-linear rate.
    Ramp(Ramp),
}

impl OpenSchedule {
    /// A schedule starting at `start`, `rate` slots per second, whose measured part begins at
    /// `start + warmup` and ends after `measure` or after `requests` measured slots.
    pub fn new(
        start: Instant,
        rate: f64,
        warmup: Duration,
        measure: Option<Duration>,
        requests: Option<u64>,
    ) -> OpenSchedule {
        let period_ns = 1e9 / rate;
        // Slots due strictly before a boundary; the epsilon absorbs float error (10 s at 3/s is
        // 30 slots, not 31).
        let slots_before =
            |t: Duration| (t.as_nanos() as f64 / period_ns - 1e-6).ceil().max(0.0) as u64;
        let first_measured = slots_before(warmup);
        let end = match (requests, measure) {
            (Some(n), _) => first_measured.saturating_add(n),
            (None, Some(d)) => slots_before(warmup + d),
            (None, None) => first_measured,
        };
        OpenSchedule {
            start,
            shape: Shape::Constant { period_ns },
            first_measured,
            end,
            next: AtomicU64::new(0),
        }
    }

    /// A schedule starting at `start` that follows `ramp`: its warmup (at the ramp's starting
    /// rate) is unmeasured, its stages are measured, and it ends with the last stage.
    pub fn ramped(start: Instant, ramp: &Ramp) -> OpenSchedule {
        OpenSchedule {
            start,
            first_measured: ramp.slots_before(ramp.warmup_ns()),
            end: ramp.slots_before(ramp.end_ns),
            shape: Shape::Ramp(ramp.clone()),
            next: AtomicU64::new(0),
        }
    }

    /// The next slot to send, or `None` when the schedule is exhausted.
    pub fn take(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        (i < self.end).then_some(i)
    }

    /// When slot `i` is due.
    pub fn intended(&self, i: u64) -> Instant {
        self.start
            + match &self.shape {
                Shape::Constant { period_ns } => {
                    Duration::from_nanos((i as f64 * period_ns) as u64)
                }
                Shape::Ramp(r) => r.due(i),
            }
    }

    /// Whether slot `i` is measured (not warmup).
    pub fn is_measured(&self, i: u64) -> bool {
        i >= self.first_measured
    }

    /// Number of measured slots.
    pub fn measured_slots(&self) -> u64 {
        self.end - self.first_measured
    }

    /// When the measured part begins: at a constant rate the first measured slot's due time
    /// (or the warmup end), with a ramp the end of its warmup (so that the per-second
    /// intervals line up with the stages).
    pub fn epoch(&self) -> Instant {
        match &self.shape {
            Shape::Constant { .. } => self.intended(self.first_measured),
            Shape::Ramp(r) => self.start + r.warmup,
        }
    }

    /// The end of the measured window: at a constant rate when the last slot is due plus one
    /// period, with a ramp the end of its last stage.
    pub fn window_end(&self) -> Instant {
        match &self.shape {
            Shape::Constant { .. } => self.intended(self.end),
            Shape::Ramp(r) => self.start + Duration::from_nanos(r.end_ns),
        }
    }
}

/// One stage of a [`Ramp`] (`--stage DURATION:RATE`): the rate moves linearly from where the
/// previous stage ended to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Requests/s at its end.
    pub target: f64,
}

/// One linear piece of a ramp's rate, of positive length.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// Offset from the schedule's start, ns.
    start_ns: u64,
    /// Length, ns (above 0).
    len_ns: u64,
    /// Requests/s at its start.
    from: f64,
    /// Requests/s at its end.
    to: f64,
    /// Arrivals due before it: the rate's integral up to `start_ns`.
    before: f64,
}

impl Segment {
    fn len_s(&self) -> f64 {
        self.len_ns as f64 / 1e9
    }

    fn end_ns(&self) -> u64 {
        self.start_ns.saturating_add(self.len_ns)
    }

    /// Arrivals due in the whole segment.
    fn arrivals(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len_s()
    }

    /// Arrivals due before it ends.
    fn after(&self) -> f64 {
        self.before + self.arrivals()
    }

    /// Arrivals due in its first `t` seconds: `from·t + (to − from)/len · t²/2`.
    fn arrivals_within(&self, t: f64) -> f64 {
        let len = self.len_s();
        let t = t.clamp(0.0, len);
        self.from * t + (self.to - self.from) / len * t * t / 2.0
    }

    /// Seconds into the segment at which `n` of its own arrivals are due: the root of
    /// `a·t² + from·t − n = 0` with `a = (to − from) / (2·len)`, written `2n / (from +
    /// √(from² + 4an))` so that it holds for ramps up and down and from a rate of 0 without
    /// cancellation or a division by zero.
    fn time_of(&self, n: f64) -> f64 {
        let len = self.len_s();
        if n <= 0.0 {
            return 0.0;
        }
        if self.from == self.to {
            // Constant: the plain n / rate (a segment of rate 0 has no arrivals to place).
            return if self.from > 0.0 {
                (n / self.from).min(len)
            } else {
                len
            };
        }
        let a = (self.to - self.from) / (2.0 * len);
        let root = (self.from * self.from + 4.0 * a * n).max(0.0).sqrt();
        let denominator = self.from + root;
        if denominator > 0.0 {
            (2.0 * n / denominator).min(len)
        } else {
            len
        }
    }
}

/// A piecewise-linear arrival rate (`--stage`, k6's ramping arrival rate): an optional warmup at
/// the starting rate, then stages, each moving the rate linearly from where the previous one
/// ended (the first from the starting rate) to its target. Slot `i` is due when the rate's
/// integral reaches `i`. Build one with [`Ramp::new`] and run it with [`OpenSchedule::ramped`].
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    from: f64,
    warmup: Duration,
    stages: Vec<Stage>,
    /// The warmup (when not zero) and every stage of positive length, in order, contiguous
    /// from offset 0.
    segments: Vec<Segment>,
    /// Offset of the end of the last stage, ns.
    end_ns: u64,
}

/// A rate as the schedule uses it: requests/s, never negative or NaN.
fn clean(rate: f64) -> f64 {
    if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        0.0
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The number of slots (0, 1, 2, …) whose due count is below `count`: those due strictly
/// before the moment the integral reaches `count`. The epsilon absorbs float error (a stage
/// of 5 s at 100/s is 500 slots, not 501).
fn whole_slots(count: f64) -> u64 {
    (count - 1e-6 - count.abs() * 1e-12).ceil().max(0.0) as u64
}

impl Ramp {
    /// A ramp that starts at `from` requests/s (the rate of the `warmup`, unmeasured) and then
    /// follows `stages`. Validate the values first (`config` does); here a rate that is
    /// negative or not finite counts as 0 and offsets saturate, so nothing can panic.
    pub fn new(from: f64, warmup: Duration, stages: &[Stage]) -> Ramp {
        let from = clean(from);
        let mut segments = Vec::with_capacity(stages.len() + 1);
        let (mut at, mut rate, mut before) = (0u64, from, 0.0);
        let pieces =
            std::iter::once((warmup, from)).chain(stages.iter().map(|s| (s.duration, s.target)));
        for (duration, target) in pieces {
            let target = clean(target);
            let len_ns = nanos(duration).min(u64::MAX - at);
            if len_ns > 0 {
                let s = Segment {
                    start_ns: at,
                    len_ns,
                    from: rate,
                    to: target,
                    before,
                };
                before = s.after();
                at = s.end_ns();
                segments.push(s);
            }
            rate = target;
        }
        Ramp {
            from,
            warmup,
            stages: stages.to_vec(),
            segments,
            end_ns: at,
        }
    }

    /// Requests/s where the first stage starts (and of the warmup).
    pub fn start_rate(&self) -> f64 {
        self.from
    }

    /// The unmeasured lead-in, at [`Ramp::start_rate`].
    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// The stages as given.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The measured part: the stages' total duration.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.end_ns.saturating_sub(self.warmup_ns()))
    }

    fn warmup_ns(&self) -> u64 {
        nanos(self.warmup).min(self.end_ns)
    }

    /// Requests/s at `t` after the start (the warmup included); 0 after the last stage.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = nanos(t);
        let k = self.segments.partition_point(|s| s.end_ns() <= t);
        self.segments.get(k).map_or(0.0, |s| {
            let into = (t - s.start_ns) as f64 / s.len_ns as f64;
            s.from + (s.to - s.from) * into
        })
    }

    /// The highest rate of the ramp (its warmup included).
    pub fn peak_rate(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.from.max(s.to))
            .fold(0.0, f64::max)
    }

    /// Requests due in the first `t` after the start (the rate's integral; the warmup
    /// included).
    pub fn arrivals_by(&self, t: Duration) -> f64 {
        self.arrivals_by_ns(nanos(t))
    }

    fn arrivals_by_ns(&self, t: u64) -> f64 {
        let k = self.segments.partition_point(|s| s.end_ns() <= t);
        match self.segments.get(k) {
            Some(s) => s.before + s.arrivals_within((t - s.start_ns) as f64 / 1e9),
            None => self.segments.last().map_or(0.0, Segment::after),
        }
    }

    fn slots_before(&self, t_ns: u64) -> u64 {
        whole_slots(self.arrivals_by_ns(t_ns))
    }

    /// When slot `i` is due, after the start: the moment the rate's integral reaches `i`
    /// (where the rate is 0 for a while, the end of that pause); the end of the last stage for
    /// a slot beyond the ramp.
    pub fn due(&self, i: u64) -> Duration {
        let n = i as f64;
        let k = self.segments.partition_point(|s| s.after() <= n);
        let ns = match self.segments.get(k) {
            Some(s) => {
                let t = s.time_of((n - s.before).max(0.0));
                s.start_ns + ((t * 1e9) as u64).min(s.len_ns)
            }
            None => self.end_ns,
        };
        Duration::from_nanos(ns)
    }

    /// Requests the stages schedule (the warmup's excluded).
    pub fn measured_slots(&self) -> u64 {
        self.slots_before(self.end_ns)
            .saturating_sub(self.slots_before(self.warmup_ns()))
    }

    /// The mean scheduled rate of the measured part: [`Ramp::measured_slots`] over
    /// [`Ramp::duration`] (0 for a ramp of no duration). A run that sent fewer requests than
    /// scheduled misses this rate by as much.
    pub fn mean_rate(&self) -> f64 {
        let d = self.duration().as_secs_f64();
        if d > 0.0 {
            self.measured_slots() as f64 / d
        } else {
            0.0
        }
    }
}

/// Written as the flags that make it: `--rate 100 --warmup 5s --stage 30s:100 --stage 1m:500`
/// (`--rate` and `--warmup` only when not 0).
impl fmt::Display for Ramp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: Duration| humantime::format_duration(d).to_string().replace(' ', "");
        let mut sep = "";
        if self.from > 0.0 {
            write!(f, "--rate {}", self.from)?;
            sep = " ";
        }
        if !self.warmup.is_zero() {
            write!(f, "{sep}--warmup {}", d(self.warmup))?;
            sep = " ";
        }
        for s in &self.stages {
            write!(f, "{sep}--stage {}:{}", d(s.duration), s.target)?;
            sep = " ";
        }
        Ok(())
    }
}

/// Counts measured requests in the closed model so that `--requests N` stops at exactly N.
#[derive(Debug)]
pub struct RequestBudget {
    limit: Option<u64>,
    used: AtomicU64,
}

impl RequestBudget {
    /// At most `limit` measured requests (no limit when `None`).
    pub fn new(limit: Option<u64>) -> RequestBudget {
        RequestBudget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Takes one request from the budget; false when it is spent.
    pub fn take(&self) -> bool {
        match self.limit {
            None => true,
            Some(n) => self.used.fetch_add(1, Ordering::Relaxed) < n,
        }
    }

    /// Whether the budget is spent.
    pub fn spent(&self) -> bool {
        self.limit
            .is_some_and(|n| self.used.load(Ordering::Relaxed) >= n)
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
