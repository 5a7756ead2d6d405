//! The declared policy under test: `--limit N/second|minute|hour`.

use std::fmt;
use std::time::Duration;

/// Largest limit verified by exhausting it (each unit is one real request).
pub const MAX_VERIFIABLE_LIMIT: u64 = 10_000;

/// A fixed, calendar-aligned window as Kong names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// One second.
    Second,
    /// One minute.
    Minute,
    /// One hour.
    Hour,
}

impl Window {
    /// Kong's name, also the suffix of `X-RateLimit-*-<Window>` (lower case).
    pub fn name(self) -> &'static str {
        match self {
            Window::Second => "second",
            Window::Minute => "minute",
            Window::Hour => "hour",
        }
    }

    /// Length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Window::Second => 1,
            Window::Minute => 60,
            Window::Hour => 3600,
        }
    }

    /// Length.
    pub fn duration(self) -> Duration {
        Duration::from_secs(self.seconds().unsigned_abs())
    }
}

/// The limit the gateway is expected to enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// Requests per window.
    pub limit: u64,
    /// The window.
    pub window: Window,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, self.window.name())
    }
}

/// Why `--limit` is unusable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LimitError {
    /// Not `N/window`.
    #[error("--limit {0:?}: write N/second, N/minute or N/hour, e.g. 10/minute")]
    Syntax(String),
    /// Zero or too large to verify.
    #[error(
        "--limit {0:?}: N must be between 1 and {MAX_VERIFIABLE_LIMIT} (each allowed request is sent)"
    )]
    Range(String),
}

impl std::str::FromStr for Expected {
    type Err = LimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, w) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| LimitError::Syntax(s.to_owned()))?;
        let window = match w.trim() {
            "second" => Window::Second,
            "minute" => Window::Minute,
            "hour" => Window::Hour,
            _ => return Err(LimitError::Syntax(s.to_owned())),
        };
        let limit: u64 = n
            .trim()
            .parse()
            .map_err(|_| LimitError::Syntax(s.to_owned()))?;
        if limit == 0 || limit > MAX_VERIFIABLE_LIMIT {
            return Err(LimitError::Range(s.to_owned()));
        }
        Ok(Expected { limit, window })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_windows_and_refuses_the_rest() {
        assert_eq!(
            "10/minute".parse::<Expected>(),
            Ok(Expected {
                limit: 10,
                window: Window::Minute
            })
        );
        assert_eq!(
            "5/second".parse::<Expected>().map(|e| e.window),
            Ok(Window::Second)
        );
        assert_eq!("3000/hour".parse::<Expected>().map(|e| e.limit), Ok(3000));
        for bad in [
            "",
            "10",
            "10/day",
            "x/minute",
            "-1/minute",
            "1.5/minute",
            "10/minute/x",
            "/minute",
        ] {
            assert!(
                matches!(bad.parse::<Expected>(), Err(LimitError::Syntax(_))),
                "{bad}"
            );
        }
        for bad in ["0/minute", "10001/minute", "99999999999999999999/minute"] {
            assert!(bad.parse::<Expected>().is_err(), "{bad}");
        }
    }
}
