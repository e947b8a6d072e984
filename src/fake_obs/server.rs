//! The network side of the fake: the listener, one task per connection, the session registry
//! events are broadcast through, and the controls behind `FakeObs` (stop, freeze, kick).
//!
//! Every connection owns an unbounded outbox. Broadcasting only pushes into outboxes, so a slow
//! or frozen client never holds up OBS or the other clients; each connection task writes its own
//! socket at its own pace.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::meters;
use super::protocol::{self, close, intent, op, AuthChallenge, CloseReason};
use super::state::{self, FollowUp, ObsEvent, ObsState, Outcome, OUTPUT_TRANSITION_DELAY};

/// A client that opens TCP but never finishes the HTTP upgrade is dropped after this long.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client's close frame after sending ours before dropping the socket.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long stop()/kick_all() wait for sessions to finish closing.
const SESSION_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// The JSON subprotocol; browser clients (obs-websocket-js) insist on hearing it back.
const JSON_SUBPROTOCOL: &str = "obswebsocket.json";

/// Locks a mutex even if a panicking thread poisoned it: the data is plain state that stays
/// consistent between statements, and a test helper must not cascade panics.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the rest of the server can ask a connection task to do.
#[derive(Debug)]
enum Outbound {
    /// Send this text frame.
    Text(String),
    /// Send a close frame, wait briefly for the client's reply, then drop the socket.
    Close(CloseReason),
    /// Drop the socket at once, without a close frame (a killed or hung OBS).
    Abort,
}

/// A connection as the registry sees it.
struct SessionEntry {
    outbox: mpsc::UnboundedSender<Outbound>,
    identified: bool,
    event_subscriptions: u32,
    /// Set right after the spawn; used to cut off sessions that will not close in time.
    task: Option<AbortHandle>,
}

/// Password-related settings read at each Hello.
struct AuthSettings {
    password: Option<String>,
    /// obs-websocket draws one salt per server start; each session gets its own challenge.
    salt: String,
}

/// Everything the listener, the connection tasks and `FakeObs` share.
pub(super) struct Shared {
    pub(super) port: u16,
    pub(super) state: Mutex<ObsState>,
    auth: Mutex<AuthSettings>,
    sessions: Mutex<HashMap<u64, SessionEntry>>,
    sessions_changed: Notify,
    next_session_id: AtomicU64,
    request_counts: Mutex<HashMap<String, usize>>,
    /// Identify messages refused for a wrong or missing password.
    pub(super) refused_logins: AtomicU64,
    frozen: watch::Sender<bool>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// While `Some`, output transitions wait here instead of completing (see
    /// `FakeObs::hold_transitions`).
    held_transitions: Mutex<Option<Vec<FollowUp>>>,
    /// Meter frames sent so far (the next frame's number).
    meter_frames: AtomicU64,
}

/// Binds 127.0.0.1:`port` with SO_REUSEADDR, so a restart can take the port back right away
/// even while closed connections linger in TIME_WAIT.
pub(super) fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(128)
}

impl Shared {
    pub(super) fn new(port: u16, state: ObsState, password: Option<String>) -> Self {
        Shared {
            port,
            state: Mutex::new(state),
            auth: Mutex::new(AuthSettings {
                password,
                salt: protocol::random_token(),
            }),
            sessions: Mutex::new(HashMap::new()),
            sessions_changed: Notify::new(),
            next_session_id: AtomicU64::new(1),
            request_counts: Mutex::new(HashMap::new()),
            refused_logins: AtomicU64::new(0),
            frozen: watch::Sender::new(false),
            listener: Mutex::new(None),
            held_transitions: Mutex::new(None),
            meter_frames: AtomicU64::new(0),
        }
    }

    /// Starts accepting on `listener` in a background task.
    pub(super) fn serve(self: &Arc<Self>, listener: TcpListener) {
        lock(&self.auth).salt = protocol::random_token();
        let handle = tokio::spawn(accept_loop(Arc::clone(self), listener));
        if let Some(previous) = lock(&self.listener).replace(handle) {
            previous.abort();
        }
    }

    pub(super) fn is_listening(&self) -> bool {
        lock(&self.listener).is_some()
    }

    pub(super) fn set_password(&self, password: Option<String>) {
        let mut auth = lock(&self.auth);
        auth.password = password;
        auth.salt = protocol::random_token();
    }

    pub(super) fn set_frozen(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }

    pub(super) fn request_count(&self, request_type: &str) -> usize {
        lock(&self.request_counts)
            .get(request_type)
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn identified_count(&self) -> usize {
        lock(&self.sessions)
            .values()
            .filter(|entry| entry.identified)
            .count()
    }

    /// How many identified sessions are subscribed to the audio meters.
    pub(super) fn meter_subscribers(&self) -> usize {
        lock(&self.sessions)
            .values()
            .filter(|entry| {
                entry.identified && entry.event_subscriptions & intent::INPUT_VOLUME_METERS != 0
            })
            .count()
    }

    /// Sends the next meter frame to the subscribed sessions (none: nothing is computed).
    pub(super) fn send_meter_frame(&self) {
        if self.meter_subscribers() == 0 {
            return;
        }
        let n = self.meter_frames.fetch_add(1, Ordering::Relaxed);
        let frame = meters::frame(lock(&self.state).audio(), n);
        self.broadcast(&[frame]);
    }

    fn count_request(&self, request_type: &str) {
        *lock(&self.request_counts)
            .entry(request_type.to_owned())
            .or_default() += 1;
    }

    /// Sends events to every identified session subscribed to their intent.
    pub(super) fn broadcast(&self, events: &[ObsEvent]) {
        if events.is_empty() {
            return;
        }
        let sessions = lock(&self.sessions);
        for event in events {
            let text = protocol::event(&event.event_type, event.intent, event.data.as_ref());
            for entry in sessions.values() {
                if entry.identified && entry.event_subscriptions & event.intent != 0 {
                    // A send error only means that connection is already going away.
                    let _ = entry.outbox.send(Outbound::Text(text.clone()));
                }
            }
        }
    }

    /// Changes the state through `change` and broadcasts the events it returns while the state
    /// is still locked, so every client sees events in the order the changes happened.
    pub(super) fn change_state<T>(
        &self,
        change: impl FnOnce(&mut ObsState) -> (T, Vec<ObsEvent>),
    ) -> T {
        let mut state = lock(&self.state);
        let (result, events) = change(&mut state);
        self.broadcast(&events);
        result
    }

    /// Completes an output transition after OBS's short delay, in the background.
    pub(super) fn schedule(self: &Arc<Self>, follow_up: FollowUp) {
        if let Some(held) = lock(&self.held_transitions).as_mut() {
            held.push(follow_up);
            return;
        }
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(OUTPUT_TRANSITION_DELAY).await;
            shared.change_state(|state| ((), state.complete(follow_up, Instant::now())));
        });
    }

    pub(super) fn hold_transitions(&self) {
        lock(&self.held_transitions).get_or_insert_with(Vec::new);
    }

    /// Completes the held transitions, in order, and stops holding.
    pub(super) fn release_transitions(&self) {
        let held = lock(&self.held_transitions).take().unwrap_or_default();
        for follow_up in held {
            self.change_state(|state| ((), state.complete(follow_up, Instant::now())));
        }
    }

    /// Runs one request against the state, broadcasting its events and scheduling its
    /// follow-up. Shared by single requests and batches; takes the raw JSON fields.
    fn execute(
        self: &Arc<Self>,
        request_type: &Value,
        request_data: Option<&Value>,
        session_incoming: u64,
        session_outgoing: u64,
    ) -> Outcome {
        let request_type = request_type.as_str().unwrap_or_default();
        self.count_request(request_type);
        let request_data = request_data.filter(|data| !data.is_null());
        if request_data.is_some_and(|data| !data.is_object()) {
            return Outcome::request_data_not_an_object();
        }
        let request = state::Request {
            request_type,
            data: request_data.and_then(Value::as_object),
            session_incoming,
            session_outgoing,
        };
        let outcome = {
            let mut state = lock(&self.state);
            let outcome = state::dispatch(&mut state, request, Instant::now());
            self.broadcast(&outcome.events);
            outcome
        };
        if let Some(follow_up) = outcome.follow_up {
            self.schedule(follow_up);
        }
        outcome
    }

    /// Like OBS quitting: stop listening, send ExitStarted and close every session with 1001.
    /// A frozen OBS cannot say goodbye: its sockets are just dropped.
    pub(super) async fn stop(&self) {
        let listener = lock(&self.listener).take();
        if let Some(listener) = listener {
            listener.abort();
            // Wait for the task so the listening socket is really closed when stop() returns.
            let _ = listener.await;
        }
        let frozen = *self.frozen.borrow();
        {
            let exit_started = protocol::event("ExitStarted", intent::GENERAL, None);
            let sessions = lock(&self.sessions);
            for entry in sessions.values() {
                if frozen {
                    let _ = entry.outbox.send(Outbound::Abort);
                    continue;
                }
                if entry.identified && entry.event_subscriptions & intent::GENERAL != 0 {
                    let _ = entry.outbox.send(Outbound::Text(exit_started.clone()));
                }
                let _ = entry.outbox.send(Outbound::Close(CloseReason {
                    code: close::GOING_AWAY,
                    reason: close::REASON_SERVER_STOPPING.into(),
                }));
            }
        }
        if !self.wait_for_sessions(|_, _| false).await {
            // Whatever did not finish closing in time is cut off.
            for task in lock(&self.sessions)
                .values()
                .filter_map(|entry| entry.task.as_ref())
            {
                task.abort();
            }
            self.wait_for_sessions(|_, _| false).await;
        }
        // The process is gone: whatever froze it is gone with it.
        self.set_frozen(false);
    }

    /// Like the user pressing "Kick" on every session: close code 4011.
    pub(super) async fn kick_all(&self) {
        {
            let sessions = lock(&self.sessions);
            for entry in sessions.values().filter(|entry| entry.identified) {
                let _ = entry.outbox.send(Outbound::Close(CloseReason {
                    code: close::SESSION_INVALIDATED,
                    reason: close::REASON_SESSION_INVALIDATED.into(),
                }));
            }
        }
        self.wait_for_sessions(|_, entry| !entry.identified).await;
    }

    /// Like the user pressing "Kick" on the newest identified session only (the last one in
    /// OBS's list). Returns whether there was one, once it is gone.
    pub(super) async fn kick_newest(&self) -> bool {
        let newest = {
            let sessions = lock(&self.sessions);
            let newest = sessions
                .iter()
                .filter(|(_, entry)| entry.identified)
                .max_by_key(|(id, _)| **id);
            let Some((id, entry)) = newest else {
                return false;
            };
            let _ = entry.outbox.send(Outbound::Close(CloseReason {
                code: close::SESSION_INVALIDATED,
                reason: close::REASON_SESSION_INVALIDATED.into(),
            }));
            *id
        };
        self.wait_for_sessions(|id, _| id != newest).await
    }

    /// Waits until every remaining session satisfies `may_stay`, for at most
    /// [`SESSION_SHUTDOWN_GRACE`]. Returns whether that happened.
    async fn wait_for_sessions(&self, may_stay: impl Fn(u64, &SessionEntry) -> bool) -> bool {
        let all_may_stay = || {
            lock(&self.sessions)
                .iter()
                .all(|(id, entry)| may_stay(*id, entry))
        };
        let deadline = tokio::time::Instant::now() + SESSION_SHUTDOWN_GRACE;
        loop {
            // Register interest before checking, so a change in between is not missed.
            let changed = self.sessions_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if all_may_stay() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return all_may_stay();
            }
        }
    }

    fn register_session(self: &Arc<Self>, tcp: TcpStream) {
        let id = self.next_session_id.fetch_add(1, Ordering::Relaxed);
        let (outbox, inbox) = mpsc::unbounded_channel();
        lock(&self.sessions).insert(
            id,
            SessionEntry {
                outbox: outbox.clone(),
                identified: false,
                event_subscriptions: 0,
                task: None,
            },
        );
        // Made before the spawn so the entry is removed even if the task never runs.
        let registration = Registration {
            shared: Arc::clone(self),
            id,
        };
        let task = tokio::spawn(serve_connection(registration, tcp, outbox, inbox));
        if let Some(entry) = lock(&self.sessions).get_mut(&id) {
            entry.task = Some(task.abort_handle());
        }
    }

    fn mark_identified(&self, id: u64, event_subscriptions: Option<u32>) {
        if let Some(entry) = lock(&self.sessions).get_mut(&id) {
            entry.identified = true;
            if let Some(bits) = event_subscriptions {
                entry.event_subscriptions = bits;
            }
        }
    }
}

/// Accepts connections, and sends the meter frames while listening (OBS's meters stop with it).
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut meters = tokio::time::interval(meters::METER_INTERVAL);
    meters.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = meters.tick() => {
                shared.send_meter_frame();
                continue;
            }
        };
        match accepted {
            Ok((tcp, _peer)) => {
                let _ = tcp.set_nodelay(true);
                shared.register_session(tcp);
            }
            Err(error) => {
                // E.g. out of file descriptors: back off instead of spinning.
                log::warn!("fake OBS: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Removes the session from the registry when its task ends, however it ends (even aborted).
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.shared.sessions).remove(&self.id);
        self.shared.sessions_changed.notify_waiters();
    }
}

/// Answers the upgrade like obs-websocket: picks `obswebsocket.json` when the client offers it.
/// (MessagePack, `obswebsocket.msgpack`, is not spoken by the fake.)
// The large error type is tungstenite's, fixed by its `Callback` trait.
#[allow(clippy::result_large_err)]
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let offers_json = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim() == JSON_SUBPROTOCOL);
    if offers_json {
        response.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(JSON_SUBPROTOCOL),
        );
    }
    Ok(response)
}

/// Waits while OBS is frozen. Returns false if the connection should end instead.
async fn wait_while_frozen(
    frozen: &mut watch::Receiver<bool>,
    inbox: &mut mpsc::UnboundedReceiver<Outbound>,
) -> bool {
    loop {
        if !*frozen.borrow_and_update() {
            return true;
        }
        tokio::select! {
            changed = frozen.changed() => {
                if changed.is_err() {
                    return true;
                }
            }
            // Before the upgrade only a shutdown can arrive here.
            _ = inbox.recv() => return false,
        }
    }
}

async fn serve_connection(
    registration: Registration,
    tcp: TcpStream,
    outbox: mpsc::UnboundedSender<Outbound>,
    mut inbox: mpsc::UnboundedReceiver<Outbound>,
) {
    let shared = Arc::clone(&registration.shared);
    let id = registration.id;
    let mut frozen = shared.frozen.subscribe();

    // A hung OBS does not even answer the HTTP upgrade.
    if !wait_while_frozen(&mut frozen, &mut inbox).await {
        return;
    }
    let upgrade = tokio_tungstenite::accept_hdr_async(tcp, choose_subprotocol);
    let websocket = match tokio::time::timeout(UPGRADE_TIMEOUT, upgrade).await {
        Ok(Ok(websocket)) => websocket,
        Ok(Err(error)) => {
            log::debug!("fake OBS: WebSocket upgrade failed: {error}");
            return;
        }
        Err(_) => return,
    };
    let (sink, stream) = websocket.split();

    let auth = {
        let settings = lock(&shared.auth);
        settings.password.clone().map(|password| {
            let challenge = AuthChallenge {
                salt: settings.salt.clone(),
                challenge: protocol::random_token(),
            };
            (password, challenge)
        })
    };
    let websocket_version = lock(&shared.state).websocket_version.clone();
    let mut connection = Connection {
        shared,
        id,
        sink,
        outbox,
        auth,
        identified: false,
        ignore_invalid_messages: false,
        incoming: 0,
        outgoing: 0,
    };
    let hello = protocol::hello(
        &websocket_version,
        connection.auth.as_ref().map(|(_, challenge)| challenge),
    );
    if connection.write(hello).await.is_err() {
        return;
    }
    connection.run(stream, inbox, frozen).await;
}

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;
type Stream = SplitStream<WebSocketStream<TcpStream>>;

/// Why the connection loop should stop.
enum Ending {
    /// The socket is gone or unusable: just drop it.
    Dropped,
    /// Close with this code and reason.
    Close(CloseReason),
}

/// One step of the connection loop, decided by whichever source is ready first.
enum Step {
    Command(Option<Outbound>),
    FreezeChanged { sender_alive: bool },
    Incoming(Option<Result<Message, tokio_tungstenite::tungstenite::Error>>),
}

/// One WebSocket session after the upgrade.
struct Connection {
    shared: Arc<Shared>,
    id: u64,
    sink: Sink,
    outbox: mpsc::UnboundedSender<Outbound>,
    /// The password and challenge of this session's Hello (`None`: no auth required).
    auth: Option<(String, AuthChallenge)>,
    identified: bool,
    ignore_invalid_messages: bool,
    /// Message counters GetStats reports for this session.
    incoming: u64,
    outgoing: u64,
}

impl Connection {
    async fn run(
        &mut self,
        mut stream: Stream,
        mut inbox: mpsc::UnboundedReceiver<Outbound>,
        mut frozen: watch::Receiver<bool>,
    ) {
        // While frozen, nothing is read or written; outgoing messages wait here.
        let mut held_back: VecDeque<Outbound> = VecDeque::new();
        let mut watching_freeze = true;
        let ending = loop {
            let is_frozen = watching_freeze && *frozen.borrow_and_update();
            if !is_frozen {
                if let Some(ending) = self.flush(&mut held_back).await {
                    break ending;
                }
            }
            // Biased: a freeze that happened before a frame arrived must win over reading it.
            let step = tokio::select! {
                biased;
                changed = frozen.changed(), if watching_freeze => {
                    Step::FreezeChanged { sender_alive: changed.is_ok() }
                }
                command = inbox.recv() => Step::Command(command),
                incoming = stream.next(), if !is_frozen => Step::Incoming(incoming),
            };
            match step {
                Step::Command(None) | Step::Command(Some(Outbound::Abort)) => {
                    break Ending::Dropped
                }
                Step::Command(Some(message)) => {
                    held_back.push_back(message);
                }
                Step::FreezeChanged { sender_alive } => watching_freeze = sender_alive,
                Step::Incoming(None) | Step::Incoming(Some(Err(_))) => break Ending::Dropped,
                Step::Incoming(Some(Ok(message))) => {
                    if let Err(ending) = self.receive(message).await {
                        break ending;
                    }
                }
            }
        };
        if let Ending::Close(reason) = ending {
            self.close(stream, reason).await;
        }
    }

    /// Writes held-back messages in order. Returns an ending if one of them ends the session.
    async fn flush(&mut self, held_back: &mut VecDeque<Outbound>) -> Option<Ending> {
        while let Some(message) = held_back.pop_front() {
            match message {
                Outbound::Text(text) => {
                    if self.write(text).await.is_err() {
                        return Some(Ending::Dropped);
                    }
                }
                Outbound::Close(reason) => return Some(Ending::Close(reason)),
                Outbound::Abort => return Some(Ending::Dropped),
            }
        }
        None
    }

    async fn write(&mut self, text: String) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.sink.send(Message::Text(text)).await?;
        self.outgoing += 1;
        Ok(())
    }

    /// Sends a close frame, waits briefly for the client's answer, then lets the socket drop.
    async fn close(&mut self, mut stream: Stream, reason: CloseReason) {
        log::debug!(
            "fake OBS: closing session {} with {} {}",
            self.id,
            reason.code,
            reason.reason
        );
        let frame = CloseFrame {
            code: CloseCode::from(reason.code),
            reason: reason.reason.into(),
        };
        if self.sink.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        let drain = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, drain).await;
    }

    /// Handles one frame from the client.
    async fn receive(&mut self, message: Message) -> Result<(), Ending> {
        match message {
            Message::Text(text) => {
                self.incoming += 1;
                self.handle_text(&text).await
            }
            Message::Binary(_) => {
                self.incoming += 1;
                Err(Ending::Close(CloseReason {
                    code: close::MESSAGE_DECODE_ERROR,
                    reason: "Your session encoding is set to Json, but a binary message was \
                             received."
                        .into(),
                }))
            }
            // Pings are answered by tungstenite itself; a client Close is answered by it too,
            // and the stream then ends.
            _ => Ok(()),
        }
    }

    /// Rejects an invalid message with `reason`, unless the session asked to ignore them.
    fn invalid(&self, code: u16, reason: &str) -> Result<(), Ending> {
        if self.ignore_invalid_messages {
            Ok(())
        } else {
            Err(Ending::Close(CloseReason {
                code,
                reason: reason.into(),
            }))
        }
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), Ending> {
        let message =
            protocol::decode_client_message(text, self.identified).map_err(Ending::Close)?;
        let data = message.data;
        match message.op {
            op::IDENTIFY => {
                if self.identified {
                    return self.invalid(
                        close::ALREADY_IDENTIFIED,
                        "You are already Identified with the obs-websocket server.",
                    );
                }
                let auth = self
                    .auth
                    .as_ref()
                    .map(|(password, challenge)| (password.as_str(), challenge));
                let parameters = protocol::check_identify(&data, auth).map_err(|refusal| {
                    if refusal.code == close::AUTHENTICATION_FAILED {
                        self.shared.refused_logins.fetch_add(1, Ordering::SeqCst);
                    }
                    Ending::Close(refusal)
                })?;
                self.identified = true;
                self.ignore_invalid_messages = parameters.ignore_invalid_messages.unwrap_or(false);
                let subscriptions = parameters.event_subscriptions.unwrap_or(intent::ALL);
                self.shared.mark_identified(self.id, Some(subscriptions));
                self.write(protocol::identified())
                    .await
                    .map_err(|_| Ending::Dropped)
            }
            op::REIDENTIFY => {
                let parameters =
                    protocol::check_session_parameters(&data).map_err(Ending::Close)?;
                if let Some(ignore) = parameters.ignore_invalid_messages {
                    self.ignore_invalid_messages = ignore;
                }
                self.shared
                    .mark_identified(self.id, parameters.event_subscriptions);
                self.write(protocol::identified())
                    .await
                    .map_err(|_| Ending::Dropped)
            }
            op::REQUEST => self.handle_request(&data).await,
            op::REQUEST_BATCH => self.handle_batch(data),
            // obs-websocket's own wording, stray "%s" included.
            other => self.invalid(
                close::UNKNOWN_OP_CODE,
                &format!("Unknown OpCode: %s{other}"),
            ),
        }
    }

    async fn handle_request(&mut self, data: &Map<String, Value>) -> Result<(), Ending> {
        let Some(request_id) = data.get("requestId") else {
            return self.invalid(
                close::MISSING_DATA_FIELD,
                "Your payload data is missing a `requestId`.",
            );
        };
        let request_type = data.get("requestType").unwrap_or(&Value::Null);
        let outcome = self.shared.execute(
            request_type,
            data.get("requestData"),
            self.incoming,
            self.outgoing,
        );
        let response = protocol::message(
            op::REQUEST_RESPONSE,
            protocol::request_result(
                request_type,
                Some(request_id),
                outcome.code,
                outcome.comment.as_deref(),
                outcome.response_data.as_ref(),
            ),
        );
        match outcome.delay {
            // A delayed answer must not hold up the session: obs-websocket runs requests on a
            // thread pool, so later requests can overtake a Sleep.
            Some(delay) => {
                let outbox = self.outbox.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = outbox.send(Outbound::Text(response));
                });
                Ok(())
            }
            None => self.write(response).await.map_err(|_| Ending::Dropped),
        }
    }

    /// RequestBatch (op 8): runs the requests one after another in a task of its own (a Sleep
    /// inside must not stop this session from reading), then answers with op 9.
    fn handle_batch(&mut self, data: Map<String, Value>) -> Result<(), Ending> {
        let Some(request_id) = data.get("requestId").cloned() else {
            return self.invalid(
                close::MISSING_DATA_FIELD,
                "Your payload data is missing a `requestId`.",
            );
        };
        let requests = match data.get("requests") {
            None => {
                return self.invalid(
                    close::MISSING_DATA_FIELD,
                    "Your payload data is missing a `requests`.",
                )
            }
            Some(Value::Array(requests)) => requests.clone(),
            Some(_) => {
                return self.invalid(
                    close::INVALID_DATA_FIELD_TYPE,
                    "Your `requests` is not an array.",
                )
            }
        };
        match data.get("executionType") {
            None | Some(Value::Null) => {}
            // SerialRealtime 0, SerialFrame 1, Parallel 2; the fake runs all of them serially.
            Some(kind) if matches!(kind.as_u64(), Some(0..=2)) => {}
            Some(kind) if kind.is_number() => {
                return self.invalid(
                    close::INVALID_DATA_FIELD_VALUE,
                    "Your `executionType` has a value which is not recognized.",
                )
            }
            Some(_) => {
                return self.invalid(
                    close::INVALID_DATA_FIELD_TYPE,
                    "Your `executionType` is not a number.",
                )
            }
        }
        let halt_on_failure = data
            .get("haltOnFailure")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let shared = Arc::clone(&self.shared);
        let outbox = self.outbox.clone();
        let (incoming, outgoing) = (self.incoming, self.outgoing);
        tokio::spawn(async move {
            let mut results = Vec::with_capacity(requests.len());
            for request in &requests {
                let empty = Map::new();
                let request = request.as_object().unwrap_or(&empty);
                let request_type = request.get("requestType").unwrap_or(&Value::Null);
                let outcome =
                    shared.execute(request_type, request.get("requestData"), incoming, outgoing);
                if let Some(delay) = outcome.delay {
                    tokio::time::sleep(delay).await;
                }
                results.push(protocol::request_result(
                    request_type,
                    request.get("requestId"),
                    outcome.code,
                    outcome.comment.as_deref(),
                    outcome.response_data.as_ref(),
                ));
                if halt_on_failure && outcome.code != protocol::status::SUCCESS {
                    break;
                }
            }
            let response = protocol::message(
                op::REQUEST_BATCH_RESPONSE,
                json!({ "requestId": request_id, "results": results }),
            );
            let _ = outbox.send(Outbound::Text(response));
        });
        Ok(())
    }
}
