//! Webhooks out (signed, stored, retried) and callbacks in, against the simulated OBS and a
//! receiver that verifies every signature.

use crate::common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::prelude::*;
use actix_web::http::Method;
use common::{
    eventually, instance,
    receiver::{reserve_port, Receiver},
    spawn_hub_configured, start_fake, Reply, TestHub, PASSWORD,
};
use obs_hub::{
    config::{Secret, Settings},
    fake_obs::FakeObs,
    status::{Ping, Source, StatusChanged, Subscribe},
    webhooks::{
        dispatcher::{DeliverySettings, GetStats},
        outbox::RetrySchedule,
        signing,
    },
};
use serde_json::{json, Value};

const TOKEN: &str = "test-token-0123456789";

/// Retries in a fraction of a second instead of minutes.
fn fast_delivery() -> DeliverySettings {
    DeliverySettings {
        schedule: RetrySchedule {
            delays: vec![Duration::from_millis(150); 40],
        },
        timeout: Duration::from_secs(10),
        concurrency: 4,
        ..DeliverySettings::default()
    }
}

async fn hub_with(configure: impl FnOnce(&mut Settings)) -> (TestHub, FakeObs) {
    let fake = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |settings| {
        settings.webhooks.delivery = fast_delivery();
        configure(settings);
    });
    hub.wait_for("connected with a fresh state", |status| {
        status["connected"] == true && status["stale"] == false
    })
    .await;
    (hub, fake)
}

async fn request(
    hub: &TestHub,
    method: Method,
    path: &str,
    body: Option<&str>,
    headers: &[(&str, String)],
) -> Reply {
    let mut request = hub
        .client
        .request(method, format!("{}{path}", hub.base))
        .insert_header(("content-type", "application/json"));
    for (name, value) in headers {
        request = request.insert_header((*name, value.as_str()));
    }
    let mut response = match body {
        Some(body) => request.send_body(body.to_string()).await,
        None => request.send().await,
    }
    .expect("hub answers");
    let bytes = response.body().limit(1 << 22).await.expect("body");
    Reply {
        status: response.status().as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Creates an endpoint for `receiver` through the API; the receiver learns its secret from the
/// one-time answer.
async fn add_endpoint(hub: &TestHub, receiver: &Receiver, event_types: &[&str]) -> String {
    let body = json!({ "url": receiver.url(), "event_types": event_types }).to_string();
    let created = hub.post("/api/webhooks/", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let secret = created.body["secret"].as_str().expect("the secret, once");
    assert!(secret.starts_with("whsec_"));
    receiver.set_secret(secret);
    created.body["id"].as_str().expect("an id").to_string()
}

async fn delivery_log(hub: &TestHub, endpoint: &str) -> Vec<Value> {
    let log = hub
        .get(&format!("/api/webhooks/{endpoint}/deliveries/"))
        .await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    log.body["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn scene_names(received: &[common::receiver::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            r.body["data"]["scene_name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

crate::on_both_backends! {
    async fn endpoints_are_managed_through_the_api_and_secrets_shown_once() {
        let (hub, _fake) = hub_with(|_| {}).await;
        let receiver = Receiver::new();
        let id = add_endpoint(&hub, &receiver, &["scene_changed", "streaming_changed"]).await;

        let list = hub.get("/api/webhooks/").await;
        assert_eq!(list.status, 200);
        let listed = &list.body["webhooks"][0];
        assert_eq!(listed["id"], id.as_str());
        assert_eq!(
            listed["event_types"],
            json!(["scene_changed", "streaming_changed"])
        );
        assert_eq!(listed["source"], "api");
        assert_eq!(listed["signed"], true);
        assert!(
            listed.get("secret").is_none(),
            "never shown again: {listed}"
        );

        let patched = request(
            &hub,
            Method::PATCH,
            &format!("/api/webhooks/{id}/"),
            Some(r#"{"event_types": ["stats_updated"], "instance": "default", "enabled": false}"#),
            &[],
        )
        .await;
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        assert_eq!(patched.body["event_types"], json!(["stats_updated"]));
        assert_eq!(patched.body["instance"], "default");
        assert_eq!(patched.body["enabled"], false);
        assert!(patched.body.get("secret").is_none());

        // A given secret is taken (and not echoed in errors when it is refused).
        let own_secret = signing::generate_secret();
        let with_secret = json!({"url": "https://example.com/in", "secret": own_secret.expose()});
        let created = hub.post("/api/webhooks/", &with_secret.to_string()).await;
        assert_eq!(created.status, 201);
        assert_eq!(created.body["secret"], own_secret.expose());

        let cases = [
            (json!({"url": "ftp://example.com/"}), "url"),
            (json!({"url": "http://"}), "url"),
            (
                json!({"url": "http://x/", "event_types": ["scene_change"]}),
                "event_types",
            ),
            (
                json!({"url": "http://x/", "event_types": []}),
                "event_types",
            ),
            (
                json!({"url": "http://x/", "secret": "hunter2hunter2"}),
                "secret",
            ),
            (json!({"url": "http://x/", "instance": "a b"}), "instance"),
            (json!({"url": "http://x/", "color": "red"}), "color"),
            (json!({}), "url"),
        ];
        for (body, mentions) in cases {
            let reply = hub.post("/api/webhooks/", &body.to_string()).await;
            assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
            assert_eq!(reply.body["error"], "invalid_field", "{body}");
            let message = reply.body["message"].as_str().unwrap_or_default();
            assert!(message.contains(mentions), "{body}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }

        // The OpenAPI document lists these routes.
        let document = hub.get("/api/openapi.json").await.body;
        for path in [
            "/api/webhooks",
            "/api/webhooks/{id}/deliveries",
            "/api/webhooks/deliveries/{id}/redeliver",
            "/api/callback/scene-change",
        ] {
            assert!(document["paths"].get(path).is_some(), "{path} documented");
        }

        let deleted = request(
            &hub,
            Method::DELETE,
            &format!("/api/webhooks/{id}/"),
            None,
            &[],
        )
        .await;
        assert_eq!(deleted.status, 204);
        let gone = hub.get(&format!("/api/webhooks/{id}/")).await;
        assert_eq!(gone.status, 404);
        assert_eq!(gone.body["error"], "not_found");
    }
}

crate::on_both_backends! {
    async fn a_receiver_that_was_down_gets_every_change_once_signed_and_in_the_log_as_retried() {
        let (hub, fake) = hub_with(|_| {}).await;
        // Down: nothing listens on its port yet.
        let receiver = Receiver::new();
        let endpoint = add_endpoint(&hub, &receiver, &["scene_changed"]).await;

        for scene in ["Live", "BRB", "Ending"] {
            assert!(fake.switch_scene_from_obs(scene).await);
            hub.wait_for(scene, |s| s["current_scene"] == scene).await;
        }
        // Stored and tried (and failed) while the receiver is down.
        eventually("three deliveries retried", || async {
            let log = delivery_log(&hub, &endpoint).await;
            log.len() == 3
                && log
                    .iter()
                    .all(|d| d["status"] == "pending" && d["attempts"].as_u64() >= Some(2))
        })
        .await;

        receiver.start();
        eventually("every change delivered", || async {
            receiver.of_type("scene_changed").len() >= 3
        })
        .await;
        // Counted once the dispatcher has marked all three delivered: it retries only pending
        // deliveries, so every copy its retries sent has reached the receiver by then.
        eventually("the three marked delivered", || async {
            let log = delivery_log(&hub, &endpoint).await;
            log.len() == 3 && log.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        let received = receiver.of_type("scene_changed");
        // Retries run side by side: arrival order is not promised (receivers order by
        // `timestamp`), completeness is.
        let mut names = scene_names(&received);
        names.sort();
        assert_eq!(names, ["BRB", "Ending", "Live"].map(String::from));
        let mut ids: Vec<&str> = received.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "one id per change, each received once");
        assert_eq!(receiver.bad_signatures(), 0);
        let first = &received
            .iter()
            .find(|r| r.body["data"]["scene_name"] == "Live")
            .unwrap()
            .body;
        assert_eq!(first["data"]["instance"], "default");
        assert_eq!(first["data"]["source"], "obs_event");
        assert!(first["data"]["seq"].as_u64() > Some(0));
        assert!(first["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));

        eventually("the log shows them delivered", || async {
            delivery_log(&hub, &endpoint)
                .await
                .iter()
                .all(|d| d["status"] == "delivered")
        })
        .await;
        let log = delivery_log(&hub, &endpoint).await;
        for delivery in &log {
            let attempts = delivery["attempt_log"].as_array().unwrap();
            assert!(attempts.len() >= 2, "retried: {delivery:#}");
            assert_eq!(attempts[0]["status_code"], Value::Null);
            assert!(attempts[0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("connect")));
            assert_eq!(attempts.last().unwrap()["status_code"], 204);
            assert!(received
                .iter()
                .any(|r| r.id == delivery["id"].as_str().unwrap()));
            assert_eq!(delivery["payload"]["type"], "scene_changed");
        }
        // Newest first, a page at a time.
        let page = hub
            .get(&format!("/api/webhooks/{endpoint}/deliveries/?limit=2"))
            .await;
        assert_eq!(page.body["deliveries"].as_array().unwrap().len(), 2);
        assert_eq!(
            page.body["deliveries"][0]["payload"]["data"]["scene_name"],
            "Ending"
        );
        let cursor = page.body["next_cursor"].as_str().expect("a next page");
        let rest = hub
            .get(&format!(
                "/api/webhooks/{endpoint}/deliveries/?limit=2&cursor={cursor}"
            ))
            .await;
        assert_eq!(
            rest.body["deliveries"][0]["payload"]["data"]["scene_name"],
            "Live"
        );
        assert_eq!(rest.body["next_cursor"], Value::Null);

        let metrics = hub.client.get(format!("{}/metrics", hub.base)).send().await;
        let text = String::from_utf8(metrics.unwrap().body().await.unwrap().to_vec()).unwrap();
        assert!(
            text.contains(r#"obs_hub_webhook_deliveries_total{outcome="delivered"}"#),
            "{text}"
        );
        assert!(text.contains(r#"obs_hub_webhook_deliveries_total{outcome="retry"}"#));
        assert!(text.contains("obs_hub_webhook_outbox_depth"));
        receiver.stop().await;
    }
}

#[actix_web::test]
async fn a_slow_endpoint_does_not_delay_the_others() {
    let (hub, fake) = hub_with(|_| {}).await;
    // Accepts connections (the kernel does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/hooks", silent.local_addr().unwrap());
    let created = hub
        .post(
            "/api/webhooks/",
            &json!({"url": silent_url, "event_types": ["scene_changed"]}).to_string(),
        )
        .await;
    assert_eq!(created.status, 201);
    let slow = created.body["id"].as_str().unwrap().to_string();
    let receiver = Receiver::new();
    receiver.start();
    add_endpoint(&hub, &receiver, &["scene_changed"]).await;

    for scene in ["Live", "BRB", "Ending", "Scene", "Live", "BRB"] {
        assert!(fake.switch_scene_from_obs(scene).await);
        hub.wait_for(scene, |s| s["current_scene"] == scene).await;
    }
    eventually("the healthy endpoint got everything", || async {
        receiver.of_type("scene_changed").len() >= 6
    })
    .await;
    // The silent endpoint's first attempts (4 at a time) are still waiting for an answer.
    let stuck = delivery_log(&hub, &slow).await;
    assert_eq!(stuck.len(), 6);
    assert!(stuck.iter().all(|d| d["attempts"] == 0), "{stuck:#?}");
    // And the hub itself answers meanwhile.
    assert_eq!(hub.get("/api/stream-status/").await.status, 200);
    receiver.stop().await;
    drop(silent);
}

crate::on_both_backends! {
    async fn gone_disables_the_endpoint_and_test_messages_and_redeliveries_go_through_the_outbox() {
        let (hub, fake) = hub_with(|_| {}).await;
        let receiver = Receiver::new();
        receiver.start();
        let endpoint = add_endpoint(&hub, &receiver, &["scene_changed"]).await;

        let test = hub
            .post(&format!("/api/webhooks/{endpoint}/test/"), "")
            .await;
        assert_eq!(test.status, 202, "{:?}", test.body);
        let test_id = test.body["delivery_id"].as_str().unwrap().to_string();
        eventually("the test message", || async {
            receiver.of_type("webhook.test").len() == 1
        })
        .await;
        assert_eq!(receiver.of_type("webhook.test")[0].id, test_id);

        let again = hub
            .post(
                &format!("/api/webhooks/deliveries/{test_id}/redeliver/"),
                "",
            )
            .await;
        assert_eq!(again.status, 202, "{:?}", again.body);
        eventually("redelivered under the same id", || async {
            receiver
                .of_type("webhook.test")
                .iter()
                .filter(|r| r.id == test_id)
                .count()
                == 2
        })
        .await;
        let unknown = hub
            .post("/api/webhooks/deliveries/msg_nope/redeliver/", "")
            .await;
        assert_eq!(unknown.status, 404);

        // A redirect is a failed attempt (not followed), retried.
        receiver.answer_with(Some(307));
        assert!(fake.switch_scene_from_obs("Starting Soon").await);
        eventually("a redirect answered and not followed", || async {
            delivery_log(&hub, &endpoint)
                .await
                .first()
                .is_some_and(|d| {
                    d["payload"]["data"]["scene_name"] == "Starting Soon"
                        && d["attempt_log"][0]["status_code"] == 307
                        && d["attempt_log"][0]["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("redirects are not followed"))
                        // The receiver's body ("not now") is not kept: only the status.
                        && d["attempt_log"][0]["error"]
                            .as_str()
                            .is_some_and(|e| e.starts_with("HTTP 307 Temporary Redirect") && !e.contains("not now"))
                })
        })
        .await;
        receiver.answer_with(None);
        eventually("delivered on a retry", || async {
            scene_names(&receiver.of_type("scene_changed")).contains(&"Starting Soon".to_string())
        })
        .await;

        receiver.answer_with(Some(410));
        assert!(fake.switch_scene_from_obs("Live").await);
        eventually("the endpoint disabled by 410 Gone", || async {
            let shown = hub.get(&format!("/api/webhooks/{endpoint}/")).await.body;
            shown["enabled"] == false
                && shown["disabled_reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("410"))
        })
        .await;
        // The endpoint is disabled in memory at once; its delivery's row follows through the
        // outbox's writer (a commit later, which a PostgreSQL server can make visible later).
        eventually("the delivery ended as endpoint_disabled in the log", || async {
            delivery_log(&hub, &endpoint).await[0]["status"] == "endpoint_disabled"
        })
        .await;
        let log = delivery_log(&hub, &endpoint).await;
        assert_eq!(log[0]["status"], "endpoint_disabled");
        assert_eq!(log[0]["attempt_log"][0]["status_code"], 410);
        // Nothing more goes to it; a test or redelivery is refused until it is enabled again.
        assert!(fake.switch_scene_from_obs("BRB").await);
        hub.wait_for("BRB", |s| s["current_scene"] == "BRB").await;
        assert_eq!(delivery_log(&hub, &endpoint).await.len(), 3);
        let refused = hub
            .post(&format!("/api/webhooks/{endpoint}/test/"), "")
            .await;
        assert_eq!(refused.status, 409);
        receiver.answer_with(None);
        let enabled = request(
            &hub,
            Method::PATCH,
            &format!("/api/webhooks/{endpoint}/"),
            Some(r#"{"enabled": true}"#),
            &[],
        )
        .await;
        assert_eq!(enabled.body["enabled"], true);
        assert_eq!(enabled.body["disabled_reason"], Value::Null);
        assert!(fake.switch_scene_from_obs("Ending").await);
        eventually("delivered again once enabled", || async {
            scene_names(&receiver.of_type("scene_changed")).contains(&"Ending".to_string())
        })
        .await;
        receiver.stop().await;
    }
}

struct Collector(Arc<Mutex<Vec<StatusChanged>>>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<StatusChanged> for Collector {
    type Result = ();
    fn handle(&mut self, change: StatusChanged, _: &mut Context<Self>) {
        self.0.lock().unwrap().push(change);
    }
}

/// A callback is trusted to name a scene, not to smuggle control characters into every
/// client's view, the history and the logs: refused with a 400 naming the field, and the cached
/// status keeps its names.
#[actix_web::test]
async fn callbacks_with_control_characters_in_scene_names_are_refused_and_never_cached() {
    let (hub, _fake) = hub_with(|_| {}).await;
    for (path, body) in [
        (
            "/api/callback/scene-change/",
            r#"{"scene_name": "Live", "instance": "remote"}"#,
        ),
        (
            "/api/callback/",
            r#"{"type": "scene_list_changed", "timestamp": "2026-11-23T22:00:00Z",
                "data": {"instance": "remote", "scenes": ["Live", "BRB"]}}"#,
        ),
    ] {
        let reply = hub.post(path, body).await;
        assert_eq!(reply.body["applied"], true, "{path}: {:?}", reply.body);
    }
    hub.wait_for_path(
        "/api/instances/remote/stream-status/",
        "remote's scenes",
        |s| s["current_scene"] == "Live" && s["scenes"] == json!(["Live", "BRB"]),
    )
    .await;

    let cases = [
        (
            "/api/callback/scene-change/",
            r#"{"scene_name": "Evil\u0000", "instance": "remote"}"#,
            "`scene_name`",
        ),
        (
            "/api/callback/scene-change/",
            r#"{"type": "scene_changed", "timestamp": "2026-11-23T22:00:01Z",
                "data": {"instance": "remote", "scene_name": "\u001b]0;owned\u0007"}}"#,
            "`data.scene_name`",
        ),
        (
            "/api/callback/",
            r#"{"type": "scene_list_changed", "timestamp": "2026-11-23T22:00:02Z",
                "data": {"instance": "remote", "scenes": ["Live", "line\nforged"]}}"#,
            "`data.scenes[1]`",
        ),
    ];
    for (path, body, field) in cases {
        let reply = hub.post(path, body).await;
        assert_eq!(reply.status, 400, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "invalid_field", "{body}");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {message}");
        assert!(message.contains("control characters"), "{body}: {message}");
    }
    // A valid callback after them: once it shows, anything sent before it has been handled.
    let marker = hub
        .post(
            "/api/callback/streaming-change/",
            r#"{"is_streaming": true, "instance": "remote"}"#,
        )
        .await;
    assert_eq!(marker.body["applied"], true, "{:?}", marker.body);
    let remote = hub
        .wait_for_path("/api/instances/remote/stream-status/", "the marker", |s| {
            s["is_streaming"] == true
        })
        .await;
    assert_eq!(remote["current_scene"], "Live");
    assert_eq!(remote["scenes"], json!(["Live", "BRB"]));
}

#[actix_web::test]
async fn callbacks_update_an_instance_reach_subscribers_and_history_but_obs_wins() {
    let (hub, _fake) = hub_with(|_| {}).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    hub.app_manager
        .do_send(Subscribe(Collector(seen.clone()).start().recipient()));

    // The default instance is connected: OBS's own word wins.
    let overruled = hub
        .post(
            "/api/callback/scene-change/",
            r#"{"scene_name": "Elsewhere"}"#,
        )
        .await;
    assert_eq!(overruled.status, 200, "{:?}", overruled.body);
    assert_eq!(overruled.body["applied"], false);
    assert!(overruled.body["reason"]
        .as_str()
        .unwrap()
        .contains("OBS itself"));
    assert_ne!(
        hub.get("/api/stream-status/").await.body["current_scene"],
        "Elsewhere"
    );

    // An instance this hub has no link to follows its callbacks.
    for (path, body) in [
        (
            "/api/callback/connection-change/",
            r#"{"connected": true, "instance": "remote"}"#,
        ),
        (
            "/api/callback/scene-change/",
            r#"{"scene_name": "Live", "instance": "remote"}"#,
        ),
        (
            "/api/callback/streaming-change/",
            r#"{"is_streaming": true, "instance": "remote"}"#,
        ),
    ] {
        let reply = hub.post(path, body).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["applied"], true, "{path}");
    }
    let remote = hub
        .wait_for_path(
            "/api/instances/remote/stream-status/",
            "remote's status",
            |s| s["current_scene"] == "Live" && s["is_streaming"] == true,
        )
        .await;
    assert_eq!(remote["connected"], true);
    eventually("subscribers told, marked as callbacks", || async {
        let seen = seen.lock().unwrap();
        seen.iter()
            .filter(|c| c.instance == "remote" && c.source == Source::Callback)
            .count()
            >= 3
    })
    .await;
    eventually("written to the history", || async {
        let events = hub
            .get("/api/events/?instance=remote&kind=scene_changed")
            .await
            .body;
        events["events"][0]["source"] == "callback"
            && events["events"][0]["payload"]["scene"] == "Live"
    })
    .await;

    let cases: [(&str, &str, &str); 6] = [
        ("/api/callback/scene-change/", "{}", "scene_name"),
        ("/api/callback/scene-change/", r#"{"scene": "A"}"#, "scene"),
        (
            "/api/callback/streaming-change/",
            r#"{"is_streaming": "yes"}"#,
            "is_streaming",
        ),
        (
            "/api/callback/connection-change/",
            r#"{"connected": 1}"#,
            "connected",
        ),
        (
            "/api/callback/scene-change/",
            r#"{"scene_name": "A", "instance": "a b"}"#,
            "instance",
        ),
        ("/api/callback/", r#"{"scene_name": "A"}"#, "type"),
    ];
    for (path, body, mentions) in cases {
        let reply = hub.post(path, body).await;
        assert_eq!(reply.status, 400, "{path} {body}: {:?}", reply.body);
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{path} {body}: {message}");
    }
    let huge = format!(r#"{{"scene_name": "{}"}}"#, "x".repeat(70 * 1024));
    let too_big = hub.post("/api/callback/scene-change/", &huge).await;
    assert_eq!(too_big.status, 413);
    assert_eq!(too_big.body["error"], "payload_too_large");
}

fn signed_headers(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    body: &str,
) -> Vec<(&'static str, String)> {
    let key = signing::key_bytes(secret).unwrap();
    vec![
        ("webhook-id", id.to_string()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            signing::sign(&key, id, timestamp, body.as_bytes()),
        ),
    ]
}

#[actix_web::test]
async fn with_a_callback_secret_only_signed_fresh_callbacks_apply_and_replays_apply_once() {
    let secret = signing::generate_secret();
    let configured = secret.clone();
    // No OBS needed: everything here is about an instance known from callbacks.
    let hub = spawn_hub_configured(vec![], move |settings| {
        settings.callback_secret = Some(configured);
        settings.api_tokens = vec![Secret::new(TOKEN)];
    });
    let path = "/api/callback/scene-change/";
    let body = r#"{"scene_name": "One", "instance": "remote"}"#;
    let now = chrono::Utc::now().timestamp();

    let unsigned = request(&hub, Method::POST, path, Some(body), &[]).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.body["error"], "unauthorized");
    assert!(unsigned.body["message"]
        .as_str()
        .unwrap()
        .contains("webhook-id"));
    let other_secret = signing::generate_secret();
    let wrong = request(
        &hub,
        Method::POST,
        path,
        Some(body),
        &signed_headers(&other_secret, "msg_a", now, body),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body["message"].as_str().unwrap().contains("matches"));
    let stale = request(
        &hub,
        Method::POST,
        path,
        Some(body),
        &signed_headers(&secret, "msg_a", now - 600, body),
    )
    .await;
    assert_eq!(stale.status, 401);
    assert!(stale.body["message"]
        .as_str()
        .unwrap()
        .contains("5 minutes"));
    let tampered_headers = signed_headers(&secret, "msg_a", now, body);
    let tampered = request(
        &hub,
        Method::POST,
        path,
        Some(r#"{"scene_name": "Evil", "instance": "remote"}"#),
        &tampered_headers,
    )
    .await;
    assert_eq!(tampered.status, 401);

    let first = request(
        &hub,
        Method::POST,
        path,
        Some(body),
        &signed_headers(&secret, "msg_a", now, body),
    )
    .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["applied"], true);
    let auth = [("authorization", format!("Bearer {TOKEN}"))];
    let remote_scene = || async {
        request(
            &hub,
            Method::GET,
            "/api/instances/remote/stream-status/",
            None,
            &auth,
        )
        .await
        .body["current_scene"]
            .clone()
    };
    eventually("applied", || async { remote_scene().await == "One" }).await;

    let second_body = r#"{"scene_name": "Two", "instance": "remote"}"#;
    let second = request(
        &hub,
        Method::POST,
        path,
        Some(second_body),
        &signed_headers(&secret, "msg_b", now, second_body),
    )
    .await;
    assert_eq!(second.body["applied"], true);
    eventually("applied", || async { remote_scene().await == "Two" }).await;
    // The first message again: answered 200, not applied a second time.
    let replay = request(
        &hub,
        Method::POST,
        path,
        Some(body),
        &signed_headers(&secret, "msg_a", now, body),
    )
    .await;
    assert_eq!(replay.status, 200);
    assert_eq!(replay.body["applied"], false);
    assert_eq!(replay.body["duplicate"], true);
    // The route hands an applied callback to the manager before it answers: once the manager
    // has handled what was queued before this ping, a replay applied after all would show.
    hub.app_manager.send(Ping).await.unwrap();
    assert_eq!(remote_scene().await, "Two");

    // Scripts may use the API token instead of a signature.
    let by_token_body = r#"{"scene_name": "Three", "instance": "remote"}"#;
    let by_token = request(&hub, Method::POST, path, Some(by_token_body), &auth).await;
    assert_eq!(by_token.status, 200, "{:?}", by_token.body);
    eventually("applied", || async { remote_scene().await == "Three" }).await;
}

#[actix_web::test]
async fn two_chained_hubs_a_scene_switch_behind_a_shows_in_b() {
    let secret = signing::generate_secret();
    let fake_b = start_fake().await;
    let secret_b = secret.clone();
    let hub_b = spawn_hub_configured(
        vec![instance("local", &fake_b, PASSWORD)],
        move |settings| {
            settings.callback_secret = Some(secret_b);
        },
    );
    let fake_a = start_fake().await;
    let base_b = hub_b.base.clone();
    let secret_a = secret.clone();
    let hub_a = spawn_hub_configured(
        vec![instance("studio", &fake_a, PASSWORD)],
        move |settings| {
            settings.callback_base_url = Some(base_b);
            settings.callback_secret = Some(secret_a);
            settings.webhooks.delivery = fast_delivery();
        },
    );
    hub_a
        .wait_for("A connected", |s| {
            s["connected"] == true && s["stale"] == false
        })
        .await;
    // A's declared callback endpoints are listed with their source.
    let endpoints = hub_a.get("/api/webhooks/").await.body;
    let urls: Vec<&str> = endpoints["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 3, "{endpoints:#}");
    assert!(urls.iter().all(|url| url.starts_with(&hub_b.base)));
    assert!(
        endpoints["webhooks"][0]["source"] == "callback"
            && endpoints["webhooks"][0]["signed"] == true
    );

    assert!(fake_a.switch_scene_from_obs("BRB").await);
    let seen_by_b = hub_b
        .wait_for_path(
            "/api/instances/studio/stream-status/",
            "A's scene in B",
            |s| s["current_scene"] == "BRB",
        )
        .await;
    assert_eq!(
        seen_by_b["connected"], true,
        "A's link state travels too: {seen_by_b:#}"
    );
    eventually("in B's history, from a callback", || async {
        let events = hub_b
            .get("/api/events/?instance=studio&kind=scene_changed")
            .await
            .body;
        events["events"][0]["payload"]["scene"] == "BRB"
            && events["events"][0]["source"] == "callback"
    })
    .await;
    // The per-instance history route knows the callback-only instance too.
    let per_instance = hub_b
        .get("/api/instances/studio/events/?kind=scene_changed")
        .await;
    assert_eq!(per_instance.status, 200, "{:?}", per_instance.body);
    assert_eq!(per_instance.body["events"][0]["payload"]["scene"], "BRB");
    // B's own instance is untouched.
    assert_eq!(
        hub_b.get("/api/stream-status/").await.body["instance"],
        "local"
    );
}

#[actix_web::test]
async fn https_endpoints_are_spoken_to_over_tls() {
    let (hub, fake) = hub_with(|_| {}).await;
    // A plain-HTTP receiver behind an https URL: the TLS handshake must be tried (and fail).
    let receiver = Receiver::new();
    receiver.start();
    let url = format!("https://127.0.0.1:{}/hooks", receiver.port);
    let created = hub
        .post(
            "/api/webhooks/",
            &json!({"url": url, "event_types": ["scene_changed"]}).to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let endpoint = created.body["id"].as_str().unwrap().to_string();
    assert!(fake.switch_scene_from_obs("Live").await);
    eventually("a first attempt", || async {
        let log = delivery_log(&hub, &endpoint).await;
        log.first()
            .is_some_and(|d| d["attempt_log"][0]["error"].is_string())
    })
    .await;
    let log = delivery_log(&hub, &endpoint).await;
    let error = log[0]["attempt_log"][0]["error"]
        .as_str()
        .unwrap_or_default();
    eprintln!("https attempt error: {error}");
    assert!(!error.contains("not supported"), "{error}");
    assert!(receiver.received().is_empty());
    receiver.stop().await;
}

/// Counts in a hub's database, read directly (what a restart would resume).
fn database_counts(
    location: &obs_hub::config::DatabaseLocation,
    endpoint: &str,
) -> (i64, i64, i64) {
    use diesel::{sql_types::BigInt, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = obs_hub::db::backend::establish(location).expect("the database");
    let mut count = |query: String| {
        diesel::sql_query(query)
            .get_result::<Count>(&mut conn)
            .expect("a count")
            .n
    };
    let pending =
        count("SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'".into());
    let of_endpoint = count(format!(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = '{endpoint}'"
    ));
    let orphan_attempts = count(
        "SELECT count(*) AS n FROM webhook_attempts WHERE delivery_id NOT IN \
         (SELECT id FROM webhook_deliveries)"
            .into(),
    );
    (pending, of_endpoint, orphan_attempts)
}

crate::on_both_backends! {
    async fn deleting_an_endpoint_with_deliveries_in_flight_leaves_the_others_delivered_and_nothing_to_resend() {
        let (hub, fake) = hub_with(|_| {}).await;
        // X answers nothing until released: its attempts stay under way.
        let slow = Receiver::new();
        slow.hold();
        slow.start();
        let x = add_endpoint(&hub, &slow, &["scene_changed"]).await;
        let steady = Receiver::new();
        steady.start();
        let y = add_endpoint(&hub, &steady, &["scene_changed"]).await;

        let before = ["Live", "BRB", "Ending", "Scene", "Live", "BRB"];
        for scene in before {
            assert!(fake.switch_scene_from_obs(scene).await);
            hub.wait_for(scene, |s| s["current_scene"] == scene).await;
        }
        eventually("X's attempts under way (4 at a time)", || async {
            slow.held() >= 4
        })
        .await;
        let deleted = request(
            &hub,
            Method::DELETE,
            &format!("/api/webhooks/{x}/"),
            None,
            &[],
        )
        .await;
        assert_eq!(deleted.status, 204, "{:?}", deleted.body);
        // The attempts that were under way now get their answers, after the deletion.
        slow.release();

        let after = ["Ending", "Scene", "Live", "BRB", "Ending"];
        for scene in after {
            assert!(fake.switch_scene_from_obs(scene).await);
            hub.wait_for(scene, |s| s["current_scene"] == scene).await;
        }
        let expected = before.len() + after.len();
        eventually("Y received every change", || async {
            steady.of_type("scene_changed").len() >= expected
        })
        .await;
        eventually("Y's log shows every delivery delivered", || async {
            let log = delivery_log(&hub, &y).await;
            log.len() == expected && log.iter().all(|d| d["status"] == "delivered")
        })
        .await;
        assert_eq!(hub.get(&format!("/api/webhooks/{x}/")).await.status, 404);
        let database = hub.location.clone().expect("a database");
        let (pending, of_x, orphans) = database_counts(&database, &x);
        assert_eq!(pending, 0, "nothing left pending in the database");
        assert_eq!(of_x, 0, "X's deliveries went with it");
        assert_eq!(orphans, 0, "no attempt without its delivery");

        // A hub started again on the same database (no OBS: no new changes) resends nothing.
        let restarted = spawn_hub_configured(vec![], move |settings| {
            common::use_database(settings, &database);
            settings.webhooks.delivery = fast_delivery();
        });
        let dispatcher = restarted
            .webhooks
            .dispatcher()
            .expect("a dispatcher")
            .clone();
        // Answered once the pending deliveries are loaded and resumed.
        let stats = dispatcher
            .send(GetStats)
            .await
            .expect("the dispatcher answers");
        assert_eq!((stats.attempts, stats.outbox_depth), (0, 0), "{stats:?}");
        let received = steady.of_type("scene_changed");
        let mut ids: Vec<&str> = received.iter().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), received.len(), "each delivered once");
        assert_eq!(received.len(), expected);
        steady.stop().await;
        slow.stop().await;
    }
}

/// An endpoint written straight into a hub's database before it starts, as an older hub (or one
/// with other rules) would have stored it: the destination policy must catch it at delivery.
fn seed_api_endpoint(database: &std::path::Path, url: &str, secret: &Secret) -> String {
    use obs_hub::{
        db::pool::{self, ConnectionOptions},
        webhooks::{
            endpoint::{new_endpoint_id, Endpoint, EndpointSource},
            events::{EventType, Filter},
            store,
        },
    };
    let pool = pool::open(
        &obs_hub::config::DatabaseLocation::Sqlite(database.to_path_buf()),
        ConnectionOptions {
            busy_timeout: Duration::from_secs(5),
        },
    )
    .expect("the database opens");
    let now = chrono::Utc::now();
    let endpoint = Endpoint {
        id: new_endpoint_id(),
        url: url.to_string(),
        secret: Some(secret.clone()),
        filter: Filter {
            event_types: vec![EventType::named("scene_changed").unwrap()],
            instance: None,
        },
        enabled: true,
        disabled_reason: None,
        source: EndpointSource::Api,
        created_at: now,
        updated_at: now,
    };
    store::insert_endpoint(&mut pool.get().unwrap(), &endpoint).expect("stored");
    endpoint.id
}

async fn webhook_count(hub: &TestHub) -> usize {
    hub.get("/api/webhooks/").await.body["webhooks"]
        .as_array()
        .map_or(0, Vec::len)
}

#[actix_web::test]
async fn endpoints_to_refused_destinations_are_not_created_and_their_number_is_capped() {
    let (hub, _fake) = hub_with(|settings| settings.webhooks.delivery.max_endpoints = 2).await;
    let port = hub.base.rsplit(':').next().unwrap().to_string();
    // Loopback is allowed by default (local receivers), on another port than the hub's.
    let receiver = Receiver::new();
    let other = receiver.port;
    for (url, why) in [
        // The self-loop: the hub's own test route.
        (
            format!("{}/api/webhooks/ep_x/test/", hub.base),
            "own address",
        ),
        (
            format!("http://localhost:{port}/api/callback/"),
            "own address",
        ),
        (format!("http://[::ffff:7f00:1]:{port}/api/"), "own address"),
        (format!("http://0.0.0.0:{other}/hooks"), "unspecified"),
        (format!("http://[::]:{other}/hooks"), "unspecified"),
        (format!("http://2130706433:{other}/hooks"), "a.b.c.d"),
        (format!("http://0x7f000001:{other}/hooks"), "a.b.c.d"),
    ] {
        let reply = hub
            .post("/api/webhooks/", &json!({ "url": url }).to_string())
            .await;
        assert_eq!(reply.status, 400, "{url}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "destination_not_allowed", "{url}");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(&url) && message.contains(why),
            "{url}: {message}"
        );
        assert_eq!(webhook_count(&hub).await, 0, "{url}: nothing created");
    }

    let first = add_endpoint(&hub, &receiver, &["scene_changed"]).await;
    let moved = request(
        &hub,
        Method::PATCH,
        &format!("/api/webhooks/{first}/"),
        Some(&json!({ "url": format!("{}/api/webhooks/{first}/test/", hub.base) }).to_string()),
        &[],
    )
    .await;
    assert_eq!(moved.status, 400, "{:?}", moved.body);
    assert_eq!(moved.body["error"], "destination_not_allowed");
    let shown = hub.get(&format!("/api/webhooks/{first}/")).await.body;
    assert_eq!(
        shown["url"],
        receiver.url().as_str(),
        "the URL is unchanged"
    );

    let second = json!({ "url": format!("http://127.0.0.1:{other}/second") }).to_string();
    assert_eq!(hub.post("/api/webhooks/", &second).await.status, 201);
    let third = json!({ "url": format!("http://127.0.0.1:{other}/third") }).to_string();
    let refused = hub.post("/api/webhooks/", &third).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "webhook_limit_reached");
    assert!(refused.body["message"]
        .as_str()
        .is_some_and(|m| m.contains("max_endpoints = 2")));
    assert_eq!(webhook_count(&hub).await, 2);
    // Room again once one is deleted.
    let deleted = request(
        &hub,
        Method::DELETE,
        &format!("/api/webhooks/{first}/"),
        None,
        &[],
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(hub.post("/api/webhooks/", &third).await.status, 201);

    // With loopback refused by the configuration, every loopback form is.
    let strict = spawn_hub_configured(vec![], |settings| {
        settings.webhooks.delivery.destinations.allow_loopback = false;
    });
    for url in [
        format!("http://127.0.0.1:{other}/hooks"),
        format!("http://localhost:{other}/hooks"),
        format!("http://[::1]:{other}/hooks"),
        format!("http://[::ffff:7f00:1]:{other}/hooks"),
    ] {
        let reply = strict
            .post("/api/webhooks/", &json!({ "url": url }).to_string())
            .await;
        assert_eq!(reply.status, 400, "{url}: {:?}", reply.body);
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("allow_loopback"), "{url}: {message}");
    }
    assert_eq!(webhook_count(&strict).await, 0);
}

#[actix_web::test]
async fn stored_endpoints_to_refused_destinations_fail_at_delivery_with_the_reason() {
    let fake = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("hub.db");
    let hub_port = reserve_port();
    let receiver = Receiver::new();
    receiver.start();
    let secret = signing::generate_secret();
    receiver.set_secret(secret.expose());
    // Delivered: loopback is allowed by default. A self-loop would make the hub send it
    // `webhook.test` messages.
    let control = seed_api_endpoint(&database, &receiver.url(), &secret);
    let test_route = format!("api/webhooks/{control}/test/");
    let refused: Vec<(String, &str)> = [
        (
            format!("http://0.0.0.0:{}/hooks", receiver.port),
            "unspecified",
        ),
        (
            format!("http://127.0.0.1:{hub_port}/{test_route}"),
            "own address",
        ),
        (
            format!("http://[::ffff:7f00:1]:{hub_port}/{test_route}"),
            "own address",
        ),
        // Stored before the URL check: the resolver reads it as 127.0.0.1.
        (
            format!("http://2130706433:{hub_port}/{test_route}"),
            "own address",
        ),
        (
            format!("http://localhost:{hub_port}/{test_route}"),
            "own address",
        ),
    ]
    .into_iter()
    .map(|(url, why)| (seed_api_endpoint(&database, &url, &secret), why))
    .collect();
    let seeded = database.clone();
    let hub = spawn_hub_configured(
        vec![instance("default", &fake, PASSWORD)],
        move |settings| {
            settings.bind = format!("127.0.0.1:{hub_port}").parse().unwrap();
            settings.database.path = Some(seeded);
            settings.webhooks.delivery = fast_delivery();
        },
    );
    hub.wait_for("connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    assert!(fake.switch_scene_from_obs("Live").await);

    for (endpoint, why) in &refused {
        eventually("refused attempts, retried on the schedule", || async {
            let log = delivery_log(&hub, endpoint).await;
            log.iter().any(|d| {
                d["status"] == "pending"
                    && d["attempt_log"].as_array().is_some_and(|attempts| {
                        attempts.len() >= 2
                            && attempts.iter().all(|a| {
                                a["status_code"].is_null()
                                    && a["error"].as_str().is_some_and(|e| {
                                        e.contains("destination policy") && e.contains(why)
                                    })
                            })
                    })
            })
        })
        .await;
    }
    eventually("the allowed endpoint delivered", || async {
        delivery_log(&hub, &control)
            .await
            .iter()
            .any(|d| d["status"] == "delivered")
    })
    .await;
    let delivered: Vec<String> = delivery_log(&hub, &control)
        .await
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let received = receiver.received();
    assert!(
        received.iter().all(|r| delivered.contains(&r.id)),
        "the receiver got only the allowed endpoint's messages: {received:#?}"
    );
    assert!(
        receiver.of_type("webhook.test").is_empty(),
        "no delivery reached the hub itself"
    );
    receiver.stop().await;
}

#[actix_web::test]
async fn with_loopback_refused_api_endpoints_fail_but_configured_ones_are_trusted() {
    let fake = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("hub.db");
    let receiver = Receiver::new();
    receiver.start();
    let secret = signing::generate_secret();
    receiver.set_secret(secret.expose());
    let from_api = seed_api_endpoint(&database, &receiver.url(), &secret);
    let seeded = database.clone();
    let declared = obs_hub::config::DeclaredWebhook::receiver(
        format!("http://localhost:{}/hooks", receiver.port),
        secret.clone(),
    );
    let hub = spawn_hub_configured(
        vec![instance("default", &fake, PASSWORD)],
        move |settings| {
            settings.database.path = Some(seeded);
            settings.webhooks.delivery = fast_delivery();
            settings.webhooks.delivery.destinations.allow_loopback = false;
            settings.webhooks.endpoints = vec![declared];
        },
    );
    hub.wait_for("connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    let endpoints = hub.get("/api/webhooks/").await.body;
    let from_config = endpoints["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "config")
        .expect("the configured endpoint")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fake.switch_scene_from_obs("BRB").await);
    eventually("the configured endpoint delivered", || async {
        receiver
            .of_type("scene_changed")
            .iter()
            .any(|r| r.body["data"]["scene_name"] == "BRB")
    })
    .await;
    eventually("the API endpoint refused as loopback", || async {
        delivery_log(&hub, &from_api).await.iter().any(|d| {
            d["attempt_log"][0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("loopback") && e.contains("allow_loopback"))
        })
    })
    .await;
    let configured: Vec<String> = delivery_log(&hub, &from_config)
        .await
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(receiver
        .received()
        .iter()
        .all(|r| configured.contains(&r.id)));
    receiver.stop().await;
}

/// Sends a callback's head and the first bytes of a body it never finishes, as a slow or
/// hostile client does.
async fn start_slow_callback(hub: &TestHub, headers: &[(&str, String)]) -> tokio::net::TcpStream {
    start_slow_post(hub, "/api/callback/scene-change/", headers).await
}

async fn start_slow_post(
    hub: &TestHub,
    path: &str,
    headers: &[(&str, String)],
) -> tokio::net::TcpStream {
    start_slow_body(hub, path, headers, false).await
}

/// The same with a chunked body (one chunk, then nothing), which a server may drain after
/// answering instead of closing.
async fn start_slow_chunked_post(
    hub: &TestHub,
    path: &str,
    headers: &[(&str, String)],
) -> tokio::net::TcpStream {
    start_slow_body(hub, path, headers, true).await
}

async fn start_slow_body(
    hub: &TestHub,
    path: &str,
    headers: &[(&str, String)],
    chunked: bool,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = hub.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let framing = if chunked {
        "transfer-encoding: chunked"
    } else {
        "content-length: 4000"
    };
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {address}\r\n\
         content-type: application/json\r\n{framing}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(if chunked {
        "\r\n11\r\n{\"scene_name\": \"S\r\n"
    } else {
        "\r\n{\"scene_name\": \"Sl"
    });
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// The answer the hub gives a slow client and then the end of the connection: the hub must
/// close it (a hub that keeps it open fails the test at the deadline).
async fn answer_then_close(mut stream: tokio::net::TcpStream) -> (u16, Value) {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
        .await
        .expect("the hub closes the connection")
        .ok();
    let text = String::from_utf8_lossy(&received);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, body)
}

/// Signature headers that look right (fresh timestamp, a `v1,` MAC of the right length) made
/// without the secret: they pass the header check, only the body can prove them wrong.
fn forged_signature(id: &str) -> Vec<(&'static str, String)> {
    let forger = signing::generate_secret();
    let now = chrono::Utc::now().timestamp();
    signed_headers(&forger, id, now, "{}")
}

/// Issue 10, item 5: clients that send a callback's headers and never finish its body. Those
/// the headers refuse are answered 401 and cut off without their body being waited for; those
/// whose (forged) signature needs the body hold one of `max_unauthenticated` places, the rest
/// get 503 at once; and a token holder is served all along.
#[actix_web::test]
async fn unauthenticated_slow_bodies_are_refused_early_and_bounded() {
    let secret = signing::generate_secret();
    // No OBS needed: the callbacks name an instance known from callbacks.
    let hub = spawn_hub_configured(vec![], |settings| {
        settings.callback_secret = Some(secret);
        settings.api_tokens = vec![Secret::new(TOKEN)];
        settings.http.max_unauthenticated = 4;
        // Long enough that nothing here ends by the timeout (the next test covers it).
        settings.http.body_timeout = Duration::from_secs(120);
    });

    let mut unsigned = Vec::new();
    for _ in 0..30 {
        unsigned.push(start_slow_callback(&hub, &[]).await);
    }
    let callback = "/api/callback/scene-change/";
    for _ in 0..5 {
        unsigned.push(start_slow_chunked_post(&hub, callback, &[]).await);
        // The rest of the API refuses a missing token before the body too.
        unsigned.push(start_slow_post(&hub, "/api/switch-scene/", &[]).await);
        unsigned.push(start_slow_chunked_post(&hub, "/api/switch-scene/", &[]).await);
    }
    for stream in unsigned {
        let (status, body) = answer_then_close(stream).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "unauthorized", "{body}");
    }

    let mut forged = Vec::new();
    for n in 0..7 {
        forged.push(start_slow_callback(&hub, &forged_signature(&format!("msg_{n}"))).await);
    }
    // Four hold the places; the other three are refused at once. Wait for those three (the
    // first three connections to answer, whichever they are).
    let mut pending: Vec<_> = forged
        .into_iter()
        .map(|stream| Box::pin(answer_then_close(stream)))
        .collect();
    for _ in 0..3 {
        let ((status, body), _, rest) = futures_util::future::select_all(pending).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "too_many_unauthenticated");
        pending = rest;
    }
    assert_eq!(pending.len(), 4);

    // Meanwhile a token holder is served, on the API and on the callback routes.
    let auth = [("authorization", format!("Bearer {TOKEN}"))];
    let body = r#"{"scene_name": "Live", "instance": "remote"}"#;
    let path = "/api/callback/scene-change/";
    let by_token = request(&hub, Method::POST, path, Some(body), &auth).await;
    assert_eq!(by_token.status, 200, "{:?}", by_token.body);
    let status_path = "/api/instances/remote/stream-status/";
    eventually("the token holder's callback applied", || async {
        request(&hub, Method::GET, status_path, None, &auth)
            .await
            .body["current_scene"]
            == "Live"
    })
    .await;
    drop(pending);
}

/// The body timeout: a body still incomplete `body_timeout` after its headers gets 408 and the
/// connection is closed, on the callback routes and on the other routes that read a body.
#[actix_web::test]
async fn bodies_that_never_finish_are_cut_off_by_the_timeout() {
    let secret = signing::generate_secret();
    let hub = spawn_hub_configured(vec![], |settings| {
        settings.callback_secret = Some(secret);
        settings.api_tokens = vec![Secret::new(TOKEN)];
        settings.http.body_timeout = Duration::from_millis(300);
    });
    let mut slow = Vec::new();
    for n in 0..10 {
        slow.push(start_slow_callback(&hub, &forged_signature(&format!("msg_{n}"))).await);
    }
    let auth = vec![("authorization", format!("Bearer {TOKEN}"))];
    for _ in 0..5 {
        slow.push(start_slow_callback(&hub, &auth).await);
        slow.push(start_slow_post(&hub, "/api/webhooks/", &auth).await);
        slow.push(start_slow_chunked_post(&hub, "/api/webhooks/", &auth).await);
    }
    for stream in slow {
        let (status, body) = answer_then_close(stream).await;
        assert_eq!(status, 408, "{body}");
        assert_eq!(body["error"], "body_timeout");
        assert!(
            body["message"].as_str().unwrap().contains("300 ms"),
            "{body}"
        );
    }
}
