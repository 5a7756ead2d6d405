//! Human-readable output: each probe's verdict with its latency and failure reasons, then every
//! metric line. For local runs and the demo, where no AWS account is at hand.

use std::fmt::Write as _;

use super::{BoxFuture, Output, PublishError, Sink};
use crate::config::SinkKind;
use crate::metrics::Datum;
use crate::probe::ProbeOutcome;

/// Writes readable lines to an [`Output`].
pub struct StdoutSink {
    namespace: String,
    out: Output,
}

impl StdoutSink {
    /// A sink writing to `out`.
    pub fn new(namespace: &str, out: Output) -> Self {
        StdoutSink {
            namespace: namespace.to_owned(),
            out,
        }
    }

    fn write(&self, text: &str) -> Result<(), PublishError> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| std::io::Error::other("stdout lock poisoned"))?;
        out.write_all(crate::secret::redact(text).as_bytes())?;
        out.flush()?;
        Ok(())
    }
}

/// Formats one datum as `metric Namespace Name{Dim=v,...} value Unit`.
pub fn format_datum(namespace: &str, d: &Datum) -> String {
    let dims: Vec<String> = d
        .dimensions
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    format!(
        "metric {namespace} {}{{{}}} {} {}",
        d.name,
        dims.join(","),
        d.value,
        d.unit.as_str()
    )
}

/// Formats a round's verdict, one line per probe and a summary line.
pub fn format_report(outcomes: &[ProbeOutcome]) -> String {
    let mut text = String::new();
    for o in outcomes {
        let latency = o.latency.map_or("-".to_owned(), |l| {
            format!("{:.1}ms", l.as_secs_f64() * 1000.0)
        });
        let _ = write!(
            text,
            "{} {:<20} status={} latency={} retries={}",
            if o.passed { "PASS" } else { "FAIL" },
            o.name,
            o.status.map_or("-".to_owned(), |s| s.to_string()),
            latency,
            o.retries
        );
        if let Some(g) = o.gateway_latency_ms {
            let _ = write!(text, " gateway={g}ms");
        }
        if let Some(u) = o.upstream_latency_ms {
            let _ = write!(text, " upstream={u}ms");
        }
        if let Some(r) = o.rate_limit_remaining {
            let _ = write!(text, " ratelimit_remaining={r}");
        }
        if let Some(a) = o.attribution {
            let _ = write!(text, " blame={}", a.as_str());
        }
        if let Some(t) = o.trace_id.filter(|_| !o.passed) {
            let _ = write!(text, " trace_id={t}");
        }
        text.push('\n');
        for f in &o.failures {
            let _ = writeln!(text, "     - {f}");
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let _ = writeln!(
        text,
        "verdict: {} ({} of {} probes passed)",
        if failed == 0 { "PASS" } else { "FAIL" },
        outcomes.len() - failed,
        outcomes.len()
    );
    text
}

impl Sink for StdoutSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Stdout
    }

    fn publish<'a>(&'a self, data: &'a [Datum]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let mut text = String::new();
            for d in data {
                text.push_str(&format_datum(&self.namespace, d));
                text.push('\n');
            }
            self.write(&text)
        })
    }

    fn report(&self, outcomes: &[ProbeOutcome]) -> Result<(), PublishError> {
        self.write(&format_report(outcomes))
    }
}
