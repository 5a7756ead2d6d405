//! `loadgen run`: validate the flags, check every output path and open the interval log, run,
//! then build the report, print and write it; the verdict is the exit code.

use crate::config::{RunArgs, RunConfig, Stop};
use crate::exit;
use crate::interrupt;
use crate::outputs::{self, check_output};
use crate::recorder::IntervalSink;
use crate::report::Report;
use crate::report::hlog::{HlogMeta, HlogWriter};
use crate::run::run_blocking;
use crate::verdict;

/// `loadgen run`: validate, say which SLOs of `--slo-file` give no gate (stderr), run, print
/// the text summary (on stderr when the JSON report goes to stdout), write the JSON report and
/// files, and map the verdict to the exit code (exit 1 when the target never accepted a
/// connection and the run was stopped early). SIGINT or SIGTERM during the run stop it: the
/// reports of what ran are written with the verdict `aborted` (exit 4; see [`interrupt`]).
pub fn run_command(args: &RunArgs) -> u8 {
    let cfg = match RunConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::USAGE;
        }
    };
    let sink = match run_outputs(args, &cfg) {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::USAGE;
        }
    };
    for note in &cfg.slo_notes {
        eprintln!("loadgen: {note}");
    }
    if let Err(e) = interrupt::install() {
        eprintln!("loadgen: warning: {e}; Ctrl-C will end the run without reports");
    }
    let measured = match run_blocking(&cfg, sink) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return exit::FAILURE;
        }
    };
    let mut report = Report::build(
        &measured.summary,
        &measured.meta,
        &cfg.slos,
        cfg.baseline.as_ref(),
    );
    if let Some(why) = &measured.aborted {
        let judged = (report.verdict, std::mem::take(&mut report.reasons));
        (report.verdict, report.reasons) = verdict::abort(judged, why.to_string());
    }
    if let Err(e) = outputs::write_all(&report, &measured.summary, cfg.json.as_deref(), &args.files)
    {
        eprintln!("loadgen: {e}");
        return exit::FAILURE;
    }
    if let Some(why) = &measured.aborted {
        // The user's stop comes first, whatever else cut the run short.
        eprintln!("loadgen: {why}");
        return exit::ABORTED;
    }
    if let Some(why) = &measured.gave_up {
        // What ran is reported above; the verdict is not a breach but a failure to test.
        eprintln!("loadgen: {why}");
        return exit::FAILURE;
    }
    report.verdict.exit_code()
}

/// Checks `--json`/`--hgrm`/`--html`/`--hlog` paths and opens the interval log, whose writer
/// streams each second during the run. Errors are usage errors (exit 64), so a typo in a path
/// never costs a whole run.
pub fn run_outputs(
    args: &RunArgs,
    cfg: &RunConfig,
) -> Result<Option<Box<dyn IntervalSink>>, String> {
    args.files.check()?;
    outputs::check_json(args.gates.json.as_deref())?;
    let Some(path) = &args.hlog else {
        return Ok(None);
    };
    check_output("--hlog", path)?;
    let meta = HlogMeta {
        generator: cfg.generator_id.clone(),
        url: Some(cfg.label.clone()),
        target_rate: cfg.rate(),
        stages: cfg.ramp.as_ref().map(ToString::to_string),
        window: match cfg.stop {
            Stop::Duration(d) => Some(d),
            Stop::Requests(_) => None,
        },
    };
    let writer = HlogWriter::create(path, meta).map_err(|e| e.to_string())?;
    Ok(Some(Box::new(writer)))
}
