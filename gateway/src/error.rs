//! Errors of the gateway library: what went wrong and what to do about it.

use std::path::PathBuf;

/// The policy file could not be read, or it declares something invalid or something the
/// local gateway cannot reproduce faithfully.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read the gateway policy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than `max` bytes (the cap on policy files, `policy::MAX_POLICY_BYTES`).
    #[error(
        "the gateway policy {path} is larger than {max} bytes; a Kong declarative file for one service is a few KiB"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap in bytes.
        max: u64,
    },
    /// The YAML does not parse into Kong's declarative format.
    #[error("the gateway policy is not valid Kong declarative YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// A declared value is invalid.
    #[error("invalid gateway policy: {0}")]
    Invalid(String),
    /// A declared feature exists in Kong but the local gateway cannot reproduce it.
    #[error(
        "the local gateway does not support {0}; keep kong.yaml within what it emulates (docs/gateway.md, \"What differs from real Kong\")"
    )]
    Unsupported(String),
    /// A secret is written as a literal instead of an env vault reference.
    #[error(
        "{what} must be an env vault reference such as {{vault://env/canary-api-key}}, never a literal secret"
    )]
    LiteralSecret {
        /// Which field.
        what: String,
    },
    /// A vault reference is malformed or names a vault the local gateway cannot read.
    #[error("bad vault reference {reference:?}: {why}")]
    BadReference {
        /// The reference as written.
        reference: String,
        /// Why it is refused.
        why: String,
    },
}

/// The local gateway could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// nginx or its Lua module is not installed.
    #[error(
        "{what} not found at {path}: run scripts/deps/apt.sh (installs nginx and libnginx-mod-http-lua)"
    )]
    MissingTool {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A secret the policy references has no value.
    #[error(
        "{what}: set the environment variable {env_var} (Kong's env vault reads the same name)"
    )]
    MissingSecret {
        /// Which secret.
        what: String,
        /// The environment variable that would hold it.
        env_var: String,
    },
    /// A secret value cannot be used (e.g. a header value with a line break).
    #[error("{what}")]
    BadSecret {
        /// What is wrong (never the value itself).
        what: String,
    },
    /// Two consumers resolved to the same key; Kong refuses duplicate credentials too.
    #[error("consumers `{first}` and `{second}` resolve to the same API key; keys must be unique")]
    DuplicateKey {
        /// One consumer.
        first: String,
        /// The other consumer.
        second: String,
    },
    /// No upstream address was given.
    #[error("the local gateway needs an upstream address (the service it fronts)")]
    NoUpstream,
    /// Preparing the temporary prefix or talking to the process failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// nginx exited or never started listening.
    #[error("nginx did not start: {reason}\n--- error.log ---\n{log}")]
    Start {
        /// Why we gave up.
        reason: String,
        /// The tail of nginx's error log.
        log: String,
    },
}

impl GatewayError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> GatewayError {
        let context = context.into();
        move |source| GatewayError::Io { context, source }
    }
}
