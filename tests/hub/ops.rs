//! Operations: health, readiness, Prometheus metrics, API tokens.

use crate::common;

use common::{hub_with_fake, instance, spawn_hub_configured, start_fake, PASSWORD};
use obs_hub::config::Secret;

const TOKEN: &str = "test-token-0123456789abcdef";

#[actix_web::test]
async fn health_and_readiness_answer() {
    let (hub, _fake) = hub_with_fake().await;
    let health = hub.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let ready = hub.get("/readyz").await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["status_manager"], true);
    assert_eq!(ready.body["checks"]["supervisor"], true);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["checks"]["persistence"], "ok");
    // The connection's first changes may still be on their way to the database: the count
    // drains to 0 once they are written.
    assert!(ready.body["persistence"]["pending_events"].is_u64());
    hub.wait_for_path("/readyz", "every change written", |ready| {
        ready["persistence"]["pending_events"] == 0
    })
    .await;
}

#[actix_web::test]
async fn metrics_are_prometheus_text_and_count_what_happened() {
    let (hub, fake) = hub_with_fake().await;
    fake.switch_scene_from_obs("Live").await;
    hub.wait_for("scene seen", |s| s["current_scene"] == "Live")
        .await;
    hub.post("/api/switch-scene/", r#"{"scene_name": "BRB"}"#)
        .await;
    let mut response = hub
        .client
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = String::from_utf8(response.body().await.unwrap().to_vec()).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter().map(Ok))
        .expect("parses as Prometheus text");
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for expected in [
        "obs_hub_connection_state",
        "obs_hub_obs_events_total",
        "obs_hub_status_changes_total",
        "obs_hub_http_requests_total",
        "obs_hub_obs_request_seconds",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from:\n{text}"
        );
    }
    assert!(text.contains("obs_hub_obs_request_seconds_bucket{"));
    // Routes are labelled by pattern, never by raw path.
    assert!(text.contains(r#"route="/api/switch-scene""#), "{text}");
    assert!(text.contains(r#"type="CurrentProgramSceneChanged""#));
}

#[actix_web::test]
async fn with_a_token_only_health_and_metrics_are_open() {
    let fake = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |settings| {
        settings.api_tokens = vec![Secret::new(TOKEN), Secret::new("second-token-0123456789")];
    });
    for path in [
        "/api/stream-status/",
        "/api/obs-manager/status/",
        "/api/instances/",
    ] {
        let missing = hub.get(path).await;
        assert_eq!(missing.status, 401, "{path}");
        assert_eq!(missing.body["error"], "unauthorized");
    }
    let refused = hub.post("/api/start-stream/", "").await;
    assert_eq!(refused.status, 401);
    assert!(!fake.is_streaming());

    let response = hub
        .client
        .get(format!("{}/api/stream-status/", hub.base))
        .insert_header(("Authorization", "Bearer not-the-token-at-all"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Bearer"));

    for token in [TOKEN, "second-token-0123456789"] {
        let response = hub
            .client
            .get(format!("{}/api/stream-status/", hub.base))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    assert_eq!(hub.get("/healthz").await.status, 200);
    assert_eq!(hub.get("/readyz").await.status, 200);
    let metrics = hub
        .client
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
}
