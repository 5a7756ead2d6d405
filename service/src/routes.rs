//! The one list of the service's routes. The route table ([`crate::app::routes`]), the
//! metrics' route labels, the origin guard's open paths, the index (`GET /`) and the route
//! table in `docs/service.md` (kept identical by a test) are all derived from [`ROUTES`];
//! nothing else spells a route.

/// What answers a route (the route table maps each to its handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /`: the service's name, version and endpoints.
    Index,
    /// `GET /healthz`: the self-checks.
    Health,
    /// `GET /healthz/live`: the process serves.
    Live,
    /// `GET /healthz/ready`: readiness, 503 once shutdown has begun.
    Ready,
    /// `POST /api/v1/sum` (and `GET` for how to call it).
    Sum,
}

/// One route of the public API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The path pattern; also the resource's name and the metrics' `route` label.
    pub pattern: &'static str,
    /// The methods it answers, as the `Allow` header of its 405 lists them.
    pub allow: &'static str,
    /// What answers it.
    pub endpoint: Endpoint,
    /// Whether it answers without the gateway's origin secret, so that load balancers and
    /// orchestrators can probe the task directly.
    pub open: bool,
    /// Its entries in the index's `endpoints` object: (name, method).
    pub index: &'static [(&'static str, &'static str)],
}

/// Methods allowed on the health and index routes.
const GET_HEAD: &str = "GET, HEAD";

/// Every route, the hot path first (the router tries them in this order).
pub const ROUTES: [Route; 5] = [
    Route {
        pattern: "/api/v1/sum",
        allow: "GET, HEAD, POST",
        endpoint: Endpoint::Sum,
        open: false,
        index: &[("sum", "POST"), ("sum_usage", "GET")],
    },
    Route {
        pattern: "/",
        allow: GET_HEAD,
        endpoint: Endpoint::Index,
        open: false,
        index: &[],
    },
    Route {
        pattern: "/healthz",
        allow: GET_HEAD,
        endpoint: Endpoint::Health,
        open: true,
        index: &[("health", "GET")],
    },
    Route {
        pattern: "/healthz/live",
        allow: GET_HEAD,
        endpoint: Endpoint::Live,
        open: true,
        index: &[("liveness", "GET")],
    },
    Route {
        pattern: "/healthz/ready",
        allow: GET_HEAD,
        endpoint: Endpoint::Ready,
        open: true,
        index: &[("readiness", "GET")],
    },
];

/// The route of `endpoint`.
pub fn of(endpoint: Endpoint) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| r.endpoint == endpoint)
        .expect("every endpoint has a route in ROUTES")
}

/// The `'static` pattern of the route named `name` (actix's match name), if it is one of ours.
pub fn pattern(name: Option<&str>) -> Option<&'static str> {
    let name = name?;
    ROUTES.iter().find(|r| r.pattern == name).map(|r| r.pattern)
}

/// Whether `path` is one of the routes open without the origin secret.
pub fn is_open(path: &str) -> bool {
    ROUTES.iter().any(|r| r.open && r.pattern == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_exactly_one_route_and_patterns_are_unique() {
        for endpoint in [
            Endpoint::Index,
            Endpoint::Health,
            Endpoint::Live,
            Endpoint::Ready,
            Endpoint::Sum,
        ] {
            let n = ROUTES.iter().filter(|r| r.endpoint == endpoint).count();
            assert_eq!(n, 1, "{endpoint:?} has {n} routes");
            assert_eq!(of(endpoint).endpoint, endpoint);
        }
        let mut patterns: Vec<_> = ROUTES.iter().map(|r| r.pattern).collect();
        patterns.sort_unstable();
        patterns.dedup();
        assert_eq!(patterns.len(), ROUTES.len());
    }

    #[test]
    fn only_the_health_routes_are_open_without_the_origin_secret() {
        let open: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.open)
            .map(|r| r.pattern)
            .collect();
        assert_eq!(open, ["/healthz", "/healthz/live", "/healthz/ready"]);
        assert!(is_open("/healthz/ready"));
        assert!(!is_open("/healthz/ready/"));
        assert!(!is_open("/api/v1/sum"));
    }

    /// The first three columns of the route table in `docs/service.md`, row by row.
    fn documented_routes() -> Vec<[String; 3]> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/service.md");
        let doc = std::fs::read_to_string(path).expect("docs/service.md is in the repository");
        let section = doc
            .split("\n## Routes\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/service.md has a Routes section");
        section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<String> = l
                    .split('|')
                    .skip(1)
                    .take(3)
                    .map(|c| c.trim().trim_matches('`').to_owned())
                    .collect();
                [cells[0].clone(), cells[1].clone(), cells[2].clone()]
            })
            .collect()
    }

    #[test]
    fn the_route_table_in_the_docs_is_the_route_list() {
        let listed: Vec<[String; 3]> = ROUTES
            .iter()
            .map(|r| {
                let open = if r.open { "yes" } else { "no" };
                [r.pattern.to_owned(), r.allow.to_owned(), open.to_owned()]
            })
            .collect();
        assert_eq!(
            documented_routes(),
            listed,
            "docs/service.md's route table (route, methods, open) differs from routes::ROUTES"
        );
    }

    #[test]
    fn patterns_are_found_by_name_only_for_our_routes() {
        assert_eq!(pattern(Some("/api/v1/sum")), Some("/api/v1/sum"));
        assert_eq!(pattern(Some("/nope")), None);
        assert_eq!(pattern(None), None);
    }
}
