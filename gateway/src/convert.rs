//! From the raw declarative file to a validated [`Policy`]: flattens nested entities into
//! scoped plugins, applies Kong's defaults and refuses what Kong or the local gateway cannot
//! honour.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::PolicyError;
use crate::kong_yaml as raw;
use crate::policy::{
    Consumer, DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, HeaderValue, KONG_YAML, KeyAuth, LimitBy,
    MAX_RETRIES, MAX_TIMEOUT_MS, Plugin, PluginInstance, Policy, RateLimiting, RateLimits, Route,
    Scope, Service, SizeLimit, Transformer, read_text,
};
use crate::vault;

impl Policy {
    /// Parses and validates a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        Policy::parse(&read_text(path)?)
    }

    /// The committed `gateway/kong.yaml`.
    pub fn committed() -> Result<Policy, PolicyError> {
        Policy::parse(KONG_YAML)
    }

    /// Parses and validates policy text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let file: raw::File = serde_norway::from_str(text)?;
        convert(file)
    }
}

fn invalid(msg: impl Into<String>) -> PolicyError {
    PolicyError::Invalid(msg.into())
}

fn unsupported(msg: impl Into<String>) -> PolicyError {
    PolicyError::Unsupported(msg.into())
}

/// Converts and validates.
fn convert(file: raw::File) -> Result<Policy, PolicyError> {
    match file.format_version.as_deref() {
        Some("3.0") => {}
        other => {
            return Err(invalid(format!(
                "_format_version must be \"3.0\", found {other:?}"
            )));
        }
    }
    if !file.upstreams.is_empty() {
        return Err(unsupported(
            "upstream entities (load balancing is the ALB's job)",
        ));
    }
    let mut services = file.services;
    if services.len() != 1 {
        return Err(invalid(format!(
            "exactly one service is expected (the sum API), found {}",
            services.len()
        )));
    }
    let raw_service = services.remove(0);
    let service = convert_service(&raw_service)?;

    let mut plugins = Vec::new();
    for p in raw_service.plugins {
        push_plugin(
            &mut plugins,
            p,
            Scope {
                service: Some(service.name.clone()),
                ..Scope::default()
            },
        )?;
    }

    let mut routes = Vec::new();
    let top_routes = file.routes.into_iter().map(|r| (r, true));
    for (r, top_level) in raw_service
        .routes
        .into_iter()
        .map(|r| (r, false))
        .chain(top_routes)
    {
        if top_level && r.service.as_deref() != Some(service.name.as_str()) {
            return Err(invalid(format!(
                "top-level route {:?} must name the service `{}`",
                r.name, service.name
            )));
        }
        let route = convert_route(&r)?;
        if routes.iter().any(|x: &Route| x.name == route.name) {
            return Err(invalid(format!(
                "route name `{}` is used twice",
                route.name
            )));
        }
        for p in r.plugins {
            push_plugin(
                &mut plugins,
                p,
                Scope {
                    route: Some(route.name.clone()),
                    ..Scope::default()
                },
            )?;
        }
        routes.push(route);
    }
    if routes.is_empty() {
        return Err(invalid("the service has no routes"));
    }

    let mut consumers: Vec<Consumer> = Vec::new();
    let mut seen_refs = BTreeSet::new();
    for c in file.consumers {
        let username = c
            .username
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| invalid("every consumer needs a username"))?;
        if consumers.iter().any(|x| x.username == username) {
            return Err(invalid(format!("consumer `{username}` is declared twice")));
        }
        let mut keys = Vec::new();
        for cred in c.keyauth_credentials {
            let key = cred.key.unwrap_or_default();
            if !vault::is_reference(&key) {
                return Err(PolicyError::LiteralSecret {
                    what: format!("the key-auth credential of consumer `{username}`"),
                });
            }
            let reference = vault::parse(&key)?;
            if !seen_refs.insert(reference.env_var.clone()) {
                return Err(invalid(format!(
                    "the key reference {key} is used by more than one credential"
                )));
            }
            keys.push(reference);
        }
        for p in c.plugins {
            push_plugin(
                &mut plugins,
                p,
                Scope {
                    consumer: Some(username.clone()),
                    ..Scope::default()
                },
            )?;
        }
        consumers.push(Consumer { username, keys });
    }

    for p in file.plugins {
        push_plugin(&mut plugins, p, Scope::default())?;
    }

    let policy = Policy {
        service,
        routes,
        consumers,
        plugins,
    };
    check_scopes(&policy)?;
    Ok(policy)
}

fn convert_service(s: &raw::Service) -> Result<Service, PolicyError> {
    let name = s
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| invalid("the service needs a name"))?;
    if s.enabled == Some(false) {
        return Err(invalid(format!("service `{name}` is disabled")));
    }
    let (protocol, host, port, path) = match &s.url {
        Some(url) => parse_url(url)?,
        None => {
            let protocol = s.protocol.clone().unwrap_or_else(|| "http".into());
            let host = s
                .host
                .clone()
                .ok_or_else(|| invalid(format!("service `{name}` needs a host or url")))?;
            let port = s.port.unwrap_or(if protocol == "https" { 443 } else { 80 });
            (
                protocol,
                host,
                port,
                s.path.clone().unwrap_or_else(|| "/".into()),
            )
        }
    };
    if protocol != "http" && protocol != "https" {
        return Err(unsupported(format!("service protocol `{protocol}`")));
    }
    if path != "/" {
        return Err(unsupported(format!(
            "a service path other than `/` (found `{path}`)"
        )));
    }
    Ok(Service {
        connect_timeout_ms: service_timeout(&name, "connect_timeout", s.connect_timeout.as_ref())?,
        write_timeout_ms: service_timeout(&name, "write_timeout", s.write_timeout.as_ref())?,
        read_timeout_ms: service_timeout(&name, "read_timeout", s.read_timeout.as_ref())?,
        retries: service_retries(&name, s.retries.as_ref())?,
        name,
        protocol,
        host,
        port,
        path,
    })
}

fn parse_url(url: &str) -> Result<(String, String, u16, String), PolicyError> {
    let (protocol, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid(format!("service url {url:?} has no scheme")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let default_port = if protocol == "https" { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h.to_owned(),
            p.parse()
                .map_err(|_| invalid(format!("service url {url:?} has a bad port")))?,
        ),
        None => (authority.to_owned(), default_port),
    };
    if host.is_empty() {
        return Err(invalid(format!("service url {url:?} has no host")));
    }
    Ok((protocol.to_owned(), host, port, path))
}

fn convert_route(r: &raw::Route) -> Result<Route, PolicyError> {
    let name = r
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| invalid("every route needs a name"))?;
    if r.hosts.as_ref().is_some_and(|h| !h.is_empty())
        || r.headers.is_some()
        || r.snis.as_ref().is_some_and(|s| !s.is_empty())
        || r.expression.is_some()
    {
        return Err(unsupported(format!(
            "route `{name}`: matching on hosts, headers, snis or expressions"
        )));
    }
    if r.paths.is_empty() {
        return Err(invalid(format!("route `{name}` needs at least one path")));
    }
    for p in &r.paths {
        if p.starts_with('~') {
            return Err(unsupported(format!("route `{name}`: regex path {p:?}")));
        }
        if !p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!(
                "route `{name}`: path {p:?} must start with / and hold no spaces"
            )));
        }
    }
    let mut methods = Vec::new();
    for m in r.methods.iter().flatten() {
        let m = m.to_ascii_uppercase();
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid(format!("route `{name}`: bad method {m:?}")));
        }
        methods.push(m);
    }
    Ok(Route {
        name,
        paths: r.paths.clone(),
        methods,
        strip_path: r.strip_path.unwrap_or(true),
    })
}

fn push_plugin(
    out: &mut Vec<PluginInstance>,
    p: raw::Plugin,
    nested: Scope,
) -> Result<(), PolicyError> {
    if p.enabled == Some(false) {
        return Ok(());
    }
    if p.consumer_group.is_some() {
        return Err(unsupported(format!(
            "plugin `{}` scoped to a consumer group",
            p.name
        )));
    }
    let scope = Scope {
        service: nested.service.or(p.service),
        route: nested.route.or(p.route),
        consumer: nested.consumer.or(p.consumer),
    };
    let config = if p.config.is_null() {
        serde_norway::Value::Mapping(Default::default())
    } else {
        p.config
    };
    let ctx = |e: serde_norway::Error| invalid(format!("plugin `{}` config: {e}", p.name));
    let plugin = match p.name.as_str() {
        "key-auth" => {
            let c: raw::KeyAuthConfig = serde_norway::from_value(config).map_err(ctx)?;
            key_auth(c, &scope)?
        }
        "rate-limiting" => {
            let c: raw::RateLimitingConfig = serde_norway::from_value(config).map_err(ctx)?;
            rate_limiting(c)?
        }
        "request-size-limiting" => {
            let c: raw::SizeLimitingConfig = serde_norway::from_value(config).map_err(ctx)?;
            size_limit(c)?
        }
        "request-transformer" => {
            let c: raw::TransformerConfig = serde_norway::from_value(config).map_err(ctx)?;
            transformer(c)?
        }
        "opentelemetry" => {
            let c: raw::OpenTelemetryConfig = serde_norway::from_value(config).map_err(ctx)?;
            if scope.route.is_some() || scope.consumer.is_some() {
                return Err(unsupported(
                    "opentelemetry scoped to a route or a consumer (put it on the service or make it global)",
                ));
            }
            crate::convert_otel::opentelemetry(c)?
        }
        other => return Err(unsupported(format!("the plugin `{other}`"))),
    };
    if out
        .iter()
        .any(|x| x.scope == scope && x.plugin.name() == plugin.name())
    {
        return Err(invalid(format!(
            "plugin `{}` is declared twice on the same scope {scope:?}",
            plugin.name()
        )));
    }
    out.push(PluginInstance { scope, plugin });
    Ok(())
}

fn key_auth(c: raw::KeyAuthConfig, scope: &Scope) -> Result<Plugin, PolicyError> {
    if scope.consumer.is_some() {
        return Err(invalid(
            "key-auth cannot be scoped to a consumer (Kong refuses it)",
        ));
    }
    if c.key_in_body {
        return Err(unsupported("key-auth key_in_body"));
    }
    if c.anonymous.is_some() {
        return Err(unsupported("key-auth anonymous consumers"));
    }
    if !c.run_on_preflight {
        return Err(unsupported("key-auth run_on_preflight: false"));
    }
    if c.key_names.is_empty() {
        return Err(invalid("key-auth key_names must not be empty"));
    }
    for k in &c.key_names {
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(format!(
                "key-auth key name {k:?} may only contain [a-zA-Z0-9_-]"
            )));
        }
    }
    if !c.key_in_header && !c.key_in_query {
        return Err(invalid("key-auth must look in headers or the query string"));
    }
    Ok(Plugin::KeyAuth(KeyAuth {
        key_names: c.key_names,
        key_in_header: c.key_in_header,
        key_in_query: c.key_in_query,
        hide_credentials: c.hide_credentials,
        realm: c.realm,
    }))
}

fn count(field: &str, v: Option<f64>) -> Result<Option<u64>, PolicyError> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x >= 1.0 && x.fract() == 0.0 && x < 1e15 => Ok(Some(x as u64)),
        Some(x) => Err(invalid(format!(
            "rate-limiting {field} must be a positive whole number, found {x}"
        ))),
    }
}

fn rate_limiting(c: raw::RateLimitingConfig) -> Result<Plugin, PolicyError> {
    if c.month.is_some() || c.year.is_some() {
        return Err(unsupported("rate-limiting month and year windows"));
    }
    let limit_by = match c.limit_by.as_str() {
        "consumer" | "credential" => LimitBy::Consumer,
        "ip" => LimitBy::Ip,
        other => return Err(unsupported(format!("rate-limiting limit_by `{other}`"))),
    };
    if c.policy != "local" {
        return Err(unsupported(format!(
            "rate-limiting policy `{}` (the local gateway is one node: use local)",
            c.policy
        )));
    }
    let limits = RateLimits {
        second: count("second", c.second)?,
        minute: count("minute", c.minute)?,
        hour: count("hour", c.hour)?,
        day: count("day", c.day)?,
    };
    limits.validate()?;
    let code = c.error_code;
    if !(code.fract() == 0.0 && (400.0..600.0).contains(&code)) {
        return Err(invalid(format!(
            "rate-limiting error_code must be a 4xx or 5xx status, found {code}"
        )));
    }
    Ok(Plugin::RateLimiting(RateLimiting {
        limits,
        limit_by,
        error_code: code as u16,
        error_message: c.error_message,
        hide_client_headers: c.hide_client_headers,
    }))
}

fn size_limit(c: raw::SizeLimitingConfig) -> Result<Plugin, PolicyError> {
    let factor: u64 = match c.size_unit.as_str() {
        "bytes" => 1,
        "kilobytes" => 1024,
        "megabytes" => 1024 * 1024,
        other => {
            return Err(invalid(format!(
                "request-size-limiting size_unit must be bytes, kilobytes or megabytes, found `{other}`"
            )));
        }
    };
    let allowed_bytes = c
        .allowed_payload_size
        .checked_mul(factor)
        .filter(|b| *b > 0)
        .ok_or_else(|| invalid("request-size-limiting allowed_payload_size out of range"))?;
    Ok(Plugin::RequestSizeLimiting(SizeLimit {
        allowed_bytes,
        require_content_length: c.require_content_length,
    }))
}

fn transformer(c: raw::TransformerConfig) -> Result<Plugin, PolicyError> {
    if c.http_method.is_some() {
        return Err(unsupported("request-transformer http_method"));
    }
    let groups = [&c.remove, &c.rename, &c.replace, &c.add, &c.append];
    if groups.iter().any(|g| {
        !g.querystring.is_empty()
            || !g.body.is_empty()
            || !g.json_types.is_empty()
            || g.uri.is_some()
    }) || !c.rename.headers.is_empty()
    {
        return Err(unsupported(
            "request-transformer operations other than remove/replace/add/append on headers",
        ));
    }
    let entries = |list: &Vec<String>| {
        list.iter()
            .map(|e| header_entry(e))
            .collect::<Result<Vec<_>, _>>()
    };
    for name in &c.remove.headers {
        if name.contains(':') || name.trim().is_empty() {
            return Err(invalid(format!(
                "request-transformer remove.headers takes header names, found {name:?}"
            )));
        }
    }
    Ok(Plugin::RequestTransformer(Transformer {
        remove: c
            .remove
            .headers
            .iter()
            .map(|h| h.trim().to_owned())
            .collect(),
        replace: entries(&c.replace.headers)?,
        add: entries(&c.add.headers)?,
        append: entries(&c.append.headers)?,
    }))
}

/// Splits a request-transformer entry `Name:value`; the value may be an env vault reference.
fn header_entry(entry: &str) -> Result<(String, HeaderValue), PolicyError> {
    let (name, value) = entry.split_once(':').ok_or_else(|| {
        PolicyError::Invalid(format!(
            "request-transformer entry {entry:?} has no value (write Name:value)"
        ))
    })?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(PolicyError::Invalid(format!(
            "request-transformer header name {name:?} is not a valid header name"
        )));
    }
    let value = value.trim();
    let value = if vault::is_reference(value) {
        HeaderValue::Reference(vault::parse(value)?)
    } else {
        HeaderValue::Literal(value.to_owned())
    };
    Ok((name.to_owned(), value))
}

fn check_scopes(p: &Policy) -> Result<(), PolicyError> {
    for inst in &p.plugins {
        if let Some(s) = &inst.scope.service
            && *s != p.service.name
        {
            return Err(invalid(format!(
                "plugin `{}` names unknown service `{s}`",
                inst.plugin.name()
            )));
        }
        if let Some(r) = &inst.scope.route
            && p.route(r).is_none()
        {
            return Err(invalid(format!(
                "plugin `{}` names unknown route `{r}`",
                inst.plugin.name()
            )));
        }
        if let Some(c) = &inst.scope.consumer
            && p.consumer(c).is_none()
        {
            return Err(invalid(format!(
                "plugin `{}` names unknown consumer `{c}`",
                inst.plugin.name()
            )));
        }
        if let Plugin::RequestTransformer(t) = &inst.plugin {
            for (name, v) in t.add.iter().chain(&t.replace).chain(&t.append) {
                if name.eq_ignore_ascii_case("x-origin-secret")
                    && matches!(v, HeaderValue::Literal(_))
                {
                    return Err(PolicyError::LiteralSecret {
                        what: "the X-Origin-Secret header value".into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// A service timeout in milliseconds: absent (or null) is Kong's default, anything but a whole
/// number from 1 to [`MAX_TIMEOUT_MS`] is refused, naming the field.
fn service_timeout(
    service: &str,
    field: &str,
    value: Option<&serde_norway::Value>,
) -> Result<u32, PolicyError> {
    let n = whole_number(
        service,
        field,
        value,
        1,
        u64::from(MAX_TIMEOUT_MS),
        " of milliseconds",
    )?;
    Ok(n.map_or(DEFAULT_TIMEOUT_MS, |n| {
        u32::try_from(n).expect("checked against MAX_TIMEOUT_MS")
    }))
}

/// The service retries: absent (or null) is Kong's default, anything but a whole number from 0
/// to [`MAX_RETRIES`] is refused, naming the field.
fn service_retries(service: &str, value: Option<&serde_norway::Value>) -> Result<u16, PolicyError> {
    let n = whole_number(service, "retries", value, 0, u64::from(MAX_RETRIES), "")?;
    Ok(n.map_or(DEFAULT_RETRIES, |n| {
        u16::try_from(n).expect("checked against MAX_RETRIES")
    }))
}

fn whole_number(
    service: &str,
    field: &str,
    value: Option<&serde_norway::Value>,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<Option<u64>, PolicyError> {
    use serde_norway::Value;
    let found = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => {
            // Kong's integers are Lua numbers: 300.0 is 300, 300.5 is not an integer.
            let whole = n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
                    .map(|f| f as u64)
            });
            match whole {
                Some(w) if (min..=max).contains(&w) => return Ok(Some(w)),
                _ => n.to_string(),
            }
        }
        Some(Value::String(s)) => format!("the string {s:?}"),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Sequence(_)) => "a list".to_owned(),
        Some(Value::Mapping(_)) => "a mapping".to_owned(),
        Some(_) => "a tagged value".to_owned(),
    };
    Err(PolicyError::Invalid(format!(
        "service `{service}`: {field} must be a whole number{unit} from {min} to {max} \
         (Kong's limits), found {found}"
    )))
}
