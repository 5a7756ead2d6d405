//! `loadgen merge A.hlog B.hlog …`: the interval logs of several generators, merged by
//! absolute time into one exact report, judged like a live run ([`judge_logs`]).

use std::path::PathBuf;

use clap::Args;

use super::judge::{JudgeArgs, judge_logs};

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

/// `loadgen merge`: returns the exit code.
pub fn merge_command(args: &MergeArgs) -> u8 {
    judge_logs(&args.logs, &args.judge)
}
