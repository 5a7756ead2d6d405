//! The gateway policy as code, and a local gateway that answers like Kong.
//!
//! Data flow: `gateway/kong.yaml` (Kong declarative config, the one source of truth) is read
//! into a [`policy::Policy`] by [`Policy::load`] or [`Policy::parse`]: serde types in
//! `kong_yaml`, then validation and Kong's defaults in `convert`, which builds the types of
//! [`policy`]. [`plan`] resolves Kong's plugin precedence per route and consumer; [`render`]
//! turns the plan into `nginx.conf` plus a Lua policy table, run by the fixed request logic in
//! `lua/local_gateway.lua`; [`local::LocalGateway`] writes them into a temporary prefix and
//! runs nginx there in front of an upstream, through `nginx`, the thread that owns the process
//! (the policy into its stdin, the error log out of its stderr, nginx dying with it).
//! [`deck`] renders the same file for a real Kong; [`cli`] is the `local-gateway` binary.
//!
//! Imports flow one way, down this list: [`cli`]; [`local`]; `nginx`; [`render`]; [`plan`];
//! `convert` (which also holds [`Policy::load`] and [`Policy::parse`]; `convert_otel` checks
//! the opentelemetry plugin for it) and [`deck`];
//! `kong_yaml` and [`policy`]; [`vault`]; [`error`], the error types every module shares, which
//! imports none of them. A module never imports one above it.

pub mod cli;
mod convert;
mod convert_otel;
pub mod deck;
pub mod error;
mod kong_yaml;
pub mod local;
mod nginx;
pub mod plan;
pub mod policy;
pub mod render;
pub mod vault;

pub use error::{GatewayError, PolicyError};
pub use local::{LocalGateway, LocalGatewayBuilder};
pub use policy::{Policy, RateLimits, Window};
