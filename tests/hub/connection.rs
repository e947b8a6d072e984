//! The connection machinery: reconnects, dead-link detection, refused logins, old OBS, kicks,
//! and the manager's start/stop.

use crate::common;

use common::{
    eventually, fast_timing, hub_with_fake, instance, spawn_hub, spawn_hub_with, start_fake,
    PASSWORD,
};

#[actix_web::test]
async fn obs_restart_is_followed_by_a_reconnect_and_a_full_reread() {
    let (hub, fake) = hub_with_fake().await;
    fake.stop().await;
    let down = hub
        .wait_for_path("/api/obs-manager/status/", "reconnecting", |s| {
            s["instances"][0]["connection_state"] == "reconnecting"
        })
        .await;
    let instance = &down["instances"][0];
    assert!(instance["last_error"].is_string(), "{instance:#}");
    assert!(instance["next_attempt_at"].is_string());
    assert_eq!(instance["connected"], false);
    let status = hub.get("/api/stream-status/").await.body;
    assert_eq!(
        status["stale"], true,
        "last-known values are flagged while down"
    );
    assert_eq!(hub.post("/api/start-stream/", "").await.status, 503);

    // While the hub cannot see it, OBS changes scene: after the reconnect the hub must know.
    fake.switch_scene_from_obs("Ending").await;
    fake.restart().await.expect("fake OBS listens again");
    hub.wait_for("reconnected with the scene changed while away", |s| {
        s["connected"] == true && s["stale"] == false && s["current_scene"] == "Ending"
    })
    .await;
    let manager = hub.get("/api/obs-manager/status/").await.body;
    assert_eq!(
        manager["instances"][0]["reconnect_attempts"].as_u64(),
        Some(0)
    );
    assert!(manager["instances"][0]["connected_since"].is_string());
}

#[actix_web::test]
async fn a_frozen_obs_is_detected_by_the_heartbeat() {
    let (hub, fake) = hub_with_fake().await;
    fake.freeze();
    let down = hub
        .wait_for_path("/api/obs-manager/status/", "dead link detected", |s| {
            s["instances"][0]["connection_state"] == "reconnecting"
        })
        .await;
    let error = down["instances"][0]["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("heartbeat"), "{error}");
    fake.unfreeze();
    hub.wait_for("connected again", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
}

#[actix_web::test]
async fn a_wrong_password_is_auth_failed_and_retried_slowly() {
    let fake = start_fake().await;
    let hub = spawn_hub(vec![instance("default", &fake, "not-the-password")]);
    let status = hub
        .wait_for_path("/api/obs-manager/status/", "auth_failed", |s| {
            s["instances"][0]["connection_state"] == "auth_failed"
        })
        .await;
    let instance = &status["instances"][0];
    assert!(instance["last_error"]
        .as_str()
        .unwrap()
        .contains("password"));
    let next = instance["next_attempt_at"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let now = chrono::Utc::now();
    // The retry is scheduled at the slow auth interval (1 s in tests), not the fast backoff.
    assert!(next.signed_duration_since(now) > chrono::Duration::milliseconds(500));
    assert!(!status.to_string().contains("not-the-password"));
    let refused = hub.post("/api/start-stream/", "").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["connection_state"], "auth_failed");
    assert_eq!(refused.body["error"], "obs_not_connected");
}

#[actix_web::test]
async fn the_right_password_after_a_wrong_one_connects() {
    let fake = start_fake().await;
    fake.set_password(Some("other".into()));
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    hub.wait_for_path("/api/obs-manager/status/", "auth_failed", |s| {
        s["instances"][0]["connection_state"] == "auth_failed"
    })
    .await;
    fake.set_password(Some(PASSWORD.into()));
    hub.wait_for("connected after the fix", |s| s["connected"] == true)
        .await;
}

#[actix_web::test]
async fn an_old_obs_is_incompatible_with_the_versions_named() {
    let fake = start_fake().await;
    fake.set_versions("29.0.2", "5.1.0");
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    let status = hub
        .wait_for_path("/api/obs-manager/status/", "incompatible", |s| {
            s["instances"][0]["connection_state"] == "incompatible"
        })
        .await;
    let error = status["instances"][0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("29.0.2") && error.contains("30.2"),
        "{error}"
    );
}

#[actix_web::test]
async fn a_kick_from_obs_leaves_the_instance_kicked_until_it_is_started() {
    let (hub, fake) = hub_with_fake().await;
    let reads_before = fake.request_count("GetSceneList");
    fake.kick_all().await;
    let kicked = hub
        .wait_for_path("/api/obs-manager/status/", "kicked", |s| {
            s["instances"][0]["connection_state"] == "kicked"
        })
        .await;
    let instance = &kicked["instances"][0];
    assert_eq!(instance["connected"], false);
    assert!(
        instance["next_attempt_at"].is_null(),
        "no attempt scheduled"
    );
    let reason = instance["last_error"].as_str().expect("the reason");
    assert!(reason.contains("4011"), "{reason}");
    // A round trip through the supervisor and the connection actor: still kicked, still no
    // session in OBS, and no reconnection read the state again.
    let refused = hub.post("/api/obs/requests/GetVersion", "").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["connection_state"], "kicked");
    assert_eq!(fake.connection_count(), 0);
    assert_eq!(fake.request_count("GetSceneList"), reads_before);
    // The history is written behind: wait for the row itself.
    hub.wait_for_path(
        "/api/events/?kind=connection_changed",
        "the kick in the history",
        |history| {
            history["events"]
                .as_array()
                .is_some_and(|events| events.iter().any(|e| e["payload"]["state"] == "kicked"))
        },
    )
    .await;

    let started = hub
        .post("/api/instances/default/obs-manager/start/", "")
        .await;
    assert_eq!(started.status, 200);
    hub.wait_for("connected again after start", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    assert!(fake.request_count("GetSceneList") > reads_before);
    // One link: obws's session and the hub's own.
    assert_eq!(fake.connection_count(), 2);
}

#[actix_web::test]
async fn a_kick_of_the_hubs_own_session_alone_stops_every_link() {
    let (hub, fake) = hub_with_fake().await;
    assert_eq!(fake.connection_count(), 2);
    // The newest session is the hub's own (opened once obws's is identified).
    assert!(fake.kick_newest().await);
    hub.wait_for_path("/api/obs-manager/status/", "kicked", |s| {
        s["instances"][0]["connection_state"] == "kicked"
    })
    .await;
    // obws's session, which was not kicked, is closed by the hub too.
    eventually("every link to OBS closed", || async {
        fake.connection_count() == 0
    })
    .await;
    let started = hub.post("/api/obs-manager/start/", "").await;
    assert_eq!(started.status, 200);
    hub.wait_for("connected again after start", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
}

#[actix_web::test]
async fn manager_stop_and_start() {
    let (hub, fake) = hub_with_fake().await;
    let stopped = hub.post("/api/obs-manager/stop/", "").await;
    assert_eq!(stopped.status, 200);
    assert_eq!(stopped.body["running"], false);
    assert_eq!(stopped.body["instances"][0]["connection_state"], "stopped");
    eventually("OBS sees the hub leave", || async {
        fake.connection_count() == 0
    })
    .await;
    let again = hub.post("/api/obs-manager/stop/", "").await;
    assert_eq!(again.status, 200, "stop is idempotent");
    let refused = hub
        .post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
        .await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.body["connection_state"], "stopped");

    let started = hub.post("/api/obs-manager/start/", "").await;
    assert_eq!(started.status, 200);
    assert_eq!(started.body["running"], true);
    assert_eq!(hub.post("/api/obs-manager/start/", "").await.status, 200);
    hub.wait_for("connected again", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    assert_eq!(
        fake.connection_count(),
        2,
        "start twice still means one link (obws's session and the hub's own)"
    );
    let status = hub.get("/api/obs-manager/status/").await.body;
    assert_eq!(status["running"], true);
    assert_eq!(status["instances"][0]["obs_version"], "30.2.3");
    assert_eq!(status["instances"][0]["websocket_version"], "5.5.2");
}

#[actix_web::test]
async fn events_and_polls_are_timestamped() {
    let (hub, fake) = hub_with_fake().await;
    fake.switch_scene_from_obs("Live").await;
    let status = hub
        .wait_for_path("/api/obs-manager/status/", "event and poll seen", |s| {
            s["instances"][0]["last_event_at"].is_string()
                && s["instances"][0]["last_poll_at"].is_string()
        })
        .await;
    assert_eq!(status["instances"][0]["current_scene"], "Live");
}

/// Two instance names for one OBS, both with a wrong password: OBS sees one refused login per
/// retry interval between them, not one each (each pops an alert in OBS; issue 14 item 3).
#[actix_web::test]
async fn links_to_one_obs_share_one_password_throttle() {
    let fake = start_fake().await;
    let mut timing = fast_timing();
    timing.auth_retry_interval = std::time::Duration::from_secs(600);
    let hub = spawn_hub_with(
        vec![
            instance("default", &fake, "not-the-password"),
            instance("back", &fake, "not-the-password"),
        ],
        timing,
    );
    let status = hub
        .wait_for_path("/api/obs-manager/status/", "both auth_failed", |s| {
            s["instances"].as_array().is_some_and(|list| {
                list.len() == 2 && list.iter().all(|i| i["connection_state"] == "auth_failed")
            })
        })
        .await;
    assert_eq!(fake.refused_logins(), 1, "{status}");
    assert!(!status.to_string().contains("not-the-password"));
}
