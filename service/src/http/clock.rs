//! Wall-clock and uptime formatting shared by the health and sum answers and the JSON logs.
//! Timestamps are formatted by humantime; the date and time of day are cached per thread for
//! the current second, so a busy thread only writes the fraction digits per call.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `YYYY-MM-DDTHH:MM:SS` (19 bytes) of the second `.0`, cached per thread.
type SecondPrefix = (u64, [u8; 19]);

thread_local! {
    static PREFIX: Cell<Option<SecondPrefix>> = const { Cell::new(None) };
    /// A wall-clock reading of this thread and the monotonic instant it was taken at.
    static BASE: Cell<Option<(Instant, SystemTime)>> = const { Cell::new(None) };
}

/// How old [`wall_at`]'s wall-clock reading may get before it is taken again.
const REBASE: Duration = Duration::from_secs(1);

/// The wall-clock time at `at`, a monotonic instant just read: this thread's last wall-clock
/// reading (at most a second old) advanced by the monotonic time since, which saves a clock
/// read per request where the monotonic clock is read anyway. Within that second the two
/// clocks part by NTP's slew at most (0.5 ms per second, typically a few µs), and a step of the
/// wall clock shows within a second.
pub fn wall_at(at: Instant) -> SystemTime {
    match BASE.get() {
        Some((base, wall)) if at >= base && at.duration_since(base) < REBASE => {
            wall + at.duration_since(base)
        }
        _ => {
            let wall = SystemTime::now();
            BASE.set(Some((at, wall)));
            wall
        }
    }
}

/// Writes `t` as RFC 3339 UTC with `digits` (3 or 6) fraction digits, truncated, into `out`
/// (which must hold at least 21 + `digits` bytes); returns the written part (ASCII). Same
/// text as humantime's `format_rfc3339_millis` / `format_rfc3339_micros`.
fn format_into(t: SystemTime, digits: u32, out: &mut [u8; 27]) -> &[u8] {
    let Ok(since) = t.duration_since(UNIX_EPOCH) else {
        let epoch = b"1970-01-01T00:00:00.000000Z";
        return &epoch[..(21 + digits as usize).min(epoch.len())];
    };
    let secs = since.as_secs();
    let prefix = match PREFIX.get() {
        Some((cached, prefix)) if cached == secs => prefix,
        _ => {
            let text = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs))
                .to_string();
            let mut prefix = [b'0'; 19];
            for (p, b) in prefix.iter_mut().zip(text.bytes()) {
                *p = b;
            }
            PREFIX.set(Some((secs, prefix)));
            prefix
        }
    };
    out[..19].copy_from_slice(&prefix);
    out[19] = b'.';
    let mut fraction = since.subsec_nanos() / 10u32.pow(9 - digits);
    let end = 20 + digits as usize;
    for slot in out[20..end].iter_mut().rev() {
        *slot = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out[end] = b'Z';
    &out[..=end]
}

/// The current UTC time as RFC 3339 with milliseconds, e.g. `2026-01-02T03:04:05.678Z`.
pub fn now_rfc3339() -> String {
    String::from_utf8_lossy(format_into(SystemTime::now(), 3, &mut [0; 27])).into_owned()
}

/// Appends the current UTC time as RFC 3339 with milliseconds (the form of
/// [`now_rfc3339`]) without allocating.
pub fn write_now_rfc3339_millis(out: &mut Vec<u8>) {
    out.extend_from_slice(format_into(SystemTime::now(), 3, &mut [0; 27]));
}

/// Appends the current UTC time as RFC 3339 with microseconds, e.g.
/// `2026-01-02T03:04:05.678901Z` (the log line's timestamp).
pub fn write_now_rfc3339_micros(out: &mut Vec<u8>) {
    write_rfc3339_micros(out, SystemTime::now());
}

/// Appends `t` as RFC 3339 with microseconds (the form of [`write_now_rfc3339_micros`]).
pub fn write_rfc3339_micros(out: &mut Vec<u8>, t: SystemTime) {
    out.extend_from_slice(format_into(t, 6, &mut [0; 27]));
}

/// Time since `start`, whole seconds, in humantime form (`1h 2m 3s`).
pub fn uptime_since(start: Instant) -> String {
    humantime::format_duration(Duration::from_secs(start.elapsed().as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_at_an_instant_tracks_the_real_one() {
        for _ in 0..2 {
            let before = SystemTime::now();
            let at = Instant::now();
            let derived = wall_at(at);
            let after = SystemTime::now();
            // Within the readings around it, allowing for the clocks' drift over a second.
            let slack = Duration::from_millis(2);
            assert!(derived + slack >= before && derived <= after + slack);
            std::thread::sleep(Duration::from_millis(600));
        }
        // An instant a second past the base takes a fresh reading (now), where extrapolating
        // would give a second ahead; an instant before the new base does too.
        let _ = wall_at(Instant::now());
        let late = Instant::now() + REBASE + Duration::from_millis(100);
        let fresh = wall_at(late);
        assert!(fresh < SystemTime::now() + Duration::from_millis(500));
        let earlier = wall_at(Instant::now());
        assert!(earlier < SystemTime::now() + Duration::from_millis(2));
        assert!(earlier + Duration::from_millis(2) >= fresh);
    }

    #[test]
    fn same_text_as_humantime() {
        let mut t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        for step in [0, 1, 999_999, 1_000_000_000, 86_399_999_999_999, 7] {
            t += Duration::from_nanos(step);
            let millis = format_into(t, 3, &mut [0; 27]).to_owned();
            assert_eq!(
                millis,
                humantime::format_rfc3339_millis(t).to_string().into_bytes()
            );
            let micros = format_into(t, 6, &mut [0; 27]).to_owned();
            assert_eq!(
                micros,
                humantime::format_rfc3339_micros(t).to_string().into_bytes()
            );
        }
        let whole = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            format_into(whole, 3, &mut [0; 27]),
            humantime::format_rfc3339_millis(whole)
                .to_string()
                .as_bytes()
        );
    }
}
