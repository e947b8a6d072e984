//! The audio mixer's slice of an instance's status (every input that has audio: mute, volume,
//! balance, sync offset, monitoring, tracks) and the pure rules that apply what OBS reports.
//!
//! It lives in the status core because an instance's status is made of every capability's slice;
//! the capability itself (events, commands, routes) sits in the capability layer above, which
//! imports this module, never the reverse.
//!
//! A fader dragged in OBS (or in a page) sends a volume event per step. The cache follows every
//! step at once, but the numbered `audio_changed` for a volume is sent only once the fader has
//! settled: the status manager applies [`AudioUpdate::VolumeSettled`] when no volume event for
//! that input has come for [`VOLUME_SETTLE`], and only a volume different from the last one
//! announced is news. History, webhooks and the WebSocket thus get the settled value, not every
//! step. Mute, balance and the rest are announced at once (they do not come in drags).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{kinds::ChangeKind, update::Change};

/// How long a volume must stay unchanged to count as settled.
pub const VOLUME_SETTLE: Duration = Duration::from_millis(300);

/// One input with audio, as last reported by OBS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AudioInput {
    pub name: String,
    pub uuid: Option<String>,
    /// OBS's input kind (`ffmpeg_source`, `pulse_input_capture`, ...).
    pub kind: String,
    pub muted: bool,
    /// Volume in decibels (-100 is silence, as OBS reports it).
    pub volume_db: f64,
    /// Volume as a multiplier (0 silence, 1 unchanged).
    pub volume_mul: f64,
    /// 0.0 left, 0.5 centre, 1.0 right.
    pub balance: f64,
    pub sync_offset_ms: i64,
    /// `none`, `monitor_only` or `monitor_and_output`.
    pub monitor_type: String,
    /// The audio tracks (1 to 6) the input is mixed into.
    pub tracks: Vec<u8>,
    /// The volume last announced as a change (not part of the status).
    #[serde(skip)]
    #[schema(ignore)]
    pub announced_volume_db: Option<f64>,
}

/// The inputs with audio; `read` is false until the first full read after connecting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AudioStatus {
    pub read: bool,
    pub inputs: Vec<AudioInput>,
}

/// What OBS told the hub about audio.
#[derive(Clone, Debug, PartialEq)]
pub enum AudioUpdate {
    Muted {
        input: String,
        muted: bool,
    },
    /// One step of a volume change: cached at once, announced once settled.
    Volume {
        input: String,
        db: f64,
        mul: f64,
    },
    /// No volume event for `input` came for [`VOLUME_SETTLE`] (sent by the status manager).
    VolumeSettled(String),
    Balance {
        input: String,
        balance: f64,
    },
    SyncOffset {
        input: String,
        ms: i64,
    },
    MonitorType {
        input: String,
        monitor_type: String,
    },
    Tracks {
        input: String,
        tracks: Vec<u8>,
    },
    Renamed {
        old: String,
        new: String,
    },
    Removed(String),
    /// A full read (after connecting): replaces the list.
    Reading(Vec<AudioInput>),
}

impl AudioUpdate {
    /// The input whose volume is moving, for updates the manager must settle.
    pub fn moving_volume(&self) -> Option<&str> {
        match self {
            Self::Volume { input, .. } => Some(input),
            _ => None,
        }
    }
}

/// `audio_changed`: one input after the change (or its removal), and what changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AudioChange {
    /// `muted`, `volume`, `balance`, `sync_offset`, `monitor_type`, `tracks`, `renamed`,
    /// `removed` or `read` (a full read found the list changed).
    pub what: String,
    pub input: String,
    /// The input after the change; null when removed or for `read`.
    pub state: Option<AudioInput>,
}

/// Applies one update; returns the changes to announce.
pub fn apply(audio: &mut AudioStatus, update: AudioUpdate) -> Vec<AudioChange> {
    let change = |what: &str, input: &AudioInput| AudioChange {
        what: what.into(),
        input: input.name.clone(),
        state: Some(input.clone()),
    };
    let find = |audio: &mut AudioStatus, name: &str| -> Option<usize> {
        audio.inputs.iter().position(|input| input.name == name)
    };
    match update {
        AudioUpdate::Reading(inputs) => {
            let first = !audio.read;
            let before: Vec<_> = audio.inputs.iter().map(without_mark).collect();
            let after: Vec<_> = inputs.iter().map(without_mark).collect();
            audio.read = true;
            audio.inputs = inputs
                .into_iter()
                .map(|mut input| {
                    input.announced_volume_db = Some(input.volume_db);
                    input
                })
                .collect();
            // The first read is not news: joiners get the whole status.
            if first || before == after {
                return Vec::new();
            }
            vec![AudioChange {
                what: "read".into(),
                input: String::new(),
                state: None,
            }]
        }
        AudioUpdate::Removed(name) => match find(audio, &name) {
            Some(at) => {
                audio.inputs.remove(at);
                vec![AudioChange {
                    what: "removed".into(),
                    input: name,
                    state: None,
                }]
            }
            None => Vec::new(),
        },
        AudioUpdate::Renamed { old, new } => match find(audio, &old) {
            Some(at) => {
                audio.inputs[at].name = new;
                vec![change("renamed", &audio.inputs[at])]
            }
            None => Vec::new(),
        },
        AudioUpdate::VolumeSettled(name) => {
            let Some(at) = find(audio, &name) else {
                return Vec::new();
            };
            let input = &mut audio.inputs[at];
            if input.announced_volume_db == Some(input.volume_db) {
                return Vec::new();
            }
            input.announced_volume_db = Some(input.volume_db);
            vec![change("volume", input)]
        }
        AudioUpdate::Volume {
            input: name,
            db,
            mul,
        } => {
            if let Some(at) = find(audio, &name) {
                let input = &mut audio.inputs[at];
                input.volume_db = db;
                input.volume_mul = mul;
            }
            Vec::new()
        }
        AudioUpdate::Muted { input, muted } => set(audio, &input, "muted", |i| {
            std::mem::replace(&mut i.muted, muted) != muted
        }),
        AudioUpdate::Balance { input, balance } => set(audio, &input, "balance", |i| {
            std::mem::replace(&mut i.balance, balance) != balance
        }),
        AudioUpdate::SyncOffset { input, ms } => set(audio, &input, "sync_offset", |i| {
            std::mem::replace(&mut i.sync_offset_ms, ms) != ms
        }),
        AudioUpdate::MonitorType {
            input,
            monitor_type,
        } => set(audio, &input, "monitor_type", |i| {
            std::mem::replace(&mut i.monitor_type, monitor_type.clone()) != monitor_type
        }),
        AudioUpdate::Tracks { input, tracks } => set(audio, &input, "tracks", |i| {
            std::mem::replace(&mut i.tracks, tracks.clone()) != tracks
        }),
    }
}

fn without_mark(input: &AudioInput) -> AudioInput {
    AudioInput {
        announced_volume_db: None,
        ..input.clone()
    }
}

/// Changes one input's field; `edit` answers whether the value differed.
fn set(
    audio: &mut AudioStatus,
    name: &str,
    what: &str,
    edit: impl FnOnce(&mut AudioInput) -> bool,
) -> Vec<AudioChange> {
    let Some(input) = audio.inputs.iter_mut().find(|input| input.name == name) else {
        return Vec::new();
    };
    if !edit(input) {
        return Vec::new();
    }
    vec![AudioChange {
        what: what.into(),
        input: name.into(),
        state: Some(input.clone()),
    }]
}

/// OBS's monitor type in the hub's words.
pub fn monitor_type_name(obs: &str) -> String {
    match obs {
        "OBS_MONITORING_TYPE_MONITOR_ONLY" => "monitor_only",
        "OBS_MONITORING_TYPE_MONITOR_AND_OUTPUT" => "monitor_and_output",
        _ => "none",
    }
    .into()
}

/// One input's mute, volume, balance... Newer than the webhook endpoints that exist: sent only
/// to endpoints that list it. Recorded: volumes only once settled (see the module note).
pub static AUDIO_CHANGED: ChangeKind = ChangeKind {
    name: "audio_changed",
    recorded: true,
    webhook_default: false,
    payload: |change| match change {
        Change::AudioChanged(change) => serde_json::json!(change),
        _ => serde_json::Value::Null,
    },
    callback: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn mic() -> AudioInput {
        AudioInput {
            name: "Mic".into(),
            kind: "pulse_input_capture".into(),
            volume_mul: 1.0,
            balance: 0.5,
            monitor_type: "none".into(),
            tracks: vec![1],
            ..AudioInput::default()
        }
    }

    fn read(audio: &mut AudioStatus) {
        assert!(apply(audio, AudioUpdate::Reading(vec![mic()])).is_empty());
    }

    #[test]
    fn the_first_read_is_not_news_and_a_later_different_one_is() {
        let mut audio = AudioStatus::default();
        read(&mut audio);
        assert!(audio.read);
        assert!(apply(&mut audio, AudioUpdate::Reading(vec![mic()])).is_empty());
        let changed = apply(&mut audio, AudioUpdate::Reading(vec![]));
        assert_eq!(changed[0].what, "read");
    }

    #[test]
    fn mute_and_balance_are_announced_once_each() {
        let mut audio = AudioStatus::default();
        read(&mut audio);
        let muted = apply(
            &mut audio,
            AudioUpdate::Muted {
                input: "Mic".into(),
                muted: true,
            },
        );
        assert_eq!(muted[0].what, "muted");
        assert!(muted[0].state.as_ref().unwrap().muted);
        assert!(apply(
            &mut audio,
            AudioUpdate::Muted {
                input: "Mic".into(),
                muted: true
            }
        )
        .is_empty());
        let unknown = AudioUpdate::Balance {
            input: "Nobody".into(),
            balance: 0.1,
        };
        assert!(apply(&mut audio, unknown).is_empty());
    }

    #[test]
    fn a_drag_is_cached_at_every_step_and_announced_once_settled() {
        let mut audio = AudioStatus::default();
        read(&mut audio);
        for step in 1..=20 {
            let db = -f64::from(step);
            let update = AudioUpdate::Volume {
                input: "Mic".into(),
                db,
                mul: 10f64.powf(db / 20.0),
            };
            assert_eq!(update.moving_volume(), Some("Mic"));
            assert!(apply(&mut audio, update).is_empty(), "a step is not news");
            assert_eq!(audio.inputs[0].volume_db, db, "but the cache has it");
        }
        let settled = apply(&mut audio, AudioUpdate::VolumeSettled("Mic".into()));
        assert_eq!(settled.len(), 1);
        assert_eq!(settled[0].state.as_ref().unwrap().volume_db, -20.0);
        assert!(
            apply(&mut audio, AudioUpdate::VolumeSettled("Mic".into())).is_empty(),
            "settled twice is announced once"
        );
        // A drag that comes back where it started is no change.
        for db in [-10.0, -20.0] {
            apply(
                &mut audio,
                AudioUpdate::Volume {
                    input: "Mic".into(),
                    db,
                    mul: 0.1,
                },
            );
        }
        assert!(apply(&mut audio, AudioUpdate::VolumeSettled("Mic".into())).is_empty());
    }

    #[test]
    fn renamed_and_removed_inputs_follow() {
        let mut audio = AudioStatus::default();
        read(&mut audio);
        let renamed = apply(
            &mut audio,
            AudioUpdate::Renamed {
                old: "Mic".into(),
                new: "Voice".into(),
            },
        );
        assert_eq!(renamed[0].state.as_ref().unwrap().name, "Voice");
        assert_eq!(
            apply(&mut audio, AudioUpdate::Removed("Voice".into()))[0].what,
            "removed"
        );
        assert!(audio.inputs.is_empty());
    }

    #[test]
    fn monitor_types_are_named_plainly() {
        assert_eq!(
            monitor_type_name("OBS_MONITORING_TYPE_MONITOR_ONLY"),
            "monitor_only"
        );
        assert_eq!(monitor_type_name("OBS_MONITORING_TYPE_NONE"), "none");
    }
}
