//! The canary's black-box tests, in one test binary (built and linked once, not once per file),
//! a module per concern; all but [`slo_burn`] run the real `canary` binary:
//!
//! - [`cli`]: what an operator sees: exit codes, the verdict, retries, timeouts, hostile answers,
//!   SIGTERM, validation, the heartbeat.
//! - [`default_suite`]: what the default probes expect beyond a status (JSON declared as such).
//! - [`secrets`]: the API key never showing, in any encoding, whatever a target echoes.
//! - [`publishing`]: probes through the local gateway, metrics published to LocalStack's
//!   CloudWatch and read back.
//! - [`regions`]: the `Region` dimension in EMF and in the home region's CloudWatch, `--probes`,
//!   the custom-suite example, bad regions and probe names.
//! - [`deadman`]: the dead-man alarm from `alarms/cloudwatch.yaml`, in LocalStack's CloudWatch.
//! - [`certificates`]: certificate expiry against nginx over HTTPS with a test CA (days left,
//!   expired, not yet valid, `cert_min_days`), published to every sink and LocalStack.
//! - [`slo_burn`]: the SLO burn-rate alarms of `alarms/cloudwatch-slo.yaml`, created in
//!   LocalStack's CloudWatch from the rendered data.
//! - [`tracing`]: each probe's sampled `traceparent`, the trace id of a failed probe on stdout,
//!   in the JSON log and as the EMF `TraceId` property.

mod certificates;
mod cli;
#[path = "../common/mod.rs"]
mod common;
mod deadman;
mod default_suite;
mod publishing;
mod regions;
mod secrets;
mod slo_burn;
mod tracing;
