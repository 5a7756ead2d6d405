//! TLS certificate expiry: the validity period of the leaf certificate a target presented (read
//! from its DER encoding with `x509-parser`), the days it has left, and the reason a probe fails
//! for it: expired, not yet valid, or fewer days left than `cert_min_days`. The certificates come
//! from [`crate::http_client`]'s verifier, which records every leaf it is shown, one it then
//! rejects included; [`crate::run`] judges each probe by them and publishes
//! `CertificateDaysRemaining` once per host per round.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// `cert_min_days` when neither the config file nor a flag sets it: two weeks, time enough to
/// renew by hand when automatic renewal failed.
pub const DEFAULT_MIN_DAYS: f64 = 14.0;

/// The largest `cert_min_days` accepted: ten years is already longer than any public
/// certificate lives, so a larger value can only be a typo.
pub const MAX_MIN_DAYS: f64 = 3650.0;

/// First second of the year 10000: X.509 times end before it, and so does RFC 3339 text.
const YEAR_10000: i64 = 253_402_300_800;

/// When a certificate is valid, in seconds since the Unix epoch (negative before 1970).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
}

impl Validity {
    /// The validity of a DER-encoded X.509 certificate; `None` when the bytes are not one.
    pub fn from_der(der: &[u8]) -> Option<Validity> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let validity = cert.validity();
        Some(Validity {
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        })
    }

    /// Days from `now` until notAfter, fractional (to 0.0001 day, about 9 s), negative once the
    /// certificate has expired.
    pub fn days_remaining(&self, now: SystemTime) -> f64 {
        let days = (self.not_after as f64 - unix_seconds(now)) / DAY;
        // `+ 0.0` turns a rounded -0 into 0, which every sink then writes as `0`.
        (days * 10_000.0).round() / 10_000.0 + 0.0
    }

    /// Why a probe of `host` fails for this certificate at `now` with `min_days` required, or
    /// `None` when it does not: not yet valid, expired, or fewer than `min_days` days left.
    pub fn problem(&self, host: &str, now: SystemTime, min_days: f64) -> Option<String> {
        let now_secs = unix_seconds(now);
        if now_secs < self.not_before as f64 {
            return Some(format!(
                "certificate of {host} not valid until {} ({} from now)",
                timestamp_text(self.not_before),
                span_text((self.not_before as f64 - now_secs) / DAY)
            ));
        }
        let days = self.days_remaining(now);
        if days < 0.0 {
            Some(format!(
                "certificate of {host} expired {} ago (not valid after {})",
                span_text(-days),
                timestamp_text(self.not_after)
            ))
        } else if days < min_days {
            Some(format!(
                "certificate of {host} expires in {} (not valid after {}), fewer than \
                 cert_min_days = {min_days}",
                span_text(days),
                timestamp_text(self.not_after)
            ))
        } else {
            None
        }
    }
}

/// Seconds since the Unix epoch, fractional (negative before it).
fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A Unix time as RFC 3339 (`2030-01-31T12:00:00Z`), or as the number when it lies outside the
/// years 1970 to 9999 that the formatter handles.
fn timestamp_text(secs: i64) -> String {
    match u64::try_from(secs) {
        Ok(s) if secs < YEAR_10000 => {
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(s)).to_string()
        }
        _ => format!("Unix time {secs}"),
    }
}

/// A span of days as a person says it: `2 days`, `4.5 days`, `1 day`, or hours under a day.
fn span_text(days: f64) -> String {
    let (value, one, many) = if days >= 1.0 {
        (days, "day", "days")
    } else {
        (days * 24.0, "hour", "hours")
    };
    let tenths = (value * 10.0).round() / 10.0;
    if tenths == 1.0 {
        format!("1 {one}")
    } else if tenths.fract() == 0.0 {
        format!("{tenths:.0} {many}")
    } else {
        format!("{tenths:.1} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_750_000_000;

    fn at(secs: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    }

    fn valid(from_days: f64, to_days: f64) -> Validity {
        Validity {
            not_before: NOW + (from_days * DAY) as i64,
            not_after: NOW + (to_days * DAY) as i64,
        }
    }

    #[test]
    fn days_remaining_are_fractional_and_negative_once_expired() {
        assert_eq!(valid(-1.0, 5.0).days_remaining(at(NOW)), 5.0);
        assert_eq!(valid(-1.0, 0.5).days_remaining(at(NOW)), 0.5);
        assert_eq!(valid(-9.0, -2.25).days_remaining(at(NOW)), -2.25);
        // Rounded to 0.0001 day, never a negative zero.
        let just = Validity {
            not_before: NOW - 10,
            not_after: NOW,
        };
        assert_eq!(just.days_remaining(at(NOW) + Duration::from_secs(1)), 0.0);
        assert!(
            just.days_remaining(at(NOW) + Duration::from_secs(1))
                .is_sign_positive()
        );
    }

    #[test]
    fn problems_say_what_is_wrong_in_words() {
        let now = at(NOW);
        assert_eq!(valid(-1.0, 365.0).problem("h", now, 14.0), None);
        assert_eq!(valid(-1.0, 14.0).problem("h", now, 14.0), None);
        let soon = valid(-1.0, 5.0).problem("api.example", now, 14.0);
        assert_eq!(
            soon.as_deref(),
            Some(
                "certificate of api.example expires in 5 days (not valid after \
                 2025-06-20T15:06:40Z), fewer than cert_min_days = 14"
            )
        );
        let expired = valid(-30.0, -2.0).problem("h", now, 14.0);
        assert_eq!(
            expired.as_deref(),
            Some("certificate of h expired 2 days ago (not valid after 2025-06-13T15:06:40Z)")
        );
        // Expired is a failure even when no minimum is asked for.
        assert!(valid(-30.0, -0.1).problem("h", now, 0.0).is_some());
        let early = valid(1.5, 400.0).problem("h", now, 14.0);
        assert_eq!(
            early.as_deref(),
            Some("certificate of h not valid until 2025-06-17T03:06:40Z (1.5 days from now)")
        );
        let hours = valid(-1.0, 0.25).problem("h", now, 1.0).expect("fails");
        assert!(hours.contains("expires in 6 hours"), "{hours}");
    }

    #[test]
    fn times_outside_what_rfc_3339_text_holds_are_written_as_numbers() {
        assert_eq!(timestamp_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp_text(-1), "Unix time -1");
        assert_eq!(timestamp_text(YEAR_10000), "Unix time 253402300800");
        assert_eq!(timestamp_text(YEAR_10000 - 1), "9999-12-31T23:59:59Z");
        let ancient = Validity {
            not_before: -2_000_000_000,
            not_after: -1_000_000_000,
        };
        let text = ancient.problem("h", at(NOW), 14.0).expect("expired");
        assert!(text.contains("Unix time -1000000000"), "{text}");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(Validity::from_der(b""), None);
        assert_eq!(Validity::from_der(b"\x30\x03\x02\x01\x01"), None);
        assert_eq!(Validity::from_der(&[0xff; 64]), None);
    }
}
