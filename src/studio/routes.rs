//! Studio mode's REST routes, registered under `/api/` and `/api/instances/{name}/`:
//!
//! - `GET | PUT studio-mode` (`{"enabled": bool}`), `POST studio-mode/toggle`;
//! - `PUT preview-scene` (`{"scene_name"}`);
//! - `POST transition` (take preview to program; optional `transition`, `duration_ms`);
//! - `GET transitions`, `PUT transitions/current` (`{"name", "duration_ms"}`),
//!   `PUT transitions/tbar` (`{"position": 0.0..1.0, "release"}`).
//!
//! Reads come from the cache except `GET transitions`, which asks OBS for its list. Commands go
//! through the instance's connection; nothing here talks to OBS.

use actix_web::{web, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::commands::{
    StudioAnswer, StudioCommand, StudioOutcome, TransitionList, DURATION_RANGE_MS, TBAR_SCALE,
};
use crate::{
    error::ApiError,
    http::{
        ask,
        body::{Json, OptionalJson},
        get, get_and_put, post, put,
        responses::{CommandErrors, InstanceErrors},
        target::Target,
        AppState,
    },
    obs::{CommandError, CommandOutcome, ObsCommand},
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get_and_put("/studio-mode", studio_mode, set_studio_mode))
        .service(post("/studio-mode/toggle", toggle_studio_mode))
        .service(put("/preview-scene", set_preview_scene))
        .service(post("/transition", take))
        .service(get("/transitions", transitions))
        .service(put("/transitions/current", set_transition))
        .service(put("/transitions/tbar", tbar));
}

/// The answer to every studio command.
#[derive(Serialize, ToSchema)]
pub struct StudioCommandAnswer {
    pub ok: bool,
    pub instance: String,
    #[serde(flatten)]
    pub answer: StudioAnswer,
}

async fn ask(
    state: &AppState,
    target: &Target,
    command: StudioCommand,
) -> Result<StudioOutcome, ApiError> {
    ask::command(
        &state.supervisor,
        &target.name,
        ObsCommand::capability(command.clone()),
        CommandOutcome::into_capability,
        |error| refusal(&target.name, &command, error),
    )
    .await
}

async fn run(state: &AppState, target: &Target, command: StudioCommand) -> Answer {
    match ask(state, target, command).await? {
        StudioOutcome::Done(answer) => Ok(HttpResponse::Ok().json(StudioCommandAnswer {
            ok: true,
            instance: target.name.clone(),
            answer,
        })),
        StudioOutcome::Transitions(list) => Ok(HttpResponse::Ok().json(list)),
    }
}

/// OBS's refusals in words that say what to do.
pub fn refusal(instance: &str, command: &StudioCommand, error: CommandError) -> ApiError {
    let CommandError::Rejected { code, message } = &error else {
        return ApiError::from_command(instance, error, "");
    };
    match (code, command) {
        (ObsStatus::StudioModeNotActive, _) => ApiError::StudioModeOff(format!(
            "OBS instance `{instance}` is not in studio mode: enable it first \
             (PUT /api/studio-mode with {{\"enabled\": true}}); OBS said: {message}"
        )),
        (ObsStatus::ResourceNotFound, StudioCommand::SetPreview(scene)) => {
            ApiError::UnknownScene(format!(
                "OBS instance `{instance}` has no scene named `{scene}`; \
                 GET /api/stream-status/ lists the scenes"
            ))
        }
        (
            ObsStatus::ResourceNotFound,
            StudioCommand::SetTransition { name, .. }
            | StudioCommand::Take {
                transition: Some(name),
                ..
            },
        ) => ApiError::UnknownTransition(format!(
            "OBS instance `{instance}` has no transition named `{name}`; \
             GET /api/transitions lists them"
        )),
        (ObsStatus::InvalidResourceState | ObsStatus::RequestProcessingFailed, _) => {
            ApiError::Conflict(format!(
                "OBS instance `{instance}` refused to {}; OBS said: {message}",
                command.name()
            ))
        }
        _ => ApiError::from_command(instance, error, ""),
    }
}

fn duration(duration_ms: Option<u64>) -> Result<Option<u64>, ApiError> {
    match duration_ms {
        Some(ms) if !DURATION_RANGE_MS.contains(&ms) => Err(ApiError::InvalidField(format!(
            "`duration_ms` must be between {} and {} (it was {ms})",
            DURATION_RANGE_MS.start(),
            DURATION_RANGE_MS.end()
        ))),
        other => Ok(other),
    }
}

fn non_empty(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::InvalidField(format!(
            "`{field}` must not be empty"
        )));
    }
    Ok(())
}

/// `GET .../studio-mode`: studio mode, preview and program, the transition (from the cache).
#[derive(Serialize, ToSchema)]
pub struct StudioView<'a> {
    pub instance: &'a str,
    pub connected: bool,
    pub stale: bool,
    pub program_scene: Option<&'a str>,
    #[serde(flatten)]
    pub studio: &'a super::status::StudioStatus,
}

#[utoipa::path(
    get,
    path = "/api/studio-mode",
    tag = "instance",
    summary = "Studio mode, preview and program scenes, the current transition (from the cache)",
    responses(
        (status = 200, description = "Studio mode", body = StudioView,
         example = json!({"instance": "default", "connected": true, "stale": false, "program_scene": "Live",
                          "studio_mode": true, "preview_scene": "Break", "current_transition": "Fade",
                          "transition_duration_ms": 300, "transition_running": false})),
        InstanceErrors
    )
)]
pub async fn studio_mode(state: web::Data<AppState>, target: Target) -> Answer {
    let status = target.status(&state)?;
    Ok(HttpResponse::Ok().json(StudioView {
        instance: &status.name,
        connected: status.is_connected(),
        stale: status.stale,
        program_scene: status.current_scene.as_deref(),
        studio: &status.studio,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StudioModeBody {
    pub enabled: bool,
}

#[utoipa::path(
    put,
    path = "/api/studio-mode",
    tag = "instance",
    summary = "Turn studio mode on or off",
    request_body(content = StudioModeBody, example = json!({"enabled": true})),
    responses(
        (status = 200, description = "Studio mode as OBS reports it afterwards", body = StudioCommandAnswer,
         example = json!({"ok": true, "instance": "default", "action": "set-studio-mode", "studio_mode": true,
                          "preview_scene": "Live", "current_transition": "Fade", "transition_duration_ms": 300})),
        (status = 400, description = "Malformed body (`enabled` missing or not a boolean)", body = crate::error::ErrorBody),
        CommandErrors,
        (status = 502, description = "OBS refused", body = crate::error::ErrorBody)
    )
)]
pub async fn set_studio_mode(
    state: web::Data<AppState>,
    target: Target,
    Json(StudioModeBody { enabled }): Json<StudioModeBody>,
) -> Answer {
    run(&state, &target, StudioCommand::SetStudioMode(enabled)).await
}

#[utoipa::path(
    post,
    path = "/api/studio-mode/toggle",
    tag = "instance",
    summary = "Turn studio mode on if off, off if on; answers the new state",
    responses(
        (status = 200, description = "Studio mode as OBS reports it afterwards", body = StudioCommandAnswer),
        CommandErrors,
        (status = 502, description = "OBS refused", body = crate::error::ErrorBody)
    )
)]
pub async fn toggle_studio_mode(state: web::Data<AppState>, target: Target) -> Answer {
    run(&state, &target, StudioCommand::ToggleStudioMode).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    pub scene_name: String,
}

#[utoipa::path(
    put,
    path = "/api/preview-scene",
    tag = "instance",
    summary = "Put a scene on preview (studio mode only)",
    request_body(content = PreviewBody, example = json!({"scene_name": "Break"})),
    responses(
        (status = 200, description = "On preview", body = StudioCommandAnswer,
         example = json!({"ok": true, "instance": "default", "action": "set-preview-scene", "studio_mode": true,
                          "preview_scene": "Break", "current_transition": "Fade", "transition_duration_ms": 300})),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 409, description = "OBS is not in studio mode (studio_mode_off)", body = crate::error::ErrorBody,
         example = json!({"error": "studio_mode_off", "message": "OBS instance `default` is not in studio mode: enable it first (PUT /api/studio-mode with {\"enabled\": true}); OBS said: Studio mode is not active."})),
        CommandErrors,
        (status = 404, description = "No such instance or scene (unknown_scene)", body = crate::error::ErrorBody)
    )
)]
pub async fn set_preview_scene(
    state: web::Data<AppState>,
    target: Target,
    Json(PreviewBody { scene_name }): Json<PreviewBody>,
) -> Answer {
    non_empty("scene_name", &scene_name)?;
    run(&state, &target, StudioCommand::SetPreview(scene_name)).await
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TakeBody {
    /// Becomes OBS's current transition before the take.
    pub transition: Option<String>,
    /// 50 to 20000; becomes the current transition's duration before the take.
    pub duration_ms: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/api/transition",
    tag = "instance",
    summary = "Take the preview scene to program with a transition (studio mode only)",
    request_body(content = Option<TakeBody>, content_type = "application/json",
                  example = json!({"transition": "Fade", "duration_ms": 500})),
    responses(
        (status = 200, description = "The take started; `program_scene` is the scene taken", body = StudioCommandAnswer,
         example = json!({"ok": true, "instance": "default", "action": "transition", "studio_mode": true,
                          "preview_scene": "Live", "program_scene": "Break", "current_transition": "Fade",
                          "transition_duration_ms": 500})),
        (status = 400, description = "Malformed body, or `duration_ms` outside 50..20000", body = crate::error::ErrorBody),
        (status = 409, description = "OBS is not in studio mode (studio_mode_off)", body = crate::error::ErrorBody),
        CommandErrors,
        (status = 404, description = "No such instance or transition (unknown_transition)", body = crate::error::ErrorBody)
    )
)]
pub async fn take(
    state: web::Data<AppState>,
    target: Target,
    OptionalJson(body): OptionalJson<TakeBody>,
) -> Answer {
    let TakeBody {
        transition,
        duration_ms,
    } = body.unwrap_or_default();
    if let Some(name) = &transition {
        non_empty("transition", name)?;
    }
    let duration_ms = duration(duration_ms)?;
    run(
        &state,
        &target,
        StudioCommand::Take {
            transition,
            duration_ms,
        },
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/transitions",
    tag = "instance",
    summary = "OBS's scene transitions and the current one (asks OBS)",
    responses(
        (status = 200, description = "Transitions", body = TransitionList,
         example = json!({"current_transition": "Fade", "transition_duration_ms": 300, "transitions": [
             {"name": "Cut", "kind": "cut_transition", "fixed": true, "configurable": false},
             {"name": "Fade", "kind": "fade_transition", "fixed": false, "configurable": true}]})),
        CommandErrors,
        (status = 502, description = "OBS refused", body = crate::error::ErrorBody)
    )
)]
pub async fn transitions(state: web::Data<AppState>, target: Target) -> Answer {
    run(&state, &target, StudioCommand::ListTransitions).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionBody {
    pub name: String,
    /// 50 to 20000 (not for fixed transitions such as Cut).
    pub duration_ms: Option<u64>,
}

#[utoipa::path(
    put,
    path = "/api/transitions/current",
    tag = "instance",
    summary = "Choose the current transition and its duration",
    request_body(content = TransitionBody, example = json!({"name": "Fade", "duration_ms": 750})),
    responses(
        (status = 200, description = "The transition as OBS reports it afterwards", body = StudioCommandAnswer,
         example = json!({"ok": true, "instance": "default", "action": "set-transition", "studio_mode": false,
                          "preview_scene": null, "current_transition": "Fade", "transition_duration_ms": 750})),
        (status = 400, description = "Malformed body, or `duration_ms` outside 50..20000", body = crate::error::ErrorBody),
        (status = 409, description = "OBS refused the duration (a fixed transition)", body = crate::error::ErrorBody),
        CommandErrors,
        (status = 404, description = "No such instance or transition (unknown_transition)", body = crate::error::ErrorBody)
    )
)]
pub async fn set_transition(
    state: web::Data<AppState>,
    target: Target,
    Json(TransitionBody { name, duration_ms }): Json<TransitionBody>,
) -> Answer {
    non_empty("name", &name)?;
    let duration_ms = duration(duration_ms)?;
    run(
        &state,
        &target,
        StudioCommand::SetTransition { name, duration_ms },
    )
    .await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TBarBody {
    /// 0.0 (program) to 1.0 (preview fully in).
    pub position: f64,
    /// Let go of the T-bar (default true): at 1.0 the take completes.
    pub release: Option<bool>,
}

#[utoipa::path(
    put,
    path = "/api/transitions/tbar",
    tag = "instance",
    summary = "Move the T-bar (studio mode, non-fixed transitions)",
    request_body(content = TBarBody, example = json!({"position": 0.5, "release": false})),
    responses(
        (status = 200, description = "Moved", body = StudioCommandAnswer),
        (status = 400, description = "Malformed body, or `position` outside 0.0..1.0", body = crate::error::ErrorBody),
        (status = 409, description = "Not in studio mode (studio_mode_off), or the transition is fixed", body = crate::error::ErrorBody),
        CommandErrors
    )
)]
pub async fn tbar(
    state: web::Data<AppState>,
    target: Target,
    Json(TBarBody { position, release }): Json<TBarBody>,
) -> Answer {
    if !(0.0..=1.0).contains(&position) {
        return Err(ApiError::InvalidField(format!(
            "`position` must be between 0.0 and 1.0 (it was {position})"
        )));
    }
    let position = (position * TBAR_SCALE).round() as u16;
    let release = release.unwrap_or(true);
    run(&state, &target, StudioCommand::TBar { position, release }).await
}
