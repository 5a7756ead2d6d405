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
    use crate::policy::{Scope, Window};

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

    #[test]
    fn precedence_follows_kong_consumer_route_service_global() {
        let rl = |n: u32| format!("{{ name: rate-limiting, config: {{ minute: {n} }} }}");
        let yaml = format!(
            r#"
_format_version: "3.0"
services:
  - name: s
    url: http://upstream
    plugins: [{svc}]
    routes:
      - name: r1
        paths: [/one]
        plugins: [{{ name: key-auth }}, {route}]
      - name: r2
        paths: [/two]
        plugins: [{{ name: key-auth }}]
consumers:
  - username: a
    keyauth_credentials: [{{ key: "{{vault://env/a}}" }}]
    plugins: [{cons}]
  - username: b
    keyauth_credentials: [{{ key: "{{vault://env/b}}" }}]
plugins:
  - {glob}
  - {{ name: rate-limiting, route: r2, consumer: b, config: {{ minute: 7 }} }}
"#,
            svc = rl(500),
            route = rl(100),
            cons = rl(10),
            glob = rl(1000),
        );
        let policy = Policy::parse(&yaml).unwrap();
        let plans = plan(&policy);
        let minute = |route: &str, consumer: Option<&str>| {
            let p = plans.iter().find(|p| p.route.name == route).unwrap();
            p.sets[&consumer.map(str::to_owned)]
                .rate
                .as_ref()
                .unwrap()
                .limits
                .get(Window::Minute)
                .unwrap()
        };
        assert_eq!(minute("r1", Some("a")), 10, "consumer beats route");
        assert_eq!(minute("r1", Some("b")), 100, "route beats service");
        assert_eq!(minute("r2", Some("a")), 10, "consumer beats service");
        assert_eq!(
            minute("r2", Some("b")),
            7,
            "consumer+route beats everything"
        );
        assert_eq!(minute("r2", None), 500, "service beats global");
        let scope = Scope {
            consumer: Some("x".into()),
            ..Scope::default()
        };
        assert!(
            scope.rank()
                < Scope {
                    route: Some("r".into()),
                    ..Scope::default()
                }
                .rank()
        );
    }
}
