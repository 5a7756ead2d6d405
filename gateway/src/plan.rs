//! Kong's plugin precedence, resolved ahead of time: for each route, which key-auth applies,
//! and for each consumer (and for requests without one) which size limit, rate limit and
//! header transformation apply. The renderer turns this plan into Lua data.

use std::collections::BTreeMap;

use crate::policy::{
    KeyAuth, Plugin, PluginInstance, Policy, RateLimiting, Route, SizeLimit, Transformer,
};

/// The plugins in force for one kind of request on one route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginSet {
    /// `request-size-limiting`.
    pub size: Option<SizeLimit>,
    /// `rate-limiting`.
    pub rate: Option<RateLimiting>,
    /// `request-transformer`.
    pub transformer: Option<Transformer>,
}

/// One route and what applies on it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutePlan {
    /// The route.
    pub route: Route,
    /// Authentication, if the route is protected.
    pub key_auth: Option<KeyAuth>,
    /// Plugins by consumer username; `None` is the set for requests without a consumer.
    pub sets: BTreeMap<Option<String>, PluginSet>,
}

/// Resolves the whole policy.
pub fn plan(policy: &Policy) -> Vec<RoutePlan> {
    policy
        .routes
        .iter()
        .map(|route| {
            let key_auth = match select(policy, route, None, "key-auth") {
                Some(Plugin::KeyAuth(k)) => Some(k.clone()),
                _ => None,
            };
            let mut sets = BTreeMap::new();
            sets.insert(None, set_for(policy, route, None));
            if key_auth.is_some() {
                for c in &policy.consumers {
                    sets.insert(
                        Some(c.username.clone()),
                        set_for(policy, route, Some(&c.username)),
                    );
                }
            }
            RoutePlan {
                route: route.clone(),
                key_auth,
                sets,
            }
        })
        .collect()
}

fn set_for(policy: &Policy, route: &Route, consumer: Option<&str>) -> PluginSet {
    PluginSet {
        size: match select(policy, route, consumer, "request-size-limiting") {
            Some(Plugin::RequestSizeLimiting(s)) => Some(s.clone()),
            _ => None,
        },
        rate: match select(policy, route, consumer, "rate-limiting") {
            Some(Plugin::RateLimiting(r)) => Some(r.clone()),
            _ => None,
        },
        transformer: match select(policy, route, consumer, "request-transformer") {
            Some(Plugin::RequestTransformer(t)) => Some(t.clone()),
            _ => None,
        },
    }
}

/// The highest-precedence instance of plugin `name` that matches the request.
fn select<'a>(
    policy: &'a Policy,
    route: &Route,
    consumer: Option<&str>,
    name: &str,
) -> Option<&'a Plugin> {
    policy
        .plugins
        .iter()
        .filter(|p| p.plugin.name() == name && matches(p, policy, route, consumer))
        .min_by_key(|p| p.scope.rank())
        .map(|p| &p.plugin)
}

fn matches(p: &PluginInstance, policy: &Policy, route: &Route, consumer: Option<&str>) -> bool {
    let s = &p.scope;
    s.service
        .as_deref()
        .is_none_or(|x| x == policy.service.name)
        && s.route.as_deref().is_none_or(|x| x == route.name)
        && s.consumer.as_deref().is_none_or(|x| Some(x) == consumer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Window;

    #[test]
    fn committed_policy_resolves_like_kong() {
        let policy = Policy::committed().unwrap();
        let plans = plan(&policy);
        let health = plans
            .iter()
            .find(|p| p.route.name == "sum-api-health")
            .unwrap();
        assert!(health.key_auth.is_none(), "health is public");
        assert!(
            health.sets[&None].rate.is_none(),
            "health is not rate limited"
        );
        assert!(
            health.sets[&None].transformer.is_some(),
            "origin secret on every route"
        );

        let api = plans
            .iter()
            .find(|p| p.route.name == "sum-api-protected")
            .unwrap();
        let ka = api.key_auth.as_ref().unwrap();
        assert_eq!(ka.key_names, ["apikey"]);
        assert!(ka.hide_credentials);
        let rate = |c: &str| api.sets[&Some(c.to_owned())].rate.clone().unwrap().limits;
        // The consumer's own plugin beats the route's default.
        assert_eq!(rate("canary").get(Window::Minute), Some(20));
        assert_eq!(rate("example-customer").get(Window::Minute), Some(100));
        assert!(rate("loadgen").get(Window::Minute).unwrap() > 100);
        let size = api.sets[&Some("canary".into())].size.clone().unwrap();
        assert_eq!(size.allowed_bytes, 64 * 1024);
    }
}
