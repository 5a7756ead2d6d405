//! Thin entry point of `local-gateway`: all logic lives in `gateway::cli`.

use std::io::IsTerminal;

#[tokio::main]
async fn main() {
    // Colour only for a terminal: CI logs and files get plain text.
    tracing_subscriber::fmt()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let code = match gateway::cli::parse() {
        Ok(cli) => gateway::cli::run(cli).await,
        Err(code) => code,
    };
    std::process::exit(code);
}
