//! The OpenSLO v1 documents as written in `slo/*.yaml`: the subset of the specification this
//! toolkit reads. Unknown fields are collected while a document is read ([`crate::model`]
//! reports each with its path), so that the rest of the document is still checked. [`crate::model`] turns a document into the
//! checked SLO the generators use.
//!
//! Supported: `kind: SLO` with an inline `indicator` holding a `ratioMetric` (counters: `good`
//! or `bad` over `total`) or a `thresholdMetric` (a latency distribution judged by the
//! objective's `op` and `value`); one rolling `timeWindow`; `budgetingMethod: Occurrences`;
//! one objective. Metric sources are `Prometheus` (a series selector) or `CloudWatch` (one
//! metric with its dimensions).

use std::collections::BTreeMap;

use serde::Deserialize;

/// One OpenSLO document.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    /// Must be `openslo/v1`.
    pub api_version: String,
    /// Must be `SLO`.
    pub kind: String,
    /// Name and labels.
    pub metadata: Metadata,
    /// The SLO itself.
    pub spec: SloSpec,
}

/// `metadata`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The SLO's name: lowercase letters, digits and `-` (RFC 1123), at most 63 characters.
    pub name: String,
    /// A name for people.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Free labels, e.g. `sli: availability`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Free annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// `spec` of an SLO.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SloSpec {
    /// What the SLO promises, for people.
    #[serde(default)]
    pub description: Option<String>,
    /// The service it belongs to.
    pub service: String,
    /// The SLI, inline.
    pub indicator: Indicator,
    /// The compliance window: exactly one, rolling.
    pub time_window: Vec<TimeWindow>,
    /// Must be `Occurrences`.
    pub budgeting_method: String,
    /// Exactly one objective.
    pub objectives: Vec<Objective>,
}

/// `spec.indicator`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Indicator {
    /// The SLI's name.
    pub metadata: IndicatorMetadata,
    /// The SLI's metric.
    pub spec: IndicatorSpec,
}

/// `spec.indicator.metadata`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorMetadata {
    /// The SLI's name.
    pub name: String,
    /// A name for people.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `spec.indicator.spec`: exactly one of the two.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndicatorSpec {
    /// Good or bad events over all events.
    #[serde(default)]
    pub ratio_metric: Option<RatioMetric>,
    /// A distribution judged against the objective's `op` and `value`.
    #[serde(default)]
    pub threshold_metric: Option<MetricSourceHolder>,
}

/// `ratioMetric`: exactly one of `good` and `bad`, and `total`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatioMetric {
    /// The sources are counters (always true here).
    pub counter: bool,
    /// Good events.
    #[serde(default)]
    pub good: Option<MetricSourceHolder>,
    /// Bad events.
    #[serde(default)]
    pub bad: Option<MetricSourceHolder>,
    /// All events.
    pub total: MetricSourceHolder,
}

/// A `{ metricSource: … }` wrapper, as OpenSLO nests it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSourceHolder {
    /// The source.
    pub metric_source: MetricSource,
}

/// `metricSource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSource {
    /// `Prometheus` or `CloudWatch`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The source's own fields (checked by [`crate::model`] according to `type`).
    pub spec: BTreeMap<String, serde_norway::Value>,
}

/// One entry of `timeWindow`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    /// A duration: a number and `m`, `h`, `d` or `w` (e.g. `30d`).
    pub duration: String,
    /// Must be true: calendar windows are not supported.
    pub is_rolling: bool,
}

/// One entry of `objectives`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// A name for people.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The share of good events, strictly between 0 and 1.
    pub target: f64,
    /// For a threshold metric: `lte` or `lt` (good events are at most / below `value`).
    #[serde(default)]
    pub op: Option<String>,
    /// For a threshold metric: the bound, in the metric's unit (seconds for latency).
    #[serde(default)]
    pub value: Option<f64>,
}
