//! Kong env vault references: `{vault://env/canary-api-key}` names the environment variable
//! `CANARY_API_KEY`. The policy never holds a secret, only such references; they are resolved
//! when the local gateway starts, from an explicit map or from the process environment.

use std::collections::BTreeMap;

use crate::error::PolicyError;

/// A parsed `{vault://env/<name>}` reference.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnvReference {
    /// The reference as written in the policy.
    pub reference: String,
    /// The environment variable Kong's env vault reads: upper case, `-` replaced by `_`.
    pub env_var: String,
}

/// True when the whole value looks like a vault reference (`{vault://...}`), as Kong decides.
pub fn is_reference(value: &str) -> bool {
    value.starts_with("{vault://") && value.ends_with('}')
}

/// Parses a reference to Kong's env vault; other vaults, sub-keys, versions and query options
/// are refused because the local gateway cannot resolve them the way Kong would.
pub fn parse(value: &str) -> Result<EnvReference, PolicyError> {
    let bad = |why: &str| PolicyError::BadReference {
        reference: value.to_owned(),
        why: why.to_owned(),
    };
    let inner = value
        .strip_prefix("{vault://")
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| bad("a reference is written {vault://env/<name>}"))?;
    let name = inner
        .strip_prefix("env/")
        .ok_or_else(|| bad("only Kong's env vault (vault://env/...) is supported"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad(
            "the name may hold only letters, digits, '-' and '_' (no sub-key, version or options)",
        ));
    }
    Ok(EnvReference {
        reference: value.to_owned(),
        env_var: name.to_ascii_uppercase().replace('-', "_"),
    })
}

/// Where secret values come from: an explicit map (tests) and/or the process environment.
#[derive(Debug, Clone, Default)]
pub struct SecretSource {
    explicit: BTreeMap<String, String>,
    use_env: bool,
}

impl SecretSource {
    /// Resolves nothing; add values with [`SecretSource::set`] or turn on the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves references from the process environment, like Kong's env vault.
    pub fn from_env() -> Self {
        Self {
            explicit: BTreeMap::new(),
            use_env: true,
        }
    }

    /// Sets the value of one environment variable name (e.g. `CANARY_API_KEY`); explicit values
    /// win over the environment.
    pub fn set(&mut self, env_var: impl Into<String>, value: impl Into<String>) {
        self.explicit.insert(env_var.into(), value.into());
    }

    /// Also falls back to the process environment.
    pub fn with_env(mut self) -> Self {
        self.use_env = true;
        self
    }

    /// The value behind a reference, if any; empty values count as missing.
    pub fn resolve(&self, reference: &EnvReference) -> Option<String> {
        let value = match self.explicit.get(&reference.env_var) {
            Some(v) => Some(v.clone()),
            None if self.use_env => std::env::var(&reference.env_var).ok(),
            None => None,
        };
        value.filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_reference_maps_to_upper_snake_case() {
        let r = parse("{vault://env/canary-api-key}").unwrap();
        assert_eq!(r.env_var, "CANARY_API_KEY");
        let r = parse("{vault://env/sum-api-origin-secret}").unwrap();
        assert_eq!(r.env_var, "SUM_API_ORIGIN_SECRET");
    }

    #[test]
    fn hostile_or_unsupported_references_are_refused() {
        for bad in [
            "{vault://aws/secret}",
            "{vault://env/}",
            "{vault://env/a/b}",
            "{vault://env/a?prefix=X_}",
            "{vault://env/a#1}",
            "{vault://env/a b}",
            "vault://env/a",
            "{vault://env/$(id)}",
        ] {
            assert!(parse(bad).is_err(), "{bad} must be refused");
        }
        assert!(!is_reference("literal-key"));
    }

    #[test]
    fn explicit_values_win_and_empty_is_missing() {
        let r = parse("{vault://env/gateway-test-unset-var}").unwrap();
        let mut s = SecretSource::new();
        assert_eq!(s.resolve(&r), None);
        s.set("GATEWAY_TEST_UNSET_VAR", "");
        assert_eq!(s.resolve(&r), None);
        s.set("GATEWAY_TEST_UNSET_VAR", "k");
        assert_eq!(s.resolve(&r).as_deref(), Some("k"));
    }
}
