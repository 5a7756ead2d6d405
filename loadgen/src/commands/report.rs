//! `loadgen report FILE.hlog`: re-render and re-judge the report of one saved interval log
//! ([`judge_logs`]), e.g. with other SLO gates or into other formats.

use std::path::PathBuf;

use clap::Args;

use super::judge::{JudgeArgs, judge_logs};

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

/// `loadgen report`: returns the exit code.
pub fn report_command(args: &ReportArgs) -> u8 {
    judge_logs(std::slice::from_ref(&args.log), &args.judge)
}
