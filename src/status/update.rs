//! How what the hub learns about OBS turns into cached status and change notifications.
//!
//! [`apply`] is the whole status logic: a plain function from (status, update) to the list of
//! changes that really happened. The actor around it only routes messages, so this file is where
//! the rules live and where they are tested.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::audio_status::{self, AudioChange, AudioInput, AudioUpdate};
use super::kinds::{self, ChangeKind};
use super::model::{
    ConnectionState, InstanceStatus, ObsStats, RecordFigures, SceneInfo, StreamFigures,
};
use super::output_status::{self, OutputChange, OutputUpdate, SideReading};
use super::scene_status;
use super::source_status::{self, SceneItem, SourceChange, SourceUpdate};
use super::studio_status::{self, StudioReading, StudioStatus, StudioUpdate};

/// Where a piece of information came from (kept with every change; history and webhooks use it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// An event pushed by OBS.
    ObsEvent,
    /// The periodic reconciliation poll.
    Poll,
    /// The connection machinery (connect, disconnect, full re-read after a reconnect).
    Connection,
    /// A command sent through the hub's API.
    Api,
    /// A notification posted to the hub's callback endpoint (webhooks).
    Callback,
}

/// What the connection machinery reports about the link itself.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionReport {
    pub state: ConnectionState,
    pub error: Option<String>,
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// (OBS Studio version, obs-websocket version), known once connected.
    pub versions: Option<(String, String)>,
}

/// Stream output figures as read from OBS (GetStreamStatus).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamReading {
    pub active: bool,
    pub reconnecting: bool,
    pub timecode: String,
    pub duration_ms: u64,
    pub bytes: u64,
    pub skipped_frames: u32,
    pub total_frames: u32,
    pub congestion: f64,
}

/// Record output figures as read from OBS (GetRecordStatus).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordReading {
    pub active: bool,
    pub paused: bool,
    pub timecode: String,
    pub duration_ms: u64,
    pub bytes: u64,
}

/// The periodic reconciliation read: everything events could have missed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollReading {
    pub current_scene: Option<String>,
    pub stream: StreamReading,
    pub record: RecordReading,
    /// Replay buffer and virtual camera.
    pub side: SideReading,
    /// Studio mode, preview scene, transition.
    pub studio: StudioReading,
    pub stats: ObsStats,
    /// The inputs with audio: read after connecting only (None in the periodic poll).
    pub audio: Option<Vec<AudioInput>>,
    /// Scene items read with the audio after connecting (the program and preview scenes' trees,
    /// for the inputs' `in_program`/`in_preview`); empty in the periodic poll.
    pub scene_items: Vec<(String, Vec<SceneItem>)>,
}

/// Something learnt about one instance.
#[derive(Clone, Debug, PartialEq)]
pub enum ObsUpdate {
    Connection(ConnectionReport),
    /// Full state read after (re)connecting: replaces everything cached.
    Snapshot {
        scenes: Vec<SceneInfo>,
        reading: PollReading,
    },
    Poll(PollReading),
    ProgramScene(String),
    /// The full scene list, in OBS's UI order (from a sync).
    SceneList(Vec<SceneInfo>),
    SceneCreated(SceneInfo),
    SceneRemoved(String),
    SceneRenamed {
        old: String,
        new: String,
    },
    StreamState {
        active: bool,
        state: String,
    },
    RecordState {
        active: bool,
        state: String,
        output_path: Option<String>,
    },
    /// Replay buffer, virtual camera, replay saved, recording split (the outputs capability).
    Output(OutputUpdate),
    /// Scene items, media inputs, filters, profile, scene collection (the sources capability).
    Source(SourceUpdate),
    /// Studio mode, preview scene, transitions (the studio capability).
    Studio(StudioUpdate),
    /// Mute, volume, balance... of inputs with audio (the audio capability).
    Audio(AudioUpdate),
}

/// A change subscribers are told about. Shared behind an `Arc` once made, so the size of the
/// stats variant costs nothing per subscriber.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    SceneChanged {
        scene: String,
        previous: Option<String>,
    },
    StreamingChanged {
        is_streaming: bool,
        state: String,
    },
    RecordingChanged {
        is_recording: bool,
        state: String,
        output_path: Option<String>,
    },
    ConnectionChanged {
        state: ConnectionState,
        connected: bool,
        error: Option<String>,
    },
    SceneListChanged {
        /// The names, in OBS's order.
        scenes: Vec<String>,
        /// The same scenes with their uuids, so that no consumer (the scenes table) has to
        /// read the status board behind the change. Absent from history rows written before.
        #[serde(default)]
        scene_details: Vec<SceneInfo>,
    },
    StatsUpdated {
        stats: Option<ObsStats>,
        stream: StreamFigures,
        record: RecordFigures,
    },
    /// Replay buffer and virtual camera states, replays saved, recordings split.
    OutputChanged(OutputChange),
    /// Scene item shown/hidden/locked, media state, filter, profile, scene collection.
    SourceChanged(SourceChange),
    /// Studio mode, preview scene or transition: the studio slice after the change.
    StudioChanged(StudioStatus),
    /// One input's mute, settled volume, balance...: the input after the change.
    AudioChanged(AudioChange),
    /// The instance was added, changed or removed through the API (`status::fleet_status`).
    InstanceChanged(super::fleet_status::InstanceChange),
}

impl Change {
    /// The descriptor of this change's kind (see `status::kinds`).
    pub fn descriptor(&self) -> &'static ChangeKind {
        match self {
            Self::SceneChanged { .. } => &scene_status::SCENE_CHANGED,
            Self::StreamingChanged { .. } => &output_status::STREAMING_CHANGED,
            Self::RecordingChanged { .. } => &output_status::RECORDING_CHANGED,
            Self::ConnectionChanged { .. } => &kinds::CONNECTION_CHANGED,
            Self::SceneListChanged { .. } => &scene_status::SCENE_LIST_CHANGED,
            Self::StatsUpdated { .. } => &output_status::STATS_UPDATED,
            Self::OutputChanged(_) => &output_status::OUTPUT_CHANGED,
            Self::SourceChanged(_) => &source_status::SOURCE_CHANGED,
            Self::StudioChanged(_) => &studio_status::STUDIO_CHANGED,
            Self::AudioChanged(_) => &audio_status::AUDIO_CHANGED,
            Self::InstanceChanged(_) => &super::fleet_status::INSTANCE_CHANGED,
        }
    }

    /// Stable name of the change kind (event history, webhook types, filters).
    pub fn kind(&self) -> &'static str {
        self.descriptor().name
    }
}

/// Applies one update to the cached status and returns what really changed (often nothing).
pub fn apply(status: &mut InstanceStatus, update: ObsUpdate, now: DateTime<Utc>) -> Vec<Change> {
    let mut changes = Vec::new();
    match update {
        ObsUpdate::Connection(report) => apply_connection(status, report, now, &mut changes),
        ObsUpdate::Snapshot { scenes, reading } => {
            set_scene_list(status, scenes, &mut changes);
            apply_reading(status, reading, now, &mut changes);
            status.stale = false;
        }
        ObsUpdate::Poll(reading) => apply_reading(status, reading, now, &mut changes),
        ObsUpdate::ProgramScene(scene) => set_current_scene(status, Some(scene), &mut changes),
        ObsUpdate::SceneList(scenes) => set_scene_list(status, scenes, &mut changes),
        ObsUpdate::SceneCreated(scene) => {
            if !status.scenes.iter().any(|s| s.name == scene.name) {
                // OBS adds new scenes at the top of its list.
                status.scenes.insert(0, scene);
                changes.push(scene_list_change(status));
            }
        }
        ObsUpdate::SceneRemoved(name) => {
            let before = status.scenes.len();
            status.scenes.retain(|s| s.name != name);
            if status.scenes.len() != before {
                changes.push(scene_list_change(status));
            }
        }
        ObsUpdate::SceneRenamed { old, new } => {
            if let Some(scene) = status.scenes.iter_mut().find(|s| s.name == old) {
                scene.name = new.clone();
                changes.push(scene_list_change(status));
            }
            if let Some(slice) = studio_status::rename_scene(&mut status.studio, &old, &new) {
                changes.push(Change::StudioChanged(slice));
            }
            if status.current_scene.as_deref() == Some(old.as_str()) {
                set_current_scene(status, Some(new), &mut changes);
            }
        }
        ObsUpdate::StreamState { active, state } => {
            if status.stream.active != active || status.stream.state != state {
                status.stream.active = active;
                status.stream.state = state.clone();
                if !active {
                    status.stream.kbits_per_sec = 0.0;
                }
                changes.push(Change::StreamingChanged {
                    is_streaming: active,
                    state,
                });
            }
        }
        ObsUpdate::RecordState {
            active,
            state,
            output_path,
        } => {
            if output_path.is_some() {
                status.record.output_path = output_path.clone();
            }
            match state.as_str() {
                "paused" => status.record.paused = true,
                "resumed" | "stopped" => status.record.paused = false,
                _ => {}
            }
            if status.record.active != active || status.record.state != state {
                status.record.active = active;
                status.record.state = state.clone();
                changes.push(Change::RecordingChanged {
                    is_recording: active,
                    state,
                    output_path: status.record.output_path.clone(),
                });
            }
        }
        ObsUpdate::Output(update) => changes
            .extend(output_status::apply(&mut status.outputs, update).map(Change::OutputChanged)),
        ObsUpdate::Source(update) => changes.extend(
            source_status::apply(&mut status.sources, update)
                .into_iter()
                .map(Change::SourceChanged),
        ),
        ObsUpdate::Studio(update) => changes
            .extend(studio_status::apply(&mut status.studio, update).map(Change::StudioChanged)),
        ObsUpdate::Audio(update) => {
            if let AudioUpdate::Renamed { old, new } = &update {
                source_status::rename_source(&mut status.sources, old, new);
            }
            changes.extend(
                audio_status::apply(&mut status.audio, update)
                    .into_iter()
                    .map(Change::AudioChanged),
            )
        }
    }
    // Scenes, items, studio mode or inputs may have moved an input in or out of program.
    changes.extend(
        audio_status::place(
            &mut status.audio,
            &status.sources,
            status.current_scene.as_deref(),
            &status.studio,
        )
        .into_iter()
        .map(Change::AudioChanged),
    );
    if !changes.is_empty() {
        status.last_updated = now;
    }
    changes
}

fn apply_connection(
    status: &mut InstanceStatus,
    report: ConnectionReport,
    now: DateTime<Utc>,
    changes: &mut Vec<Change>,
) {
    let info = &mut status.connection;
    let state_changed = info.state != report.state;
    let error_changed = info.last_error != report.error;
    if report.state == ConnectionState::Connected {
        if state_changed {
            info.connected_since = Some(now);
        }
        if let Some((obs, websocket)) = report.versions {
            info.obs_version = Some(obs);
            info.websocket_version = Some(websocket);
        }
    } else {
        info.connected_since = None;
        // Until a fresh read after the next connection, what we hold is history.
        status.stale = true;
        status.stream.kbits_per_sec = 0.0;
    }
    info.state = report.state;
    info.last_error = report.error.clone();
    info.reconnect_attempts = report.attempts;
    info.next_attempt_at = report.next_attempt_at;
    if state_changed || error_changed {
        changes.push(Change::ConnectionChanged {
            state: report.state,
            connected: report.state == ConnectionState::Connected,
            error: report.error,
        });
    }
}

fn apply_reading(
    status: &mut InstanceStatus,
    reading: PollReading,
    now: DateTime<Utc>,
    changes: &mut Vec<Change>,
) {
    status.last_poll_at = Some(now);
    if reading.current_scene.is_some() {
        set_current_scene(status, reading.current_scene, changes);
    }

    let stream = &reading.stream;
    let kbits_per_sec = bitrate_kbps(&status.stream, stream);
    let stream_active =
        match reconcile_active(status.stream.active, &status.stream.state, stream.active) {
            Some(active) => {
                let state = if active { "started" } else { "stopped" };
                status.stream.state = state.to_string();
                changes.push(Change::StreamingChanged {
                    is_streaming: active,
                    state: state.to_string(),
                });
                active
            }
            None => status.stream.active,
        };
    let record = &reading.record;
    let record_active =
        match reconcile_active(status.record.active, &status.record.state, record.active) {
            Some(active) => {
                let state = if active { "started" } else { "stopped" };
                status.record.state = state.to_string();
                changes.push(Change::RecordingChanged {
                    is_recording: active,
                    state: state.to_string(),
                    output_path: status.record.output_path.clone(),
                });
                active
            }
            None => status.record.active,
        };

    // An output that never ran since OBS started has no state event yet: the reading says it is
    // idle, so the state is "stopped" rather than an empty string (issue 18 item 3).
    for (state, active) in [
        (&mut status.stream.state, stream_active),
        (&mut status.record.state, record_active),
    ] {
        if state.is_empty() {
            *state = if active { "started" } else { "stopped" }.to_string();
        }
    }

    let new_stream = StreamFigures {
        active: stream_active,
        state: status.stream.state.clone(),
        reconnecting: stream.reconnecting,
        timecode: stream.timecode.clone(),
        duration_ms: stream.duration_ms,
        bytes: stream.bytes,
        kbits_per_sec,
        skipped_frames: stream.skipped_frames,
        total_frames: stream.total_frames,
        congestion: stream.congestion,
    };
    let new_record = RecordFigures {
        active: record_active,
        state: status.record.state.clone(),
        paused: record.paused,
        timecode: record.timecode.clone(),
        duration_ms: record.duration_ms,
        bytes: record.bytes,
        output_path: status.record.output_path.clone(),
    };
    changes.extend(
        output_status::apply_reading(&mut status.outputs, &reading.side)
            .into_iter()
            .map(Change::OutputChanged),
    );
    changes.extend(
        studio_status::apply(&mut status.studio, StudioUpdate::Reading(reading.studio))
            .map(Change::StudioChanged),
    );
    if !reading.scene_items.is_empty() {
        source_status::apply(
            &mut status.sources,
            SourceUpdate::Items(reading.scene_items),
        );
    }
    if let Some(inputs) = reading.audio {
        changes.extend(
            audio_status::apply(&mut status.audio, AudioUpdate::Reading(inputs))
                .into_iter()
                .map(Change::AudioChanged),
        );
    }
    let new_stats = Some(reading.stats);
    if new_stream != status.stream || new_record != status.record || new_stats != status.stats {
        status.stream = new_stream;
        status.record = new_record;
        status.stats = new_stats;
        changes.push(Change::StatsUpdated {
            stats: status.stats.clone(),
            stream: status.stream.clone(),
            record: status.record.clone(),
        });
    }
}

/// Whether a poll's "output active" should override the cached one: `Some(new)` when it should.
///
/// OBS reports `outputActive: false` in the STOPPING event while GetStreamStatus still says
/// active until the output has really stopped (and the reverse around STARTING). A poll in that
/// window is not news: the event that ends the transition will come. Outside transitions the
/// poll wins, which is how a missed event gets repaired.
pub fn reconcile_active(
    cached_active: bool,
    cached_state: &str,
    polled_active: bool,
) -> Option<bool> {
    let in_transition = match cached_state {
        "stopping" => polled_active,
        "starting" => !polled_active,
        _ => false,
    };
    (polled_active != cached_active && !in_transition).then_some(polled_active)
}

/// Stream bitrate in kbit/s, from the change in output bytes over OBS's own output duration
/// (immune to when the hub happened to poll). Bits per millisecond equal kbit/s.
pub fn bitrate_kbps(previous: &StreamFigures, now: &StreamReading) -> f64 {
    if !now.active || now.duration_ms == 0 {
        return 0.0;
    }
    let same_session =
        previous.active && now.bytes >= previous.bytes && now.duration_ms >= previous.duration_ms;
    if !same_session {
        // First reading of a session: the average since it started is the best we know.
        return now.bytes as f64 * 8.0 / now.duration_ms as f64;
    }
    let elapsed_ms = now.duration_ms - previous.duration_ms;
    if elapsed_ms == 0 {
        return previous.kbits_per_sec;
    }
    (now.bytes - previous.bytes) as f64 * 8.0 / elapsed_ms as f64
}

fn set_current_scene(
    status: &mut InstanceStatus,
    scene: Option<String>,
    changes: &mut Vec<Change>,
) {
    if status.current_scene == scene {
        return;
    }
    let previous = std::mem::replace(&mut status.current_scene, scene.clone());
    if let Some(scene) = scene {
        changes.push(Change::SceneChanged { scene, previous });
    }
}

fn set_scene_list(status: &mut InstanceStatus, scenes: Vec<SceneInfo>, changes: &mut Vec<Change>) {
    if status.scenes != scenes {
        status.scenes = scenes;
        changes.push(scene_list_change(status));
    }
}

fn scene_list_change(status: &InstanceStatus) -> Change {
    Change::SceneListChanged {
        scenes: status.scene_names(),
        scene_details: status.scenes.clone(),
    }
}

/// Why a callback (another hub's word about an instance) is not applied, or None when it is.
///
/// `linked` says whether this hub has a link of its own to the instance (it is configured
/// here). Then OBS's own word wins: nothing from a callback is applied while the link is up,
/// and the link's state is never taken from a callback. While the link is down, scene and
/// output callbacks fill the cache in (marked as coming from a callback) until the next read
/// from OBS replaces them. An instance this hub has no link to follows its callbacks entirely.
pub fn callback_overruled(
    linked: bool,
    status: &InstanceStatus,
    update: &ObsUpdate,
) -> Option<&'static str> {
    if !linked {
        return None;
    }
    if matches!(update, ObsUpdate::Connection(_)) {
        return Some(
            "this hub has its own link to the instance: its connection state is the link's",
        );
    }
    if status.is_connected() {
        return Some("this hub is connected to the instance: what OBS itself says wins");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn connected(status: &mut InstanceStatus) {
        apply(
            status,
            ObsUpdate::Connection(ConnectionReport {
                state: ConnectionState::Connected,
                error: None,
                attempts: 0,
                next_attempt_at: None,
                versions: Some(("30.2.3".into(), "5.5.2".into())),
            }),
            now(),
        );
    }

    fn scene(name: &str) -> SceneInfo {
        SceneInfo {
            name: name.into(),
            uuid: None,
        }
    }

    fn fresh() -> InstanceStatus {
        InstanceStatus::new("default", "127.0.0.1", 4455, now())
    }

    #[test]
    fn an_input_stays_in_program_through_a_rename_and_leaves_it_with_a_switch() {
        let mut status = fresh();
        connected(&mut status);
        let mic = AudioInput {
            name: "Mic".into(),
            ..AudioInput::default()
        };
        let item = SceneItem {
            id: 1,
            source_name: "Mic".into(),
            kind: "pulse_input_capture".into(),
            enabled: true,
            locked: false,
            index: 0,
        };
        let reading = PollReading {
            current_scene: Some("Main".into()),
            audio: Some(vec![mic]),
            scene_items: vec![("Main".into(), vec![item]), ("BRB".into(), Vec::new())],
            ..PollReading::default()
        };
        let scenes = vec![scene("Main"), scene("BRB")];
        apply(&mut status, ObsUpdate::Snapshot { scenes, reading }, now());
        assert_eq!(status.audio.inputs[0].in_program, Some(true));

        let renamed = AudioUpdate::Renamed {
            old: "Mic".into(),
            new: "Voice".into(),
        };
        let changes = apply(&mut status, ObsUpdate::Audio(renamed), now());
        assert_eq!(changes.len(), 1, "the rename only: {changes:?}");
        assert_eq!(status.audio.inputs[0].in_program, Some(true));

        let changes = apply(&mut status, ObsUpdate::ProgramScene("BRB".into()), now());
        let moved = changes.iter().find_map(|change| match change {
            Change::AudioChanged(change) => Some(change),
            _ => None,
        });
        assert_eq!(moved.map(|change| change.what.as_str()), Some("scenes"));
        assert_eq!(status.audio.inputs[0].in_program, Some(false));
    }

    #[test]
    fn outputs_that_never_ran_read_stopped_not_empty() {
        let mut status = fresh();
        connected(&mut status);
        apply(
            &mut status,
            ObsUpdate::Snapshot {
                scenes: vec![scene("Main")],
                reading: PollReading::default(),
            },
            now(),
        );
        assert_eq!(status.stream.state, "stopped");
        assert_eq!(status.record.state, "stopped");
    }

    #[test]
    fn snapshot_fills_everything_and_clears_stale() {
        let mut status = fresh();
        connected(&mut status);
        assert!(status.stale);
        let changes = apply(
            &mut status,
            ObsUpdate::Snapshot {
                scenes: vec![scene("A"), scene("B")],
                reading: PollReading {
                    current_scene: Some("B".into()),
                    ..PollReading::default()
                },
            },
            now(),
        );
        assert!(!status.stale);
        assert_eq!(status.current_scene.as_deref(), Some("B"));
        let kinds: Vec<_> = changes.iter().map(Change::kind).collect();
        assert_eq!(
            kinds,
            ["scene_list_changed", "scene_changed", "stats_updated"]
        );
    }

    #[test]
    fn repeated_information_is_not_a_change() {
        let mut status = fresh();
        assert_eq!(
            apply(&mut status, ObsUpdate::ProgramScene("A".into()), now()).len(),
            1
        );
        assert!(apply(&mut status, ObsUpdate::ProgramScene("A".into()), now()).is_empty());
        let stopped = ObsUpdate::StreamState {
            active: false,
            state: "stopped".into(),
        };
        // OBS can send StreamStateChanged STOPPED twice.
        assert_eq!(apply(&mut status, stopped.clone(), now()).len(), 1);
        assert!(apply(&mut status, stopped, now()).is_empty());
        let poll = ObsUpdate::Poll(PollReading {
            current_scene: Some("A".into()),
            ..PollReading::default()
        });
        assert_eq!(apply(&mut status, poll.clone(), now()).len(), 1);
        assert!(apply(&mut status, poll, now()).is_empty());
    }

    #[test]
    fn connection_loss_marks_status_stale_and_is_one_change() {
        let mut status = fresh();
        connected(&mut status);
        apply(
            &mut status,
            ObsUpdate::Snapshot {
                scenes: vec![scene("A")],
                reading: PollReading::default(),
            },
            now(),
        );
        let lost = ConnectionReport {
            state: ConnectionState::Reconnecting,
            error: Some("connection refused".into()),
            attempts: 1,
            next_attempt_at: Some(now()),
            versions: None,
        };
        let changes = apply(&mut status, ObsUpdate::Connection(lost.clone()), now());
        assert_eq!(changes.len(), 1);
        assert!(status.stale);
        assert_eq!(status.connection.connected_since, None);
        // Another failed attempt with the same error only updates the counters.
        let again = ConnectionReport {
            attempts: 2,
            ..lost
        };
        assert!(apply(&mut status, ObsUpdate::Connection(again), now()).is_empty());
        assert_eq!(status.connection.reconnect_attempts, 2);
    }

    #[test]
    fn scene_list_follows_create_rename_remove() {
        let mut status = fresh();
        apply(&mut status, ObsUpdate::SceneList(vec![scene("A")]), now());
        apply(&mut status, ObsUpdate::ProgramScene("A".into()), now());
        apply(&mut status, ObsUpdate::SceneCreated(scene("B")), now());
        assert_eq!(status.scene_names(), ["B", "A"]);
        let changes = apply(
            &mut status,
            ObsUpdate::SceneRenamed {
                old: "A".into(),
                new: "Main".into(),
            },
            now(),
        );
        assert_eq!(status.scene_names(), ["B", "Main"]);
        assert_eq!(status.current_scene.as_deref(), Some("Main"));
        assert_eq!(changes.len(), 2);
        apply(&mut status, ObsUpdate::SceneRemoved("B".into()), now());
        assert_eq!(status.scene_names(), ["Main"]);
        assert!(apply(&mut status, ObsUpdate::SceneRemoved("B".into()), now()).is_empty());
    }

    #[test]
    fn bitrate_comes_from_byte_delta_over_obs_duration() {
        let previous = StreamFigures {
            active: true,
            bytes: 1_000_000,
            duration_ms: 10_000,
            ..StreamFigures::default()
        };
        let now = StreamReading {
            active: true,
            bytes: 1_000_000 + 750_000,
            duration_ms: 11_000,
            ..StreamReading::default()
        };
        // 750 000 bytes in one second = 6 000 kbit/s.
        assert_eq!(bitrate_kbps(&previous, &now), 6000.0);
    }

    #[test]
    fn bitrate_of_a_new_session_is_its_average_and_zero_when_stopped() {
        let idle = StreamFigures::default();
        let first = StreamReading {
            active: true,
            bytes: 500_000,
            duration_ms: 2_000,
            ..StreamReading::default()
        };
        assert_eq!(bitrate_kbps(&idle, &first), 2000.0);
        let restarted_previous = StreamFigures {
            active: true,
            bytes: 9_000_000,
            duration_ms: 60_000,
            ..StreamFigures::default()
        };
        assert_eq!(bitrate_kbps(&restarted_previous, &first), 2000.0);
        let stopped = StreamReading::default();
        assert_eq!(bitrate_kbps(&restarted_previous, &stopped), 0.0);
    }

    #[test]
    fn a_poll_during_stopping_does_not_flip_the_state_back() {
        let mut status = fresh();
        let event = |active: bool, state: &str| ObsUpdate::StreamState {
            active,
            state: state.into(),
        };
        apply(&mut status, event(true, "started"), now());
        // Real OBS: STOPPING carries outputActive=false while GetStreamStatus still says active.
        apply(&mut status, event(false, "stopping"), now());
        let still_active = ObsUpdate::Poll(PollReading {
            stream: StreamReading {
                active: true,
                bytes: 10,
                duration_ms: 10,
                ..StreamReading::default()
            },
            ..PollReading::default()
        });
        let changes = apply(&mut status, still_active, now());
        assert!(changes
            .iter()
            .all(|c| !matches!(c, Change::StreamingChanged { .. })));
        assert!(!status.stream.active);
        assert_eq!(status.stream.state, "stopping");
        assert_eq!(reconcile_active(false, "stopped", true), Some(true));
        assert_eq!(reconcile_active(true, "started", false), Some(false));
        assert_eq!(reconcile_active(false, "starting", false), None);
    }

    #[test]
    fn callbacks_fill_in_only_where_obs_cannot_speak() {
        let mut status = fresh();
        let scene = ObsUpdate::ProgramScene("Live".into());
        let connection = ObsUpdate::Connection(ConnectionReport {
            state: ConnectionState::Connected,
            error: None,
            attempts: 0,
            next_attempt_at: None,
            versions: None,
        });
        // An instance known only from callbacks follows them entirely.
        assert_eq!(callback_overruled(false, &status, &scene), None);
        assert_eq!(callback_overruled(false, &status, &connection), None);
        // A linked instance: scene callbacks only while the link is down, never the link state.
        assert_eq!(callback_overruled(true, &status, &scene), None);
        assert!(callback_overruled(true, &status, &connection).is_some());
        connected(&mut status);
        assert!(callback_overruled(true, &status, &scene).is_some());
    }

    #[test]
    fn poll_catches_a_missed_stream_start() {
        let mut status = fresh();
        let changes = apply(
            &mut status,
            ObsUpdate::Poll(PollReading {
                stream: StreamReading {
                    active: true,
                    bytes: 1000,
                    duration_ms: 1000,
                    ..StreamReading::default()
                },
                ..PollReading::default()
            }),
            now(),
        );
        assert!(changes.contains(&Change::StreamingChanged {
            is_streaming: true,
            state: "started".into()
        }));
        assert_eq!(status.stream.kbits_per_sec, 8.0);
    }
}
