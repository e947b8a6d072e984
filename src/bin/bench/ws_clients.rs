//! A fleet of browser-like WebSocket clients on `/ws` (tokio-tungstenite, on the bench's own
//! runtime, in the bench's process: their CPU is never counted as the hub's).
//!
//! Each client connects, waits for its `snapshot`, then reads until told to stop, noting the
//! arrival instant of every `scene_changed` message before it even parses it.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
};
use tokio_tungstenite::{connect_async_with_config, tungstenite::Message};

/// What one client saw: `(arrival, scene)` of each `scene_changed` (the raw message until
/// [`Fleet::stop`] parses it).
#[derive(Default)]
pub struct ClientLog {
    pub scene_arrivals: Vec<(Instant, String)>,
}

pub enum FleetError {
    /// The hub has no `/ws` (the feature is not in this build): the reason, in words.
    NoWebSocket(String),
    Failed(String),
}

impl From<String> for FleetError {
    fn from(error: String) -> Self {
        FleetError::Failed(error)
    }
}

pub struct Fleet {
    clients: Vec<JoinHandle<ClientLog>>,
    stop: watch::Sender<bool>,
    /// `scene_changed` messages received so far by all clients together.
    arrivals: Arc<AtomicUsize>,
}

/// How many handshakes are in flight at once while the fleet connects.
const CONNECT_CONCURRENCY: usize = 64;

/// Connects `count` clients to `ws://127.0.0.1:port/ws`; returns once every one has its snapshot.
pub async fn connect(port: u16, count: usize) -> Result<Fleet, FleetError> {
    let (stop, stopped) = watch::channel(false);
    let arrivals = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(format!("ws://127.0.0.1:{port}/ws"));
    let counter = Arc::clone(&arrivals);
    let connecting = futures_util::stream::iter(0..count)
        .map(|_| connect_one(Arc::clone(&url), stopped.clone(), Arc::clone(&counter)))
        .buffer_unordered(CONNECT_CONCURRENCY);
    futures_util::pin_mut!(connecting);
    let mut clients = Vec::with_capacity(count);
    while let Some(client) = connecting.next().await {
        match client {
            Ok(handle) => clients.push(handle),
            Err(error) => {
                let _ = stop.send(true);
                for client in clients {
                    client.abort();
                }
                return Err(error);
            }
        }
    }
    Ok(Fleet {
        clients,
        stop,
        arrivals,
    })
}

async fn connect_one(
    url: Arc<String>,
    mut stopped: watch::Receiver<bool>,
    arrivals: Arc<AtomicUsize>,
) -> Result<JoinHandle<ClientLog>, FleetError> {
    let (mut socket, _) = match tokio::time::timeout(
        Duration::from_secs(30),
        connect_async_with_config(url.as_str(), None, true),
    )
    .await
    {
        Err(_) => return Err(format!("WebSocket handshake with {url} timed out").into()),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
            if response.status() == 404 =>
        {
            return Err(FleetError::NoWebSocket(
                "GET /ws answered 404: this build of the hub has no browser WebSocket".to_string(),
            ));
        }
        Ok(Err(error)) => return Err(format!("WebSocket connection to {url}: {error}").into()),
        Ok(Ok(connected)) => connected,
    };
    // The first message is the snapshot: the client is "in" once it has it.
    let (ready, is_ready) = oneshot::channel::<Result<(), String>>();
    let handle = tokio::spawn(async move {
        let mut log = ClientLog::default();
        let mut ready = Some(ready);
        loop {
            let message = tokio::select! {
                message = socket.next() => message,
                _ = stopped.changed() => break,
            };
            let arrived = Instant::now();
            let text = match message {
                Some(Ok(Message::Text(text))) => text,
                // Pings are answered by tungstenite on the next read; nothing else matters.
                Some(Ok(_)) => continue,
                Some(Err(error)) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err(format!("WebSocket read failed: {error}")));
                    }
                    log::warn!("bench WebSocket client: read failed: {error}");
                    return log;
                }
                None => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Err("the hub closed the WebSocket".to_string()));
                    }
                    return log;
                }
            };
            if let Some(ready) = ready.take() {
                let _ = ready.send(if text.contains("\"snapshot\"") {
                    Ok(())
                } else {
                    Err(format!("first message is not a snapshot: {text}"))
                });
                continue;
            }
            if text.contains("\"scene_changed\"") {
                // Kept raw: parsing 5000 messages here would delay the clients read after this
                // one, and that delay would be counted as the hub's. `stop` parses them.
                log.scene_arrivals.push((arrived, text));
                arrivals.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _ = socket.close(None).await;
        log
    });
    match tokio::time::timeout(Duration::from_secs(30), is_ready).await {
        Ok(Ok(Ok(()))) => Ok(handle),
        Ok(Ok(Err(error))) => Err(error.into()),
        Ok(Err(_)) => Err("a WebSocket client ended before its snapshot"
            .to_string()
            .into()),
        Err(_) => {
            handle.abort();
            Err("no snapshot within 30 s of connecting to /ws"
                .to_string()
                .into())
        }
    }
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// `scene_changed` messages received so far, all clients together.
    pub fn arrivals(&self) -> usize {
        self.arrivals.load(Ordering::Relaxed)
    }

    /// Closes every client and returns what each saw.
    pub async fn stop(self) -> Vec<ClientLog> {
        let _ = self.stop.send(true);
        let mut logs = Vec::with_capacity(self.clients.len());
        for client in self.clients {
            let mut log = client.await.unwrap_or_default();
            for (_, text) in &mut log.scene_arrivals {
                let scene = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|value| value["scene"].as_str().map(str::to_string))
                    .unwrap_or_default();
                *text = scene;
            }
            logs.push(log);
        }
        logs
    }
}
