//! The outputs capability's slice of an instance's status (replay buffer and virtual camera),
//! the names of OBS's four outputs, and the pure rules that apply what OBS reports to the slice.
//! Stream and record figures predate this module and stay in `status::model`; their rules are in
//! `status::update`. The capability itself (events, commands, routes) sits in the capability
//! layer above, which imports this module, never the reverse.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{
    kinds::{read_fields, CallbackReading, CallbackRule, ChangeKind},
    update::{Change, ObsUpdate},
};

/// One of OBS's four frontend outputs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Stream,
    Record,
    ReplayBuffer,
    VirtualCam,
}

impl Output {
    pub const ALL: [Output; 4] = [
        Self::Stream,
        Self::Record,
        Self::ReplayBuffer,
        Self::VirtualCam,
    ];

    /// The name in JSON bodies and change events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Record => "record",
            Self::ReplayBuffer => "replay_buffer",
            Self::VirtualCam => "virtual_cam",
        }
    }

    /// The name in URLs (`/api/outputs/{output}/...`).
    pub fn path_name(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Record => "record",
            Self::ReplayBuffer => "replay-buffer",
            Self::VirtualCam => "virtual-cam",
        }
    }

    pub fn from_path(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|output| output.path_name() == name)
    }

    /// Its position in per-output tables (the command discipline's lanes).
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The replay buffer or the virtual camera, as last reported by OBS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SideOutput {
    /// False when OBS says the output is not available (replay buffer not enabled in its output
    /// settings, no virtual camera device); null until read.
    pub available: Option<bool>,
    pub active: bool,
    /// `starting`, `started`, `stopping`, `stopped` (empty until read).
    pub state: String,
    /// The last replay saved (replay buffer only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_saved_path: Option<String>,
}

/// The outputs' slice of an instance's status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutputsStatus {
    pub replay_buffer: SideOutput,
    pub virtual_cam: SideOutput,
}

impl OutputsStatus {
    fn side_mut(&mut self, output: Output) -> Option<&mut SideOutput> {
        match output {
            Output::ReplayBuffer => Some(&mut self.replay_buffer),
            Output::VirtualCam => Some(&mut self.virtual_cam),
            Output::Stream | Output::Record => None,
        }
    }
}

/// What OBS told the hub about outputs beyond stream and record state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputUpdate {
    /// ReplayBufferStateChanged or VirtualcamStateChanged.
    State {
        output: Output,
        active: bool,
        state: String,
    },
    /// ReplayBufferSaved.
    ReplaySaved(String),
    /// RecordFileChanged: the recording goes on in a new file (a split).
    RecordFileChanged(String),
}

/// The poll's read of the two side outputs: `None` when OBS says the output is not available.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SideReading {
    pub replay_buffer: Option<bool>,
    pub virtual_cam: Option<bool>,
}

/// A change of an output, as subscribers see it (`output_changed`). `state` is the output state,
/// or `saved` (a replay was saved to `path`) or `file_changed` (a recording split into `path`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OutputChange {
    pub output: Output,
    pub active: bool,
    pub state: String,
    pub path: Option<String>,
}

/// Applies one update; returns the change it made, if any.
pub fn apply(outputs: &mut OutputsStatus, update: OutputUpdate) -> Option<OutputChange> {
    match update {
        OutputUpdate::State {
            output,
            active,
            state,
        } => {
            let side = outputs.side_mut(output)?;
            // An event about the output proves it exists.
            side.available = Some(true);
            if side.active == active && side.state == state {
                return None;
            }
            side.active = active;
            side.state = state.clone();
            Some(OutputChange {
                output,
                active,
                state,
                path: None,
            })
        }
        OutputUpdate::ReplaySaved(path) => {
            let side = &mut outputs.replay_buffer;
            side.last_saved_path = Some(path.clone());
            Some(OutputChange {
                output: Output::ReplayBuffer,
                active: side.active,
                state: "saved".to_string(),
                path: Some(path),
            })
        }
        OutputUpdate::RecordFileChanged(path) => Some(OutputChange {
            output: Output::Record,
            active: true,
            state: "file_changed".to_string(),
            path: Some(path),
        }),
    }
}

/// Applies a poll's read. Like stream and record, a poll does not override a transition in
/// progress (its end comes as an event), and repairs a missed event otherwise.
pub fn apply_reading(outputs: &mut OutputsStatus, reading: &SideReading) -> Vec<OutputChange> {
    let mut changes = Vec::new();
    for (output, read) in [
        (Output::ReplayBuffer, reading.replay_buffer),
        (Output::VirtualCam, reading.virtual_cam),
    ] {
        let Some(side) = outputs.side_mut(output) else {
            continue;
        };
        side.available = Some(read.is_some());
        let active = read.unwrap_or(false);
        let in_transition = match side.state.as_str() {
            "starting" => !active,
            "stopping" => active,
            _ => false,
        };
        if in_transition {
            continue;
        }
        let settled_state = if active { "started" } else { "stopped" };
        if side.active == active {
            // The first read of an output that is off is not news (as for stream and record).
            if side.state.is_empty() {
                side.state = settled_state.to_string();
            }
            continue;
        }
        side.active = active;
        side.state = settled_state.to_string();
        changes.push(OutputChange {
            output,
            active,
            state: settled_state.to_string(),
            path: None,
        });
    }
    changes
}

/// The stream output started, stopped, or is on its way.
pub static STREAMING_CHANGED: ChangeKind = ChangeKind {
    name: "streaming_changed",
    recorded: true,
    webhook_default: true,
    payload: |change| match change {
        Change::StreamingChanged {
            is_streaming,
            state,
        } => json!({ "is_streaming": is_streaming, "state": state }),
        _ => Value::Null,
    },
    callback: Some(CallbackRule {
        fields: &["is_streaming", "state", "instance"],
        route: Some("streaming-change"),
        read: read_streaming,
    }),
};

/// The record output started, stopped, paused or resumed.
pub static RECORDING_CHANGED: ChangeKind = ChangeKind {
    name: "recording_changed",
    recorded: true,
    webhook_default: true,
    payload: |change| match change {
        Change::RecordingChanged {
            is_recording,
            state,
            output_path,
        } => json!({
            "is_recording": is_recording,
            "state": state,
            "output_path": output_path,
        }),
        _ => Value::Null,
    },
    callback: Some(CallbackRule {
        fields: &["is_recording", "state", "output_path", "instance"],
        route: None,
        read: read_recording,
    }),
};

/// Every poll that moved a figure (several a minute per instance while streaming): not kept
/// as events (the figures feed the sessions), sent only to endpoints that list it.
pub static STATS_UPDATED: ChangeKind = ChangeKind {
    name: "stats_updated",
    recorded: false,
    webhook_default: false,
    payload: |change| match change {
        Change::StatsUpdated {
            stats,
            stream,
            record,
        } => json!({ "stats": stats, "stream": stream, "record": record }),
        _ => Value::Null,
    },
    callback: None,
};

/// Replay buffer and virtual camera states, replays saved, recordings split. Newer than the
/// endpoints that exist: sent only to endpoints that list it.
pub static OUTPUT_CHANGED: ChangeKind = ChangeKind {
    name: "output_changed",
    recorded: true,
    webhook_default: false,
    payload: |change| match change {
        Change::OutputChanged(change) => json!(change),
        _ => Value::Null,
    },
    callback: None,
};

/// `streaming-change`: the seed's body (the envelope is accepted too).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"is_streaming": true, "state": "started", "instance": "default"}))]
pub struct StreamingFields {
    is_streaming: bool,
    /// OBS's output state (`started`, `stopping` ...); default from `is_streaming`.
    state: Option<String>,
    instance: Option<String>,
}

#[derive(Deserialize)]
struct RecordingFields {
    is_recording: bool,
    state: Option<String>,
    output_path: Option<String>,
    instance: Option<String>,
}

fn read_streaming(data: Value, prefix: &str) -> Result<CallbackReading, String> {
    let fields: StreamingFields = read_fields(data, prefix)?;
    let state = output_state(fields.state, fields.is_streaming);
    Ok((
        fields.instance,
        ObsUpdate::StreamState {
            active: fields.is_streaming,
            state,
        },
    ))
}

fn read_recording(data: Value, prefix: &str) -> Result<CallbackReading, String> {
    let fields: RecordingFields = read_fields(data, prefix)?;
    let state = output_state(fields.state, fields.is_recording);
    Ok((
        fields.instance,
        ObsUpdate::RecordState {
            active: fields.is_recording,
            state,
            output_path: fields.output_path,
        },
    ))
}

/// OBS's output states; without one, what `active` implies.
fn output_state(state: Option<String>, active: bool) -> String {
    state
        .filter(|state| !state.trim().is_empty())
        .unwrap_or_else(|| if active { "started" } else { "stopped" }.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(output: Output, active: bool, state: &str) -> OutputUpdate {
        OutputUpdate::State {
            output,
            active,
            state: state.into(),
        }
    }

    #[test]
    fn events_change_the_side_outputs_once() {
        let mut outputs = OutputsStatus::default();
        let change = apply(&mut outputs, state(Output::ReplayBuffer, true, "started")).unwrap();
        assert_eq!(change.output, Output::ReplayBuffer);
        assert!(outputs.replay_buffer.active);
        assert_eq!(outputs.replay_buffer.available, Some(true));
        assert!(apply(&mut outputs, state(Output::ReplayBuffer, true, "started")).is_none());
        let saved = apply(&mut outputs, OutputUpdate::ReplaySaved("/r.mkv".into())).unwrap();
        assert_eq!(saved.state, "saved");
        assert_eq!(
            outputs.replay_buffer.last_saved_path.as_deref(),
            Some("/r.mkv")
        );
        // Stream and record are not this slice's: no change from a stray state update.
        assert!(apply(&mut outputs, state(Output::Stream, true, "started")).is_none());
    }

    #[test]
    fn polls_record_availability_and_repair_missed_events_but_not_transitions() {
        let mut outputs = OutputsStatus::default();
        let first = apply_reading(
            &mut outputs,
            &SideReading {
                replay_buffer: Some(false),
                virtual_cam: None,
            },
        );
        assert!(
            first.is_empty(),
            "an output read off is not news: {first:?}"
        );
        assert_eq!(outputs.replay_buffer.state, "stopped");
        assert_eq!(outputs.virtual_cam.available, Some(false));
        assert_eq!(outputs.replay_buffer.available, Some(true));
        let reading = SideReading {
            replay_buffer: Some(true),
            virtual_cam: None,
        };
        apply(&mut outputs, state(Output::ReplayBuffer, false, "starting"));
        let still_starting = SideReading {
            replay_buffer: Some(false),
            virtual_cam: None,
        };
        assert!(
            apply_reading(&mut outputs, &still_starting).is_empty(),
            "mid-start"
        );
        outputs.replay_buffer.state = "stopping".into();
        outputs.replay_buffer.active = true;
        assert!(apply_reading(&mut outputs, &reading).is_empty(), "mid-stop");
        outputs.replay_buffer.state = "started".into();
        outputs.replay_buffer.active = false;
        let repaired = apply_reading(&mut outputs, &reading);
        assert_eq!(repaired.len(), 1);
        assert!(outputs.replay_buffer.active);
    }
}
