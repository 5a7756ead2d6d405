//! kong.yaml against what is rendered from it, invalid policies, and the decK template.

use gateway::{Policy, PolicyError};

#[test]
fn committed_policy_and_rendered_config_agree() {
    // Read kong.yaml independently (generic YAML) and compare with what the renderer emits.
    let raw: serde_json::Value = serde_norway::from_str(gateway::policy::KONG_YAML).unwrap();
    let policy = Policy::committed().unwrap();
    let plans = gateway::plan::plan(&policy);
    let creds = [("k".to_owned(), "canary".to_owned())]
        .into_iter()
        .collect();
    let secrets = [("SUM_API_ORIGIN_SECRET".to_owned(), "s".to_owned())]
        .into_iter()
        .collect();
    let prefix = std::path::Path::new("/tmp/x");
    let input = gateway::render::RenderInput {
        plans: &plans,
        service: &policy.service,
        credentials: &creds,
        secrets: &secrets,
        listen: "127.0.0.1:1".parse().unwrap(),
        upstream: "127.0.0.1:2".parse().unwrap(),
        prefix,
        run_as_root: false,
        parent_pid: 1,
        trace_sampling_rate: policy.tracing().map(|o| o.sampling_rate),
    };
    let lua = gateway::render::policy_lua(&input).unwrap();
    let conf = gateway::render::nginx_conf(&input);
    assert!(conf.contains("load_module /usr/lib/nginx/modules/ndk_http_module.so;"));
    assert!(conf.contains("load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"));
    assert!(conf.contains("listen 127.0.0.1:1;"));
    assert!(conf.contains("server 127.0.0.1:2;"));
    assert!(!conf.contains("/var/"), "nothing outside the prefix");

    // The service's timeouts (ms, per try) and retries from kong.yaml.
    let service = &raw["services"][0];
    for (field, directive) in [
        ("connect_timeout", "proxy_connect_timeout"),
        ("write_timeout", "proxy_send_timeout"),
        ("read_timeout", "proxy_read_timeout"),
    ] {
        let ms = service[field].as_u64().unwrap();
        assert!(conf.contains(&format!("{directive} {ms}ms;")), "{field}");
    }
    let retries = service["retries"].as_u64().unwrap();
    assert!(conf.contains("proxy_next_upstream error timeout;"));
    assert!(conf.contains(&format!("proxy_next_upstream_tries {};", retries + 1)));
    assert!(conf.contains(&format!(".balancer(\"127.0.0.1\", 2, {retries})")));

    // nginx's own errors go to Kong's error handler; the access log has no query string.
    assert!(conf.contains("error_page 400 404 405 408 411 412 413 414 417 /kong_error_handler;"));
    assert!(conf.contains("error_page 494 =494 /kong_error_handler;"));
    assert!(conf.contains("error_page 500 502 503 504 /kong_error_handler;"));
    let format = conf
        .lines()
        .skip_while(|l| !l.contains("log_format"))
        .take(3)
        .collect::<String>();
    for leaky in [
        "$request ",
        "$request_uri",
        "$args",
        "$query_string",
        "$http_",
    ] {
        assert!(!format.contains(leaky), "{leaky} in {format}");
    }
    assert!(conf.contains("access_log \"/tmp/x/logs/access.log\" kong_local;"));

    // Every consumer's own quota from kong.yaml appears as a rate window in the Lua table.
    for c in raw["consumers"].as_array().unwrap() {
        let name = c["username"].as_str().unwrap();
        for p in c["plugins"].as_array().into_iter().flatten() {
            assert_eq!(p["name"], "rate-limiting");
            for w in ["second", "minute", "hour", "day"] {
                if let Some(n) = p["config"][w].as_u64() {
                    let needle = format!("name = \"{w}\", header = ");
                    assert!(lua.contains(&needle));
                    let limit = policy_limit(&plans, name, w);
                    assert_eq!(limit, Some(n), "{name} {w}");
                }
            }
        }
        let key = c["keyauth_credentials"][0]["key"].as_str().unwrap();
        assert!(
            key.starts_with("{vault://env/"),
            "{name}: key is a reference"
        );
    }
    // The key names and the origin header come from kong.yaml.
    assert!(lua.contains("key_names = { \"apikey\", }"));
    assert!(lua.contains("{ \"X-Origin-Secret\", \"s\" }"));
    assert!(lua.contains("max = 65536"));
    // opentelemetry's sampling rate, and the trace id in every access log line.
    let rate = raw["plugins"][0]["config"]["sampling_rate"]
        .as_f64()
        .unwrap();
    assert_eq!(raw["plugins"][0]["name"], "opentelemetry");
    assert!(
        lua.contains(&format!("tracing = {{ rate = {rate:?} }},")),
        "{lua}"
    );
    assert!(format.contains("trace_id=$kong_log_trace_id"), "{format}");
}

fn policy_limit(plans: &[gateway::plan::RoutePlan], consumer: &str, window: &str) -> Option<u64> {
    let api = plans.iter().find(|p| p.key_auth.is_some()).unwrap();
    let rate = api.sets[&Some(consumer.to_owned())].rate.as_ref()?;
    rate.limits.get(gateway::Window::parse(window)?)
}

#[test]
fn invalid_policies_are_refused_with_reasons() {
    let good = gateway::policy::KONG_YAML;
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("{vault://env/canary-api-key}", "plain-secret"),
            "never a literal",
        ),
        (good.replace("minute: 20\n", "minute: 0\n"), "positive"),
        (good.replace("hour: 1200", "hour: 10"), "cannot be lower"),
        (
            good.replace("minute: 20\n", "minute: lots\n"),
            "rate-limiting",
        ),
        (good.replace("name: key-auth", "name: oauth2"), "oauth2"),
        (
            good.replace("_format_version: \"3.0\"", "_format_version: \"1.1\""),
            "_format_version",
        ),
        (
            good.replace("paths: [/api]", "paths: [\"~/api$\"]"),
            "regex",
        ),
        (
            good.replace("size_unit: kilobytes", "size_unit: gigabytes"),
            "size_unit",
        ),
        (
            good.replace("key_in_body: false", "key_in_body: true"),
            "key_in_body",
        ),
        (
            good.replace(
                "X-Origin-Secret:{vault://env/sum-api-origin-secret}",
                "X-Origin-Secret:hunter2",
            ),
            "never a literal",
        ),
        (
            good.replace("{vault://env/loadgen-api-key}", "{vault://aws/loadgen}"),
            "env vault",
        ),
        (
            good.replace("username: loadgen", "username: canary"),
            "twice",
        ),
        (
            good.replace(
                "          minute: 20\n",
                "          minute: 20\n          bogus: 1\n",
            ),
            "bogus",
        ),
        ("{".to_owned(), "YAML"),
        ("".to_owned(), "_format_version"),
        ("- a\n- b".to_owned(), "YAML"),
    ];
    for (text, expect) in cases {
        let err = Policy::parse(&text).expect_err(expect);
        let msg = err.to_string();
        assert!(msg.contains(expect), "expected {expect:?} in: {msg}");
    }
    assert!(matches!(
        Policy::parse(&good.replace("{vault://env/canary-api-key}", "x")),
        Err(PolicyError::LiteralSecret { .. })
    ));
}

#[test]
fn deck_template_of_the_committed_policy_resolves_every_secret() {
    let t = gateway::deck::template(gateway::policy::KONG_YAML);
    for v in [
        "DECK_CANARY_API_KEY",
        "DECK_LOADGEN_API_KEY",
        "DECK_EXAMPLE_CUSTOMER_API_KEY",
        "DECK_SUM_API_ORIGIN_SECRET",
    ] {
        assert!(t.contains(&format!("${{{{ env \"{v}\" }}}}")), "{v}");
    }
    assert!(!t.contains("vault://"));
}
