//! Where the errors came from: failures by kind plus answers by status class
//! ([`ErrorsByKind`]), and one row per entry of a `--targets` mix ([`TargetRow`]: its status
//! counts, error kinds and percentiles), so that a report shows which entry got the 400s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::recorder::{ErrorKind, Outcome, Summary, TargetStats};
use crate::report::{Latency, LatencyPair};

/// Errors counted by kind: failures without a complete response by why they failed, and
/// complete exchanges by their status class. They add up to `requests.errors +
/// requests.timeouts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorsByKind {
    /// The target refused the connection.
    pub refused: u64,
    /// The connection was reset or closed before a response began.
    pub reset: u64,
    /// No complete response within `--timeout`.
    pub timeout: u64,
    /// The TLS handshake or a TLS record failed.
    pub tls: u64,
    /// A response that is not valid HTTP or whose framing broke (counted as no status).
    pub malformed: u64,
    /// Other connect or I/O errors, and statuses outside 200..=599.
    pub other: u64,
    /// Complete answers with a 4xx status (429 included).
    pub http_4xx: u64,
    /// Complete answers with a 5xx status.
    pub http_5xx: u64,
}

impl ErrorsByKind {
    /// From failures per [`ErrorKind`] and the 4xx and 5xx answers.
    pub fn new(kinds: &[u64; 6], http_4xx: u64, http_5xx: u64) -> ErrorsByKind {
        let k = |kind: ErrorKind| kinds[kind.index()];
        ErrorsByKind {
            refused: k(ErrorKind::Refused),
            reset: k(ErrorKind::Reset),
            timeout: k(ErrorKind::Timeout),
            tls: k(ErrorKind::Tls),
            malformed: k(ErrorKind::Malformed),
            other: k(ErrorKind::Other),
            http_4xx,
            http_5xx,
        }
    }

    /// The errors of a whole run: 4xx and 5xx from the outcome classes (exact also for logs
    /// whose status codes are unknown).
    pub fn of(summary: &Summary) -> ErrorsByKind {
        ErrorsByKind::new(
            &summary.error_kinds,
            summary.count(Outcome::ClientError) + summary.count(Outcome::RateLimited),
            summary.count(Outcome::ServerError),
        )
    }

    /// `(name, count)` in report order: the failure kinds, then `http_4xx`, `http_5xx`.
    pub fn named(&self) -> [(&'static str, u64); 8] {
        [
            ("refused", self.refused),
            ("reset", self.reset),
            ("timeout", self.timeout),
            ("tls", self.tls),
            ("malformed", self.malformed),
            ("other", self.other),
            ("http_4xx", self.http_4xx),
            ("http_5xx", self.http_5xx),
        ]
    }

    /// Every error counted.
    pub fn total(&self) -> u64 {
        self.named().iter().map(|(_, n)| n).sum()
    }

    /// The non-zero kinds as `name n`, joined by two spaces; `none` when there are none.
    pub fn brief(&self) -> String {
        let parts: Vec<String> = self
            .named()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join("  ")
        }
    }
}

/// One entry of a `--targets` mix (or, for a mix of more entries than loadgen keeps rows
/// for, the rest of them together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    /// Position of the (first) entry in the targets file, from 0.
    pub index: usize,
    /// Entries in this row: 1, or more for the row holding the rest of a large mix.
    pub entries: usize,
    /// Method and path of the entry (`POST /api/v1/sum`).
    pub label: String,
    /// Measured requests of this entry.
    pub requests: u64,
    /// Share of them that were errors or timeouts.
    pub error_rate: f64,
    /// Complete exchanges per status code.
    pub status_counts: BTreeMap<String, u64>,
    /// Its errors by kind.
    pub errors_by_kind: ErrorsByKind,
    /// Its latency, ms (two significant digits: within 1 %).
    pub latency_ms: LatencyPair,
}

impl TargetRow {
    /// The row of one entry's statistics.
    pub fn of(t: &TargetStats) -> TargetRow {
        let class = |first: u8| -> u64 {
            t.status_counts
                .iter()
                .filter(|(k, _)| k.len() == 3 && k.as_bytes()[0] == first)
                .map(|(_, n)| n)
                .sum()
        };
        let errors_by_kind = ErrorsByKind::new(&t.error_kinds, class(b'4'), class(b'5'));
        let requests = t.total();
        TargetRow {
            index: t.index,
            entries: t.entries,
            label: t.label.clone(),
            requests,
            error_rate: if requests == 0 {
                0.0
            } else {
                errors_by_kind.total() as f64 / requests as f64
            },
            status_counts: t.status_counts.clone(),
            errors_by_kind,
            latency_ms: LatencyPair {
                corrected: Latency::of(&t.corrected),
                uncorrected: Latency::of(&t.uncorrected),
            },
        }
    }

    /// `#3 POST /api/v1/sum`, or `#31.. entries 31 to 99 together` for a shared row.
    pub fn name(&self) -> String {
        if self.entries > 1 {
            format!("#{}.. {}", self.index, self.label)
        } else {
            format!("#{} {}", self.index, self.label)
        }
    }
}
