//! The studio-mode capability against the simulated OBS: preview then take, transitions and
//! their durations, the T-bar, clear refusals outside studio mode, and the program scene right
//! after an interrupted transition without waiting for the poll.

use crate::common;

use std::time::Duration;

use common::{
    fast_timing, hub_with_fake, instance, spawn_hub_with, start_fake, Reply, TestHub, PASSWORD,
};
use serde_json::Value;

async fn put(hub: &TestHub, path: &str, body: &str) -> Reply {
    let mut response = hub
        .client
        .put(format!("{}{path}", hub.base))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    let bytes = response.body().limit(1 << 20).await.expect("body");
    Reply {
        status: response.status().as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn studio_view(hub: &TestHub, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    hub.wait_for_path("/api/studio-mode", what, check).await
}

#[actix_web::test]
async fn preview_then_take_puts_the_scene_on_program_with_the_chosen_transition() {
    let (hub, fake) = hub_with_fake().await;
    let view = studio_view(&hub, "studio mode read", |v| v["studio_mode"] == false).await;
    assert_eq!(view["current_transition"], "Fade");
    assert_eq!(view["transition_duration_ms"], 300);

    let on = put(&hub, "/api/studio-mode", r#"{"enabled": true}"#).await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["studio_mode"], true);
    assert!(fake.is_studio_mode());

    let preview = put(
        &hub,
        "/api/instances/default/preview-scene",
        r#"{"scene_name": "BRB"}"#,
    )
    .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    assert_eq!(fake.preview_scene().as_deref(), Some("BRB"));
    assert_eq!(
        fake.current_scene(),
        "Scene",
        "preview leaves program alone"
    );
    studio_view(&hub, "BRB on preview", |v| v["preview_scene"] == "BRB").await;

    let take = hub
        .post(
            "/api/transition",
            r#"{"transition": "Fade", "duration_ms": 500}"#,
        )
        .await;
    assert_eq!(take.status, 200, "{:?}", take.body);
    assert_eq!(take.body["program_scene"], "BRB");
    assert_eq!(fake.current_scene(), "BRB");
    assert_eq!(fake.transition(), ("Fade".to_string(), 500));
    let after = studio_view(&hub, "BRB on program", |v| {
        v["program_scene"] == "BRB" && v["preview_scene"] == "Scene"
    })
    .await;
    assert_eq!(after["transition_duration_ms"], 500);
    assert_eq!(after["transition_running"], false);

    // The changes are in history as studio_changed.
    hub.wait_for_path("/api/events/?kind=studio_changed", "studio history", |e| {
        e["events"].as_array().is_some_and(|events| {
            events
                .iter()
                .any(|e| e["payload"]["preview_scene"] == "BRB")
        })
    })
    .await;
}

#[actix_web::test]
async fn outside_studio_mode_preview_and_take_are_refused_and_switch_scene_goes_to_program() {
    let (hub, fake) = hub_with_fake().await;
    let preview = put(&hub, "/api/preview-scene", r#"{"scene_name": "Live"}"#).await;
    assert_eq!(preview.status, 409, "{:?}", preview.body);
    assert_eq!(preview.body["error"], "studio_mode_off");
    assert!(preview.body["message"]
        .as_str()
        .unwrap()
        .contains("studio mode"));
    let take = hub.post("/api/transition", "").await;
    assert_eq!(take.status, 409, "{:?}", take.body);
    assert_eq!(take.body["error"], "studio_mode_off");
    let tbar = put(&hub, "/api/transitions/tbar", r#"{"position": 1.0}"#).await;
    assert_eq!(tbar.status, 409, "{:?}", tbar.body);
    assert_eq!(fake.current_scene(), "Scene", "nothing reached program");
    assert!(!fake.is_studio_mode());

    let switch = hub
        .post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
        .await;
    assert_eq!(switch.status, 200, "{:?}", switch.body);
    assert_eq!(fake.current_scene(), "Live");
}

#[actix_web::test]
async fn bad_input_is_named_and_changes_nothing_in_obs() {
    let (hub, fake) = hub_with_fake().await;
    put(&hub, "/api/studio-mode", r#"{"enabled": true}"#).await;
    let cases = [
        (
            "/api/transitions/current",
            r#"{"name": "Fade", "duration_ms": 10}"#,
            "duration_ms",
        ),
        ("/api/transitions/current", r#"{"name": ""}"#, "name"),
        ("/api/transitions/tbar", r#"{"position": 1.5}"#, "position"),
        ("/api/preview-scene", r#"{"scene": "Live"}"#, "scene"),
        ("/api/studio-mode", r#"{"enabled": "yes"}"#, "enabled"),
    ];
    for (path, body, named) in cases {
        let reply = put(&hub, path, body).await;
        assert_eq!(reply.status, 400, "{path} {body}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "invalid_field", "{path} {body}");
        assert!(
            reply.body["message"].as_str().unwrap().contains(named),
            "{path} {body}: {:?}",
            reply.body
        );
    }
    let take = hub
        .post("/api/transition", r#"{"duration_ms": 99999}"#)
        .await;
    assert_eq!(take.status, 400, "{:?}", take.body);
    assert!(take.body["message"]
        .as_str()
        .unwrap()
        .contains("duration_ms"));
    let unknown = put(&hub, "/api/transitions/current", r#"{"name": "Swipe"}"#).await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    assert_eq!(unknown.body["error"], "unknown_transition");
    let no_scene = put(&hub, "/api/preview-scene", r#"{"scene_name": "Nope"}"#).await;
    assert_eq!(no_scene.status, 404, "{:?}", no_scene.body);
    assert_eq!(no_scene.body["error"], "unknown_scene");
    assert_eq!(fake.transition(), ("Fade".to_string(), 300));
    assert_eq!(fake.current_scene(), "Scene");
    assert_eq!(fake.preview_scene().as_deref(), Some("Scene"));
    let wrong_method = hub.post("/api/studio-mode", "").await;
    assert_eq!(wrong_method.status, 405);
}

#[actix_web::test]
async fn transitions_are_listed_and_changed_in_obs() {
    let (hub, fake) = hub_with_fake().await;
    let list = hub.get("/api/transitions").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    assert_eq!(list.body["current_transition"], "Fade");
    let names: Vec<_> = list.body["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Cut", "Fade"]);

    let slower = put(
        &hub,
        "/api/transitions/current",
        r#"{"name": "Fade", "duration_ms": 1200}"#,
    )
    .await;
    assert_eq!(slower.status, 200, "{:?}", slower.body);
    assert_eq!(fake.transition(), ("Fade".to_string(), 1200));
    studio_view(&hub, "1200 ms in the cache", |v| {
        v["transition_duration_ms"] == 1200
    })
    .await;
    let cut = put(&hub, "/api/transitions/current", r#"{"name": "Cut"}"#).await;
    assert_eq!(cut.status, 200, "{:?}", cut.body);
    assert_eq!(fake.transition().0, "Cut");
    // A fixed transition has no duration: the hub re-reads it after the change.
    studio_view(&hub, "Cut in the cache", |v| {
        v["current_transition"] == "Cut" && v["transition_duration_ms"].is_null()
    })
    .await;
}

#[actix_web::test]
async fn toggle_and_tbar_follow_obs() {
    let (hub, fake) = hub_with_fake().await;
    let on = hub.post("/api/studio-mode/toggle", "").await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["studio_mode"], true);
    assert!(fake.is_studio_mode());
    put(&hub, "/api/preview-scene", r#"{"scene_name": "Ending"}"#).await;
    let half = put(
        &hub,
        "/api/transitions/tbar",
        r#"{"position": 0.5, "release": false}"#,
    )
    .await;
    assert_eq!(half.status, 200, "{:?}", half.body);
    assert_eq!(fake.current_scene(), "Scene", "half way is not a take");
    let full = put(&hub, "/api/transitions/tbar", r#"{"position": 1.0}"#).await;
    assert_eq!(full.status, 200, "{:?}", full.body);
    assert_eq!(fake.current_scene(), "Ending");
    let off = hub.post("/api/studio-mode/toggle", "").await;
    assert_eq!(off.body["studio_mode"], false);
    assert!(!fake.is_studio_mode());
    studio_view(&hub, "studio mode off in the cache", |v| {
        v["studio_mode"] == false && v["preview_scene"].is_null()
    })
    .await;
}

/// OBS 32.2 skips CurrentProgramSceneChanged for switches a faster switch interrupted. The hub
/// re-reads the program scene when a transition ends: with the poll a minute away, it must
/// still agree with OBS.
#[actix_web::test]
async fn the_program_scene_is_right_after_an_interrupted_transition_without_the_poll() {
    let fake = start_fake().await;
    let mut timing = fast_timing();
    timing.poll_interval = Duration::from_secs(600);
    timing.active_poll_interval = Duration::from_secs(600);
    let hub = spawn_hub_with(vec![instance("default", &fake, PASSWORD)], timing);
    hub.wait_for("connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    assert!(fake.switch_scene_interrupted_from_obs("Live").await);
    hub.wait_for("program scene re-read after the transition", |s| {
        s["current_scene"] == "Live"
    })
    .await;
}
