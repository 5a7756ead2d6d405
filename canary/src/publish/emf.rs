//! CloudWatch Embedded Metric Format: one JSON object per line on stdout, which the awslogs
//! driver (or the CloudWatch agent) turns into the same metrics as PutMetricData. Used as a sink
//! of its own and as the fallback when PutMetricData fails.

use std::time::UNIX_EPOCH;

use serde_json::{Map, Value, json};

use super::{BoxFuture, Output, PublishError, Sink};
use crate::config::SinkKind;
use crate::metrics::Datum;

/// Most metrics in one EMF directive.
pub const MAX_METRICS_PER_RECORD: usize = 100;

/// Writes EMF records to an [`Output`].
pub struct EmfSink {
    namespace: String,
    storage_resolution: i32,
    out: Output,
}

impl EmfSink {
    /// A sink writing to `out`.
    pub fn new(namespace: &str, storage_resolution: i32, out: Output) -> Self {
        EmfSink {
            namespace: namespace.to_owned(),
            storage_resolution,
            out,
        }
    }
}

/// Milliseconds since the epoch.
fn epoch_ms(d: &Datum) -> u64 {
    d.timestamp
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX))
}

/// Renders data as EMF records: data with the same dimensions, properties and timestamp share a
/// record, as long as each metric name appears once in it. Properties (the probe's `TraceId`)
/// are plain members of the record, searchable in the logs, never dimensions.
pub fn render(namespace: &str, storage_resolution: i32, data: &[Datum]) -> Vec<Value> {
    let mut groups: Vec<Vec<&Datum>> = Vec::new();
    for d in data {
        let slot = groups.iter_mut().find(|g| {
            g[0].dimensions == d.dimensions
                && g[0].properties == d.properties
                && epoch_ms(g[0]) == epoch_ms(d)
                && g.len() < MAX_METRICS_PER_RECORD
                && g.iter().all(|x| x.name != d.name)
        });
        match slot {
            Some(g) => g.push(d),
            None => groups.push(vec![d]),
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let dims: Vec<&str> = g[0].dimensions.iter().map(|(n, _)| n.as_str()).collect();
            let metrics: Vec<Value> = g
                .iter()
                .map(|d| {
                    let mut m = json!({ "Name": d.name, "Unit": d.unit.as_str() });
                    if storage_resolution == 1 {
                        m["StorageResolution"] = json!(1);
                    }
                    m
                })
                .collect();
            let mut record = Map::new();
            record.insert(
                "_aws".into(),
                json!({
                    "Timestamp": epoch_ms(g[0]),
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": [dims],
                        "Metrics": metrics,
                    }],
                }),
            );
            for (name, value) in g[0].dimensions.iter().chain(&g[0].properties) {
                record.insert(name.clone(), json!(value));
            }
            for d in &g {
                record.insert(d.name.clone(), json!(d.value));
            }
            Value::Object(record)
        })
        .collect()
}

impl Sink for EmfSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Emf
    }

    fn publish<'a>(&'a self, data: &'a [Datum]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let mut text = String::new();
            for record in render(&self.namespace, self.storage_resolution, data) {
                text.push_str(&record.to_string());
                text.push('\n');
            }
            let mut out = self
                .out
                .lock()
                .map_err(|_| std::io::Error::other("stdout lock poisoned"))?;
            out.write_all(crate::secret::redact(&text).as_bytes())?;
            out.flush()?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{self, Unit};
    use std::time::{Duration, SystemTime};

    #[test]
    fn records_group_by_dimensions_and_keep_every_datum() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let data = vec![
            Datum::run(metrics::RUN_STARTED, "dev", 1.0, t),
            Datum::probe(metrics::PROBE_SUCCESS, "dev", "health", 1.0, Unit::Count, t),
            Datum::probe(
                metrics::PROBE_LATENCY,
                "dev",
                "health",
                12.5,
                Unit::Milliseconds,
                t,
            ),
            Datum::probe(metrics::PROBE_SUCCESS, "dev", "sum", 0.0, Unit::Count, t),
            // The same metric twice for one probe needs a second record.
            Datum::probe(metrics::PROBE_SUCCESS, "dev", "sum", 1.0, Unit::Count, t),
        ];
        let records = render("SumApi/Canary", 1, &data);
        assert_eq!(records.len(), 4);
        let health = &records[1];
        assert_eq!(health["Probe"], "health");
        assert_eq!(health["Environment"], "dev");
        assert_eq!(health["ProbeLatency"], 12.5);
        assert_eq!(health["_aws"]["Timestamp"], 1_700_000_000_123_u64);
        let directive = &health["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "SumApi/Canary");
        assert_eq!(directive["Dimensions"], json!([["Environment", "Probe"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "ProbeLatency", "Unit": "Milliseconds", "StorageResolution": 1})
        );
        assert_eq!(
            records[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Environment"]])
        );
        let total: usize = records
            .iter()
            .map(|r| {
                r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .sum();
        assert_eq!(total, data.len());
    }

    #[test]
    fn large_groups_are_split_at_the_emf_limit() {
        let t = SystemTime::now();
        let data: Vec<Datum> = (0..250)
            .map(|i| Datum::probe(&format!("M{i}"), "dev", "p", 1.0, Unit::Count, t))
            .collect();
        let records = render("SumApi/Canary", 60, &data);
        assert_eq!(records.len(), 3);
        assert!(
            records[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]
                .get("StorageResolution")
                .is_none()
        );
    }
}
