//! The pictures capability against real OBS (30.2 and 32.2), through the hub: the program
//! picture before and after a scene switch differs (two scenes made by the test, each filled by a
//! colour source of its own colour). A module of `hub` (tests/real_obs/hub.rs).

use obws::requests::inputs::Create as CreateInput;
use serde_json::json;

use super::{connected_hub, e2e, unique, TestHub};

async fn program_picture(hub: &TestHub) -> Vec<u8> {
    let mut response = hub
        .client
        .get(format!(
            "{}/api/screenshot/program?format=png&width=64",
            hub.base
        ))
        .send()
        .await
        .expect("hub answers");
    let bytes = response.body().limit(16 << 20).await.expect("body");
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG from OBS");
    bytes.to_vec()
}

/// Two scenes made for the test, each filled by a colour source of its own colour.
async fn colour_scenes(obs: &obws::Client, prefix: &str) -> Vec<String> {
    // Opaque red and opaque blue (OBS's colours are ABGR).
    let colours = [4_278_190_335_u32, 4_294_901_760_u32];
    let mut scenes = Vec::new();
    for (index, colour) in colours.into_iter().enumerate() {
        let scene = unique(&format!("{prefix} {index}"));
        if let Err(error) = obs.scenes().create(&scene).await {
            eprintln!("scene {scene}: {error}");
        }
        let input = format!("{scene} colour");
        if let Err(error) = obs
            .inputs()
            .create(CreateInput {
                scene: scene.as_str().into(),
                input: &input,
                kind: "color_source_v3",
                settings: Some(json!({ "color": colour, "width": 1920, "height": 1080 })),
                enabled: Some(true),
            })
            .await
        {
            eprintln!("input {input}: {error}");
        }
        scenes.push(scene);
    }
    scenes
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn the_program_picture_changes_with_the_scene_in_real_obs() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    let scenes = colour_scenes(&obs, "pictures").await;
    let hub = connected_hub(&e2e::password()).await;

    let mut pictures = Vec::new();
    for scene in &scenes {
        let switched = hub
            .post(
                "/api/switch-scene/",
                &json!({ "scene_name": scene }).to_string(),
            )
            .await;
        assert_eq!(switched.status, 200, "{:?}", switched.body);
        hub.wait_for("the scene on program", |status| {
            status["current_scene"] == scene.as_str()
        })
        .await;
        pictures.push(program_picture(&hub).await);
    }
    for scene in &scenes {
        let _ = obs.scenes().remove(scene.as_str().into()).await;
    }
    assert_ne!(
        pictures[0], pictures[1],
        "the program picture shows the scene switched to"
    );
}

/// The next JSON text frame of a notice subscriber (pings aside).
async fn next_message<S>(socket: &mut S) -> serde_json::Value
where
    S: futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>> + Unpin,
{
    use futures_util::StreamExt;
    loop {
        let frame = actix_web::rt::time::timeout(std::time::Duration::from_secs(30), socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        if let awc::ws::Frame::Text(text) = frame {
            return serde_json::from_slice(&text).expect("JSON");
        }
    }
}

/// Issue 13: a WebSocket client subscribed to the program picture is told when a scene switch
/// made in OBS changes it, and loads the new picture by the notice's signed URL.
#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn a_picture_notice_follows_a_scene_switch_made_in_real_obs() {
    use futures_util::SinkExt;

    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    let scenes = colour_scenes(&obs, "notices").await;
    obs.scenes()
        .set_current_program_scene(scenes[0].as_str())
        .await
        .expect("OBS switches");
    let hub = connected_hub(&e2e::password()).await;
    hub.wait_for("the first scene on program", |status| {
        status["current_scene"] == scenes[0].as_str()
    })
    .await;
    let (_, mut socket) = hub
        .client
        .ws(format!("{}/ws", hub.base.replacen("http://", "ws://", 1)))
        .connect()
        .await
        .expect("WebSocket opens");
    socket
        .send(awc::ws::Message::Text(
            r#"{"type":"subscribe","instance":"default","topics":["picture:program?format=png&width=64"]}"#
                .into(),
        ))
        .await
        .unwrap();
    // (Program pictures of one colour scene are equal: each notice is a change of picture.)
    let mut pictures: Vec<(String, Vec<u8>)> = Vec::new();
    for scene in &scenes {
        if !pictures.is_empty() {
            obs.scenes()
                .set_current_program_scene(scene.as_str())
                .await
                .expect("OBS switches");
        }
        let notice = loop {
            let message = next_message(&mut socket).await;
            let etag = message["data"]["etag"].as_str().map(str::to_string);
            if message["type"] == "notice"
                && etag.is_some()
                && pictures.last().map(|(last, _)| last) != etag.as_ref()
            {
                break message;
            }
        };
        let url = notice["data"]["url"].as_str().unwrap();
        let mut response = hub
            .client
            .get(format!("{}{url}", hub.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        let bytes = response.body().limit(16 << 20).await.unwrap().to_vec();
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG from OBS");
        pictures.push((notice["data"]["etag"].as_str().unwrap().to_string(), bytes));
    }
    for scene in &scenes {
        let _ = obs.scenes().remove(scene.as_str().into()).await;
    }
    assert_ne!(pictures[0].1, pictures[1].1, "the new scene's picture");
}
