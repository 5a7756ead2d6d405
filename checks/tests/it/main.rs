//! The checks' black-box tests, in one test binary (built and linked once, not once per file), a
//! module per concern:
//!
//! - [`canary_regions`]: the canary's M-of-N region alarms rendered for two and three regions
//!   and evaluated, a dead-man alarm per region, the Terraform validation of regions and quorum.
//! - [`definitions`]: alarms, dashboards, rules and workflows against the metrics the code emits.
//! - [`rejections`]: each definition check rejects the mistake it exists for.
//! - [`wiring`]: how the Terraform and the workflows wire the pieces together.
//! - [`tools`]: terraform fmt, templatefile, checkov and promtool over the repository's data.
//! - [`scripts`]: the operational scripts, run with recording shims for `aws` and `terraform`.
//! - [`docs`]: the README and `docs/` against what they describe.
//! - [`imports`]: imports flow one way inside every crate.
//! - [`slo`]: the SLOs of `slo/` against the code, and the files generated from them.
//! - [`terraform_schema`]: every argument and block of our Terraform exists in the AWS
//!   provider's own schema.
//! - [`rolling_deploy`]: real tasks replaced one by one behind an ALB stand-in under load through
//!   the gateway (zero failed requests), and a task killed hard (failures bounded, the canary
//!   blames the upstream), with the compute stack's ECS settings scaled down.
//! - [`supply_chain`]: cargo-deny over the dependency tree (deny.toml) and the Dockerfiles'
//!   images pinned by digest.
//! - [`workflows`]: the GitHub workflows audited by zizmor and GitHub's schema, least privilege.
//! - [`prometheus_server`]: a real Prometheus scrapes the real service under load and evaluates
//!   the rules; every recording rule and every Grafana query has data.
//! - [`tracing_e2e`]: one request from loadgen through the local gateway to the service carries
//!   one trace id across loadgen's report, both access logs and the exported span.

mod canary_regions;
#[path = "../common/mod.rs"]
mod common;
mod definitions;
mod docs;
mod imports;
mod prometheus_server;
mod rejections;
mod rolling_deploy;
mod scripts;
mod slo;
mod supply_chain;
mod terraform_schema;
mod tools;
mod tracing_e2e;
mod wiring;
mod workflows;
