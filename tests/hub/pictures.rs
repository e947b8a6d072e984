//! The pictures capability against the simulated OBS: one capture shared by 1 or 100 viewers,
//! the program picture after a scene switch, bad parameters named, ETag and 304.

use crate::common;

use std::time::Instant;

use common::{hub_with_fake, TestHub};
use serde_json::Value;

struct Image {
    status: u16,
    content_type: String,
    etag: String,
    cache_control: String,
    bytes: Vec<u8>,
}

async fn fetch(hub: &TestHub, path: &str, if_none_match: Option<&str>) -> Image {
    let mut request = hub.client.get(format!("{}{path}", hub.base));
    if let Some(tag) = if_none_match {
        request = request.insert_header(("if-none-match", tag));
    }
    let mut response = request.send().await.expect("hub answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (content_type, etag, cache_control) = (
        header("content-type"),
        header("etag"),
        header("cache-control"),
    );
    let bytes = response
        .body()
        .limit(16 << 20)
        .await
        .expect("body")
        .to_vec();
    Image {
        status: response.status().as_u16(),
        content_type,
        etag,
        cache_control,
        bytes,
    }
}

fn error_of(image: &Image) -> Value {
    serde_json::from_slice(&image.bytes).unwrap_or(Value::Null)
}

#[actix_web::test]
async fn program_picture_is_a_jpeg_by_default_and_png_on_request() {
    let (hub, _fake) = hub_with_fake().await;
    let jpeg = fetch(&hub, "/api/screenshot/program", None).await;
    assert_eq!(jpeg.status, 200, "{:?}", error_of(&jpeg));
    assert_eq!(jpeg.content_type, "image/jpeg");
    assert!(jpeg.bytes.starts_with(&[0xff, 0xd8]));
    assert_eq!(jpeg.cache_control, "private, no-cache");
    assert!(jpeg.etag.starts_with('"'));
    let png = fetch(
        &hub,
        "/api/instances/default/screenshot/program?format=png&width=32&height=18",
        None,
    )
    .await;
    assert_eq!(png.status, 200, "{:?}", error_of(&png));
    assert_eq!(png.content_type, "image/png");
    assert!(png.bytes.starts_with(b"\x89PNG"));
    // The PNG's IHDR holds the size asked.
    assert_eq!(&png.bytes[16..24], &[0, 0, 0, 32, 0, 0, 0, 18]);
}

#[actix_web::test]
async fn one_viewer_and_a_hundred_viewers_cost_obs_the_same_captures() {
    let (hub, fake) = hub_with_fake().await;
    let before = fake.request_count("GetSourceScreenshot");
    let one = fetch(&hub, "/api/screenshot/program?width=64", None).await;
    assert_eq!(one.status, 200);
    let after_one = fake.request_count("GetSourceScreenshot");
    assert_eq!(after_one - before, 1, "one viewer: one capture");

    // A hundred viewers of another picture (another size), all at once.
    let started = Instant::now();
    let viewers = (0..100).map(|_| fetch(&hub, "/api/screenshot/program?width=96", None));
    let images = futures_util::future::join_all(viewers).await;
    let elapsed = started.elapsed();
    let captures = fake.request_count("GetSourceScreenshot") - after_one;
    assert!(images.iter().all(|image| image.status == 200));
    assert!(images.iter().all(|image| image.bytes == images[0].bytes));
    // The default rate is 2 a second: one capture per started half second at most, and the
    // hundred requests normally fit in one window, as the one viewer's did.
    let windows = 1 + (elapsed.as_millis() / 500) as usize;
    assert!(
        (1..=windows).contains(&captures),
        "{captures} captures for 100 viewers over {elapsed:?}"
    );
}

#[actix_web::test]
async fn the_program_picture_changes_after_a_scene_switch() {
    let (hub, fake) = hub_with_fake().await;
    let before = fetch(&hub, "/api/screenshot/program", None).await;
    assert_eq!(before.status, 200);
    let switched = hub
        .post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
        .await;
    assert_eq!(switched.status, 200, "{:?}", switched.body);
    assert_eq!(fake.current_scene(), "Live");
    hub.wait_for("Live on program", |status| {
        status["current_scene"] == "Live"
    })
    .await;
    // No waiting for the window: the picture is per scene, so Live's is captured now.
    let after = fetch(&hub, "/api/screenshot/program", None).await;
    assert_eq!(after.status, 200);
    assert_ne!(before.bytes, after.bytes, "the picture shows the new scene");
    assert_ne!(before.etag, after.etag);
    // Program and the scene by name share their capture.
    let by_name = fetch(&hub, "/api/sources/Live/screenshot", None).await;
    assert_eq!(by_name.bytes, after.bytes);
}

#[actix_web::test]
async fn bad_parameters_are_400s_naming_them_and_never_reach_obs() {
    let (hub, fake) = hub_with_fake().await;
    let before = fake.request_count("GetSourceScreenshot");
    for (query, named) in [
        ("format=gif", "`format`"),
        ("width=7", "`width`"),
        ("width=wide", "`width`"),
        ("height=4097", "`height`"),
        ("quality=101", "`quality`"),
        ("quality=-1", "`quality`"),
        ("colour=red", "`colour`"),
    ] {
        for path in [
            "/api/screenshot/program",
            "/api/instances/default/sources/Scene/screenshot",
        ] {
            let reply = fetch(&hub, &format!("{path}?{query}"), None).await;
            assert_eq!(reply.status, 400, "{path}?{query}");
            let body = error_of(&reply);
            assert_eq!(body["error"], "invalid_field", "{path}?{query}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains(named), "{path}?{query}: {message}");
        }
    }
    assert_eq!(
        fake.request_count("GetSourceScreenshot"),
        before,
        "nothing was asked of OBS"
    );
    let unknown = fetch(&hub, "/api/sources/Nowhere/screenshot", None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(error_of(&unknown)["error"], "unknown_source");
    let preview = fetch(&hub, "/api/screenshot/preview", None).await;
    assert_eq!(preview.status, 409, "no preview outside studio mode");
    assert_eq!(error_of(&preview)["error"], "studio_mode_off");
}

#[actix_web::test]
async fn a_matching_etag_gets_304_without_the_image() {
    let (hub, _fake) = hub_with_fake().await;
    let first = fetch(&hub, "/api/sources/Background/screenshot?format=png", None).await;
    assert_eq!(first.status, 200, "{:?}", error_of(&first));
    let again = fetch(
        &hub,
        "/api/sources/Background/screenshot?format=png",
        Some(&first.etag),
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());
    assert_eq!(again.etag, first.etag);
    let stale = fetch(
        &hub,
        "/api/sources/Background/screenshot?format=png",
        Some("\"not-this-one\""),
    )
    .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.bytes, first.bytes);
}

#[actix_web::test]
async fn the_preview_picture_shows_the_preview_scene_in_studio_mode() {
    let (hub, _fake) = hub_with_fake().await;
    let on = hub
        .send("PUT", "/api/studio-mode", r#"{"enabled": true}"#)
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    let preview = hub
        .send("PUT", "/api/preview-scene", r#"{"scene_name": "BRB"}"#)
        .await;
    assert_eq!(preview.status, 200, "{:?}", preview.body);
    hub.wait_for_path("/api/studio-mode", "BRB on preview", |v| {
        v["preview_scene"] == "BRB"
    })
    .await;
    let picture = fetch(&hub, "/api/screenshot/preview", None).await;
    assert_eq!(picture.status, 200, "{:?}", error_of(&picture));
    let brb = fetch(&hub, "/api/sources/BRB/screenshot", None).await;
    assert_eq!(picture.bytes, brb.bytes);
    let program = fetch(&hub, "/api/screenshot/program", None).await;
    assert_ne!(picture.bytes, program.bytes);
}
