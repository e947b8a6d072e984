//! `RawSession`: the hub's own obs-websocket v5 client session, one per connected instance, next
//! to obws's link. obws cannot send an arbitrary request, has no request batches and hides the
//! close code once identified; this session carries raw requests and batches, sees every close
//! code (a 4011 kick above all), and changes its event subscriptions with Reidentify: high-rate
//! events such as audio meters come here while wanted (`obs::taps`), so obws's status link never
//! carries them.
//!
//! Shape: `connect` does the Hello/Identify handshake, then one tokio task owns the socket. The
//! handle sends it commands over a channel; answers come back on oneshot channels keyed by
//! request id. Dropping the last handle closes the socket (1000). When the socket ends, the
//! task publishes why on a watch channel ([`RawSession::closed`]) and every pending request fails
//! with that reason. The message shapes are `crate::obs_protocol`'s.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::{
    client::IntoClientRequest,
    http::HeaderValue,
    protocol::{frame::coding::CloseCode, CloseFrame},
    Message,
};

use crate::{
    config::Secret,
    obs_protocol::{self as protocol, close, op, ServerMessage},
};

/// How the client asks for the JSON flavour of the protocol.
const JSON_SUBPROTOCOL: &str = "obswebsocket.json";

/// How a session ended: the close code and reason OBS sent, or what broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionClosed {
    /// `None` when the socket ended without a close frame (cut, reset, or our own drop).
    pub code: Option<u16>,
    pub reason: String,
}

impl SessionClosed {
    /// The user pressed "Kick" in OBS: the protocol says not to reconnect on our own.
    pub fn is_kick(&self) -> bool {
        self.code == Some(close::SESSION_INVALIDATED)
    }

    /// A sentence for `last_error`.
    pub fn describe(&self) -> String {
        match self.code {
            Some(code) if self.reason.is_empty() => format!("OBS closed the session (code {code})"),
            Some(code) => format!("OBS closed the session (code {code}: {})", self.reason),
            None => format!("the session ended: {}", self.reason),
        }
    }
}

/// Why a session could not be opened, or a request on it got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("cannot reach OBS: {0}")]
    Connect(String),
    #[error("obs-websocket handshake failed: {0}")]
    Handshake(String),
    /// OBS closed the socket (during the handshake, or before answering a request).
    #[error("{}", .0.describe())]
    Closed(SessionClosed),
    #[error("OBS requires a password and none is configured")]
    PasswordRequired,
    #[error("OBS did not finish the handshake in time")]
    Timeout,
}

/// Where to connect, and what to subscribe to at first.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
    /// Event intents (`obs_protocol::intent`); 0 for none.
    pub event_subscriptions: u32,
    /// For the TCP connect, the upgrade and the Hello/Identify exchange together.
    pub connect_timeout: Duration,
}

/// An event the session received (none unless subscribed).
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    pub event_type: String,
    pub data: Value,
}

/// What the handle asks the socket task to do.
enum Command {
    /// Send `text`; answer `reply` with the response whose `requestId` is `id`.
    Request {
        id: String,
        text: String,
        reply: oneshot::Sender<Map<String, Value>>,
    },
    /// Send a Reidentify; answer once OBS says Identified.
    Reidentify {
        text: String,
        reply: oneshot::Sender<()>,
    },
}

/// Events wait here for a consumer; past this many the newest are dropped (high-rate events are
/// latest-value-wins by nature, and a session must never block its socket on a slow consumer).
const EVENT_BUFFER: usize = 256;

/// A handle on an identified session. Dropping it closes the session.
pub struct RawSession {
    commands: mpsc::UnboundedSender<Command>,
    closed: watch::Receiver<Option<SessionClosed>>,
    events: Option<mpsc::Receiver<RawEvent>>,
    next_id: AtomicU64,
    obs_websocket_version: String,
}

impl RawSession {
    /// Connects and identifies, within `config.connect_timeout`.
    pub async fn connect(config: SessionConfig) -> Result<RawSession, SessionError> {
        tokio::time::timeout(config.connect_timeout, open(&config))
            .await
            .map_err(|_| SessionError::Timeout)?
    }

    /// The obs-websocket version OBS announced in its Hello.
    pub fn obs_websocket_version(&self) -> &str {
        &self.obs_websocket_version
    }

    /// Why the session ended, once it has: `None` in the channel while it is open.
    pub fn closed(&self) -> watch::Receiver<Option<SessionClosed>> {
        self.closed.clone()
    }

    /// The events this session is subscribed to; `None` after the first call.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<RawEvent>> {
        self.events.take()
    }

    fn next_request_id(&self) -> String {
        format!("hub-{}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends one request and waits for its RequestResponse `d` (requestType, requestId,
    /// requestStatus and, when OBS sends it, responseData). No timeout: callers bound it.
    pub async fn request(
        &self,
        request_type: &str,
        request_data: Option<&Value>,
    ) -> Result<Map<String, Value>, SessionError> {
        let id = self.next_request_id();
        let text = protocol::request(request_type, &id, request_data);
        self.exchange(id, text).await
    }

    /// Sends a request batch and waits for its RequestBatchResponse `d` (`results`, one per
    /// request run). `requests` must already be checked (`obs::raw::check_batch`).
    pub async fn batch(
        &self,
        requests: &[Value],
        halt_on_failure: bool,
        execution_type: i64,
    ) -> Result<Map<String, Value>, SessionError> {
        let id = self.next_request_id();
        let text = protocol::request_batch(&id, halt_on_failure, execution_type, requests);
        self.exchange(id, text).await
    }

    /// Changes the event subscriptions (Reidentify) and waits for OBS to confirm.
    pub async fn reidentify(&self, event_subscriptions: u32) -> Result<(), SessionError> {
        let (reply, answer) = oneshot::channel();
        let text = protocol::reidentify(event_subscriptions);
        self.commands
            .send(Command::Reidentify { text, reply })
            .map_err(|_| self.closed_error())?;
        answer.await.map_err(|_| self.closed_error())
    }

    async fn exchange(&self, id: String, text: String) -> Result<Map<String, Value>, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request { id, text, reply })
            .map_err(|_| self.closed_error())?;
        answer.await.map_err(|_| self.closed_error())
    }

    /// The reason the task gave when it ended (it sets it before dropping pending replies).
    fn closed_error(&self) -> SessionError {
        SessionError::Closed(self.closed.borrow().clone().unwrap_or(SessionClosed {
            code: None,
            reason: "the session task ended".into(),
        }))
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn url(host: &str, port: u16) -> String {
    // An IPv6 literal needs brackets in a URL.
    if host.contains(':') && !host.starts_with('[') {
        format!("ws://[{host}]:{port}")
    } else {
        format!("ws://{host}:{port}")
    }
}

async fn open(config: &SessionConfig) -> Result<RawSession, SessionError> {
    let mut request = url(&config.host, config.port)
        .into_client_request()
        .map_err(|error| SessionError::Connect(error.to_string()))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(JSON_SUBPROTOCOL),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|error| SessionError::Connect(error.to_string()))?;

    let hello = match next_message(&mut socket).await? {
        ServerMessage {
            op: op::HELLO,
            data,
        } => protocol::parse_hello(&data).map_err(SessionError::Handshake)?,
        other => {
            return Err(SessionError::Handshake(format!(
                "expected Hello (op 0), got op {}",
                other.op
            )))
        }
    };
    let identify = protocol::identify(
        &hello,
        config.password.as_ref().map(Secret::expose),
        config.event_subscriptions,
    )
    .ok_or(SessionError::PasswordRequired)?;
    send(&mut socket, identify).await?;
    match next_message(&mut socket).await? {
        ServerMessage {
            op: op::IDENTIFIED, ..
        } => {}
        other => {
            return Err(SessionError::Handshake(format!(
                "expected Identified (op 2), got op {}",
                other.op
            )))
        }
    }

    let (commands, inbox) = mpsc::unbounded_channel();
    let (closed_tx, closed) = watch::channel(None);
    let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
    tokio::spawn(run(socket, inbox, closed_tx, events_tx));
    Ok(RawSession {
        commands,
        closed,
        events: Some(events),
        next_id: AtomicU64::new(1),
        obs_websocket_version: hello.obs_websocket_version,
    })
}

async fn send(socket: &mut Socket, text: String) -> Result<(), SessionError> {
    socket
        .send(Message::Text(text))
        .await
        .map_err(|error| SessionError::Handshake(error.to_string()))
}

/// The next protocol message of the handshake; a close frame becomes `SessionError::Closed`
/// with OBS's code (4009 for a refused password, 4010 for an unsupported RPC version).
async fn next_message(socket: &mut Socket) -> Result<ServerMessage, SessionError> {
    loop {
        let frame = socket
            .next()
            .await
            .ok_or_else(|| SessionError::Handshake("OBS closed the socket".into()))?
            .map_err(|error| SessionError::Handshake(error.to_string()))?;
        match frame {
            Message::Text(text) => {
                return protocol::decode_server_message(&text).map_err(SessionError::Handshake)
            }
            Message::Close(frame) => return Err(SessionError::Closed(close_of(frame))),
            // Pings are answered by tungstenite itself.
            _ => continue,
        }
    }
}

fn close_of(frame: Option<CloseFrame<'_>>) -> SessionClosed {
    match frame {
        Some(frame) => SessionClosed {
            code: Some(u16::from(frame.code)),
            reason: frame.reason.into_owned(),
        },
        None => SessionClosed {
            code: None,
            reason: "OBS closed the socket without a code".into(),
        },
    }
}

/// The pending answers of one session.
#[derive(Default)]
struct Pending {
    requests: HashMap<String, oneshot::Sender<Map<String, Value>>>,
    /// Reidentify answers in the order sent (Identified carries no id).
    reidentify: std::collections::VecDeque<oneshot::Sender<()>>,
}

impl Pending {
    /// Hands a server message to whoever waits for it; events go to `events`.
    fn deliver(&mut self, message: ServerMessage, events: &mpsc::Sender<RawEvent>) {
        match message.op {
            op::REQUEST_RESPONSE | op::REQUEST_BATCH_RESPONSE => {
                let id = message.data.get("requestId").and_then(Value::as_str);
                if let Some(reply) = id.and_then(|id| self.requests.remove(id)) {
                    // The asker may have given up (timeout): nothing to do then.
                    let _ = reply.send(message.data);
                }
            }
            op::IDENTIFIED => {
                if let Some(reply) = self.reidentify.pop_front() {
                    let _ = reply.send(());
                }
            }
            op::EVENT => {
                let event_type = message.data.get("eventType").and_then(Value::as_str);
                if let Some(event_type) = event_type {
                    // Full: dropped (see EVENT_BUFFER); closed: nobody listens.
                    let _ = events.try_send(RawEvent {
                        event_type: event_type.to_owned(),
                        data: message.data.get("eventData").cloned().unwrap_or_default(),
                    });
                }
            }
            _ => {}
        }
    }
}

/// Owns the socket until it ends or every handle is dropped.
async fn run(
    mut socket: Socket,
    mut commands: mpsc::UnboundedReceiver<Command>,
    closed: watch::Sender<Option<SessionClosed>>,
    events: mpsc::Sender<RawEvent>,
) {
    let mut pending = Pending::default();
    let ended = loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Request { id, text, reply }) => {
                    pending.requests.insert(id, reply);
                    if let Err(error) = socket.send(Message::Text(text)).await {
                        break SessionClosed { code: None, reason: error.to_string() };
                    }
                }
                Some(Command::Reidentify { text, reply }) => {
                    pending.reidentify.push_back(reply);
                    if let Err(error) = socket.send(Message::Text(text)).await {
                        break SessionClosed { code: None, reason: error.to_string() };
                    }
                }
                None => {
                    // Every handle is gone: say goodbye properly.
                    let _ = socket
                        .close(Some(CloseFrame {
                            code: CloseCode::Normal,
                            reason: "".into(),
                        }))
                        .await;
                    break SessionClosed {
                        code: None,
                        reason: "closed by the hub".into(),
                    };
                }
            },
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => match protocol::decode_server_message(&text) {
                    Ok(message) => pending.deliver(message, &events),
                    Err(error) => log::debug!("obs session: ignoring a message: {error}"),
                },
                Some(Ok(Message::Close(frame))) => break close_of(frame),
                Some(Ok(_)) => {}
                Some(Err(error)) => break SessionClosed { code: None, reason: error.to_string() },
                None => break SessionClosed {
                    code: None,
                    reason: "the socket ended without a close frame".into(),
                },
            },
        }
    };
    // Published before the pending replies are dropped, so their askers read this reason.
    closed.send_replace(Some(ended));
    drop(pending);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake_obs::{FakeObs, FakeObsConfig};

    fn config(obs: &FakeObs, password: Option<&str>) -> SessionConfig {
        SessionConfig {
            host: "127.0.0.1".into(),
            port: obs.port(),
            password: password.map(Secret::new),
            event_subscriptions: 0,
            connect_timeout: Duration::from_secs(5),
        }
    }

    async fn fake(password: Option<&str>) -> FakeObs {
        FakeObs::start(FakeObsConfig {
            password: password.map(str::to_owned),
            ..FakeObsConfig::default()
        })
        .await
        .expect("fake OBS")
    }

    #[tokio::test]
    async fn identifies_with_the_password_and_passes_requests_and_batches_through() {
        let obs = fake(Some("pw")).await;
        let session = RawSession::connect(config(&obs, Some("pw")))
            .await
            .expect("identified");
        assert_eq!(session.obs_websocket_version(), "5.5.2");

        let version = session.request("GetVersion", None).await.expect("answer");
        assert_eq!(version["requestType"], "GetVersion");
        assert_eq!(version["requestStatus"]["code"], 100);
        assert_eq!(version["responseData"]["obsVersion"], "30.2.3");

        let unknown = session
            .request("NoSuchRequest", None)
            .await
            .expect("answer");
        assert_eq!(unknown["requestStatus"]["result"], false);
        assert_eq!(unknown["requestStatus"]["code"], 204);

        let switch = json!({"sceneName": "Live"});
        let batch = session
            .batch(
                &[
                    json!({"requestType": "SetCurrentProgramScene", "requestData": switch}),
                    json!({"requestType": "GetStats"}),
                ],
                false,
                protocol::execution::SERIAL_REALTIME,
            )
            .await
            .expect("batch answer");
        let results = batch["results"].as_array().expect("results");
        assert_eq!(results.len(), 2);
        assert_eq!(results[1]["requestType"], "GetStats");
        assert_eq!(obs.current_scene(), "Live", "the batch ran in OBS");
        obs.stop().await;
    }

    #[tokio::test]
    async fn a_refused_password_is_close_4009_and_a_missing_one_is_said() {
        let obs = fake(Some("pw")).await;
        match RawSession::connect(config(&obs, Some("wrong"))).await {
            Err(SessionError::Closed(closed)) => {
                assert_eq!(closed.code, Some(close::AUTHENTICATION_FAILED))
            }
            other => panic!("expected a 4009 close, got {:?}", other.map(|_| ())),
        }
        assert!(matches!(
            RawSession::connect(config(&obs, None)).await,
            Err(SessionError::PasswordRequired)
        ));
        assert_eq!(obs.connection_count(), 0);
        obs.stop().await;
    }

    #[tokio::test]
    async fn a_kick_is_seen_with_its_close_code() {
        let obs = fake(None).await;
        let session = RawSession::connect(config(&obs, None))
            .await
            .expect("identified");
        let mut closed = session.closed();
        obs.kick_all().await;
        let ended = closed
            .wait_for(Option::is_some)
            .await
            .expect("the task publishes before it ends")
            .clone()
            .expect("some");
        assert!(ended.is_kick(), "{ended:?}");
        assert_eq!(ended.reason, close::REASON_SESSION_INVALIDATED);
        // A request after the kick fails with the kick, it does not hang.
        match session.request("GetVersion", None).await {
            Err(SessionError::Closed(closed)) => assert!(closed.is_kick()),
            other => panic!("expected the kick, got {other:?}"),
        }
        obs.stop().await;
    }

    #[tokio::test]
    async fn reidentify_changes_the_subscriptions() {
        let obs = fake(None).await;
        let mut session = RawSession::connect(config(&obs, None))
            .await
            .expect("identified");
        let mut events = session.take_events().expect("events");
        session
            .reidentify(protocol::intent::SCENES)
            .await
            .expect("identified again");
        obs.switch_scene_from_obs("BRB").await;
        let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("subscribed: the event arrives")
            .expect("an event");
        assert_eq!(event.event_type, "CurrentProgramSceneChanged");
        assert_eq!(event.data["sceneName"], "BRB");
        obs.stop().await;
    }

    #[tokio::test]
    async fn dropping_the_handle_closes_the_session() {
        let obs = fake(None).await;
        let session = RawSession::connect(config(&obs, None))
            .await
            .expect("identified");
        assert_eq!(obs.connection_count(), 1);
        drop(session);
        // Waits for the change itself: OBS's side of the session going away.
        let gone = async {
            while obs.connection_count() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), gone)
            .await
            .expect("OBS saw the session close");
        obs.stop().await;
    }
}
