//! Helpers of the canary's black-box tests: LocalStack's CloudWatch on a free port (started by
//! `scripts/localstack.sh`, killed on drop; reusable by the dead-man test), the real service
//! behind the local gateway, the real `canary` binary, config files, and reading metrics back
//! from CloudWatch and from EMF records; the alarms as Terraform renders them, and their queries
//! as it passes them to CloudWatch. Ports, temp dirs and the scripted stub target come from
//! `testkit`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use testkit::ports::free_port;
use testkit::tempdir;

/// The canary consumer's key in tests: distinctive, so a leak is easy to find.
pub const CANARY_KEY: &str = "ck-test-5f2b9e71c0a84d3e9b1f6a2d7c4e8b03";
/// The origin secret between the local gateway and the service.
pub const ORIGIN_SECRET: &str = "origin-test-3c9d2a7e";
/// The canary consumer's per-minute limit in `gateway/kong.yaml`.
pub const CANARY_RATE_LIMIT: u64 = 20;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_path_buf()
}

/// LocalStack's CloudWatch, running until dropped.
pub struct LocalStack {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    stopped: bool,
}

impl LocalStack {
    /// Starts it on a free port and waits for `Ready.`; fails the test (naming the install
    /// script) when it cannot run here.
    pub fn start() -> LocalStack {
        let script = repo_root().join("scripts/localstack.sh");
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let dir = tempdir::unique("canary-localstack");
            // LocalStack inside a container keeps its state under $TMPDIR/localstack and
            // deletes that folder when it stops: a private TMPDIR keeps parallel instances apart.
            let tmp = dir.join("tmp");
            std::fs::create_dir_all(&tmp).expect("create LocalStack's TMPDIR");
            let out = Command::new(&script)
                .args(["start", &port.to_string()])
                .arg(&dir)
                .env("TMPDIR", &tmp)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
            if out.status.success() {
                return LocalStack {
                    port,
                    dir,
                    stopped: false,
                };
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = Command::new(&script).arg("stop").arg(&dir).status();
        }
        panic!(
            "LocalStack's CloudWatch did not start. It is installed by scripts/deps/localstack.sh \
             (run by scripts/test.sh; needs Python >= 3.12). Last output:\n{last}"
        );
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it now (the port then refuses connections).
    pub fn stop(&mut self) {
        if !self.stopped {
            let _ = Command::new(repo_root().join("scripts/localstack.sh"))
                .arg("stop")
                .arg(&self.dir)
                .status();
            // The stop script signals the process group; wait until the port is closed.
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            self.stopped = true;
        }
    }

    /// A CloudWatch client for reading back what the canary published.
    pub async fn client(&self) -> Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .endpoint_url(self.endpoint())
            .load()
            .await;
        Client::new(&config)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The real service behind the real local gateway.
pub struct Stack {
    pub service: Option<service::RunningService>,
    pub gateway: gateway::local::LocalGateway,
}

impl Stack {
    /// The gateway's base URL (what the canary targets).
    pub fn url(&self) -> String {
        self.gateway.base_url()
    }

    /// Stops the service; the gateway keeps running and answers 502.
    pub async fn stop_service(&mut self) {
        if let Some(s) = self.service.take() {
            s.shutdown().await;
        }
    }
}

/// A service config on free loopback ports that requires the gateway's origin secret.
pub fn service_config() -> service::Config {
    let mut config = service::Config::loopback(&[]).expect("service test flags parse");
    config.workers = Some(1);
    config.origin_secrets = vec![ORIGIN_SECRET.to_owned()];
    config
}

/// Starts the service and, in front of it, the local gateway from `gateway/kong.yaml`
/// (`auth: false` turns key-auth off, a misconfigured gateway).
pub async fn stack(auth: bool) -> Stack {
    let service = service::start(service_config())
        .await
        .expect("the service starts");
    let mut builder = gateway::local::LocalGateway::committed()
        .expect("gateway/kong.yaml loads")
        .upstream(service.addr())
        .consumer_key("canary", CANARY_KEY)
        .origin_secret(ORIGIN_SECRET);
    if !auth {
        builder = builder.without_auth();
    }
    let gateway = builder.start().unwrap_or_else(|e| {
        panic!("the local gateway did not start ({e}); nginx and libnginx-mod-http-lua are installed by scripts/deps/apt.sh")
    });
    Stack {
        service: Some(service),
        gateway,
    }
}

/// What one canary process did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Both streams, for leak checks and failure messages.
    pub fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    /// The EMF records on stdout.
    pub fn emf(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EMF line {l}: {e}")))
            .collect()
    }
}

/// The canary binary with a clean environment: the test key, test AWS credentials pointing at
/// `aws_endpoint` (or nowhere), no instance metadata lookups.
pub fn canary(aws_endpoint: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_canary"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CANARY_API_KEY", CANARY_KEY)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(e) = aws_endpoint {
        cmd.env("AWS_ENDPOINT_URL", e);
    }
    cmd
}

/// Runs a prepared canary command to completion (at most 60 s).
pub async fn finish(mut cmd: tokio::process::Command) -> Run {
    let child = cmd.spawn().expect("the canary binary starts");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the canary finishes within 60 s")
        .expect("the canary's output is readable");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs one round of the suite in `config` against `target` (stdout sink, plus `extra` flags)
/// and asserts that it exits 0 with every one of its `probes` probes passed.
pub async fn assert_round_passes(config: &str, target: &str, extra: &[&str], probes: usize) {
    let mut cmd = canary(None);
    cmd.args(["run", "--once", "--config", config, "--sink", "stdout"])
        .args(["--target", target])
        .args(extra);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let verdict = format!("verdict: PASS ({probes} of {probes} probes passed)");
    assert!(run.stdout.contains(&verdict), "{}", run.all());
}

/// One statistic of a metric, read back with GetMetricStatistics over the last 10 minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    pub samples: f64,
    pub unit: String,
}

/// Reads one metric back (`None` when CloudWatch has no datapoint for it).
pub async fn stat(
    client: &Client,
    namespace: &str,
    metric: &str,
    dims: &[(&str, &str)],
) -> Option<Stat> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = SystemTime::now();
    let out = client
        .get_metric_statistics()
        .namespace(namespace)
        .metric_name(metric)
        .set_dimensions(Some(
            dims.iter()
                .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
                .collect(),
        ))
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::Minimum)
        .statistics(Statistic::Maximum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .expect("GetMetricStatistics succeeds");
    let points = out.datapoints();
    if points.is_empty() {
        return None;
    }
    let mut s = Stat {
        sum: 0.0,
        minimum: f64::INFINITY,
        maximum: f64::NEG_INFINITY,
        samples: 0.0,
        unit: String::new(),
    };
    for p in points {
        s.sum += p.sum().unwrap_or(0.0);
        s.minimum = s.minimum.min(p.minimum().unwrap_or(f64::INFINITY));
        s.maximum = s.maximum.max(p.maximum().unwrap_or(f64::NEG_INFINITY));
        s.samples += p.sample_count().unwrap_or(0.0);
        s.unit = p.unit().map(|u| u.as_str().to_owned()).unwrap_or_default();
    }
    Some(s)
}

/// A config file in its own temporary directory, removed on drop.
pub struct TempConfig {
    path: PathBuf,
}

impl TempConfig {
    /// Its path.
    pub fn display(&self) -> std::path::Display<'_> {
        self.path.display()
    }
}

impl AsRef<std::ffi::OsStr> for TempConfig {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Writes `contents` to a fresh config file.
pub fn config_bytes(contents: &[u8]) -> TempConfig {
    let path = tempdir::unique("canary-config").join("canary.toml");
    std::fs::write(&path, contents).expect("write config");
    TempConfig { path }
}

/// Writes `text` to a fresh config file.
pub fn config_file(text: &str) -> TempConfig {
    config_bytes(text.as_bytes())
}

/// The value of each metric in EMF records, keyed `Metric/Probe` (or `Metric` for per-run data).
pub fn emf_values(records: &[serde_json::Value]) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for r in records {
        for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
        {
            let name = m["Name"].as_str().expect("name");
            let key = match r.get("Probe").and_then(|p| p.as_str()) {
                Some(p) => format!("{name}/{p}"),
                None => name.to_owned(),
            };
            out.insert(key, r[name].as_f64().expect("value"));
        }
    }
    out
}

/// An alarm file of the repository (`alarms/cloudwatch.yaml`, `alarms/cloudwatch-slo.yaml`)
/// rendered as Terraform renders it, for `environment`, the canary's default namespace and a
/// canary in us-east-1 and us-west-2.
pub fn rendered_alarms(file: &str, environment: &str) -> checks::alarms::AlarmFile {
    let path = checks::repo_root().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut vars = checks::sample_variables();
    vars.insert("environment".into(), environment.into());
    vars.insert(
        "canary_namespace".into(),
        canary::metrics::DEFAULT_NAMESPACE.into(),
    );
    // The regions the tests' canaries run in: common::canary's AWS_REGION first.
    let lists = [(
        "canary_regions".to_string(),
        vec!["us-east-1".to_string(), "us-west-2".to_string()],
    )]
    .into_iter()
    .collect();
    let rendered = checks::template::render_with_lists(&text, &vars, &lists)
        .unwrap_or_else(|e| panic!("{file} renders: {e:?}"));
    checks::alarms::parse(&rendered).unwrap_or_else(|e| panic!("{file} parses: {e}"))
}

/// The metric math queries of an alarm, as the observability module passes them to
/// PutMetricAlarm.
pub fn alarm_queries(
    def: &checks::alarms::Alarm,
) -> Vec<aws_sdk_cloudwatch::types::MetricDataQuery> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let period = i32::try_from(def.period).expect("a CloudWatch period fits");
    def.metrics
        .iter()
        .flatten()
        .map(|q| {
            let stat = q.metric.as_ref().map(|m| {
                let dimensions = m
                    .dimensions
                    .iter()
                    .map(|(n, v)| Dimension::builder().name(n).value(v).build())
                    .collect();
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace(&m.namespace)
                            .metric_name(&m.metric_name)
                            .set_dimensions(Some(dimensions))
                            .build(),
                    )
                    .period(period)
                    .stat(&m.stat)
                    .build()
            });
            MetricDataQuery::builder()
                .id(&q.id)
                .set_expression(q.expression.clone())
                .set_label(q.label.clone())
                .set_metric_stat(stat)
                .return_data(q.return_data)
                .build()
        })
        .collect()
}
