//! Whether the target can be reached at all: a target that refuses every connection (nothing
//! listening, or TLS spoken to a plain-HTTP port) is a failure to test, not a slow server, so
//! the run ends within seconds with the reason instead of recording errors for the whole
//! `--duration`. The rule is narrow on purpose: only a target that has never accepted one
//! connection is given up on; one that refuses some connections mid-run is measured as usual.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How long after the start a target that accepted no connection is given up on.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(2);
/// How many connection attempts must have failed (and none succeeded) before giving up.
pub const GIVE_UP_ATTEMPTS: u64 = 3;

/// Connection outcomes shared by every connection task, and the decision to stop.
#[derive(Debug, Default)]
pub struct Reach {
    connected: AtomicBool,
    failures: AtomicU64,
    first_failure: OnceLock<String>,
    stop: AtomicBool,
}

impl Reach {
    /// A connection was opened: the target is reachable, and the run is never cut short.
    pub fn connected(&self) {
        if !self.connected.load(Ordering::Relaxed) {
            self.connected.store(true, Ordering::Relaxed);
        }
    }

    /// A connection attempt failed with `why` (the first reason is kept).
    pub fn failed(&self, why: impl FnOnce() -> String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if self.first_failure.get().is_none() {
            let _ = self.first_failure.set(why());
        }
    }

    /// Decides, `elapsed` after the start, whether to give up: no connection ever opened, at
    /// least [`GIVE_UP_ATTEMPTS`] attempts failed and [`GIVE_UP_AFTER`] has passed. Once true,
    /// [`Reach::stopped`] tells the connection tasks to end.
    pub fn give_up(&self, elapsed: Duration) -> bool {
        let dead = !self.connected.load(Ordering::Relaxed)
            && self.failures.load(Ordering::Relaxed) >= GIVE_UP_ATTEMPTS
            && elapsed >= GIVE_UP_AFTER;
        if dead {
            self.stop.store(true, Ordering::Relaxed);
        }
        dead
    }

    /// Whether the run was given up on.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Why the run was given up on: the first failure and how many attempts failed.
    pub fn reason(&self) -> Option<String> {
        if !self.stopped() {
            return None;
        }
        let why = self
            .first_failure
            .get()
            .map_or("no connection could be opened", String::as_str);
        Some(format!(
            "{why}: all {} connection attempts failed and none ever succeeded, so the run was stopped (nothing was tested)",
            self.failures.load(Ordering::Relaxed)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_up_only_on_a_target_that_never_accepted_a_connection() {
        let r = Reach::default();
        for _ in 0..5 {
            r.failed(|| "connection refused by 127.0.0.1:1".into());
        }
        assert!(!r.give_up(Duration::from_millis(500)), "too early");
        assert!(r.give_up(GIVE_UP_AFTER));
        assert!(r.stopped());
        let why = r.reason().expect("a reason");
        assert!(
            why.starts_with("connection refused by 127.0.0.1:1"),
            "{why}"
        );

        let r = Reach::default();
        r.connected();
        for _ in 0..100 {
            r.failed(|| "connection refused by 127.0.0.1:1".into());
        }
        assert!(!r.give_up(Duration::from_secs(60)));
        assert_eq!(r.reason(), None);

        let r = Reach::default();
        r.failed(|| "x".into());
        assert!(!r.give_up(Duration::from_secs(60)), "too few attempts");
    }
}
