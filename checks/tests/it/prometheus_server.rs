//! A real Prometheus server (Debian's `prometheus`, installed by `scripts/deps/apt.sh`) scrapes
//! the real service as `job="sum-api"` while loadgen drives traffic through it, and evaluates the
//! committed rule files. What a user of the rules and boards would check, asked of Prometheus'
//! HTTP API:
//!
//! - every rule group of the files is loaded and evaluates without errors;
//! - every recording rule records a series for each SLO it is written for;
//! - every query of the Grafana boards (the service's and the SLO board) returns data, with the
//!   board's variables as Grafana would fill them in, and the `instance` variable lists the target;
//! - healthy traffic (good answers and a few 400s, which are the client's doing) spends no
//!   availability budget: the error ratio is 0 over every window, the budget remaining is 1 and no
//!   burn alert fires.
//!
//! Prometheus scrapes and evaluates every second here (the files say nothing about intervals), so
//! that a few seconds of traffic give each rate two samples. It runs on a free loopback port with a
//! storage directory of its own and is killed when the test ends, also when it fails.

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;

/// The rule files Prometheus evaluates: the rules generated from `slo/` and the service's own.
const RULE_FILES: [&str; 2] = [
    "alarms/prometheus/slo.rules.yml",
    "alarms/prometheus/sum-api.rules.yml",
];

/// The Grafana boards whose every query must return data (the SLO panels generated into its
/// end included).
const BOARDS: [&str; 1] = ["dashboards/grafana/sum-api.json"];

/// What installs Prometheus, named when it is missing.
const INSTALL: &str = "scripts/deps/apt.sh prometheus";

/// The SLO whose budget healthy traffic must leave untouched.
const AVAILABILITY: &str = "sum-api-availability";

/// The latency SLO: its error ratio is checked to count answers, not to be 1 by construction.
const LATENCY: &str = "sum-api-latency";

/// Grafana's variables as Grafana fills them in: every instance, and a rate window many scrape
/// intervals long (Grafana's `$__rate_interval` is at least four of them).
const GRAFANA_VARIABLES: [(&str, &str); 8] = [
    ("${__rate_interval}", "1m"),
    ("$__rate_interval", "1m"),
    ("${__interval}", "1m"),
    ("$__interval", "1m"),
    ("${__range}", "5m"),
    ("$__range", "5m"),
    ("${instance}", ".*"),
    ("$instance", ".*"),
];

/// How long the data may take to appear once the traffic has run (scrapes and rule evaluations
/// run every second; the first rates need two scrapes).
const SETTLE: Duration = Duration::from_secs(30);

/// How long Prometheus may take to open its storage and become ready.
const READY: Duration = Duration::from_secs(20);

/// Attempts at starting Prometheus: a free port may be taken by someone else before it binds.
const START_ATTEMPTS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_server_scrapes_the_service_and_every_rule_and_panel_query_has_data() {
    let binary = common::tool("prometheus", INSTALL);
    let expected = Expected::read();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client");

    let service = service::start(service::Config::loopback(&[]).expect("service flags"))
        .await
        .expect("the service starts");
    let dir = common::temp_dir("prometheus-server");
    let prometheus = Prometheus::start(&client, &binary, &dir, service.metrics_addr()).await;

    // Prometheus applies its scrape targets a few seconds after it is ready: traffic sent before
    // the first scrape would be one flat sample, and every rate 0.
    prometheus.wait_scraped(&client).await;
    drive_traffic(&dir, service.addr()).await;

    let deadline = Instant::now() + SETTLE;
    let mut problems = Vec::new();
    for _ in 0..SETTLE.as_secs() {
        problems = expected.problems(&client, &prometheus.base).await;
        if problems.is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        problems.is_empty(),
        "after {SETTLE:?} of scrapes and evaluations:\n- {}\n\nPrometheus' log ({}):\n{}",
        problems.join("\n- "),
        prometheus.log.display(),
        prometheus.log_tail()
    );

    drop(prometheus);
    service.shutdown().await;
    // Kept when the test fails (for the log); nothing worth keeping once it passed.
    let _ = fs::remove_dir_all(&dir);
}

/// Loadgen's weighted mix against the service for a few seconds: good sums and, one in twenty,
/// a truncated body (a 400, which must not count against availability).
async fn drive_traffic(dir: &Path, service: SocketAddr) {
    let url = format!("http://{service}/api/v1/sum");
    let targets = json!([
        {"url": url, "method": "POST", "weight": 19,
         "headers": {"content-type": "application/json"}, "body": "{\"numbers\":[1,2,3]}"},
        {"url": url, "method": "POST", "weight": 1,
         "headers": {"content-type": "application/json"}, "body": "{\"numbers\":"},
    ]);
    let targets_file = dir.join("targets.json");
    fs::write(&targets_file, targets.to_string()).expect("write the targets file");
    let run = tokio::process::Command::new(common::built("loadgen"))
        .arg("run")
        .arg("--targets")
        .arg(&targets_file)
        .args(["--rate", "100", "--duration", "4s", "--connections", "4"])
        .args(["--threads", "1", "--max-lag", "1s", "--quiet"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("loadgen finishes within 60 s")
        .expect("loadgen runs");
    assert!(
        out.status.success(),
        "loadgen's run passes ({}):\n{}",
        out.status,
        common::text(&out)
    );
}

/// A Prometheus server of the test's own, killed (and waited for) when dropped.
struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    base: String,
    /// Its stdout and stderr.
    log: PathBuf,
}

impl Prometheus {
    /// Writes the config (scrape `target` as `job="sum-api"`, evaluate [`RULE_FILES`], both every
    /// second) into `dir` and starts Prometheus on a free loopback port, storing under `dir`.
    async fn start(
        client: &reqwest::Client,
        binary: &Path,
        dir: &Path,
        target: SocketAddr,
    ) -> Prometheus {
        let root = common::root();
        let rule_files: Vec<String> = RULE_FILES
            .iter()
            .map(|f| format!("  - {}\n", quoted(&root.join(f).display().to_string())))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{}\
             scrape_configs:\n  - job_name: sum-api\n    static_configs:\n      - targets: [{}]\n",
            rule_files.concat(),
            quoted(&target.to_string()),
        );
        let config_file = dir.join("prometheus.yml");
        fs::write(&config_file, config).expect("write the Prometheus config");

        for attempt in 1..=START_ATTEMPTS {
            let port = testkit::ports::free_port();
            let log = dir.join(format!("prometheus-{attempt}.log"));
            let out = fs::File::create(&log).expect("create the Prometheus log");
            let err = out.try_clone().expect("share the Prometheus log");
            let child = Command::new(binary)
                .arg(format!("--config.file={}", config_file.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join(format!("data-{attempt}")).display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut prometheus = Prometheus {
                child,
                base: format!("http://127.0.0.1:{port}"),
                log,
            };
            match prometheus.wait_ready(client).await {
                Ok(()) => return prometheus,
                Err(why)
                    if attempt < START_ATTEMPTS
                        && prometheus.log_tail().contains("address already in use") =>
                {
                    eprintln!("Prometheus on port {port}: {why}; trying another port");
                }
                Err(why) => panic!(
                    "Prometheus did not become ready: {why}\n{}:\n{}",
                    prometheus.log.display(),
                    prometheus.log_tail()
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Polls `/-/ready` until it answers 200, for at most [`READY`].
    async fn wait_ready(&mut self, client: &reqwest::Client) -> Result<(), String> {
        let deadline = Instant::now() + READY;
        let url = format!("{}/-/ready", self.base);
        for _ in 0..READY.as_millis() / 100 {
            if let Some(status) = self.child.try_wait().expect("poll Prometheus") {
                return Err(format!("it exited ({status})"));
            }
            if let Ok(resp) = client.get(&url).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("{url} did not answer 200 within {READY:?}"))
    }

    /// Polls until the service's target has been scraped (`up{job="sum-api"} == 1`), for at most
    /// [`READY`].
    async fn wait_scraped(&self, client: &reqwest::Client) {
        let expr = "up{job=\"sum-api\"} == 1";
        let deadline = Instant::now() + READY;
        for _ in 0..READY.as_millis() / 200 {
            if matches!(query(client, &self.base, expr.to_owned()).await, Ok(s) if !s.is_empty()) {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "Prometheus did not scrape the service within {READY:?} ({expr} is empty)\n{}:\n{}",
            self.log.display(),
            self.log_tail()
        );
    }

    /// The end of its log, for failure messages.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

/// What the committed files promise, read once; [`Expected::problems`] asks Prometheus.
struct Expected {
    /// Rule group name → how many rules it has, over all [`RULE_FILES`].
    groups: BTreeMap<String, usize>,
    /// Each recording rule as the selector of its series (name and labels), with its file.
    recordings: Vec<(String, &'static str)>,
    /// Each Grafana query, variables filled in, with where it is (board, panel, refId).
    panels: Vec<(String, String)>,
    /// Each `label_values(selector, label)` template variable, as (where, selector, label).
    variables: Vec<(String, String, String)>,
}

impl Expected {
    fn read() -> Expected {
        let root = common::root();
        let mut groups = BTreeMap::new();
        let mut recordings = Vec::new();
        for file in RULE_FILES {
            let text = fs::read_to_string(root.join(file)).expect("read a rule file");
            let rules = checks::promql::parse_rules(&text)
                .unwrap_or_else(|e| panic!("{file} does not parse: {e}"));
            for group in rules.groups {
                for rule in &group.rules {
                    if let Some(record) = &rule.record {
                        let labels: Vec<String> = rule
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}={}", quoted(v)))
                            .collect();
                        recordings.push((format!("{record}{{{}}}", labels.join(", ")), file));
                    }
                }
                groups.insert(group.name, group.rules.len());
            }
        }
        for slo in [AVAILABILITY, LATENCY] {
            assert!(
                recordings.iter().any(|(s, _)| s.contains(&quoted(slo))),
                "{} records nothing for {slo}",
                RULE_FILES[0]
            );
        }

        let mut panels = Vec::new();
        let mut variables = Vec::new();
        for board in BOARDS {
            let text = fs::read_to_string(root.join(board)).expect("read a board");
            let dashboard: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{board}: {e}"));
            collect_panels(board, &dashboard["panels"], &mut panels);
            for var in dashboard["templating"]["list"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if var["type"] != "query" {
                    continue;
                }
                let name = var["name"].as_str().unwrap_or("?");
                let query = var["query"]["query"]
                    .as_str()
                    .or_else(|| var["query"].as_str())
                    .or_else(|| var["definition"].as_str())
                    .unwrap_or_default();
                let (selector, label) = label_values(query).unwrap_or_else(|| {
                    panic!("{board}: variable {name}: not label_values(selector, label): {query}")
                });
                variables.push((format!("{board}: variable {name}"), selector, label));
            }
        }
        assert!(!panels.is_empty(), "the boards have no queries");
        Expected {
            groups,
            recordings,
            panels,
            variables,
        }
    }

    /// Everything Prometheus does not (yet) answer as promised; empty when all is well.
    async fn problems(&self, client: &reqwest::Client, base: &str) -> Vec<String> {
        let mut problems = rule_health(client, base, &self.groups).await;
        let ask = |expr: &str| query(client, base, expr.to_owned());

        for (selector, file) in &self.recordings {
            match ask(selector).await {
                Ok(series) if series.is_empty() => {
                    problems.push(format!("{file}: recording {selector} has no series"));
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{file}: recording {selector}: {e}")),
            }
        }
        for (place, expr) in &self.panels {
            if let Some(var) = expr.find('$') {
                problems.push(format!(
                    "{place}: a variable the test does not fill in: {}",
                    &expr[var..]
                ));
                continue;
            }
            match ask(expr).await {
                Ok(series) if series.is_empty() => {
                    problems.push(format!("{place}: no data for {expr}"));
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{place}: {expr}: {e}")),
            }
        }
        for (place, selector, label) in &self.variables {
            let expr = format!("count by ({label}) ({selector})");
            match ask(&expr).await {
                Ok(series) if !series.iter().any(|s| s["metric"][label].is_string()) => {
                    problems.push(format!("{place}: no value of {label} in {selector}"));
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{place}: {expr}: {e}")),
            }
        }

        // The traffic reached Prometheus as both good answers and 400s ...
        for status in ["200", "400"] {
            let expr = format!(
                "sum(sumapi_http_requests_total{{job=\"sum-api\", route=\"/api/v1/sum\", \
                 method=\"POST\", status=\"{status}\"}}) > 0"
            );
            if !matches!(ask(&expr).await, Ok(s) if !s.is_empty()) {
                problems.push(format!("no {status} answers scraped: {expr} is empty"));
            }
        }
        // Every selector an SLO counts with selects series that exist (the service exports the
        // sum route's 500 series from the start): a typo in any label of a bad-events selector
        // would otherwise read as "no errors" through the rules' `or vector(0)`.
        let slos =
            slo::cli::load_repo(&checks::repo_root()).expect("the repository's SLOs are valid");
        for slo in &slos {
            let selectors: Vec<String> = match &slo.sli {
                slo::model::Sli::Ratio {
                    counted: slo::model::Source::Prometheus(counted),
                    total: slo::model::Source::Prometheus(total),
                    ..
                } => vec![
                    counted.render(&counted.metric, &[]),
                    total.render(&total.metric, &[]),
                ],
                slo::model::Sli::Threshold {
                    source: slo::model::Source::Prometheus(histogram),
                    ..
                } => vec![histogram.render(&format!("{}_count", histogram.metric), &[])],
                _ => Vec::new(),
            };
            for selector in selectors {
                if !matches!(ask(&selector).await, Ok(s) if !s.is_empty()) {
                    problems.push(format!("SLO {}: {selector} selects no series", slo.name));
                }
            }
        }
        // ... and the 400s spent no availability budget, over any window.
        let availability = format!("{{slo={}}}", quoted(AVAILABILITY));
        for (expr, want) in [
            (
                format!(
                    "{{__name__=~\"slo:sli_error:ratio_rate.+\", slo={}}}",
                    quoted(AVAILABILITY)
                ),
                0.0,
            ),
            (
                format!("slo:error_budget_remaining:ratio{availability}"),
                1.0,
            ),
        ] {
            match values(&ask(&expr).await) {
                Ok(found) if !found.is_empty() && found.iter().all(|(_, v)| *v == want) => {}
                Ok(found) => {
                    problems.push(format!("{expr}: want {want} everywhere, got {found:?}"))
                }
                Err(e) => problems.push(format!("{expr}: {e}")),
            }
        }
        // The latency ratio counts answers: local answers are fast, so it is far from 1 (what a
        // `le` matching no bucket would give).
        let expr = format!("slo:sli_error:ratio_rate5m{{slo={}}}", quoted(LATENCY));
        match values(&ask(&expr).await) {
            Ok(found) if !found.is_empty() && found.iter().all(|(_, v)| *v < 0.5) => {}
            Ok(found) => problems.push(format!("{expr}: want < 0.5, got {found:?}")),
            Err(e) => problems.push(format!("{expr}: {e}")),
        }
        // Healthy traffic burns no budget: no burn alert is pending or firing.
        let expr = "ALERTS{alertname=\"SLOErrorBudgetBurn\"}";
        match ask(expr).await {
            Ok(alerts) if alerts.is_empty() => {}
            Ok(alerts) => problems.push(format!("burn alerts on healthy traffic: {alerts:?}")),
            Err(e) => problems.push(format!("{expr}: {e}")),
        }
        problems
    }
}

/// Every group of the rule files is loaded with all its rules, and each rule's last evaluation
/// succeeded (`health: ok`; `unknown` until its first evaluation).
async fn rule_health(
    client: &reqwest::Client,
    base: &str,
    groups: &BTreeMap<String, usize>,
) -> Vec<String> {
    let data = match api(client, format!("{base}/api/v1/rules")).await {
        Ok(data) => data,
        Err(e) => return vec![format!("/api/v1/rules: {e}")],
    };
    let mut problems = Vec::new();
    let mut loaded = BTreeMap::new();
    for group in data["groups"].as_array().into_iter().flatten() {
        let name = group["name"].as_str().unwrap_or("?");
        let rules = group["rules"].as_array().map_or(&[][..], Vec::as_slice);
        loaded.insert(name.to_owned(), rules.len());
        for rule in rules {
            if rule["health"] != "ok" {
                problems.push(format!(
                    "group {name}: rule {} is {} {}",
                    rule["name"], rule["health"], rule["lastError"]
                ));
            }
        }
    }
    if &loaded != groups {
        problems.push(format!(
            "rule groups loaded (name: rules) {loaded:?}, the files have {groups:?}"
        ));
    }
    problems
}

/// The panels' queries, in rows too, with Grafana's variables filled in.
fn collect_panels(board: &str, panels: &Value, out: &mut Vec<(String, String)>) {
    for panel in panels.as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or("?");
        for target in panel["targets"].as_array().into_iter().flatten() {
            let place = format!("{board}: panel {title:?} {}", target["refId"]);
            match target["expr"].as_str() {
                Some(expr) => out.push((place, fill_variables(expr))),
                None => out.push((place, "$ (a target without expr)".to_owned())),
            }
        }
        collect_panels(board, &panel["panels"], out);
    }
}

fn fill_variables(expr: &str) -> String {
    GRAFANA_VARIABLES
        .iter()
        .fold(expr.to_owned(), |e, (var, value)| e.replace(var, value))
}

/// `label_values(selector, label)` → (selector, label).
fn label_values(query: &str) -> Option<(String, String)> {
    let args = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = args.rsplit_once(',')?;
    Some((selector.trim().to_owned(), label.trim().to_owned()))
}

/// An instant query's result (vector or scalar; a scalar counts as one series).
async fn query(client: &reqwest::Client, base: &str, expr: String) -> Result<Vec<Value>, String> {
    let mut url = reqwest::Url::parse(&format!("{base}/api/v1/query")).expect("a query URL");
    url.query_pairs_mut().append_pair("query", &expr);
    let data = api(client, url.to_string()).await?;
    match data["resultType"].as_str() {
        Some("vector" | "matrix") => Ok(data["result"].as_array().cloned().unwrap_or_default()),
        Some("scalar") => Ok(vec![data["result"].clone()]),
        other => Err(format!("result type {other:?}")),
    }
}

/// The series' labels and values of a vector result.
fn values(result: &Result<Vec<Value>, String>) -> Result<Vec<(String, f64)>, String> {
    let series = result.as_ref().map_err(Clone::clone)?;
    series
        .iter()
        .map(|s| {
            let value = s["value"][1]
                .as_str()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no value in {s}"))?;
            Ok((s["metric"].to_string(), value))
        })
        .collect()
}

/// A Prometheus API call's `data`, or its error (`errorType: error`) as text.
async fn api(client: &reqwest::Client, url: String) -> Result<Value, String> {
    let resp = client.get(&url).send().await.map_err(|e| format!("{e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("HTTP {status}, not JSON: {e}"))?;
    if body["status"] == "success" {
        Ok(body["data"].clone())
    } else {
        Err(format!(
            "HTTP {status}: {} {}",
            body["errorType"], body["error"]
        ))
    }
}
