//! The failover rule against real OBS (30.2 and 32.2): stream to the local nginx-rtmp, stop
//! nginx so that OBS's stream output reconnects, and the hub's failover rule switches OBS to the
//! BRB scene; start nginx again, OBS reconnects, and the hub switches back. What OBS's program
//! scene is, is read from OBS itself. A module of `hub` (tests/real_obs/hub.rs).

use std::time::{Duration, Instant};

use serde_json::json;

use super::{common, connected_hub, e2e, unique};

/// OBS reconnects on its own schedule (a few seconds between attempts): wait longer than
/// `e2e::wait_for` does, never asserting how long it took.
async fn program_scene_becomes(obs: &obws::Client, scene: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let current = obs
            .scenes()
            .current_program_scene()
            .await
            .map(|s| s.id.name);
        if current.as_deref().ok() == Some(scene) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: OBS's program scene is still {current:?}, not `{scene}`"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn the_failover_rule_switches_to_brb_while_the_stream_reconnects_and_back_after() {
    let _serial = e2e::serial().await;
    let _restart = e2e::RestartObsOnDrop;
    let obs = e2e::connect().await;
    obs.config()
        .set_stream_service_settings(
            "rtmp_custom",
            &json!({ "server": e2e::rtmp_server(), "key": "hub-failover" }),
        )
        .await
        .unwrap();
    let live = obs.scenes().current_program_scene().await.unwrap().id.name;
    let brb = unique("BRB");
    obs.scenes().create(&brb).await.unwrap();
    let hub = connected_hub(&e2e::password()).await;
    let made = hub
        .post(
            "/api/rules/templates/failover",
            &json!({"instance": "default", "bitrate_kbps": 50, "seconds": 2,
                    "reconnecting_seconds": 2, "brb_scene": brb, "recovery_seconds": 3})
            .to_string(),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let started = hub
        .post("/api/outputs/stream/ensure", r#"{"active": true}"#)
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    hub.wait_for("streaming with a bitrate", |s| {
        s["stream"]["active"] == true && s["stream"]["kbits_per_sec"].as_f64() > Some(50.0)
    })
    .await;
    assert_eq!(
        obs.scenes().current_program_scene().await.unwrap().id.name,
        live
    );

    e2e::ctl("stop-nginx").await;
    program_scene_becomes(&obs, &brb, "the RTMP server is down").await;
    e2e::ctl("start-nginx").await;
    program_scene_becomes(&obs, &live, "the RTMP server is back").await;

    // The recovery's firing is numbered once its actions are done, then written behind: OBS can
    // show the scene back before the history has the firing.
    let outcomes = || async {
        let events = hub.get("/api/events?kind=rule_fired&limit=20").await;
        let outcomes: Vec<String> = events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .map(|event| {
                event["payload"]["outcome"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        (outcomes, events.body)
    };
    common::eventually("the recovery's firing in the history", || async {
        outcomes().await.0.len() >= 2
    })
    .await;
    let (outcomes, body) = outcomes().await;
    assert_eq!(outcomes, ["fired", "recovered"], "{body:#}");

    let stopped = hub
        .post("/api/outputs/stream/ensure", r#"{"active": false}"#)
        .await;
    assert_eq!(stopped.status, 200, "{:?}", stopped.body);
    hub.wait_for("stream stopped", |s| s["stream"]["active"] == false)
        .await;
    let _ = obs.scenes().remove(brb.as_str().into()).await;
}
