//! The same `kong.yaml` for a real Kong. Kong resolves `{vault://env/...}` only in fields
//! marked referenceable, and key-auth credential keys are not among them; decK's own
//! environment substitution works in every field. This module rewrites each env vault
//! reference into decK's `${{ env "DECK_..." }}` form, leaving everything else untouched, so
//! `deck gateway sync` (or `deck file render` for DB-less) injects the secrets at apply time.

/// The decK environment variable for an env vault variable: `CANARY_API_KEY` →
/// `DECK_CANARY_API_KEY` (decK only substitutes variables prefixed `DECK_`).
pub fn deck_env_var(env_var: &str) -> String {
    format!("DECK_{env_var}")
}

/// Rewrites every `{vault://env/name}` in the text into `${{ env "DECK_NAME" }}`.
/// Malformed references are left as they are (validation reports them).
pub fn template(kong_yaml: &str) -> String {
    let mut out = String::with_capacity(kong_yaml.len());
    let mut rest = kong_yaml;
    while let Some(start) = rest.find("{vault://env/") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        match tail.find('}') {
            Some(end) => match crate::vault::parse(&tail[..=end]) {
                Ok(r) => {
                    out.push_str(&format!("${{{{ env \"{}\" }}}}", deck_env_var(&r.env_var)));
                    rest = &tail[end + 1..];
                }
                Err(_) => {
                    out.push_str(&tail[..=end]);
                    rest = &tail[end + 1..];
                }
            },
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_deck_env_templates() {
        let t = template(
            "key: \"{vault://env/canary-api-key}\"\n- \"X-Origin-Secret:{vault://env/sum-api-origin-secret}\"",
        );
        assert_eq!(
            t,
            "key: \"${{ env \"DECK_CANARY_API_KEY\" }}\"\n- \"X-Origin-Secret:${{ env \"DECK_SUM_API_ORIGIN_SECRET\" }}\""
        );
        assert_eq!(
            template("no refs {vault://env/a b}"),
            "no refs {vault://env/a b}"
        );
        assert_eq!(template("{vault://env/x"), "{vault://env/x");
    }

    #[test]
    fn committed_policy_has_no_reference_left() {
        let t = template(crate::policy::KONG_YAML);
        assert!(!t.contains("{vault://"), "{t}");
        assert!(t.contains("DECK_LOADGEN_API_KEY"));
    }
}
