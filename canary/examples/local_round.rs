//! One canary round through the local gateway with the stdout sink: no AWS account needed.
//!
//! Starts the real service and, in front of it, the local gateway (nginx + Lua, generated from
//! `gateway/kong.yaml`) on free loopback ports, runs one round of the default probe suite
//! against the gateway, prints each probe's verdict and every metric, and stops both.
//! The canary's key is `CANARY_API_KEY` when set, otherwise a fresh random one; the gateway and
//! the canary share it in-process, so nothing secret is ever printed.
//!
//! `--serve` instead prints the gateway's URL and keeps the stack up until SIGTERM/SIGINT
//! (used by `scripts/bench-canary.sh`, which then runs the release canary binary against it).
//!
//! Run: `cargo run -p canary --example local_round` (exit code: the round's, 0/1/2).

use std::process::ExitCode;

use canary::cli::Settings;
use canary::secret::Secret;
use rand::Rng;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    canary::logging::init();
    let serve = std::env::args().any(|a| a == "--serve");
    let key = std::env::var("CANARY_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| format!("local-canary-{:032x}", rand::rng().random::<u128>()));
    let origin = format!("local-origin-{:032x}", rand::rng().random::<u128>());

    let mut service_config = service::Config::loopback(&[]).expect("fixed service flags parse");
    service_config.origin_secrets = vec![origin.clone()];
    let service = match service::start(service_config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("local_round: the service did not start: {e:#}");
            return ExitCode::from(1);
        }
    };
    let gateway = match gateway::local::LocalGateway::committed().and_then(|b| {
        b.upstream(service.addr())
            .consumer_key("canary", &key)
            .origin_secret(&origin)
            .start()
    }) {
        Ok(g) => g,
        Err(e) => {
            eprintln!(
                "local_round: the local gateway did not start ({e}); scripts/deps/apt.sh installs nginx and libnginx-mod-http-lua"
            );
            return ExitCode::from(1);
        }
    };

    if serve {
        println!("{}", gateway.base_url());
        canary::shutdown_signal().await;
        drop(gateway);
        service.shutdown().await;
        return ExitCode::SUCCESS;
    }

    eprintln!(
        "local_round: service on {}, local gateway on {}; one canary round with the stdout sink:",
        service.addr(),
        gateway.base_url()
    );
    let settings = Settings {
        target: Some(gateway.base_url()),
        environment: Some("local".into()),
        sinks: Some(vec!["stdout".into()]),
        // The canary consumer's per-minute quota in gateway/kong.yaml.
        rate_limit: Some("20".into()),
        ..Settings::default()
    };
    let code = match canary::config::resolve(&settings) {
        Err(e) => {
            eprintln!("local_round: {e}");
            64
        }
        Ok(config) => {
            match canary::run::Canary::with_key(
                config,
                canary::publish::stdout_output(),
                Some(Secret::new(key)),
            )
            .await
            {
                Ok(mut c) => c.round().await.verdict().exit_code(),
                Err(e) => {
                    eprintln!("local_round: {e}");
                    64
                }
            }
        }
    };
    drop(gateway);
    service.shutdown().await;
    ExitCode::from(code)
}
