//! What checking a configuration reports, and the field parsers that [`crate::config`] and
//! [`crate::probe_config`] share: each parser records a [`FieldError`] naming the field instead of
//! stopping, so that every invalid field is reported at once. Nothing here knows the config's
//! layout, so every config module may depend on this one and it depends on none of them.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (file key, e.g. `timeout` or `probes[1].expect.status`).
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.field, self.message)
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped fields.
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (names the field and line).
        message: String,
    },
    /// One or more fields are invalid.
    #[error("invalid configuration:\n  {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Fields(Vec<FieldError>),
}

/// Collects field errors while resolving.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}

/// Parses a humantime duration; `allow_zero` permits `0s`.
pub(crate) fn duration(
    field: &str,
    text: &str,
    allow_zero: bool,
    errors: &mut Errors,
) -> Option<Duration> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d.is_zero() && !allow_zero => {
            errors.push(field, "must be above zero");
            None
        }
        Ok(d) if d > Duration::from_secs(24 * 3600) => {
            errors.push(field, format!("{text:?} is longer than a day"));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(
                field,
                format!("{text:?} is not a duration such as 5s or 250ms ({e})"),
            );
            None
        }
    }
}

/// Parses an integer within `range`.
pub(crate) fn integer(
    field: &str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
    errors: &mut Errors,
) -> Option<i64> {
    if range.contains(&value) {
        Some(value)
    } else {
        errors.push(
            field,
            format!("{value} is outside {}..={}", range.start(), range.end()),
        );
        None
    }
}

/// Whether `s` is usable as a CloudWatch dimension value the canary controls.
pub(crate) fn dimension_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
