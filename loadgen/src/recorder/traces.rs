//! The trace ids worth opening: of the requests that carried a `traceparent` (`--trace-sample`),
//! per outcome class the [`MAX_TRACES`] slowest, and for the classes that are failures (4xx,
//! 429, 5xx, error, timeout) also the first [`MAX_TRACES`] to fail. Each worker keeps its own
//! lists (a few dozen entries, touched only for traced requests); merging keeps the slowest and
//! the earliest of both, so the run's lists are exact whatever the number of workers.
//!
//! Requests are ranked by their own time (uncorrected latency, from the actual send): that is
//! what the trace shows. A request that waited in the generator's queue has a larger corrected
//! latency, but its trace holds none of that wait.

use std::time::Duration;

use trace::TraceId;

use super::Outcome;

/// Entries per list: the slowest of a class, or the first failures of a class.
pub const MAX_TRACES: usize = 10;

/// One traced request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TracedRequest {
    /// The trace id it sent in `traceparent`.
    pub trace_id: TraceId,
    /// From the actual send to the response, µs (what the trace covers).
    pub uncorrected_us: u64,
    /// From the intended send to the response, µs.
    pub corrected_us: u64,
    /// When it completed, from the start of measurement.
    pub at: Duration,
    /// The status, when a response arrived.
    pub status: Option<u16>,
}

/// The traced requests of one outcome class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassTraces {
    /// The slowest, slowest first (at most [`MAX_TRACES`]).
    pub slowest: Vec<TracedRequest>,
    /// The first to complete, earliest first (at most [`MAX_TRACES`]); kept only for failure
    /// classes ([`is_failure`]).
    pub first: Vec<TracedRequest>,
}

/// Every class's lists and how many requests were traced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceLists {
    /// Measured requests that carried a `traceparent`.
    pub traced: u64,
    /// Per class, indexed by [`Outcome::index`].
    pub by_class: [ClassTraces; 7],
}

/// Whether `outcome` is a failure whose first occurrences are kept: anything but 2xx and 3xx.
pub fn is_failure(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Success | Outcome::Redirect)
}

/// Slowest first; equal latencies by completion time, then id, so the order is total.
fn slower(a: &TracedRequest, b: &TracedRequest) -> std::cmp::Ordering {
    b.uncorrected_us
        .cmp(&a.uncorrected_us)
        .then(a.at.cmp(&b.at))
        .then(a.trace_id.cmp(&b.trace_id))
}

/// Earliest first.
fn earlier(a: &TracedRequest, b: &TracedRequest) -> std::cmp::Ordering {
    a.at.cmp(&b.at).then(a.trace_id.cmp(&b.trace_id))
}

/// Adds `r` to a list kept in `order`, at most [`MAX_TRACES`] long.
fn keep(
    list: &mut Vec<TracedRequest>,
    r: TracedRequest,
    order: fn(&TracedRequest, &TracedRequest) -> std::cmp::Ordering,
) {
    if list.len() == MAX_TRACES
        && list
            .last()
            .is_some_and(|worst| order(&r, worst) != std::cmp::Ordering::Less)
    {
        return;
    }
    let at = list.partition_point(|x| order(x, &r) == std::cmp::Ordering::Less);
    list.insert(at, r);
    list.truncate(MAX_TRACES);
}

impl TraceLists {
    /// Counts one traced request of `outcome`.
    pub fn add(&mut self, outcome: Outcome, r: TracedRequest) {
        self.traced += 1;
        let class = &mut self.by_class[outcome.index()];
        keep(&mut class.slowest, r, slower);
        if is_failure(outcome) {
            keep(&mut class.first, r, earlier);
        }
    }

    /// Adds another worker's lists: the slowest and the earliest of both.
    pub fn merge(&mut self, other: &TraceLists) {
        self.traced += other.traced;
        for (mine, theirs) in self.by_class.iter_mut().zip(&other.by_class) {
            for r in &theirs.slowest {
                keep(&mut mine.slowest, *r, slower);
            }
            for r in &theirs.first {
                keep(&mut mine.first, *r, earlier);
            }
        }
    }

    /// The lists of `outcome`.
    pub fn of(&self, outcome: Outcome) -> &ClassTraces {
        &self.by_class[outcome.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: u8, us: u64, at_ms: u64) -> TracedRequest {
        TracedRequest {
            trace_id: TraceId::from_bytes([n.max(1); 16]).expect("non-zero"),
            uncorrected_us: us,
            corrected_us: us + 5,
            at: Duration::from_millis(at_ms),
            status: Some(200),
        }
    }

    #[test]
    fn keeps_the_slowest_and_the_first_failures_per_class() {
        let mut l = TraceLists::default();
        for i in 0..100u8 {
            // Latencies 0, 7, 14, ... in a scrambled order of completion.
            let us = u64::from(i) * 7;
            let at = (u64::from(i) * 37) % 100;
            l.add(Outcome::Success, req(i, us, at));
            l.add(Outcome::ServerError, req(i, us, at));
        }
        assert_eq!(l.traced, 200);
        let ok = l.of(Outcome::Success);
        let slow: Vec<u64> = ok.slowest.iter().map(|r| r.uncorrected_us).collect();
        assert_eq!(slow, (90..100).rev().map(|i| i * 7).collect::<Vec<u64>>());
        assert!(ok.first.is_empty(), "2xx is no failure");
        let failed = l.of(Outcome::ServerError);
        let first: Vec<u128> = failed.first.iter().map(|r| r.at.as_millis()).collect();
        assert_eq!(first, (0..10).collect::<Vec<u128>>());
        assert_eq!(failed.slowest.len(), MAX_TRACES);
        assert!(l.of(Outcome::Timeout).slowest.is_empty());
    }

    #[test]
    fn merging_workers_equals_one_worker() {
        let (mut one, mut a, mut b) = (
            TraceLists::default(),
            TraceLists::default(),
            TraceLists::default(),
        );
        for i in 0..60u8 {
            let r = req(i, (u64::from(i) * 13) % 60 * 100, u64::from(i));
            one.add(Outcome::Timeout, r);
            if i % 3 == 0 {
                a.add(Outcome::Timeout, r);
            } else {
                b.add(Outcome::Timeout, r);
            }
        }
        let mut merged = a;
        merged.merge(&b);
        assert_eq!(merged, one);
    }

    #[test]
    fn ties_and_short_lists_are_ordered() {
        let mut l = TraceLists::default();
        l.add(Outcome::Error, req(2, 50, 9));
        l.add(Outcome::Error, req(1, 50, 3));
        let c = l.of(Outcome::Error);
        assert_eq!(c.slowest.len(), 2);
        assert_eq!(
            c.slowest[0].at,
            Duration::from_millis(3),
            "equal: earlier first"
        );
        assert_eq!(c.first[0].at, Duration::from_millis(3));
    }
}
