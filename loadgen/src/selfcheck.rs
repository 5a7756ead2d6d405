//! The generator's self-check: was the generator itself the bottleneck? Two signals: schedule
//! lag (how late a connection that was idle and waiting for its slot actually woke up), and the
//! worker threads' busy share over the measured window (on-CPU plus waiting-for-CPU time from
//! `/proc/thread-self/schedstat`, sampled by each worker thread itself, out of the time the
//! hypervisor left the machine: on a VM, stolen time is neither). A run whose target rate was
//! missed while the generator had no headroom, or whose wake-ups were late, is `invalid`: its
//! latencies describe the generator.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Busy share of the worker threads above which the generator counts as saturated.
pub const SATURATED_BUSY: f64 = 0.9;
/// Share of the target rate that must be achieved.
pub const RATE_TOLERANCE: f64 = 0.99;

/// CPU accounting of one thread at one moment, with the machine's stolen time.
#[derive(Debug, Clone, Copy)]
pub struct ThreadClock {
    /// Nanoseconds on CPU plus nanoseconds runnable but waiting for a CPU.
    busy_ns: u64,
    /// The machine's CPU time so far (`/proc/stat`, all CPUs, clock ticks): stolen, and in all.
    cpu: Option<CpuTicks>,
}

/// `/proc/stat`'s first line, summed: the ticks the hypervisor stole, and all ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    /// Ticks a virtual CPU wanted to run but the hypervisor ran something else.
    pub steal: u64,
    /// user + nice + system + idle + iowait + irq + softirq + steal.
    pub total: u64,
}

impl CpuTicks {
    /// Reads the `cpu` line of `/proc/stat`'s text; `None` when it is not there.
    pub fn parse(proc_stat: &str) -> Option<CpuTicks> {
        let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
        let fields: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        (fields.len() == 8).then(|| CpuTicks {
            steal: fields[7],
            total: fields.iter().sum(),
        })
    }

    /// The share of the machine's time stolen between `earlier` and this sample (0..1).
    pub fn steal_share_since(&self, earlier: &CpuTicks) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        (self.steal.saturating_sub(earlier.steal) as f64 / total as f64).min(1.0)
    }
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
        let cpu = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| CpuTicks::parse(&text));
        Some(ThreadClock {
            busy_ns: on_cpu + waiting,
            cpu,
        })
    }
}

/// One worker thread's busy time over the part of the measured window it took part in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadBusy {
    /// Nanoseconds on CPU or waiting for one.
    pub busy_ns: u64,
    /// Nanoseconds of the window the thread could have used: the window less the machine's
    /// stolen share of it (a thread's on-CPU time leaves stolen time out).
    pub window_ns: u64,
}

impl ThreadBusy {
    /// The thread's busy time between two of its samples taken `window` apart.
    pub fn between(earlier: &ThreadClock, later: &ThreadClock, window: Duration) -> ThreadBusy {
        let stolen = match (earlier.cpu, later.cpu) {
            (Some(a), Some(b)) => b.steal_share_since(&a),
            _ => 0.0,
        };
        let window_ns = window.as_nanos() as f64 * (1.0 - stolen);
        ThreadBusy {
            busy_ns: later.busy_ns.saturating_sub(earlier.busy_ns),
            window_ns: window_ns as u64,
        }
    }

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
        let (spun, slept) = std::thread::spawn(move || {
            let sample = || ThreadClock::own().expect("/proc/thread-self/schedstat");
            let (a, t0) = (sample(), std::time::Instant::now());
            spin(Duration::from_millis(50));
            let (b, t1) = (sample(), std::time::Instant::now());
            std::thread::sleep(Duration::from_millis(50));
            let (c, t2) = (sample(), std::time::Instant::now());
            (
                ThreadBusy::between(&a, &b, t1 - t0),
                ThreadBusy::between(&b, &c, t2 - t1),
            )
        })
        .join()
        .expect("join");
        let spun_share = ThreadBusy::share(&[spun]).expect("a window");
        let slept_share = ThreadBusy::share(&[slept]).expect("a window");
        // A spinning thread is busy all along the time the hypervisor leaves it; a sleeping
        // one only while it waits for a CPU after waking (a few ms when other tests run).
        // Stolen time is measured machine-wide, so on a loaded VM both shares are approximate.
        assert!(spun_share > 0.4, "a spinning thread was {spun_share} busy");
        assert!(
            slept_share < 0.25,
            "a sleeping thread was {slept_share} busy"
        );
        assert!(
            spun_share > 2.0 * slept_share,
            "{spun_share} vs {slept_share}"
        );
        let both = ThreadBusy::share(&[spun, slept]).expect("a window");
        assert!(both > slept_share && both < spun_share, "{both}");
        assert_eq!(ThreadBusy::share(&[]), None);
    }

    #[test]
    fn stolen_time_is_left_out_of_the_window() {
        let stat = |steal: u64, idle: u64| {
            format!("cpu  100 0 50 {idle} 0 0 0 {steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n")
        };
        let a = CpuTicks::parse(&stat(0, 1000)).expect("a cpu line");
        assert_eq!(
            a,
            CpuTicks {
                steal: 0,
                total: 1150
            }
        );
        // 100 more ticks, half of them stolen.
        let b = CpuTicks::parse(&stat(50, 1050)).expect("a cpu line");
        assert_eq!(b.steal_share_since(&a), 0.5);
        let clock = |busy_ns, cpu| ThreadClock { busy_ns, cpu };
        let busy = ThreadBusy::between(
            &clock(0, Some(a)),
            &clock(40_000_000, Some(b)),
            Duration::from_millis(100),
        );
        // 40 ms busy of the 50 ms the hypervisor left: 80%, not 40%.
        assert_eq!(busy.window_ns, 50_000_000);
        assert_eq!(ThreadBusy::share(&[busy]), Some(0.8));
        // Without /proc/stat, the whole window counts.
        let plain = ThreadBusy::between(
            &clock(0, None),
            &clock(40_000_000, None),
            Duration::from_millis(100),
        );
        assert_eq!(ThreadBusy::share(&[plain]), Some(0.4));
        assert_eq!(CpuTicks::parse("intr 1\n"), None);
        assert_eq!(CpuTicks::parse("cpu  1 2 x 4 5 6 7 8\n"), None);
        assert_eq!(CpuTicks::parse("cpu  1 2 3\n"), None);
    }
}
