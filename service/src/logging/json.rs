//! The JSON log line format, written straight into tracing's line buffer: the same keys, order
//! and value encoding as `tracing_subscriber`'s flattened JSON format (`timestamp`, `level`,
//! the event's fields in order, `target`), without building a serde map per event.
//!
//! Values are encoded as serde_json encodes them: strings with its escapes, integers and
//! booleans as JSON literals, floats via serde_json (non-finite ones as `null`), everything
//! else through its `Debug` form as a string. Events bridged from the `log` crate carry their
//! real target in a `log.target` field; it is used as `target` and the other `log.*` fields
//! are left out, as the stock formatter does. The service creates no spans, so no span list
//! is written.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON line formatter.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

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
        let meta = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        crate::clock::write_now_rfc3339_micros(&mut writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_char('"')?;
        let mut fields = FieldWriter {
            out: &mut writer,
            state: Ok(()),
            log_target: None,
        };
        event.record(&mut fields);
        let FieldWriter {
            state, log_target, ..
        } = fields;
        state?;
        writer.write_str(",\"target\":")?;
        write_json_str(&mut writer, log_target.as_deref().unwrap_or(meta.target()))?;
        writer.write_str("}\n")
    }
}

/// Writes each field as `,"name":value`.
struct FieldWriter<'a, 'w> {
    out: &'a mut Writer<'w>,
    state: fmt::Result,
    log_target: Option<String>,
}

impl FieldWriter<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.out.write_char(',')?;
        write_json_str(self.out, field.name())?;
        self.out.write_char(':')
    }

    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.state.is_err() || field.name().starts_with("log.") {
            return;
        }
        self.state = self.key(field).and_then(|()| value(self.out));
    }
}

impl Visit for FieldWriter<'_, '_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, |w| write_json_f64(w, value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "log.target" {
            self.log_target = Some(value.to_owned());
        }
        self.entry(field, |w| write_json_str(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |w| {
            w.write_char('"')?;
            write!(Escaper(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// A float as serde_json writes it (shortest round-trip form; `null` if not finite).
fn write_json_f64(w: &mut impl Write, value: f64) -> fmt::Result {
    let mut buf = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    serde_json::to_writer(&mut cursor, &value).map_err(|_| fmt::Error)?;
    let len = usize::try_from(cursor.position()).map_err(|_| fmt::Error)?;
    let text = buf.get(..len).ok_or(fmt::Error)?;
    w.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
}

/// `value` as a quoted JSON string with serde_json's escapes.
pub fn write_json_str(w: &mut impl Write, value: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaper(w).write_str(value)?;
    w.write_char('"')
}

/// Escapes what passes through it as the inside of a JSON string, as serde_json does: `"`,
/// `\`, the short forms `\b \f \n \r \t`, other control characters as `\u00xx`.
struct Escaper<'a, W: Write>(&'a mut W);

impl<W: Write> Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = s.as_bytes();
        // Most values (ids, routes, addresses) need no escape: one scan, one write.
        if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
            return self.0.write_str(s);
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                0x08 => "\\b",
                0x0c => "\\f",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x00..=0x1f => "",
                _ => continue,
            };
            // `i` is at an ASCII byte, so both slices end on character boundaries.
            self.0.write_str(s.get(start..i).ok_or(fmt::Error)?)?;
            if short.is_empty() {
                let hex = |n: u8| char::from(HEX[usize::from(n & 0xf)]);
                self.0.write_str("\\u00")?;
                self.0.write_char(hex(b >> 4))?;
                self.0.write_char(hex(b))?;
            } else {
                self.0.write_str(short)?;
            }
            start = i + 1;
        }
        self.0.write_str(s.get(start..).ok_or(fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀 \u{2028}\u{7f}\"\\end");
        for s in [all.as_str(), "", "plain", "a\"b\\\\c", "\u{1}x\u{1f}"] {
            let mut mine = String::new();
            write_json_str(&mut mine, s).expect("writing to a String");
            assert_eq!(mine, serde_json::to_string(s).expect("serializes"), "{s:?}");
        }
    }

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
    fn floats_are_written_as_serde_json_writes_them() {
        for x in [
            0.0,
            -0.0,
            1.0,
            0.062246,
            1.83558,
            1e300,
            1e-7,
            123456789.125,
            f64::MAX,
        ] {
            let mut mine = String::new();
            write_json_f64(&mut mine, x).expect("writing to a String");
            assert_eq!(mine, serde_json::to_string(&x).expect("serializes"), "{x}");
        }
        for x in [f64::NAN, f64::INFINITY] {
            let mut mine = String::new();
            write_json_f64(&mut mine, x).expect("writing to a String");
            assert_eq!(mine, "null");
        }
    }
}
