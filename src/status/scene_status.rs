//! The scenes' change kinds (`scene_changed`, `scene_list_changed`): their descriptors and the
//! callback rules that read them. The scenes' status (current scene, scene list) and its rules
//! predate the seam and stay in `status::model` and `status::update`; the capability itself
//! (commands, routes, the history's scenes table) sits in the capability layer above, which
//! imports this module, never the reverse.

use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{
    kinds::{read_fields, CallbackReading, CallbackRule, ChangeKind},
    model::{name_problem, SceneInfo},
    update::{Change, ObsUpdate},
};

/// The program scene changed.
pub static SCENE_CHANGED: ChangeKind = ChangeKind {
    name: "scene_changed",
    recorded: true,
    webhook_default: true,
    // In the field names the callback routes accept, so one hub's webhooks feed another's.
    payload: |change| match change {
        Change::SceneChanged { scene, previous } => json!({
            "scene_name": scene,
            "previous_scene": previous,
        }),
        _ => Value::Null,
    },
    callback: Some(CallbackRule {
        fields: &["scene_name", "instance"],
        route: Some("scene-change"),
        read: read_scene,
    }),
};

/// The scene list changed (a scene created, removed, renamed, reordered).
pub static SCENE_LIST_CHANGED: ChangeKind = ChangeKind {
    name: "scene_list_changed",
    recorded: true,
    webhook_default: true,
    payload: |change| match change {
        Change::SceneListChanged {
            scenes,
            scene_details,
        } => json!({ "scenes": scenes, "scene_details": scene_details }),
        _ => Value::Null,
    },
    callback: Some(CallbackRule {
        fields: &["scenes", "instance"],
        route: None,
        read: read_scene_list,
    }),
};

/// `scene-change`: the seed's body (the envelope is accepted too).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"scene_name": "Live", "instance": "default"}))]
pub struct SceneFields {
    scene_name: String,
    /// Default: the default instance.
    instance: Option<String>,
}

#[derive(Deserialize)]
struct SceneListFields {
    scenes: Vec<String>,
    instance: Option<String>,
}

fn read_scene(data: Value, prefix: &str) -> Result<CallbackReading, String> {
    let fields: SceneFields = read_fields(data, prefix)?;
    if let Some(problem) = name_problem(&fields.scene_name) {
        return Err(format!("`{prefix}scene_name` {problem}"));
    }
    Ok((fields.instance, ObsUpdate::ProgramScene(fields.scene_name)))
}

fn read_scene_list(data: Value, prefix: &str) -> Result<CallbackReading, String> {
    let fields: SceneListFields = read_fields(data, prefix)?;
    for (index, name) in fields.scenes.iter().enumerate() {
        if let Some(problem) = name_problem(name) {
            return Err(format!("`{prefix}scenes[{index}]` {problem}"));
        }
    }
    let scenes = fields
        .scenes
        .into_iter()
        .map(|name| SceneInfo { name, uuid: None })
        .collect();
    Ok((fields.instance, ObsUpdate::SceneList(scenes)))
}
