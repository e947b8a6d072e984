//! The studio-mode capability against real OBS (30.2 and 32.2), through the hub: preview then
//! take puts the scene on program; the transition and its duration change in OBS; and after
//! scene switches every 100 ms (faster than the transition, which makes OBS 32.2 skip
//! CurrentProgramSceneChanged for the interrupted ones) the hub agrees with OBS without the poll.
//! A module of `hub` (tests/real_obs/hub.rs).

use std::time::Duration;

use obs_hub::config::Timing;
use serde_json::Value;

use super::{common, connected_hub, e2e, real_obs, unique, TestHub};

async fn put(hub: &TestHub, path: &str, body: &str) -> common::Reply {
    let mut response = hub
        .client
        .put(format!("{}{path}", hub.base))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    let bytes = response.body().limit(1 << 20).await.expect("body");
    common::Reply {
        status: response.status().as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Scenes of this test, created in OBS, removed again on drop of the returned guard's names.
async fn scenes(obs: &obws::Client, prefix: &str, count: usize) -> Vec<String> {
    let mut names = Vec::new();
    for index in 0..count {
        let name = unique(&format!("{prefix} {index}"));
        if let Err(error) = obs.scenes().create(&name).await {
            eprintln!("scene {name}: {error}");
        }
        names.push(name);
    }
    names
}

async fn remove_scenes(obs: &obws::Client, names: &[String]) {
    for name in names {
        let _ = obs.scenes().remove(name.as_str().into()).await;
    }
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn preview_then_take_and_the_transition_change_in_real_obs() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    let names = scenes(&obs, "studio take", 2).await;
    let hub = connected_hub(&e2e::password()).await;

    let fade = put(
        &hub,
        "/api/transitions/current",
        r#"{"name": "Fade", "duration_ms": 400}"#,
    )
    .await;
    assert_eq!(fade.status, 200, "{:?}", fade.body);
    // OBS 30.2 applies the duration on its UI thread after answering: wait for it to show.
    let current = e2e::wait_for("Fade at 400 ms in OBS", || async {
        let current = obs.transitions().current().await.ok()?;
        (current.duration == Some(time::Duration::milliseconds(400))).then_some(current)
    })
    .await;
    assert_eq!(current.id.name, "Fade");
    hub.wait_for_path("/api/studio-mode", "400 ms in the hub", |v| {
        v["current_transition"] == "Fade" && v["transition_duration_ms"] == 400
    })
    .await;

    let on = put(&hub, "/api/studio-mode", r#"{"enabled": true}"#).await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert!(obs.ui().studio_mode_enabled().await.unwrap());

    let body = serde_json::json!({ "scene_name": names[1] }).to_string();
    let preview = put(&hub, "/api/preview-scene", &body).await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    let on_preview = obs.scenes().current_preview_scene().await.unwrap();
    assert_eq!(on_preview.id.name, names[1]);

    let take = hub.post("/api/transition", r#"{"duration_ms": 300}"#).await;
    assert_eq!(take.status, 200, "{:?}", take.body);
    let program = e2e::wait_for("the take on program in OBS", || async {
        let program = obs.scenes().current_program_scene().await.ok()?;
        (program.id.name == names[1]).then_some(program)
    })
    .await;
    assert_eq!(program.id.name, names[1]);
    e2e::wait_for("the take's 300 ms in OBS", || async {
        let current = obs.transitions().current().await.ok()?;
        (current.duration == Some(time::Duration::milliseconds(300))).then_some(())
    })
    .await;
    hub.wait_for("the take on program in the hub", |s| {
        s["current_scene"] == names[1].as_str()
    })
    .await;

    let off = put(&hub, "/api/studio-mode", r#"{"enabled": false}"#).await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert!(!obs.ui().studio_mode_enabled().await.unwrap());
    remove_scenes(&obs, &names).await;
}

/// Switches every 100 ms with a 300 ms Fade: OBS interrupts each transition with the next. The
/// poll is ten minutes away, so only the re-read at the end of the last transition can make the
/// hub agree with OBS.
#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn interrupted_transitions_leave_the_hub_agreeing_with_obs() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    obs.ui().set_studio_mode_enabled(false).await.unwrap();
    obs.transitions().set_current("Fade").await.unwrap();
    obs.transitions()
        .set_current_duration(time::Duration::milliseconds(300))
        .await
        .unwrap();
    let names = scenes(&obs, "studio storm", 3).await;
    let timing = Timing {
        poll_interval: Duration::from_secs(600),
        active_poll_interval: Duration::from_secs(600),
        ..Timing::default()
    };
    let hub = common::spawn_hub_with(vec![real_obs(&e2e::password())], timing);
    hub.wait_for("connected to real OBS", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;

    for round in 0..20 {
        let name = &names[round % names.len()];
        obs.scenes()
            .set_current_program_scene(name.as_str())
            .await
            .unwrap();
        // The pace of the test (a switch every 100 ms), not a synchronisation.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = &names[19 % names.len()];
    e2e::wait_for("OBS settled on the last scene", || async {
        let program = obs.scenes().current_program_scene().await.ok()?;
        (program.id.name == *last).then_some(())
    })
    .await;
    let studio = hub
        .wait_for_path("/api/studio-mode", "the hub agrees with OBS", |v| {
            v["program_scene"] == last.as_str() && v["transition_running"] == false
        })
        .await;
    let program = obs.scenes().current_program_scene().await.unwrap();
    assert_eq!(studio["program_scene"], program.id.name.as_str());
    remove_scenes(&obs, &names).await;
}
