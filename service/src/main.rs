//! Thin entry point: parse and validate the configuration, set up logging, then serve (or run
//! the health check), and map the outcome to an exit code ([`service::exit`]).

use std::process::ExitCode;

use clap::Parser;
use service::config::{Command, Config};
use service::exit;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = match Config::try_parse() {
        Ok(config) => config,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::from(exit::SUCCESS);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(exit::USAGE);
        }
    };
    if let Some(Command::Healthcheck { url, timeout }) = &config.command {
        return match service::healthcheck::check(url, *timeout).await {
            Ok(()) => ExitCode::from(exit::SUCCESS),
            Err(e @ service::healthcheck::HealthcheckError::InvalidUrl(_)) => {
                eprintln!("error: {e}");
                ExitCode::from(exit::USAGE)
            }
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::from(exit::FAILURE)
            }
        };
    }
    if let Err(e) = config
        .load_origin_secrets()
        .and_then(|()| config.validate())
    {
        eprintln!("error: invalid configuration: {e}");
        return ExitCode::from(exit::USAGE);
    }
    // Dropped at the end of `main`: every buffered log line is written before exit.
    let logs = service::logging::init(config.log_format);
    let trace = trace::Config::from_env(service::server::SERVICE_NAME);
    for warning in &trace.warnings {
        tracing::warn!(variable = warning.variable, "{}", warning.message);
    }
    config.trace = Some(trace.config);
    match service::run(config).await {
        Ok(()) => ExitCode::from(exit::SUCCESS),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "service failed");
            logs.flush();
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
