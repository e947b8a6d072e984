//! The audio capability against real OBS (30.2 and 32.2), through the hub: an `ffmpeg_source`
//! made by the test (an input with audio, even without a file) is muted and unmuted through the
//! hub and in OBS, each side seeing the other's change. A module of `hub`
//! (tests/real_obs/hub.rs).

use obws::requests::inputs::{Create as CreateInput, InputId};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{connected_hub, e2e, tone_settings, write_tone, TestHub};

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

const TONE_SCENE: &str = "hub e2e meters";
const TONE_INPUT: &str = "hub e2e meters tone";
/// Inside OBS's root; written by the test (see [`super::write_tone`]).
const TONE_FILE: &str = "/tmp/hub-e2e-tone.wav";

/// Headless OBS (no audio device) meters a playing tone: the hub subscribes while a WebSocket
/// client watches `meters`, and the frames carry the tone input at the tone's level. The rate,
/// sizes and level ranges are printed for the run's note.
#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn meters_arrive_for_a_playing_tone() {
    use futures_util::{SinkExt, StreamExt};

    let _serial = e2e::serial().await;
    write_tone(&e2e::host_path(TONE_FILE));
    let obs = e2e::connect().await;
    if let Err(error) = obs.scenes().create(TONE_SCENE).await {
        eprintln!("{TONE_SCENE}: {error}");
    }
    let settings = tone_settings(TONE_FILE);
    let created = obs
        .inputs()
        .create(CreateInput {
            scene: TONE_SCENE.into(),
            input: TONE_INPUT,
            kind: "ffmpeg_source",
            settings: Some(settings.clone()),
            enabled: Some(true),
        })
        .await;
    if let Err(error) = created {
        eprintln!("{TONE_INPUT}: {error}");
        obs.inputs()
            .set_settings(obws::requests::inputs::SetSettings {
                input: InputId::Name(TONE_INPUT),
                settings: &settings,
                overlay: Some(true),
            })
            .await
            .expect("the tone's settings");
    }
    obs.inputs()
        .set_muted(InputId::Name(TONE_INPUT), false)
        .await
        .expect("unmuted");
    obs.scenes()
        .set_current_program_scene(TONE_SCENE)
        .await
        .expect("the tone's scene on program");
    let hub = connected_hub(&e2e::password()).await;
    let in_program = |placed: bool| {
        move |view: &Value| {
            view["inputs"].as_array().is_some_and(|inputs| {
                inputs
                    .iter()
                    .any(|i| i["name"] == TONE_INPUT && i["in_program"] == placed)
            })
        }
    };
    hub.wait_for_path("/api/audio/inputs", "the tone in program", in_program(true))
        .await;

    let url = format!("{}/ws", hub.base.replacen("http://", "ws://", 1));
    let (_, mut socket) = hub.client.ws(url).connect().await.expect("WebSocket");
    let subscribe = json!({"type": "subscribe", "instance": "default", "topics": ["meters"]});
    socket
        .send(awc::ws::Message::Text(subscribe.to_string().into()))
        .await
        .unwrap();
    let started = Instant::now();
    let (mut frames, mut bytes) = (0u32, 0usize);
    let (mut magnitudes, mut peaks) = (Vec::new(), Vec::new());
    while frames < 100 {
        let frame = actix_web::rt::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("meters within 20 s")
            .expect("open")
            .expect("valid");
        let awc::ws::Frame::Text(text) = frame else {
            continue;
        };
        let message: Value = serde_json::from_slice(&text).unwrap();
        if message["type"] != "notice" {
            continue;
        }
        if frames == 0 {
            eprintln!("first meters frame: {message}");
        }
        frames += 1;
        bytes += text.len();
        let tone = message["data"]["inputs"]
            .as_array()
            .and_then(|inputs| inputs.iter().find(|i| i["name"] == TONE_INPUT))
            .cloned();
        for channel in tone
            .iter()
            .flat_map(|tone| tone["channels"].as_array().cloned().unwrap_or_default())
        {
            magnitudes.push(channel["magnitude_db"].as_f64().unwrap_or(f64::NAN));
            peaks.push(channel["peak_db"].as_f64().unwrap_or(f64::NAN));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let range = |values: &[f64]| {
        values
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)))
    };
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
    };
    eprintln!(
        "OBS {:?}: {frames} meters frames in {elapsed:.1} s ({:.1}/s, {:.0} B/frame); tone \
         channels {}: magnitude {:?} dB (median {}), peak {:?} dB (median {}), {} peaks above \
         0 dB",
        e2e::packaged_obs_version(),
        f64::from(frames) / elapsed,
        bytes as f64 / f64::from(frames),
        magnitudes.len(),
        range(&magnitudes),
        median(&magnitudes),
        range(&peaks),
        median(&peaks),
        peaks.iter().filter(|peak| **peak > 0.0).count(),
    );
    assert!(!magnitudes.is_empty(), "the tone input is metered");
    // The tone is a sine of amplitude 0.25: RMS -15 dBFS, peak -12 dBFS.
    assert!((median(&magnitudes) + 15.0).abs() < 3.0, "{magnitudes:?}");
    assert!((median(&peaks) + 12.0).abs() < 3.0, "{peaks:?}");
    // Another scene on program: the tone leaves it.
    let other = "hub e2e meters elsewhere";
    if let Err(error) = obs.scenes().create(other).await {
        eprintln!("{other}: {error}");
    }
    obs.scenes()
        .set_current_program_scene(other)
        .await
        .expect("switched");
    hub.wait_for_path(
        "/api/audio/inputs",
        "the tone out of program",
        in_program(false),
    )
    .await;
    obs.scenes()
        .remove(obws::requests::scenes::SceneId::Name(TONE_SCENE))
        .await
        .ok();
    obs.inputs().remove(InputId::Name(TONE_INPUT)).await.ok();
}
