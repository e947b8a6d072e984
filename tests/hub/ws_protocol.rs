//! The live-update WebSocket (`/ws`) against the simulated OBS: snapshot then gap-free changes,
//! resync, heartbeat, the bounded backlog of a slow client, and who may connect.

use crate::common;

use std::{
    cell::RefCell,
    rc::Rc,
    time::{Duration, Instant},
};

use awc::{
    error::WsProtocolError,
    ws::{Frame, Message},
};
use common::{eventually, instance, spawn_hub_configured, start_fake, TestHub, PASSWORD};
use futures_util::{SinkExt, Stream, StreamExt};
use obs_hub::{
    config::{Secret, Settings, WebSocketSettings},
    fake_obs::FakeObs,
};
use serde_json::Value;

/// awc's client socket, named by what the tests use of it.
trait Socket:
    Stream<Item = Result<Frame, WsProtocolError>>
    + futures_util::Sink<Message, Error = WsProtocolError>
    + Unpin
{
}
impl<S> Socket for S where
    S: Stream<Item = Result<Frame, WsProtocolError>>
        + futures_util::Sink<Message, Error = WsProtocolError>
        + Unpin
{
}

/// Long enough for anything a loaded CI machine may need; only reached when something is wrong.
const DEADLINE: Duration = Duration::from_secs(20);

/// One fake OBS and a hub connected to it, with settings adjusted by `configure`.
async fn hub_with_fake_and(configure: impl FnOnce(&mut Settings)) -> (TestHub, FakeObs) {
    let fake = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], configure);
    // Read from the board, not the API: some tests turn on API tokens.
    eventually("connected with a fresh state", || async {
        hub.board
            .current()
            .instance("default")
            .is_some_and(|status| status.is_connected() && !status.stale)
    })
    .await;
    (hub, fake)
}

fn ws_url(hub: &TestHub, query: &str) -> String {
    format!("{}/ws{query}", hub.base.replacen("http://", "ws://", 1))
}

async fn connect(hub: &TestHub) -> impl Socket {
    let (response, socket) = hub
        .client
        .ws(ws_url(hub, ""))
        .connect()
        .await
        .expect("WebSocket opens");
    assert_eq!(response.status().as_u16(), 101);
    socket
}

/// What a test sees on the socket, pings and pongs aside.
#[derive(Debug)]
enum Seen {
    Json(Value),
    Closed(Option<(u16, String)>),
}

/// The next frame that is not a ping/pong; `None` at the deadline.
async fn next_seen(socket: &mut impl Socket, deadline: Duration) -> Option<Seen> {
    let started = Instant::now();
    loop {
        let left = deadline.checked_sub(started.elapsed())?;
        let frame = match actix_web::rt::time::timeout(left, socket.next()).await {
            Err(_) => return None,
            Ok(None) => return Some(Seen::Closed(None)),
            Ok(Some(frame)) => frame.expect("a valid frame"),
        };
        match frame {
            Frame::Text(text) => {
                return Some(Seen::Json(
                    serde_json::from_slice(&text).expect("text frames are JSON"),
                ))
            }
            Frame::Close(reason) => {
                return Some(Seen::Closed(reason.map(|reason| {
                    (
                        u16::from(reason.code),
                        reason.description.unwrap_or_default(),
                    )
                })))
            }
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn next_json(socket: &mut impl Socket) -> Value {
    match next_seen(socket, DEADLINE).await {
        Some(Seen::Json(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Reads changes until `done` holds for one, checking that seqs follow `last_seq` one by one.
/// Returns them all.
async fn changes_until(
    socket: &mut impl Socket,
    last_seq: &mut u64,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let message = next_json(socket).await;
        assert_ne!(
            message["type"], "snapshot",
            "unexpected snapshot: {message}"
        );
        let seq = message["seq"].as_u64().expect("changes carry a seq");
        assert_eq!(seq, *last_seq + 1, "no gap, no repeat: {message}");
        *last_seq = seq;
        let finished = done(&message);
        seen.push(message);
        if finished {
            return seen;
        }
    }
}

fn is_scene(message: &Value, scene: &str) -> bool {
    message["type"] == "scene_changed" && message["scene"] == scene
}

#[actix_web::test]
async fn a_snapshot_then_every_change_in_order() {
    let (hub, fake) = hub_with_fake_and(|_| {}).await;
    let mut socket = connect(&hub).await;

    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    let default = &snapshot["instances"]["default"];
    assert_eq!(default["current_scene"], fake.current_scene());
    assert_eq!(default["connection"]["state"], "connected");
    assert_eq!(default["scenes"].as_array().map(Vec::len), Some(5));
    assert_eq!(snapshot["running"], true);
    let mut last_seq = snapshot["seq"].as_u64().expect("snapshot seq");
    assert!(last_seq > 0);

    for scene in ["Live", "BRB", "Ending", "Live"] {
        assert!(fake.switch_scene_from_obs(scene).await);
    }
    assert!(fake.start_stream_from_obs().await);
    let changes = changes_until(&mut socket, &mut last_seq, |message| {
        message["type"] == "streaming_changed" && message["state"] == "started"
    })
    .await;
    let scenes: Vec<&str> = changes
        .iter()
        .filter(|m| m["type"] == "scene_changed")
        .filter_map(|m| m["scene"].as_str())
        .collect();
    assert_eq!(scenes, ["Live", "BRB", "Ending", "Live"]);
    let first_scene = changes.iter().find(|m| is_scene(m, "Live")).unwrap();
    assert_eq!(first_scene["instance"], "default");
    assert_eq!(first_scene["source"], "obs_event");
    assert!(first_scene["at"].is_string());
}

#[actix_web::test]
async fn a_client_that_saw_a_gap_resyncs() {
    let (hub, fake) = hub_with_fake_and(|_| {}).await;
    let mut socket = connect(&hub).await;
    let snapshot = next_json(&mut socket).await;
    let mut last_seq = snapshot["seq"].as_u64().unwrap();

    // The client "loses" these changes: it reads them but pretends they never came.
    fake.switch_scene_from_obs("BRB").await;
    fake.switch_scene_from_obs("Ending").await;
    changes_until(&mut socket, &mut last_seq, |m| is_scene(m, "Ending")).await;

    socket
        .send(Message::Text(r#"{"type":"resync"}"#.into()))
        .await
        .unwrap();
    // Changes already on their way may come first; then the fresh snapshot.
    let fresh = loop {
        let message = next_json(&mut socket).await;
        if message["type"] == "snapshot" {
            break message;
        }
        last_seq = message["seq"].as_u64().unwrap();
    };
    let fresh_seq = fresh["seq"].as_u64().unwrap();
    assert!(fresh_seq >= last_seq, "{fresh_seq} < {last_seq}");
    assert_eq!(fresh["instances"]["default"]["current_scene"], "Ending");

    // And the changes go on from the new snapshot.
    let mut last_seq = fresh_seq;
    fake.switch_scene_from_obs("Live").await;
    changes_until(&mut socket, &mut last_seq, |m| is_scene(m, "Live")).await;
}

#[actix_web::test]
async fn messages_the_hub_does_not_understand_get_an_error_not_a_hangup() {
    let (hub, fake) = hub_with_fake_and(|_| {}).await;
    let mut socket = connect(&hub).await;
    let snapshot = next_json(&mut socket).await;
    let mut last_seq = snapshot["seq"].as_u64().unwrap();

    socket
        .send(Message::Text(r#"{"type":"subscribe"}"#.into()))
        .await
        .unwrap();
    let mut error = next_json(&mut socket).await;
    while error["type"] != "error" {
        last_seq = error["seq"].as_u64().unwrap();
        error = next_json(&mut socket).await;
    }
    assert_eq!(error["error"], "invalid_message");
    assert!(error["message"].as_str().unwrap().contains("resync"));

    fake.switch_scene_from_obs("BRB").await;
    changes_until(&mut socket, &mut last_seq, |m| is_scene(m, "BRB")).await;
}

fn quick_heartbeat(settings: &mut Settings) {
    settings.websocket = WebSocketSettings {
        ping_interval: Duration::from_millis(100),
        client_timeout: Duration::from_millis(500),
        ..WebSocketSettings::default()
    };
}

#[actix_web::test]
async fn the_hub_pings_and_keeps_clients_that_answer() {
    let (hub, _fake) = hub_with_fake_and(quick_heartbeat).await;
    let mut socket = connect(&hub).await;
    let mut pings = 0;
    let started = Instant::now();
    // Three client timeouts long: a client that answers must stay.
    while started.elapsed() < Duration::from_millis(1500) {
        let frame = actix_web::rt::time::timeout(DEADLINE, socket.next())
            .await
            .expect("frames keep coming")
            .expect("still open")
            .expect("valid frame");
        match frame {
            Frame::Ping(payload) => {
                pings += 1;
                socket.send(Message::Pong(payload)).await.unwrap();
            }
            Frame::Close(reason) => panic!("closed although it answered: {reason:?}"),
            _ => {}
        }
    }
    assert!(
        pings >= 3,
        "only {pings} pings in 1.5 s at a 100 ms interval"
    );
    socket
        .send(Message::Text(r#"{"type":"resync"}"#.into()))
        .await
        .unwrap();
    loop {
        if next_json(&mut socket).await["type"] == "snapshot" {
            break;
        }
    }
}

#[actix_web::test]
async fn a_silent_client_is_dropped_with_a_reason() {
    let (hub, _fake) = hub_with_fake_and(quick_heartbeat).await;
    let mut socket = connect(&hub).await;
    // Reads everything, answers nothing.
    loop {
        match next_seen(&mut socket, DEADLINE).await {
            Some(Seen::Json(_)) => continue,
            Some(Seen::Closed(Some((code, reason)))) => {
                assert_eq!(code, 1001);
                assert!(reason.contains("no answer to pings for 500 ms"), "{reason}");
                break;
            }
            other => panic!("expected a close with a reason, got {other:?}"),
        }
    }
}

/// A WebSocket client that reads nothing until told, with a modest receive buffer: on loopback
/// the kernel would otherwise grow the buffers between it and the hub to megabytes.
async fn stalled_client(
    hub: &TestHub,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let address: std::net::SocketAddr = hub
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("hub address");
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    // Not much smaller: below a few kilobytes Linux stops sending window updates on loopback
    // and the transfer crawls on zero-window probes.
    socket.set_recv_buffer_size(32 * 1024).expect("SO_RCVBUF");
    let stream = socket.connect(address).await.expect("TCP connect");
    let (socket, response) = tokio_tungstenite::client_async(ws_url(hub, ""), stream)
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status().as_u16(), 101);
    socket
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_closed_and_others_are_unaffected() {
    use tokio_tungstenite::tungstenite::Message as Received;

    // Far above the largest burst this test makes (two renames, and stats from polls),
    // far below its total.
    const BACKLOG: usize = 16;
    // Each rename below makes a scene list change of about 100 KB: 240 of them are some 24 MB,
    // about three times what the stalled client's socket buffers (the kernel lets the hub's send
    // buffer grow to 4 MB on loopback) and its backlog hold.
    const RENAMES: usize = 240;
    let long_names = ["a".repeat(100_000), "b".repeat(100_000)];
    let (hub, fake) = hub_with_fake_and(|settings| {
        settings.websocket.max_backlog = BACKLOG;
    })
    .await;
    let mut stalled = stalled_client(&hub).await;

    // A healthy client reads throughout, recording every seq.
    let (_, mut healthy) = hub
        .client
        .ws(ws_url(&hub, ""))
        .max_frame_size(1 << 20)
        .connect()
        .await
        .expect("WebSocket opens");
    let snapshot = next_json(&mut healthy).await;
    let healthy_seqs = Rc::new(RefCell::new(vec![snapshot["seq"].as_u64().unwrap()]));
    let reader_seqs = healthy_seqs.clone();
    let reader = actix_web::rt::spawn(async move {
        loop {
            match next_seen(&mut healthy, DEADLINE).await {
                Some(Seen::Json(message)) => {
                    if let Some(seq) = message["seq"].as_u64() {
                        reader_seqs.borrow_mut().push(seq);
                    }
                    if is_scene(&message, "BRB") {
                        return (healthy, message["seq"].as_u64().unwrap());
                    }
                }
                other => panic!("the healthy client lost its feed: {other:?}"),
            }
        }
    });

    let mut current = "Ending".to_string();
    for pair in 0..RENAMES / 2 {
        // Changes come in bursts, as OBS makes them: two renames, then the hub has numbered
        // both and the healthy client has read them (however slow the machine) before the
        // next two. The stalled client falls further behind with every burst.
        let before = hub.board.current().seq;
        for next in &long_names {
            assert!(
                fake.rename_scene_from_obs(&current, next).await,
                "pair {pair}"
            );
            current.clone_from(next);
        }
        eventually("the hub and the healthy client keep up", || async {
            let seq = hub.board.current().seq;
            seq >= before + 2 && healthy_seqs.borrow().last().copied() >= Some(seq)
        })
        .await;
    }
    assert!(fake.switch_scene_from_obs("BRB").await);

    let (mut healthy, last_healthy_seq) = reader.await.expect("healthy reader");
    let seqs = healthy_seqs.borrow().clone();
    assert!(
        seqs.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "the healthy client got every change, in order"
    );
    // (OBS's own SceneListChanged after a rename can fold into the rename's change.)
    assert!(seqs.len() > RENAMES / 2, "{} changes", seqs.len());

    // The stalled client now reads: a gap-free prefix of the changes, then the close reason.
    let mut previous: Option<u64> = None;
    let mut received = 0usize;
    let read_until = Instant::now() + DEADLINE;
    let (code, reason) = loop {
        let left = read_until.saturating_duration_since(Instant::now());
        let frame = match tokio::time::timeout(left, stalled.next()).await {
            Ok(Some(frame)) => frame.expect("valid frame"),
            Ok(None) => panic!("ended without a close after {received} changes"),
            Err(_) => panic!("not closed after {received} changes"),
        };
        match frame {
            Received::Text(text) => {
                let message: Value = serde_json::from_str(&text).expect("JSON");
                let Some(seq) = message["seq"].as_u64() else {
                    continue; // the snapshot
                };
                if let Some(previous) = previous {
                    assert_eq!(seq, previous + 1, "what it got has no gap");
                }
                previous = Some(seq);
                received += 1;
            }
            Received::Close(Some(close)) => {
                break (u16::from(close.code), close.reason.to_string())
            }
            Received::Close(None) => panic!("closed without a reason"),
            _ => {}
        }
    };
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("too slow"), "{reason}");
    assert!(
        previous.unwrap_or(0) < last_healthy_seq,
        "it was cut off before the end ({received} changes)"
    );

    // The healthy client is still live; a reconnecting client starts from a fresh snapshot.
    fake.switch_scene_from_obs("Live").await;
    let mut last_seq = last_healthy_seq;
    changes_until(&mut healthy, &mut last_seq, |m| is_scene(m, "Live")).await;
    let (_, mut again) = hub
        .client
        .ws(ws_url(&hub, ""))
        .max_frame_size(1 << 20)
        .connect()
        .await
        .expect("reconnects");
    let fresh = next_json(&mut again).await;
    assert_eq!(fresh["type"], "snapshot");
    assert_eq!(fresh["instances"]["default"]["current_scene"], "Live");
}

/// Status and JSON body of a refused `GET /ws` (refusals come before the upgrade itself).
async fn refusal(hub: &TestHub, origin: Option<&str>) -> (u16, Value) {
    let mut request = hub.client.get(format!("{}/ws", hub.base));
    if let Some(origin) = origin {
        request = request.insert_header(("origin", origin));
    }
    let mut response = request.send().await.expect("hub answers");
    let bytes = response.body().await.expect("body");
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn foreign_pages_are_refused_and_allowed_ones_let_in() {
    let (hub, _fake) = hub_with_fake_and(|settings| {
        settings.allowed_origins = vec!["https://dash.example.com".to_string()];
    })
    .await;
    let own = hub.base.clone();

    let (status, body) = refusal(&hub, Some("http://evil.example")).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "origin_not_allowed");
    assert!(body["message"].as_str().unwrap().contains("evil.example"));
    assert_eq!(refusal(&hub, Some("null")).await.0, 403);

    for allowed in [
        own.as_str(),
        "https://dash.example.com",
        "https://DASH.example.com:443",
    ] {
        let (_, mut socket) = hub
            .client
            .ws(ws_url(&hub, ""))
            .origin(allowed)
            .connect()
            .await
            .unwrap_or_else(|error| panic!("{allowed} is let in: {error}"));
        assert_eq!(next_json(&mut socket).await["type"], "snapshot");
    }
    // Scripts and other non-browser clients send no Origin.
    let mut script = connect(&hub).await;
    assert_eq!(next_json(&mut script).await["type"], "snapshot");
    let refused = hub
        .client
        .ws(ws_url(&hub, ""))
        .origin("http://evil.example")
        .connect()
        .await;
    assert!(refused.is_err());
}

#[actix_web::test]
async fn a_plain_get_is_told_to_use_a_websocket() {
    let (hub, _fake) = hub_with_fake_and(|_| {}).await;
    let reply = hub.get("/ws").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"], "websocket_required");
    assert!(reply.body["message"]
        .as_str()
        .unwrap()
        .contains("WebSocket"));
}

#[actix_web::test]
async fn with_an_api_token_the_socket_requires_it() {
    const TOKEN: &str = "0123456789abcdef-live";
    let (hub, _fake) = hub_with_fake_and(|settings| {
        settings.api_tokens = vec![Secret::new(TOKEN)];
    })
    .await;
    let (status, body) = refusal(&hub, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "unauthorized");

    let (_, mut by_query) = hub
        .client
        .ws(ws_url(&hub, &format!("?token={TOKEN}")))
        .connect()
        .await
        .expect("the token in the query lets a browser in");
    assert_eq!(next_json(&mut by_query).await["type"], "snapshot");
    let (_, mut by_header) = hub
        .client
        .ws(ws_url(&hub, ""))
        .bearer_auth(TOKEN)
        .connect()
        .await
        .expect("the bearer header lets a script in");
    assert_eq!(next_json(&mut by_header).await["type"], "snapshot");
    assert!(hub
        .client
        .ws(ws_url(&hub, "?token=wrong-token-wrong-token"))
        .connect()
        .await
        .is_err());
}

/// DNS rebinding: a page on `http://attacker.test:PORT/`, its name re-pointed at 127.0.0.1, opens
/// the socket with `Host` and `Origin` both naming attacker.test, which look "same-origin".
#[actix_web::test]
async fn a_rebound_domain_cannot_open_the_socket() {
    let (hub, _fake) = hub_with_fake_and(|settings| {
        settings.allowed_hosts = vec!["hub.example.test".to_string()];
    })
    .await;
    let port = hub.base.rsplit(':').next().unwrap().to_string();
    let attacker = format!("attacker.test:{port}");
    let opened = hub
        .client
        .ws(ws_url(&hub, ""))
        .set_header("host", attacker.as_str())
        .origin(format!("http://{attacker}").as_str())
        .connect()
        .await;
    assert!(
        opened.is_err(),
        "the rebound page got the live feed (a 101 and the snapshot)"
    );
    let mut refused = hub
        .client
        .get(format!("{}/ws", hub.base))
        .insert_header(("host", attacker.as_str()))
        .insert_header(("origin", format!("http://{attacker}")))
        .send()
        .await
        .expect("hub answers");
    assert_eq!(refused.status().as_u16(), 421);
    let body: Value = serde_json::from_slice(&refused.body().await.unwrap()).unwrap();
    assert_eq!(body["error"], "host_not_allowed");

    // The name the operator allowed, with its own origin, is let in.
    let allowed = format!("hub.example.test:{port}");
    let (_, mut socket) = hub
        .client
        .ws(ws_url(&hub, ""))
        .set_header("host", allowed.as_str())
        .origin(format!("http://{allowed}").as_str())
        .connect()
        .await
        .expect("an allowed host opens the socket");
    assert_eq!(next_json(&mut socket).await["type"], "snapshot");
}
