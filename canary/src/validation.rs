//! What checking a configuration reports, and the field parsers that [`crate::config`] and
//! [`crate::probe_config`] share: each parser records a [`FieldError`] naming the field instead of
//! stopping, so that every invalid field is reported at once. Nothing here knows the config's
//! layout, so every config module may depend on this one and it depends on none of them.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// One invalid field, or a syntax error of the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (file key, e.g. `timeout` or `probes[1].expect.status`); empty for a TOML
    /// syntax error, which belongs to no field.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
    /// Where the bad value came from, when known.
    pub origin: Option<Origin>,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        let message = &self.message;
        match &self.origin {
            Some(Origin::File { path, position }) => {
                write!(f, "{path}:")?;
                if let Some(p) = position {
                    write!(f, "{}:{}:", p.line, p.column)?;
                }
                if field.is_empty() {
                    write!(f, " {message}")
                } else {
                    write!(f, " `{field}`: {message}")
                }
            }
            Some(Origin::Setting { flag, env }) => {
                write!(f, "`{field}` (from {flag} or {env}): {message}")
            }
            None => write!(f, "`{field}`: {message}"),
        }
    }
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file; at this position when the problem is about a key the file holds.
    File {
        /// The file, as given.
        path: String,
        /// Line and column of the key, the value or the syntax error.
        position: Option<Position>,
    },
    /// A flag or its environment variable (which of the two, clap does not tell).
    Setting {
        /// The flag, e.g. `--timeout`.
        flag: &'static str,
        /// Its environment variable, e.g. `CANARY_TIMEOUT`.
        env: &'static str,
    },
}

/// A place in a text file, both counted from 1 (the column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

/// Sorts problems as a reader fixes them: down the config file, then the file's missing keys,
/// then flags and environment variables, then the rest; otherwise in the order found.
pub(crate) fn in_reading_order(problems: &mut [FieldError]) {
    problems.sort_by_key(|p| match &p.origin {
        Some(Origin::File {
            position: Some(at), ..
        }) => (0, at.line, at.column),
        Some(Origin::File { position: None, .. }) => (1, 0, 0),
        Some(Origin::Setting { .. }) => (2, 0, 0),
        None => (3, 0, 0),
    });
}

/// Most problems listed; past a few dozen the rest says nothing new.
const MAX_LISTED: usize = 50;

fn list(problems: &[FieldError]) -> String {
    let mut out: Vec<String> = problems
        .iter()
        .take(MAX_LISTED)
        .map(ToString::to_string)
        .collect();
    if problems.len() > MAX_LISTED {
        out.push(format!("(and {} more)", problems.len() - MAX_LISTED));
    }
    out.join("\n  ")
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
    /// The file cannot be parsed at all (too large, not text).
    #[error("config file {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// One or more fields are invalid (or the file has syntax errors); one line each.
    #[error("invalid configuration:\n  {}", list(.0))]
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
            origin: None,
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
