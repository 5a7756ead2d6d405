//! What each subcommand does, from parsed flags to an exit code ([`crate::exit`]). [`run`]
//! validates, runs, reports and judges a load test; [`merge`] and [`report`] rebuild a run from
//! interval logs and hand it to [`judge`], which reports and judges it exactly as a live run;
//! [`capacity`] searches the highest rate that meets every gate ([`crate::capacity`]).
//! `loadgen ratelimit` is its own module tree ([`crate::ratelimit`]).

pub mod capacity;
pub mod judge;
pub mod merge;
pub mod report;
pub mod run;
