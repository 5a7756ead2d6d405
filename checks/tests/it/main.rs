//! The checks' black-box tests, in one test binary (built and linked once, not once per file), a
//! module per concern:
//!
//! - [`definitions`]: alarms, dashboards, rules and workflows against the metrics the code emits.
//! - [`rejections`]: each definition check rejects the mistake it exists for.
//! - [`wiring`]: how the Terraform and the workflows wire the pieces together.
//! - [`tools`]: terraform fmt, templatefile, checkov and promtool over the repository's data.
//! - [`scripts`]: the operational scripts, run with recording shims for `aws` and `terraform`.
//! - [`docs`]: the README and `docs/` against what they describe.
//! - [`imports`]: imports flow one way inside every crate.

#[path = "../common/mod.rs"]
mod common;
mod definitions;
mod docs;
mod imports;
mod rejections;
mod scripts;
mod tools;
mod wiring;
