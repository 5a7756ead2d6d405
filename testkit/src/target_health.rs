//! The active health checks of an ALB target group, for tests that emulate one in front of
//! loopback targets ([`crate::nginx_lb`] routes, this decides who is healthy): every registered
//! target is asked `GET path` every interval on a thread of its own; `healthy_threshold` passes in
//! a row make it healthy, `unhealthy_threshold` failures in a row unhealthy, as the target
//! group's `health_check` block says. A new target starts `Initial` (an ALB routes nothing to it
//! yet); a deregistered one is no longer checked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a waiter looks at the state, and how soon the checker sees it must stop.
const POLL: Duration = Duration::from_millis(5);

/// The target group's `health_check` settings.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// The path asked; only a 200 passes.
    pub path: String,
    /// Between the starts of two rounds of checks.
    pub interval: Duration,
    /// One check's whole exchange.
    pub timeout: Duration,
    /// Passes in a row that make a target healthy.
    pub healthy_threshold: u64,
    /// Failures in a row that make a target unhealthy.
    pub unhealthy_threshold: u64,
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Registered, not yet healthy_threshold passes.
    Initial,
    /// Passed healthy_threshold checks in a row.
    Healthy,
    /// Failed unhealthy_threshold checks in a row.
    Unhealthy,
}

/// A target's state and its current runs of passes and failures.
#[derive(Debug, Clone, Copy)]
struct Target {
    health: Health,
    passes: u64,
    fails: u64,
}

type Targets = Arc<Mutex<BTreeMap<SocketAddr, Target>>>;

/// The checks, running until dropped.
#[derive(Debug)]
pub struct HealthChecks {
    targets: Targets,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HealthChecks {
    /// Starts checking (no target registered yet).
    pub fn start(settings: CheckSettings) -> HealthChecks {
        let targets: Targets = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, halt) = (targets.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                let round = Instant::now();
                let now: Vec<SocketAddr> = lock(&shared).keys().copied().collect();
                for addr in now {
                    let ok = health_check(addr, &settings.path, settings.timeout);
                    if let Some(t) = lock(&shared).get_mut(&addr) {
                        t.record(ok, &settings);
                    }
                }
                while round.elapsed() < settings.interval && !halt.load(Ordering::SeqCst) {
                    std::thread::sleep(POLL);
                }
            }
        });
        HealthChecks {
            targets,
            stop,
            thread: Some(thread),
        }
    }

    /// Starts checking `target`, as `Initial`.
    pub fn register(&self, target: SocketAddr) {
        lock(&self.targets).insert(
            target,
            Target {
                health: Health::Initial,
                passes: 0,
                fails: 0,
            },
        );
    }

    /// Stops checking `target`.
    pub fn deregister(&self, target: SocketAddr) {
        lock(&self.targets).remove(&target);
    }

    /// Where `target` stands (`None`: not registered).
    pub fn health(&self, target: SocketAddr) -> Option<Health> {
        lock(&self.targets).get(&target).map(|t| t.health)
    }

    /// Waits until `target` is `want`; returns how long that took.
    ///
    /// Panics at `deadline`, naming where the target stands, which fails the test.
    pub fn wait(&self, target: SocketAddr, want: Health, deadline: Instant) -> Duration {
        let from = Instant::now();
        loop {
            let now = self.health(target);
            if now == Some(want) {
                return from.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "target {target} is {now:?}, not {want:?}, after {:?}",
                from.elapsed()
            );
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for HealthChecks {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Target {
    fn record(&mut self, ok: bool, s: &CheckSettings) {
        (self.passes, self.fails) = if ok {
            (self.passes + 1, 0)
        } else {
            (0, self.fails + 1)
        };
        if self.passes >= s.healthy_threshold {
            self.health = Health::Healthy;
        } else if self.fails >= s.unhealthy_threshold {
            self.health = Health::Unhealthy;
        }
    }
}

/// A lock that a panicked checker cannot poison for the test (the map stays consistent: every
/// update is one assignment).
fn lock(targets: &Targets) -> std::sync::MutexGuard<'_, BTreeMap<SocketAddr, Target>> {
    targets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One check: `GET path` answered 200 within `timeout`, over a new connection.
pub fn health_check(target: SocketAddr, path: &str, timeout: Duration) -> bool {
    matches!(crate::nginx_lb::get(target, path, timeout), Ok((200, _)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_move_a_target_between_states() {
        let s = CheckSettings {
            path: "/".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
        };
        let mut t = Target {
            health: Health::Initial,
            passes: 0,
            fails: 0,
        };
        let mut seen = Vec::new();
        for ok in [
            true, false, true, true, false, false, true, false, false, false,
        ] {
            t.record(ok, &s);
            seen.push(t.health);
        }
        use Health::*;
        assert_eq!(
            seen,
            [
                Initial, Initial, Initial, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy,
                Unhealthy
            ]
        );
    }

    #[test]
    fn a_target_that_refuses_turns_unhealthy_and_a_listening_one_healthy() {
        let refused = crate::ports::RefusedPort::reserve().expect("a refused port");
        let checks = HealthChecks::start(CheckSettings {
            path: "/ready".into(),
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(200),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
        });
        let ready = crate::server::Server::start(|mut stream| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        });
        checks.register(refused.addr());
        checks.register(ready.addr());
        assert_eq!(checks.health(ready.addr()), Some(Health::Initial));
        let deadline = Instant::now() + Duration::from_secs(10);
        checks.wait(refused.addr(), Health::Unhealthy, deadline);
        checks.wait(ready.addr(), Health::Healthy, deadline);
        checks.deregister(refused.addr());
        assert_eq!(checks.health(refused.addr()), None);
    }
}
