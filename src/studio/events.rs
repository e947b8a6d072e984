//! Where OBS's studio-mode and transition events and reads become updates for the studio slice.

use futures_util::future::BoxFuture;
use obws::{events::Event, responses::StatusCode, Client};

use super::status::{StudioReading, StudioUpdate};
use crate::{
    obs::Reread,
    status::update::{ObsUpdate, PollReading},
};

/// What `app` registers so that the connection hands this capability its events, reads its
/// slice in the poll, and re-reads it after the events that call for it ([`needs_reread`]).
pub const TRANSLATOR: crate::obs::Translator = crate::obs::Translator {
    translate: |event| translate(event).map(crate::status::update::ObsUpdate::Studio),
    event_type,
    poll: Some(read_into_poll),
    reread: Some(Reread {
        what: "studio mode and the transition",
        program_scene: true,
        after: needs_reread,
        read: reread,
    }),
    snapshot: None,
};

fn read_into_poll<'a>(
    client: &'a Client,
    reading: &'a mut PollReading,
) -> BoxFuture<'a, Result<(), obws::error::Error>> {
    crate::obs::events::store_poll_read(reading, read(client), |reading, read| {
        reading.studio = read
    })
}

fn reread(client: &Client) -> BoxFuture<'_, Result<ObsUpdate, obws::error::Error>> {
    Box::pin(async move {
        Ok(ObsUpdate::Studio(StudioUpdate::Reading(
            read(client).await?,
        )))
    })
}

/// The studio slice's events; None for others.
pub fn translate(event: &Event) -> Option<StudioUpdate> {
    Some(match event {
        Event::StudioModeStateChanged { enabled } => StudioUpdate::StudioMode(*enabled),
        Event::CurrentPreviewSceneChanged { id } => StudioUpdate::PreviewScene(id.name.clone()),
        Event::CurrentSceneTransitionChanged { id } => StudioUpdate::Transition(id.name.clone()),
        Event::CurrentSceneTransitionDurationChanged { duration } => {
            StudioUpdate::TransitionDuration(whole_millis(*duration))
        }
        Event::SceneTransitionStarted { .. } => StudioUpdate::TransitionStarted,
        Event::SceneTransitionEnded { .. } => StudioUpdate::TransitionEnded,
        _ => return None,
    })
}

/// The protocol name of the studio slice's events (a bounded label for metrics).
pub fn event_type(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::StudioModeStateChanged { .. } => "StudioModeStateChanged",
        Event::CurrentPreviewSceneChanged { .. } => "CurrentPreviewSceneChanged",
        Event::CurrentSceneTransitionChanged { .. } => "CurrentSceneTransitionChanged",
        Event::CurrentSceneTransitionDurationChanged { .. } => {
            "CurrentSceneTransitionDurationChanged"
        }
        Event::SceneTransitionStarted { .. } => "SceneTransitionStarted",
        Event::SceneTransitionEnded { .. } => "SceneTransitionEnded",
        _ => return None,
    })
}

/// Whether the connection must re-read the program scene and this slice after `update`: a
/// transition ended (OBS 32.2 skips CurrentProgramSceneChanged for interrupted switches), or the
/// current transition changed (its event does not carry the new one's duration).
pub fn needs_reread(update: &ObsUpdate) -> bool {
    matches!(
        update,
        ObsUpdate::Studio(StudioUpdate::TransitionEnded | StudioUpdate::Transition(_))
    )
}

fn whole_millis(duration: time::Duration) -> u64 {
    u64::try_from(duration.whole_milliseconds()).unwrap_or(0)
}

/// Reads studio mode, the preview scene (in studio mode) and the current transition.
pub async fn read(client: &Client) -> Result<StudioReading, obws::error::Error> {
    let studio_mode = client.ui().studio_mode_enabled().await?;
    let preview_scene = if studio_mode {
        match client.scenes().current_preview_scene().await {
            Ok(scene) => Some(scene.id.name),
            // Studio mode was left between the two requests.
            Err(obws::error::Error::Api {
                code: StatusCode::StudioModeNotActive,
                ..
            }) => None,
            Err(other) => return Err(other),
        }
    } else {
        None
    };
    let transition = client.transitions().current().await?;
    Ok(StudioReading {
        studio_mode,
        preview_scene,
        current_transition: Some(transition.id.name),
        transition_duration_ms: transition.duration.map(whole_millis),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn studio_events_become_updates_and_others_pass_through() {
        let uuid = "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11";
        let cases = [
            (
                serde_json::json!({"eventType": "StudioModeStateChanged",
                                   "eventData": {"studioModeEnabled": true}}),
                StudioUpdate::StudioMode(true),
            ),
            (
                serde_json::json!({"eventType": "CurrentPreviewSceneChanged",
                                   "eventData": {"sceneName": "Next", "sceneUuid": uuid}}),
                StudioUpdate::PreviewScene("Next".into()),
            ),
            (
                serde_json::json!({"eventType": "CurrentSceneTransitionChanged",
                                   "eventData": {"transitionName": "Cut", "transitionUuid": uuid}}),
                StudioUpdate::Transition("Cut".into()),
            ),
            (
                serde_json::json!({"eventType": "CurrentSceneTransitionDurationChanged",
                                   "eventData": {"transitionDuration": 750}}),
                StudioUpdate::TransitionDuration(750),
            ),
            (
                serde_json::json!({"eventType": "SceneTransitionEnded",
                                   "eventData": {"transitionName": "Fade", "transitionUuid": uuid}}),
                StudioUpdate::TransitionEnded,
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
