//! Every REST route and every error code, against the simulated OBS.

mod common;

use common::{hub_with_fake, instance, spawn_hub, start_fake, PASSWORD};
use serde_json::Value;

#[actix_web::test]
async fn stream_status_serves_what_obs_reports() {
    let (hub, fake) = hub_with_fake().await;
    let status = hub
        .wait_for("stats polled", |s| {
            s["stats"]["active_fps"].as_f64() > Some(0.0)
        })
        .await;
    assert_eq!(status["instance"], "default");
    assert_eq!(status["connection_state"], "connected");
    assert_eq!(status["current_scene"], fake.current_scene());
    let scenes: Vec<String> = serde_json::from_value(status["scenes"].clone()).unwrap();
    let mut expected = fake.scene_names();
    let mut seen = scenes.clone();
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected);
    assert_eq!(status["is_streaming"], false);
    assert_eq!(status["is_recording"], false);
    assert!(status["seq"].as_u64() > Some(0));
    assert!(status["last_updated"].is_string());
    for field in [
        "timecode",
        "duration_ms",
        "bytes",
        "kbits_per_sec",
        "skipped_frames",
        "total_frames",
        "congestion",
        "reconnecting",
    ] {
        assert!(
            !status["stream"][field].is_null(),
            "stream.{field} missing: {status:#}"
        );
    }
    for field in [
        "cpu_usage",
        "memory_usage_mb",
        "render_skipped_frames",
        "output_skipped_frames",
        "average_frame_render_time_ms",
    ] {
        assert!(!status["stats"][field].is_null(), "stats.{field} missing");
    }
}

#[actix_web::test]
async fn switch_scene_switches_obs_and_the_cache() {
    let (hub, fake) = hub_with_fake().await;
    let reply = hub
        .post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["current_scene"], "Live");
    assert_eq!(fake.current_scene(), "Live");
    // Applied at once: the very next read sees it.
    assert_eq!(
        hub.get("/api/stream-status").await.body["current_scene"],
        "Live"
    );
}

#[actix_web::test]
async fn a_scene_switch_made_in_obs_reaches_the_cache() {
    let (hub, fake) = hub_with_fake().await;
    assert!(fake.switch_scene_from_obs("BRB").await);
    hub.wait_for("BRB", |s| s["current_scene"] == "BRB").await;
}

#[actix_web::test]
async fn bad_switch_scene_requests_get_clear_errors() {
    let (hub, fake) = hub_with_fake().await;
    let before = fake.current_scene();
    let cases: [(&str, u16, &str, &str); 6] = [
        (r#"{"scene_name": "Nope"}"#, 404, "unknown_scene", "Nope"),
        (r#"{}"#, 400, "invalid_field", "scene_name"),
        (r#"{"scene_name": 7}"#, 400, "invalid_field", "scene_name"),
        (r#"{"scene_name": ""}"#, 400, "invalid_field", "scene_name"),
        (r#"{"scene_name": "Live""#, 400, "invalid_json", "JSON"),
        ("", 400, "invalid_json", "required"),
    ];
    for (body, status, code, mentions) in cases {
        let reply = hub.post("/api/switch-scene/", body).await;
        assert_eq!(reply.status, status, "{body}: {:?}", reply.body);
        assert_eq!(reply.body["error"], code, "{body}");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    assert_eq!(fake.current_scene(), before);
}

#[actix_web::test]
async fn oversized_bodies_get_413() {
    let (hub, _fake) = hub_with_fake().await;
    let huge = format!(r#"{{"scene_name": "{}"}}"#, "x".repeat(70 * 1024));
    let reply = hub.post("/api/switch-scene/", &huge).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.body["error"], "payload_too_large");
}

#[actix_web::test]
async fn streaming_start_stop_and_conflicts() {
    let (hub, fake) = hub_with_fake().await;
    let started = hub.post("/api/start-stream/", "").await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let streaming = hub
        .wait_for("streaming with a bitrate", |s| {
            s["is_streaming"] == true
                && s["stream"]["state"] == "started"
                && s["stream"]["kbits_per_sec"].as_f64() > Some(0.0)
                && s["stream"]["bytes"].as_u64() > Some(0)
        })
        .await;
    assert!(fake.is_streaming());
    // The fake streams at about 6000 kbit/s; the derived bitrate must be in that region.
    let kbps = streaming["stream"]["kbits_per_sec"].as_f64().unwrap();
    assert!((3000.0..12000.0).contains(&kbps), "{kbps}");
    let again = hub.post("/api/start-stream/", "").await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["error"], "conflict");
    assert!(again.body["message"]
        .as_str()
        .unwrap()
        .contains("already streaming"));

    assert_eq!(hub.post("/api/stop-stream/", "").await.status, 200);
    // Stopped, not stopping: a stop while stopping is answered with that state (200).
    hub.wait_for("stopped", |s| {
        s["is_streaming"] == false
            && s["stream"]["state"] == "stopped"
            && s["stream"]["kbits_per_sec"] == 0.0
    })
    .await;
    let not_streaming = hub.post("/api/stop-stream", "").await;
    assert_eq!(not_streaming.status, 409);
    assert!(not_streaming.body["message"]
        .as_str()
        .unwrap()
        .contains("not streaming"));
}

#[actix_web::test]
async fn recording_start_stop_reports_the_file() {
    let (hub, fake) = hub_with_fake().await;
    assert_eq!(hub.post("/api/start-record/", "").await.status, 200);
    hub.wait_for("recording", |s| s["is_recording"] == true)
        .await;
    assert!(fake.is_recording());
    assert_eq!(hub.post("/api/start-record/", "").await.status, 409);
    let stopped = hub.post("/api/stop-record/", "").await;
    assert_eq!(stopped.status, 200);
    let path = stopped.body["output_path"].as_str().unwrap().to_string();
    assert!(!path.is_empty());
    hub.wait_for("recording stopped with its file", |s| {
        s["is_recording"] == false
            && s["record"]["state"] == "stopped"
            && s["record"]["output_path"] == path.as_str()
    })
    .await;
    assert_eq!(hub.post("/api/stop-record/", "").await.status, 409);
}

#[actix_web::test]
async fn sync_scenes_rereads_the_list() {
    let (hub, fake) = hub_with_fake().await;
    fake.create_scene_from_obs("Interview").await;
    let reply = hub.post("/api/sync-scenes/", "").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let scenes = reply.body["scenes"].as_array().unwrap();
    assert!(scenes.contains(&Value::from("Interview")));
    assert_eq!(scenes.len(), fake.scene_names().len());
    assert!(reply.body["scene_details"][0]["uuid"].is_string());
    let status = hub.get("/api/stream-status/").await.body;
    assert!(status["scenes"]
        .as_array()
        .unwrap()
        .contains(&Value::from("Interview")));
}

#[actix_web::test]
async fn scene_list_follows_obs_events() {
    let (hub, fake) = hub_with_fake().await;
    fake.create_scene_from_obs("Guest").await;
    hub.wait_for("Guest appears", |s| {
        s["scenes"]
            .as_array()
            .is_some_and(|l| l.contains(&Value::from("Guest")))
    })
    .await;
    fake.rename_scene_from_obs("Guest", "Guest 2").await;
    hub.wait_for("Guest renamed", |s| {
        s["scenes"].as_array().is_some_and(|l| {
            l.contains(&Value::from("Guest 2")) && !l.contains(&Value::from("Guest"))
        })
    })
    .await;
    fake.remove_scene_from_obs("Guest 2").await;
    hub.wait_for("Guest 2 removed", |s| {
        s["scenes"]
            .as_array()
            .is_some_and(|l| !l.contains(&Value::from("Guest 2")))
    })
    .await;
}

#[actix_web::test]
async fn test_connection_reports_each_failure_kind() {
    let (hub, fake) = hub_with_fake().await;
    let ok = hub.post("/api/test-connection/", "").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["ok"], true, "{:?}", ok.body);
    assert_eq!(ok.body["obs_version"], "30.2.3");
    assert_eq!(ok.body["websocket_version"], "5.5.2");
    assert!(ok.body["rtt_ms"].as_f64().is_some());

    let wrong = hub
        .post("/api/test-connection/", r#"{"password": "wrong"}"#)
        .await;
    assert_eq!(wrong.body["ok"], false);
    assert_eq!(wrong.body["error"], "auth_failed");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = hub
        .post(
            "/api/test-connection/",
            &format!(r#"{{"host": "127.0.0.1", "port": {closed_port}}}"#),
        )
        .await;
    assert_eq!(
        unreachable.body["error"], "unreachable",
        "{:?}",
        unreachable.body
    );

    let old = start_fake().await;
    old.set_versions("29.0.2", "5.1.0");
    let incompatible = hub
        .post(
            "/api/test-connection/",
            &format!(r#"{{"port": {}}}"#, old.port()),
        )
        .await;
    assert_eq!(incompatible.body["error"], "incompatible");
    assert!(incompatible.body["message"]
        .as_str()
        .unwrap()
        .contains("29.0.2"));

    let bad = hub
        .post("/api/test-connection/", r#"{"port": 70000}"#)
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["message"].as_str().unwrap().contains("70000"));
    let unknown = hub.post("/api/test-connection/", r#"{"hots": "x"}"#).await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body["message"].as_str().unwrap().contains("hots"));
    // The password must never be echoed.
    for reply in [&ok, &wrong, &unreachable] {
        assert!(!reply.body.to_string().contains(PASSWORD));
    }
    drop(fake);
}

#[actix_web::test]
async fn frozen_obs_gives_504_not_a_hang() {
    let (hub, fake) = hub_with_fake().await;
    fake.freeze();
    let reply = hub
        .post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
        .await;
    // Either the request timed out (504) or the heartbeat already declared the link dead (503).
    assert!(
        reply.status == 504 || reply.status == 503,
        "{} {:?}",
        reply.status,
        reply.body
    );
    fake.unfreeze();
}

#[actix_web::test]
async fn unknown_routes_and_methods_are_json() {
    let (hub, _fake) = hub_with_fake().await;
    let missing = hub.get("/api/nothing-here/").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"], "not_found");
    let wrong_method = hub.get("/api/start-stream/").await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.body["error"], "method_not_allowed");
    let post_status = hub.post("/api/stream-status/", "").await;
    assert_eq!(post_status.status, 405);
    // The seed's trailing slash and no slash both work.
    assert_eq!(hub.get("/api/stream-status").await.status, 200);
    assert_eq!(hub.get("/api/stream-status/").await.status, 200);
}

#[actix_web::test]
async fn routes_exist_per_instance() {
    let studio = start_fake().await;
    let booth = start_fake().await;
    let hub = spawn_hub(vec![
        instance("studio", &studio, PASSWORD),
        instance("booth", &booth, PASSWORD),
    ]);
    hub.wait_for_path("/api/instances/", "both connected", |body| {
        body["instances"].as_array().is_some_and(|list| {
            list.len() == 2 && list.iter().all(|i| i["connection_state"] == "connected")
        })
    })
    .await;
    let reply = hub
        .post(
            "/api/instances/booth/switch-scene/",
            r#"{"scene_name": "Live"}"#,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(booth.current_scene(), "Live");
    assert_ne!(studio.current_scene(), "Live");
    let booth_status = hub.get("/api/instances/booth/stream-status/").await.body;
    assert_eq!(booth_status["instance"], "booth");
    assert_eq!(booth_status["current_scene"], "Live");

    let ambiguous = hub.get("/api/stream-status/").await;
    assert_eq!(ambiguous.status, 404);
    assert!(ambiguous.body["message"]
        .as_str()
        .unwrap()
        .contains("studio"));
    let unknown = hub.post("/api/instances/nope/start-stream/", "").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "unknown_instance");
    assert!(unknown.body["message"].as_str().unwrap().contains("booth"));

    // Stopping one instance leaves the other alone.
    let stopped = hub.post("/api/instances/booth/obs-manager/stop/", "").await;
    assert_eq!(stopped.status, 200);
    assert_eq!(stopped.body["instances"][0]["connection_state"], "stopped");
    let refused = hub.post("/api/instances/booth/start-stream/", "").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["connection_state"], "stopped");
    assert_eq!(
        hub.get("/api/instances/studio/stream-status/").await.body["connected"],
        true
    );
    hub.post("/api/instances/booth/obs-manager/start/", "")
        .await;
    hub.wait_for_path("/api/instances/booth/stream-status/", "booth back", |s| {
        s["connected"] == true
    })
    .await;
}
