//! The audio capability against real OBS (30.2 and 32.2), through the hub: an `ffmpeg_source`
//! made by the test (an input with audio, even without a file) is muted and unmuted through the
//! hub and in OBS, each side seeing the other's change. A module of `hub`
//! (tests/real_obs/hub.rs).

use obws::requests::inputs::{Create as CreateInput, InputId};
use serde_json::{json, Value};

use super::{connected_hub, e2e, TestHub};

const SCENE: &str = "hub e2e audio";
const INPUT: &str = "hub e2e audio clip";
const INPUT_PATH: &str = "hub%20e2e%20audio%20clip";

async fn muted_in_hub(hub: &TestHub, what: &str, muted: bool) {
    hub.wait_for_path("/api/audio/inputs", what, |view: &Value| {
        view["inputs"].as_array().is_some_and(|inputs| {
            inputs
                .iter()
                .any(|i| i["name"] == INPUT && i["muted"] == muted)
        })
    })
    .await;
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn an_input_is_muted_both_ways_through_the_hub() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    if let Err(error) = obs.scenes().create(SCENE).await {
        eprintln!("{SCENE}: {error}");
    }
    let created = obs
        .inputs()
        .create(CreateInput {
            scene: SCENE.into(),
            input: INPUT,
            kind: "ffmpeg_source",
            settings: Some(json!({ "local_file": "" })),
            enabled: Some(true),
        })
        .await;
    if let Err(error) = created {
        eprintln!("{INPUT}: {error}");
    }
    obs.inputs()
        .set_muted(InputId::Name(INPUT), false)
        .await
        .expect("unmuted before the test");
    // Made before the hub connects: its read after connecting finds the input.
    let hub = connected_hub(&e2e::password()).await;
    muted_in_hub(&hub, "the input read unmuted", false).await;

    let muted = hub
        .post(&format!("/api/audio/inputs/{INPUT_PATH}/mute"), "")
        .await;
    assert_eq!(muted.status, 200, "{:?}", muted.body);
    assert_eq!(muted.body["input"]["muted"], true);
    assert!(obs.inputs().muted(InputId::Name(INPUT)).await.unwrap());
    muted_in_hub(&hub, "the hub's mute in the cache", true).await;

    obs.inputs()
        .set_muted(InputId::Name(INPUT), false)
        .await
        .unwrap();
    muted_in_hub(&hub, "the unmute made in OBS", false).await;

    let volume = hub
        .client
        .put(format!("{}/api/audio/inputs/{INPUT_PATH}/volume", hub.base))
        .insert_header(("content-type", "application/json"))
        .send_body(r#"{"db": -12}"#)
        .await
        .unwrap();
    assert_eq!(volume.status().as_u16(), 200);
    let in_obs = obs.inputs().volume(InputId::Name(INPUT)).await.unwrap();
    assert!((in_obs.db + 12.0).abs() < 0.1, "{in_obs:?}");
}
