//! Where OBS's audio events and reads become updates for the audio slice.
//!
//! Besides the mixer's own events, the slice needs the items of the program and preview scenes
//! (for `in_program`/`in_preview`): read with the audio after connecting, and again after a
//! program or preview switch or a change of a scene's item list ([`TRANSLATOR`]'s re-read). A
//! new input is read whole after InputCreated ([`NEW_INPUTS`]).

use futures_util::future::BoxFuture;
use obws::{events::Event, requests::inputs::InputId, responses::StatusCode, Client};

use super::status::{monitor_type_name, AudioInput, AudioUpdate};
use crate::{
    obs::Reread,
    status::{
        source_status::{SceneItem, SourceUpdate},
        studio_status::StudioUpdate,
        update::{ObsUpdate, PollReading},
    },
};

/// What `app` registers so that the connection hands this capability its events.
pub const TRANSLATOR: crate::obs::Translator = crate::obs::Translator {
    translate: |event| translate(event).map(ObsUpdate::Audio),
    event_type,
    // Read once after (re)connecting; OBS's events keep it (a poll would cost a request or
    // six per input).
    poll: None,
    reread: Some(Reread {
        what: "the program and preview scenes' items",
        program_scene: false,
        after: moves_scenes,
        read: reread_scenes,
    }),
    snapshot: Some(read_into_snapshot),
};

/// The second registration of the capability: after InputCreated, every input's audio is read
/// again (a new input may have audio; the event does not say).
pub const NEW_INPUTS: crate::obs::Translator = crate::obs::Translator {
    translate: |_| None,
    event_type: |_| None,
    poll: None,
    reread: Some(Reread {
        what: "the inputs with audio",
        program_scene: false,
        after: |update| matches!(update, ObsUpdate::Audio(AudioUpdate::Created(_))),
        read: |client| {
            Box::pin(async move { Ok(ObsUpdate::Audio(AudioUpdate::Reading(read(client).await?))) })
        },
    }),
    snapshot: None,
};

fn read_into_snapshot<'a>(
    client: &'a Client,
    reading: &'a mut PollReading,
) -> BoxFuture<'a, Result<(), obws::error::Error>> {
    Box::pin(async move {
        reading.audio = Some(read(client).await?);
        reading.scene_items = read_shown_scenes(client).await?;
        Ok(())
    })
}

/// Updates after which the program or preview scene's items may be unknown or different.
pub fn moves_scenes(update: &ObsUpdate) -> bool {
    matches!(
        update,
        ObsUpdate::ProgramScene(_)
            | ObsUpdate::Studio(StudioUpdate::PreviewScene(_) | StudioUpdate::StudioMode(true))
            | ObsUpdate::Source(SourceUpdate::ItemsChanged { .. })
    )
}

fn reread_scenes(client: &Client) -> BoxFuture<'_, Result<ObsUpdate, obws::error::Error>> {
    Box::pin(async move {
        Ok(ObsUpdate::Source(SourceUpdate::Items(
            read_shown_scenes(client).await?,
        )))
    })
}

/// The items of the program scene and, in studio mode, of the preview scene (with the groups
/// and scenes inside them).
pub async fn read_shown_scenes(
    client: &Client,
) -> Result<Vec<(String, Vec<SceneItem>)>, obws::error::Error> {
    let program = client.scenes().current_program_scene().await?.id.name;
    let mut items = crate::sources::commands::read_items(client, &program, false).await?;
    let studio = crate::studio::events::read(client).await?;
    if let Some(preview) = studio.preview_scene.filter(|preview| *preview != program) {
        items.extend(crate::sources::commands::read_items(client, &preview, false).await?);
    }
    Ok(items)
}

/// The audio slice's events; None for others.
pub fn translate(event: &Event) -> Option<AudioUpdate> {
    Some(match event {
        Event::InputMuteStateChanged { id, muted } => AudioUpdate::Muted {
            input: id.name.clone(),
            muted: *muted,
        },
        Event::InputVolumeChanged { id, mul, db } => AudioUpdate::Volume {
            input: id.name.clone(),
            db: *db,
            mul: *mul,
        },
        Event::InputAudioBalanceChanged { id, audio_balance } => AudioUpdate::Balance {
            input: id.name.clone(),
            balance: *audio_balance,
        },
        Event::InputAudioSyncOffsetChanged { id, offset } => AudioUpdate::SyncOffset {
            input: id.name.clone(),
            ms: i64::try_from(offset.whole_milliseconds()).unwrap_or(0),
        },
        Event::InputAudioMonitorTypeChanged { id, monitor_type } => AudioUpdate::MonitorType {
            input: id.name.clone(),
            monitor_type: monitor_name(*monitor_type),
        },
        Event::InputAudioTracksChanged { id, tracks } => AudioUpdate::Tracks {
            input: id.name.clone(),
            tracks: tracks
                .iter()
                .filter(|(_, on)| **on)
                .filter_map(|(track, _)| track.parse().ok())
                .collect(),
        },
        Event::InputNameChanged {
            old_name, new_name, ..
        } => AudioUpdate::Renamed {
            old: old_name.clone(),
            new: new_name.clone(),
        },
        Event::InputRemoved { id } => AudioUpdate::Removed(id.name.clone()),
        Event::InputCreated { id, .. } => AudioUpdate::Created(id.name.clone()),
        _ => return None,
    })
}

/// The protocol name of the audio slice's events (a bounded label for metrics).
pub fn event_type(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::InputMuteStateChanged { .. } => "InputMuteStateChanged",
        Event::InputVolumeChanged { .. } => "InputVolumeChanged",
        Event::InputAudioBalanceChanged { .. } => "InputAudioBalanceChanged",
        Event::InputAudioSyncOffsetChanged { .. } => "InputAudioSyncOffsetChanged",
        Event::InputAudioMonitorTypeChanged { .. } => "InputAudioMonitorTypeChanged",
        Event::InputAudioTracksChanged { .. } => "InputAudioTracksChanged",
        Event::InputNameChanged { .. } => "InputNameChanged",
        Event::InputRemoved { .. } => "InputRemoved",
        Event::InputCreated { .. } => "InputCreated",
        _ => return None,
    })
}

fn monitor_name(monitor: obws::common::MonitorType) -> String {
    let obs = serde_json::to_value(monitor).unwrap_or_default();
    monitor_type_name(obs.as_str().unwrap_or_default())
}

/// Reads one input's audio; None if the input has no audio (OBS answers 604) or is gone.
pub async fn read_input(
    client: &Client,
    name: &str,
    uuid: Option<String>,
    kind: String,
) -> Result<Option<AudioInput>, obws::error::Error> {
    let inputs = client.inputs();
    let muted = match inputs.muted(InputId::Name(name)).await {
        Ok(muted) => muted,
        // No audio (604), or removed since the list was read (600): not a mixer input.
        Err(obws::error::Error::Api {
            code: StatusCode::InvalidResourceState | StatusCode::ResourceNotFound,
            ..
        }) => return Ok(None),
        Err(other) => return Err(other),
    };
    let volume = inputs.volume(InputId::Name(name)).await?;
    let balance = inputs.audio_balance(InputId::Name(name)).await?;
    let offset = inputs.audio_sync_offset(InputId::Name(name)).await?;
    let monitor = inputs.audio_monitor_type(InputId::Name(name)).await?;
    let tracks = inputs.audio_tracks(InputId::Name(name)).await?;
    Ok(Some(AudioInput {
        name: name.to_string(),
        uuid,
        kind,
        muted,
        volume_db: f64::from(volume.db),
        volume_mul: f64::from(volume.mul),
        balance: f64::from(balance),
        sync_offset_ms: i64::try_from(offset.whole_milliseconds()).unwrap_or(0),
        monitor_type: monitor_name(monitor),
        tracks: (1..=6u8)
            .zip(tracks)
            .filter_map(|(track, on)| on.then_some(track))
            .collect(),
        in_program: None,
        in_preview: None,
        announced_volume_db: None,
    }))
}

/// Reads every input that has audio (after connecting).
pub async fn read(client: &Client) -> Result<Vec<AudioInput>, obws::error::Error> {
    let mut found = Vec::new();
    for input in client.inputs().list(None).await? {
        let uuid = Some(input.id.uuid.to_string());
        if let Some(audio) = read_input(client, &input.id.name, uuid, input.kind).await? {
            found.push(audio);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn audio_events_become_updates_and_others_pass_through() {
        let uuid = "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11";
        let cases = [
            (
                serde_json::json!({"eventType": "InputMuteStateChanged",
                    "eventData": {"inputName": "Mic", "inputUuid": uuid, "inputMuted": true}}),
                AudioUpdate::Muted {
                    input: "Mic".into(),
                    muted: true,
                },
            ),
            (
                serde_json::json!({"eventType": "InputVolumeChanged",
                    "eventData": {"inputName": "Mic", "inputUuid": uuid,
                                  "inputVolumeMul": 0.5, "inputVolumeDb": -6.0}}),
                AudioUpdate::Volume {
                    input: "Mic".into(),
                    db: -6.0,
                    mul: 0.5,
                },
            ),
            (
                serde_json::json!({"eventType": "InputAudioBalanceChanged",
                    "eventData": {"inputName": "Mic", "inputUuid": uuid, "inputAudioBalance": 0.25}}),
                AudioUpdate::Balance {
                    input: "Mic".into(),
                    balance: 0.25,
                },
            ),
            (
                serde_json::json!({"eventType": "InputAudioMonitorTypeChanged",
                    "eventData": {"inputName": "Mic", "inputUuid": uuid,
                                  "monitorType": "OBS_MONITORING_TYPE_MONITOR_ONLY"}}),
                AudioUpdate::MonitorType {
                    input: "Mic".into(),
                    monitor_type: "monitor_only".into(),
                },
            ),
            (
                serde_json::json!({"eventType": "InputAudioTracksChanged",
                    "eventData": {"inputName": "Mic", "inputUuid": uuid,
                                  "inputAudioTracks": {"1": true, "2": false, "3": true,
                                                       "4": false, "5": false, "6": false}}}),
                AudioUpdate::Tracks {
                    input: "Mic".into(),
                    tracks: vec![1, 3],
                },
            ),
            (
                serde_json::json!({"eventType": "InputNameChanged",
                    "eventData": {"inputUuid": uuid, "oldInputName": "Mic", "inputName": "Voice"}}),
                AudioUpdate::Renamed {
                    old: "Mic".into(),
                    new: "Voice".into(),
                },
            ),
            (
                serde_json::json!({"eventType": "InputRemoved",
                    "eventData": {"inputName": "Voice", "inputUuid": uuid}}),
                AudioUpdate::Removed("Voice".into()),
            ),
        ];
        for (json, update) in cases {
            let event = event(json);
            assert_eq!(translate(&event), Some(update));
            assert!(event_type(&event).is_some());
        }
        assert!(translate(&Event::ExitStarted).is_none());
    }
}
