//! `loadgen ratelimit URL`: verifies that a gateway enforces the auth and rate-limit policy it
//! claims, before a release and after any gateway change.
//!
//! Flow: [`RatelimitArgs`] → [`expected`] (the declared `N/window`) and the keys from the
//! environment → [`scenario`] sends the sequence over loadgen's client ([`http`]) and records
//! a transcript → [`checks`] judges it, one PASS/FAIL/SKIP with evidence per check →
//! [`report`] prints the table and writes JSON. Exit 0 when the gateway behaves as declared,
//! 2 when it does not, 64 on usage errors, 1 when the target cannot be reached at all.

pub mod checks;
pub mod expected;
pub mod http;
pub mod report;
pub mod scenario;

use std::io::Write as _;
use std::time::Duration;

use clap::Args;

use crate::exit;
use checks::Status;
use expected::Expected;

const EXIT_CODES: &str = "\
Exit codes:
  0   the gateway behaves as declared (skipped checks do not fail)
  1   the target could not be reached at all, or the JSON file could not be written
  2   at least one check failed (the table names it)
  64  usage error: bad --limit, URL, header, --timeout or --json path, or a key variable that
      is unset or empty";

/// Flags of `loadgen ratelimit`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct RatelimitArgs {
    /// URL of a protected route behind the gateway, e.g. http://127.0.0.1:8000/api/v1/sum.
    #[arg(env = "LOADGEN_URL")]
    pub url: String,

    /// Header that carries the API key.
    #[arg(long, env = "LOADGEN_KEY_HEADER", default_value = "apikey")]
    pub key_header: String,

    /// Name of the environment variable holding the API key (never the key itself).
    #[arg(long, env = "LOADGEN_KEY_ENV", default_value = "LOADGEN_API_KEY")]
    pub key_env: String,

    /// Name of the environment variable holding a second consumer's key, for the
    /// per-consumer isolation check.
    #[arg(long, env = "LOADGEN_SECOND_KEY_ENV")]
    pub second_key_env: Option<String>,

    /// The limit the gateway should enforce for the first key: N/second, N/minute or N/hour.
    #[arg(long, env = "LOADGEN_LIMIT")]
    pub limit: String,

    /// Also wait for the window to reset and check that requests succeed again.
    #[arg(long, env = "LOADGEN_WAIT_RESET", value_parser = clap::builder::BoolishValueParser::new())]
    pub wait_reset: bool,

    /// HTTP method.
    #[arg(long, short = 'X', env = "LOADGEN_METHOD", default_value = "GET")]
    pub method: String,

    /// Extra request header `Name: value`; repeatable. Never put secrets here.
    #[arg(
        long = "header",
        short = 'H',
        env = "LOADGEN_HEADER",
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,

    /// Request body.
    #[arg(long, short = 'd', env = "LOADGEN_BODY")]
    pub body: Option<String>,

    /// Per-request timeout.
    #[arg(long, short = 't', env = "LOADGEN_TIMEOUT", value_parser = humantime::parse_duration, default_value = "5s")]
    pub timeout: Duration,

    /// Write the JSON report to this file (`-` for stdout, which then carries only the JSON).
    #[arg(long, env = "LOADGEN_JSON")]
    pub json: Option<String>,
}

fn key_from_env(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        Ok(_) => Err(format!("the key variable {var} is empty")),
        Err(_) => Err(format!(
            "the key variable {var} is not set (choose another with --key-env / --second-key-env)"
        )),
    }
}

/// Runs `loadgen ratelimit`; returns the exit code.
pub fn command(args: &RatelimitArgs) -> u8 {
    let usage = |msg: String| {
        eprintln!("loadgen ratelimit: {msg}");
        exit::USAGE
    };
    if let Err(e) =
        crate::config::check_duration("--timeout", args.timeout, false, crate::config::MAX_TIMEOUT)
    {
        return usage(e.to_string());
    }
    // Checked now, as `run` checks its output files: a typo must not cost a full scenario.
    if let Err(e) = crate::outputs::check_json(args.json.as_deref()) {
        return usage(e);
    }
    let expected: Expected = match args.limit.parse() {
        Ok(e) => e,
        Err(e) => return usage(e.to_string()),
    };
    let key = match key_from_env(&args.key_env) {
        Ok(k) => k,
        Err(e) => return usage(e),
    };
    let second_key = match &args.second_key_env {
        Some(var) => match key_from_env(var) {
            Ok(k) => Some(k),
            Err(e) => return usage(e),
        },
        None => None,
    };
    if second_key.as_deref() == Some(key.as_str()) {
        return usage(
            "--second-key-env holds the same key as --key-env; isolation needs another consumer"
                .into(),
        );
    }
    for (what, k) in [
        ("--key-env", Some(&key)),
        ("--second-key-env", second_key.as_ref()),
    ] {
        if let Some(k) = k
            && ::http::HeaderValue::from_str(k).is_err()
        {
            return usage(format!("the key from {what} is not a valid header value"));
        }
    }
    let requester = match http::Requester::new(
        &args.url,
        &args.method,
        &args.headers,
        args.body.as_deref(),
        &args.key_header,
        args.timeout,
    ) {
        Ok(r) => r,
        Err(e) => return usage(e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen ratelimit: cannot start the runtime: {e}");
            return exit::FAILURE;
        }
    };
    let transcript = runtime.block_on(scenario::run(scenario::Inputs {
        requester: &requester,
        key: &key,
        second_key: second_key.as_deref(),
        expected,
        wait_reset: args.wait_reset,
    }));
    if transcript.all().iter().all(|o| o.status.is_none()) {
        eprintln!(
            "loadgen ratelimit: no response from {}: {}",
            args.url,
            transcript
                .no_key
                .error
                .as_deref()
                .unwrap_or("unknown error")
        );
        return exit::FAILURE;
    }
    let checks = checks::evaluate(&transcript, &expected);
    let report = report::RatelimitReport::new(
        requester.url(),
        &expected,
        &args.key_header,
        &checks,
        &transcript,
    );
    let json_to_stdout = args.json.as_deref() == Some("-");
    if json_to_stdout {
        eprint!("{}", report.text());
        // Not println!, which panics when stdout is a pipe closed early (`| head`).
        let _ = writeln!(std::io::stdout(), "{}", report.json());
    } else {
        let _ = std::io::stdout().write_all(report.text().as_bytes());
    }
    if let Some(path) = args.json.as_deref().filter(|p| *p != "-")
        && let Err(e) = std::fs::write(path, report.json())
    {
        eprintln!("loadgen ratelimit: writing {path} failed: {e}");
        return exit::FAILURE;
    }
    match report.verdict {
        Status::Fail => exit::BREACH,
        _ => exit::PASS,
    }
}
