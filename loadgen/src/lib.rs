//! loadgen: a load generator with coordinated-omission-correct latency, SLO gates and reports.
//!
//! Data flow of `loadgen run`: [`cli`] parses flags → [`config`] validates them into a
//! [`config::RunConfig`] (a typo is exit 64 before anything connects) → [`run`] opens the
//! connection pool ([`client`]: hyper 1 connections driven directly, HTTP/1.1 keep-alive or
//! HTTP/2, rustls+ring for https), takes send times from the [`schedule`] (open model: a
//! constant-rate slot counter; closed model: send on response), and records every request in
//! a per-connection [`recorder`] fork (HdrHistograms per outcome class, corrected from the
//! intended send time and uncorrected from the actual one, streamed per second) while
//! [`progress`] shows live numbers on a terminal and [`selfcheck`] watches the generator itself
//! → [`report`] builds one [`report::Report`] from the recorder's summary, [`verdict`] judges it
//! against the [`slo`] gates and an optional baseline, and `report::{text, json}` render it.
//! `merge`/`report` subcommands rebuild a summary from interval logs and reuse the same report
//! and verdict code, so merged runs are judged exactly like live ones.

pub mod cli;
pub mod client;
pub mod config;
pub mod exit;
pub mod input;
pub mod merge;
pub mod numfmt;
pub mod progress;
pub mod ratelimit;
pub mod recorder;
pub mod report;
pub mod run;
pub mod schedule;
pub mod selfcheck;
pub mod slo;
pub mod verdict;

use std::io::Write;

use cli::{Cli, Command, RunArgs};
use config::RunConfig;
use report::Report;

/// Runs one parsed command line and returns its exit code (see [`exit`]).
pub fn execute(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Ratelimit(args) => ratelimit::command(&args),
        Command::Merge(args) => merge::merge_command(&args),
        Command::Report(args) => merge::report_command(&args),
    }
}

/// `loadgen run`: validate, run, print the text summary (on stderr when the JSON report goes
/// to stdout), write the JSON report, and map the verdict to the exit code.
pub fn run_command(args: &RunArgs) -> u8 {
    let cfg = match RunConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::USAGE;
        }
    };
    let sink = match merge::run_outputs(args, &cfg) {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::USAGE;
        }
    };
    let measured = match run::run_blocking(&cfg, sink) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::FAILURE;
        }
    };
    let report = Report::build(
        &measured.summary,
        &measured.meta,
        &cfg.slos,
        cfg.baseline.as_ref(),
    );
    let text = report::text::render(&report);
    if cfg.json.as_deref() == Some("-") {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    if let Some(dest) = &cfg.json
        && let Err(e) = report::json::write(&report, dest)
    {
        eprintln!("loadgen: writing the JSON report to `{dest}` failed: {e}");
        return exit::FAILURE;
    }
    if let Err(e) = args.files.write(&report, &measured.summary) {
        eprintln!("loadgen: {e}");
        return exit::FAILURE;
    }
    report.verdict.exit_code()
}
