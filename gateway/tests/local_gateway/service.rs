//! The real service behind the local gateway: the origin secret reaches it, bypass is refused.

use gateway::LocalGateway;

use crate::common::{header, num};
use crate::{CANARY, client, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_service_gets_the_origin_secret_and_refuses_bypass() {
    let secret = "origin-secret-for-gateway-tests-0123456789";
    let mut config = service::Config::loopback(&[]).expect("test flags parse");
    config.origin_secrets = vec![secret.to_owned()];
    let svc = service::start(config).await.expect("service starts");
    let gw = start(
        LocalGateway::committed()
            .unwrap()
            .upstream(svc.addr())
            .consumer_key("canary", CANARY)
            .origin_secret(secret),
    );
    let sum = |base: String, key: Option<&'static str>| {
        let mut req = client()
            .post(format!("{base}/api/v1/sum"))
            .header("Content-Type", "application/json")
            .body(r#"{"numbers":[1,2,3.5]}"#);
        if let Some(k) = key {
            req = req.header("apikey", k);
        }
        req.send()
    };

    // Through the gateway: authorised, the secret reaches the service, the sum comes back.
    let r = sum(gw.base_url(), Some(CANARY)).await.unwrap();
    assert_eq!(r.status(), 200, "{}", gw.error_log());
    assert!(header(&r, "x-kong-upstream-latency").is_some());
    assert_eq!(
        num(&r, "x-ratelimit-limit-minute"),
        20,
        "the canary's own quota"
    );
    let body = r.text().await.unwrap();
    assert!(body.contains("6.5"), "{body}");

    // Health is public through the gateway.
    let r = client()
        .get(format!("{}/healthz", gw.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Around the gateway: the service refuses.
    let r = sum(format!("http://{}", svc.addr()), Some(CANARY))
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("FORBIDDEN_ORIGIN"));

    // A gateway holding the wrong secret is refused by the service too.
    let wrong = start(
        LocalGateway::committed()
            .unwrap()
            .upstream(svc.addr())
            .consumer_key("canary", CANARY)
            .origin_secret("not-the-origin-secret-0123456789"),
    );
    let r = sum(wrong.base_url(), Some(CANARY)).await.unwrap();
    assert_eq!(r.status(), 403);
    drop(wrong);
    drop(gw);
    svc.shutdown().await;
}
