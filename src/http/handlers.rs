//! Route handlers: parse, route to the supervisor or read the board, shape the answer.

use actix_web::{web, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::Deserialize;
use serde_json::json;

use super::{body, target::Target, views, AppState};
use crate::{
    config::Secret,
    error::ApiError,
    obs::{
        probe::{probe, ProbeTarget},
        CommandError, CommandOutcome, ObsCommand, Route, SetInstanceRunning, StartManager,
        StopManager,
    },
};

type Answer = Result<HttpResponse, ApiError>;

fn hub_unavailable() -> ApiError {
    ApiError::Unavailable("the hub's supervisor is not answering; retry in a moment".to_string())
}

pub async fn start_manager(state: web::Data<AppState>, target: Target) -> Answer {
    set_running(&state, &target, true).await?;
    Ok(manager_status_response(&state, &target))
}

pub async fn stop_manager(state: web::Data<AppState>, target: Target) -> Answer {
    set_running(&state, &target, false).await?;
    Ok(manager_status_response(&state, &target))
}

async fn set_running(state: &AppState, target: &Target, running: bool) -> Result<(), ApiError> {
    if target.explicit {
        state
            .supervisor
            .send(SetInstanceRunning {
                instance: target.name.clone(),
                running,
            })
            .await
            .map_err(|_| hub_unavailable())?
            .map_err(|error| ApiError::from_command(&target.name, error, ""))
    } else if running {
        state
            .supervisor
            .send(StartManager)
            .await
            .map_err(|_| hub_unavailable())
    } else {
        state
            .supervisor
            .send(StopManager)
            .await
            .map_err(|_| hub_unavailable())
    }
}

pub async fn manager_status(state: web::Data<AppState>, target: Target) -> HttpResponse {
    manager_status_response(&state, &target)
}

fn manager_status_response(state: &AppState, target: &Target) -> HttpResponse {
    let snapshot = state.board.current();
    let only = target.explicit.then_some(target.name.as_str());
    HttpResponse::Ok().json(views::ManagerStatusView::new(
        &snapshot,
        only,
        state.persistence.report(),
    ))
}

pub async fn list_instances(state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.board.current();
    let instances: Vec<_> = snapshot
        .instances
        .values()
        .map(|status| views::InstanceView::new(status))
        .collect();
    HttpResponse::Ok().json(json!({ "instances": instances }))
}

pub async fn stream_status(state: web::Data<AppState>, target: Target) -> Answer {
    let snapshot = state.board.current();
    let status = snapshot
        .instance(&target.name)
        .ok_or_else(|| ApiError::unknown_instance(&target.name, &[]))?;
    Ok(HttpResponse::Ok().json(views::StreamStatusView::new(status)))
}

/// Optional body of `POST /api/test-connection/`; missing fields come from the instance's
/// configuration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestConnectionBody {
    host: Option<String>,
    port: Option<u16>,
    password: Option<Secret>,
}

pub async fn test_connection(
    state: web::Data<AppState>,
    target: Target,
    payload: web::Payload,
) -> Answer {
    let request: Option<TestConnectionBody> = body::optional_json(payload).await?;
    let configured = state
        .settings
        .instance(&target.name)
        .ok_or_else(|| ApiError::unknown_instance(&target.name, &[]))?;
    let mut probe_target = ProbeTarget {
        host: configured.host.clone(),
        port: configured.port,
        password: configured.password.clone(),
    };
    if let Some(request) = request {
        if let Some(host) = request.host {
            if host.trim().is_empty() {
                return Err(ApiError::InvalidField("`host` must not be empty".into()));
            }
            probe_target.host = host;
        }
        if let Some(port) = request.port {
            if port == 0 {
                return Err(ApiError::InvalidField(
                    "`port` must be between 1 and 65535".into(),
                ));
            }
            probe_target.port = port;
        }
        if let Some(password) = request.password {
            probe_target.password = Some(password).filter(|p| !p.expose().is_empty());
        }
    }
    let report = probe(&probe_target, state.settings.timing.connect_timeout).await;
    Ok(HttpResponse::Ok().json(report))
}

async fn route(
    state: &AppState,
    target: &Target,
    command: ObsCommand,
) -> Result<CommandOutcome, CommandError> {
    state
        .supervisor
        .send(Route {
            instance: target.name.clone(),
            command,
        })
        .await
        .unwrap_or_else(|_| Err(CommandError::Unavailable(target.name.clone())))
}

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
    let diff = crate::db::scene_sync::diff(&known, &scenes);
    // Forced: the scenes table is rewritten from this list even if nothing changed.
    if let Some(recorder) = state.persistence.recorder() {
        recorder.do_send(crate::db::recorder::SyncScenes {
            instance: target.name.clone(),
            scenes: scenes.clone(),
        });
    }
    let names: Vec<&str> = scenes.iter().map(|s| s.name.as_str()).collect();
    Ok(HttpResponse::Ok().json(json!({
        "instance": target.name,
        "scenes": names,
        "scene_details": scenes,
        "current_scene": current_scene,
        "added": diff.added,
        "removed": diff.removed,
        "renamed": diff.renamed,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchSceneBody {
    scene_name: String,
}

pub async fn switch_scene(
    state: web::Data<AppState>,
    target: Target,
    payload: web::Payload,
) -> Answer {
    let SwitchSceneBody { scene_name } = body::json(payload).await?;
    if scene_name.trim().is_empty() {
        return Err(ApiError::InvalidField(
            "`scene_name` must not be empty".into(),
        ));
    }
    match route(&state, &target, ObsCommand::SwitchScene(scene_name.clone())).await {
        Ok(_) => Ok(HttpResponse::Ok().json(json!({
            "ok": true,
            "instance": target.name,
            "current_scene": scene_name,
        }))),
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
    let mut answer = json!({ "ok": true, "instance": target.name, "action": action });
    if let CommandOutcome::RecordingStopped { output_path } = outcome {
        answer["output_path"] = json!(output_path);
    }
    Ok(HttpResponse::Ok().json(answer))
}

pub async fn start_stream(state: web::Data<AppState>, target: Target) -> Answer {
    output_command(
        &state,
        &target,
        ObsCommand::StartStream,
        "start-stream",
        "is already streaming",
    )
    .await
}

pub async fn stop_stream(state: web::Data<AppState>, target: Target) -> Answer {
    output_command(
        &state,
        &target,
        ObsCommand::StopStream,
        "stop-stream",
        "is not streaming",
    )
    .await
}

pub async fn start_record(state: web::Data<AppState>, target: Target) -> Answer {
    output_command(
        &state,
        &target,
        ObsCommand::StartRecord,
        "start-record",
        "is already recording",
    )
    .await
}

pub async fn stop_record(state: web::Data<AppState>, target: Target) -> Answer {
    output_command(
        &state,
        &target,
        ObsCommand::StopRecord,
        "stop-record",
        "is not recording",
    )
    .await
}
