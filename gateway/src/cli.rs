//! The `local-gateway` binary: runs the local gateway in the foreground (for scripts/demo.sh),
//! or checks the policy, or prints it as a decK template for a real Kong.
//!
//! Exit codes: 0 stopped by SIGTERM/Ctrl-C (or check passed), 1 failure (nginx missing or
//! died, secret missing), 64 usage error (bad flag or invalid policy).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;

use crate::{LocalGateway, Policy, PolicyError};

const EXIT_CODES: &str = "\
Exit codes:
  0   stopped by SIGTERM/Ctrl-C, or --check / --deck-template done
  1   failure: nginx or its Lua module missing, nginx died, origin secret missing
  64  usage error or invalid policy";

/// Exit code: usage error (bad flags, invalid policy).
pub const EXIT_USAGE: i32 = 64;
/// Exit code: failure while running.
pub const EXIT_FAILURE: i32 = 1;

/// Runs the local gateway (nginx with its Lua module) in front of a service, answering as Kong
/// would with the policy in gateway/kong.yaml.
///
/// API keys and the origin secret come from the environment, as Kong's env vault reads them:
/// CANARY_API_KEY, LOADGEN_API_KEY, RELEASE_CHECK_API_KEY, EXAMPLE_CUSTOMER_API_KEY,
/// SUM_API_ORIGIN_SECRET. A consumer whose key is unset is left out with a warning; the origin
/// secret is required.
// The exit codes are printed once, after the options (`EXIT_CODES`); this doc comment is the
// help's description, so it holds only what a user of the binary needs.
#[derive(Debug, Parser)]
#[command(name = "local-gateway", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The Kong declarative policy (default: the gateway/kong.yaml this binary was built with).
    #[arg(long, env = "GATEWAY_POLICY")]
    pub policy: Option<PathBuf>,

    /// The service to front, e.g. 127.0.0.1:8080 (needed unless --check or --deck-template).
    #[arg(long, env = "GATEWAY_UPSTREAM", required_unless_present_any = ["check", "deck_template"])]
    pub upstream: Option<SocketAddr>,

    /// The address the gateway listens on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Validate the policy, print its routes and quotas, and exit.
    // A mode, so no environment fallback: clap would count `GATEWAY_CHECK=false` as given.
    #[arg(long)]
    pub check: bool,

    /// Print the policy for a real Kong, every {vault://env/x} turned into decK's
    /// ${{ env "DECK_X" }} (see docs/gateway.md), and exit.
    // A mode too, so no environment fallback either.
    #[arg(long, conflicts_with = "check")]
    pub deck_template: bool,

    /// Keep the generated nginx config and logs after exit, for debugging (the line printed at
    /// start says where).
    #[arg(long, env = "GATEWAY_KEEP_PREFIX", value_parser = clap::builder::BoolishValueParser::new())]
    pub keep_prefix: bool,
}

/// Parses arguments; on a usage error prints it and returns the exit code to use.
pub fn parse() -> Result<Cli, i32> {
    Cli::try_parse().map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { EXIT_USAGE } else { 0 }
    })
}

/// Runs the binary; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let (text, source) = match &cli.policy {
        Some(p) => match crate::policy::read_text(p) {
            Ok(t) => (t, p.display().to_string()),
            Err(e) => {
                eprintln!("error: --policy: {e}");
                return EXIT_USAGE;
            }
        },
        None => (
            crate::policy::KONG_YAML.to_owned(),
            "built-in gateway/kong.yaml".to_owned(),
        ),
    };
    // Every mode validates first: a decK template of an invalid policy (or of one holding a
    // literal secret) must not reach a real Kong either.
    let policy = match Policy::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {source}: {e}");
            return EXIT_USAGE;
        }
    };
    // Written without print!, which panics when stdout is a pipe closed early (`| head`).
    if cli.deck_template {
        let _ = std::io::stdout().write_all(crate::deck::template(&text).as_bytes());
        return 0;
    }
    if cli.check {
        let _ = writeln!(std::io::stdout(), "{}", summary(&policy));
        return 0;
    }
    // clap requires --upstream unless a mode was given; this only keeps the type honest.
    let Some(upstream) = cli.upstream else {
        eprintln!("error: --upstream is required (the service to front, e.g. 127.0.0.1:8080)");
        return EXIT_USAGE;
    };
    if proxies_to_itself(cli.listen, upstream) {
        eprintln!(
            "error: --listen {} and --upstream {upstream} are the same address: nginx would proxy to itself",
            cli.listen
        );
        return EXIT_USAGE;
    }
    match serve(cli, upstream, policy, &source).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<PolicyError>().is_some() {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            }
        }
    }
}

/// Whether nginx listening on `listen` would reach itself at `upstream`: the same address, or a
/// wildcard listener and a local upstream on the same port.
fn proxies_to_itself(listen: SocketAddr, upstream: SocketAddr) -> bool {
    listen == upstream
        || (listen.ip().is_unspecified()
            && listen.port() == upstream.port()
            && (upstream.ip().is_loopback() || upstream.ip().is_unspecified()))
}

async fn serve(cli: Cli, upstream: SocketAddr, policy: Policy, source: &str) -> anyhow::Result<()> {
    // Handlers first: a signal that arrives while nginx starts must still stop it cleanly.
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut gw = LocalGateway::builder(policy)
        .upstream(upstream)
        .listen(cli.listen)
        .secrets_from_env()
        .keep_prefix(cli.keep_prefix)
        .start()
        .context("starting the local gateway")?;
    eprintln!(
        "local gateway on {} -> {upstream} (policy: {source}; consumers with keys: {}; prefix: {})",
        gw.base_url(),
        if gw.consumers().is_empty() {
            "none".to_owned()
        } else {
            gw.consumers().join(", ")
        },
        gw.prefix().display()
    );
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = tick.tick() => {
                if !gw.is_running() {
                    anyhow::bail!("nginx exited unexpectedly\n{}", gw.error_log());
                }
            }
        }
    }
    eprintln!("stopping the local gateway");
    gw.stop().context("stopping the local gateway")?;
    Ok(())
}

/// A human summary of the policy: routes, protection, quotas.
pub fn summary(policy: &Policy) -> String {
    let s = &policy.service;
    let mut out = format!(
        "policy OK: service {} -> {}://{}:{}\n  timeouts (per try): connect {} ms, write {} ms, read {} ms; retries: {}\n",
        s.name,
        s.protocol,
        s.host,
        s.port,
        s.connect_timeout_ms,
        s.write_timeout_ms,
        s.read_timeout_ms,
        s.retries
    );
    for plan in crate::plan::plan(policy) {
        let auth = match &plan.key_auth {
            Some(k) => format!("key-auth ({})", k.key_names.join(", ")),
            None => "public".to_owned(),
        };
        out.push_str(&format!(
            "route {} {:?}: {auth}\n",
            plan.route.name, plan.route.paths
        ));
        for (consumer, set) in &plan.sets {
            if let Some(rl) = &set.rate {
                let limits: Vec<String> = rl
                    .limits
                    .windows()
                    .iter()
                    .map(|(w, n)| format!("{n}/{}", w.name()))
                    .collect();
                out.push_str(&format!(
                    "  {}: {}\n",
                    consumer.as_deref().unwrap_or("(no consumer)"),
                    limits.join(", ")
                ));
            }
        }
    }
    out
}
