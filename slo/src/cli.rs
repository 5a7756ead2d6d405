//! The `slo` command: `validate` checks the SLO files, `generate` writes what is generated
//! from them, `generate --check` says whether the committed files are up to date.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::{cloudwatch, dashboards, model, prometheus};

/// Exit codes, shown at the end of `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   the SLOs are valid (and the generated files written, or up to date with --check)
  1   a generated file differs from what the SLOs give (--check), or a file cannot be written
  64  an SLO file is invalid (every problem is listed, naming the file, the SLO and the field), or usage";

/// Exit code for an invalid SLO file or usage.
pub const EXIT_USAGE: u8 = 64;

/// The SLOs of the sum API (OpenSLO v1 files in slo/): validate them, and generate the
/// Prometheus rules and the other files that derive from them.
#[derive(Debug, Parser)]
#[command(name = "slo", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check SLO files; lists every problem and exits 64 when there is one.
    Validate {
        /// The files (default: every *.yaml in slo/ of the repository).
        files: Vec<PathBuf>,
    },
    /// Write every file generated from the SLOs (run from the repository root).
    Generate {
        /// Write nothing: exit 1 when a generated file differs from what it would be.
        #[arg(long)]
        check: bool,
        /// The repository root (default: the current directory).
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

/// A generated file: its path from the repository root, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// Its whole text.
    pub text: String,
}

/// Every `*.yaml` of `dir`, sorted.
pub fn slo_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The hand-written boards the error-budget views are generated into (the end of each).
pub const GRAFANA_BOARD: &str = "dashboards/grafana/sum-api.json";
/// The CloudWatch dashboard the CloudWatch-backed SLOs' widgets go into.
pub const CLOUDWATCH_BOARD: &str = "dashboards/cloudwatch/service-overview.json";

/// Every file generated from `slos`, for the repository at `root` (whose boards get their
/// generated part replaced).
pub fn generate(slos: &[model::Slo], root: &Path) -> Result<Vec<Generated>, String> {
    let board = |path: &str| {
        std::fs::read_to_string(root.join(path)).map_err(|e| format!("cannot read {path}: {e}"))
    };
    let grafana = dashboards::splice(
        &board(GRAFANA_BOARD)?,
        "panels",
        dashboards::GRAFANA_MARKER,
        |y| dashboards::grafana_panels(slos, y),
    )
    .map_err(|e| format!("{GRAFANA_BOARD}: {e}"))?;
    let cloudwatch = dashboards::splice(
        &board(CLOUDWATCH_BOARD)?,
        "widgets",
        dashboards::CLOUDWATCH_MARKER,
        |y| dashboards::cloudwatch_widgets(slos, y),
    )
    .map_err(|e| format!("{CLOUDWATCH_BOARD}: {e}"))?;
    Ok(vec![
        Generated {
            path: PathBuf::from("alarms/prometheus/slo.rules.yml"),
            text: prometheus::rules(slos),
        },
        Generated {
            path: PathBuf::from("alarms/cloudwatch-slo.yaml"),
            text: cloudwatch::alarms(slos),
        },
        Generated {
            path: PathBuf::from(GRAFANA_BOARD),
            text: grafana,
        },
        Generated {
            path: PathBuf::from(CLOUDWATCH_BOARD),
            text: cloudwatch,
        },
    ])
}

/// Reads and checks the SLOs of the repository at `root` (its `slo/` directory).
pub fn load_repo(root: &Path) -> Result<Vec<model::Slo>, model::Problems> {
    let dir = root.join("slo");
    let files = slo_files(&dir).map_err(|e| {
        model::Problems(vec![model::Problem {
            file: dir.clone(),
            slo: None,
            field: String::new(),
            message: format!("cannot list the SLO files: {e}"),
        }])
    })?;
    model::load(&files)
}

/// Runs one parsed command line; returns the exit code.
pub fn execute(cli: Cli) -> u8 {
    match cli.command {
        Command::Validate { files } => {
            let loaded = if files.is_empty() {
                load_repo(Path::new("."))
            } else {
                model::load(&files)
            };
            match loaded {
                Ok(slos) => {
                    for slo in &slos {
                        println!(
                            "{}: SLO {} ok: {} of events good over {}",
                            slo.file.display(),
                            slo.name,
                            prometheus::num(slo.target * 100.0) + "%",
                            model::prometheus_duration(slo.window_secs)
                        );
                    }
                    0
                }
                Err(problems) => {
                    eprintln!("{problems}");
                    EXIT_USAGE
                }
            }
        }
        Command::Generate { check, root } => {
            let slos = match load_repo(&root) {
                Ok(slos) => slos,
                Err(problems) => {
                    eprintln!("{problems}");
                    return EXIT_USAGE;
                }
            };
            let mut stale = 0;
            let files = match generate(&slos, &root) {
                Ok(files) => files,
                Err(e) => {
                    eprintln!("{e}");
                    return 1;
                }
            };
            for file in files {
                let path = root.join(&file.path);
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current == file.text {
                    continue;
                }
                if check {
                    eprintln!(
                        "{} is not what slo/ gives: run `cargo run -p slo -- generate` and commit it",
                        file.path.display()
                    );
                    stale += 1;
                } else if let Err(e) = std::fs::write(&path, &file.text) {
                    eprintln!("cannot write {}: {e}", path.display());
                    return 1;
                } else {
                    println!("wrote {}", file.path.display());
                }
            }
            u8::from(stale > 0)
        }
    }
}
