//! Live progress on stderr, once a second, only when stderr is a terminal and `--quiet` is not
//! given: elapsed time, requests/s, errors, and the p99 of the latest finished second. Workers
//! only bump their own cache-line-padded counters; this task sums them.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::recorder::{Outcome, Recorder};

/// One worker's counters, written by that worker only.
#[repr(align(128))]
#[derive(Default)]
pub struct LiveSlot {
    done: AtomicU64,
    failed: AtomicU64,
}

impl LiveSlot {
    /// Counts one measured request. A single writer, so load+store instead of a locked add.
    pub fn add(&self, outcome: Outcome) {
        self.done
            .store(self.done.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if !matches!(outcome, Outcome::Success | Outcome::Redirect) {
            self.failed
                .store(self.failed.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}

/// Every worker's counters.
pub struct Live {
    slots: Vec<LiveSlot>,
}

impl Live {
    /// Counters for `workers` workers.
    pub fn new(workers: usize) -> Live {
        Live {
            slots: (0..workers).map(|_| LiveSlot::default()).collect(),
        }
    }

    /// Worker `w`'s counters.
    pub fn slot(&self, w: usize) -> &LiveSlot {
        &self.slots[w % self.slots.len()]
    }

    /// (requests, failed) so far.
    pub fn totals(&self) -> (u64, u64) {
        self.slots.iter().fold((0, 0), |(d, f), s| {
            (
                d + s.done.load(Ordering::Relaxed),
                f + s.failed.load(Ordering::Relaxed),
            )
        })
    }
}

/// The running progress printer.
pub struct Progress {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts printing when `enabled` and stderr is a terminal; `None` otherwise.
    pub fn spawn(
        enabled: bool,
        live: Arc<Live>,
        recorder: Recorder,
        epoch: Instant,
        end: Instant,
        target_rate: Option<f64>,
    ) -> Option<Progress> {
        if !enabled || !std::io::stderr().is_terminal() {
            return None;
        }
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(epoch.into(), Duration::from_secs(1));
            let mut last = (0, Instant::now());
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let now = Instant::now();
                let (done, failed) = live.totals();
                let rps =
                    (done - last.0) as f64 / now.duration_since(last.1).as_secs_f64().max(1e-3);
                last = (done, now);
                let p99 = recorder.last_interval().map_or("-".to_string(), |i| {
                    format!("{:.2}ms", i.p99_us as f64 / 1000.0)
                });
                let total = end.saturating_duration_since(epoch).as_secs();
                let target = target_rate.map_or(String::new(), |r| format!("/{r:.0}"));
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2K{:>4}s/{total}s  {rps:>9.0}{target} req/s  {done} requests  {failed} errors  p99 {p99}",
                    now.saturating_duration_since(epoch).as_secs()
                );
                let _ = err.flush();
            }
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        });
        Some(Progress { stop, task })
    }

    /// Stops printing and clears the line.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
