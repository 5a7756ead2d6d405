//! The error-budget views: panels for the Prometheus-backed SLOs (budget remaining, the SLI
//! against its objective, the burn rate per window against the alerts' factors) at the end of
//! the service's Grafana board, and widgets for the CloudWatch-backed ones (the same, from
//! metric math) at the end of the CloudWatch service dashboard, generated so that every SLO
//! gets its panels and no panel names an SLO that is gone.
//!
//! The boards are hand-written above the generated part: [`splice`] replaces, as text, every
//! element of the board's `panels` (or `widgets`) array from the generated part's marker to the
//! end, and leaves the hand-written part byte for byte as it is. The CloudWatch widgets are a
//! template like the rest of that dashboard (Terraform renders `${region}`, `${environment}`).

use serde_json::{Value, json};

use crate::burn::BURNS;
use crate::cloudwatch::Query;
use crate::model::{Backend, Sli, Slo, prometheus_duration};
use crate::prometheus::num;

/// The title of the Grafana row that starts the generated part (its marker).
pub const GRAFANA_MARKER: &str =
    "Error budgets (generated from slo/ by `cargo run -p slo -- generate`: do not edit below)";

/// The first words of the CloudWatch text widget that starts the generated part (its marker).
pub const CLOUDWATCH_MARKER: &str = "## Error budgets (generated from slo/";

/// Ids of generated Grafana panels start here, clear of the hand-written ones.
const FIRST_ID: u64 = 1000;

/// The windows whose burn rate the boards plot: the alerts' long windows and the shortest.
fn plotted_windows() -> Vec<u64> {
    let mut windows: Vec<u64> = BURNS.iter().map(|b| b.long_secs).collect();
    windows.insert(0, BURNS[0].short_secs);
    windows.dedup();
    windows
}

/// The generated panels of the Grafana board, placed from row `y` down.
pub fn grafana_panels(slos: &[Slo], mut y: u64) -> Vec<Value> {
    let datasource = json!({ "type": "prometheus", "uid": "$datasource" });
    let mut panels = vec![json!({
        "id": FIRST_ID,
        "type": "row",
        "title": GRAFANA_MARKER,
        "gridPos": { "x": 0, "y": y, "w": 24, "h": 1 },
        "collapsed": false,
        "panels": []
    })];
    y += 1;
    let mut burns = BURNS.to_vec();
    // Grafana reads threshold steps in ascending order.
    burns.sort_by(|a, b| a.factor.total_cmp(&b.factor));
    let factors: Vec<Value> = burns
        .iter()
        .map(|b| json!({ "color": if b.severity == crate::burn::Severity::Page { "red" } else { "orange" }, "value": number(b.factor) }))
        .collect();
    for slo in slos.iter().filter(|s| s.backend() == Backend::Prometheus) {
        let id = FIRST_ID + panels.len() as u64;
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
    panels
}

/// The generated widgets of the CloudWatch service dashboard, placed from row `y` down.
pub fn cloudwatch_widgets(slos: &[Slo], mut y: u64) -> Vec<Value> {
    let mut widgets = vec![json!({
        "type": "text",
        "x": 0, "y": y, "width": 24, "height": 2,
        "properties": { "markdown": format!("{CLOUDWATCH_MARKER} by `cargo run -p slo -- generate`: do not edit below)\nThe SLOs measured in CloudWatch: error budget remaining over the dashboard's time range (set it to the SLO's window, 30 days) and burn rate per hour. Runbook: [error budget burn](${{runbook_base_url}}/SLOErrorBudgetBurn.md)") }
    })];
    y += 2;
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
    widgets
}

/// `board` (a dashboard's text) with the elements of its `key` array from the generated part's
/// `marker` on replaced by `generated` (appended when there is no generated part yet). The
/// hand-written part stays as it is; the generated part starts below its lowest element.
pub fn splice(
    board: &str,
    key: &str,
    marker: &str,
    generated: impl FnOnce(u64) -> Vec<Value>,
) -> Result<String, String> {
    let parsed: Value = serde_json::from_str(board).map_err(|e| format!("not JSON: {e}"))?;
    let elements = parsed[key]
        .as_array()
        .ok_or_else(|| format!("no `{key}` array"))?;
    // The marker is a Grafana row's title, or a CloudWatch text widget's markdown.
    let is_generated = |e: &Value| {
        [&e["title"], &e["properties"]["markdown"]]
            .into_iter()
            .any(|t| t.as_str().is_some_and(|t| t.starts_with(marker)))
    };
    let hand: Vec<&Value> = elements.iter().take_while(|e| !is_generated(e)).collect();
    let bottom = hand
        .iter()
        .map(|e| match (&e["gridPos"], e.get("y")) {
            (Value::Object(g), _) => g["y"].as_u64().unwrap_or(0) + g["h"].as_u64().unwrap_or(0),
            (_, Some(y)) => y.as_u64().unwrap_or(0) + e["height"].as_u64().unwrap_or(0),
            _ => 0,
        })
        .max()
        .unwrap_or(0);
    let text: Vec<String> = generated(bottom)
        .iter()
        .map(|e| indent(&serde_json::to_string_pretty(e).unwrap_or_default(), "    "))
        .collect();
    // The array's end: its closing bracket, the last `]` at the array's indentation.
    let end = board
        .rfind("\n  ]")
        .ok_or_else(|| format!("no closing `]` of `{key}` at two spaces"))?;
    let start = match board.find(&format!("\"{marker}")) {
        Some(at) if hand.len() < elements.len() => {
            // Back to the start of the element that holds the marker: the last line that opens
            // an element (`    {`) before it.
            let before = &board[..at];
            let open = before
                .rfind("\n    {")
                .ok_or("the generated part's first element does not start with `    {`")?;
            // And back over the comma that ended the hand-written part.
            before[..open].trim_end_matches(['\n', ',']).len()
        }
        _ => board[..end].trim_end().len(),
    };
    let separator = if hand.is_empty() { "\n" } else { ",\n" };
    Ok(format!(
        "{}{separator}{}{}",
        &board[..start],
        text.join(",\n"),
        &board[end..]
    ))
}

/// `text` with every line indented by `by`.
fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
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
        let panels = grafana_panels(&slos(), 30);
        assert_eq!(panels[0]["title"], GRAFANA_MARKER);
        assert_eq!(panels[0]["gridPos"]["y"], 30);
        let rows: Vec<&str> = panels[1..]
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
        assert!(ids.iter().all(|id| *id >= FIRST_ID));
    }

    #[test]
    fn every_cloudwatch_slo_gets_a_budget_and_a_burn_widget() {
        let widgets = cloudwatch_widgets(&slos(), 26);
        let cloudwatch = slos()
            .iter()
            .filter(|s| s.backend() == Backend::CloudWatch)
            .count();
        assert_eq!(widgets.len(), 1 + 2 * cloudwatch);
        assert_eq!(widgets[0]["y"], 26);
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

    const HAND: &str = "{\n  \"title\": \"t\",\n  \"panels\": [\n    {\n      \"id\": 1,\n      \"gridPos\": { \"x\": 0, \"y\": 0, \"w\": 24, \"h\": 8 }\n    }\n  ]\n}\n";

    fn generated(marker: &str, n: u64) -> impl FnOnce(u64) -> Vec<Value> + '_ {
        move |y| {
            (0..n)
                .map(|i| json!({ "title": if i == 0 { marker.to_owned() } else { format!("p{i}") }, "gridPos": { "y": y } }))
                .collect()
        }
    }

    #[test]
    fn splicing_appends_below_the_hand_written_part_then_replaces_only_the_generated_part() {
        let marker = "Error budgets (here)";
        let once = splice(HAND, "panels", marker, generated(marker, 2)).expect("spliced");
        let board: Value = serde_json::from_str(&once).expect("still JSON");
        let panels = board["panels"].as_array().expect("panels");
        assert_eq!(panels.len(), 3);
        assert_eq!(panels[1]["title"], marker);
        assert_eq!(panels[1]["gridPos"]["y"], 8, "below the hand-written panel");
        assert!(once.starts_with(&HAND[..HAND.find("\n  ]").expect("end")]));
        // Again, with fewer generated panels: the old ones are gone, the hand-written one stays.
        let twice = splice(&once, "panels", marker, generated(marker, 1)).expect("spliced");
        let board: Value = serde_json::from_str(&twice).expect("still JSON");
        assert_eq!(board["panels"].as_array().map(Vec::len), Some(2));
        assert_eq!(board["panels"][0]["id"], 1);
        // The same generation twice gives the same text.
        let again = splice(&twice, "panels", marker, generated(marker, 1)).expect("spliced");
        assert_eq!(again, twice);
        assert!(splice("[]", "panels", marker, generated(marker, 1)).is_err());
    }
}
