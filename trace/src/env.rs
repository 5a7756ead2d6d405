//! Reading OpenTelemetry's environment variables by the value rules of its configuration spec:
//! an empty value is unset; a value that cannot be read is ignored (the default applies) with a
//! [`Warning`] the caller logs, never an error; booleans are `true`/`false` in any case;
//! durations and timeouts are non-negative integers of milliseconds; key-value lists are
//! `key1=value1,key2=value2` with percent-encoded values (W3C Baggage's format).
//!
//! Values that may hold secrets (exporter headers) never appear in a warning.

use std::fmt;
use std::time::Duration;

/// The longest part of a bad value quoted in a warning.
const QUOTE_MAX: usize = 64;

/// A setting that was ignored, and what was used instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The environment variable.
    pub variable: &'static str,
    /// What was wrong and what applies instead.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.message)
    }
}

/// The variables, read through a lookup (the process environment, or a map in tests), and the
/// warnings collected while reading them.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) warnings: Vec<Warning>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Env<'a> {
        Env {
            lookup,
            warnings: Vec::new(),
        }
    }

    /// The value, trimmed; `None` when unset or empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Records that `variable` was ignored.
    pub(crate) fn warn(&mut self, variable: &'static str, message: impl Into<String>) {
        self.warnings.push(Warning {
            variable,
            message: message.into(),
        });
    }

    /// A boolean: `true` only for `true` in any case; anything but `false` also warns.
    pub(crate) fn boolean(&mut self, name: &'static str) -> bool {
        match self.get(name) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                self.warn(
                    name,
                    format!("{} is not true or false; using false", quote(&v)),
                );
                false
            }
        }
    }

    /// A non-negative integer of milliseconds, or `default`.
    pub(crate) fn duration_ms(&mut self, name: &'static str, default: Duration) -> Duration {
        match self.integer(name) {
            Some(ms) => Duration::from_millis(ms),
            None => default,
        }
    }

    /// A timeout: like a duration, but 0 means no limit, which is read as a very long time (the
    /// longest 32-bit count of milliseconds, about 24 days), as the spec allows.
    pub(crate) fn timeout_ms(&mut self, name: &'static str, default: Duration) -> Duration {
        match self.integer(name) {
            Some(0) => Duration::from_millis(i32::MAX as u64),
            Some(ms) => Duration::from_millis(ms),
            None => default,
        }
    }

    /// A positive integer, or `default`.
    pub(crate) fn positive(&mut self, name: &'static str, default: usize) -> usize {
        match self.integer(name) {
            Some(0) => {
                self.warn(name, format!("must be positive; using {default}"));
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(default),
            None => default,
        }
    }

    /// An integer in `0..=2^31-1` (the range the spec asks for), or `None` (warned when set).
    fn integer(&mut self, name: &'static str) -> Option<u64> {
        let value = self.get(name)?;
        match value.parse::<u64>() {
            Ok(n) if n <= i32::MAX as u64 => Some(n),
            _ => {
                self.warn(
                    name,
                    format!(
                        "{} is not an integer from 0 to {}; using the default",
                        quote(&value),
                        i32::MAX
                    ),
                );
                None
            }
        }
    }

    /// `key=value` pairs separated by commas, values percent-decoded. A malformed pair is
    /// skipped with a warning that names its position only (values may be secrets).
    pub(crate) fn key_values(&mut self, name: &'static str) -> Vec<(String, String)> {
        let Some(list) = self.get(name) else {
            return Vec::new();
        };
        let mut pairs = Vec::new();
        for (i, item) in list.split(',').enumerate() {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let pair = item.split_once('=').and_then(|(k, v)| {
                let key = k.trim();
                let value = percent_decode(v.trim())?;
                (!key.is_empty()).then(|| (key.to_owned(), value))
            });
            match pair {
                Some(pair) => pairs.push(pair),
                None => self.warn(
                    name,
                    format!(
                        "entry {} is not key=value with a percent-encoded value; skipped",
                        i + 1
                    ),
                ),
            }
        }
        pairs
    }
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A value for a warning: quoted, escaped, and cut if long.
pub(crate) fn quote(value: &str) -> String {
    let cut: String = value.chars().take(QUOTE_MAX).collect();
    let more = if cut.len() < value.len() { "..." } else { "" };
    format!("{cut:?}{more}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with<R>(vars: &[(&str, &str)], f: impl FnOnce(&mut Env<'_>) -> R) -> (R, Vec<Warning>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| map.get(name).cloned();
        let mut env = Env::new(&lookup);
        let r = f(&mut env);
        (r, env.warnings)
    }

    #[test]
    fn empty_is_unset_and_booleans_follow_the_spec() {
        let (v, w) = with(&[("X", "  ")], |e| e.get("X"));
        assert_eq!(v, None);
        assert!(w.is_empty());
        for (value, want, warned) in [
            ("true", true, false),
            ("TRUE", true, false),
            ("False", false, false),
            ("", false, false),
            ("1", false, true),
            ("yes", false, true),
        ] {
            let (v, w) = with(&[("B", value)], |e| e.boolean("B"));
            assert_eq!(v, want, "{value}");
            assert_eq!(!w.is_empty(), warned, "{value}: {w:?}");
        }
    }

    #[test]
    fn numbers_that_cannot_be_read_warn_and_keep_the_default() {
        let d = Duration::from_secs(5);
        assert_eq!(
            with(&[("D", "250")], |e| e.duration_ms("D", d)).0,
            Duration::from_millis(250)
        );
        assert_eq!(
            with(&[("D", "0")], |e| e.duration_ms("D", d)).0,
            Duration::ZERO
        );
        for bad in ["-1", "1.5", "5s", "2147483648", "ten"] {
            let (v, w) = with(&[("D", bad)], |e| e.duration_ms("D", d));
            assert_eq!(v, d, "{bad}");
            assert_eq!(w.len(), 1, "{bad}");
            assert_eq!(w[0].variable, "D");
            assert!(w[0].message.contains(&format!("{bad:?}")), "{}", w[0]);
        }
        let (v, w) = with(&[("T", "0")], |e| e.timeout_ms("T", d));
        assert_eq!(v, Duration::from_millis(2_147_483_647), "0 is no limit");
        assert!(w.is_empty());
        let (v, w) = with(&[("P", "0")], |e| e.positive("P", 7));
        assert_eq!((v, w.len()), (7, 1));
        assert_eq!(with(&[("P", "9")], |e| e.positive("P", 7)).0, 9);
    }

    #[test]
    fn key_value_lists_decode_and_never_show_a_value() {
        let (v, w) = with(
            &[("H", "api-key=s%20cret , x-b=1,,bad,=v,k=%zz, k2=%E2%9C%93")],
            |e| e.key_values("H"),
        );
        assert_eq!(
            v,
            [
                ("api-key".to_string(), "s cret".to_string()),
                ("x-b".into(), "1".into()),
                ("k2".into(), "\u{2713}".into())
            ]
        );
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w.iter()
                .all(|w| !w.message.contains("cret") && !w.message.contains("zz"))
        );
        assert!(w[0].to_string().starts_with("H: entry 4 "), "{}", w[0]);
    }

    #[test]
    fn quotes_are_cut() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert!(quote(&"x".repeat(100)).ends_with("\"..."));
    }
}
