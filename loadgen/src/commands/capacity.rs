//! `loadgen capacity URL`: validate every flag (a usage error names the flag and costs no
//! traffic), then run the search of [`crate::capacity`] step by step, print a line per step,
//! and write the text, JSON and HTML reports of the whole search; the verdict is the exit code
//! ([`crate::exit::CAPACITY_HELP`]).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::capacity::report::{self as capacity_report, Autoscaling, CapacityReport, Settings};
use crate::capacity::step::run_step;
use crate::capacity::{
    Bounds, Ending, MAX_RATE, MAX_STEP_DURATION, MAX_STEPS, Search, StepVerdict, html, text,
};
use crate::config::{GateArgs, GeneratorArgs, RequestArgs, RunArgs, RunConfig, SloArgs};
use crate::exit;
use crate::interrupt;
use crate::outputs::{check_json, check_output};
use crate::slo::parse_fraction;

/// Most tasks `--tasks` accepts.
pub const MAX_TASKS: u32 = 10_000;
/// Pause after a step that did not pass, so the target can work off what queued up before the
/// next step measures it.
pub const SETTLE: Duration = Duration::from_secs(1);

/// Flags of `loadgen capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// What is sent, as for `run`.
    #[command(flatten)]
    pub request: RequestArgs,

    /// The gates every step must meet (at least one: a capacity without a gate means nothing).
    #[command(flatten)]
    pub slos: SloArgs,

    /// First rate tried, requests/s; the search doubles it while steps pass.
    #[arg(
        long,
        env = "LOADGEN_MIN_RATE",
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub min_rate: f64,

    /// Highest rate tried, requests/s: the search never sends faster (keep it where the target
    /// may safely be pushed).
    #[arg(long, env = "LOADGEN_MAX_RATE", allow_negative_numbers = true)]
    pub max_rate: f64,

    /// How long each step measures at its rate, e.g. 10s, 1m.
    #[arg(long, env = "LOADGEN_STEP_DURATION", value_parser = humantime::parse_duration, default_value = "10s")]
    pub step_duration: Duration,

    /// Bisection stops once the first failing rate is within this of the last passing one,
    /// e.g. 5% (0.05).
    #[arg(
        long,
        env = "LOADGEN_PRECISION",
        default_value = "5%",
        allow_hyphen_values = true
    )]
    pub precision: String,

    /// Share of one task's capacity that autoscaling aims at, e.g. 0.7 or 70%: the report's
    /// ALBRequestCountPerTarget target is capacity / --tasks * headroom * 60.
    #[arg(
        long,
        env = "LOADGEN_HEADROOM",
        default_value = "0.7",
        allow_hyphen_values = true
    )]
    pub headroom: String,

    /// Tasks that served the URL during the search (1 when it points at one task): the
    /// capacity is divided by it for the per-task autoscaling target.
    #[arg(long, env = "LOADGEN_TASKS", default_value_t = 1)]
    pub tasks: u32,

    /// An earlier capacity report (--json of `loadgen capacity`) to compare the capacity with.
    #[arg(long, env = "LOADGEN_CAPACITY_BASELINE", value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Largest tolerated capacity drop against --baseline, e.g. 10%.
    #[arg(
        long,
        env = "LOADGEN_CAPACITY_MAX_REGRESSION",
        default_value = "10%",
        allow_hyphen_values = true
    )]
    pub max_regression: String,

    /// Write the JSON report to this file (`-` for stdout, which then carries only the JSON).
    #[arg(long, env = "LOADGEN_CAPACITY_JSON")]
    pub json: Option<String>,

    /// Write a self-contained HTML report: latency against throughput with the SLO line and
    /// the knee, and every step.
    #[arg(long, env = "LOADGEN_CAPACITY_HTML", value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// The generator's threads, self-check bound and progress display, as for `run`.
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

/// Everything validated, before any traffic.
struct Plan {
    base: RunConfig,
    bounds: Bounds,
    step: Duration,
    headroom: f64,
    max_regression: f64,
    baseline: Option<(String, CapacityReport)>,
}

fn rate(flag: &str, r: f64) -> Result<f64, String> {
    if r.is_finite() && r > 0.0 && r <= MAX_RATE {
        Ok(r)
    } else {
        Err(format!(
            "{flag} {r}: must be a number of requests/s above 0 (at most 1e7)"
        ))
    }
}

fn fraction(flag: &str, s: &str, zero_ok: bool) -> Result<f64, String> {
    let f = parse_fraction(s).map_err(|e| format!("{flag} {e}"))?;
    if f > 1.0 || (!zero_ok && f == 0.0) {
        let low = if zero_ok { "0%" } else { "above 0%" };
        return Err(format!("{flag} `{s}`: must be {low} and at most 100%"));
    }
    Ok(f)
}

fn validate(args: &CapacityArgs) -> Result<Plan, String> {
    let min_rate = rate("--min-rate", args.min_rate)?;
    let max_rate = rate("--max-rate", args.max_rate)?;
    if min_rate > max_rate {
        return Err(format!(
            "--min-rate {min_rate} is above --max-rate {max_rate}"
        ));
    }
    let step = args.step_duration;
    if step.is_zero() || step > MAX_STEP_DURATION {
        return Err(format!(
            "--step-duration {}: must be longer than 0s and at most {}",
            humantime::format_duration(step),
            humantime::format_duration(MAX_STEP_DURATION)
        ));
    }
    if min_rate * step.as_secs_f64() < 1.0 {
        return Err(format!(
            "--min-rate {min_rate} for --step-duration {} sends no request: raise either",
            humantime::format_duration(step)
        ));
    }
    let precision = fraction("--precision", &args.precision, false)?;
    let headroom = fraction("--headroom", &args.headroom, false)?;
    let max_regression = fraction("--max-regression", &args.max_regression, true)?;
    if args.tasks == 0 || args.tasks > MAX_TASKS {
        return Err(format!("--tasks {}: must be 1..={MAX_TASKS}", args.tasks));
    }
    if args.slos.slo.iter().all(|s| s.trim().is_empty()) && args.slos.slo_file.is_empty() {
        return Err(
            "capacity needs a gate: give --slo (e.g. --slo 'p99<250ms') or --slo-file; the capacity is the highest rate at which every gate holds"
                .into(),
        );
    }
    let run = RunArgs {
        request: args.request.clone(),
        generator: args.generator.clone(),
        rate: Some(min_rate),
        duration: Some(step),
        gates: GateArgs {
            slos: args.slos.clone(),
            max_regression: "0%".into(),
            regression_floor: "0ms".into(),
            ..GateArgs::default()
        },
        ..RunArgs::default()
    };
    let base = RunConfig::from_args(&run).map_err(|e| e.to_string())?;
    if base.slos.is_empty() {
        return Err("capacity needs a gate: --slo and --slo-file gave none".into());
    }
    let baseline = match &args.baseline {
        None => None,
        Some(p) => Some((
            p.display().to_string(),
            capacity_report::read(p).map_err(|e| format!("--baseline: {e}"))?,
        )),
    };
    check_json(args.json.as_deref())?;
    if let Some(p) = &args.html {
        check_output("--html", p)?;
    }
    Ok(Plan {
        base,
        bounds: Bounds {
            min_rate,
            max_rate,
            precision,
            max_steps: MAX_STEPS,
        },
        step,
        headroom,
        max_regression,
        baseline,
    })
}

/// `loadgen capacity`: returns the exit code.
pub fn capacity_command(args: &CapacityArgs) -> u8 {
    let plan = match validate(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::USAGE;
        }
    };
    for note in &plan.base.slo_notes {
        eprintln!("loadgen: {note}");
    }
    if let Err(e) = interrupt::install() {
        eprintln!("loadgen: {e}; SIGINT and SIGTERM will end the search without reports");
    }
    let quiet = args.generator.quiet;
    let start = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let mut search = Search::new(plan.bounds);
    let mut steps = Vec::new();
    let mut failure = None;
    while let Some(r) = search.next_rate() {
        if interrupt::requested().is_some() {
            search.stop(Ending::Aborted);
            break;
        }
        if !quiet {
            eprintln!(
                "loadgen capacity: step {}: {r:.1} req/s for {}",
                steps.len() + 1,
                humantime::format_duration(plan.step)
            );
        }
        let run = match run_step(&plan.base, r, plan.step) {
            Ok(run) => run,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        let s = run.step;
        if !quiet {
            eprintln!(
                "loadgen capacity: step {}: {} at {:.1} req/s (achieved {:.1}, p50 {:.3} ms, p99 {:.3} ms, errors {:.3}%)",
                steps.len() + 1,
                s.verdict.label(),
                s.rate,
                s.achieved,
                s.latency_ms.corrected.p50,
                s.latency_ms.corrected.p99,
                s.error_rate * 100.0
            );
        }
        search.record(r, s.verdict);
        let settle = s.verdict != StepVerdict::Pass;
        steps.push(s);
        if let Some(why) = run.gave_up {
            failure = Some(why);
            break;
        }
        if settle && search.next_rate().is_some() {
            std::thread::sleep(SETTLE);
        }
    }

    let report = build(args, &plan, start, search, steps);
    let out = text::render(&report);
    {
        use std::io::Write as _;
        // A closed stdout or stderr (`| head`) must not fail the search: the files still count.
        let _ = if args.json.as_deref() == Some("-") {
            std::io::stderr().write_all(out.as_bytes())
        } else {
            std::io::stdout().write_all(out.as_bytes())
        };
    }
    if let Some(dest) = &args.json
        && let Err(e) = capacity_report::write(&report, dest)
    {
        eprintln!("loadgen: writing the JSON report to `{dest}` failed: {e}");
        return exit::FAILURE;
    }
    if let Some(p) = &args.html
        && let Err(e) = html::write(p, &report)
    {
        eprintln!("loadgen: writing --html `{}` failed: {e}", p.display());
        return exit::FAILURE;
    }
    if let Some(why) = failure {
        eprintln!("loadgen: {why}");
        return exit::FAILURE;
    }
    report.verdict.exit_code()
}

fn build(
    args: &CapacityArgs,
    plan: &Plan,
    start: String,
    search: Search,
    steps: Vec<crate::capacity::step::Step>,
) -> CapacityReport {
    let settings = Settings {
        min_rate: plan.bounds.min_rate,
        max_rate: plan.bounds.max_rate,
        step_duration_s: plan.step.as_secs_f64(),
        precision: plan.bounds.precision,
        connections: plan.base.connections,
        gates: plan
            .base
            .slos
            .iter()
            .map(|s| match &s.from_slo {
                Some(name) => format!("{} (slo {name})", s.expr),
                None => s.expr.clone(),
            })
            .collect(),
    };
    let capacity_rps = search.capacity();
    let ending = search.ending();
    let baseline = plan.baseline.as_ref().map(|(source, old)| {
        capacity_report::compare(source, old, capacity_rps, &settings, plan.max_regression)
    });
    let (verdict, reasons) = CapacityReport::judge(ending, capacity_rps, baseline.as_ref());
    CapacityReport {
        schema_version: capacity_report::SCHEMA_VERSION,
        kind: capacity_report::KIND.into(),
        tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
        url: plan.base.label.clone(),
        start,
        settings,
        capacity_rps,
        first_failing_rps: search.first_failing(),
        ending,
        verdict,
        reasons,
        autoscaling: capacity_rps.map(|c| Autoscaling::of(c, args.tasks, plan.headroom)),
        baseline,
        steps,
    }
}
