//! Reports a release engineer reads: a `--targets` mix gets one row per entry (status counts,
//! error kinds, percentiles) in the text summary, the JSON report and the HTML page, so the
//! entry that got the 400s shows; the rows survive the interval log (`report`, `merge`). The
//! HTML page, rendered by headless Chromium, draws the latency gates as labelled lines on both
//! latency plots, shows corrected and uncorrected latency as distinct lines, and its plots are
//! as wide as the page.

use crate::common;
use crate::output::chromium;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use common::{TestServer, loadgen, stderr, stdout};
use loadgen::recorder::{Answer, Recorder};
use loadgen::report::hlog::{HlogMeta, HlogWriter};
use serde_json::Value;
use testkit::tempdir;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("JSON report written"))
        .expect("valid JSON")
}

fn assert_valid_report(report: &Value) {
    let schema: Value =
        serde_json::from_str(loadgen::report::json::SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// The rows of a report as (label, requests, status counts, http_4xx, error rate).
fn rows(r: &Value) -> Vec<(String, u64, Value, u64, f64)> {
    r["targets"]
        .as_array()
        .expect("targets rows")
        .iter()
        .map(|t| {
            (
                t["label"].as_str().expect("label").to_string(),
                t["requests"].as_u64().expect("requests"),
                t["status_counts"].clone(),
                t["errors_by_kind"]["http_4xx"].as_u64().expect("http_4xx"),
                t["error_rate"].as_f64().expect("error rate"),
            )
        })
        .collect()
}

#[test]
fn a_mix_shows_which_entry_got_the_400s() {
    let server = TestServer::start(None);
    let dir = tempdir::unique("loadgen-rows");
    let targets = dir.join("targets.json");
    let base = server.url("");
    std::fs::write(
        &targets,
        format!(
            r#"[{{"url":"{base}/status/400","method":"POST","body":"{{\"a\":1}}"}},
                {{"url":"{base}/fast","weight":3}}]"#
        ),
    )
    .expect("write targets");
    let (out_json, html, hlog) = (dir.join("r.json"), dir.join("r.html"), dir.join("r.hlog"));
    let o = loadgen(
        &[
            "run",
            "--targets",
            s(&targets),
            "-n",
            "200",
            "-c",
            "1",
            "--quiet",
            "--generator-id",
            "gen-a",
            "--json",
            s(&out_json),
            "--html",
            s(&html),
            "--hlog",
            s(&hlog),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&out_json);
    assert_valid_report(&r);
    let total = r["requests"]["total"].as_u64().expect("total");
    let got = rows(&r);
    assert_eq!(got.len(), 2, "{r}");
    let (bad, good) = (&got[0], &got[1]);
    assert_eq!(bad.0, "POST /status/400");
    assert_eq!(good.0, "GET /fast");
    assert_eq!(bad.1 + good.1, total);
    assert_eq!((bad.1, good.1), (50, 150), "the weights: {got:?}");
    assert_eq!(bad.2, serde_json::json!({ "400": bad.1 }));
    assert_eq!(good.2, serde_json::json!({ "200": good.1 }));
    assert_eq!(
        (bad.3, bad.4),
        (bad.1, 1.0),
        "every 400 is the first entry's"
    );
    assert_eq!((good.3, good.4), (0, 0.0));
    for t in r["targets"].as_array().expect("rows") {
        let l = &t["latency_ms"]["corrected"];
        assert!(l["p99"].as_f64().expect("p99") > 0.0, "{t}");
        assert!(l["p99"].as_f64() <= l["max"].as_f64(), "{t}");
    }

    // The text summary: one line per entry, with its status counts.
    let text = stdout(&o);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no row `{name}` in:\n{text}"))
            .to_string()
    };
    assert!(
        line("#0 POST /status/400").ends_with(&format!("400: {}", bad.1)),
        "{text}"
    );
    assert!(
        line("#1 GET /fast").ends_with(&format!("200: {}", good.1)),
        "{text}"
    );

    // The HTML page: the same rows in a table of their own.
    let page = std::fs::read_to_string(&html).expect("html");
    let table = page
        .split("<table id=\"targets\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("a per-entry table");
    let first = table
        .split("<tr>")
        .find(|row| row.contains("#0 POST /status/400"))
        .expect("the first entry's row");
    assert!(first.contains(&format!("400: {}", bad.1)), "{first}");
    assert!(first.contains(&format!("http_4xx {}", bad.1)), "{first}");
    assert!(table.contains("#1 GET /fast"), "{table}");

    // The interval log keeps the rows: `report` of it shows the same table.
    let again = dir.join("again.json");
    let o = loadgen(&["report", s(&hlog), "--json", s(&again)], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let back = json(&again);
    assert_valid_report(&back);
    assert_eq!(rows(&back), got);
    assert_eq!(back["errors_by_kind"], r["errors_by_kind"]);
    for (a, b) in back["targets"]
        .as_array()
        .expect("rows")
        .iter()
        .zip(r["targets"].as_array().expect("rows"))
    {
        assert_eq!(a["latency_ms"], b["latency_ms"], "same histograms");
    }

    // Two generators of the same mix merge row by row.
    let (hlog_b, merged) = (dir.join("b.hlog"), dir.join("merged.json"));
    let o = loadgen(
        &[
            "run",
            "--targets",
            s(&targets),
            "-n",
            "40",
            "-c",
            "1",
            "--quiet",
            "--generator-id",
            "gen-b",
            "--hlog",
            s(&hlog_b),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = loadgen(&["merge", s(&hlog), s(&hlog_b), "--json", s(&merged)], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = rows(&json(&merged));
    assert_eq!(m[0].0, "POST /status/400");
    assert_eq!(m[0].1, bad.1 + 10);
    assert_eq!(m[1].1, good.1 + 30);
}

/// An interval log of known latencies: a request per ms for 4 s, corrected 1..=20 ms and
/// uncorrected half of it.
fn known_log(path: &Path) {
    let epoch = Instant::now();
    let root = Recorder::new(epoch, SystemTime::now());
    root.set_sink(Box::new(
        HlogWriter::create(
            path,
            HlogMeta {
                generator: Some("gen-html".into()),
                url: Some("http://127.0.0.1:9/api".into()),
                target_rate: Some(1000.0),
                ..HlogMeta::default()
            },
        )
        .expect("create hlog"),
    ));
    let mut root = root;
    let mut w = root.fork();
    for i in 0..4000u64 {
        let done = epoch + Duration::from_millis(i + 20);
        let took = Duration::from_millis(1 + i % 20);
        w.record_answer(Answer::Status(200), 0, done - took, done - took / 2, done);
    }
    root.merge(&w);
    root.finish().map_err(|(_, e)| e).expect("hlog written");
}

/// The `points` of the `<polyline>`s of `svg` drawn in `colour` (`#RRGGBB`), and whether each
/// is dashed.
fn lines_of(svg: &str, colour: &str) -> Vec<(usize, bool)> {
    svg.split("<polyline")
        .skip(1)
        .filter_map(|p| {
            let tag = p.split('>').next()?;
            if !tag.contains(&format!("stroke=\"{colour}\"")) {
                return None;
            }
            let points = tag.split("points=\"").nth(1)?.split('"').next()?;
            Some((
                points.split(' ').filter(|x| x.contains(',')).count(),
                tag.contains("stroke-dasharray"),
            ))
        })
        .collect()
}

#[test]
fn the_html_plots_draw_the_slo_lines_both_latencies_and_fill_the_page() {
    let dir = tempdir::unique("loadgen-html-slo");
    let log = dir.join("known.hlog");
    known_log(&log);
    let html = dir.join("report.html");
    let o = loadgen(
        &[
            "report",
            s(&log),
            "--html",
            s(&html),
            "--slo",
            "p99<25ms",
            "--slo",
            "max<10s",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(!page.contains("<script"), "the report stays script-free");

    // A copy that measures its own layout once rendered; the report itself has no script.
    let measure = "<script>document.body.insertAdjacentHTML('beforeend', '<pre id=\"measured\">' \
        + document.body.clientWidth + ' ' + Array.from(document.querySelectorAll('figure svg'), \
        s => Math.round(s.getBoundingClientRect().width)).join(' ') + '</pre>');</script></body>";
    let probe = dir.join("probe.html");
    std::fs::write(&probe, page.replace("</body>", measure)).expect("write the probe page");
    let dom = chromium(
        &dir,
        &["--dump-dom".into(), format!("file://{}", probe.display())],
    );

    // Plots as wide as the page: every one spans the body's width, beyond its 900 px drawing.
    let measured: Vec<f64> = dom
        // The last one: the script's own text holds the tag too.
        .rsplit("<pre id=\"measured\">")
        .next()
        .and_then(|m| m.split("</pre>").next())
        .expect("the probe ran")
        .split_whitespace()
        .map(|v| v.parse().expect("a number"))
        .collect();
    let (body, svgs) = measured.split_first().expect("body width");
    assert_eq!(svgs.len(), 4, "{measured:?}");
    assert!(
        *body > 900.0,
        "the page is wider than a plot's drawing: {measured:?}"
    );
    for w in svgs {
        assert!(
            (w - body).abs() <= 2.0,
            "a plot {w} px wide in a {body} px page"
        );
    }

    let figure = |id: &str| {
        dom.split(&format!("<figure id=\"{id}\">"))
            .nth(1)
            .and_then(|f| f.split("</figure>").next())
            .unwrap_or_else(|| panic!("no figure {id}"))
            .to_string()
    };
    for id in ["percentiles", "latency-over-time"] {
        let f = figure(id);
        // The gate's line: dashed, across the plot, and labelled (on the plot and in the legend).
        let slo = lines_of(&f, "#D81B60");
        assert!(
            slo.iter().any(|&(n, dashed)| n == 2 && dashed),
            "{id}: no SLO line: {slo:?}"
        );
        assert!(
            f.matches("SLO p99&lt;25ms").count() >= 2,
            "{id}: the line is labelled on the plot and in the legend"
        );
        assert!(!f.contains("max&lt;10s"), "{id}: off the scale, not drawn");
    }
    assert!(
        dom.contains("SLO max&lt;10s (10000 ms) is above this plot"),
        "the gate off the scale is said"
    );
    // Corrected and uncorrected: distinct colours, the uncorrected dashed on top.
    let p = figure("percentiles");
    let (corrected, uncorrected) = (lines_of(&p, "#C62828"), lines_of(&p, "#0277BD"));
    assert!(
        corrected.iter().any(|&(n, dashed)| n >= 3 && !dashed),
        "{corrected:?}"
    );
    assert!(
        uncorrected.iter().any(|&(n, dashed)| n >= 3 && dashed),
        "{uncorrected:?}"
    );
    assert!(p.contains("corrected (from intended send)"));
    assert!(p.contains("uncorrected (from actual send)"));
    let t = figure("latency-over-time");
    assert!(
        t.contains("p99 uncorrected"),
        "legend names the uncorrected line"
    );
    assert!(
        lines_of(&t, "#1565C0")
            .iter()
            .any(|&(n, dashed)| n >= 3 && dashed),
        "uncorrected p99 per second drawn"
    );
    assert!(
        lines_of(&t, "#EF6C00")
            .iter()
            .any(|&(n, dashed)| n >= 3 && !dashed),
        "corrected p99 per second drawn"
    );
}
