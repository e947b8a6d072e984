//! Live audio meters against the simulated OBS: a WebSocket client that subscribes to `meters`
//! gets frames whose levels move, one that did not gets none; the hub's own OBS session is
//! subscribed to InputVolumeMeters only while someone watches; a client that stops reading
//! delays nobody.

use crate::common;

use std::time::Duration;

use awc::{
    error::WsProtocolError,
    ws::{Frame, Message},
};
use common::{eventually, hub_with_fake, TestHub};
use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{json, Value};

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

fn ws_url(hub: &TestHub) -> String {
    format!("{}/ws", hub.base.replacen("http://", "ws://", 1))
}

async fn connect(hub: &TestHub) -> impl Socket {
    let (response, mut socket) = hub
        .client
        .ws(ws_url(hub))
        .connect()
        .await
        .expect("WebSocket opens");
    assert_eq!(response.status().as_u16(), 101);
    let snapshot = next_message(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");
    socket
}

/// The next JSON text frame, pings aside.
async fn next_message(socket: &mut impl Socket) -> Value {
    loop {
        let frame = actix_web::rt::time::timeout(DEADLINE, socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        match frame {
            Frame::Text(text) => return serde_json::from_slice(&text).expect("JSON"),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn send(socket: &mut impl Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("sent");
}

/// Sends `kind` (`subscribe`/`unsubscribe`) for `meters` and waits for its answer (`answer`),
/// skipping meters and numbered changes that come before it.
async fn request(socket: &mut impl Socket, kind: &str, answer: &str) -> Value {
    send(
        socket,
        json!({"type": kind, "instance": "default", "topics": ["meters"]}),
    )
    .await;
    loop {
        let message = next_message(socket).await;
        if message["type"] == answer || message["type"] == "error" {
            return message;
        }
    }
}

/// The next meters notice, skipping numbered changes.
async fn next_meters(socket: &mut impl Socket) -> Value {
    loop {
        let message = next_message(socket).await;
        if message["type"] == "notice" {
            assert_eq!(message["topic"], "meters", "{message}");
            assert_eq!(message["instance"], "default");
            assert!(message.get("seq").is_none(), "unnumbered: {message}");
            return message["data"].clone();
        }
        assert!(message["seq"].is_u64(), "only changes besides: {message}");
    }
}

/// The first channel's magnitude of "Intro clip" in a meters value.
fn clip_level(meters: &Value) -> f64 {
    let clip = meters["inputs"]
        .as_array()
        .and_then(|inputs| inputs.iter().find(|i| i["name"] == "Intro clip"))
        .unwrap_or_else(|| panic!("Intro clip in {meters}"));
    assert!(clip["uuid"].is_string(), "{clip}");
    clip["channels"][0]["magnitude_db"]
        .as_f64()
        .unwrap_or_else(|| panic!("a level in dB: {clip}"))
}

#[actix_web::test]
async fn a_subscriber_gets_moving_meters_and_obs_is_asked_for_them_only_while_watched() {
    let (hub, fake) = hub_with_fake().await;
    assert_eq!(fake.meter_subscribers(), 0, "nobody watches yet");
    let mut watcher = connect(&hub).await;
    let answer = request(&mut watcher, "subscribe", "subscribed").await;
    assert_eq!(answer["topics"], json!(["meters"]), "{answer}");
    eventually("the hub's session subscribed to the meters", || async {
        fake.meter_subscribers() == 1
    })
    .await;

    let mut levels = Vec::new();
    while levels.len() < 5 {
        fake.push_meter_frame();
        let level = clip_level(&next_meters(&mut watcher).await);
        assert!((-100.0..=0.0).contains(&level), "{level}");
        levels.push(level);
    }
    levels.dedup();
    assert!(levels.len() > 1, "the levels move: {levels:?}");

    let answer = request(&mut watcher, "unsubscribe", "unsubscribed").await;
    assert_eq!(answer["topics"], json!(["meters"]), "{answer}");
    eventually("the hub's session unsubscribed", || async {
        fake.meter_subscribers() == 0
    })
    .await;
}
