//! Route handlers: parse, route to the supervisor or read the board, shape the answer.

use actix_web::{web, HttpRequest, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    ask::{self, ask, ask_for},
    auth::Caller,
    body::{Json, OptionalJson},
    responses::{CommandErrors, InstanceErrors},
    target::Target,
    views, AppState,
};
use crate::{
    config::Secret,
    error::ApiError,
    obs::{
        probe::{probe, ProbeTarget},
        CommandError, CommandOutcome, ObsCommand, SetInstanceRunning, StartManager, StopManager,
    },
    outputs::{commands::OutputCommand, Output},
    status::model::name_problem,
};

type Answer = Result<HttpResponse, ApiError>;

fn hub_unavailable() -> ApiError {
    ApiError::Unavailable("the hub's supervisor is not answering; retry in a moment".to_string())
}

#[utoipa::path(
    post,
    path = "/api/obs-manager/start",
    tag = "instance",
    summary = "Connect every instance (or, per instance, that one); idempotent",
    responses(
        (status = 200, description = "The manager status after starting", body = views::ManagerStatusView),
        InstanceErrors
    )
)]
pub async fn start_manager(state: web::Data<AppState>, target: Target) -> Answer {
    set_running(&state, &target, true).await?;
    // Admin only, and admin tokens are not limited to instances.
    Ok(manager_status_response(&state, &target, &Caller::Anonymous))
}

#[utoipa::path(
    post,
    path = "/api/obs-manager/stop",
    tag = "instance",
    summary = "Disconnect every instance (or, per instance, that one); idempotent",
    responses(
        (status = 200, description = "The manager status after stopping", body = views::ManagerStatusView),
        InstanceErrors
    )
)]
pub async fn stop_manager(state: web::Data<AppState>, target: Target) -> Answer {
    set_running(&state, &target, false).await?;
    Ok(manager_status_response(&state, &target, &Caller::Anonymous))
}

async fn set_running(state: &AppState, target: &Target, running: bool) -> Result<(), ApiError> {
    let supervisor = &state.supervisor;
    if target.explicit {
        let message = SetInstanceRunning {
            instance: target.name.clone(),
            running,
        };
        ask_for(supervisor, message, |error| {
            ApiError::from_command(&target.name, error, "")
        })
        .await
    } else if running {
        ask(supervisor, StartManager).await
    } else {
        ask(supervisor, StopManager).await
    }
}

#[utoipa::path(
    get,
    path = "/api/obs-manager/status",
    tag = "instance",
    summary = "Whether the manager runs, and every instance's connection (those the token may see)",
    responses(
        (status = 200, description = "Manager status", body = views::ManagerStatusView),
        InstanceErrors
    )
)]
pub async fn manager_status(
    request: HttpRequest,
    state: web::Data<AppState>,
    target: Target,
) -> HttpResponse {
    manager_status_response(&state, &target, &Caller::of(&request))
}

/// Every instance the caller sees, or the path's one.
fn manager_status_response(state: &AppState, target: &Target, caller: &Caller) -> HttpResponse {
    let snapshot = state.board.current();
    let shown = |name: &str| {
        if target.explicit {
            name == target.name
        } else {
            caller.sees(name)
        }
    };
    HttpResponse::Ok().json(views::ManagerStatusView::new(
        &snapshot,
        shown,
        state.persistence.report(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/instances",
    tag = "hub",
    summary = "Every configured instance with its state (those the token may see)",
    responses(
        (status = 200, description = "Instances", body = views::InstanceList),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody)
    )
)]
pub async fn list_instances(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.board.current();
    let caller = Caller::of(&request);
    HttpResponse::Ok().json(views::InstanceList {
        instances: snapshot
            .instances
            .values()
            .filter(|status| caller.sees(&status.name))
            .map(|status| views::InstanceView::new(status))
            .collect(),
    })
}

#[utoipa::path(
    get,
    path = "/api/stream-status",
    tag = "instance",
    summary = "Cached status of one instance (never asks OBS)",
    responses(
        (status = 200, description = "Status", body = views::StreamStatusView),
        InstanceErrors
    )
)]
pub async fn stream_status(state: web::Data<AppState>, target: Target) -> Answer {
    let status = target.status(&state)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(state.status_json.render(&status)))
}

/// Optional body of `POST /api/test-connection/`; missing fields come from the instance's
/// configuration. The configured password is sent only when host and port are the configured
/// ones; to test another server that asks for one, give `password`.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConnectionBody {
    #[schema(example = "127.0.0.1")]
    host: Option<String>,
    #[schema(example = 4455)]
    port: Option<u16>,
    #[schema(value_type = Option<String>, example = "the password from OBS")]
    password: Option<Secret>,
}

#[utoipa::path(
    post,
    path = "/api/test-connection",
    tag = "instance",
    summary = "Open a one-off connection and report what happened",
    request_body(content = Option<TestConnectionBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "ok true with versions and round trip, or ok false with the failure", body = crate::obs::probe::ProbeReport),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        InstanceErrors
    )
)]
pub async fn test_connection(
    state: web::Data<AppState>,
    target: Target,
    OptionalJson(request): OptionalJson<TestConnectionBody>,
) -> Answer {
    let configured = state
        .settings
        .instance(&target.name)
        .ok_or_else(|| ApiError::unknown_instance(&target.name, &[]))?;
    let TestConnectionBody {
        host,
        port,
        password,
    } = request.unwrap_or_default();
    if host.as_ref().is_some_and(|host| host.trim().is_empty()) {
        return Err(ApiError::InvalidField("`host` must not be empty".into()));
    }
    if port == Some(0) {
        return Err(ApiError::InvalidField(
            "`port` must be between 1 and 65535".into(),
        ));
    }
    let probe_target = ProbeTarget::resolve(configured, host, port, password);
    let report = probe(&probe_target, state.settings.timing.connect_timeout).await;
    Ok(HttpResponse::Ok().json(report))
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

async fn output_command(
    state: &AppState,
    target: &Target,
    command: ObsCommand,
    action: &str,
    conflict: &str,
) -> Answer {
    let outcome = route(state, target, command).await.map_err(|error| {
        ApiError::from_command(
            &target.name,
            error,
            &format!("OBS instance `{}` {conflict}", target.name),
        )
    })?;
    let output_path = match outcome {
        CommandOutcome::Output(answer) => answer.output_path,
        _ => None,
    };
    Ok(HttpResponse::Ok().json(views::CommandAnswer {
        ok: true,
        instance: &target.name,
        action,
        output_path,
    }))
}

/// The seed's four output routes: one output command each, answered in the seed's shape.
macro_rules! seed_output_route {
    ($name:ident, $action:literal, $summary:literal, $command:expr, $conflict:literal, $conflict_doc:literal) => {
        #[utoipa::path(
                    post,
                    path = concat!("/api/", $action),
                    tag = "instance",
                    summary = $summary,
                    responses(
                        (status = 200, description = "Done", body = views::CommandAnswer),
                        (status = 409, description = $conflict_doc, body = crate::error::ErrorBody),
                        CommandErrors
                    )
                )]
        pub async fn $name(state: web::Data<AppState>, target: Target) -> Answer {
            let command = ObsCommand::Output($command);
            output_command(&state, &target, command, $action, $conflict).await
        }
    };
}

seed_output_route!(
    start_stream,
    "start-stream",
    "Start streaming",
    OutputCommand::Start(Output::Stream),
    "is already streaming",
    "OBS is already streaming"
);
seed_output_route!(
    stop_stream,
    "stop-stream",
    "Stop streaming",
    OutputCommand::Stop(Output::Stream),
    "is not streaming",
    "OBS is not streaming"
);
seed_output_route!(
    start_record,
    "start-record",
    "Start recording",
    OutputCommand::Start(Output::Record),
    "is already recording",
    "OBS is already recording"
);
seed_output_route!(
    stop_record,
    "stop-record",
    "Stop recording (answers the file's path)",
    OutputCommand::Stop(Output::Record),
    "is not recording",
    "OBS is not recording"
);
