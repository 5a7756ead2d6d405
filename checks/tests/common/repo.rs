//! The repository's data as the definition checks see it: the catalog of emitted metrics (from
//! the `service` and `canary` crates' constants), the alarm file before and after rendering,
//! the CloudWatch dashboards, and the rule checks shared by positive and negative tests.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use checks::alarms::{self, AlarmFile};
use checks::catalog::{CanaryVocabulary, Catalog};
use checks::metric;
use checks::promql::{self, RulesFile};
use checks::schedule;
use checks::template;

use super::root;

pub fn read(rel: &str) -> String {
    let path = root().join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn catalog() -> Catalog {
    use canary::metrics as cm;
    use canary::suite;
    Catalog::new(
        &service::metrics::ALL,
        CanaryVocabulary {
            namespace: cm::DEFAULT_NAMESPACE,
            dim_environment: cm::DIM_ENVIRONMENT,
            dim_probe: cm::DIM_PROBE,
            dim_region: cm::DIM_REGION,
            dim_host: cm::DIM_HOST,
            all: cm::ALL,
            per_run: &[cm::RUN_STARTED, cm::HEARTBEAT],
            per_host: &[cm::CERTIFICATE_DAYS_REMAINING],
            probes: &[
                suite::HEALTH,
                suite::SUM,
                suite::AUTH_MISSING_KEY,
                suite::AUTH_BAD_KEY,
                suite::RATE_LIMIT_HEADERS,
            ],
        },
    )
}

pub fn vars() -> BTreeMap<String, String> {
    let mut v = checks::sample_variables();
    v.insert(
        "canary_namespace".into(),
        canary::metrics::DEFAULT_NAMESPACE.into(),
    );
    v
}

pub const ALARMS: &str = "alarms/cloudwatch.yaml";
/// The SLO burn-rate alarms generated from `slo/`, deployed with [`ALARMS`].
pub const SLO_ALARMS: &str = "alarms/cloudwatch-slo.yaml";
/// Every alarm file the observability module deploys.
pub const DEPLOYED_ALARMS: [&str; 2] = [ALARMS, SLO_ALARMS];

/// The alarm file before and after rendering.
pub fn alarm_files_from(text: &str) -> (AlarmFile, AlarmFile) {
    parsed(ALARMS, text)
}

/// The sample list variables: the canary's regions.
pub fn lists() -> BTreeMap<String, Vec<String>> {
    checks::sample_lists()
}

/// The alarm file `path` holding `text`, before and after rendering. "Before" is rendered too,
/// with every string variable standing for itself (`${environment}`) and the n-th item of each
/// list for itself (`${canary_regions[1]}`), so that its alarms and queries line up with the
/// rendered ones however many regions a loop repeats; a number stays the sample's (YAML would read
/// `${canary_quorum}` as text where a number belongs).
pub fn parsed(path: &str, text: &str) -> (AlarmFile, AlarmFile) {
    let symbolic: BTreeMap<String, String> = vars()
        .into_iter()
        .map(|(name, value)| {
            let own = format!("${{{name}}}");
            (
                name,
                if value.parse::<f64>().is_ok() {
                    value
                } else {
                    own
                },
            )
        })
        .collect();
    let symbolic_lists: BTreeMap<String, Vec<String>> = lists()
        .into_iter()
        .map(|(name, items)| {
            let own = (0..items.len())
                .map(|i| format!("${{{name}[{i}]}}"))
                .collect();
            (name, own)
        })
        .collect();
    let raw = template::render_with_lists(text, &symbolic, &symbolic_lists)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let raw = alarms::parse(&raw).unwrap_or_else(|e| panic!("{path} (symbolic) is not valid: {e}"));
    let rendered = template::render_with_lists(text, &vars(), &lists())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let rendered =
        alarms::parse(&rendered).unwrap_or_else(|e| panic!("{path} (rendered) is not valid: {e}"));
    (raw, rendered)
}

/// Every deployed alarm file: (path, before rendering, after rendering).
pub fn deployed_alarm_files() -> Vec<(&'static str, AlarmFile, AlarmFile)> {
    DEPLOYED_ALARMS
        .into_iter()
        .map(|path| {
            let (raw, rendered) = parsed(path, &read(path));
            (path, raw, rendered)
        })
        .collect()
}

pub fn alarm_files() -> (AlarmFile, AlarmFile) {
    alarm_files_from(&read(ALARMS))
}

/// Every metric problem of an alarm file.
pub fn alarm_metric_problems(raw: &AlarmFile, rendered: &AlarmFile) -> Vec<String> {
    let catalog = catalog();
    let mut problems = Vec::new();
    for (r, a) in raw.alarms.iter().zip(&rendered.alarms) {
        for (raw_ref, ref_) in r.metric_refs().iter().zip(a.metric_refs()) {
            if let Err(e) = metric::check(&ref_, raw_ref, &catalog) {
                problems.push(format!("alarm `{}`: {e}", a.name));
            }
        }
    }
    problems
}

pub fn cloudwatch_dashboards() -> Vec<(String, String)> {
    let dir = root().join("dashboards/cloudwatch");
    let mut out: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.display().to_string(),
                fs::read_to_string(&p).expect("readable dashboard"),
            )
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 2,
        "expected the service overview and canary dashboards in {}",
        dir.display()
    );
    out
}

pub fn runbook(name: &str) -> PathBuf {
    root().join("alarms/runbooks").join(name)
}

pub fn assert_no_problems(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

/// The canary's schedule intervals: the stack's default and the example tfvars.
pub fn canary_schedules() -> Vec<(String, u64)> {
    let variables = read("terraform/environments/dev/canary/variables.tf");
    let default = schedule::variable_default(&variables, "schedule_expression")
        .expect("schedule_expression has a default");
    let mut expressions = vec![default];
    expressions.extend(schedule::string_assignment(
        &read("terraform/environments/dev/canary/terraform.tfvars.example"),
        "schedule_expression",
    ));
    expressions
        .into_iter()
        .map(|e| {
            let interval = schedule::interval(&e)
                .unwrap_or_else(|| panic!("cannot read an interval from {e}"));
            (e, interval.as_secs())
        })
        .collect()
}

/// What is wrong with the dead-man alarms of `file` (every alarm on the canary's Heartbeat)
/// for these schedules, and which of the canary's regions (the sample's) has none of its own.
pub fn dead_man_problems(file: &AlarmFile, schedules: &[(String, u64)]) -> Vec<String> {
    let dead_men: Vec<&alarms::Alarm> = file
        .alarms
        .iter()
        .filter(|a| a.metric_name.as_deref() == Some(canary::metrics::HEARTBEAT))
        .collect();
    if dead_men.is_empty() {
        return vec!["no alarm on the canary's Heartbeat".into()];
    }
    let mut problems = Vec::new();
    for region in &lists()["canary_regions"] {
        let covered = dead_men.iter().any(|d| {
            d.dimensions
                .as_ref()
                .and_then(|dims| dims.get(canary::metrics::DIM_REGION))
                == Some(region)
        });
        if !covered {
            problems.push(format!(
                "no alarm on the canary's Heartbeat in region {region}: its silence would go unseen while another region runs"
            ));
        }
    }
    for d in dead_men {
        problems.extend(
            one_dead_man_problems(d, schedules)
                .into_iter()
                .map(|p| format!("`{}`: {p}", d.name)),
        );
    }
    problems
}

/// What is wrong with one dead-man alarm for these schedules.
fn one_dead_man_problems(d: &alarms::Alarm, schedules: &[(String, u64)]) -> Vec<String> {
    let mut problems = Vec::new();
    if d.treat_missing_data != "breaching" {
        problems.push(format!(
            "treat_missing_data is {}: a silent canary must alarm (breaching)",
            d.treat_missing_data
        ));
    }
    if d.statistic.as_deref() != Some("Sum")
        || d.comparison != "LessThanThreshold"
        || d.threshold != 1.0
    {
        problems.push("must be Heartbeat Sum < 1".into());
    }
    if d.datapoints_to_alarm >= d.evaluation_periods {
        problems.push("M of N needs M < N, to tolerate one late run".into());
    }
    // CloudWatch would take up to a week of hourly periods; a dead man silent for more than a
    // day before it fires is no dead man.
    let window = u64::from(d.evaluation_periods) * u64::from(d.period);
    if window > alarms::MAX_SUB_HOUR_WINDOW_SECONDS {
        problems.push(format!(
            "EvaluationPeriods x Period = {window} s exceeds 86400 s"
        ));
    }
    for (expression, interval) in schedules {
        if u64::from(d.period) < *interval {
            problems.push(format!("period {} s is shorter than the canary's schedule {expression}: healthy periods would breach", d.period));
        }
    }
    problems
}

pub fn mutated(from: &str, to: &str) -> (AlarmFile, AlarmFile) {
    let text = read(ALARMS);
    assert!(text.contains(from), "fixture text `{from}` not in {ALARMS}");
    alarm_files_from(&text.replacen(from, to, 1))
}

/// Every Prometheus rules file (`alarms/prometheus/*.rules.yml`, the hand-written alerts and the
/// SLO rules generated from `slo/`): (path from the repository root, its rules), by path.
pub fn prometheus_rules() -> Vec<(String, RulesFile)> {
    let mut paths: Vec<String> = fs::read_dir(root().join("alarms/prometheus"))
        .expect("alarms/prometheus")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".rules.yml"))
        .map(|name| format!("alarms/prometheus/{name}"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 2,
        "expected sum-api.rules.yml and slo.rules.yml: {paths:?}"
    );
    paths
        .into_iter()
        .map(|path| {
            let rules = promql::parse_rules(&read(&path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            (path, rules)
        })
        .collect()
}
