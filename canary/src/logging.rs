//! Logging on stderr (stdout carries reports and EMF): JSON when `LOG_FORMAT=json` (deployed),
//! text otherwise; level from `RUST_LOG` (default `info`, the AWS SDK's internals at `warn`).
//! Every event, whoever logs it (the canary, hyper, the AWS SDK) and at every level, is written
//! through [`crate::secret::redact`]: a key a target echoed never reaches the log.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "info,aws_config=warn,aws_smithy_runtime=warn,aws_runtime=warn,hyper_util=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr);
    let _ = if std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json")) {
        builder.json().with_current_span(false).try_init()
    } else {
        use std::io::IsTerminal;
        builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}

/// Hands the formatter one buffer per event, written redacted to stderr when dropped.
struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = EventBuffer;

    fn make_writer(&'a self) -> EventBuffer {
        EventBuffer(Vec::new())
    }
}

/// One formatted event: redacted as a whole, so that no secret is split between two writes.
struct EventBuffer(Vec<u8>);

impl Write for EventBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let text = String::from_utf8_lossy(&self.0);
            // Logging has nowhere to report its own failure.
            let _ = std::io::stderr().write_all(crate::secret::redact(&text).as_bytes());
        }
    }
}
