//! The JSON log line format: the same keys, order and value encoding as `tracing_subscriber`'s
//! flattened JSON format (`timestamp`, `level`, the event's fields in order, `target`), built
//! in a per-thread buffer without a serde map per event.
//!
//! Values are encoded as serde_json encodes them ([`crate::http::json_text`]): strings with its
//! escapes, integers and booleans as JSON literals, floats in shortest form (non-finite ones
//! as `null`), everything else through its `Debug` form as a string. Events bridged from the `log` crate carry their
//! real target in a `log.target` field; it is used as `target` and the other `log.*` fields
//! are left out, as the stock formatter does. The service creates no spans, so no span list
//! is written.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::io::Write as _;
use std::sync::OnceLock;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use super::log_writer::BufferedStderr;
use crate::http::json_text::{self, Escaping};

/// The JSON line formatter.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

thread_local! {
    /// The line being built: one buffer per thread, reused, so a line costs no allocation.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // The line is built in a plain `String` and handed over in one write: `Writer` puts a
        // dynamic call behind every piece, which showed in the service's benchmark.
        LINE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut line) => {
                line.clear();
                write_line(&mut line, event)?;
                writer.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
            }
            // An event logged while this thread formats another (from a `Debug` impl): rare,
            // so it gets a buffer of its own.
            Err(_) => {
                let mut line = Vec::new();
                write_line(&mut line, event)?;
                writer.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
            }
        })
    }
}

/// Appends the whole line for `event`, newline included.
fn write_line(out: &mut Vec<u8>, event: &Event<'_>) -> fmt::Result {
    let meta = event.metadata();
    out.extend_from_slice(b"{\"timestamp\":\"");
    crate::http::clock::write_now_rfc3339_micros(out);
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(meta.level().as_str().as_bytes());
    out.push(b'"');
    let mut fields = FieldWriter {
        out,
        state: Ok(()),
        log_target: None,
    };
    event.record(&mut fields);
    let FieldWriter {
        out,
        state,
        log_target,
    } = fields;
    state?;
    out.extend_from_slice(b",\"target\":");
    json_text::push_str(out, log_target.as_deref().unwrap_or(meta.target()));
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// The writer of the installed JSON subscriber, for [`write_direct`]; set by
/// [`super::init`] only when its JSON subscriber became the global one.
static DIRECT: OnceLock<BufferedStderr> = OnceLock::new();

/// Lets [`write_direct`] write to `writer`, the installed JSON subscriber's writer.
pub(crate) fn enable_direct(writer: BufferedStderr) {
    // A second subscriber is never installed, so a second call never happens.
    let _ = DIRECT.set(writer);
}

/// Writes a line straight to the installed writer: `write` appends the whole line (newline
/// included) to an empty per-thread buffer. For the one line per request
/// (`observe::AccessLine`), which writes the bytes [`JsonLines`] would write for its
/// event without the event's dispatch and field visits; the caller checks the level filter
/// first (`tracing::enabled!`). Returns `false`, writing nothing, when no JSON subscriber of
/// ours is installed (text format, or a test's own subscriber): then the caller logs through
/// tracing.
pub fn write_direct(write: impl FnOnce(&mut Vec<u8>)) -> bool {
    let Some(writer) = DIRECT.get() else {
        return false;
    };
    LINE.with(|cell| {
        let mut fresh = Vec::new();
        let mut held = cell.try_borrow_mut();
        let line = match held.as_deref_mut() {
            Ok(line) => line,
            Err(_) => &mut fresh,
        };
        line.clear();
        write(line);
        // The buffered writer never fails.
        let _ = writer.make_writer().write_all(line);
    });
    true
}

/// Appends each field as `,"name":value`.
struct FieldWriter<'a> {
    out: &'a mut Vec<u8>,
    /// The first failure of a `Debug` value, which fails the whole line.
    state: fmt::Result,
    log_target: Option<String>,
}

impl FieldWriter<'_> {
    /// Appends the key of `field` and returns the buffer for its value, unless the field is
    /// left out (`log.*`, bridged from the `log` crate) or the line already failed.
    fn key(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        if self.state.is_err() || field.name().starts_with("log.") {
            return None;
        }
        self.out.push(b',');
        json_text::push_str(self.out, field.name());
        self.out.push(b':');
        Some(self.out)
    }
}

impl Visit for FieldWriter<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if let Some(out) = self.key(field) {
            out.extend_from_slice(if value { b"true" } else { b"false" });
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if let Some(out) = self.key(field) {
            json_text::push_i64(out, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if let Some(out) = self.key(field) {
            json_text::push_u64(out, value);
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if let Some(out) = self.key(field) {
            json_text::push_f64(out, value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "log.target" {
            self.log_target = Some(value.to_owned());
        }
        if let Some(out) = self.key(field) {
            json_text::push_str(out, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if let Some(out) = self.key(field) {
            out.push(b'"');
            let written = write!(Escaping(out), "{value:?}");
            out.push(b'"');
            self.state = written;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn emit_samples() {
        let request_id = "id \"quoted\" \\ back\tslash\u{1}";
        let code: Option<&str> = None;
        tracing::info!(
            method = "POST",
            route = "/api/v1/sum",
            status = 200u16,
            latency_ms = 0.062246,
            request_id,
            client_ip = "127.0.0.1",
            code,
            "request"
        );
        tracing::error!(
            status = 500u64,
            code = Some("INTERNAL_SERVER_ERROR"),
            "request"
        );
        let drain = std::time::Duration::from_millis(1500);
        tracing::warn!(drain = ?drain, addr = %"127.0.0.1:8080", ok = true, n = -3i64, "shutdown began: é");
        tracing::info!(big = 1u128 << 100, nan = f64::NAN, "numbers");
    }

    /// Masks the timestamps, which differ by when each line was written.
    fn masked(lines: &[u8]) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(lines)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
                let ts = v["timestamp"].as_str().expect("a timestamp").to_owned();
                assert_eq!(ts.len(), 27, "{ts}");
                v["timestamp"] = "T".into();
                v
            })
            .collect()
    }

    #[test]
    fn lines_are_the_bytes_tracing_subscribers_json_format_writes() {
        let (stock, mine) = (Capture::default(), Capture::default());
        let sink = stock.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit_samples);
        let sink = mine.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit_samples);
        let (stock, mine) = (
            stock.0.lock().expect("lock").clone(),
            mine.0.lock().expect("lock").clone(),
        );
        assert_eq!(masked(&mine), masked(&stock));
        assert_eq!(masked(&mine).len(), 4);
        // Byte for byte, once the timestamps are blanked.
        let blank = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .lines()
                .map(|l| format!("{}{}", &l[..14], &l[41..]))
                .collect::<Vec<_>>()
        };
        assert_eq!(blank(&mine), blank(&stock));
    }

    #[test]
    fn direct_lines_are_the_lines_tracing_writes_for_the_same_event() {
        use crate::observe::AccessLine;
        let line = |request_id: &'static str, latency_us, status, code| AccessLine {
            method: "POST",
            route: "/api/v1/sum",
            status,
            latency_us,
            request_id: request_id.as_bytes(),
            trace_id: trace::TraceId::from_hex(b"4bf92f3577b34da6a3ce929d0e0e4736").expect("id"),
            span_id: trace::SpanId::from_hex(b"00f067aa0ba902b7").expect("id"),
            client_ip: b"::1",
            code,
            at: std::time::SystemTime::now(),
        };
        let lines = [
            line("0123456789abcdef0123456789abcdef", 62, 200, None),
            line(
                "id \"quoted\" \\ tab\t",
                12_500,
                400,
                Some("VALIDATION_ERROR"),
            ),
            line("", 0, 500, Some("INTERNAL_SERVER_ERROR")),
            line("é", 3_000_000, 200, None),
            line("x", u64::MAX, 200, None),
        ];
        let traced = Capture::default();
        let sink = traced.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLines)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || lines.iter().for_each(AccessLine::trace));
        let mut direct = Vec::new();
        for l in &lines {
            l.write_json(&mut direct);
        }
        let direct = json_text::into_string(direct);
        let traced = traced.0.lock().expect("lock").clone();
        let blank = |text: &str| {
            text.lines()
                .map(|l| format!("{}{}", &l[..14], &l[41..]))
                .collect::<Vec<_>>()
        };
        assert_eq!(blank(&direct), blank(&String::from_utf8_lossy(&traced)));
        assert_eq!(blank(&direct).len(), 5);
        assert!(
            direct.contains(r#""level":"ERROR","message":"request""#),
            "{direct}"
        );
    }
}
