//! The usage errors of `loadgen run`'s validation: each names the flag, field or file that is
//! wrong and says what to write instead. All map to exit code 64.

use std::path::PathBuf;

use crate::slo::SloError;
use crate::slo_file::SloFileError;

/// A usage error: the run cannot start as asked. Maps to exit code 64.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad or missing URL.
    #[error("bad URL `{url}`: {why}")]
    Url {
        /// What was given.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// Bad header syntax.
    #[error("bad header `{0}`: write `Name: value`")]
    Header(String),
    /// `--header-env` naming a variable that is not set (its value is never printed).
    #[error("--header-env `{header}`: environment variable `{var}` is not set or not valid UTF-8")]
    HeaderEnv {
        /// Header name.
        header: String,
        /// Variable name.
        var: String,
    },
    /// A file could not be read.
    #[error("cannot read {what} `{path}`: {source}")]
    Read {
        /// Which input.
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The targets file is malformed.
    #[error("targets file `{path}`: {why}")]
    Targets {
        /// Its path.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// An SLO expression is invalid.
    #[error(transparent)]
    Slo(#[from] SloError),
    /// An SLO file is missing, invalid, or gives no gate.
    #[error(transparent)]
    SloFile(#[from] SloFileError),
    /// Any other invalid value.
    #[error("{0}")]
    Invalid(String),
}

/// A [`ConfigError::Invalid`] with this message.
pub(super) fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}
