//! A webhook receiver for tests: a small actix-web server that verifies every delivery's
//! Standard Webhooks signature with `signing::verify` and records what it got.

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
};

use actix_web::{dev::ServerHandle, web, App, HttpRequest, HttpResponse, HttpServer};
use obs_hub::{config::Secret, webhooks::signing};

use super::ClosedPort;
use serde_json::Value;
use tokio::sync::watch;

/// One delivery as received (signature verified).
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub event_type: String,
    pub body: Value,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Requests whose signature did not verify (or had none).
    bad_signatures: usize,
    /// Answer this status instead of 204 while set (e.g. 410, 503).
    answer: Option<u16>,
    key: Vec<u8>,
    /// Requests waiting at the gate now (a slow receiver: see [`Receiver::hold`]).
    held: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    state: Arc<Mutex<State>>,
    server: Arc<Mutex<Option<ServerHandle>>>,
    /// Open (true) lets requests through; closed, they wait until it opens.
    gate: Arc<watch::Sender<bool>>,
    /// The port, held and refusing connections until [`Receiver::start`] listens on it.
    held: Arc<Mutex<Option<ClosedPort>>>,
}

/// A port nothing listens on, found by binding and closing a listener: only for a hub that must
/// know its own port before it starts (endpoints stored in its database name it), since the hub
/// binds its address itself. Anything else holds its port: [`super::ClosedPort`], [`Receiver`].
pub fn reserve_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
    gate: web::Data<watch::Receiver<bool>>,
) -> HttpResponse {
    let mut gate = gate.get_ref().clone();
    if !*gate.borrow() {
        state.lock().unwrap().held += 1;
        let _ = gate.wait_for(|open| *open).await;
        state.lock().unwrap().held -= 1;
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let mut state = state.lock().unwrap();
    let verified = signing::verify(
        &state.key,
        header("webhook-id").as_deref(),
        header("webhook-timestamp").as_deref(),
        header("webhook-signature").as_deref(),
        &body,
        chrono::Utc::now().timestamp(),
    );
    if verified.is_err() || header("content-type").as_deref() != Some("application/json") {
        state.bad_signatures += 1;
        return HttpResponse::Unauthorized().finish();
    }
    if let Some(status) = state.answer {
        // A redirect points back here: a client that followed it would loop.
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .insert_header(("location", "/hooks"))
            .body("not now");
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.received.push(Received {
        id: header("webhook-id").unwrap_or_default(),
        event_type: body["type"].as_str().unwrap_or_default().to_string(),
        body,
    });
    HttpResponse::NoContent().finish()
}

impl Receiver {
    /// A receiver not started yet: its port refuses connections (a receiver that is down).
    pub fn new() -> Self {
        let held = ClosedPort::new();
        Self {
            port: held.port,
            state: Arc::default(),
            server: Arc::default(),
            gate: Arc::new(watch::channel(true).0),
            held: Arc::new(Mutex::new(Some(held))),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    /// The key deliveries are verified with (set once the endpoint's secret is known).
    pub fn set_secret(&self, secret: &str) {
        self.state.lock().unwrap().key =
            signing::key_bytes(&Secret::new(secret)).expect("a Standard Webhooks secret");
    }

    pub fn answer_with(&self, status: Option<u16>) {
        self.state.lock().unwrap().answer = status;
    }

    /// From now on, requests wait (connection open, no answer) until [`Receiver::release`].
    pub fn hold(&self) {
        self.gate.send_replace(false);
    }

    /// Lets the held requests (and the next ones) through.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    /// Requests waiting for [`Receiver::release`] now.
    pub fn held(&self) -> usize {
        self.state.lock().unwrap().held
    }

    /// Starts listening (inside an actix System).
    pub fn start(&self) {
        let state = web::Data::new(self.state.clone());
        let gate = web::Data::new(self.gate.subscribe());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(gate.clone())
                .route("/hooks", web::post().to(receive))
        })
        .workers(1);
        let server = match self.held.lock().unwrap().take() {
            Some(held) => server.listen(held.listen()),
            // Started again after a stop: its port was ours until then.
            None => server.bind(("127.0.0.1", self.port)),
        }
        .expect("the receiver listens on its port")
        .run();
        *self.server.lock().unwrap() = Some(server.handle());
        actix_web::rt::spawn(server);
    }

    pub async fn stop(&self) {
        let handle = self.server.lock().unwrap().take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn of_type(&self, event_type: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event_type == event_type)
            .collect()
    }

    pub fn bad_signatures(&self) -> usize {
        self.state.lock().unwrap().bad_signatures
    }
}
