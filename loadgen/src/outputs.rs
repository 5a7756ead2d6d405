//! The files and streams a judged report goes to: the text summary (stdout, or stderr when the
//! JSON report takes stdout), `--json`, and the [`ReportFiles`] (`--hgrm`, `--html`) that `run`,
//! `merge` and `report` share. Every path is checked before any work ([`ReportFiles::check`],
//! [`check_json`], [`check_output`]), so a typo is a usage error rather than a lost run.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::recorder::Summary;
use crate::report::{Report, hgrm, html, json, text};

/// Report files every subcommand can write besides the text summary and `--json`.
#[derive(Debug, Clone, Default, Args)]
pub struct ReportFiles {
    /// Write the corrected latency distribution in HdrHistogram's percentile format (`.hgrm`,
    /// values in ms), the format HdrHistogram's online plotter reads.
    #[arg(long, env = "LOADGEN_HGRM", value_name = "FILE")]
    pub hgrm: Option<PathBuf>,

    /// Write one self-contained HTML report with plots (latency by percentile, latency and
    /// throughput over time, status classes over time, SLO table, parameters and verdict).
    #[arg(long, env = "LOADGEN_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,
}

impl ReportFiles {
    /// Checks, before any work, that each file can be created where asked (an existing
    /// directory, not a directory itself), so a typo fails now rather than after the run.
    pub fn check(&self) -> Result<(), String> {
        for (flag, path) in [("--hgrm", &self.hgrm), ("--html", &self.html)] {
            if let Some(p) = path {
                check_output(flag, p)?;
            }
        }
        Ok(())
    }

    /// Writes the requested files; the error names the file.
    pub fn write(&self, report: &Report, summary: &Summary) -> Result<(), String> {
        if let Some(p) = &self.hgrm {
            hgrm::write(p, &summary.corrected)
                .map_err(|e| format!("writing --hgrm `{}` failed: {e}", p.display()))?;
        }
        if let Some(p) = &self.html {
            html::write(p, report, summary)
                .map_err(|e| format!("writing --html `{}` failed: {e}", p.display()))?;
        }
        Ok(())
    }
}

/// Usage check of one output path.
pub fn check_output(flag: &str, p: &Path) -> Result<(), String> {
    if p.as_os_str().is_empty() {
        return Err(format!("{flag}: empty file name"));
    }
    if p.is_dir() {
        return Err(format!(
            "{flag} `{}` is a directory; give a file name",
            p.display()
        ));
    }
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(format!(
            "{flag} `{}`: directory `{}` does not exist",
            p.display(),
            parent.display()
        ));
    }
    Ok(())
}

/// Usage check of a `--json` destination: a file path, or `-` for stdout (always writable).
pub fn check_json(dest: Option<&str>) -> Result<(), String> {
    match dest.filter(|j| *j != "-") {
        Some(j) => check_output("--json", Path::new(j)),
        None => Ok(()),
    }
}

/// Prints the text summary (on stderr when the JSON report goes to stdout, which then carries
/// only the JSON), writes the JSON report to `json_dest` and the requested `files`. The error
/// says which output failed.
pub fn write_all(
    report: &Report,
    summary: &Summary,
    json_dest: Option<&str>,
    files: &ReportFiles,
) -> Result<(), String> {
    let text = text::render(report);
    // A closed stdout or stderr (`| head`) must not fail the run: the JSON and files still count.
    let _ = if json_dest == Some("-") {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
    if let Some(dest) = json_dest {
        json::write(report, dest)
            .map_err(|e| format!("writing the JSON report to `{dest}` failed: {e}"))?;
    }
    files.write(report, summary)
}
