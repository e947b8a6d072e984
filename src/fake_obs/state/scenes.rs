//! The Scenes category: the scene list (top of OBS's Scenes dock first), the program scene, and
//! creating, removing and renaming scenes, with the events OBS emits for each.

use std::time::Instant;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{required_string, ObsEvent, ObsState, Outcome, Request, Scene};
use crate::fake_obs::protocol::{intent, status};

pub(super) const REQUESTS: &[&str] = &[
    "GetSceneList",
    "GetCurrentProgramScene",
    "SetCurrentProgramScene",
    "CreateScene",
    "RemoveScene",
    "SetSceneName",
];

/// Answers one of [`REQUESTS`] (see `super::CATEGORIES`).
pub(super) fn answer(
    state: &mut ObsState,
    request: &Request<'_>,
    _now: Instant,
) -> Result<Outcome, Outcome> {
    let data = request.data;
    Ok(match request.request_type {
        "GetSceneList" => {
            let program = state.program_scene();
            // Outside studio mode OBS reports null preview fields.
            let preview = state
                .studio
                .preview_uuid()
                .map(|uuid| state.scene_by_uuid(uuid));
            Outcome::success(Some(json!({
                "currentProgramSceneName": program.name,
                "currentProgramSceneUuid": program.uuid,
                "currentPreviewSceneName": preview.map(|scene| &scene.name),
                "currentPreviewSceneUuid": preview.map(|scene| &scene.uuid),
                "scenes": state.scene_list_json(),
            })))
        }
        "GetCurrentProgramScene" => {
            let program = state.program_scene();
            Outcome::success(Some(json!({
                "sceneName": program.name,
                "sceneUuid": program.uuid,
                "currentProgramSceneName": program.name,
                "currentProgramSceneUuid": program.uuid,
            })))
        }
        "SetCurrentProgramScene" => {
            let position = requested_scene(state, data)?;
            Outcome::success(None).with_events(state.set_program_scene(position))
        }
        "CreateScene" => {
            let name = required_string(data, "sceneName")?;
            let (uuid, events) = state.create_scene(name).ok_or_else(|| {
                Outcome::error(
                    status::RESOURCE_ALREADY_EXISTS,
                    Some("A source already exists by that scene name.".into()),
                )
            })?;
            Outcome::success(Some(json!({ "sceneUuid": uuid }))).with_events(events)
        }
        "RemoveScene" => {
            let position = requested_scene(state, data)?;
            let events = state.remove_scene_at(position).ok_or_else(|| {
                Outcome::error(
                    status::NOT_ENOUGH_RESOURCES,
                    Some("You cannot remove the last scene in the collection.".into()),
                )
            })?;
            Outcome::success(None).with_events(events)
        }
        "SetSceneName" => {
            let position = requested_scene(state, data)?;
            let new_name = required_string(data, "newSceneName")?;
            // Renaming a scene to its own name also fails in OBS: the name is taken (by itself).
            if state.position_by_name(new_name).is_some() {
                return Err(Outcome::error(
                    status::RESOURCE_ALREADY_EXISTS,
                    Some("A source already exists by that new scene name.".into()),
                ));
            }
            Outcome::success(None).with_events(state.rename_scene_at(position, new_name))
        }
        _ => Outcome::error(status::UNKNOWN_REQUEST_TYPE, None),
    })
}

/// Finds the scene a request names by `sceneUuid` (preferred, as obs-websocket does) or
/// `sceneName`, with obs-websocket 5.5's errors.
pub(in crate::fake_obs) fn requested_scene(
    state: &ObsState,
    data: Option<&Map<String, Value>>,
) -> Result<usize, Outcome> {
    let field = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_str);
    if let Some(uuid) = field("sceneUuid") {
        return state
            .scenes
            .iter()
            .position(|scene| scene.uuid.eq_ignore_ascii_case(uuid))
            .ok_or_else(|| {
                Outcome::error(
                    status::RESOURCE_NOT_FOUND,
                    Some(format!("No source was found by the UUID of `{uuid}`.")),
                )
            });
    }
    if let Some(name) = field("sceneName") {
        return state.position_by_name(name).ok_or_else(|| {
            Outcome::error(
                status::RESOURCE_NOT_FOUND,
                Some(format!("No source was found by the name of `{name}`.")),
            )
        });
    }
    Err(Outcome::error(
        status::MISSING_REQUEST_FIELD,
        Some(
            "Your request must contain at least one of the following fields: `sceneName` or \
             `sceneUuid`."
                .into(),
        ),
    ))
}

impl ObsState {
    /// The scene with this uuid (the program scene if there is none: callers hold known uuids).
    pub(in crate::fake_obs) fn scene_by_uuid(&self, uuid: &str) -> &Scene {
        self.scenes
            .iter()
            .find(|scene| scene.uuid == uuid)
            .unwrap_or_else(|| self.program_scene())
    }
    pub(in crate::fake_obs) fn position_by_uuid(&self, uuid: &str) -> usize {
        self.scenes
            .iter()
            .position(|scene| scene.uuid == uuid)
            .unwrap_or(0)
    }
    pub(in crate::fake_obs) fn scene_uuid_at(&self, position: usize) -> String {
        self.scenes[position].uuid.clone()
    }
    /// Scene names, top of the Scenes dock first.
    pub fn scene_names(&self) -> Vec<String> {
        self.scenes.iter().map(|scene| scene.name.clone()).collect()
    }
    pub fn program_scene(&self) -> &Scene {
        self.scenes
            .iter()
            .find(|scene| scene.uuid == self.program_scene_uuid)
            // The constructor and every removal keep the program scene in the list.
            .unwrap_or(&self.scenes[0])
    }
    pub(in crate::fake_obs) fn position_by_name(&self, name: &str) -> Option<usize> {
        self.scenes.iter().position(|scene| scene.name == name)
    }
    /// The scene array of GetSceneList and SceneListChanged. obs-websocket lists scenes bottom
    /// of the dock first, and `sceneIndex` 0 is the bottom scene.
    pub(super) fn scene_list_json(&self) -> Value {
        self.scenes
            .iter()
            .rev()
            .enumerate()
            .map(|(index, scene)| {
                json!({ "sceneName": scene.name, "sceneUuid": scene.uuid, "sceneIndex": index })
            })
            .collect()
    }
    pub(super) fn scene_list_changed(&self) -> ObsEvent {
        ObsEvent::new(
            "SceneListChanged",
            intent::SCENES,
            json!({ "scenes": self.scene_list_json() }),
        )
    }
    pub(super) fn program_scene_changed(&self) -> ObsEvent {
        let scene = self.program_scene();
        ObsEvent::new(
            "CurrentProgramSceneChanged",
            intent::SCENES,
            json!({ "sceneName": scene.name, "sceneUuid": scene.uuid }),
        )
    }
    /// Makes the scene at `position` the program scene. Like clicking the scene that is
    /// already live, choosing the current scene changes nothing and emits nothing.
    pub(in crate::fake_obs) fn set_program_scene(&mut self, position: usize) -> Vec<ObsEvent> {
        let uuid = self.scenes[position].uuid.clone();
        if uuid == self.program_scene_uuid {
            return Vec::new();
        }
        self.program_scene_uuid = uuid;
        vec![self.program_scene_changed()]
    }
    /// The user clicked a scene in OBS. `None` if there is no scene by that name.
    pub fn switch_scene_by_name(&mut self, name: &str) -> Option<Vec<ObsEvent>> {
        let position = self.position_by_name(name)?;
        Some(self.set_program_scene(position))
    }
    /// Adds a scene at the bottom of the dock, as OBS does. `None` if the name is taken.
    pub fn create_scene(&mut self, name: &str) -> Option<(String, Vec<ObsEvent>)> {
        if self.position_by_name(name).is_some() {
            return None;
        }
        let scene = Scene {
            name: name.to_owned(),
            uuid: Uuid::new_v4().to_string(),
        };
        let created = ObsEvent::new(
            "SceneCreated",
            intent::SCENES,
            json!({ "sceneName": scene.name, "sceneUuid": scene.uuid, "isGroup": false }),
        );
        let uuid = scene.uuid.clone();
        self.scenes.push(scene);
        Some((uuid, vec![created, self.scene_list_changed()]))
    }
    /// Removes the scene at `position`. If it was live, OBS moves the program to the scene
    /// that takes its place in the dock (or the one above when it was the bottom one).
    /// `None` for the last remaining scene: OBS never leaves a collection without one.
    pub(super) fn remove_scene_at(&mut self, position: usize) -> Option<Vec<ObsEvent>> {
        if self.scenes.len() < 2 {
            return None;
        }
        let removed = self.scenes.remove(position);
        let mut events = vec![ObsEvent::new(
            "SceneRemoved",
            intent::SCENES,
            json!({ "sceneName": removed.name, "sceneUuid": removed.uuid, "isGroup": false }),
        )];
        if removed.uuid == self.program_scene_uuid {
            let next = position.min(self.scenes.len() - 1);
            self.program_scene_uuid = self.scenes[next].uuid.clone();
            events.push(self.program_scene_changed());
        }
        events.push(self.scene_list_changed());
        Some(events)
    }
    /// The user removed a scene in OBS. `None` if there is no such scene or it is the last one.
    pub fn remove_scene_by_name(&mut self, name: &str) -> Option<Vec<ObsEvent>> {
        let position = self.position_by_name(name)?;
        self.remove_scene_at(position)
    }
    pub(super) fn rename_scene_at(&mut self, position: usize, new_name: &str) -> Vec<ObsEvent> {
        let scene = &mut self.scenes[position];
        let old_name = std::mem::replace(&mut scene.name, new_name.to_owned());
        let renamed = ObsEvent::new(
            "SceneNameChanged",
            intent::SCENES,
            json!({ "sceneUuid": scene.uuid, "oldSceneName": old_name, "sceneName": new_name }),
        );
        vec![renamed, self.scene_list_changed()]
    }
    /// The user renamed a scene in OBS. `None` if `old` does not exist or `new` is taken.
    pub fn rename_scene_by_name(&mut self, old: &str, new: &str) -> Option<Vec<ObsEvent>> {
        let position = self.position_by_name(old)?;
        if self.position_by_name(new).is_some() {
            return None;
        }
        Some(self.rename_scene_at(position, new))
    }
}
