//! The generator's self-check: was the generator itself the bottleneck? Two signals: schedule
//! lag (how late a connection that was idle and waiting for its slot actually woke up), and the
//! worker threads' busy share over the measured window (on-CPU plus waiting-for-CPU time from
//! `/proc/thread-self/schedstat`, sampled by each worker thread itself). A run whose target rate was missed while the generator had
//! no headroom, or whose wake-ups were late, is `invalid`: its latencies describe the generator.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Busy share of the worker threads above which the generator counts as saturated.
pub const SATURATED_BUSY: f64 = 0.9;
/// Share of the target rate that must be achieved.
pub const RATE_TOLERANCE: f64 = 0.99;

/// CPU accounting of one thread at one moment.
#[derive(Debug, Clone, Copy)]
pub struct ThreadClock {
    /// Nanoseconds on CPU plus nanoseconds runnable but waiting for a CPU.
    busy_ns: u64,
}

impl ThreadClock {
    /// The calling thread's accounting (`/proc/thread-self/schedstat`); `None` where /proc is
    /// not available. Each worker thread samples itself, at the window's start and end (or
    /// when it finishes first): a thread that has exited can no longer be sampled from outside.
    pub fn own() -> Option<ThreadClock> {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut fields = stat.split_whitespace().map(|f| f.parse::<u64>().ok());
        let on_cpu = fields.next().flatten()?;
        let waiting = fields.next().flatten()?;
        Some(ThreadClock {
            busy_ns: on_cpu + waiting,
        })
    }

    /// Busy nanoseconds between `earlier` and this sample.
    pub fn busy_ns_since(&self, earlier: &ThreadClock) -> u64 {
        self.busy_ns.saturating_sub(earlier.busy_ns)
    }
}

/// One worker thread's busy time over the part of the measured window it took part in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadBusy {
    /// Nanoseconds on CPU or waiting for one.
    pub busy_ns: u64,
    /// Nanoseconds of the window covered.
    pub window_ns: u64,
}

impl ThreadBusy {
    /// The busy share of `threads` together (0..1); `None` when none covered any time.
    pub fn share(threads: &[ThreadBusy]) -> Option<f64> {
        let window: u64 = threads.iter().map(|t| t.window_ns).sum();
        let busy: u64 = threads.iter().map(|t| t.busy_ns).sum();
        (window > 0).then(|| (busy as f64 / window as f64).min(1.0))
    }
}

/// Lag percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagMs {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
    /// Number of wake-ups measured.
    pub samples: u64,
}

/// The self-check's findings, part of the JSON report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelfCheck {
    /// False when the generator was the bottleneck; the verdict is then `invalid`.
    pub valid: bool,
    /// How late idle connections woke for their slot (open model only).
    pub schedule_lag_ms: Option<LagMs>,
    /// The bound on p99 schedule lag.
    pub max_lag_ms: f64,
    /// Measured slots picked up more than 1 ms late because every connection was busy.
    pub queued: u64,
    /// Busy share of the worker threads over the window (on CPU or waiting for one), 0..1.
    pub generator_busy: Option<f64>,
    /// Human-readable findings (why invalid, or warnings).
    pub notes: Vec<String>,
}

impl SelfCheck {
    /// Judges a run from its lag histogram (µs), queued count, busy share and rates.
    pub fn new(
        lag_us: &Histogram<u64>,
        queued: u64,
        busy: Option<f64>,
        max_lag: Duration,
        target_rate: Option<f64>,
        achieved_rate: f64,
    ) -> SelfCheck {
        let max_lag_ms = max_lag.as_secs_f64() * 1000.0;
        let schedule_lag_ms = (!lag_us.is_empty()).then(|| LagMs {
            p50: lag_us.value_at_quantile(0.5) as f64 / 1000.0,
            p99: lag_us.value_at_quantile(0.99) as f64 / 1000.0,
            max: lag_us.max() as f64 / 1000.0,
            samples: lag_us.len(),
        });
        let mut notes = Vec::new();
        let mut valid = true;
        if let Some(lag) = &schedule_lag_ms
            && lag.p99 > max_lag_ms
        {
            valid = false;
            notes.push(format!(
                "generator woke {:.1} ms late at p99 (bound {max_lag_ms:.1} ms): it is overloaded or starved of CPU",
                lag.p99
            ));
        }
        if let Some(target) = target_rate
            && achieved_rate < target * RATE_TOLERANCE
        {
            let saturated = busy.is_some_and(|b| b >= SATURATED_BUSY);
            if saturated {
                valid = false;
                notes.push(format!(
                    "achieved {achieved_rate:.1} of {target:.1} req/s while the generator's threads were {:.0}% busy: the generator is the bottleneck; use more --threads, machines (--start-at) or a lower --rate",
                    busy.unwrap_or(0.0) * 100.0
                ));
            } else if queued > 0 {
                notes.push(format!(
                    "achieved {achieved_rate:.1} of {target:.1} req/s: all connections were busy ({queued} requests queued); the server is too slow for this rate, or raise --connections"
                ));
            } else {
                notes.push(format!("achieved {achieved_rate:.1} of {target:.1} req/s"));
            }
        }
        SelfCheck {
            valid,
            schedule_lag_ms,
            max_lag_ms,
            queued,
            generator_busy: busy,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::new_histogram;

    fn lag(values_us: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for v in values_us {
            h.record(*v).expect("in range");
        }
        h
    }

    #[test]
    fn on_time_generator_is_valid() {
        let c = SelfCheck::new(
            &lag(&[200, 800, 1000]),
            0,
            Some(0.3),
            Duration::from_millis(10),
            Some(100.0),
            100.0,
        );
        assert!(c.valid, "{c:?}");
        assert!(c.notes.is_empty());
    }

    #[test]
    fn late_wakeups_make_the_run_invalid() {
        let c = SelfCheck::new(
            &lag(&[50_000; 10]),
            0,
            Some(0.3),
            Duration::from_millis(10),
            Some(100.0),
            100.0,
        );
        assert!(!c.valid);
        assert!(c.notes[0].contains("late"), "{:?}", c.notes);
    }

    #[test]
    fn missed_rate_with_busy_generator_is_invalid_but_with_slow_server_is_not() {
        let busy = SelfCheck::new(
            &lag(&[]),
            10,
            Some(0.97),
            Duration::from_millis(10),
            Some(1000.0),
            500.0,
        );
        assert!(!busy.valid);
        let slow_server = SelfCheck::new(
            &lag(&[]),
            10,
            Some(0.2),
            Duration::from_millis(10),
            Some(1000.0),
            500.0,
        );
        assert!(slow_server.valid);
        assert!(
            slow_server.notes[0].contains("queued"),
            "{:?}",
            slow_server.notes
        );
    }

    #[test]
    fn a_thread_accounts_for_itself() {
        let spin = |d: Duration| {
            let t = std::time::Instant::now();
            let mut x = 0u64;
            while t.elapsed() < d {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        };
        let busy = std::thread::spawn(move || {
            let a = ThreadClock::own().expect("/proc/thread-self/schedstat");
            spin(Duration::from_millis(50));
            let b = ThreadClock::own().expect("/proc/thread-self/schedstat");
            let (a2, start) = (b, std::time::Instant::now());
            std::thread::sleep(Duration::from_millis(50));
            let c = ThreadClock::own().expect("/proc/thread-self/schedstat");
            let spun = ThreadBusy {
                busy_ns: b.busy_ns_since(&a),
                window_ns: 50_000_000,
            };
            let slept = ThreadBusy {
                busy_ns: c.busy_ns_since(&a2),
                window_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            };
            (spun, slept)
        })
        .join()
        .expect("join");
        let (spun, slept) = busy;
        let spun_share = ThreadBusy::share(&[spun]).expect("a window");
        let slept_share = ThreadBusy::share(&[slept]).expect("a window");
        // A spinning thread is busy all along, less what the hypervisor steals (counted neither
        // as on-CPU nor as waiting: this VM lost more than half of it in a busy moment); a
        // sleeping one hardly at all.
        assert!(spun_share > 0.1, "a spinning thread was {spun_share} busy");
        assert!(
            slept_share < 0.05,
            "a sleeping thread was {slept_share} busy"
        );
        assert!(
            spun_share > 4.0 * slept_share,
            "{spun_share} vs {slept_share}"
        );
        let both = ThreadBusy::share(&[spun, slept]).expect("a window");
        assert!(both > slept_share && both < spun_share, "{both}");
        assert_eq!(ThreadBusy::share(&[]), None);
    }
}
