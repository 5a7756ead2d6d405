//! Thin entry point: parse the command line, run it, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use slo::cli::{Cli, EXIT_USAGE, execute};

fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(cli) => ExitCode::from(execute(cli)),
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = e.print();
            ExitCode::from(EXIT_USAGE)
        }
    }
}
