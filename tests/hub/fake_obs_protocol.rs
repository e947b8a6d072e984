//! The fake OBS checked against obws 0.15, the client obs-hub uses: if obws parses what the fake
//! sends, the hub will too. A raw WebSocket client covers what obws does not expose (close
//! codes after the handshake, batches, raw status codes).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use obs_hub::fake_obs::{close, intent, FakeObs, FakeObsConfig};
use obws::client::{ConnectConfig, HandshakeError};
use obws::error::Error;
use obws::events::{Event, EventStream, OutputState};
use obws::requests::scenes::SceneId;
use obws::requests::EventSubscription;
use obws::responses::StatusCode;
use obws::Client;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Generous bound for things that should happen within milliseconds; only hit on failure.
const WAIT: Duration = Duration::from_secs(5);

async fn start(password: Option<&str>) -> FakeObs {
    FakeObs::start(FakeObsConfig {
        password: password.map(String::from),
        ..FakeObsConfig::default()
    })
    .await
    .expect("fake OBS starts")
}

async fn connect_with(
    obs: &FakeObs,
    password: Option<&str>,
    event_subscriptions: Option<EventSubscription>,
    connect_timeout: Duration,
) -> Result<Client, Error> {
    Client::connect_with_config(ConnectConfig {
        host: "127.0.0.1",
        port: obs.port(),
        password,
        event_subscriptions,
        broadcast_capacity: 100,
        connect_timeout,
        dangerous: None,
    })
    .await
}

async fn connect(obs: &FakeObs, password: Option<&str>) -> Client {
    connect_with(obs, password, None, WAIT)
        .await
        .expect("obws connects to the fake")
}

/// Waits for the first event `pick` accepts. Panics if the stream ends or nothing comes.
async fn wait_for<T>(events: &mut EventStream, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let search = async {
        while let Some(event) = events.next().await {
            if let Some(found) = pick(event) {
                return Some(found);
            }
        }
        None
    };
    timeout(WAIT, search)
        .await
        .expect("timed out waiting for an event")
        .expect("event stream ended before the event came")
}

/// Drains the stream and reports whether it ended (rather than going quiet).
async fn stream_ends(events: &mut EventStream) -> bool {
    timeout(WAIT, async { while events.next().await.is_some() {} })
        .await
        .is_ok()
}

fn handshake_close(result: Result<Client, Error>) -> (u16, String) {
    match result {
        Err(Error::Handshake(HandshakeError::ConnectionClosed(Some(details)))) => {
            (u16::from(details.code), details.reason)
        }
        Err(other) => panic!("expected a close during the handshake, got {other:?}"),
        Ok(_) => panic!("expected the handshake to fail"),
    }
}

type RawSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn raw_next(socket: &mut RawSocket) -> Message {
    timeout(WAIT, socket.next())
        .await
        .expect("timed out waiting for a frame")
        .expect("socket ended")
        .expect("socket error")
}

async fn raw_json(socket: &mut RawSocket) -> Value {
    loop {
        if let Message::Text(text) = raw_next(socket).await {
            return serde_json::from_str(&text).expect("server sends JSON");
        }
    }
}

async fn raw_send(socket: &mut RawSocket, message: Value) {
    socket
        .send(Message::Text(message.to_string()))
        .await
        .expect("send");
}

/// A raw client through Hello and Identify (no password).
async fn raw_identified(obs: &FakeObs) -> RawSocket {
    let url = format!("ws://127.0.0.1:{}", obs.port());
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("raw connect");
    let hello = raw_json(&mut socket).await;
    assert_eq!(hello["op"], 0);
    assert_eq!(hello["d"]["rpcVersion"], 1);
    raw_send(&mut socket, json!({"op": 1, "d": {"rpcVersion": 1}})).await;
    assert_eq!(raw_json(&mut socket).await["op"], 2);
    socket
}

/// Reads until a close frame and returns its code and reason, plus the texts before it.
async fn raw_until_close(socket: &mut RawSocket) -> (u16, String, Vec<Value>) {
    let mut texts = Vec::new();
    loop {
        match raw_next(socket).await {
            Message::Text(text) => texts.push(serde_json::from_str(&text).expect("JSON")),
            Message::Close(Some(frame)) => {
                return (u16::from(frame.code), frame.reason.into_owned(), texts)
            }
            Message::Close(None) => panic!("close frame without a code"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn password_handshake_and_version_check() {
    let obs = start(Some("hunter2")).await;
    let client = connect(&obs, Some("hunter2")).await;
    assert_eq!(obs.connection_count(), 1);

    let version = client.general().version().await.expect("GetVersion");
    assert_eq!(version.obs_studio_version.to_string(), "30.2.3");
    assert_eq!(version.obs_web_socket_version.to_string(), "5.5.2");
    assert_eq!(version.rpc_version, 1);
    assert!(version
        .available_requests
        .iter()
        .any(|r| r == "GetSceneList"));
    assert_eq!(version.platform, "debian");
    // obws sends GetVersion itself while connecting to check the versions.
    assert_eq!(obs.request_count("GetVersion"), 2);

    let (code, reason) = handshake_close(connect_with(&obs, Some("wrong"), None, WAIT).await);
    assert_eq!(code, close::AUTHENTICATION_FAILED);
    assert_eq!(reason, "Authentication failed.");

    let (code, reason) = handshake_close(connect_with(&obs, None, None, WAIT).await);
    assert_eq!(code, close::AUTHENTICATION_FAILED);
    assert!(
        reason.contains("missing an `authentication` string"),
        "{reason}"
    );
    assert_eq!(obs.connection_count(), 1, "failed handshakes never count");

    // A new password applies to the next handshakes only.
    obs.set_password(Some("changed".into()));
    let (code, _) = handshake_close(connect_with(&obs, Some("hunter2"), None, WAIT).await);
    assert_eq!(code, close::AUTHENTICATION_FAILED);
    let _second = connect(&obs, Some("changed")).await;
    assert_eq!(obs.connection_count(), 2);
    client
        .general()
        .stats()
        .await
        .expect("first session still works");
}

#[tokio::test]
async fn an_obs_too_old_for_obws_is_refused() {
    let obs = start(None).await;
    obs.set_versions("29.0.2", "5.1.0");
    match connect_with(&obs, None, None, WAIT).await {
        Err(Error::ObsStudioVersion(version, _)) => assert_eq!(version.to_string(), "29.0.2"),
        Err(other) => panic!("expected ObsStudioVersion, got {other:?}"),
        Ok(_) => panic!("obws accepted OBS 29"),
    }
}

#[tokio::test]
async fn status_requests_parse_in_obws() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;

    let stats = client.general().stats().await.expect("GetStats");
    assert!(
        (29.0..31.0).contains(&stats.active_fps),
        "{}",
        stats.active_fps
    );
    assert!(stats.memory_usage > 100.0 && stats.cpu_usage > 0.0);
    assert!(stats.available_disk_space > 1000.0);
    // Identify, GetVersion (obws's check), GetStats in; Hello, Identified, GetVersion out.
    assert_eq!(stats.web_socket_session_incoming_messages, 3);
    assert_eq!(stats.web_socket_session_outgoing_messages, 3);

    let scenes = client.scenes().list().await.expect("GetSceneList");
    let program = scenes.current_program_scene.expect("program scene");
    assert_eq!(program.name, "Scene");
    assert!(scenes.current_preview_scene.is_none(), "studio mode is off");
    let names: Vec<&str> = scenes.scenes.iter().map(|s| s.id.name.as_str()).collect();
    assert_eq!(names, ["Ending", "BRB", "Live", "Starting Soon", "Scene"]);
    let indexes: Vec<usize> = scenes.scenes.iter().map(|s| s.index).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4]);
    assert_eq!(obs.scene_names()[0], "Scene");

    let current = client
        .scenes()
        .current_program_scene()
        .await
        .expect("GetCurrentProgramScene");
    assert_eq!(current.id.uuid, program.uuid);

    let stream = client.streaming().status().await.expect("GetStreamStatus");
    assert!(!stream.active && !stream.reconnecting);
    assert_eq!(stream.bytes, 0);
    let record = client.recording().status().await.expect("GetRecordStatus");
    assert!(!record.active && !record.paused);
}

#[tokio::test]
async fn switching_scenes_emits_current_program_scene_changed() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;
    let mut events = client.events().expect("events");

    client
        .scenes()
        .set_current_program_scene("Live")
        .await
        .expect("SetCurrentProgramScene");
    let switched = wait_for(&mut events, |event| match event {
        Event::CurrentProgramSceneChanged { id } => Some(id),
        _ => None,
    })
    .await;
    assert_eq!(switched.name, "Live");
    assert_eq!(obs.current_scene(), "Live");

    assert!(obs.switch_scene_from_obs("BRB").await);
    let switched = wait_for(&mut events, |event| match event {
        Event::CurrentProgramSceneChanged { id } => Some(id),
        _ => None,
    })
    .await;
    assert_eq!(switched.name, "BRB");
    let current = client.scenes().current_program_scene().await.expect("get");
    assert_eq!(current.id.name, "BRB");
    assert_eq!(current.id.uuid, switched.uuid);

    assert!(!obs.switch_scene_from_obs("Nope").await);
    match client.scenes().set_current_program_scene("Nope").await {
        Err(Error::Api { code, message }) => {
            assert_eq!(code, StatusCode::ResourceNotFound);
            assert_eq!(
                message.as_deref(),
                Some("No source was found by the name of `Nope`.")
            );
        }
        other => panic!("expected ResourceNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn streaming_emits_state_changes_and_bytes_grow() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;
    let mut events = client.events().expect("events");

    client.streaming().start().await.expect("StartStream");
    let stream_state = |event| match event {
        Event::StreamStateChanged { active, state } => Some((active, state)),
        _ => None,
    };
    assert_eq!(
        wait_for(&mut events, stream_state).await,
        (false, OutputState::Starting)
    );
    assert_eq!(
        wait_for(&mut events, stream_state).await,
        (true, OutputState::Started)
    );
    assert!(obs.is_streaming());

    match client.streaming().start().await {
        Err(Error::Api { code, .. }) => assert_eq!(code, StatusCode::OutputRunning),
        other => panic!("expected OutputRunning, got {other:?}"),
    }

    let first = client.streaming().status().await.expect("status");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = client.streaming().status().await.expect("status");
    assert!(first.active && second.active);
    assert!(
        second.bytes > first.bytes,
        "{} -> {}",
        first.bytes,
        second.bytes
    );
    assert!(second.duration > first.duration);
    assert!(second.total_frames > first.total_frames);

    client.streaming().stop().await.expect("StopStream");
    assert_eq!(
        wait_for(&mut events, stream_state).await,
        (false, OutputState::Stopping)
    );
    assert_eq!(
        wait_for(&mut events, stream_state).await,
        (false, OutputState::Stopped)
    );
    assert!(!obs.is_streaming());
    assert!(!client.streaming().status().await.expect("status").active);
    match client.streaming().stop().await {
        Err(Error::Api { code, .. }) => assert_eq!(code, StatusCode::OutputNotRunning),
        other => panic!("expected OutputNotRunning, got {other:?}"),
    }
}

#[tokio::test]
async fn recording_reports_the_file_it_wrote() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;
    let mut events = client.events().expect("events");
    let record_state = |event| match event {
        Event::RecordStateChanged {
            active,
            state,
            path,
        } => Some((active, state, path)),
        _ => None,
    };

    client.recording().start().await.expect("StartRecord");
    let (_, state, path) = wait_for(&mut events, record_state).await;
    assert_eq!((state, path), (OutputState::Starting, None));
    let (active, state, started_path) = wait_for(&mut events, record_state).await;
    assert!(active && state == OutputState::Started);
    assert!(obs.is_recording());

    let path = client.recording().stop().await.expect("StopRecord");
    assert!(
        path.starts_with("/home/x/") && path.ends_with(".mkv"),
        "{path}"
    );
    assert_eq!(started_path.as_deref(), Some(path.as_str()));
    let (_, state, _) = wait_for(&mut events, record_state).await;
    assert_eq!(state, OutputState::Stopping);
    let (active, state, stopped_path) = wait_for(&mut events, record_state).await;
    assert!(!active && state == OutputState::Stopped);
    assert_eq!(stopped_path, Some(path));
}

#[tokio::test]
async fn scene_create_rename_remove_emit_events() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;
    let mut events = client.events().expect("events");

    let uuid = client.scenes().create("Intro").await.expect("CreateScene");
    let created = wait_for(&mut events, |event| match event {
        Event::SceneCreated { id, is_group } => Some((id, is_group)),
        _ => None,
    })
    .await;
    assert_eq!(
        (created.0.name.as_str(), created.0.uuid, created.1),
        ("Intro", uuid, false)
    );
    let listed = wait_for(&mut events, |event| match event {
        Event::SceneListChanged { scenes } => Some(scenes),
        _ => None,
    })
    .await;
    // New scenes go to the bottom of the dock, which obs-websocket lists first as index 0.
    assert_eq!((listed[0].name.as_str(), listed[0].index), ("Intro", 0));
    match client.scenes().create("Intro").await {
        Err(Error::Api { code, .. }) => assert_eq!(code, StatusCode::ResourceAlreadyExists),
        other => panic!("expected ResourceAlreadyExists, got {other:?}"),
    }

    client
        .scenes()
        .set_name(SceneId::Uuid(uuid), "Opening")
        .await
        .expect("SetSceneName");
    let renamed = wait_for(&mut events, |event| match event {
        Event::SceneNameChanged {
            uuid,
            old_name,
            new_name,
        } => Some((uuid, old_name, new_name)),
        _ => None,
    })
    .await;
    assert_eq!(renamed, (uuid, "Intro".to_owned(), "Opening".to_owned()));

    client
        .scenes()
        .remove(SceneId::Name("Opening"))
        .await
        .expect("RemoveScene");
    let removed = wait_for(&mut events, |event| match event {
        Event::SceneRemoved { id, .. } => Some(id),
        _ => None,
    })
    .await;
    assert_eq!(removed.uuid, uuid);

    // The same changes made by the user in OBS.
    assert!(obs.create_scene_from_obs("Outro").await);
    let created = wait_for(&mut events, |event| match event {
        Event::SceneCreated { id, .. } => Some(id.name),
        _ => None,
    })
    .await;
    assert_eq!(created, "Outro");
    assert!(obs.rename_scene_from_obs("Scene", "Main").await);
    let renamed = wait_for(&mut events, |event| match event {
        Event::SceneNameChanged { new_name, .. } => Some(new_name),
        _ => None,
    })
    .await;
    assert_eq!(renamed, "Main");
    // Removing the live scene moves the program to the next one in the dock.
    assert!(obs.remove_scene_from_obs("Main").await);
    let switched = wait_for(&mut events, |event| match event {
        Event::CurrentProgramSceneChanged { id } => Some(id.name),
        _ => None,
    })
    .await;
    assert_eq!(switched, "Starting Soon");
    assert_eq!(
        obs.scene_names(),
        ["Starting Soon", "Live", "BRB", "Ending", "Outro"]
    );
}

#[tokio::test]
async fn events_follow_the_session_subscriptions() {
    let obs = start(None).await;
    let client = connect_with(&obs, None, Some(EventSubscription::OUTPUTS), WAIT)
        .await
        .expect("connect");
    let mut events = client.events().expect("events");

    // Events reach a session in order, so if the scene event had been sent it would come first.
    assert!(obs.switch_scene_from_obs("Live").await);
    assert!(obs.start_stream_from_obs().await);
    let first = wait_for(&mut events, Some).await;
    assert!(
        matches!(first, Event::StreamStateChanged { .. }),
        "got {first:?}"
    );

    client
        .reidentify(EventSubscription::SCENES | EventSubscription::GENERAL)
        .await
        .expect("Reidentify");
    obs.emit_event("CustomEvent", intent::GENERAL, json!({"hello": "hub"}))
        .await;
    let custom = wait_for(&mut events, |event| match event {
        Event::CustomEvent(data) => Some(data),
        _ => None,
    })
    .await;
    assert_eq!(custom, json!({"hello": "hub"}));
}

#[tokio::test]
async fn stop_ends_the_session_refuses_connections_and_restart_keeps_state() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;
    let mut events = client.events().expect("events");
    assert!(obs.switch_scene_from_obs("Live").await);

    timeout(WAIT, obs.stop()).await.expect("stop finishes");
    wait_for(&mut events, |event| {
        matches!(event, Event::ExitStarted).then_some(())
    })
    .await;
    wait_for(&mut events, |event| {
        matches!(event, Event::ServerStopping).then_some(())
    })
    .await;
    assert!(stream_ends(&mut events).await, "event stream ends");
    assert_eq!(obs.connection_count(), 0);
    assert!(
        TcpStream::connect(("127.0.0.1", obs.port())).await.is_err(),
        "port refuses connections while stopped"
    );
    let after_stop = timeout(WAIT, client.general().version()).await;
    assert!(matches!(after_stop, Ok(Err(_))), "requests fail at once");

    obs.restart().await.expect("restart");
    let client = connect(&obs, None).await;
    let current = client.scenes().current_program_scene().await.expect("get");
    assert_eq!(current.id.name, "Live", "state survives a restart");
    assert_eq!(obs.connection_count(), 1);
}

#[tokio::test]
async fn stop_closes_with_going_away_after_exit_started() {
    let obs = start(None).await;
    let mut socket = raw_identified(&obs).await;
    let stop = tokio::spawn({
        let obs = obs.clone();
        async move { obs.stop().await }
    });
    let (code, reason, before) = raw_until_close(&mut socket).await;
    assert_eq!(code, close::GOING_AWAY);
    assert_eq!(reason, close::REASON_SERVER_STOPPING);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["op"], 5);
    assert_eq!(before[0]["d"]["eventType"], "ExitStarted");
    assert_eq!(before[0]["d"]["eventIntent"], 1);
    drop(socket);
    timeout(WAIT, stop)
        .await
        .expect("stop finishes")
        .expect("stop task");
}

#[tokio::test]
async fn freeze_holds_requests_and_handshakes_but_not_stop() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;

    obs.freeze();
    let hung = timeout(Duration::from_millis(500), client.general().version()).await;
    assert!(hung.is_err(), "a frozen OBS does not answer");
    assert_eq!(
        obs.request_count("GetVersion"),
        1,
        "nothing read while frozen"
    );
    let fresh = connect_with(&obs, None, None, Duration::from_millis(500)).await;
    assert!(
        matches!(fresh, Err(Error::Timeout)),
        "got {:?}",
        fresh.err()
    );

    obs.unfreeze();
    let version = timeout(WAIT, client.general().version()).await;
    assert!(matches!(version, Ok(Ok(_))), "answers again after unfreeze");

    obs.freeze();
    timeout(WAIT, obs.stop())
        .await
        .expect("stop is not blocked by a freeze");
    assert_eq!(obs.connection_count(), 0);
    obs.restart().await.expect("restart");
    connect(&obs, None).await;
}

#[tokio::test]
async fn kick_all_ends_sessions_with_session_invalidated() {
    let obs = start(None).await;
    let client = connect(&obs, None).await;
    let mut events = client.events().expect("events");
    let mut socket = raw_identified(&obs).await;
    assert_eq!(obs.connection_count(), 2);

    let kick = tokio::spawn({
        let obs = obs.clone();
        async move { obs.kick_all().await }
    });
    let (code, reason, _) = raw_until_close(&mut socket).await;
    assert_eq!(code, close::SESSION_INVALIDATED);
    assert_eq!(reason, close::REASON_SESSION_INVALIDATED);
    drop(socket);
    timeout(WAIT, kick)
        .await
        .expect("kick finishes")
        .expect("kick task");

    wait_for(&mut events, |event| {
        matches!(event, Event::ServerStopping).then_some(())
    })
    .await;
    assert!(stream_ends(&mut events).await, "event stream ends");
    assert_eq!(obs.connection_count(), 0);
    // Unlike stop(), the server keeps listening.
    connect(&obs, None).await;
}

#[tokio::test]
async fn a_slow_request_blocks_no_one() {
    let obs = start(None).await;
    let mut socket = raw_identified(&obs).await;
    let client = connect(&obs, None).await;

    raw_send(
        &mut socket,
        json!({"op": 6, "d": {"requestType": "Sleep", "requestId": "slow",
                               "requestData": {"sleepMillis": 3000}}}),
    )
    .await;
    raw_send(
        &mut socket,
        json!({"op": 6, "d": {"requestType": "GetVersion", "requestId": "quick"}}),
    )
    .await;

    // Well inside the 3 s sleep, even on a loaded machine.
    let other = timeout(Duration::from_millis(2000), client.general().version()).await;
    assert!(
        matches!(other, Ok(Ok(_))),
        "another client is answered meanwhile"
    );
    let first = raw_json(&mut socket).await;
    assert_eq!(
        first["d"]["requestId"], "quick",
        "the same client is not held up either"
    );
    let second = raw_json(&mut socket).await;
    assert_eq!(second["d"]["requestId"], "slow");
    assert_eq!(second["d"]["requestStatus"]["code"], 100);
}

#[tokio::test]
async fn raw_status_codes_and_batches() {
    let obs = start(None).await;
    let mut socket = raw_identified(&obs).await;

    raw_send(
        &mut socket,
        json!({"op": 6, "d": {"requestType": "GetInputPropertiesListPropertyItems", "requestId": "a"}}),
    )
    .await;
    let unknown = raw_json(&mut socket).await;
    assert_eq!(unknown["op"], 7);
    assert_eq!(
        unknown["d"]["requestType"],
        "GetInputPropertiesListPropertyItems"
    );
    assert_eq!(
        unknown["d"]["requestStatus"],
        json!({"result": false, "code": 204, "comment": "Your request type is not valid."})
    );
    assert!(unknown["d"].get("responseData").is_none());

    raw_send(
        &mut socket,
        json!({"op": 6, "d": {"requestType": "CreateScene", "requestId": "b", "requestData": {}}}),
    )
    .await;
    let missing = raw_json(&mut socket).await;
    assert_eq!(missing["d"]["requestStatus"]["code"], 300);
    assert_eq!(
        missing["d"]["requestStatus"]["comment"],
        "Your request is missing the `sceneName` field."
    );

    raw_send(
        &mut socket,
        json!({"op": 8, "d": {"requestId": "batch", "haltOnFailure": true, "requests": [
            {"requestType": "GetVersion", "requestId": "1"},
            {"requestType": "SetCurrentProgramScene", "requestId": "2",
             "requestData": {"sceneName": "Nope"}},
            {"requestType": "GetStats", "requestId": "3"},
        ]}}),
    )
    .await;
    let batch = raw_json(&mut socket).await;
    assert_eq!(batch["op"], 9);
    assert_eq!(batch["d"]["requestId"], "batch");
    let results = batch["d"]["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "halted after the failure");
    assert_eq!(results[0]["requestStatus"]["code"], 100);
    assert_eq!(results[0]["responseData"]["obsVersion"], "30.2.3");
    assert_eq!(results[1]["requestStatus"]["code"], 600);
    assert_eq!(obs.request_count("GetStats"), 0);

    // A request before Identify is a protocol error that ends the session.
    let url = format!("ws://127.0.0.1:{}", obs.port());
    let (mut early, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    raw_json(&mut early).await;
    raw_send(
        &mut early,
        json!({"op": 6, "d": {"requestType": "GetVersion", "requestId": "x"}}),
    )
    .await;
    let (code, _, _) = raw_until_close(&mut early).await;
    assert_eq!(code, close::NOT_IDENTIFIED);
}
