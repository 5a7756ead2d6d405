//! The JSON report: written to a file or stdout, and read back as a `--baseline`. Its shape is
//! documented by `loadgen/schema/report.schema.json` (a test validates reports against it).

use std::io::Write;
use std::path::Path;

use crate::report::Report;

/// The JSON Schema of the report, as shipped in the repository.
pub const SCHEMA: &str = include_str!("../../schema/report.schema.json");

/// Writes `r` as pretty JSON to `dest`: a file path, or `-` for stdout.
pub fn write(r: &Report, dest: &str) -> std::io::Result<()> {
    write_pretty(r, dest)
}

/// Writes `value` as pretty JSON and a newline to `dest`: a file path, or `-` for stdout. The
/// capacity report is written the same way.
pub(crate) fn write_pretty<T: serde::Serialize + ?Sized>(
    value: &T,
    dest: &str,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    if dest == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        out.flush()
    } else {
        std::fs::write(Path::new(dest), text + "\n")
    }
}

/// Largest report read back (a report is a few KiB, its per-second series included).
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// Reads a report written by [`write()`].
pub fn read(path: &Path) -> Result<Report, String> {
    let bytes = crate::input::read_capped(path, MAX_REPORT_BYTES, true)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("`{}` is not a loadgen JSON report: {e}", path.display()))
}
