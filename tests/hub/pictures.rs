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

// ---- Issue 13: "picture updated" notices on the WebSocket, signed picture URLs ----

const TOKEN: &str = "picture-test-token";

/// A hub with an API token, so that signed URLs are what lets a token-less `<img>` in.
async fn hub_with_token() -> (TestHub, obs_hub::fake_obs::FakeObs) {
    let fake = common::start_fake().await;
    let hub = common::spawn_hub_configured(
        vec![common::instance("default", &fake, common::PASSWORD)],
        |settings| settings.api_tokens = vec![obs_hub::config::Secret::new(TOKEN)],
    );
    common::eventually("connected with a fresh state", || async {
        hub.board
            .current()
            .instance("default")
            .is_some_and(|status| status.is_connected() && !status.stale)
    })
    .await;
    (hub, fake)
}

/// A request with the API token.
async fn with_token(hub: &TestHub, method: &str, path: &str, body: &str) -> (u16, Value) {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut response = hub
        .client
        .request(method, format!("{}{path}", hub.base))
        .insert_header(("authorization", format!("Bearer {TOKEN}")))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    let bytes = response.body().await.expect("body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// awc's client socket, named by what the tests use of it.
trait Socket:
    futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
    + futures_util::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
    + Unpin
{
}
impl<S> Socket for S where
    S: futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
        + futures_util::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
        + Unpin
{
}

async fn socket(hub: &TestHub) -> impl Socket {
    let url = format!("{}/ws", hub.base.replacen("http://", "ws://", 1));
    let (response, socket) = hub
        .client
        .ws(url)
        .bearer_auth(TOKEN)
        .connect()
        .await
        .expect("WebSocket opens");
    assert_eq!(response.status().as_u16(), 101);
    socket
}

/// The next JSON text frame (pings aside), within a generous deadline.
async fn next_message(socket: &mut impl Socket) -> Value {
    use futures_util::StreamExt;
    let deadline = std::time::Duration::from_secs(20);
    loop {
        let frame = actix_web::rt::time::timeout(deadline, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        match frame {
            awc::ws::Frame::Text(text) => return serde_json::from_slice(&text).expect("JSON"),
            awc::ws::Frame::Ping(_) | awc::ws::Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Skips numbered changes until a message of `kind` comes.
async fn next_of(socket: &mut impl Socket, kind: &str) -> Value {
    loop {
        let message = next_message(socket).await;
        if message["type"] == kind {
            return message;
        }
        assert!(
            message["seq"].is_u64(),
            "only changes may come between: {message}"
        );
    }
}

async fn send(socket: &mut impl Socket, message: Value) {
    use futures_util::SinkExt;
    socket
        .send(awc::ws::Message::Text(message.to_string().into()))
        .await
        .expect("sent");
}

async fn subscribe(socket: &mut impl Socket, topics: &[&str]) -> Value {
    send(
        socket,
        serde_json::json!({"type": "subscribe", "instance": "default", "topics": topics}),
    )
    .await;
    loop {
        let answer = next_message(socket).await;
        if answer["type"] == "subscribed" || answer["type"] == "error" {
            return answer;
        }
    }
}

/// `GET url` without a token.
async fn fetch_without_token(hub: &TestHub, url: &str) -> Image {
    fetch(hub, url, None).await
}

#[actix_web::test]
async fn a_subscriber_is_told_of_new_pictures_and_loads_them_without_the_token() {
    let (hub, fake) = hub_with_token().await;
    let mut client = socket(&hub).await;
    assert_eq!(next_message(&mut client).await["type"], "snapshot");
    assert_eq!(
        fake.request_count("GetSourceScreenshot"),
        0,
        "nobody watches yet: no capture"
    );

    let answer = subscribe(&mut client, &["picture:program?width=32"]).await;
    assert_eq!(answer["type"], "subscribed", "{answer}");
    assert_eq!(answer["topics"][0], "picture:program?width=32");
    let notice = next_of(&mut client, "notice").await;
    assert_eq!(notice["instance"], "default");
    assert_eq!(notice["topic"], "picture:program?width=32");
    assert!(notice.get("seq").is_none(), "notices are not numbered");
    let url = notice["data"]["url"].as_str().expect("a url").to_string();
    assert!(url.starts_with("/api/instances/default/screenshot/program?width=32&exp="));
    assert!(!url.contains(TOKEN));
    // Small: a name and a URL, never the image.
    assert!(notice.to_string().len() < 400, "{notice}");

    let image = fetch_without_token(&hub, &url).await;
    assert_eq!(image.status, 200, "{:?}", error_of(&image));
    assert_eq!(image.etag, notice["data"]["etag"].as_str().unwrap());
    assert_eq!(&image.bytes[..2], &[0xff, 0xd8], "a JPEG");

    // A scene switch changes the picture: a new notice, with the new picture behind its URL.
    assert!(fake.switch_scene_from_obs("BRB").await);
    let next = next_of(&mut client, "notice").await;
    assert_ne!(next["data"]["etag"], notice["data"]["etag"]);
    let brb = fetch_without_token(&hub, next["data"]["url"].as_str().unwrap()).await;
    assert_eq!(brb.status, 200);
    assert_ne!(brb.bytes, image.bytes);
    let unsigned = fetch(&hub, "/api/sources/BRB/screenshot?width=32", None).await;
    assert_eq!(
        unsigned.status, 401,
        "a picture still needs the token or a signature"
    );
}

#[actix_web::test]
async fn subscriptions_are_checked_and_others_get_no_notices() {
    let (hub, _fake) = hub_with_token().await;
    let mut watcher = socket(&hub).await;
    let mut bystander = socket(&hub).await;
    assert_eq!(next_message(&mut watcher).await["type"], "snapshot");
    assert_eq!(next_message(&mut bystander).await["type"], "snapshot");

    for (topics, says) in [
        (vec!["picture:sideways"], "unknown picture topic"),
        (vec!["picture:program?width=5000"], "`width`"),
        (vec!["weather:today"], "`picture:`"),
    ] {
        let refused = subscribe(&mut watcher, &topics).await;
        assert_eq!(refused["type"], "error", "{topics:?}");
        assert_eq!(refused["error"], "invalid_subscription");
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains(says), "{topics:?}: {message}");
    }
    send(
        &mut watcher,
        serde_json::json!({"type": "subscribe", "instance": "nowhere", "topics": ["picture:program"]}),
    )
    .await;
    let refused = next_of(&mut watcher, "error").await;
    assert!(refused["message"].as_str().unwrap().contains("`nowhere`"));

    // Outside studio mode the preview cannot be had: announced once, as an error.
    let answer = subscribe(&mut watcher, &["picture:preview", "picture:program"]).await;
    assert_eq!(answer["type"], "subscribed");
    let mut topics = Vec::new();
    for _ in 0..2 {
        let notice = next_of(&mut watcher, "notice").await;
        if notice["topic"] == "picture:preview" {
            assert_eq!(notice["data"]["error"], "studio_mode_off", "{notice}");
        } else {
            assert!(notice["data"]["etag"].is_string(), "{notice}");
        }
        topics.push(notice["topic"].as_str().unwrap().to_string());
    }
    topics.sort();
    assert_eq!(topics, ["picture:preview", "picture:program"]);

    // The bystander subscribed to nothing: a resync round trip through its session brings
    // its snapshot, and nothing else came before it.
    send(&mut bystander, serde_json::json!({"type": "resync"})).await;
    let message = next_message(&mut bystander).await;
    assert_eq!(message["type"], "snapshot", "no notice first: {message}");

    // Unsubscribed: answered, and a later subscriber of the same topic gets the latest
    // notice at once.
    send(
        &mut watcher,
        serde_json::json!({"type": "unsubscribe", "instance": "default", "topics": ["picture:program"]}),
    )
    .await;
    let answer = next_of(&mut watcher, "unsubscribed").await;
    assert_eq!(answer["topics"][0], "picture:program");
    let answer = subscribe(&mut bystander, &["picture:preview"]).await;
    assert_eq!(answer["type"], "subscribed");
    let notice = next_of(&mut bystander, "notice").await;
    assert_eq!(notice["data"]["error"], "studio_mode_off");
}

#[actix_web::test]
async fn a_signed_url_opens_its_picture_only_until_it_expires() {
    let (hub, _fake) = hub_with_token().await;
    let (status, minted) = with_token(
        &hub,
        "POST",
        "/api/pictures/urls",
        r#"{"picture": "source", "source": "BRB", "format": "png", "width": 32}"#,
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    let url = minted["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("/api/instances/default/sources/BRB/screenshot?format=png&width=32&exp="),
        "{url}"
    );
    assert!(minted["expires_at"].is_string());
    let image = fetch(&hub, &url, None).await;
    assert_eq!(image.status, 200, "{:?}", error_of(&image));
    assert!(image.bytes.starts_with(b"\x89PNG"));
    let by_token = with_token(
        &hub,
        "GET",
        "/api/sources/BRB/screenshot?format=png&width=32",
        "",
    )
    .await;
    assert_eq!(by_token.0, 200);

    // Minting needs the token itself, and checks what it signs.
    let unminted = hub
        .post("/api/pictures/urls", r#"{"picture": "program"}"#)
        .await;
    assert_eq!(unminted.status, 401);
    for (body, named) in [
        (r#"{"picture": "source"}"#, "`source`"),
        (r#"{"picture": "program", "width": 5000}"#, "`width`"),
        (r#"{"picture": "sideways"}"#, "picture"),
        (r#"{"picture": "program", "colour": "red"}"#, "colour"),
    ] {
        let (status, error) = with_token(&hub, "POST", "/api/pictures/urls", body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains(named),
            "{body}: {error}"
        );
    }

    // Tampered: another picture, another size, a later expiry, another signature.
    let (path, query) = url.split_once('?').unwrap();
    let (signed, sig) = query.rsplit_once("&sig=").unwrap();
    let exp: i64 = signed.rsplit_once("exp=").unwrap().1.parse().unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    for tampered in [
        format!("{}?{query}", path.replace("BRB", "Live")),
        format!("/api/instances/default/screenshot/program?{query}"),
        format!("{path}?{}", query.replace("width=32", "width=64")),
        format!(
            "{path}?{}",
            query.replace(&exp.to_string(), &(exp + 3600).to_string())
        ),
        format!("{path}?{signed}&sig={flipped}{}", &sig[1..]),
        format!("{path}?{signed}"),
    ] {
        let refused = fetch(&hub, &tampered, None).await;
        assert_eq!(refused.status, 401, "{tampered}");
        let error = error_of(&refused);
        assert_eq!(error["error"], "unauthorized", "{tampered}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains("signed URL")
                || error["message"].as_str().unwrap().contains("API token"),
            "{tampered}: {error}"
        );
    }
    let forged = fetch(
        &hub,
        &format!(
            "{path}?{}",
            query.replace(&exp.to_string(), &(exp + 3600).to_string())
        ),
        None,
    )
    .await;
    assert!(error_of(&forged)["message"]
        .as_str()
        .unwrap()
        .contains("does not match"));

    // It opens no other route, even with a signature the hub made.
    for other in [
        format!("/api/stream-status?{query}"),
        format!("/api/instances/default/stream-status?{query}"),
        format!("/api/events?{query}"),
    ] {
        let refused = fetch(&hub, &other, None).await;
        assert_eq!(refused.status, 401, "{other}");
        assert!(
            error_of(&refused)["message"]
                .as_str()
                .unwrap()
                .contains("pictures only"),
            "{other}"
        );
    }
    let post = hub
        .client
        .post(format!(
            "{}/api/instances/default/switch-scene?{query}",
            hub.base
        ))
        .insert_header(("content-type", "application/json"))
        .send_body(r#"{"scene_name": "BRB"}"#)
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 401, "only GET and HEAD");

    // Expired: signed by this hub's key with a past expiry (the clock is not waited for).
    let signer = hub.url_signer.clone();
    let past = chrono::Utc::now().timestamp() - 1;
    let expired = signer.sign(path, "format=png&width=32", past);
    let refused = fetch(&hub, &expired, None).await;
    assert_eq!(refused.status, 401);
    let message = error_of(&refused)["message"].as_str().unwrap().to_string();
    assert!(message.contains("expired at"), "{message}");
    let fresh = signer.sign(path, "format=png&width=32", past + 120);
    assert_eq!(fetch(&hub, &fresh, None).await.status, 200);
}
