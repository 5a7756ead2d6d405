//! Judging saved interval logs, for `merge` and `report`: rebuild one exact [`Summary`] from
//! the logs ([`summarize`]: by absolute time, histograms added, never percentiles averaged),
//! then build, print, write and judge its report with the same code as a live run
//! ([`Report::build`], [`outputs::write_all`]), so merged runs get the same SLO gates, baseline
//! comparison, exit codes and reports.

use std::path::PathBuf;

use clap::Args;

use crate::config::GateArgs;
use crate::exit;
use crate::outputs::{self, ReportFiles};
use crate::recorder::Summary;
use crate::report::hlog::{HlogFile, summarize};
use crate::report::{Baseline, Report, RunMeta, json};
use crate::slo::{Slo, parse_fraction};
use crate::slo_file;
use crate::verdict::parse_regression_floor;

/// Judging and output flags shared by `merge` and `report`.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// SLO gates, the baseline comparison and the JSON report, as for `run`.
    #[command(flatten)]
    pub gates: GateArgs,

    /// Report files.
    #[command(flatten)]
    pub files: ReportFiles,
}

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("loadgen: {msg}");
    exit::USAGE
}

/// Reads the interval logs at `paths`, rebuilds one summary from them, then reports and judges
/// it as `run` does; returns the exit code. Every flag is validated before any log is read.
pub fn judge_logs(paths: &[PathBuf], args: &JudgeArgs) -> u8 {
    // Validate everything the user typed before reading anything large.
    let mut slos: Vec<Slo> = match args
        .gates
        .slos
        .slo
        .iter()
        .map(|s| s.parse::<Slo>())
        .collect()
    {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let from_files = match slo_file::load(&args.gates.slos.slo_file) {
        Ok(g) => g,
        Err(e) => return usage(e),
    };
    let max_regression = match parse_fraction(&args.gates.max_regression) {
        Ok(m) => m,
        Err(e) => return usage(format!("--max-regression {e}")),
    };
    let regression_floor_ms = match parse_regression_floor(&args.gates.regression_floor) {
        Ok(f) => f,
        Err(e) => return usage(format!("--regression-floor {e}")),
    };
    let baseline = match &args.gates.baseline {
        None => None,
        Some(p) => match json::read(p) {
            Ok(report) => Some(Baseline {
                source: p.display().to_string(),
                report,
                max_regression,
                regression_floor_ms,
            }),
            Err(e) => return usage(format!("--baseline: {e}")),
        },
    };
    if let Err(e) = args.files.check() {
        return usage(e);
    }
    if let Err(e) = outputs::check_json(args.gates.json.as_deref()) {
        return usage(e);
    }

    for note in from_files.notes() {
        eprintln!("loadgen: {note}");
    }
    slos.extend(from_files.gates);

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

    if let Err(e) = outputs::write_all(&report, &summary, args.gates.json.as_deref(), &args.files) {
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
        trace: None,
    }
}
