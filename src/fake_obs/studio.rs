//! The simulated studio mode and scene transitions, with obs-websocket 5.5's requests, events,
//! codes and comments (RequestHandler_Ui.cpp, RequestHandler_Scenes.cpp,
//! RequestHandler_Transitions.cpp). OBS's defaults: studio mode off, the transitions Cut (fixed)
//! and Fade (300 ms, current), scenes swapped on a take (the preview gets the old program scene).
//!
//! A take completes at once: the fake emits SceneTransitionStarted, CurrentProgramSceneChanged,
//! CurrentPreviewSceneChanged and SceneTransitionEnded together, in OBS's order.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::protocol::{intent, status};
use super::state::{requested_scene, ObsEvent, ObsState, Outcome};

/// The requests answered here.
pub const REQUESTS: &[&str] = &[
    "GetStudioModeEnabled",
    "SetStudioModeEnabled",
    "GetCurrentPreviewScene",
    "SetCurrentPreviewScene",
    "GetSceneTransitionList",
    "GetCurrentSceneTransition",
    "SetCurrentSceneTransition",
    "SetCurrentSceneTransitionDuration",
    "TriggerStudioModeTransition",
    "SetTBarPosition",
];

#[derive(Debug, Clone)]
struct Transition {
    name: &'static str,
    uuid: String,
    kind: &'static str,
    fixed: bool,
}

/// Studio mode and the transitions.
#[derive(Debug, Clone)]
pub struct Studio {
    enabled: bool,
    preview_uuid: Option<String>,
    transitions: Vec<Transition>,
    current: usize,
    duration_ms: u64,
}

impl Default for Studio {
    fn default() -> Self {
        let transition = |name, kind, fixed| Transition {
            name,
            uuid: Uuid::new_v4().to_string(),
            kind,
            fixed,
        };
        Self {
            enabled: false,
            preview_uuid: None,
            transitions: vec![
                transition("Cut", "cut_transition", true),
                transition("Fade", "fade_transition", false),
            ],
            current: 1,
            duration_ms: 300,
        }
    }
}

impl Studio {
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn preview_uuid(&self) -> Option<&str> {
        self.enabled
            .then_some(self.preview_uuid.as_deref())
            .flatten()
    }

    pub fn current_transition(&self) -> &'static str {
        self.transitions[self.current].name
    }

    pub fn duration_ms(&self) -> u64 {
        self.duration_ms
    }

    fn transition_event(&self, event_type: &str) -> ObsEvent {
        let transition = &self.transitions[self.current];
        ObsEvent::new(
            event_type,
            intent::TRANSITIONS,
            json!({ "transitionName": transition.name, "transitionUuid": transition.uuid }),
        )
    }
}

fn preview_event(state: &ObsState, uuid: &str) -> ObsEvent {
    let scene = state.scene_by_uuid(uuid);
    ObsEvent::new(
        "CurrentPreviewSceneChanged",
        intent::SCENES,
        json!({ "sceneName": scene.name, "sceneUuid": scene.uuid }),
    )
}

/// 506, without a comment (as OBS 30.2.3 and 32.2.2 answer it).
fn not_active() -> Outcome {
    Outcome::error(status::STUDIO_MODE_NOT_ACTIVE, None)
}

/// Turns studio mode on or off; on, the preview starts as the program scene, as in OBS.
pub fn set_enabled(state: &mut ObsState, enabled: bool) -> Vec<ObsEvent> {
    if state.studio().enabled == enabled {
        return Vec::new();
    }
    let program = state.program_scene().uuid.clone();
    let studio = state.studio_mut();
    studio.enabled = enabled;
    let mut events = vec![ObsEvent::new(
        "StudioModeStateChanged",
        intent::UI,
        json!({ "studioModeEnabled": enabled }),
    )];
    if enabled {
        studio.preview_uuid = Some(program.clone());
        events.push(preview_event(state, &program));
    }
    events
}

/// Takes preview to program with the current transition, swapping the two scenes.
fn take(state: &mut ObsState) -> Vec<ObsEvent> {
    let Some(preview) = state.studio().preview_uuid().map(str::to_owned) else {
        return Vec::new();
    };
    let old_program = state.program_scene().uuid.clone();
    let mut events = vec![state.studio().transition_event("SceneTransitionStarted")];
    let position = state.position_by_uuid(&preview);
    events.extend(state.set_program_scene(position));
    if old_program != preview {
        state.studio_mut().preview_uuid = Some(old_program.clone());
        events.push(preview_event(state, &old_program));
    }
    events.push(state.studio().transition_event("SceneTransitionEnded"));
    events
}

/// As OBS 32.2 does for a switch that a faster one interrupted: the program scene changes, the
/// transition starts and ends, and no CurrentProgramSceneChanged is emitted. None if there is no
/// such scene.
pub fn switch_interrupted(state: &mut ObsState, name: &str) -> Option<Vec<ObsEvent>> {
    let position = state.position_by_name(name)?;
    let events = vec![
        state.studio().transition_event("SceneTransitionStarted"),
        state.studio().transition_event("SceneTransitionEnded"),
    ];
    // The program scene's own event is what OBS skips.
    drop(state.set_program_scene(position));
    Some(events)
}

fn field<'a>(data: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    data.and_then(|d| d.get(key))
        .filter(|value| !value.is_null())
}

fn missing(key: &str) -> Outcome {
    Outcome::error(
        status::MISSING_REQUEST_FIELD,
        Some(format!("Your request is missing the `{key}` field.")),
    )
}

fn wrong_type(key: &str, kind: &str) -> Outcome {
    Outcome::error(
        status::INVALID_REQUEST_FIELD_TYPE,
        Some(format!("The field value of `{key}` must be {kind}.")),
    )
}

/// Answers one of [`REQUESTS`] (the caller routes only those here).
pub fn answer(
    state: &mut ObsState,
    request_type: &str,
    data: Option<&Map<String, Value>>,
) -> Result<Outcome, Outcome> {
    Ok(match request_type {
        "GetStudioModeEnabled" => {
            Outcome::success(Some(json!({ "studioModeEnabled": state.studio().enabled })))
        }
        "SetStudioModeEnabled" => {
            let enabled = field(data, "studioModeEnabled")
                .ok_or_else(|| missing("studioModeEnabled"))?
                .as_bool()
                .ok_or_else(|| wrong_type("studioModeEnabled", "a boolean"))?;
            Outcome::success(None).with_events(set_enabled(state, enabled))
        }
        "GetCurrentPreviewScene" => {
            let uuid = state.studio().preview_uuid().ok_or_else(not_active)?;
            let scene = state.scene_by_uuid(uuid);
            Outcome::success(Some(json!({
                "sceneName": scene.name,
                "sceneUuid": scene.uuid,
                "currentPreviewSceneName": scene.name,
                "currentPreviewSceneUuid": scene.uuid,
            })))
        }
        "SetCurrentPreviewScene" => {
            if !state.studio().enabled {
                return Err(not_active());
            }
            let position = requested_scene(state, data)?;
            let uuid = state.scene_uuid_at(position);
            if state.studio().preview_uuid() == Some(uuid.as_str()) {
                return Ok(Outcome::success(None));
            }
            state.studio_mut().preview_uuid = Some(uuid.clone());
            Outcome::success(None).with_events(vec![preview_event(state, &uuid)])
        }
        "GetSceneTransitionList" => {
            let studio = state.studio();
            let current = &studio.transitions[studio.current];
            Outcome::success(Some(json!({
                "currentSceneTransitionName": current.name,
                "currentSceneTransitionUuid": current.uuid,
                "currentSceneTransitionKind": current.kind,
                "transitions": studio.transitions.iter().map(|t| json!({
                    "transitionName": t.name,
                    "transitionUuid": t.uuid,
                    "transitionKind": t.kind,
                    "transitionFixed": t.fixed,
                    // OBS 30.2 and 32.2 report even Fade as not configurable.
                    "transitionConfigurable": false,
                })).collect::<Vec<_>>(),
            })))
        }
        "GetCurrentSceneTransition" => {
            let studio = state.studio();
            let current = &studio.transitions[studio.current];
            Outcome::success(Some(json!({
                "transitionName": current.name,
                "transitionUuid": current.uuid,
                "transitionKind": current.kind,
                "transitionFixed": current.fixed,
                "transitionDuration": (!current.fixed).then_some(studio.duration_ms),
                "transitionConfigurable": false,
                "transitionSettings": null,
            })))
        }
        "SetCurrentSceneTransition" => {
            let name = field(data, "transitionName")
                .ok_or_else(|| missing("transitionName"))?
                .as_str()
                .ok_or_else(|| wrong_type("transitionName", "a string"))?;
            let studio = state.studio_mut();
            let index = studio
                .transitions
                .iter()
                .position(|t| t.name == name)
                .ok_or_else(|| {
                    Outcome::error(
                        status::RESOURCE_NOT_FOUND,
                        Some("No scene transition was found by that name.".into()),
                    )
                })?;
            if index == studio.current {
                return Ok(Outcome::success(None));
            }
            studio.current = index;
            Outcome::success(None).with_events(vec![
                studio.transition_event("CurrentSceneTransitionChanged")
            ])
        }
        "SetCurrentSceneTransitionDuration" => {
            let value = field(data, "transitionDuration")
                .ok_or_else(|| missing("transitionDuration"))?
                .as_f64()
                .ok_or_else(|| wrong_type("transitionDuration", "a number"))?;
            if !(50.0..=20_000.0).contains(&value) {
                let bound = if value < 50.0 {
                    "below the minimum of `50.000000`"
                } else {
                    "above the maximum of `20000.000000`"
                };
                return Err(Outcome::error(
                    status::REQUEST_FIELD_OUT_OF_RANGE,
                    Some(format!(
                        "The field value of `transitionDuration` is {bound}"
                    )),
                ));
            }
            let studio = state.studio_mut();
            if studio.transitions[studio.current].fixed {
                return Err(Outcome::error(
                    status::INVALID_RESOURCE_STATE,
                    Some("The current scene transition is fixed and has no duration.".into()),
                ));
            }
            let ms = value as u64;
            if ms == studio.duration_ms {
                return Ok(Outcome::success(None));
            }
            studio.duration_ms = ms;
            Outcome::success(None).with_events(vec![ObsEvent::new(
                "CurrentSceneTransitionDurationChanged",
                intent::TRANSITIONS,
                json!({ "transitionDuration": ms }),
            )])
        }
        "TriggerStudioModeTransition" => {
            if !state.studio().enabled {
                return Err(not_active());
            }
            Outcome::success(None).with_events(take(state))
        }
        "SetTBarPosition" => {
            if !state.studio().enabled {
                return Err(not_active());
            }
            let position = field(data, "position")
                .ok_or_else(|| missing("position"))?
                .as_f64()
                .ok_or_else(|| wrong_type("position", "a number"))?;
            if !(0.0..=1.0).contains(&position) {
                return Err(Outcome::error(
                    status::REQUEST_FIELD_OUT_OF_RANGE,
                    Some("The field value of `position` is out of range.".into()),
                ));
            }
            let studio = state.studio();
            if studio.transitions[studio.current].fixed {
                return Err(Outcome::error(
                    status::INVALID_RESOURCE_STATE,
                    Some("Cannot set the T-bar position of a fixed transition.".into()),
                ));
            }
            let release = field(data, "release")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            // Released at the end, the T-bar completes the take, as in OBS.
            let events = if release && position >= 1.0 {
                take(state)
            } else {
                Vec::new()
            };
            Outcome::success(None).with_events(events)
        }
        _ => Outcome::error(status::UNKNOWN_REQUEST_TYPE, None),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::obs_protocol::object;

    fn state() -> ObsState {
        ObsState::new(
            &["Live".to_string(), "Break".to_string()],
            "30.2.3",
            "5.5.2",
            Instant::now(),
        )
    }

    #[test]
    fn preview_and_take_swap_the_scenes_only_in_studio_mode() {
        let mut obs = state();
        let preview = object(json!({"sceneName": "Break"}));
        let refused = answer(&mut obs, "SetCurrentPreviewScene", Some(&preview));
        assert_eq!(refused.unwrap_err().code, status::STUDIO_MODE_NOT_ACTIVE);
        let take_off = answer(&mut obs, "TriggerStudioModeTransition", None);
        assert_eq!(take_off.unwrap_err().code, status::STUDIO_MODE_NOT_ACTIVE);
        let on = object(json!({"studioModeEnabled": true}));
        let enabled = answer(&mut obs, "SetStudioModeEnabled", Some(&on)).unwrap();
        assert_eq!(
            enabled.event_types(),
            ["StudioModeStateChanged", "CurrentPreviewSceneChanged"]
        );
        answer(&mut obs, "SetCurrentPreviewScene", Some(&preview)).unwrap();
        let taken = answer(&mut obs, "TriggerStudioModeTransition", None).unwrap();
        assert_eq!(
            taken.event_types(),
            [
                "SceneTransitionStarted",
                "CurrentProgramSceneChanged",
                "CurrentPreviewSceneChanged",
                "SceneTransitionEnded"
            ]
        );
        assert_eq!(obs.program_scene().name, "Break");
        let live = obs.program_scene().uuid.clone();
        assert_ne!(obs.studio().preview_uuid(), Some(live.as_str()));
    }

    #[test]
    fn transitions_and_durations_follow_obs_rules() {
        let mut obs = state();
        let cut = object(json!({"transitionName": "Cut"}));
        let changed = answer(&mut obs, "SetCurrentSceneTransition", Some(&cut)).unwrap();
        assert_eq!(changed.event_types(), ["CurrentSceneTransitionChanged"]);
        let duration = object(json!({"transitionDuration": 500}));
        let fixed = answer(
            &mut obs,
            "SetCurrentSceneTransitionDuration",
            Some(&duration),
        );
        assert_eq!(fixed.unwrap_err().code, status::INVALID_RESOURCE_STATE);
        let fade = object(json!({"transitionName": "Fade"}));
        answer(&mut obs, "SetCurrentSceneTransition", Some(&fade)).unwrap();
        answer(
            &mut obs,
            "SetCurrentSceneTransitionDuration",
            Some(&duration),
        )
        .unwrap();
        assert_eq!(obs.studio().duration_ms(), 500);
        let unknown = object(json!({"transitionName": "Swipe"}));
        let missing = answer(&mut obs, "SetCurrentSceneTransition", Some(&unknown));
        assert_eq!(missing.unwrap_err().code, status::RESOURCE_NOT_FOUND);
        let too_long = object(json!({"transitionDuration": 20_001}));
        let range = answer(
            &mut obs,
            "SetCurrentSceneTransitionDuration",
            Some(&too_long),
        );
        assert_eq!(range.unwrap_err().code, status::REQUEST_FIELD_OUT_OF_RANGE);
    }

    #[test]
    fn an_interrupted_switch_changes_program_without_its_event() {
        let mut obs = state();
        let events = switch_interrupted(&mut obs, "Break").unwrap();
        let names: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert_eq!(names, ["SceneTransitionStarted", "SceneTransitionEnded"]);
        assert_eq!(obs.program_scene().name, "Break");
    }
}
