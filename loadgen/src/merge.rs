//! `loadgen merge A.hlog B.hlog …` and `loadgen report FILE.hlog`: rebuild one exact
//! [`Summary`] from interval logs ([`crate::report::hlog::summarize`]: by absolute time, histograms
//! added, never percentiles averaged), then judge and render it with the same code as a live
//! run (`Report::build`, `verdict`, `report::{text, json, hgrm, html}`), so merged runs get the
//! same SLO gates, baseline comparison, exit codes and reports.
//!
//! [`ReportFiles`] (`--hgrm`, `--html`) is shared by `run`, `merge` and `report`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::RunArgs;
use crate::config::{RunConfig, Stop};
use crate::exit;
use crate::recorder::{IntervalSink, Summary};
use crate::report::hlog::{HlogFile, HlogMeta, HlogWriter, summarize};
use crate::report::{Baseline, Report, RunMeta, hgrm, html, json};
use crate::slo::{Slo, parse_fraction};

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

/// For `run`: checks `--json`/`--hgrm`/`--html`/`--hlog` paths and opens the interval log,
/// whose writer streams each second during the run. Errors are usage errors (exit 64), so a
/// typo in a path never costs a whole run.
pub fn run_outputs(
    args: &RunArgs,
    cfg: &RunConfig,
) -> Result<Option<Box<dyn IntervalSink>>, String> {
    args.files.check()?;
    if let Some(j) = args.json.as_deref().filter(|j| *j != "-") {
        check_output("--json", Path::new(j))?;
    }
    let Some(path) = &args.hlog else {
        return Ok(None);
    };
    check_output("--hlog", path)?;
    let meta = HlogMeta {
        generator: cfg.generator_id.clone(),
        url: Some(cfg.label.clone()),
        target_rate: cfg.rate(),
        window: match cfg.stop {
            Stop::Duration(d) => Some(d),
            Stop::Requests(_) => None,
        },
    };
    let writer = HlogWriter::create(path, meta).map_err(|e| e.to_string())?;
    Ok(Some(Box::new(writer)))
}

/// Judging and output flags shared by `merge` and `report`.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// SLO gate, repeatable, as for `run`: p99<250ms, error_rate<0.5%, rps>=950, status_5xx==0, …
    #[arg(long = "slo", env = "LOADGEN_SLO", value_delimiter = ',')]
    pub slo: Vec<String>,

    /// An earlier run's JSON report to compare against.
    #[arg(long, env = "LOADGEN_BASELINE")]
    pub baseline: Option<PathBuf>,

    /// Largest tolerated regression against --baseline, e.g. 10%.
    #[arg(long, env = "LOADGEN_MAX_REGRESSION", default_value = "10%")]
    pub max_regression: String,

    /// Write the JSON report to this file (`-` for stdout, which then carries only the JSON).
    #[arg(long, env = "LOADGEN_JSON")]
    pub json: Option<String>,

    /// Report files.
    #[command(flatten)]
    pub files: ReportFiles,
}

/// Flags of `loadgen merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Interval logs written by `loadgen run --hlog`, one per generator (at least one).
    #[arg(required = true, value_name = "HLOG")]
    pub logs: Vec<PathBuf>,

    /// Gates and outputs.
    #[command(flatten)]
    pub judge: JudgeArgs,
}

/// Flags of `loadgen report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// An interval log written by `loadgen run --hlog` (or by `merge`'s inputs).
    #[arg(value_name = "HLOG")]
    pub log: PathBuf,

    /// Gates and outputs.
    #[command(flatten)]
    pub judge: JudgeArgs,
}

/// `loadgen merge`: returns the exit code.
pub fn merge_command(args: &MergeArgs) -> u8 {
    judge_logs(&args.logs, &args.judge)
}

/// `loadgen report`: returns the exit code.
pub fn report_command(args: &ReportArgs) -> u8 {
    judge_logs(std::slice::from_ref(&args.log), &args.judge)
}

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("loadgen: {msg}");
    exit::USAGE
}

fn judge_logs(paths: &[PathBuf], args: &JudgeArgs) -> u8 {
    // Validate everything the user typed before reading anything large.
    let slos: Vec<Slo> = match args.slo.iter().map(|s| s.parse::<Slo>()).collect() {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let max_regression = match parse_fraction(&args.max_regression) {
        Ok(m) => m,
        Err(e) => return usage(format!("--max-regression {e}")),
    };
    let baseline = match &args.baseline {
        None => None,
        Some(p) => match json::read(p) {
            Ok(report) => Some(Baseline {
                source: p.display().to_string(),
                report,
                max_regression,
            }),
            Err(e) => return usage(format!("--baseline: {e}")),
        },
    };
    if let Err(e) = args.files.check() {
        return usage(e);
    }
    if let Some(j) = args.json.as_deref().filter(|j| *j != "-")
        && let Err(e) = check_output("--json", Path::new(j))
    {
        return usage(e);
    }

    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        match HlogFile::read(p) {
            Ok(f) => files.push(f),
            Err(e) => return usage(e),
        }
    }
    let summary = match summarize(&files) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let meta = merged_meta(&files, &summary);
    let report = Report::build(&summary, &meta, &slos, baseline.as_ref());

    let text = crate::report::text::render(&report);
    let to_stdout = args.json.as_deref() != Some("-");
    let _ = if to_stdout {
        std::io::stdout().write_all(text.as_bytes())
    } else {
        std::io::stderr().write_all(text.as_bytes())
    };
    if let Some(dest) = &args.json
        && let Err(e) = json::write(&report, dest)
    {
        eprintln!("loadgen: writing the JSON report to `{dest}` failed: {e}");
        return exit::FAILURE;
    }
    if let Err(e) = args.files.write(&report, &summary) {
        eprintln!("loadgen: {e}");
        return exit::FAILURE;
    }
    report.verdict.exit_code()
}

/// What the logs' headers say about the merged run.
pub fn merged_meta(files: &[HlogFile], summary: &Summary) -> RunMeta {
    let urls: Vec<&str> = files.iter().filter_map(|f| f.meta.url.as_deref()).collect();
    let url = match urls.first() {
        Some(u) if urls.len() == files.len() && urls.iter().all(|x| x == u) => (*u).to_string(),
        _ => files
            .iter()
            .map(|f| f.path.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
    };
    // Open model on every generator: the target is the sum of theirs.
    let target_rate = files
        .iter()
        .map(|f| f.meta.target_rate)
        .sum::<Option<f64>>();
    // Requests were sent within each generator's window; completions may trail by up to the
    // timeout, so the union of windows (not the last completion) is the rate's denominator.
    let window = files
        .iter()
        .map(|f| f.meta.window.map(|w| (f.start, f.start + w)))
        .collect::<Option<Vec<_>>>()
        .and_then(|spans| {
            let from = spans.iter().map(|s| s.0).min()?;
            let to = spans.iter().map(|s| s.1).max()?;
            Some(to.saturating_sub(from))
        })
        .filter(|w| !w.is_zero());
    let span = window.unwrap_or(summary.duration);
    let achieved_rate = if span.is_zero() {
        0.0
    } else {
        summary.total as f64 / span.as_secs_f64()
    };
    RunMeta {
        url,
        model: "merged".into(),
        connections: None,
        target_rate,
        achieved_rate,
        duration: span,
        generator_id: None,
        self_check: None,
    }
}
