//! Log setup: `tracing` to stderr (stdout stays free for reports), JSON lines or text, level
//! from `RUST_LOG` (default `info`). Lines are formatted on the logging thread ([`log_json`] for
//! JSON) and written to stderr in batches by a writer thread ([`log_writer`]), so that a request
//! never waits for a write system call; the returned [`LogGuard`] flushes them at exit.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub use crate::http::log_writer::LogGuard;

use crate::config::LogFormat;
use crate::http::{log_json, log_writer};

/// Installs the global subscriber; a second call (e.g. in tests) leaves the first in place.
/// Keep the guard until the end of `main`: dropping it writes out every buffered line.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = log_writer::buffered_stderr();
    // Colour only for a terminal (text format): log drivers and files get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer.clone());
    match format {
        LogFormat::Json => {
            let direct = writer.clone();
            if builder.event_format(log_json::JsonLines).try_init().is_ok() {
                log_json::enable_direct(direct);
            }
        }
        // Already installed is fine: the first subscriber keeps serving.
        LogFormat::Text => drop(builder.try_init()),
    }
    guard
}
