//! Response bodies: what the API shows of the cached status.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::health::PersistenceReport;
use crate::status::{
    model::{ObsStats, RecordFigures, StreamFigures},
    ConnectionState, HubSnapshot, InstanceStatus,
};

/// `GET /api/stream-status/`: the seed's fields (`connected`, `current_scene`, `is_streaming`)
/// and everything else the hub knows.
#[derive(Serialize, ToSchema)]
pub struct StreamStatusView<'a> {
    pub instance: &'a str,
    pub connected: bool,
    pub connection_state: ConnectionState,
    /// True when the figures are the last known before the link dropped.
    pub stale: bool,
    pub current_scene: Option<&'a str>,
    pub is_streaming: bool,
    pub is_recording: bool,
    pub scenes: Vec<&'a str>,
    pub stream: &'a StreamFigures,
    pub record: &'a RecordFigures,
    pub stats: Option<&'a ObsStats>,
    pub last_updated: DateTime<Utc>,
    pub seq: u64,
}

impl<'a> StreamStatusView<'a> {
    pub fn new(status: &'a InstanceStatus) -> Self {
        Self {
            instance: &status.name,
            connected: status.is_connected(),
            connection_state: status.connection.state,
            stale: status.stale,
            current_scene: status.current_scene.as_deref(),
            is_streaming: status.stream.active,
            is_recording: status.record.active,
            scenes: status.scenes.iter().map(|s| s.name.as_str()).collect(),
            stream: &status.stream,
            record: &status.record,
            stats: status.stats.as_ref(),
            last_updated: status.last_updated,
            seq: status.seq,
        }
    }
}

/// One instance in `GET /api/obs-manager/status/`.
#[derive(Serialize, ToSchema)]
pub struct InstanceView<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub connection_state: ConnectionState,
    pub connected: bool,
    pub last_error: Option<&'a str>,
    pub reconnect_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub connected_since: Option<DateTime<Utc>>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub obs_version: Option<&'a str>,
    pub websocket_version: Option<&'a str>,
    pub current_scene: Option<&'a str>,
    pub is_streaming: bool,
    pub is_recording: bool,
}

impl<'a> InstanceView<'a> {
    pub fn new(status: &'a InstanceStatus) -> Self {
        let connection = &status.connection;
        Self {
            name: &status.name,
            host: &status.host,
            port: status.port,
            connection_state: connection.state,
            connected: status.is_connected(),
            last_error: connection.last_error.as_deref(),
            reconnect_attempts: connection.reconnect_attempts,
            next_attempt_at: connection.next_attempt_at,
            connected_since: connection.connected_since,
            last_event_at: status.last_event_at,
            last_poll_at: status.last_poll_at,
            obs_version: connection.obs_version.as_deref(),
            websocket_version: connection.websocket_version.as_deref(),
            current_scene: status.current_scene.as_deref(),
            is_streaming: status.stream.active,
            is_recording: status.record.active,
        }
    }
}

/// `GET /api/obs-manager/status/`.
#[derive(Serialize, ToSchema)]
pub struct ManagerStatusView<'a> {
    pub running: bool,
    pub since: DateTime<Utc>,
    pub seq: u64,
    pub instances: Vec<InstanceView<'a>>,
    /// Whether the history is being written (`ok`), failing and retried (`degraded`) or not
    /// kept (`disabled`), with counters.
    pub persistence: PersistenceReport,
}

impl<'a> ManagerStatusView<'a> {
    /// The whole hub, or only `instance` when one is named.
    pub fn new(
        snapshot: &'a HubSnapshot,
        shown: impl Fn(&str) -> bool,
        persistence: PersistenceReport,
    ) -> Self {
        Self {
            running: snapshot.running,
            since: snapshot.since,
            seq: snapshot.seq,
            instances: snapshot
                .instances
                .values()
                .filter(|status| shown(&status.name))
                .map(|status| InstanceView::new(status))
                .collect(),
            persistence,
        }
    }
}

/// `GET /api/instances/`.
#[derive(Serialize, ToSchema)]
pub struct InstanceList<'a> {
    pub instances: Vec<InstanceView<'a>>,
}

/// Answer of the stream and record commands.
#[derive(Serialize, ToSchema)]
pub struct CommandAnswer<'a> {
    pub ok: bool,
    pub instance: &'a str,
    /// `start-stream`, `stop-stream`, `start-record` or `stop-record`.
    pub action: &'a str,
    /// The finished recording (stop-record only), as OBS reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
}

/// Answer of `POST /api/switch-scene/`.
#[derive(Serialize, ToSchema)]
pub struct SwitchSceneAnswer<'a> {
    pub ok: bool,
    pub instance: &'a str,
    pub current_scene: &'a str,
}

/// Serialised `GET /api/stream-status/` answers, reused until the instance's status changes.
///
/// The status manager replaces an instance's `Arc<InstanceStatus>` on every update (the board
/// always shares it, so `Arc::make_mut` clones), which makes pointer identity the version.
/// Holding the `Arc` here keeps its address from being reused. Serialising once per change
/// instead of once per request is what keeps a cached read close to a static answer.
#[derive(Default)]
pub struct StatusJsonCache {
    entries: std::sync::RwLock<
        std::collections::HashMap<String, (std::sync::Arc<InstanceStatus>, actix_web::web::Bytes)>,
    >,
}

impl StatusJsonCache {
    pub fn render(&self, status: &std::sync::Arc<InstanceStatus>) -> actix_web::web::Bytes {
        if let Ok(entries) = self.entries.read() {
            if let Some((cached, json)) = entries.get(&status.name) {
                if std::sync::Arc::ptr_eq(cached, status) {
                    return json.clone();
                }
            }
        }
        let json = actix_web::web::Bytes::from(
            serde_json::to_vec(&StreamStatusView::new(status)).unwrap_or_default(),
        );
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(
                status.name.clone(),
                (std::sync::Arc::clone(status), json.clone()),
            );
        }
        json
    }
}
