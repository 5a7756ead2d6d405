//! Thin entry point: parse, set up logging, run, map the outcome to an exit code.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match canary::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Usage errors are 64 (clap's own 2 means "metrics not delivered" here).
            return ExitCode::from(if e.use_stderr() {
                canary::EXIT_USAGE
            } else {
                0
            });
        }
    };
    canary::logging::init();
    match canary::execute(cli).await {
        Ok(done) => {
            if let canary::Completed::Valid(summary) = &done {
                // Not println!, which panics when stdout is a pipe closed early.
                let _ = writeln!(std::io::stdout(), "{}", canary::secret::redact(summary));
            }
            ExitCode::from(done.exit_code())
        }
        Err(e) => {
            let message = format!("canary: {:#}", anyhow::Error::from(e));
            eprintln!("{}", canary::secret::redact(&message));
            ExitCode::from(canary::EXIT_USAGE)
        }
    }
}
