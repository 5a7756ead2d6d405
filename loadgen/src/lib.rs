//! loadgen: a load generator with coordinated-omission-correct latency, SLO gates and reports.
//!
//! Data flow of `loadgen run`: [`cli`] parses the command line and [`execute`] hands it to the
//! subcommand in [`commands`] → [`config`] validates the flags into a [`config::RunConfig`] (a
//! typo is exit 64 before anything connects; [`slo_file`] turns the objectives of `--slo-file`
//! into gates) and [`outputs`] checks every output path → [`run`]
//! opens the connection pool ([`client`]: hyper 1 connections driven directly, HTTP/1.1
//! keep-alive or HTTP/2, rustls+ring for https), takes send times from the [`schedule`] (open
//! model: a slot counter at a constant rate or along the `--stage` ramp; closed model: send on
//! response), and records every
//! request in a per-connection [`recorder`] fork (HdrHistograms per outcome class, corrected
//! from the intended send time and uncorrected from the actual one, streamed per second; with
//! `--trace-sample`, `client::traceparent` puts a fresh sampled `traceparent` on that fraction
//! of requests and the recorder keeps the trace ids of the slowest and failed ones) while
//! [`progress`] shows live numbers on a terminal, [`selfcheck`] watches the generator itself
//! and [`reach`] ends a run early when the target never accepts a connection ([`interrupt`]
//! does on SIGINT/SIGTERM: the run stops, requests in flight get a short grace, and what ran
//! goes on through the same steps, judged `aborted`) → [`report`]
//! builds one [`report::Report`] from the recorder's summary and measures what each [`slo`]
//! gate reads → [`verdict`] judges those values and an optional baseline →
//! [`outputs`] prints the `report::text` summary and writes `report::{json, hgrm, html}`, and
//! the verdict is the [`exit`] code. `merge`/`report` rebuild a summary from interval logs
//! (`report::hlog`) and go through the same report, verdict and outputs, so merged runs are
//! judged exactly like live ones. `capacity` ([`capacity`]) runs one such run per step of a
//! search for the highest rate that meets every gate. `ratelimit` checks a gateway's declared
//! limits with the same client.
//!
//! Imports go one way, from the command line down: [`cli`] → [`commands`] → [`capacity`] →
//! [`run`] → [`config`] → [`outputs`] → [`report`] → [`verdict`] (with [`ratelimit`] beside
//! `commands`, and [`client`] and [`progress`] under `run`). [`recorder`], [`selfcheck`],
//! [`schedule`], [`reach`], [`interrupt`], [`input`], [`numfmt`] and [`exit`] import nothing of
//! the crate, and [`slo`] only [`recorder`] (the error kinds its `errors_KIND` gates name), so
//! any module may use them; [`slo_file`] (the gates of `--slo-file`, made with the `slo` crate) imports
//! only [`slo`].

pub mod capacity;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod exit;
pub mod input;
pub mod interrupt;
pub mod numfmt;
pub mod outputs;
pub mod progress;
pub mod ratelimit;
pub mod reach;
pub mod recorder;
pub mod report;
pub mod run;
pub mod schedule;
pub mod selfcheck;
pub mod slo;
pub mod slo_file;
pub mod verdict;

use cli::{Cli, Command};

/// Runs one parsed command line and returns its exit code (see [`exit`]).
pub fn execute(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => commands::run::run_command(&args),
        Command::Ratelimit(args) => ratelimit::command(&args),
        Command::Merge(args) => commands::merge::merge_command(&args),
        Command::Report(args) => commands::report::report_command(&args),
        Command::Capacity(args) => commands::capacity::capacity_command(&args),
    }
}
