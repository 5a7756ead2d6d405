//! slo: the service level objectives in `slo/*.yaml` (OpenSLO v1) as the one source from which
//! the toolkit's alerting, budget views and release gates are generated.
//!
//! Data flow: [`spec`] is the OpenSLO documents' shape (unknown fields refused) → [`model`]
//! checks each document (its metric sources with [`source`]) and turns it into an [`model::Slo`] (every problem at once, naming the
//! file, the SLO and the field) → the generators read those: [`prometheus`] writes the
//! recording rules and the multi-window, multi-burn-rate alerts of [`burn`], [`cloudwatch`]
//! the same burns as CloudWatch alarm data for Terraform, [`dashboards`] the error-budget
//! views (a Grafana board, a CloudWatch dashboard), [`gates`] the
//! release gates a load test checks. [`cli`] is the `slo` command (`validate`, `generate`,
//! `generate --check`).

pub mod burn;
pub mod cli;
pub mod cloudwatch;
pub mod dashboards;
pub mod gates;
pub mod model;
pub mod prometheus;
pub mod source;
pub mod spec;
