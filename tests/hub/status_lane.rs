//! The cached status read's own lane (issue 23, `http::status_lane`): a read it answers is the
//! general path's answer, byte for byte, is counted under the same route pattern, and every
//! read it does not answer (no or a bad token, a refused instance, an unknown one) still gets
//! the general path's refusal.

use obs_hub::config::{InstanceConfig, Secret};
use serde_json::{json, Value};

use crate::common::{self, instance, start_fake, TestHub, PASSWORD};

const ADMIN: &str = "lane-admin-token-0123456789abcdef";

struct Got {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

async fn get(hub: &TestHub, path: &str, token: Option<&str>) -> Got {
    let mut request = hub.client.get(format!("{}{path}", hub.base));
    if let Some(token) = token {
        request = request.insert_header(("authorization", format!("Bearer {token}")));
    }
    let mut response = request.send().await.expect("hub answers");
    let body = response.body().limit(1 << 20).await.expect("body").to_vec();
    Got {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        body,
    }
}

async fn hub_for(instances: Vec<InstanceConfig>) -> TestHub {
    let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let hub = common::spawn_hub_configured(instances, |settings| {
        settings.api_tokens = vec![Secret::new(ADMIN)];
    });
    common::eventually("every instance connected", || async {
        let board = hub.board.current();
        names.iter().all(|name| {
            board
                .instance(name)
                .is_some_and(|status| status.is_connected())
        })
    })
    .await;
    hub
}

async fn make_token(hub: &TestHub, body: Value) -> String {
    let mut response = hub
        .client
        .post(format!("{}/api/tokens/", hub.base))
        .insert_header(("authorization", format!("Bearer {ADMIN}")))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    assert_eq!(response.status().as_u16(), 201);
    let made: Value = serde_json::from_slice(&response.body().await.expect("body")).unwrap();
    made["token"].as_str().expect("the secret").to_string()
}

/// The request counter of a route pattern, method and status, from `/metrics`.
async fn counted(hub: &TestHub, route: &str, method: &str) -> (f64, String) {
    let mut response = hub
        .client
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .expect("metrics answer");
    let text = String::from_utf8(response.body().await.expect("body").to_vec()).unwrap();
    let wanted = format!(
        "obs_hub_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"200\"}} "
    );
    let value = text
        .lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .map_or(0.0, |value| value.trim().parse().expect("a number"));
    (value, text)
}

#[actix_web::test]
async fn a_read_the_lane_answers_is_the_general_paths_answer_and_is_counted_by_its_pattern() {
    let main = start_fake().await;
    let side = start_fake().await;
    let hub = hub_for(vec![
        instance("default", &main, PASSWORD),
        instance("lane-side", &side, PASSWORD),
    ])
    .await;
    let reader = make_token(&hub, json!({"name": "reader", "scopes": ["read"]})).await;
    // The lane takes the plain spellings; a doubled slash goes the general way (the router,
    // after normalisation) to the same route.
    for (lane, general) in [
        ("/api/stream-status/", "/api//stream-status/"),
        ("/api/stream-status", "/api//stream-status"),
        (
            "/api/instances/lane-side/stream-status/",
            "/api//instances/lane-side/stream-status/",
        ),
    ] {
        let fast = get(&hub, lane, Some(&reader)).await;
        let slow = get(&hub, general, Some(&reader)).await;
        assert_eq!(fast.status, 200, "{lane}: {:?}", fast.json());
        assert_eq!(slow.status, 200, "{general}: {:?}", slow.json());
        assert_eq!(fast.content_type, slow.content_type, "{lane}");
        assert_eq!(fast.body, slow.body, "{lane}: the same bytes");
    }
    assert_eq!(
        get(
            &hub,
            "/api/instances/lane-side/stream-status",
            Some(&reader)
        )
        .await
        .json()["instance"],
        "lane-side"
    );

    // Counted under the route pattern, never the raw path.
    let pattern = "/api/instances/{instance}/stream-status";
    let (before, _) = counted(&hub, pattern, "GET").await;
    for _ in 0..5 {
        let read = get(
            &hub,
            "/api/instances/lane-side/stream-status/",
            Some(&reader),
        )
        .await;
        assert_eq!(read.status, 200);
    }
    let (after, text) = counted(&hub, pattern, "GET").await;
    assert!(after - before >= 5.0, "{before} -> {after}:\n{text}");
    assert!(!text.contains("route=\"/api/instances/lane-side"), "{text}");

    // A change reaches the lane's answer (the cached bytes follow the status).
    side.switch_scene_from_obs("BRB").await;
    common::eventually("the lane shows the new scene", || async {
        get(
            &hub,
            "/api/instances/lane-side/stream-status/",
            Some(&reader),
        )
        .await
        .json()["current_scene"]
            == "BRB"
    })
    .await;
}

#[actix_web::test]
async fn reads_the_lane_does_not_answer_get_the_general_paths_refusals() {
    let main = start_fake().await;
    let side = start_fake().await;
    let hub = hub_for(vec![
        instance("default", &main, PASSWORD),
        instance("lane-other", &side, PASSWORD),
    ])
    .await;
    let limited = make_token(
        &hub,
        json!({"name": "main-only", "scopes": ["read"], "instances": ["default"]}),
    )
    .await;
    assert_eq!(
        get(&hub, "/api/stream-status/", Some(&limited))
            .await
            .status,
        200
    );

    let other = get(
        &hub,
        "/api/instances/lane-other/stream-status/",
        Some(&limited),
    )
    .await;
    assert_eq!(other.status, 403, "{:?}", other.json());
    assert_eq!(other.json()["error"], "instance_not_allowed");

    let anonymous = get(&hub, "/api/stream-status/", None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json()["error"], "unauthorized");

    let wrong = get(&hub, "/api/stream-status/", Some("ohk_not-a-token")).await;
    assert_eq!(wrong.status, 401);

    let unknown = get(&hub, "/api/instances/nowhere/stream-status/", Some(ADMIN)).await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.json());
    assert_eq!(unknown.json()["error"], "unknown_instance");
}
