//! The API key, kept out of every log, report, EMF record, error and debug print: it is read
//! from an environment variable (never a flag, which `ps` would show) and only ever leaves as a
//! request header.
//!
//! A target may echo the key back (a misbehaving gateway, a compromised upstream), in a header
//! or a body, and the canary quotes what it received in its failure messages. So every
//! [`Secret`] is registered, when made, in a process-wide mask, and everything the canary
//! writes passes through [`redact`] first: the stdout and EMF sinks, the log writer on stderr,
//! the error `main` prints. The mask finds the key in every spelling those outputs produce
//! (`spellings`: raw, Rust `{:?}`, JSON, `HeaderValue`'s `{:?}`, percent-encoded, nested), not
//! only as typed. Messages quote untrusted text with [`quoted`], which redacts before escaping.

mod spellings;

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use spellings::Pattern;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The spellings of every secret made in this process.
static MASK: RwLock<Vec<(Arc<str>, Arc<Pattern>)>> = RwLock::new(Vec::new());

/// A secret string whose `Debug` and `Display` print `[redacted]`, and which every output of
/// the process redacts from then on.
#[derive(Clone)]
pub struct Secret {
    value: Arc<str>,
    pattern: Option<Arc<Pattern>>,
}

impl Secret {
    /// Wraps a secret value and adds it to the process-wide mask (an empty value masks nothing).
    pub fn new(value: String) -> Self {
        let value: Arc<str> = value.into();
        if value.is_empty() {
            return Secret {
                value,
                pattern: None,
            };
        }
        let mut mask = MASK.write().unwrap_or_else(PoisonError::into_inner);
        let pattern = match mask.iter().find(|(v, _)| *v == value) {
            Some((_, p)) => p.clone(),
            None => {
                let p = Arc::new(Pattern::new(&value));
                mask.push((value.clone(), p.clone()));
                p
            }
        };
        Secret {
            value,
            pattern: Some(pattern),
        }
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Replaces every occurrence of the secret in `text`, in any spelling, for messages built
    /// from responses.
    pub fn scrub(&self, text: &str) -> String {
        match &self.pattern {
            Some(p) => p.replace(text, REDACTED).into_owned(),
            None => text.to_owned(),
        }
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// `text` with every secret made in this process replaced by `[redacted]`, in any spelling.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mask = MASK.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for (_, pattern) in mask.iter() {
        if let Cow::Owned(replaced) = pattern.replace(&out, REDACTED) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// Untrusted text (a header value, a body field) for a message: redacted first, then quoted
/// with Rust's escapes, so that neither a secret nor a control character reaches a log line.
pub fn quoted(text: &str) -> String {
    format!("{:?}", redact(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2".into());
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
        assert_eq!(s.scrub("key hunter2 echoed"), "key [redacted] echoed");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn escaped_echoes_are_scrubbed_and_masked_everywhere() {
        let key = "Sec\"ret\\Key42";
        let s = Secret::new(key.into());
        // The issue's case: the key Debug-printed in a failure message.
        let message = format!("rate-limit header `ratelimit-limit` is {key:?}");
        assert_eq!(
            s.scrub(&message),
            "rate-limit header `ratelimit-limit` is \"[redacted]\""
        );
        // Anything written after the secret was made is masked, as the log and sinks do.
        let json = serde_json::to_string(&message).unwrap();
        assert!(!redact(&json).contains("Key42"), "{}", redact(&json));
        assert_eq!(quoted(key), "\"[redacted]\"");
        assert_eq!(quoted("a \"b\""), r#""a \"b\"""#);
        assert_eq!(Secret::new(String::new()).scrub("x"), "x");
    }
}
