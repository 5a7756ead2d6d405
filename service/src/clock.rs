//! Wall-clock and uptime formatting shared by the health and sum answers.

use std::time::{Duration, Instant, SystemTime};

/// The current UTC time as RFC 3339 with milliseconds, e.g. `2026-01-02T03:04:05.678Z`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Time since `start`, whole seconds, in humantime form (`1h 2m 3s`).
pub fn uptime_since(start: Instant) -> String {
    humantime::format_duration(Duration::from_secs(start.elapsed().as_secs())).to_string()
}
