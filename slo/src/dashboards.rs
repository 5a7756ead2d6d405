//! The error-budget views: a Grafana board of the Prometheus-backed SLOs (budget remaining,
//! the SLI against its objective, the burn rate per window against the alerts' factors) and a
//! CloudWatch dashboard of the CloudWatch-backed ones (the same, from metric math), both
//! generated so that every SLO gets its panels and no panel names an SLO that is gone.
//!
//! The CloudWatch dashboard is a template in the schema of `dashboards/cloudwatch/*.json`
//! (Terraform renders `${region}`, `${environment}`, … and makes one dashboard per file).

use serde_json::{Value, json};

use crate::burn::BURNS;
use crate::cloudwatch::Query;
use crate::model::{Backend, Sli, Slo, prometheus_duration};
use crate::prometheus::num;

/// The Grafana dashboard's uid (the service board links to it).
pub const GRAFANA_UID: &str = "sum-api-slo";

/// The windows whose burn rate the boards plot: the alerts' long windows and the shortest.
fn plotted_windows() -> Vec<u64> {
    let mut windows: Vec<u64> = BURNS.iter().map(|b| b.long_secs).collect();
    windows.insert(0, BURNS[0].short_secs);
    windows.dedup();
    windows
}

/// The Grafana board, as pretty JSON text.
pub fn grafana(slos: &[Slo]) -> String {
    let datasource = json!({ "type": "prometheus", "uid": "$datasource" });
    let mut panels = Vec::new();
    let mut y = 0;
    let mut burns = BURNS.to_vec();
    // Grafana reads threshold steps in ascending order.
    burns.sort_by(|a, b| a.factor.total_cmp(&b.factor));
    let factors: Vec<Value> = burns
        .iter()
        .map(|b| json!({ "color": if b.severity == crate::burn::Severity::Page { "red" } else { "orange" }, "value": number(b.factor) }))
        .collect();
    for slo in slos.iter().filter(|s| s.backend() == Backend::Prometheus) {
        let id = panels.len() as u64 + 1;
        let name = &slo.name;
        let window = prometheus_duration(slo.window_secs);
        panels.push(json!({
            "id": id,
            "type": "row",
            "title": format!("{} ({name}): {}", slo.display_name, slo.description),
            "gridPos": { "x": 0, "y": y, "w": 24, "h": 1 },
            "collapsed": false,
            "panels": []
        }));
        y += 1;
        panels.push(json!({
            "id": id + 1,
            "type": "stat",
            "title": format!("Error budget remaining ({window})"),
            "datasource": datasource,
            "gridPos": { "x": 0, "y": y, "w": 6, "h": 6 },
            "fieldConfig": { "defaults": {
                "unit": "percentunit",
                "thresholds": { "mode": "absolute", "steps": [
                    { "color": "red", "value": null },
                    { "color": "orange", "value": 0 },
                    { "color": "green", "value": 0.25 }
                ] }
            }, "overrides": [] },
            "targets": [{
                "refId": "A",
                "datasource": datasource,
                "expr": format!("slo:error_budget_remaining:ratio{{slo=\"{name}\"}}"),
                "legendFormat": "budget remaining"
            }]
        }));
        panels.push(json!({
            "id": id + 2,
            "type": "stat",
            "title": format!("SLI over {window} (objective {}%)", num(slo.target * 100.0)),
            "datasource": datasource,
            "gridPos": { "x": 6, "y": y, "w": 6, "h": 6 },
            "fieldConfig": { "defaults": {
                "unit": "percentunit",
                "decimals": 3,
                "thresholds": { "mode": "absolute", "steps": [
                    { "color": "red", "value": null },
                    { "color": "green", "value": slo.target }
                ] }
            }, "overrides": [] },
            "targets": [{
                "refId": "A",
                "datasource": datasource,
                "expr": format!("1 - slo:sli_error:ratio_rate{window}{{slo=\"{name}\"}}"),
                "legendFormat": "good events"
            }]
        }));
        let targets: Vec<Value> = plotted_windows()
            .into_iter()
            .enumerate()
            .map(|(i, secs)| {
                let w = prometheus_duration(secs);
                json!({
                    "refId": ((b'A' + i as u8) as char).to_string(),
                    "datasource": datasource,
                    "expr": format!("slo:sli_error:ratio_rate{w}{{slo=\"{name}\"}} / on(slo) slo:error_budget:ratio{{slo=\"{name}\"}}"),
                    "legendFormat": format!("burn rate over {w}")
                })
            })
            .collect();
        let mut steps = vec![json!({ "color": "green", "value": null })];
        steps.extend(factors.iter().cloned());
        panels.push(json!({
            "id": id + 3,
            "type": "timeseries",
            "title": "Burn rate per window (1 = the budget lasts exactly the window; lines: the alerts' factors)",
            "datasource": datasource,
            "gridPos": { "x": 12, "y": y, "w": 12, "h": 6 },
            "fieldConfig": { "defaults": {
                "unit": "none",
                "custom": { "thresholdsStyle": { "mode": "line" } },
                "thresholds": { "mode": "absolute", "steps": steps }
            }, "overrides": [] },
            "targets": targets
        }));
        y += 6;
    }
    let board = json!({
        "uid": GRAFANA_UID,
        "title": "sum API SLOs: error budgets and burn rates (generated from slo/)",
        "description": "Generated from slo/*.yaml by `cargo run -p slo -- generate`: do not edit. docs/slo.md explains budgets and burn rates.",
        "tags": ["sum-api", "slo"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": false,
        "refresh": "1m",
        "time": { "from": "now-7d", "to": "now" },
        "templating": { "list": [
            { "name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus" }
        ] },
        "links": [
            { "title": "sum API", "type": "link", "url": "/d/sum-api" }
        ],
        "panels": panels
    });
    pretty(&board)
}

/// The CloudWatch dashboard template, as pretty JSON text.
pub fn cloudwatch(slos: &[Slo]) -> String {
    let mut widgets = vec![json!({
        "type": "text",
        "x": 0, "y": 0, "width": 24, "height": 2,
        "properties": { "markdown": "## sum API (${environment}) - SLOs measured in CloudWatch: error budgets and burn rates\nGenerated from slo/*.yaml (`cargo run -p slo -- generate`). Budget remaining is over the dashboard's time range: set it to the SLO's window (30 days). Runbook: [error budget burn](${runbook_base_url}/SLOErrorBudgetBurn.md)" }
    })];
    let mut y = 2;
    for slo in slos.iter().filter(|s| s.backend() == Backend::CloudWatch) {
        let Some((queries, bad)) = queries(&slo.sli) else {
            continue;
        };
        let budget = num(slo.budget());
        let mut budget_rows = queries.clone();
        budget_rows.push(json!([{
            "expression": format!("100 * (1 - ({bad} / IF(total > 0, total, 1)) / {budget})"),
            "label": "budget remaining (%)",
            "id": "remaining"
        }]));
        widgets.push(json!({
            "type": "metric",
            "x": 0, "y": y, "width": 8, "height": 6,
            "properties": {
                "title": format!("{}: error budget remaining over the time range (objective {}%)", slo.display_name, num(slo.target * 100.0)),
                "region": "${region}",
                "view": "singleValue",
                "setPeriodToTimeRange": true,
                "metrics": budget_rows
            }
        }));
        let mut burn_rows = queries.clone();
        burn_rows.push(json!([{
            "expression": format!("({bad} / IF(total > 0, total, 1)) / {budget}"),
            "label": "burn rate (per hour)",
            "id": "burn"
        }]));
        let lines: Vec<Value> = BURNS
            .iter()
            .map(|b| json!({ "label": format!("{} {}x", b.severity.label(), num(b.factor)), "value": number(b.factor) }))
            .collect();
        widgets.push(json!({
            "type": "metric",
            "x": 8, "y": y, "width": 16, "height": 6,
            "properties": {
                "title": format!("{}: burn rate per hour (1 = the budget lasts the window)", slo.display_name),
                "region": "${region}",
                "view": "timeSeries",
                "stacked": false,
                "period": 3600,
                "metrics": burn_rows,
                "annotations": { "horizontal": lines }
            }
        }));
        y += 6;
    }
    pretty(&json!({ "widgets": widgets }))
}

/// The metric rows (hidden) of an SLI, and the expression of its bad events over them.
fn queries(sli: &Sli) -> Option<(Vec<Value>, String)> {
    let layout = crate::cloudwatch::layout(sli)?;
    let rows = layout
        .queries
        .iter()
        .map(|query| match query {
            Query::Metric { id, metric, stat } => {
                let mut row = vec![json!(metric.namespace), json!(metric.metric_name)];
                for (name, value) in &metric.dimensions {
                    row.push(json!(name));
                    row.push(json!(value));
                }
                row.push(json!({ "id": id, "stat": stat, "visible": false }));
                Value::Array(row)
            }
            Query::Expression { id, expression } => {
                json!([{ "expression": expression, "id": id, "visible": false }])
            }
        })
        .collect();
    Some((rows, layout.bad))
}

/// `x` as JSON, a whole number without a fraction (as Terraform's `jsondecode` reads it back).
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;
    use std::path::Path;

    fn slos() -> Vec<Slo> {
        parse(
            Path::new("slo/sum-api.yaml"),
            include_str!("../sum-api.yaml"),
        )
        .expect("valid")
    }

    #[test]
    fn every_prometheus_slo_gets_a_row_with_budget_sli_and_burn_panels() {
        let board: Value = serde_json::from_str(&grafana(&slos())).expect("JSON");
        let panels = board["panels"].as_array().expect("panels");
        let rows: Vec<&str> = panels
            .iter()
            .filter(|p| p["type"] == "row")
            .filter_map(|p| p["title"].as_str())
            .collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows[0].contains("(sum-api-availability)"));
        let exprs: Vec<&str> = panels
            .iter()
            .flat_map(|p| p["targets"].as_array().into_iter().flatten())
            .filter_map(|t| t["expr"].as_str())
            .collect();
        assert!(exprs.contains(&"slo:error_budget_remaining:ratio{slo=\"sum-api-latency\"}"));
        assert!(exprs.iter().any(|e| {
            e.starts_with("slo:sli_error:ratio_rate3d{slo=\"sum-api-availability\"} / on(slo)")
        }));
        let ids: Vec<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique, "panel ids are unique");
    }

    #[test]
    fn every_cloudwatch_slo_gets_a_budget_and_a_burn_widget() {
        let body: Value = serde_json::from_str(&cloudwatch(&slos())).expect("JSON");
        let widgets = body["widgets"].as_array().expect("widgets");
        let cloudwatch = slos()
            .iter()
            .filter(|s| s.backend() == Backend::CloudWatch)
            .count();
        assert_eq!(widgets.len(), 1 + 2 * cloudwatch);
        let budget = &widgets
            .iter()
            .find(|w| {
                w["properties"]["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Sum API synthetic availability: error budget"))
            })
            .expect("the synthetic SLO's budget widget")["properties"];
        assert_eq!(budget["setPeriodToTimeRange"], true);
        let last = budget["metrics"]
            .as_array()
            .and_then(|m| m.last())
            .expect("rows");
        assert_eq!(
            last[0]["expression"],
            "100 * (1 - ((total - FILL(counted, 0)) / IF(total > 0, total, 1)) / 0.001)"
        );
    }
}
