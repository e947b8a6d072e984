//! Every REST route and every error code, against the simulated OBS.

use crate::common;

use common::{hub_with_fake, instance, spawn_hub, start_fake, PASSWORD};
use std::time::Duration;

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
    let cases: [(&str, u16, &str, &str); 9] = [
        (r#"{"scene_name": "Nope"}"#, 404, "unknown_scene", "Nope"),
        // Control characters: refused before OBS is asked, so never cached either.
        (
            r#"{"scene_name": "Live\u0000"}"#,
            400,
            "invalid_field",
            "scene_name",
        ),
        (
            r#"{"scene_name": "BRB\n"}"#,
            400,
            "invalid_field",
            "control",
        ),
        (
            r#"{"scene_name": "\u001b[2JLive"}"#,
            400,
            "invalid_field",
            "scene_name",
        ),
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

    let closed = common::ClosedPort::new();
    let closed_port = closed.port;
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

    assert!(
        !unreachable.body["message"]
            .as_str()
            .unwrap()
            .contains("os error"),
        "{:?}",
        unreachable.body
    );

    // A web server on the port (not obs-websocket) answers 404 to the upgrade: that is not
    // "unreachable", and the message says to check the port.
    let web = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web_port = web.local_addr().unwrap().port();
    let web_server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut socket, _) = web.accept().await.unwrap();
        let mut request = [0u8; 2048];
        let _ = socket.read(&mut request).await;
        let _ = socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
    });
    let not_obs = hub
        .post(
            "/api/test-connection/",
            &format!(r#"{{"host": "127.0.0.1", "port": {web_port}}}"#),
        )
        .await;
    web_server.await.unwrap();
    assert_eq!(
        not_obs.body["error"], "not_obs_websocket",
        "{:?}",
        not_obs.body
    );
    assert!(not_obs.body["message"]
        .as_str()
        .unwrap()
        .contains("WebSocket Server Settings"));

    let old = start_fake().await;
    old.set_versions("29.0.2", "5.1.0");
    let incompatible = hub
        .post(
            "/api/test-connection/",
            &format!(r#"{{"port": {}, "password": "{PASSWORD}"}}"#, old.port()),
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

// ---- What a web page may make the hub do (issue 10: cross-site requests, DNS rebinding) ----

/// A request as a browser (or an attacker's raw client) would send it: any method, path,
/// headers and body, with the answer's status and JSON.
async fn send(
    hub: &common::TestHub,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> common::Reply {
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = hub.client.request(method, format!("{}{path}", hub.base));
    for &(name, value) in headers {
        request = request.insert_header((name, value));
    }
    let mut response = request
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    let bytes = response.body().limit(1 << 20).await.expect("body");
    common::Reply {
        status: response.status().as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

const EVIL: &str = "http://evil.example";

/// What a page on another site sends with `fetch(url, {method: "POST", body})`: a "simple"
/// request, so no preflight, and the browser carries it out whatever the answer says.
const SIMPLE_FROM_EVIL: &[(&str, &str)] = &[
    ("origin", EVIL),
    ("sec-fetch-site", "cross-site"),
    ("content-type", "text/plain;charset=UTF-8"),
];

#[actix_web::test]
async fn pages_of_other_sites_cannot_switch_scenes_stop_streams_or_add_webhooks() {
    let (hub, fake) = hub_with_fake().await;
    assert!(fake.start_stream_from_obs().await);
    hub.wait_for("streaming", |s| s["is_streaming"] == true)
        .await;
    let scene = fake.current_scene();
    let target = if scene == "Live" { "BRB" } else { "Live" };
    let attempts = [
        (
            "/api/switch-scene/",
            format!(r#"{{"scene_name": "{target}"}}"#),
        ),
        ("/api/stop-stream/", String::new()),
        ("/api/stop-record/", String::new()),
        ("/api/obs-manager/stop/", String::new()),
        (
            "/api/webhooks/",
            r#"{"url": "http://127.0.0.1:9/stolen"}"#.to_string(),
        ),
        (
            "/api/callback/scene-change/",
            r#"{"scene_name": "Owned", "instance": "planted"}"#.to_string(),
        ),
        ("/api/instances/default/stop-stream/", String::new()),
    ];
    let mut answers = Vec::new();
    for (path, body) in &attempts {
        for headers in [
            SIMPLE_FROM_EVIL,
            // A browser that withholds Origin still says where the request comes from.
            &[("sec-fetch-site", "cross-site")][..],
            // Another page on this machine: same site as localhost, another origin.
            &[
                ("origin", "http://localhost:5173"),
                ("sec-fetch-site", "same-site"),
            ][..],
        ] {
            let reply = send(&hub, "POST", path, headers, body).await;
            answers.push((format!("{path} {headers:?}"), reply));
        }
    }
    let deleted = send(&hub, "DELETE", "/api/webhooks/ep_x/", SIMPLE_FROM_EVIL, "").await;
    answers.push(("DELETE".to_string(), deleted));

    // Nothing changed, in OBS or in the hub. A round trip through the hub's actors first, so
    // that anything the attempts had set off would have landed.
    assert_eq!(hub.post("/api/sync-scenes/", "").await.status, 200);
    assert_eq!(fake.current_scene(), scene);
    assert!(fake.is_streaming());
    let status = hub.get("/api/stream-status/").await.body;
    assert_eq!(status["current_scene"], scene.as_str());
    assert_eq!(status["is_streaming"], true);
    assert_eq!(
        hub.get("/api/obs-manager/status/").await.body["running"],
        true
    );
    let webhooks = hub.get("/api/webhooks/").await.body;
    assert!(
        !webhooks.to_string().contains("stolen"),
        "no endpoint was added: {webhooks}"
    );
    let instances = hub.get("/api/instances/").await.body;
    assert!(
        !instances.to_string().contains("planted"),
        "no instance was learnt: {instances}"
    );
    // And each attempt was told why (a browser hides the answer from the page, not from us).
    for (attempt, reply) in answers {
        assert_eq!(reply.status, 403, "{attempt}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "cross_site_request", "{attempt}");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains("OBS_HUB_ALLOWED_ORIGINS"), "{message}");
    }
}

#[actix_web::test]
async fn json_routes_refuse_bodies_that_are_not_declared_json() {
    let (hub, fake) = hub_with_fake().await;
    let scene = fake.current_scene();
    let target = if scene == "Live" { "BRB" } else { "Live" };
    let body = format!(r#"{{"scene_name": "{target}"}}"#);
    // No Origin (not a browser) but not JSON either: what a form or a simple fetch sends.
    let mut answers = Vec::new();
    for (content_type, named) in [
        (Some("text/plain"), "text/plain"),
        (
            Some("application/x-www-form-urlencoded"),
            "application/x-www-form-urlencoded",
        ),
        (None, "without a Content-Type"),
    ] {
        for path in [
            "/api/switch-scene/",
            "/api/webhooks/",
            "/api/test-connection/",
            "/api/callback/scene-change/",
        ] {
            let headers: Vec<(&str, &str)> = content_type
                .map(|value| vec![("content-type", value)])
                .unwrap_or_default();
            let reply = send(&hub, "POST", path, &headers, &body).await;
            answers.push((path, content_type, named, reply));
        }
    }
    assert_eq!(hub.post("/api/sync-scenes/", "").await.status, 200);
    assert_eq!(fake.current_scene(), scene);
    for (path, content_type, named, reply) in answers {
        assert_eq!(
            reply.status, 415,
            "{path} {content_type:?}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"], "unsupported_media_type");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
    }

    // JSON with a charset is JSON; bodiless POSTs need no type at all.
    let charset = [("content-type", "application/json; charset=utf-8")];
    let switched = send(&hub, "POST", "/api/switch-scene/", &charset, &body).await;
    assert_eq!(switched.status, 200, "{:?}", switched.body);
    assert_eq!(fake.current_scene(), target);
    assert_eq!(
        send(&hub, "POST", "/api/start-stream/", &[], "")
            .await
            .status,
        200
    );
    assert_eq!(
        send(&hub, "POST", "/api/obs-manager/start/", &[], "")
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn the_hubs_own_pages_allowed_origins_and_programs_keep_working() {
    let fake = start_fake().await;
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.allowed_origins = vec!["https://dash.example.com".to_string()];
    });
    hub.wait_for("connected", |s| s["connected"] == true).await;
    let own = hub.base.clone();
    for (origin, site, scene) in [
        (Some(own.as_str()), Some("same-origin"), "Live"),
        (Some("https://dash.example.com"), Some("cross-site"), "BRB"),
        (None, None, "Ending"),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(origin.map(|origin| ("origin", origin)));
        headers.extend(site.map(|site| ("sec-fetch-site", site)));
        let body = format!(r#"{{"scene_name": "{scene}"}}"#);
        let reply = send(&hub, "POST", "/api/switch-scene/", &headers, &body).await;
        assert_eq!(reply.status, 200, "{origin:?}: {:?}", reply.body);
        assert_eq!(fake.current_scene(), scene);
    }
    // A page of another site may still read (CORS decides what it sees, not this hub).
    let read = send(&hub, "GET", "/api/stream-status/", SIMPLE_FROM_EVIL, "").await;
    assert_eq!(read.status, 200);
}

/// The `Host` a page on `http://attacker.test:PORT/` sends once attacker.test resolves to
/// 127.0.0.1 (DNS rebinding): to the browser, that page and the hub are the same origin.
fn rebound(hub: &common::TestHub) -> (String, String) {
    let port = hub.base.rsplit(':').next().unwrap().to_string();
    (
        format!("attacker.test:{port}"),
        format!("http://attacker.test:{port}"),
    )
}

#[actix_web::test]
async fn a_rebound_domain_is_refused_on_every_route() {
    let (hub, fake) = hub_with_fake().await;
    let scene = fake.current_scene();
    let target = if scene == "Live" { "BRB" } else { "Live" };
    let (host, origin) = rebound(&hub);
    let same_origin = [
        ("host", host.as_str()),
        ("origin", origin.as_str()),
        ("sec-fetch-site", "same-origin"),
        ("content-type", "application/json"),
    ];
    let switch = format!(r#"{{"scene_name": "{target}"}}"#);
    let webhook = r#"{"url": "http://127.0.0.1:9/stolen"}"#;
    let mut answers = Vec::new();
    for (method, path, body) in [
        ("POST", "/api/switch-scene/", switch.as_str()),
        ("POST", "/api/webhooks/", webhook),
        ("GET", "/api/stream-status/", ""),
        ("GET", "/api/webhooks/", ""),
        ("GET", "/api/events/", ""),
        ("GET", "/ws", ""),
        ("GET", "/", ""),
        ("GET", "/static/js/main.js", ""),
        ("GET", "/docs", ""),
        ("GET", "/api/openapi.json", ""),
        ("GET", "/metrics", ""),
        ("GET", "/healthz", ""),
        ("HEAD", "/api/stream-status/", ""),
        ("GET", "/no-such-route", ""),
    ] {
        let reply = send(&hub, method, path, &same_origin, body).await;
        answers.push((method, path, reply));
    }
    assert_eq!(hub.post("/api/sync-scenes/", "").await.status, 200);
    assert_eq!(fake.current_scene(), scene);
    let webhooks = hub.get("/api/webhooks/").await.body;
    assert!(!webhooks.to_string().contains("stolen"), "{webhooks}");
    for (method, path, reply) in answers {
        assert_eq!(reply.status, 421, "{method} {path}: {:?}", reply.body);
        if method != "HEAD" {
            assert_eq!(reply.body["error"], "host_not_allowed", "{path}");
            let message = reply.body["message"].as_str().unwrap();
            assert!(message.contains("attacker.test"), "{message}");
            assert!(message.contains("OBS_HUB_ALLOWED_HOSTS"), "{message}");
        }
    }

    // Loopback names in the spellings clients send, and no Host at all, still work.
    for host in ["localhost", "127.0.0.1", "[::1]", "127.0.0.2"] {
        let port = hub.base.rsplit(':').next().unwrap();
        let host = format!("{host}:{port}");
        let reply = send(&hub, "GET", "/api/stream-status/", &[("host", &host)], "").await;
        assert_eq!(reply.status, 200, "{host}: {:?}", reply.body);
    }
    // HTTP/1.0 without Host: not a browser (browsers always send one), so nothing to rebind.
    use actix_web::rt::net::TcpStream;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = hub.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connects");
    stream
        .write_all(b"GET /api/stream-status/ HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.contains("current_scene"), "{answer}");
}

#[actix_web::test]
async fn a_hub_answers_its_allowed_hosts_and_token_holders_by_any_name() {
    const TOKEN: &str = "0123456789abcdef-guard";
    let fake = start_fake().await;
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.allowed_hosts = vec!["hub.example.test".to_string()];
    });
    hub.wait_for("connected", |s| s["connected"] == true).await;
    let port = hub.base.rsplit(':').next().unwrap().to_string();
    let host = format!("HUB.example.test:{port}");
    let origin = format!("http://hub.example.test:{port}");
    let headers = [
        ("host", host.as_str()),
        ("origin", origin.as_str()),
        ("content-type", "application/json"),
    ];
    let reply = send(
        &hub,
        "POST",
        "/api/switch-scene/",
        &headers,
        r#"{"scene_name": "BRB"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(fake.current_scene(), "BRB");
    assert_eq!(send(&hub, "GET", "/", &headers, "").await.status, 200);

    // With a token, the token is the gate: any name, as long as it is presented.
    let fake = start_fake().await;
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.api_tokens = vec![obs_hub::config::Secret::new(TOKEN)];
    });
    common::eventually("connected", || async {
        hub.board
            .current()
            .instance("default")
            .is_some_and(|status| status.is_connected())
    })
    .await;
    let (host, _) = rebound(&hub);
    let bearer = format!("Bearer {TOKEN}");
    let with_token = [
        ("host", host.as_str()),
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let reply = send(
        &hub,
        "POST",
        "/api/switch-scene/",
        &with_token,
        r#"{"scene_name": "Live"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(fake.current_scene(), "Live");
    let without = send(&hub, "GET", "/api/stream-status/", &[("host", &host)], "").await;
    assert_eq!(without.status, 401, "{:?}", without.body);
}

#[actix_web::test]
async fn head_answers_every_get_route_without_a_body() {
    let (hub, _fake) = hub_with_fake().await;
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
        "/static/js/main.js",
        "/docs",
        "/api/openapi.json",
        "/api/stream-status/",
        "/api/instances/default/stream-status",
        "/api/obs-manager/status/",
        "/api/instances/",
        "/api/events/",
        "/api/scenes/",
        "/api/stream-sessions/",
        "/api/record-sessions/",
        "/api/webhooks/",
    ] {
        let url = format!("{}{path}", hub.base);
        let mut got = hub.client.get(&url).send().await.expect("GET answers");
        let got_body = got.body().limit(4 << 20).await.expect("GET body");
        let mut head = hub.client.head(&url).send().await.expect("HEAD answers");
        let head_body = head.body().await.expect("HEAD body");
        assert_eq!(head.status(), got.status(), "{path}");
        assert_eq!(head.status(), 200, "{path}");
        assert!(head_body.is_empty(), "{path}: HEAD has no body");
        assert_eq!(
            head.headers().get("content-type"),
            got.headers().get("content-type"),
            "{path}"
        );
        if matches!(
            path,
            "/healthz" | "/" | "/static/js/main.js" | "/docs" | "/api/openapi.json"
        ) {
            // Answers that do not change between the two requests: the same length announced.
            let length = head
                .headers()
                .get("content-length")
                .expect("content-length");
            assert_eq!(
                length.to_str().unwrap(),
                got_body.len().to_string(),
                "{path}"
            );
        }
    }
    // A GET route's refusals are the same on HEAD; a POST-only route names what it accepts.
    let plain = hub
        .client
        .head(format!("{}/ws", hub.base))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 400);
    let post_only = hub
        .client
        .head(format!("{}/api/start-stream/", hub.base))
        .send()
        .await
        .unwrap();
    assert_eq!(post_only.status(), 405);
    assert_eq!(post_only.headers().get("allow").unwrap(), "POST");
    let get_only = hub.post("/api/stream-status/", "").await;
    assert_eq!(get_only.status, 405);
}

/// What an obs-websocket look-alike that asks for a password learnt from one client.
struct Caught {
    /// The `authentication` of the client's Identify, if it sent one.
    authentication: Option<String>,
    /// The answer a client knowing `PASSWORD` would give to the challenge it was sent.
    proof_of_password: String,
}

/// Accepts one connection, greets it like obs-websocket with a password challenge, keeps the
/// Identify, refuses it with 4009 as OBS does, then waits for the client to close the TCP
/// connection (a client that keeps it open fails the test at the deadline).
// The large error type is tungstenite's, fixed by its `Callback` trait.
#[allow(clippy::result_large_err)]
async fn catch_identify(listener: tokio::net::TcpListener) -> Caught {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use futures_util::{SinkExt, StreamExt};
    use sha2::{Digest, Sha256};
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::tungstenite::{
        handshake::server::{Request, Response},
        protocol::{frame::coding::CloseCode, CloseFrame},
        Message,
    };

    let (salt, challenge) = (
        "c2FsdC1mb3ItdGhlLXRlc3Q=",
        "Y2hhbGxlbmdlLWZvci10aGUtdGVzdA==",
    );
    let secret = STANDARD.encode(Sha256::digest(format!("{PASSWORD}{salt}")));
    let proof_of_password = STANDARD.encode(Sha256::digest(format!("{secret}{challenge}")));

    let (tcp, _) = listener.accept().await.expect("the hub connects");
    let offer_json = |_: &Request, mut response: Response| {
        response.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "obswebsocket.json".parse().unwrap(),
        );
        Ok(response)
    };
    let mut socket = tokio_tungstenite::accept_hdr_async(tcp, offer_json)
        .await
        .expect("WebSocket upgrade");
    let hello = serde_json::json!({"op": 0, "d": {"obsWebSocketVersion": "5.5.2", "rpcVersion": 1,
        "authentication": {"challenge": challenge, "salt": salt}}});
    socket.send(Message::text(hello.to_string())).await.unwrap();
    let identify = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => break serde_json::from_str::<Value>(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("no Identify from the hub: {other:?}"),
        }
    };
    let authentication = identify["d"]["authentication"].as_str().map(String::from);
    let refusal = CloseFrame {
        code: CloseCode::from(4009),
        reason: "Authentication failed.".into(),
    };
    socket.send(Message::Close(Some(refusal))).await.ok();
    let deadline = Duration::from_secs(15);
    let closed = tokio::time::timeout(deadline, async {
        // The client's close frame, then the end of the TCP stream.
        while let Some(Ok(_)) = socket.next().await {}
        let mut rest = Vec::new();
        socket.get_mut().read_to_end(&mut rest).await.ok();
    })
    .await;
    assert!(closed.is_ok(), "the hub kept the test connection open");
    Caught {
        authentication,
        proof_of_password,
    }
}

/// Issue 10, item 3: a test-connection that only changes `port` must not answer another
/// server's challenge with the configured password (the answer can be checked offline against
/// guesses), and must close its socket.
#[actix_web::test]
async fn test_connection_elsewhere_never_answers_with_the_stored_password() {
    let (hub, _fake) = hub_with_fake().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let catcher = actix_web::rt::spawn(catch_identify(listener));

    let reply = hub
        .post("/api/test-connection/", &format!(r#"{{"port": {port}}}"#))
        .await;
    let caught = catcher.await.expect("the catcher ran");

    assert_ne!(
        caught.authentication.as_deref(),
        Some(caught.proof_of_password.as_str()),
        "the hub answered another server's challenge with the stored password"
    );
    assert_eq!(caught.authentication, None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["error"], "auth_failed", "{:?}", reply.body);
    assert!(
        reply.body["message"]
            .as_str()
            .unwrap()
            .contains("`password`"),
        "{:?}",
        reply.body
    );
}

/// The configured server still gets the configured password, and every probe's socket is
/// closed: the simulated OBS sees the probe's session end.
#[actix_web::test]
async fn test_connection_closes_its_socket() {
    let (hub, fake) = hub_with_fake().await;
    let sessions = fake.connection_count();
    for _ in 0..3 {
        let reply = hub.post("/api/test-connection/", "").await;
        assert_eq!(reply.body["ok"], true, "{:?}", reply.body);
    }
    common::eventually("the probes' sessions closed", || async {
        fake.connection_count() == sessions
    })
    .await;
}

// ---- Raw requests and batches (issue 16) ----

/// OBS's own answer to `request_type`, from a session of the test's own (without its id).
async fn obs_answers(fake: &obs_hub::fake_obs::FakeObs, request_type: &str) -> Value {
    use obs_hub::{
        config::Secret,
        obs::session::{RawSession, SessionConfig},
    };
    let session = RawSession::connect(SessionConfig {
        host: "127.0.0.1".into(),
        port: fake.port(),
        password: Some(Secret::new(PASSWORD)),
        event_subscriptions: 0,
        connect_timeout: std::time::Duration::from_secs(5),
    })
    .await
    .expect("a session of the test's own");
    let mut answer = session.request(request_type, None).await.expect("answer");
    answer.remove("requestId");
    Value::Object(answer)
}

#[actix_web::test]
async fn raw_requests_answer_what_obs_answers_and_pass_its_errors_through() {
    let (hub, fake) = hub_with_fake().await;
    let version = hub.post("/api/obs/requests/GetVersion", "").await;
    assert_eq!(version.status, 200, "{:?}", version.body);
    assert_eq!(version.body, obs_answers(&fake, "GetVersion").await);
    assert_eq!(version.body["responseData"]["obsVersion"], "30.2.3");
    assert!(
        version.body.get("requestId").is_none(),
        "the hub's id stays inside"
    );

    // An unknown request type is OBS's own error, passed through as OBS gave it.
    let unknown = hub
        .post("/api/instances/default/obs/requests/GetNothingAtAll/", "")
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.body["requestStatus"]["result"], false);
    assert_eq!(unknown.body["requestStatus"]["code"], 204);
    assert_eq!(unknown.body, obs_answers(&fake, "GetNothingAtAll").await);

    // A body is the request's data.
    let switched = hub
        .post(
            "/api/obs/requests/SetCurrentProgramScene",
            r#"{"sceneName": "BRB"}"#,
        )
        .await;
    assert_eq!(
        switched.body["requestStatus"]["code"], 100,
        "{:?}",
        switched.body
    );
    assert_eq!(fake.current_scene(), "BRB");
    let missing = hub
        .post(
            "/api/obs/requests/SetCurrentProgramScene",
            r#"{"sceneName": "Nope"}"#,
        )
        .await;
    assert_eq!(missing.body["requestStatus"]["code"], 600);
}

#[actix_web::test]
async fn a_state_changing_raw_request_is_followed_by_a_re_read() {
    let (hub, fake) = hub_with_fake().await;
    // Only a whole re-read asks for the scene list (polls do not), so its count shows one.
    let reads_before = fake.request_count("GetSceneList");
    let reply = hub
        .post(
            "/api/obs/requests/SetCurrentProgramScene",
            r#"{"sceneName": "Ending"}"#,
        )
        .await;
    assert_eq!(reply.body["requestStatus"]["result"], true);
    common::eventually("the hub re-read OBS's state", || async {
        fake.request_count("GetSceneList") > reads_before
    })
    .await;
    hub.wait_for("the cache shows the new scene", |s| {
        s["current_scene"] == "Ending"
    })
    .await;
}

#[actix_web::test]
async fn a_raw_stream_start_takes_the_typed_command_path() {
    // Its own instance name: the metrics registry is shared by the tests of this binary.
    let fake = start_fake().await;
    let hub = spawn_hub(vec![instance("raw-typed", &fake, PASSWORD)]);
    hub.wait_for("connected", |s| s["connected"] == true).await;
    let started = hub.post("/api/obs/requests/StartStream", "").await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(
        started.body,
        serde_json::json!({"requestType": "StartStream",
                           "requestStatus": {"result": true, "code": 100}})
    );
    common::eventually("OBS streams", || async { fake.is_streaming() }).await;
    // OBS's refusal comes back as OBS's answer (500: output running), not as a 409.
    let again = hub.post("/api/obs/requests/StartStream", "").await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["requestStatus"]["code"], 500);
    assert_eq!(fake.request_count("StartStream"), 2);
    // The typed path's metric label, not the raw one: it ran as `start-stream` does.
    // The hub runs in this process: its registry is this one.
    let metrics = obs_hub::metrics::metrics().render();
    assert!(
        metrics.contains(r#"instance="raw-typed",request="StartStream""#),
        "StartStream was not run as a typed command: {}",
        metrics
            .lines()
            .filter(|line| line.contains("raw-typed"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[actix_web::test]
async fn a_batch_answers_each_result_and_its_limits_are_clear_errors() {
    let (hub, fake) = hub_with_fake().await;
    let batch = hub
        .post(
            "/api/obs/batch",
            r#"{"requests": [{"requestType": "GetSceneList"}, {"requestType": "GetStats"}]}"#,
        )
        .await;
    assert_eq!(batch.status, 200, "{:?}", batch.body);
    let results = batch.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["requestType"], "GetSceneList");
    assert_eq!(
        results[0]["responseData"]["scenes"]
            .as_array()
            .map(Vec::len),
        Some(fake.scene_names().len())
    );
    assert_eq!(results[1]["requestType"], "GetStats");
    assert!(results[1]["responseData"]["activeFps"].is_number());

    let request = r#"{"requestType": "GetStats"}"#;
    let many = format!(r#"{{"requests": [{}]}}"#, vec![request; 65].join(","));
    let too_many = hub.post("/api/obs/batch", &many).await;
    assert_eq!(too_many.status, 400);
    assert_eq!(too_many.body["error"], "invalid_field");
    assert!(too_many.body["message"].as_str().unwrap().contains("64"));

    let sleeps = r#"{"requests": [{"requestType": "Sleep", "requestData": {"sleepMillis": 4000}},
                                  {"requestType": "Sleep", "requestData": {"sleepMillis": 4000}}]}"#;
    let too_long = hub.post("/api/obs/batch", sleeps).await;
    assert_eq!(too_long.status, 400);
    assert!(too_long.body["message"].as_str().unwrap().contains("5000"));
    assert_eq!(fake.request_count("Sleep"), 0, "nothing of it reached OBS");

    let output = r#"{"requests": [{"requestType": "GetStats"}, {"requestType": "StartStream"}]}"#;
    let back_door = hub.post("/api/obs/batch", output).await;
    assert_eq!(back_door.status, 400);
    assert!(back_door.body["message"]
        .as_str()
        .unwrap()
        .contains("requests[1]"));
    assert_eq!(fake.request_count("StartStream"), 0);
    assert!(!fake.is_streaming());

    let bad_type = r#"{"requests": [{"requestType": "GetStats"}], "execution_type": "fast"}"#;
    let bad = hub.post("/api/obs/batch", bad_type).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body["message"]
        .as_str()
        .unwrap()
        .contains("execution_type"));

    let huge = format!(r#"{{"pad": "{}"}}"#, "x".repeat(70 * 1024));
    assert_eq!(hub.post("/api/obs/batch", &huge).await.status, 413);
    assert_eq!(
        hub.post("/api/obs/requests/GetVersion", &huge).await.status,
        413
    );
    let not_a_type = hub.post("/api/obs/requests/Get%20Version", "").await;
    assert_eq!(not_a_type.status, 400);
    assert_eq!(not_a_type.body["error"], "invalid_field");
    let not_data = hub.post("/api/obs/requests/GetVersion", "[1]").await;
    assert_eq!(not_data.status, 400);
}

#[actix_web::test]
async fn a_raw_request_to_a_frozen_obs_is_a_504() {
    let (hub, fake) = hub_with_fake().await;
    fake.freeze();
    let reply = hub.post("/api/obs/requests/GetVersion", "").await;
    assert_eq!(reply.status, 504, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "obs_timeout");
    fake.unfreeze();
}

/// Issue 18: `OBS_HUB_TLS=self-signed` serves HTTPS from a certificate generated in the state
/// directory; a client that pins that certificate (and trusts nothing else) gets the status,
/// a client that does not trust it gets no answer, and plain HTTP gets no answer either.
#[actix_web::test]
async fn https_with_a_self_signed_certificate_that_a_client_pins() {
    use obs_hub::tls::{self_signed_names, TlsSettings, SELF_SIGNED_CERT};
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    use std::sync::Arc;

    let fake = start_fake().await;
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_path_buf();
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.tls = TlsSettings::SelfSigned {
            dir: state_dir,
            names: self_signed_names(s.bind, &[]),
        };
    });
    let port = hub.base.rsplit(':').next().unwrap().to_string();
    let https = format!("https://127.0.0.1:{port}/api/stream-status/");

    let pem = std::fs::read(state.path().join(SELF_SIGNED_CERT)).expect("the certificate is kept");
    let client_with = |roots: rustls::RootCertStore| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(Arc::new(config)))
            .timeout(Duration::from_secs(10))
            .finish()
    };
    let mut pinned = rustls::RootCertStore::empty();
    pinned
        .add(CertificateDer::from_pem_slice(&pem).unwrap())
        .unwrap();
    let mut response = client_with(pinned)
        .get(&https)
        .send()
        .await
        .expect("the pinned certificate is accepted");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["instance"], "default", "{body}");

    let stranger = client_with(rustls::RootCertStore::empty())
        .get(&https)
        .send()
        .await;
    assert!(
        stranger.is_err(),
        "a client that does not trust it gets no answer"
    );
    let plain = hub
        .client
        .get(format!("http://127.0.0.1:{port}/api/stream-status/"))
        .send()
        .await;
    assert!(
        plain.map_or(true, |response| !response.status().is_success()),
        "plain HTTP is not served on an HTTPS listener"
    );
}

/// Issue 18: the dashboard's QR code is made by the hub from an http(s) address; anything else
/// is a JSON error naming `text`.
#[actix_web::test]
async fn the_qr_code_of_an_address_is_an_svg_and_other_text_is_refused() {
    let (hub, _fake) = hub_with_fake().await;
    let mut response = hub
        .client
        .get(format!(
            "{}/api/qr-code/?text=https%3A%2F%2F127.0.0.1%3A8000%2F",
            hub.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "image/svg+xml"
    );
    let svg = response.body().await.unwrap();
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));

    for query in ["", "?text=javascript%3Aalert(1)", "?text=https://a&extra=1"] {
        let refused = hub.get(&format!("/api/qr-code/{query}")).await;
        assert_eq!(refused.status, 400, "{query}: {:?}", refused.body);
        assert_eq!(refused.body["error"], "invalid_field", "{query}");
    }
}

/// Issue 18 item 10: the dashboard's button pauses the demo's scripted show, through a route
/// that only `obs-hub demo` (with its show) takes.
#[actix_web::test]
async fn the_demo_show_is_paused_and_resumed_through_the_hub_only_under_the_demo() {
    let fake = start_fake().await;
    let control = obs_hub::demo::ShowControl::default();
    let demo = common::spawn_hub_with_show(
        vec![instance("default", &fake, PASSWORD)],
        |_| {},
        Some(control.clone()),
    );
    let reply = demo.get("/api/demo/show/").await;
    assert_eq!(
        reply.body,
        serde_json::json!({"available": true, "paused": false})
    );

    let reply = demo.post("/api/demo/show/", r#"{"paused": true}"#).await;
    assert_eq!(
        (reply.status, &reply.body["paused"]),
        (200, &Value::Bool(true))
    );
    assert!(control.paused(), "the show itself is paused");
    assert_eq!(demo.get("/api/demo/show").await.body["paused"], true);

    let reply = demo.post("/api/demo/show/", r#"{"paused": "no"}"#).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (400, Some("invalid_field"))
    );
    assert!(control.paused(), "a bad body changes nothing");

    let reply = demo.post("/api/demo/show/", r#"{"paused": false}"#).await;
    assert_eq!(reply.status, 200);
    assert!(!control.paused(), "resumed");

    // Any other hub: no such route to POST, and the page is told there is no show.
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    let reply = hub.post("/api/demo/show/", r#"{"paused": true}"#).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(hub.get("/api/demo/show/").await.body["available"], false);
}

/// Issue 18, a phone in two steps: a token holder gets a pairing code, a phone without the
/// token exchanges it once for the token; wrong codes are refused and then limited.
#[actix_web::test]
async fn a_pairing_code_gives_a_phone_the_token_once() {
    const TOKEN: &str = "0123456789abcdef-pairing";
    let fake = start_fake().await;
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.api_tokens = vec![obs_hub::config::Secret::new(TOKEN)];
    });
    let json = [("content-type", "application/json")];
    // Only a token holder makes codes.
    let reply = send(&hub, "POST", "/api/pairing-code/", &json, "").await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    let bearer = format!("Bearer {TOKEN}");
    let holder = [("authorization", bearer.as_str())];
    let reply = send(&hub, "POST", "/api/pairing-code/", &holder, "").await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let code = reply.body["code"].as_str().unwrap().to_string();
    assert!(!code.contains(TOKEN), "the code is not the token");
    // Its QR code is asked for with a body, out of the request line.
    let holder_json = [("authorization", bearer.as_str()), json[0]];
    let qr_body = format!(r#"{{"text": "https://127.0.0.1:8000/#pair={code}"}}"#);
    let reply = send(&hub, "POST", "/api/qr-code/", &holder_json, &qr_body).await;
    assert_eq!(reply.status, 200);

    // The phone, without a token: the code gives the token, once.
    let body = format!(r#"{{"code": "{code}"}}"#);
    let reply = send(&hub, "POST", "/api/pair/", &json, &body).await;
    assert_eq!(
        (reply.status, reply.body["token"].as_str()),
        (200, Some(TOKEN))
    );
    let reply = send(&hub, "POST", "/api/pair/", &json, &body).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (401, Some("pairing_code_invalid"))
    );
    assert!(!reply.body.to_string().contains(TOKEN));

    // Guessing: wrong codes are refused, then every exchange waits, the right code included.
    let code = send(&hub, "POST", "/api/pairing-code/", &holder, "")
        .await
        .body["code"]
        .as_str()
        .unwrap()
        .to_string();
    let mut statuses = Vec::new();
    // The used code above was the window's first wrong one.
    for _ in 1..obs_hub::http::pairing::MAX_WRONG_ATTEMPTS {
        statuses.push(
            send(&hub, "POST", "/api/pair/", &json, r#"{"code": "WRONG222"}"#)
                .await
                .status,
        );
    }
    assert!(statuses.iter().all(|status| *status == 401), "{statuses:?}");
    let body = format!(r#"{{"code": "{code}"}}"#);
    let reply = send(&hub, "POST", "/api/pair/", &json, &body).await;
    assert_eq!(
        (reply.status, reply.body["error"].as_str()),
        (429, Some("too_many_pairing_attempts"))
    );
    assert!(reply.body.get("token").is_none());
}
