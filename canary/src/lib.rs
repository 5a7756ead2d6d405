//! canary: the sum API's scheduled synthetic monitor.
//!
//! Data flows one way. [`cli`] parses flags (each with a `CANARY_` env fallback) and [`config`]
//! merges them over the TOML file that [`config_file`] reads (key by key, so that every syntax
//! error, unknown key and mistyped value is reported with its line), checking every field
//! ([`probe_config`] for `[[probes]]`, [`suite`] for the built-in default probes); they all record
//! problems with [`validation`], which depends on none of them; [`region`] says where the canary
//! runs (the `Region` dimension) and which region's CloudWatch receives the metrics, and
//! `--probes` keeps a subset of the suite. [`run`] drives a round: it publishes `RunStarted`,
//! runs each [`probe`] (one HTTP exchange over [`http_client`], retries, the generic
//! [`assertions`], the sum and rate-limit [`checks`] with [`exact_sum`], Kong latency attribution),
//! judges the leaf certificate that [`http_client`]'s verifier recorded by [`certificate`]
//! (expired, not yet valid, fewer than `cert_min_days` left), turns outcomes into [`metrics`] data, hands them to [`publish`] (the `cloudwatch`, `emf` and
//! `stdout` sinks behind one trait, CloudWatch limits in `publish::limits`, the EMF fallback), and
//! publishes `Heartbeat` only once everything was delivered; [`heartbeat`] pings an optional
//! external dead-man URL. The API key stays inside [`secret`], whose process-wide mask every
//! output passes through (the sinks, the [`logging`] writer, `main`'s error), so a key a target
//! echoes back is never written, in any encoding. `main` only parses, sets up [`logging`],
//! calls [`execute`] and maps its result to an exit code.

pub mod assertions;
pub mod certificate;
pub mod checks;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod exact_sum;
pub mod heartbeat;
pub mod http_client;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod probe_config;
pub mod publish;
pub mod region;
pub mod run;
pub mod secret;
pub mod suite;
pub mod validation;

use std::time::Duration;

use thiserror::Error;

use crate::cli::{Cli, Command};
use crate::config::SinkKind;
use crate::run::{Canary, SetupError, Verdict};
use crate::validation::ConfigError;

/// Exit code for an invalid configuration or usage.
pub const EXIT_USAGE: u8 = 64;

/// Why the canary could not run at all (exit 64).
#[derive(Debug, Error)]
pub enum CanaryError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `--every` is invalid.
    #[error("invalid `every` (--every / CANARY_EVERY): {0}")]
    Every(String),
    /// The canary could not be set up (API key, TLS roots, AWS region).
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// What a successful invocation produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// `validate` found the configuration valid; the summary is printed on stdout.
    Valid(String),
    /// `run` finished with this (last) verdict.
    Ran(Verdict),
}

impl Completed {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Completed::Valid(_) => 0,
            Completed::Ran(v) => v.exit_code(),
        }
    }
}

/// Runs the parsed command.
pub async fn execute(cli: Cli) -> Result<Completed, CanaryError> {
    match cli.command {
        Command::Validate(settings) => {
            let config = config::resolve(&settings)?;
            let sinks: Vec<&str> = config.sinks.iter().map(|s| s.as_str()).collect();
            let probes: Vec<&str> = config.probes.iter().map(|p| p.name.as_str()).collect();
            let mut summary = format!(
                "config valid: target {}, environment {}, region {}, namespace {}{}, sinks {}, probes {}",
                config.target,
                config.environment,
                config.region,
                config.namespace,
                config
                    .home_region
                    .as_deref()
                    .map_or(String::new(), |h| format!(" in {h}")),
                sinks.join(","),
                probes.join(",")
            );
            if std::env::var_os(&config.api_key_env).is_none() {
                summary.push_str(&format!(
                    "\nnote: {} is not set here; `run` needs it",
                    config.api_key_env
                ));
            }
            Ok(Completed::Valid(summary))
        }
        Command::Run(args) => {
            let every = match &args.every {
                None => None,
                Some(text) => match humantime::parse_duration(text.trim()) {
                    Ok(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(24 * 3600) => {
                        Some(d)
                    }
                    Ok(_) => return Err(CanaryError::Every(format!("{text:?} must be 1s to 24h"))),
                    Err(e) => {
                        return Err(CanaryError::Every(format!(
                            "{text:?} is not a duration such as 60s ({e})"
                        )));
                    }
                },
            };
            let config = config::resolve(&args.settings)?;
            if config.sinks.contains(&SinkKind::CloudWatch) {
                tracing::debug!(namespace = %config.namespace, "publishing to CloudWatch");
            }
            let mut canary = Canary::new(config, publish::stdout_output()).await?;
            let verdict = match every {
                None => canary.round().await.verdict(),
                Some(every) => run::run_every(&mut canary, every, shutdown_signal()).await,
            };
            Ok(Completed::Ran(verdict))
        }
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, so a signal
/// that arrives while a round runs is not lost.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
            }
            _ => {
                tracing::error!("could not install signal handlers; stop with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
    }
}
