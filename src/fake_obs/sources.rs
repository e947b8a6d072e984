//! The simulated sources: scene items (a group and a doubled source included), inputs with
//! settings, a media input, a filter, profiles, scene collections and hotkeys, with
//! obs-websocket 5.5's requests, events and codes (RequestHandler_SceneItems.cpp, _Inputs,
//! _MediaInputs, _Filters, _Config, _General).
//!
//! Items are kept per scene or group name; renaming a scene in the fake does not move its items.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::protocol::{intent, status};
use super::state::{required_string, FollowUp, ObsEvent, Outcome};

#[derive(Debug, Clone)]
struct Item {
    id: i64,
    source: String,
    /// An input kind, or `scene` / `group`.
    kind: String,
    enabled: bool,
    locked: bool,
}

#[derive(Debug, Clone)]
struct Input {
    name: String,
    kind: String,
    settings: Map<String, Value>,
    /// OBS_MEDIA_STATE_* for media inputs.
    media_state: &'static str,
    cursor_ms: i64,
}

#[derive(Debug, Clone)]
struct Filter {
    name: String,
    kind: String,
    enabled: bool,
}

/// Length of the simulated clip.
const CLIP_MS: i64 = 5000;

/// Everything about sources in one simulated OBS.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Items by scene or group name, bottom first.
    items: BTreeMap<String, Vec<Item>>,
    inputs: Vec<Input>,
    filters: BTreeMap<String, Vec<Filter>>,
    hotkeys: Vec<String>,
    profiles: Vec<String>,
    profile: String,
    collections: Vec<String>,
    collection: String,
    /// The collection a SetCurrentSceneCollection is switching to, until the switch ends.
    switching_to: Option<String>,
}

fn item(id: i64, source: &str, kind: &str) -> Item {
    Item {
        id,
        source: source.into(),
        kind: kind.into(),
        enabled: true,
        locked: false,
    }
}

fn input(name: &str, kind: &str, settings: Value) -> Input {
    Input {
        name: name.into(),
        kind: kind.into(),
        settings: settings.as_object().cloned().unwrap_or_default(),
        media_state: "OBS_MEDIA_STATE_STOPPED",
        cursor_ms: 0,
    }
}

impl Sources {
    /// `scene` (one of the fake's scenes) holds a colour source, a text source, a group with a
    /// text inside, a media source and the same image twice; the colour source has a filter.
    pub fn new(scene: &str) -> Self {
        let mut items = BTreeMap::new();
        items.insert(
            scene.to_string(),
            vec![
                item(1, "Background", "color_source_v3"),
                item(2, "Title", "text_ft2_source_v2"),
                item(3, "Lower third", "group"),
                item(5, "Intro clip", "ffmpeg_source"),
                item(6, "Logo", "image_source"),
                item(7, "Logo", "image_source"),
            ],
        );
        items.insert(
            "Lower third".to_string(),
            vec![item(4, "Name", "text_ft2_source_v2")],
        );
        let mut filters = BTreeMap::new();
        filters.insert(
            "Background".to_string(),
            vec![Filter {
                name: "Tint".into(),
                kind: "color_filter_v2".into(),
                enabled: false,
            }],
        );
        Sources {
            items,
            inputs: vec![
                input(
                    "Background",
                    "color_source_v3",
                    json!({ "color": 4278190335_u64 }),
                ),
                input("Title", "text_ft2_source_v2", json!({ "text": "Welcome" })),
                input("Name", "text_ft2_source_v2", json!({ "text": "Guest" })),
                input(
                    "Intro clip",
                    "ffmpeg_source",
                    json!({ "local_file": "/media/intro.mp4" }),
                ),
                input("Logo", "image_source", json!({ "file": "/media/logo.png" })),
            ],
            filters,
            hotkeys: vec![
                "OBSBasic.StartStreaming".into(),
                "OBSBasic.StopStreaming".into(),
                "OBSBasic.Screenshot".into(),
            ],
            profiles: vec!["Untitled".into(), "Show".into()],
            profile: "Untitled".into(),
            collections: vec!["Untitled".into(), "Show".into()],
            collection: "Untitled".into(),
            switching_to: None,
        }
    }

    /// Whether the item `id` of `scene` is shown (tests read OBS's side with it).
    pub fn item_enabled(&self, scene: &str, id: i64) -> Option<bool> {
        self.find(scene, id).map(|item| item.enabled)
    }

    pub fn input_settings(&self, name: &str) -> Option<Value> {
        self.input(name)
            .map(|input| Value::Object(input.settings.clone()))
    }

    pub fn filter_enabled(&self, source: &str, filter: &str) -> Option<bool> {
        self.filters
            .get(source)?
            .iter()
            .find(|known| known.name == filter)
            .map(|known| known.enabled)
    }

    pub fn media_state(&self, name: &str) -> Option<&'static str> {
        self.input(name).map(|input| input.media_state)
    }

    pub fn profile(&self) -> &str {
        &self.profile
    }

    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// Like the user hiding or showing an item in OBS's Sources dock.
    pub fn set_item_enabled(&mut self, scene: &str, id: i64, enabled: bool) -> Vec<ObsEvent> {
        let Some(item) = self.find_mut(scene, id) else {
            return Vec::new();
        };
        item.enabled = enabled;
        vec![ObsEvent::new(
            "SceneItemEnableStateChanged",
            intent::SCENE_ITEMS,
            json!({ "sceneName": scene, "sceneUuid": uuid_of(scene), "sceneItemId": id,
                    "sceneItemEnabled": enabled }),
        )]
    }

    /// Like the user adding a new source to `scene` in OBS: the input and an item of it on top
    /// of the scene; InputCreated then SceneItemCreated. None if the name is taken or there is
    /// no such scene or group with items.
    pub fn create_input(&mut self, scene: &str, name: &str, kind: &str) -> Option<Vec<ObsEvent>> {
        if self.has_input(name) || !self.items.contains_key(scene) {
            return None;
        }
        let id = self
            .items
            .values()
            .flatten()
            .map(|item| item.id)
            .max()
            .unwrap_or(0)
            + 1;
        self.inputs.push(input(name, kind, json!({})));
        let items = self.items.get_mut(scene)?;
        items.push(item(id, name, kind));
        let index = items.len() - 1;
        Some(vec![
            ObsEvent::new(
                "InputCreated",
                intent::INPUTS,
                json!({ "inputName": name, "inputUuid": uuid_of(name), "inputKind": kind,
                        "unversionedInputKind": kind, "inputKindCaps": 0,
                        "inputSettings": {}, "defaultInputSettings": {} }),
            ),
            ObsEvent::new(
                "SceneItemCreated",
                intent::SCENE_ITEMS,
                json!({ "sceneName": scene, "sceneUuid": uuid_of(scene), "sourceName": name,
                        "sourceUuid": uuid_of(name), "sceneItemId": id,
                        "sceneItemIndex": index }),
            ),
        ])
    }

    /// Like the user removing an input in OBS: SceneItemRemoved for each of its items, then
    /// InputRemoved. None if there is no such input.
    pub fn remove_input(&mut self, name: &str) -> Option<Vec<ObsEvent>> {
        let at = self.inputs.iter().position(|input| input.name == name)?;
        self.inputs.remove(at);
        let mut events = Vec::new();
        for (scene, items) in &mut self.items {
            for removed in items.iter().filter(|item| item.source == name) {
                events.push(ObsEvent::new(
                    "SceneItemRemoved",
                    intent::SCENE_ITEMS,
                    json!({ "sceneName": scene, "sceneUuid": uuid_of(scene), "sourceName": name,
                            "sourceUuid": uuid_of(name), "sceneItemId": removed.id }),
                ));
            }
            items.retain(|item| item.source != name);
        }
        events.push(ObsEvent::new(
            "InputRemoved",
            intent::INPUTS,
            json!({ "inputName": name, "inputUuid": uuid_of(name) }),
        ));
        Some(events)
    }

    fn find(&self, scene: &str, id: i64) -> Option<&Item> {
        self.items.get(scene)?.iter().find(|item| item.id == id)
    }

    fn find_mut(&mut self, scene: &str, id: i64) -> Option<&mut Item> {
        self.items
            .get_mut(scene)?
            .iter_mut()
            .find(|item| item.id == id)
    }

    /// Whether an input of that name exists (a screenshot can show it).
    pub(super) fn has_input(&self, name: &str) -> bool {
        self.input(name).is_some()
    }

    fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|input| input.name == name)
    }

    fn input_mut(&mut self, data: Option<&Map<String, Value>>) -> Result<&mut Input, Outcome> {
        let name = required_string(data, "inputName")?;
        self.inputs
            .iter_mut()
            .find(|input| input.name == name)
            .ok_or_else(|| not_found("name", name))
    }

    fn is_group(&self, name: &str) -> bool {
        self.items
            .values()
            .flatten()
            .any(|item| item.kind == "group" && item.source == name)
    }

    /// The items of the scene or group named in `sceneName`. `scenes` are the fake's scenes;
    /// `groups`: whether the request takes a group (GetGroupSceneItemList), a scene (GetScene-
    /// ItemList) or either (the item requests).
    fn container(
        &self,
        data: Option<&Map<String, Value>>,
        scenes: &[String],
        groups: Option<bool>,
    ) -> Result<String, Outcome> {
        let name = required_string(data, "sceneName")?;
        let is_group = self.is_group(name);
        if !is_group && !scenes.iter().any(|scene| scene == name) {
            return Err(not_found("name", name));
        }
        match groups {
            Some(true) if !is_group => Err(Outcome::error(
                status::INVALID_RESOURCE_TYPE,
                Some("The specified source is not a group.".into()),
            )),
            Some(false) if is_group => Err(Outcome::error(
                status::INVALID_RESOURCE_TYPE,
                Some("The specified source is not a scene. (Is group)".into()),
            )),
            _ => Ok(name.to_string()),
        }
    }

    fn item_in(
        &mut self,
        data: Option<&Map<String, Value>>,
        scenes: &[String],
    ) -> Result<(String, &mut Item), Outcome> {
        let scene = self.container(data, scenes, None)?;
        let id = data
            .and_then(|data| data.get("sceneItemId"))
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                Outcome::error(
                    status::MISSING_REQUEST_FIELD,
                    Some("Your request is missing the `sceneItemId` field.".into()),
                )
            })?;
        let item = self.find_mut(&scene, id).ok_or_else(|| {
            Outcome::error(
                status::RESOURCE_NOT_FOUND,
                Some(format!(
                    "No scene items were found in scene `{scene}` with the ID `{id}`."
                )),
            )
        })?;
        Ok((scene, item))
    }

    fn list_json(&self, container: &str) -> Value {
        let items = self.items.get(container).cloned().unwrap_or_default();
        Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let is_scene = item.kind == "scene" || item.kind == "group";
                    json!({
                        "sceneItemId": item.id,
                        "sceneItemIndex": index,
                        "sourceName": item.source,
                        "sourceUuid": uuid_of(&item.source),
                        "sourceType": if is_scene { "OBS_SOURCE_TYPE_SCENE" } else { "OBS_SOURCE_TYPE_INPUT" },
                        "inputKind": if is_scene { Value::Null } else { json!(item.kind) },
                        "isGroup": if is_scene { json!(item.kind == "group") } else { Value::Null },
                        "sceneItemEnabled": item.enabled,
                        "sceneItemLocked": item.locked,
                    })
                })
                .collect(),
        )
    }

    /// Answers a sources request; None for requests that are not about sources.
    pub fn dispatch(
        &mut self,
        request: &str,
        data: Option<&Map<String, Value>>,
        scenes: &[String],
    ) -> Option<Result<Outcome, Outcome>> {
        if !REQUESTS.contains(&request) {
            return None;
        }
        Some(self.handle(request, data, scenes))
    }

    fn handle(
        &mut self,
        request: &str,
        data: Option<&Map<String, Value>>,
        scenes: &[String],
    ) -> Result<Outcome, Outcome> {
        Ok(match request {
            "GetSceneItemList" => {
                let scene = self.container(data, scenes, Some(false))?;
                Outcome::success(Some(json!({ "sceneItems": self.list_json(&scene) })))
            }
            "GetGroupSceneItemList" => {
                let group = self.container(data, scenes, Some(true))?;
                Outcome::success(Some(json!({ "sceneItems": self.list_json(&group) })))
            }
            "GetSceneItemEnabled" => {
                let (_, item) = self.item_in(data, scenes)?;
                Outcome::success(Some(json!({ "sceneItemEnabled": item.enabled })))
            }
            "GetSceneItemLocked" => {
                let (_, item) = self.item_in(data, scenes)?;
                Outcome::success(Some(json!({ "sceneItemLocked": item.locked })))
            }
            "SetSceneItemEnabled" | "SetSceneItemLocked" => {
                let (field, event) = if request == "SetSceneItemEnabled" {
                    ("sceneItemEnabled", "SceneItemEnableStateChanged")
                } else {
                    ("sceneItemLocked", "SceneItemLockStateChanged")
                };
                let value = required_bool(data, field)?;
                let (scene, item) = self.item_in(data, scenes)?;
                let changed = if field == "sceneItemEnabled" {
                    std::mem::replace(&mut item.enabled, value) != value
                } else {
                    std::mem::replace(&mut item.locked, value) != value
                };
                let id = item.id;
                // OBS signals only a real change.
                let events = changed
                    .then(|| {
                        ObsEvent::new(
                            event,
                            intent::SCENE_ITEMS,
                            json!({ "sceneName": scene, "sceneUuid": uuid_of(&scene),
                                    "sceneItemId": id, field: value }),
                        )
                    })
                    .into_iter()
                    .collect();
                Outcome::success(None).with_events(events)
            }
            "GetInputList" => Outcome::success(Some(json!({
                "inputs": self.inputs.iter().map(|input| json!({
                    "inputName": input.name,
                    "inputUuid": uuid_of(&input.name),
                    "inputKind": input.kind,
                    "unversionedInputKind": input.kind.trim_end_matches(char::is_numeric).trim_end_matches("_v"),
                })).collect::<Vec<_>>()
            }))),
            "GetInputSettings" => {
                let input = self.input_mut(data)?;
                Outcome::success(Some(json!({
                    "inputSettings": input.settings,
                    "inputKind": input.kind,
                })))
            }
            "SetInputSettings" => {
                let settings = data
                    .and_then(|data| data.get("inputSettings"))
                    .and_then(Value::as_object)
                    .cloned()
                    .ok_or_else(|| {
                        Outcome::error(
                            status::MISSING_REQUEST_FIELD,
                            Some("Your request is missing the `inputSettings` field.".into()),
                        )
                    })?;
                let overlay = data
                    .and_then(|data| data.get("overlay"))
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                let input = self.input_mut(data)?;
                if !overlay {
                    input.settings.clear();
                }
                input.settings.extend(settings);
                Outcome::success(None)
            }
            "GetMediaInputStatus" => {
                let input = self.input_mut(data)?;
                media_only(input)?;
                let playing = matches!(
                    input.media_state,
                    "OBS_MEDIA_STATE_PLAYING" | "OBS_MEDIA_STATE_PAUSED"
                );
                Outcome::success(Some(json!({
                    "mediaState": input.media_state,
                    "mediaDuration": if playing { json!(CLIP_MS) } else { Value::Null },
                    "mediaCursor": if playing { json!(input.cursor_ms) } else { Value::Null },
                })))
            }
            "TriggerMediaInputAction" => {
                let action = required_string(data, "mediaAction")?.to_string();
                let input = self.input_mut(data)?;
                media_only(input)?;
                let (state, started) = match action.as_str() {
                    "OBS_WEBSOCKET_MEDIA_INPUT_ACTION_PLAY" => ("OBS_MEDIA_STATE_PLAYING", true),
                    "OBS_WEBSOCKET_MEDIA_INPUT_ACTION_RESTART" => {
                        input.cursor_ms = 0;
                        ("OBS_MEDIA_STATE_PLAYING", true)
                    }
                    "OBS_WEBSOCKET_MEDIA_INPUT_ACTION_PAUSE" => ("OBS_MEDIA_STATE_PAUSED", false),
                    "OBS_WEBSOCKET_MEDIA_INPUT_ACTION_STOP" => {
                        input.cursor_ms = 0;
                        ("OBS_MEDIA_STATE_STOPPED", false)
                    }
                    _ => {
                        return Err(Outcome::error(
                            status::INVALID_REQUEST_FIELD,
                            Some("You have specified an invalid media input action.".into()),
                        ))
                    }
                };
                input.media_state = state;
                let id = json!({ "inputName": input.name, "inputUuid": uuid_of(&input.name) });
                let mut events = vec![ObsEvent::new(
                    "MediaInputActionTriggered",
                    intent::MEDIA_INPUTS,
                    json!({ "inputName": input.name, "inputUuid": uuid_of(&input.name),
                            "mediaAction": action }),
                )];
                if started {
                    events.push(ObsEvent::new(
                        "MediaInputPlaybackStarted",
                        intent::MEDIA_INPUTS,
                        id,
                    ));
                }
                Outcome::success(None).with_events(events)
            }
            "SetMediaInputCursor" => {
                let cursor = data
                    .and_then(|data| data.get("mediaCursor"))
                    .and_then(Value::as_f64)
                    .filter(|cursor| *cursor >= 0.0)
                    .ok_or_else(|| {
                        Outcome::error(
                            status::MISSING_REQUEST_FIELD,
                            Some("Your request is missing the `mediaCursor` field.".into()),
                        )
                    })?;
                let input = self.input_mut(data)?;
                media_only(input)?;
                // Truncation is what OBS does with a fractional cursor.
                #[allow(clippy::cast_possible_truncation)]
                let cursor = (cursor as i64).min(CLIP_MS);
                input.cursor_ms = cursor;
                Outcome::success(None)
            }
            "GetSourceFilterList" => {
                let source = self.source_name(data, scenes)?;
                let filters = self.filters.get(&source).cloned().unwrap_or_default();
                Outcome::success(Some(json!({
                    "filters": filters.iter().enumerate().map(|(index, filter)| json!({
                        "filterEnabled": filter.enabled,
                        "filterIndex": index,
                        "filterKind": filter.kind,
                        "filterName": filter.name,
                        "filterSettings": {},
                    })).collect::<Vec<_>>()
                })))
            }
            "SetSourceFilterEnabled" => {
                let source = self.source_name(data, scenes)?;
                let name = required_string(data, "filterName")?.to_string();
                let enabled = required_bool(data, "filterEnabled")?;
                let filter = self
                    .filters
                    .get_mut(&source)
                    .and_then(|filters| filters.iter_mut().find(|filter| filter.name == name))
                    .ok_or_else(|| {
                        Outcome::error(
                            status::RESOURCE_NOT_FOUND,
                            Some("No filter was found in the source with that name.".into()),
                        )
                    })?;
                let changed = std::mem::replace(&mut filter.enabled, enabled) != enabled;
                let events = changed
                    .then(|| {
                        ObsEvent::new(
                            "SourceFilterEnableStateChanged",
                            intent::FILTERS,
                            json!({ "sourceName": source, "filterName": name,
                                    "filterEnabled": enabled }),
                        )
                    })
                    .into_iter()
                    .collect();
                Outcome::success(None).with_events(events)
            }
            "GetProfileList" => Outcome::success(Some(json!({
                "currentProfileName": self.profile,
                "profiles": self.profiles,
            }))),
            "SetCurrentProfile" => {
                let name = required_string(data, "profileName")?.to_string();
                if !self.profiles.contains(&name) {
                    return Err(not_found("name", &name));
                }
                if name == self.profile {
                    return Ok(Outcome::success(None));
                }
                let events = vec![
                    ObsEvent::new(
                        "CurrentProfileChanging",
                        intent::CONFIG,
                        json!({ "profileName": self.profile }),
                    ),
                    ObsEvent::new(
                        "CurrentProfileChanged",
                        intent::CONFIG,
                        json!({ "profileName": name }),
                    ),
                ];
                self.profile = name;
                Outcome::success(None).with_events(events)
            }
            "GetSceneCollectionList" => Outcome::success(Some(json!({
                "currentSceneCollectionName": self.collection,
                "sceneCollections": self.collections,
            }))),
            "SetCurrentSceneCollection" => {
                let name = required_string(data, "sceneCollectionName")?.to_string();
                if !self.collections.contains(&name) {
                    return Err(not_found("name", &name));
                }
                if name == self.collection || self.switching_to.is_some() {
                    return Ok(Outcome::success(None));
                }
                let changing = ObsEvent::new(
                    "CurrentSceneCollectionChanging",
                    intent::CONFIG,
                    json!({ "sceneCollectionName": self.collection }),
                );
                self.switching_to = Some(name);
                Outcome {
                    follow_up: Some(FollowUp::CollectionChanged),
                    ..Outcome::success(None).with_events(vec![changing])
                }
            }
            "GetHotkeyList" => Outcome::success(Some(json!({ "hotkeys": self.hotkeys }))),
            "TriggerHotkeyByName" => {
                let name = required_string(data, "hotkeyName")?;
                if !self.hotkeys.iter().any(|hotkey| hotkey == name) {
                    return Err(Outcome::error(
                        status::RESOURCE_NOT_FOUND,
                        Some("No hotkeys were found by that name.".into()),
                    ));
                }
                Outcome::success(None)
            }
            _ => Outcome::error(status::UNKNOWN_REQUEST_TYPE, None),
        })
    }

    /// Ends a scene collection switch: the fake keeps its scenes and items (a real switch would
    /// load the other collection's).
    pub fn complete_collection_switch(&mut self) -> Vec<ObsEvent> {
        let Some(name) = self.switching_to.take() else {
            return Vec::new();
        };
        self.collection = name.clone();
        vec![ObsEvent::new(
            "CurrentSceneCollectionChanged",
            intent::CONFIG,
            json!({ "sceneCollectionName": name }),
        )]
    }

    fn source_name(
        &self,
        data: Option<&Map<String, Value>>,
        scenes: &[String],
    ) -> Result<String, Outcome> {
        let name = required_string(data, "sourceName")?;
        let known = self.input(name).is_some()
            || scenes.iter().any(|scene| scene == name)
            || self.is_group(name);
        if known {
            Ok(name.to_string())
        } else {
            Err(not_found("name", name))
        }
    }
}

fn required_bool(data: Option<&Map<String, Value>>, key: &str) -> Result<bool, Outcome> {
    data.and_then(|data| data.get(key))
        .and_then(Value::as_bool)
        .ok_or_else(|| {
            Outcome::error(
                status::MISSING_REQUEST_FIELD,
                Some(format!("Your request is missing the `{key}` field.")),
            )
        })
}

fn media_only(input: &Input) -> Result<(), Outcome> {
    if input.kind == "ffmpeg_source" || input.kind == "vlc_source" {
        Ok(())
    } else {
        Err(Outcome::error(
            status::INVALID_RESOURCE_STATE,
            Some("The specified input does not support media.".into()),
        ))
    }
}

fn not_found(by: &str, name: &str) -> Outcome {
    Outcome::error(
        status::RESOURCE_NOT_FOUND,
        Some(format!("No source was found by the {by} of `{name}`.")),
    )
}

/// A stable made-up UUID per name (the fake's sources have no other identity).
pub(super) fn uuid_of(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        hash >> 32,
        (hash >> 16) & 0xffff,
        hash & 0xfff,
        (hash >> 4) & 0xfff,
        hash & 0xffff_ffff_ffff
    )
}

/// The requests answered here (for GetVersion's `availableRequests`).
pub const REQUESTS: &[&str] = &[
    "GetSceneItemList",
    "GetGroupSceneItemList",
    "GetSceneItemEnabled",
    "GetSceneItemLocked",
    "SetSceneItemEnabled",
    "SetSceneItemLocked",
    "GetInputList",
    "GetInputSettings",
    "SetInputSettings",
    "GetMediaInputStatus",
    "TriggerMediaInputAction",
    "SetMediaInputCursor",
    "GetSourceFilterList",
    "SetSourceFilterEnabled",
    "GetProfileList",
    "SetCurrentProfile",
    "GetSceneCollectionList",
    "SetCurrentSceneCollection",
    "GetHotkeyList",
    "TriggerHotkeyByName",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn data(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn groups_answer_only_the_group_request_and_items_change_with_an_event() {
        let scenes = vec!["Live".to_string()];
        let mut sources = Sources::new("Live");
        let group = data(json!({ "sceneName": "Lower third" }));
        let Some(Err(refused)) = sources.dispatch("GetSceneItemList", Some(&group), &scenes) else {
            panic!("a group listed as a scene");
        };
        assert_eq!(refused.code, status::INVALID_RESOURCE_TYPE);
        let Some(Ok(listed)) = sources.dispatch("GetGroupSceneItemList", Some(&group), &scenes)
        else {
            panic!("group not listed");
        };
        assert_eq!(
            listed.response_data.unwrap()["sceneItems"][0]["sourceName"],
            "Name"
        );

        let hide = data(
            json!({ "sceneName": "Lower third", "sceneItemId": 4, "sceneItemEnabled": false }),
        );
        let Some(Ok(hidden)) = sources.dispatch("SetSceneItemEnabled", Some(&hide), &scenes) else {
            panic!("not hidden");
        };
        assert_eq!(hidden.events[0].event_type, "SceneItemEnableStateChanged");
        assert_eq!(sources.item_enabled("Lower third", 4), Some(false));
        let Some(Ok(again)) = sources.dispatch("SetSceneItemEnabled", Some(&hide), &scenes) else {
            panic!("refused");
        };
        assert!(again.events.is_empty(), "no event without a change");

        let unknown = data(json!({ "sceneName": "Nope" }));
        let Some(Err(missing)) = sources.dispatch("GetSceneItemList", Some(&unknown), &scenes)
        else {
            panic!("an unknown scene listed");
        };
        assert_eq!(missing.code, status::RESOURCE_NOT_FOUND);
        assert!(sources.dispatch("GetStats", None, &scenes).is_none());
    }

    #[test]
    fn a_collection_switch_ends_with_its_follow_up() {
        let mut sources = Sources::new("Live");
        let show = data(json!({ "sceneCollectionName": "Show" }));
        let Some(Ok(switch)) = sources.dispatch("SetCurrentSceneCollection", Some(&show), &[])
        else {
            panic!("not switched");
        };
        assert_eq!(
            switch.events[0].event_type,
            "CurrentSceneCollectionChanging"
        );
        assert_eq!(switch.follow_up, Some(FollowUp::CollectionChanged));
        assert_eq!(sources.collection(), "Untitled");
        let done = sources.complete_collection_switch();
        assert_eq!(done[0].event_type, "CurrentSceneCollectionChanged");
        assert_eq!(sources.collection(), "Show");
    }
}
