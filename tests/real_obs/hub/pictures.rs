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

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn the_program_picture_changes_with_the_scene_in_real_obs() {
    let _serial = e2e::serial().await;
    let obs = e2e::connect().await;
    // Opaque red and opaque blue (OBS's colours are ABGR).
    let colours = [4_278_190_335_u32, 4_294_901_760_u32];
    let mut scenes = Vec::new();
    for (index, colour) in colours.into_iter().enumerate() {
        let scene = unique(&format!("pictures {index}"));
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
