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
//!
//! Whether an input is in the program scene (and the preview scene, in studio mode) is derived
//! from the sources slice's scene items ([`place`], run after every update): shown means an
//! enabled (visible) item of the scene, or of an enabled group or nested scene in it, like
//! OBS's own "active" sources; hidden items do not count. Null until known; after a switch to a
//! scene whose items are not read yet, the old value stays until they are.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::BTreeMap;

use super::{
    kinds::ChangeKind,
    source_status::{SceneItem, SourcesStatus, MAX_NESTING},
    studio_status::StudioStatus,
    update::Change,
};

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
    /// Shown in the program scene (a visible item, directly or in a visible group or nested
    /// scene); null while the scene's items are unknown.
    #[serde(default)]
    pub in_program: Option<bool>,
    /// The same for the preview scene; null outside studio mode or while unknown.
    #[serde(default)]
    pub in_preview: Option<bool>,
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
    /// InputCreated: news only once the input's audio is read (a `Reading` follows).
    Created(String),
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
    /// `removed`, `scenes` (in_program or in_preview changed) or `read` (a full read found the
    /// list changed, e.g. after an input was created).
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
            audio.read = true;
            let placed: BTreeMap<String, (Option<bool>, Option<bool>)> = audio
                .inputs
                .iter()
                .map(|input| (input.name.clone(), (input.in_program, input.in_preview)))
                .collect();
            let inputs: Vec<AudioInput> = inputs
                .into_iter()
                .map(|mut input| {
                    input.announced_volume_db = Some(input.volume_db);
                    // A read says nothing of scenes: what `place` knew stays until it looks.
                    if let Some((program, preview)) = placed.get(&input.name) {
                        (input.in_program, input.in_preview) = (*program, *preview);
                    }
                    input
                })
                .collect();
            let before: Vec<_> = audio.inputs.iter().map(without_mark).collect();
            let after: Vec<_> = inputs.iter().map(without_mark).collect();
            audio.inputs = inputs;
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
        AudioUpdate::Created(_) => Vec::new(),
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

/// Whether `input` is shown in `scene`: an enabled item of it, or of an enabled group or nested
/// scene in it (at most [`MAX_NESTING`] deep). None when a container that could hold it has not
/// been read.
pub fn shown_in(
    items: &BTreeMap<String, Vec<SceneItem>>,
    scene: &str,
    input: &str,
) -> Option<bool> {
    fn walk(
        items: &BTreeMap<String, Vec<SceneItem>>,
        container: &str,
        input: &str,
        depth: usize,
    ) -> Option<bool> {
        let mut unknown = false;
        for item in items.get(container)?.iter().filter(|item| item.enabled) {
            if item.source_name == input {
                return Some(true);
            }
            if item.holds_items() && depth < MAX_NESTING {
                match walk(items, &item.source_name, input, depth + 1) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => unknown = true,
                }
            }
        }
        (!unknown).then_some(false)
    }
    walk(items, scene, input, 0)
}

/// Sets every input's `in_program` and `in_preview` from the program scene, the studio slice
/// and the scene items; answers a `scenes` change for each input where they changed.
pub fn place(
    audio: &mut AudioStatus,
    sources: &SourcesStatus,
    program: Option<&str>,
    studio: &StudioStatus,
) -> Vec<AudioChange> {
    let preview = studio
        .preview_scene
        .as_deref()
        .filter(|_| studio.studio_mode == Some(true));
    // No scene: null. A scene whose items are not read yet (just switched to): the old value
    // stays until they are, rather than flicker through null at every switch.
    let shown = |scene: Option<&str>, input: &str, old: Option<bool>| {
        scene.and_then(|scene| shown_in(&sources.scene_items, scene, input).or(old))
    };
    let mut changes = Vec::new();
    for input in &mut audio.inputs {
        let placed = (
            shown(program, &input.name, input.in_program),
            shown(preview, &input.name, input.in_preview),
        );
        if placed != (input.in_program, input.in_preview) {
            (input.in_program, input.in_preview) = placed;
            changes.push(AudioChange {
                what: "scenes".into(),
                input: input.name.clone(),
                state: Some(input.clone()),
            });
        }
    }
    changes
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

    fn item(id: i64, source: &str, kind: &str, enabled: bool) -> SceneItem {
        SceneItem {
            id,
            source_name: source.into(),
            kind: kind.into(),
            enabled,
            locked: false,
            index: 0,
        }
    }

    #[test]
    fn an_input_is_shown_through_visible_items_groups_and_nested_scenes() {
        let mut items = BTreeMap::new();
        items.insert(
            "Live".to_string(),
            vec![
                item(1, "Cam", "v4l2_input", true),
                item(2, "Band", "group", true),
                item(3, "Hidden mic", "pulse_input_capture", false),
                item(4, "Guests", "scene", false),
            ],
        );
        items.insert(
            "Band".to_string(),
            vec![item(5, "Guitar", "pulse_input_capture", true)],
        );
        assert_eq!(shown_in(&items, "Live", "Cam"), Some(true));
        assert_eq!(shown_in(&items, "Live", "Guitar"), Some(true), "in a group");
        assert_eq!(shown_in(&items, "Live", "Hidden mic"), Some(false));
        // A hidden nested scene is not followed, so its unread items do not matter.
        assert_eq!(shown_in(&items, "Live", "Guest mic"), Some(false));
        assert_eq!(shown_in(&items, "Unread", "Cam"), None);
        items.get_mut("Live").unwrap()[3].enabled = true;
        assert_eq!(shown_in(&items, "Live", "Guest mic"), None, "Guests unread");
        items.insert(
            "Guests".to_string(),
            vec![item(6, "Guest mic", "pulse_input_capture", true)],
        );
        assert_eq!(shown_in(&items, "Live", "Guest mic"), Some(true));
    }

    #[test]
    fn placing_announces_only_inputs_that_moved_and_a_read_keeps_the_places() {
        let mut audio = AudioStatus::default();
        read(&mut audio);
        let mut sources = SourcesStatus::default();
        sources.scene_items.insert(
            "Live".into(),
            vec![item(1, "Mic", "pulse_input_capture", true)],
        );
        sources.scene_items.insert("BRB".into(), Vec::new());
        let mut studio = StudioStatus::default();
        let moved = place(&mut audio, &sources, Some("Live"), &studio);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].what, "scenes");
        assert_eq!(audio.inputs[0].in_program, Some(true));
        assert_eq!(audio.inputs[0].in_preview, None, "no studio mode");
        assert!(place(&mut audio, &sources, Some("Live"), &studio).is_empty());
        assert!(
            place(&mut audio, &sources, Some("Unread"), &studio).is_empty(),
            "kept until the scene's items are read"
        );

        studio.studio_mode = Some(true);
        studio.preview_scene = Some("Live".into());
        let moved = place(&mut audio, &sources, Some("BRB"), &studio);
        let placed = moved[0].state.as_ref().unwrap();
        assert_eq!(
            (placed.in_program, placed.in_preview),
            (Some(false), Some(true))
        );

        assert!(apply(&mut audio, AudioUpdate::Reading(vec![mic()])).is_empty());
        assert_eq!(audio.inputs[0].in_preview, Some(true), "kept across a read");
        assert!(apply(&mut audio, AudioUpdate::Created("Mic 2".into())).is_empty());
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
