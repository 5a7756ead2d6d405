//! The verdict as a text table (stdout) and as JSON (`--json FILE`, `-` for stdout).

use serde::Serialize;

use super::checks::{Check, Status};
use super::expected::Expected;
use super::scenario::Transcript;

/// The whole result.
#[derive(Debug, Serialize)]
pub struct RatelimitReport<'a> {
    /// Target URL.
    pub url: String,
    /// Declared limit, e.g. `10/minute`.
    pub expected: String,
    /// Key header name.
    pub key_header: &'a str,
    /// `PASS` when no check failed.
    pub verdict: Status,
    /// Every check.
    pub checks: &'a [Check],
    /// Every request, in order (keys are never included, only which one was used).
    pub requests: Vec<&'a super::http::Observation>,
}

impl<'a> RatelimitReport<'a> {
    /// Assembles the report.
    pub fn new(
        url: String,
        expected: &Expected,
        key_header: &'a str,
        checks: &'a [Check],
        transcript: &'a Transcript,
    ) -> Self {
        let failed = checks.iter().any(|c| c.status == Status::Fail);
        RatelimitReport {
            url,
            expected: expected.to_string(),
            key_header,
            verdict: if failed { Status::Fail } else { Status::Pass },
            checks,
            requests: transcript.all(),
        }
    }

    /// The text table.
    pub fn text(&self) -> String {
        let width = self
            .checks
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut out = format!(
            "loadgen ratelimit {} (expected {}, key header {})\n\n{:<width$}  RESULT  EVIDENCE\n",
            self.url, self.expected, self.key_header, "CHECK"
        );
        for c in self.checks {
            let status = match c.status {
                Status::Pass => "PASS",
                Status::Fail => "FAIL",
                Status::Skip => "SKIP",
            };
            out.push_str(&format!(
                "{:<width$}  {status:<6}  {}\n",
                c.name, c.evidence
            ));
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name)
            .collect();
        out.push_str(&format!(
            "\nverdict: {} ({} passed, {} failed, {} skipped; {} requests){}\n",
            if failed.is_empty() { "PASS" } else { "FAIL" },
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Skip),
            self.requests.len(),
            if failed.is_empty() {
                String::new()
            } else {
                format!("\nfailed: {}", failed.join(", "))
            }
        ));
        out
    }

    /// The JSON document.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
