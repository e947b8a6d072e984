//! The cached status of one OBS instance, as served by the API and pushed to subscribers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a scene (or input) name that reaches the hub from outside (a command, a callback) is
/// refused, if it is. OBS's own names are taken as they come; but a name posted to the hub with a
/// NUL, a newline or an escape sequence in it would be cached and then shown to every client,
/// written into the history and the logs, and sent on to webhooks: a NUL cuts C strings short,
/// escapes rewrite terminals, newlines forge log lines. No scene needs one.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters (U+0000 to U+001F, U+007F to U+009F)")
    } else {
        None
    }
}

pub use crate::connection_state::ConnectionState;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SceneInfo {
    pub name: String,
    pub uuid: Option<String>,
}

/// Figures of the streaming output. `kbits_per_sec` is derived by the hub from the change in
/// `bytes` between two polls: OBS has no bitrate field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StreamFigures {
    pub active: bool,
    /// Last output state OBS reported: starting, started, stopping, stopped, reconnecting...;
    /// "stopped" for an output that never ran, "" only before the first reading from OBS.
    pub state: String,
    pub reconnecting: bool,
    pub timecode: String,
    pub duration_ms: u64,
    pub bytes: u64,
    pub kbits_per_sec: f64,
    pub skipped_frames: u32,
    pub total_frames: u32,
    pub congestion: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordFigures {
    pub active: bool,
    pub state: String,
    pub paused: bool,
    pub timecode: String,
    pub duration_ms: u64,
    pub bytes: u64,
    /// Path of the last finished recording, as OBS reported it.
    pub output_path: Option<String>,
}

/// OBS's own performance figures (GetStats).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObsStats {
    pub cpu_usage: f64,
    pub memory_usage_mb: f64,
    pub available_disk_space_mb: f64,
    pub active_fps: f64,
    pub average_frame_render_time_ms: f64,
    pub render_skipped_frames: u32,
    pub render_total_frames: u32,
    pub output_skipped_frames: u32,
    pub output_total_frames: u32,
}

/// The connection half of an instance's status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub state: ConnectionState,
    pub last_error: Option<String>,
    /// Failed attempts since the last successful connection.
    pub reconnect_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub connected_since: Option<DateTime<Utc>>,
    pub obs_version: Option<String>,
    pub websocket_version: Option<String>,
}

impl Default for ConnectionInfo {
    fn default() -> Self {
        Self {
            state: ConnectionState::Connecting,
            last_error: None,
            reconnect_attempts: 0,
            next_attempt_at: None,
            connected_since: None,
            obs_version: None,
            websocket_version: None,
        }
    }
}

/// Everything the hub knows about one instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub connection: ConnectionInfo,
    /// True while the link is down: the OBS figures below are the last ones known, not current.
    pub stale: bool,
    pub current_scene: Option<String>,
    pub scenes: Vec<SceneInfo>,
    pub stream: StreamFigures,
    pub record: RecordFigures,
    /// Replay buffer and virtual camera (the outputs capability's slice).
    #[serde(default)]
    pub outputs: super::output_status::OutputsStatus,
    /// Scene items, media inputs, profile and scene collection (the sources capability's slice).
    #[serde(default)]
    pub sources: super::source_status::SourcesStatus,
    /// Studio mode, preview scene, transition (the studio capability's slice).
    #[serde(default)]
    pub studio: super::studio_status::StudioStatus,
    /// Inputs with audio: mute, volume, balance... (the audio capability's slice).
    #[serde(default)]
    pub audio: super::audio_status::AudioStatus,
    pub stats: Option<ObsStats>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_updated: DateTime<Utc>,
    /// Hub-wide sequence number of the last change to this instance.
    pub seq: u64,
    /// In a cluster of hubs: the instance's own sequence number (`instance_seq`) of the last
    /// change this status includes; absent for a hub alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_seq: Option<u64>,
}

impl InstanceStatus {
    pub fn new(name: &str, host: &str, port: u16, now: DateTime<Utc>) -> Self {
        Self {
            name: name.to_string(),
            host: host.to_string(),
            port,
            connection: ConnectionInfo::default(),
            stale: true,
            current_scene: None,
            scenes: Vec::new(),
            stream: StreamFigures::default(),
            record: RecordFigures::default(),
            outputs: Default::default(),
            sources: Default::default(),
            studio: Default::default(),
            audio: Default::default(),
            stats: None,
            last_event_at: None,
            last_poll_at: None,
            last_updated: now,
            seq: 0,
            instance_seq: None,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connection.state == ConnectionState::Connected
    }

    pub fn scene_names(&self) -> Vec<String> {
        self.scenes.iter().map(|s| s.name.clone()).collect()
    }
}

#[cfg(test)]
mod name_tests {
    use super::name_problem;

    #[test]
    fn names_with_control_characters_are_refused_others_taken_as_they_are() {
        for good in [
            "Live",
            "Scène 2 — caméra",
            "  padded  ",
            "emoji 🎥",
            "non\u{a0}breaking",
        ] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
        for empty in ["", "   "] {
            assert_eq!(name_problem(empty), Some("must not be empty"));
        }
        for bad in [
            "Live\0",
            "a\nb",
            "a\rb",
            "\tLive",
            "\u{1b}[2J",
            "del\u{7f}",
            "c1\u{85}",
        ] {
            assert!(
                name_problem(bad).is_some_and(|problem| problem.contains("control")),
                "{bad:?}"
            );
        }
    }
}
