//! The schedule: when each request is *intended* to be sent. Open model: slot `i` is due at
//! `start + i / rate`, computed from the start every time (never accumulated sleeps, so timer
//! error cannot drift the rate). Slots are handed out by one atomic counter, so whichever
//! connection is free takes the next slot; when none is free the slot waits and its queueing
//! shows in corrected latency. Closed model: a request is intended when it is sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A constant-rate schedule of numbered slots.
#[derive(Debug)]
pub struct OpenSchedule {
    start: Instant,
    /// Nanoseconds between slots.
    period_ns: f64,
    /// First measured slot (the ones before are warmup).
    first_measured: u64,
    /// One past the last slot.
    end: u64,
    next: AtomicU64,
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
            period_ns,
            first_measured,
            end,
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
        self.start + Duration::from_nanos((i as f64 * self.period_ns) as u64)
    }

    /// Whether slot `i` is measured (not warmup).
    pub fn is_measured(&self, i: u64) -> bool {
        i >= self.first_measured
    }

    /// Number of measured slots.
    pub fn measured_slots(&self) -> u64 {
        self.end - self.first_measured
    }

    /// When the measured part begins (the first measured slot's due time, or the warmup end).
    pub fn epoch(&self) -> Instant {
        self.intended(self.first_measured)
    }

    /// When the last slot is due plus one period: the end of the measured window.
    pub fn window_end(&self) -> Instant {
        self.intended(self.end)
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
mod tests {
    use super::*;

    #[test]
    fn slots_are_absolute_and_exact() {
        let t0 = Instant::now();
        let s = OpenSchedule::new(
            t0,
            1000.0,
            Duration::from_secs(1),
            Some(Duration::from_secs(2)),
            None,
        );
        assert_eq!(s.measured_slots(), 2000);
        assert_eq!(s.epoch() - t0, Duration::from_secs(1));
        assert_eq!(s.intended(1_500) - t0, Duration::from_millis(1_500));
        assert_eq!(s.window_end() - t0, Duration::from_secs(3));
        assert!(!s.is_measured(999) && s.is_measured(1000));
        let mut n = 0;
        while s.take().is_some() {
            n += 1;
        }
        assert_eq!(n, 3000);
        assert_eq!(s.take(), None);
    }

    #[test]
    fn fractional_rate_has_no_drift() {
        let t0 = Instant::now();
        let s = OpenSchedule::new(t0, 3.0, Duration::ZERO, Some(Duration::from_secs(10)), None);
        assert_eq!(s.measured_slots(), 30);
        let d = s.intended(30) - t0;
        assert!(d.as_nanos().abs_diff(10_000_000_000) <= 1, "{d:?}");
    }

    #[test]
    fn request_count_bounds_the_schedule() {
        let s = OpenSchedule::new(
            Instant::now(),
            100.0,
            Duration::from_millis(500),
            None,
            Some(7),
        );
        assert_eq!(s.measured_slots(), 7);
        let b = RequestBudget::new(Some(3));
        assert!(b.take() && b.take() && b.take() && !b.take());
        assert!(b.spent());
        assert!(!RequestBudget::new(None).spent());
    }
}
