//! The command line: `loadgen run|merge|report|capacity|ratelimit`. Each subcommand's flags are
//! defined beside the code that reads them ([`RunArgs`] in `config`, `merge`'s, `report`'s and
//! `capacity`'s in `commands`, [`RatelimitArgs`] in `ratelimit`); every flag has a `///` help
//! and a `LOADGEN_*` environment fallback. `--help` ends with the exit codes of [`exit`].

use clap::{Parser, Subcommand};

use crate::commands::capacity::CapacityArgs;
use crate::commands::merge::MergeArgs;
use crate::commands::report::ReportArgs;
use crate::config::RunArgs;
use crate::exit;
use crate::ratelimit::RatelimitArgs;

/// loadgen: a load generator with coordinated-omission-correct latency, SLO gates and reports.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, after_help = exit::HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a load test against a URL (or a weighted mix from --targets) and judge it.
    #[command(after_help = exit::HELP)]
    Run(Box<RunArgs>),
    /// Verify that a gateway enforces the auth and rate-limit policy it declares.
    Ratelimit(Box<RatelimitArgs>),
    /// Merge interval logs (--hlog) of several generators by absolute time into one exact
    /// report, judged like a run (--slo, --baseline) and rendered the same ways.
    #[command(after_help = exit::HELP)]
    Merge(Box<MergeArgs>),
    /// Re-render and re-judge the report of one saved interval log.
    #[command(after_help = exit::HELP)]
    Report(Box<ReportArgs>),
    /// Find the highest open-model rate at which every gate holds: steps doubling from
    /// --min-rate, then bisecting between the last passing and first failing rate; reports the
    /// capacity and the per-task autoscaling target.
    #[command(after_help = exit::CAPACITY_HELP)]
    Capacity(Box<CapacityArgs>),
}
