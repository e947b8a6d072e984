//! Studio mode's slice of an instance's status (preview scene, transition) and the pure rules
//! that apply what OBS reports to it.
//!
//! It lives in the status core because an instance's status is made of every capability's slice;
//! the capability itself (events, commands, routes) sits in the capability layer above, which
//! imports this module, never the reverse.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{kinds::ChangeKind, update::Change};

/// Studio mode and transitions, as last reported by OBS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StudioStatus {
    /// Whether OBS is in studio mode (null until read).
    pub studio_mode: Option<bool>,
    /// The scene on preview; null outside studio mode.
    pub preview_scene: Option<String>,
    /// The transition a take (or a scene switch) uses.
    pub current_transition: Option<String>,
    /// Its duration; null for a fixed transition (Cut) and until read.
    pub transition_duration_ms: Option<u64>,
    /// True from SceneTransitionStarted until SceneTransitionEnded.
    pub transition_running: bool,
}

/// What OBS told the hub about studio mode and transitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StudioUpdate {
    /// StudioModeStateChanged.
    StudioMode(bool),
    /// CurrentPreviewSceneChanged.
    PreviewScene(String),
    /// CurrentSceneTransitionChanged. The duration of the new transition is read afterwards.
    Transition(String),
    /// CurrentSceneTransitionDurationChanged.
    TransitionDuration(u64),
    /// SceneTransitionStarted.
    TransitionStarted,
    /// SceneTransitionEnded: the connection also re-reads the program scene, because OBS 32.2
    /// skips CurrentProgramSceneChanged for the switches a faster switch interrupted.
    TransitionEnded,
    /// A read of the whole slice (poll, or after a transition or a transition change).
    Reading(StudioReading),
}

/// The poll's read of studio mode and the current transition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StudioReading {
    pub studio_mode: bool,
    pub preview_scene: Option<String>,
    pub current_transition: Option<String>,
    pub transition_duration_ms: Option<u64>,
}

/// Applies one update; returns the whole slice after it when something changed (the slice is
/// small: subscribers get it entire, as `studio_changed`).
pub fn apply(studio: &mut StudioStatus, update: StudioUpdate) -> Option<StudioStatus> {
    let before = studio.clone();
    let reading_kind = matches!(update, StudioUpdate::Reading(_));
    match update {
        StudioUpdate::StudioMode(enabled) => {
            studio.studio_mode = Some(enabled);
            if !enabled {
                // OBS has no preview outside studio mode.
                studio.preview_scene = None;
            }
        }
        StudioUpdate::PreviewScene(scene) => studio.preview_scene = Some(scene),
        StudioUpdate::Transition(name) => studio.current_transition = Some(name),
        StudioUpdate::TransitionDuration(ms) => studio.transition_duration_ms = Some(ms),
        StudioUpdate::TransitionStarted => studio.transition_running = true,
        StudioUpdate::TransitionEnded => studio.transition_running = false,
        StudioUpdate::Reading(reading) => apply_reading(studio, reading),
    }
    // The first read is not news (as for the outputs): the status has it, and subscribers get
    // the whole status when they join.
    let first_read = before.studio_mode.is_none() && studio.studio_mode.is_some() && reading_kind;
    (!first_read && *studio != before).then(|| studio.clone())
}

/// A read replaces what it covers; whether a transition runs is known from events only.
fn apply_reading(studio: &mut StudioStatus, reading: StudioReading) {
    studio.studio_mode = Some(reading.studio_mode);
    studio.preview_scene = if reading.studio_mode {
        reading.preview_scene
    } else {
        None
    };
    studio.current_transition = reading.current_transition;
    studio.transition_duration_ms = reading.transition_duration_ms;
}

/// A renamed scene stays on preview under its new name.
pub fn rename_scene(studio: &mut StudioStatus, old: &str, new: &str) -> Option<StudioStatus> {
    if studio.preview_scene.as_deref() != Some(old) {
        return None;
    }
    studio.preview_scene = Some(new.to_string());
    Some(studio.clone())
}

/// Studio mode, preview scene, transition. Newer than the webhook endpoints that exist: sent
/// only to endpoints that list it.
pub static STUDIO_CHANGED: ChangeKind = ChangeKind {
    name: "studio_changed",
    recorded: true,
    webhook_default: false,
    payload: |change| match change {
        Change::StudioChanged(change) => serde_json::json!(change),
        _ => serde_json::Value::Null,
    },
    callback: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(studio_mode: bool, preview: Option<&str>) -> StudioReading {
        StudioReading {
            studio_mode,
            preview_scene: preview.map(Into::into),
            current_transition: Some("Fade".into()),
            transition_duration_ms: Some(300),
        }
    }

    #[test]
    fn events_change_the_slice_once() {
        let mut studio = StudioStatus::default();
        let on = apply(&mut studio, StudioUpdate::StudioMode(true)).unwrap();
        assert_eq!(on.studio_mode, Some(true));
        assert!(apply(&mut studio, StudioUpdate::StudioMode(true)).is_none());
        apply(&mut studio, StudioUpdate::PreviewScene("Next".into())).unwrap();
        assert_eq!(studio.preview_scene.as_deref(), Some("Next"));
        assert!(
            apply(&mut studio, StudioUpdate::TransitionStarted)
                .unwrap()
                .transition_running
        );
        assert!(
            !apply(&mut studio, StudioUpdate::TransitionEnded)
                .unwrap()
                .transition_running
        );
        apply(&mut studio, StudioUpdate::Transition("Cut".into())).unwrap();
        apply(&mut studio, StudioUpdate::TransitionDuration(750)).unwrap();
        assert_eq!(studio.current_transition.as_deref(), Some("Cut"));
        assert_eq!(studio.transition_duration_ms, Some(750));
        let off = apply(&mut studio, StudioUpdate::StudioMode(false)).unwrap();
        assert_eq!(off.preview_scene, None, "no preview outside studio mode");
    }

    #[test]
    fn readings_repair_the_slice_and_are_news_only_when_they_differ() {
        let mut studio = StudioStatus::default();
        let first = apply(&mut studio, StudioUpdate::Reading(reading(true, Some("A"))));
        assert!(first.is_none(), "the first read is not news");
        assert_eq!(studio.preview_scene.as_deref(), Some("A"));
        assert!(apply(&mut studio, StudioUpdate::Reading(reading(true, Some("A")))).is_none());
        apply(&mut studio, StudioUpdate::TransitionStarted);
        let off = apply(
            &mut studio,
            StudioUpdate::Reading(reading(false, Some("A"))),
        )
        .unwrap();
        assert_eq!(off.studio_mode, Some(false));
        assert_eq!(off.preview_scene, None);
        assert!(off.transition_running, "only events end a transition");
    }

    #[test]
    fn a_renamed_preview_scene_follows_its_name() {
        let mut studio = StudioStatus {
            preview_scene: Some("Old".into()),
            ..StudioStatus::default()
        };
        assert!(rename_scene(&mut studio, "Other", "X").is_none());
        assert_eq!(
            rename_scene(&mut studio, "Old", "New")
                .unwrap()
                .preview_scene
                .as_deref(),
            Some("New")
        );
    }
}
