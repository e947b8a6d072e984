//! The scenes' REST routes, registered under `/api/` and `/api/instances/{name}/`:
//! `POST switch-scene` and `POST sync-scenes` (the seed's). Both go through the instance's
//! connection; nothing here talks to OBS.

use actix_web::{web, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    error::ApiError,
    http::{ask, body::Json, post, responses::CommandErrors, target::Target, views, AppState},
    obs::{CommandError, CommandOutcome, ObsCommand},
    status::model::name_problem,
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(post("/sync-scenes", sync_scenes))
        .service(post("/switch-scene", switch_scene));
}

fn hub_unavailable() -> ApiError {
    ApiError::Unavailable("the hub's supervisor is not answering; retry in a moment".to_string())
}

async fn route(
    state: &AppState,
    target: &Target,
    command: ObsCommand,
) -> Result<CommandOutcome, CommandError> {
    ask::route(&state.supervisor, &target.name, command).await
}

/// Answer of `POST /api/sync-scenes/`.
#[derive(Serialize, ToSchema)]
pub struct SceneSyncAnswer {
    pub instance: String,
    /// Scene names, top of OBS's list first.
    pub scenes: Vec<String>,
    pub scene_details: Vec<crate::status::model::SceneInfo>,
    pub current_scene: Option<String>,
    /// What this re-read changed in the hub's view of OBS (renames are recognised by uuid).
    pub added: Vec<crate::status::model::SceneInfo>,
    pub removed: Vec<crate::status::model::SceneInfo>,
    pub renamed: Vec<crate::db::scene_sync::SceneRename>,
}

#[utoipa::path(
    post,
    path = "/api/sync-scenes",
    tag = "instance",
    summary = "Re-read the scene list from OBS",
    responses(
        (status = 200, description = "The scene list", body = SceneSyncAnswer),
        CommandErrors
    )
)]
pub async fn sync_scenes(state: web::Data<AppState>, target: Target) -> Answer {
    // What the hub knew before the re-read, to say what it changed.
    let known = state
        .board
        .current()
        .instance(&target.name)
        .map(|status| status.scenes.clone())
        .unwrap_or_default();
    let outcome = route(&state, &target, ObsCommand::SyncScenes)
        .await
        .map_err(|error| ApiError::from_command(&target.name, error, ""))?;
    let CommandOutcome::Scenes {
        scenes,
        current_scene,
    } = outcome
    else {
        return Err(hub_unavailable());
    };
    // The re-read list reached the status manager on its way here: if it differs from what the
    // hub knew, its `scene_list_changed` has the scenes table follow (written once, there).
    let diff = crate::db::scene_sync::diff(&known, &scenes);
    Ok(HttpResponse::Ok().json(SceneSyncAnswer {
        instance: target.name,
        scenes: scenes.iter().map(|s| s.name.clone()).collect(),
        scene_details: scenes,
        current_scene,
        added: diff.added,
        removed: diff.removed,
        renamed: diff.renamed,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchSceneBody {
    #[schema(example = "Live")]
    scene_name: String,
}

#[utoipa::path(
    post,
    path = "/api/switch-scene",
    tag = "instance",
    summary = "Switch the program scene",
    request_body(content = SwitchSceneBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Switched", body = views::SwitchSceneAnswer),
        (status = 400, description = "Malformed body, or scene_name missing, empty or with a control character", body = crate::error::ErrorBody),
        CommandErrors,
        (status = 404, description = "No such scene or instance", body = crate::error::ErrorBody)
    )
)]
pub async fn switch_scene(
    state: web::Data<AppState>,
    target: Target,
    Json(SwitchSceneBody { scene_name }): Json<SwitchSceneBody>,
) -> Answer {
    if let Some(problem) = name_problem(&scene_name) {
        return Err(ApiError::InvalidField(format!("`scene_name` {problem}")));
    }
    match route(&state, &target, ObsCommand::SwitchScene(scene_name.clone())).await {
        Ok(_) => Ok(HttpResponse::Ok().json(views::SwitchSceneAnswer {
            ok: true,
            instance: &target.name,
            current_scene: &scene_name,
        })),
        Err(CommandError::Rejected {
            code: ObsStatus::ResourceNotFound,
            ..
        }) => Err(ApiError::UnknownScene(format!(
            "OBS instance `{}` has no scene named `{scene_name}`; \
             GET /api/stream-status/ lists the scenes",
            target.name
        ))),
        Err(error) => Err(ApiError::from_command(&target.name, error, "")),
    }
}
