//! Certificate expiry, black-box: the real canary binary against Debian's nginx serving HTTPS
//! for `localhost` with a leaf certificate from a CA made in the test, whose validity period the
//! test chooses; the canary trusts that CA only through `SSL_CERT_FILE`, as it would trust a
//! private CA. A certificate with 5 days left fails the probe (blamed on the gateway) and
//! publishes about 5 in EMF and on stdout; one with a year left passes; an expired one and one
//! not valid yet each fail with a reason in words, never a panic, and still publish their days.
//! `CertificateDaysRemaining` carries the host name, never the URL, and reaches LocalStack's
//! CloudWatch. A bad `cert_min_days` (negative, NaN, absurd) is exit 64 naming the field.

use crate::common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use common::{LocalStack, Run, canary, config_file, finish};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use testkit::nginx::Nginx;
use testkit::tempdir;

const DAY: Duration = Duration::from_secs(86_400);
const METRIC: &str = "CertificateDaysRemaining";

/// A CA made for one test, and a `localhost` leaf certificate it signed, as PEM files in `dir`.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// A leaf valid from `not_before` to `not_after` (any times, past or future).
    fn new(name: &str, not_before: SystemTime, not_after: SystemTime) -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("canary test CA {name}"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        // The CA itself is valid for years around now: only the leaf's dates are under test.
        ca.not_before = (SystemTime::now() - 400 * DAY).into();
        ca.not_after = (SystemTime::now() + 4000 * DAY).into();
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
            .expect("self-signed CA certificate");
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf");
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.not_before = not_before.into();
        leaf.not_after = not_after.into();
        let leaf_key = KeyPair::generate().expect("leaf key");
        let cert = leaf
            .signed_by(&leaf_key, &*ca)
            .expect("leaf signed by the CA");
        let dir = tempdir::unique(&format!("canary-cert-{name}"));
        std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write ca.pem");
        std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write cert.pem");
        std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).expect("write key.pem");
        Pki { dir }
    }

    /// A leaf that became valid a day ago and expires `days` from now.
    fn expiring_in(name: &str, days: u64) -> Pki {
        let now = SystemTime::now();
        Pki::new(name, now - DAY, now + days as u32 * DAY)
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// nginx serving `{"status":"healthy"}` over HTTPS on a free loopback port with `pki`'s leaf;
/// stopped on drop.
fn https_nginx(pki: &Pki) -> Nginx {
    Nginx::start("canary-https-nginx", |dir, port| {
        format!(
            "master_process off;\ndaemon off;\npid {d}/nginx.pid;\n\
             error_log {d}/logs/error.log warn;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n\
             proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n\
             uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n  server {{\n\
             listen 127.0.0.1:{port} ssl;\n    server_name localhost;\n\
             ssl_certificate {p}/cert.pem;\n    ssl_certificate_key {p}/key.pem;\n\
             location / {{\n      default_type application/json;\n\
             return 200 '{{\"status\":\"healthy\"}}';\n    }}\n  }}\n}}\n",
            d = dir.display(),
            p = pki.dir.display(),
        )
    })
}

/// The URL of an [`https_nginx`], by the name its certificate is for.
fn https_url(nginx: &Nginx) -> String {
    format!("https://localhost:{}", nginx.port)
}

/// One `health` probe against `url`, no retries (a refused certificate is not worth retrying
/// in a test), EMF and stdout sinks, trusting only `pki`'s CA.
async fn probe(url: &str, pki: &Pki, extra: &str) -> Run {
    let config = config_file(&format!(
        "target = \"{url}\"\nenvironment = \"certs\"\nsinks = [\"emf\", \"stdout\"]\n{extra}\n\
         [[probes]]\nname = \"health\"\npath = \"/healthz\"\nretries = 0\n"
    ));
    let mut cmd = canary(None);
    cmd.env("SSL_CERT_FILE", pki.ca())
        .arg("run")
        .arg("--config")
        .arg(&config);
    finish(cmd).await
}

/// The `CertificateDaysRemaining` EMF records: (value, their dimensions as name => value).
fn emf_days(run: &Run) -> Vec<(f64, serde_json::Map<String, serde_json::Value>)> {
    run.emf()
        .into_iter()
        .filter(|r| r.get(METRIC).is_some())
        .map(|r| {
            let directive = &r["_aws"]["CloudWatchMetrics"][0];
            let names: Vec<&str> = directive["Dimensions"][0]
                .as_array()
                .expect("a dimension set")
                .iter()
                .map(|d| d.as_str().expect("dimension name"))
                .collect();
            let dims = names
                .iter()
                .map(|n| (n.to_string(), r[*n].clone()))
                .collect();
            (r[METRIC].as_f64().expect("a number"), dims)
        })
        .collect()
}

/// The stdout sink's `CertificateDaysRemaining` lines: (value, `Name=value` dimensions).
fn stdout_days(run: &Run) -> Vec<(f64, Vec<String>)> {
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("metric "))
        .filter_map(|l| l.split_once(&format!(" {METRIC}{{")))
        .map(|(_, rest)| {
            let (dims, rest) = rest.split_once("} ").expect("dimensions in braces");
            let value = rest.split(' ').next().expect("a value");
            let value = value.parse().unwrap_or_else(|_| panic!("{value}"));
            (value, dims.split(',').map(str::to_owned).collect())
        })
        .collect()
}

/// One datum per sink and dimension set for the round (the publisher may add a `Region` form
/// beside the plain one), each about `days`, with `Host=localhost` and never the URL, its port
/// or its scheme; the plain one has exactly `Environment` and `Host`.
fn assert_published(run: &Run, port: u16, days: f64) {
    let url_free = |v: &str| !v.contains("://") && !v.contains(&port.to_string());
    let emf = emf_days(run);
    assert!(!emf.is_empty(), "no EMF datum\n{}", run.all());
    let mut sets = Vec::new();
    for (value, dims) in &emf {
        assert!((value - days).abs() < 0.01, "EMF {value}, not ~{days}");
        assert_eq!(dims["Host"], "localhost", "{dims:?}");
        assert_eq!(dims["Environment"], "certs", "{dims:?}");
        for v in dims.values() {
            assert!(
                url_free(v.as_str().expect("text")),
                "a dimension holds the URL: {v}"
            );
        }
        let mut names: Vec<&String> = dims.keys().collect();
        names.sort();
        assert!(!sets.contains(&names), "twice in one run: {names:?}");
        sets.push(names);
    }
    assert!(
        sets.iter().any(|n| n == &["Environment", "Host"]),
        "no datum with exactly Environment and Host: {sets:?}"
    );
    let stdout = stdout_days(run);
    assert_eq!(stdout.len(), emf.len(), "{}", run.all());
    for (value, dims) in &stdout {
        assert!((value - days).abs() < 0.01, "stdout {value}, not ~{days}");
        assert!(dims.contains(&"Host=localhost".to_owned()), "{dims:?}");
        assert!(dims.iter().all(|d| url_free(d)), "{dims:?}");
    }
}

fn assert_no_panic(run: &Run) {
    assert!(!run.stderr.contains("panicked"), "{}", run.all());
}

/// The run failed (exit 1) without a panic, its `health` probe failing with the gateway to blame.
fn assert_health_failed_at_gateway(run: &Run) {
    assert_eq!(run.code, 1, "{}", run.all());
    assert_no_panic(run);
    assert!(
        run.stdout.contains("FAIL health") && run.stdout.contains("blame=gateway"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_with_days_left_under_the_minimum_fails_the_probe() {
    let pki = Pki::expiring_in("5d", 5);
    let nginx = https_nginx(&pki);
    let run = probe(&https_url(&nginx), &pki, "").await;
    assert_health_failed_at_gateway(&run);
    assert!(
        run.stdout
            .contains("certificate of localhost expires in 5 days (not valid after ")
            && run.stdout.contains("fewer than cert_min_days = 14"),
        "{}",
        run.all()
    );
    // The answer itself came (status 200): only the certificate failed the probe.
    assert!(run.stdout.contains("status=200"), "{}", run.all());
    assert_published(&run, nginx.port, 5.0);

    // A lower minimum, from the file or per probe, lets the same certificate pass.
    for extra in ["cert_min_days = 4.5", ""] {
        let config = config_file(&format!(
            "target = \"{}\"\nsinks = [\"stdout\"]\n{extra}\n[[probes]]\nname = \"health\"\n\
             path = \"/healthz\"\n{}\n",
            https_url(&nginx),
            if extra.is_empty() {
                "cert_min_days = 3"
            } else {
                ""
            }
        ));
        let mut cmd = canary(None);
        cmd.env("SSL_CERT_FILE", pki.ca())
            .args(["run", "--config"])
            .arg(&config);
        let run = finish(cmd).await;
        assert_eq!(run.code, 0, "{extra:?}\n{}", run.all());
    }
    // And the flag's minimum applies to every probe without one of its own.
    let config = config_file(&format!(
        "target = \"{}\"\nsinks = [\"stdout\"]\n[[probes]]\nname = \"health\"\npath = \"/healthz\"\n",
        https_url(&nginx)
    ));
    let mut cmd = canary(None);
    cmd.env("SSL_CERT_FILE", pki.ca())
        .env("CANARY_CERT_MIN_DAYS", "6")
        .args(["run", "--config"])
        .arg(&config);
    let run = finish(cmd).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stdout.contains("fewer than cert_min_days = 6"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_lived_certificate_passes_and_publishes_its_days() {
    let pki = Pki::expiring_in("365d", 365);
    let nginx = https_nginx(&pki);
    let run = probe(&https_url(&nginx), &pki, "").await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("PASS health"), "{}", run.all());
    assert_published(&run, nginx.port, 365.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_not_yet_valid_certificates_fail_with_a_reason_in_words() {
    let now = SystemTime::now();
    let expired = Pki::new("expired", now - 30 * DAY, now - 2 * DAY);
    let nginx = https_nginx(&expired);
    let run = probe(&https_url(&nginx), &expired, "").await;
    assert_health_failed_at_gateway(&run);
    assert!(
        run.stdout
            .contains("certificate of localhost expired 2 days ago (not valid after "),
        "{}",
        run.all()
    );
    // rustls' own text (Unix times) is replaced by the words above.
    assert!(!run.stdout.contains("UNIX"), "{}", run.all());
    assert_published(&run, nginx.port, -2.0);
    drop(nginx);

    let early = Pki::new("early", now + 2 * DAY, now + 400 * DAY);
    let nginx = https_nginx(&early);
    let run = probe(&https_url(&nginx), &early, "").await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert_no_panic(&run);
    assert!(
        run.stdout
            .contains("certificate of localhost not valid until ")
            && run.stdout.contains("(2 days from now)")
            && run.stdout.contains("blame=gateway"),
        "{}",
        run.all()
    );
    assert_published(&run, nginx.port, 400.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localstack_cloudwatch_receives_the_days_with_the_host_dimension() {
    let pki = Pki::expiring_in("cloudwatch", 30);
    let nginx = https_nginx(&pki);
    let localstack = LocalStack::start();
    let namespace = format!("Test/Certs{}", std::process::id());
    let config = config_file(&format!(
        "target = \"{}\"\nenvironment = \"certs\"\nnamespace = \"{namespace}\"\n\
         sinks = [\"cloudwatch\"]\n[[probes]]\nname = \"health\"\npath = \"/healthz\"\n",
        https_url(&nginx)
    ));
    let mut cmd = canary(Some(&localstack.endpoint()));
    cmd.env("SSL_CERT_FILE", pki.ca())
        .args(["run", "--config"])
        .arg(&config);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());

    let client = localstack.client().await;
    let listed = client
        .list_metrics()
        .namespace(&namespace)
        .metric_name(METRIC)
        .send()
        .await
        .expect("ListMetrics succeeds");
    // The series of all regions together: exactly Environment and Host.
    let mut plain = None;
    for metric in listed.metrics() {
        let dims: Vec<(String, String)> = metric
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_owned(),
                    d.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert!(
            dims.contains(&("Host".into(), "localhost".into())),
            "{dims:?}"
        );
        if dims.len() == 2 {
            plain = Some(dims);
        }
    }
    let dims = plain.expect("a series with dimensions Environment and Host");
    assert!(
        dims.contains(&("Environment".into(), "certs".into())),
        "{dims:?}"
    );
    let dims: Vec<(&str, &str)> = dims.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let stat = common::stat(&client, &namespace, METRIC, &dims)
        .await
        .expect("a datapoint");
    // LocalStack also counts series that have more dimensions than asked for (the publisher's
    // `Region` form of the same datum), where CloudWatch matches exactly: one run, one or two.
    assert!((1.0..=2.0).contains(&stat.samples), "{stat:?}");
    assert!((stat.minimum - 30.0).abs() < 0.01, "{stat:?}");
    assert!((stat.maximum - 30.0).abs() < 0.01, "{stat:?}");
    assert_eq!(stat.unit, "None", "{stat:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cert_min_days_is_exit_64_naming_the_field() {
    for (value, shown) in [
        ("-1", "-1 is not a number of days"),
        ("NaN", "NaN is not a number of days"),
        ("3651", "3651 is not a number of days from 0 to 3650"),
        ("inf", "inf is not a number of days"),
        ("two weeks", "\"two weeks\" is not a number of days"),
    ] {
        let mut cmd = canary(None);
        cmd.args(["validate", "--target", "https://api.example.com"])
            .args(["--cert-min-days", value]);
        let run = finish(cmd).await;
        assert_eq!(run.code, 64, "{value}\n{}", run.all());
        assert_no_panic(&run);
        let line =
            format!("`cert_min_days` (from --cert-min-days or CANARY_CERT_MIN_DAYS): {shown}");
        assert!(run.stderr.contains(&line), "{line} not in\n{}", run.all());
    }

    // In the file, globally and per probe, listed with every other problem at once.
    let file = config_file(
        "target = \"https://api.example.com\"\ncert_min_days = -0.5\ntimeout = \"soon\"\n\
         [[probes]]\nname = \"a\"\npath = \"/\"\ncert_min_days = nan\n\
         [[probes]]\nname = \"b\"\npath = \"/\"\ncert_min_days = 99999\n\
         [[probes]]\nname = \"c\"\npath = \"/\"\ncert_min_days = \"14\"\n",
    );
    let path = file.display().to_string();
    let mut cmd = canary(None);
    cmd.args(["validate", "--config", &path]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 64, "{}", run.all());
    assert_no_panic(&run);
    for e in [
        "2:1: `cert_min_days`: -0.5 is not a number of days from 0 to 3650",
        "3:1: `timeout`: \"soon\" is not a duration",
        "7:1: `probes[0].cert_min_days`: NaN is not a number of days",
        "11:1: `probes[1].cert_min_days`: 99999 is not a number of days",
        "15:17: `probes[2].cert_min_days`: invalid type: string \"14\"",
    ] {
        let line = format!("{path}:{e}");
        assert!(
            run.stderr.lines().any(|l| l.trim().starts_with(&line)),
            "{line} not a line of\n{}",
            run.all()
        );
    }

    // 0 is valid: no minimum (an expired certificate still fails).
    let mut cmd = canary(None);
    cmd.args([
        "validate",
        "--target",
        "https://api.example.com",
        "--cert-min-days",
        "0",
    ]);
    let run = finish(cmd).await;
    assert_eq!(run.code, 0, "{}", run.all());
}
