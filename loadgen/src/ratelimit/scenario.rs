//! The request sequence: no key, an unknown key, then the first key until it is refused
//! (starting in a fresh window when the current one is about to end), the second key while the
//! first is exhausted, and optionally the first key again after the reset. It only records;
//! the `checks` module judges the transcript.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::expected::{Expected, Window};
use super::http::{Observation, Requester};

/// Extra requests sent past the expected onset before giving up on seeing a 429.
pub const OVERSHOOT: u64 = 2;
/// Transport errors tolerated in the burst before it stops.
const MAX_ERRORS: usize = 3;

/// Everything the scenario saw, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Transcript {
    /// Request without a key.
    pub no_key: Observation,
    /// Request with a key nobody has.
    pub unknown_key: Observation,
    /// First-key requests of one window, the first of which is the probe.
    pub burst: Vec<Observation>,
    /// Requests spent before the burst (a probe in a window that was about to end).
    pub discarded: Vec<Observation>,
    /// The second key while the first was exhausted.
    pub second_key: Option<Observation>,
    /// The first key again after waiting for the reset.
    pub after_reset: Option<Observation>,
    /// How many burst requests were allowed at most.
    pub burst_cap: u64,
}

impl Transcript {
    /// Every observation in the order it was made.
    pub fn all(&self) -> Vec<&Observation> {
        let mut v = vec![&self.no_key, &self.unknown_key];
        v.extend(self.discarded.iter());
        v.extend(self.burst.iter());
        v.extend(self.second_key.iter());
        v.extend(self.after_reset.iter());
        v
    }
}

/// What to send.
pub struct Inputs<'a> {
    /// The request description.
    pub requester: &'a Requester,
    /// The first key.
    pub key: &'a str,
    /// The optional second key.
    pub second_key: Option<&'a str>,
    /// The declared limit.
    pub expected: Expected,
    /// Wait for the reset and check that requests succeed again.
    pub wait_reset: bool,
}

/// Remaining requests in the expected window, as the headers tell it.
pub fn window_remaining(o: &Observation, w: Window) -> Option<i64> {
    o.window_remaining.get(w.name()).copied().or(o.remaining)
}

/// Limit of the expected window, as the headers tell it.
pub fn window_limit(o: &Observation, w: Window) -> Option<i64> {
    o.window_limits.get(w.name()).copied().or(o.limit)
}

/// Requests already spent in the expected window before `probe` (which itself counts when it
/// was allowed), as the headers tell it.
pub fn spent_before(probe: &Observation, w: Window) -> Option<u64> {
    let limit = window_limit(probe, w)?;
    if probe.status == Some(429) {
        return Some(limit.max(0).unsigned_abs());
    }
    let remaining = window_remaining(probe, w)?;
    Some((limit - remaining - 1).max(0).unsigned_abs())
}

/// Runs the sequence.
pub async fn run(inp: Inputs<'_>) -> Transcript {
    let start = Instant::now();
    let at = || start.elapsed().as_secs_f64();
    let req = inp.requester;
    let w = inp.expected.window;
    let mut t = Transcript {
        no_key: req.send("none", None, at()).await,
        ..Transcript::default()
    };
    t.unknown_key = req.send("unknown", Some(&unknown_key()), at()).await;

    // The burst must fall into one window; when a window boundary passes during it (a busy
    // machine, a short window), it is repeated once in a fresh window.
    let mut limited = false;
    for attempt in 0..2 {
        if attempt > 0 {
            t.discarded.append(&mut t.burst);
        }
        let spanned;
        (limited, spanned) = burst(&inp, &mut t, &at).await;
        if !spanned || w == Window::Hour {
            break;
        }
    }

    if limited {
        if let Some(k) = inp.second_key {
            t.second_key = Some(req.send("second", Some(k), at()).await);
        }
        if inp.wait_reset {
            let last = t.burst.last();
            let wait = last
                .and_then(|o| o.retry_after.or(o.reset))
                .filter(|s| (1..=w.seconds()).contains(s))
                .unwrap_or(w.seconds());
            tokio::time::sleep(
                Duration::from_secs(wait.unsigned_abs()) + Duration::from_millis(300),
            )
            .await;
            t.after_reset = Some(req.send("first", Some(inp.key), at()).await);
        }
    }
    t
}

/// Probe (in a fresh window if the current one is ending or spent), then the first key until
/// it is refused or the cap is reached. Returns whether a 429 was seen and whether a window
/// boundary (by the local clock) passed during the burst.
async fn burst(inp: &Inputs<'_>, t: &mut Transcript, at: &impl Fn() -> f64) -> (bool, bool) {
    let req = inp.requester;
    let w = inp.expected.window;
    if w == Window::Second {
        sleep_to_next_second().await;
    }
    let sent = Instant::now();
    let mut first_window = window_index(w);
    let mut probe = req.send("first", Some(inp.key), at()).await;
    let latency = sent.elapsed().as_secs_f64();
    let budget = (latency * 3.0 * (inp.expected.limit + OVERSHOOT + 1) as f64 + 1.0).ceil() as i64;
    // A window that is about to end, or already exhausted by earlier traffic: start afresh.
    let exhausted = probe.status == Some(429);
    let ending = w != Window::Second && probe.reset.is_some_and(|r| r < budget);
    if w != Window::Hour && (exhausted || ending) {
        let wait = probe
            .retry_after
            .or(probe.reset)
            .filter(|s| (1..=w.seconds()).contains(s))
            .unwrap_or(w.seconds());
        tokio::time::sleep(Duration::from_secs(wait.unsigned_abs()) + Duration::from_millis(300))
            .await;
        if w == Window::Second {
            sleep_to_next_second().await;
        }
        t.discarded.push(probe);
        first_window = window_index(w);
        probe = req.send("first", Some(inp.key), at()).await;
    }

    // Expected onset: what the declared limit leaves in this window after the probe.
    let spent = spent_before(&probe, w).unwrap_or(0);
    t.burst_cap = inp.expected.limit.saturating_sub(spent) + OVERSHOOT;
    let mut errors = usize::from(probe.error.is_some());
    let mut limited = probe.status == Some(429);
    t.burst.push(probe);
    while !limited && (t.burst.len() as u64) < t.burst_cap && errors < MAX_ERRORS {
        let o = req.send("first", Some(inp.key), at()).await;
        limited = o.status == Some(429);
        errors += usize::from(o.error.is_some());
        t.burst.push(o);
    }
    (limited, window_index(w) != first_window)
}

/// Which calendar-aligned window of length `w` the local clock is in.
fn window_index(w: Window) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    now / w.seconds().unsigned_abs()
}

fn unknown_key() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("loadgen-ratelimit-unknown-{nanos:x}")
}

async fn sleep_to_next_second() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into = Duration::from_nanos(u64::from(now.subsec_nanos()));
    tokio::time::sleep(Duration::from_secs(1) - into + Duration::from_millis(20)).await;
}
