//! Where OBS's scene item, media, filter and profile events become updates for the sources'
//! slice of status. (Scene collection switches also pause the connection's polling: that part
//! stays with `obs::events`.)

use obws::{common::MediaAction, events::Event, responses::media_inputs::MediaState};

use super::status::SourceUpdate;

/// What `app` registers so that the connection hands this capability its events.
pub const TRANSLATOR: crate::obs::Translator = crate::obs::Translator {
    translate: |event| translate(event).map(crate::status::update::ObsUpdate::Source),
    event_type,
    poll: None,
    reread: None,
    snapshot: None,
};

/// The sources' events; None for others.
pub fn translate(event: &Event) -> Option<SourceUpdate> {
    Some(match event {
        Event::SceneItemEnableStateChanged {
            scene,
            item_id,
            enabled,
        } => SourceUpdate::ItemEnabled {
            scene: scene.name.clone(),
            id: i64::try_from(*item_id).ok()?,
            enabled: *enabled,
        },
        Event::SceneItemLockStateChanged {
            scene,
            item_id,
            locked,
        } => SourceUpdate::ItemLocked {
            scene: scene.name.clone(),
            id: i64::try_from(*item_id).ok()?,
            locked: *locked,
        },
        Event::SceneItemCreated { scene, .. }
        | Event::SceneItemRemoved { scene, .. }
        | Event::SceneItemListReindexed { scene, .. } => SourceUpdate::ItemsChanged {
            scene: scene.name.clone(),
        },
        Event::MediaInputPlaybackStarted { id } => SourceUpdate::MediaState {
            input: id.name.clone(),
            state: "playing".into(),
        },
        Event::MediaInputPlaybackEnded { id } => SourceUpdate::MediaState {
            input: id.name.clone(),
            state: "ended".into(),
        },
        Event::MediaInputActionTriggered { id, media_action } => SourceUpdate::MediaState {
            input: id.name.clone(),
            state: action_state(*media_action)?.into(),
        },
        Event::SourceFilterEnableStateChanged {
            source,
            filter,
            enabled,
        } => SourceUpdate::Filter {
            source: source.clone(),
            filter: filter.clone(),
            enabled: *enabled,
        },
        Event::CurrentProfileChanged { name } => SourceUpdate::Profile(name.clone()),
        _ => return None,
    })
}

/// The state a media action leads to (restart plays again); None for next/previous.
fn action_state(action: MediaAction) -> Option<&'static str> {
    match action {
        MediaAction::Play | MediaAction::Restart => Some("playing"),
        MediaAction::Pause => Some("paused"),
        MediaAction::Stop => Some("stopped"),
        _ => None,
    }
}

/// The name the hub uses for a media state.
pub fn media_state_name(state: MediaState) -> &'static str {
    match state {
        MediaState::Playing => "playing",
        MediaState::Opening => "opening",
        MediaState::Buffering => "buffering",
        MediaState::Paused => "paused",
        MediaState::Stopped => "stopped",
        MediaState::Ended => "ended",
        MediaState::Error => "error",
        _ => "none",
    }
}

/// The protocol name of the sources' events (a bounded label for metrics).
pub fn event_type(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::SceneItemEnableStateChanged { .. } => "SceneItemEnableStateChanged",
        Event::SceneItemLockStateChanged { .. } => "SceneItemLockStateChanged",
        Event::SceneItemCreated { .. } => "SceneItemCreated",
        Event::SceneItemRemoved { .. } => "SceneItemRemoved",
        Event::SceneItemListReindexed { .. } => "SceneItemListReindexed",
        Event::MediaInputPlaybackStarted { .. } => "MediaInputPlaybackStarted",
        Event::MediaInputPlaybackEnded { .. } => "MediaInputPlaybackEnded",
        Event::MediaInputActionTriggered { .. } => "MediaInputActionTriggered",
        Event::SourceFilterEnableStateChanged { .. } => "SourceFilterEnableStateChanged",
        Event::CurrentProfileChanged { .. } => "CurrentProfileChanged",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn source_events_become_updates_and_others_pass_through() {
        let hidden = event(serde_json::json!({
            "eventType": "SceneItemEnableStateChanged",
            "eventData": {"sceneName": "Lower third", "sceneUuid": "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11",
                          "sceneItemId": 7, "sceneItemEnabled": false}
        }));
        assert_eq!(
            translate(&hidden),
            Some(SourceUpdate::ItemEnabled {
                scene: "Lower third".into(),
                id: 7,
                enabled: false
            })
        );
        let paused = event(serde_json::json!({
            "eventType": "MediaInputActionTriggered",
            "eventData": {"inputName": "Clip", "inputUuid": "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d12",
                          "mediaAction": "OBS_WEBSOCKET_MEDIA_INPUT_ACTION_PAUSE"}
        }));
        assert_eq!(
            translate(&paused),
            Some(SourceUpdate::MediaState {
                input: "Clip".into(),
                state: "paused".into()
            })
        );
        let filter = event(serde_json::json!({
            "eventType": "SourceFilterEnableStateChanged",
            "eventData": {"sourceName": "Cam", "filterName": "Blur", "filterEnabled": true}
        }));
        assert_eq!(
            translate(&filter),
            Some(SourceUpdate::Filter {
                source: "Cam".into(),
                filter: "Blur".into(),
                enabled: true
            })
        );
        assert!(translate(&Event::ExitStarted).is_none());
    }
}
