//! The gateway policy as code, and a local gateway that answers like Kong.
//!
//! Data flow: `gateway/kong.yaml` (Kong declarative config, the one source of truth) is read by
//! [`policy`] (serde types in `kong_yaml`, validation in `convert`) into a [`policy::Policy`];
//! [`plan`] resolves Kong's plugin precedence per route and consumer; [`render`] turns the plan
//! into `nginx.conf` plus a Lua policy table, run by the fixed request logic in
//! `lua/local_gateway.lua`; [`local::LocalGateway`] writes them into a temporary prefix and
//! runs nginx there in front of an upstream. [`vault`] resolves `{vault://env/...}` secrets;
//! [`deck`] renders the same file for a real Kong; [`cli`] is the `local-gateway` binary.

pub mod cli;
mod convert;
pub mod deck;
pub mod error;
mod kong_yaml;
pub mod local;
pub mod plan;
pub mod policy;
pub mod render;
pub mod vault;

pub use error::{GatewayError, PolicyError};
pub use local::{LocalGateway, LocalGatewayBuilder};
pub use policy::{Policy, RateLimits, Window};
