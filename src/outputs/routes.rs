//! The outputs' REST routes, registered under `/api/` and `/api/instances/{name}/`:
//!
//! - `POST outputs/{output}/start | stop | toggle | ensure` (`stream`, `record`,
//!   `replay-buffer`, `virtual-cam`);
//! - `POST outputs/record/pause | resume | toggle-pause | split | chapter`;
//! - `POST outputs/replay-buffer/save` (answers the saved file's path);
//! - `GET outputs` and `GET stats/history`;
//! - the seed's `POST start-stream | stop-stream | start-record | stop-record`, answered in the
//!   seed's shape.
//!
//! Every command goes through the instance's connection and its command discipline, like the
//! seed's `start-stream` and the rest: nothing here talks to OBS.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    commands::{OutputAnswer, OutputCommand},
    stats_history::{StatsHistory, StatsSample, WINDOW_SECONDS},
    status::SideOutput,
    Output,
};
use crate::{
    error::ApiError,
    http::{
        ask,
        body::{Json, OptionalJson},
        get, post,
        responses::{CommandErrors, InstanceErrors},
        target::Target,
        views, AppState,
    },
    obs::{CommandError, CommandOutcome, ObsCommand},
    status::model::{RecordFigures, StreamFigures},
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(post("/start-stream", start_stream))
        .service(post("/stop-stream", stop_stream))
        .service(post("/start-record", start_record))
        .service(post("/stop-record", stop_record))
        .service(get("/outputs", outputs))
        .service(get("/stats/history", stats_history))
        .service(post("/outputs/record/pause", pause))
        .service(post("/outputs/record/resume", resume))
        .service(post("/outputs/record/toggle-pause", toggle_pause))
        .service(post("/outputs/record/split", split))
        .service(post("/outputs/record/chapter", chapter))
        .service(post("/outputs/replay-buffer/save", save_replay))
        .service(post("/outputs/{output}/start", start))
        .service(post("/outputs/{output}/stop", stop))
        .service(post("/outputs/{output}/toggle", toggle))
        .service(post("/outputs/{output}/ensure", ensure));
}

/// The answer to every output command.
#[derive(Serialize, ToSchema)]
pub struct OutputCommandAnswer {
    pub ok: bool,
    pub instance: String,
    #[serde(flatten)]
    pub answer: OutputAnswer,
}

/// `{output}` of the path: one of the four outputs, or a 404 naming them.
pub struct OutputInPath(Output);

impl FromRequest for OutputInPath {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let name = request.match_info().get("output").unwrap_or_default();
        ready(Output::from_path(name).map(OutputInPath).ok_or_else(|| {
            ApiError::UnknownOutput(format!(
                "no output named `{name}`; outputs: stream, record, replay-buffer, virtual-cam"
            ))
        }))
    }
}

async fn run(state: &AppState, target: &Target, command: OutputCommand) -> Answer {
    let answer = ask::command(
        &state.supervisor,
        &target.name,
        ObsCommand::Output(command.clone()),
        |outcome| match outcome {
            CommandOutcome::Output(answer) => Some(answer),
            _ => None,
        },
        |error| refusal(&target.name, &command, error),
    )
    .await?;
    Ok(HttpResponse::Ok().json(OutputCommandAnswer {
        ok: true,
        instance: target.name.clone(),
        answer,
    }))
}

/// OBS's refusals in words that say what to enable or why, with OBS's own words.
pub fn refusal(instance: &str, command: &OutputCommand, error: CommandError) -> ApiError {
    let CommandError::Rejected { code, message } = &error else {
        return ApiError::from_command(instance, error, "");
    };
    let output = command.output();
    let obs_said = format!("OBS said: {message}");
    match (code, output, command) {
        (ObsStatus::InvalidResourceState, Output::ReplayBuffer, _) => {
            ApiError::OutputUnavailable(format!(
                "OBS instance `{instance}` has no replay buffer: enable it in OBS (Settings > \
                 Output > Replay Buffer) and restart OBS; {obs_said}"
            ))
        }
        (ObsStatus::InvalidResourceState, Output::VirtualCam, _) => {
            ApiError::OutputUnavailable(format!(
                "OBS instance `{instance}` has no virtual camera: OBS needs a virtual camera \
                 device (on Linux, the v4l2loopback module); {obs_said}"
            ))
        }
        (ObsStatus::RequestProcessingFailed, _, OutputCommand::Split) => {
            ApiError::OutputUnsupported(format!(
                "OBS instance `{instance}` could not split the recording: enable file splitting \
                 in OBS (Settings > Output > Recording > Automatic File Splitting); {obs_said}"
            ))
        }
        (ObsStatus::RequestProcessingFailed, _, OutputCommand::Chapter(_)) => {
            ApiError::OutputUnsupported(format!(
                "OBS instance `{instance}` could not add a chapter marker: only the Hybrid MP4 \
                 recording format supports them; {obs_said}"
            ))
        }
        (ObsStatus::OutputRunning, _, _) => ApiError::Conflict(format!(
            "OBS instance `{instance}` {}",
            match output {
                Output::Stream => "is already streaming",
                Output::Record => "is already recording",
                Output::ReplayBuffer => "already runs its replay buffer",
                Output::VirtualCam => "already runs its virtual camera",
            }
        )),
        (ObsStatus::OutputNotRunning, _, _) => ApiError::Conflict(format!(
            "OBS instance `{instance}` {}",
            match output {
                Output::Stream => "is not streaming",
                Output::Record => "is not recording",
                Output::ReplayBuffer => "does not run its replay buffer: start it first",
                Output::VirtualCam => "does not run its virtual camera",
            }
        )),
        (ObsStatus::OutputPaused, _, _) => ApiError::Conflict(format!(
            "OBS instance `{instance}`: the recording is already paused"
        )),
        (ObsStatus::OutputNotPaused, _, _) => ApiError::Conflict(format!(
            "OBS instance `{instance}`: the recording is not paused"
        )),
        (ObsStatus::InvalidResourceState, _, _) => ApiError::Conflict(format!(
            "OBS instance `{instance}` refused to {} the {}; {obs_said}",
            command.name(),
            output.as_str()
        )),
        _ => ApiError::from_command(instance, error, ""),
    }
}

macro_rules! output_route {
    ($name:ident, $path:literal, $summary:literal, $command:expr) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "instance",
            summary = $summary,
            params(("output" = String, Path, description = "stream, record, replay-buffer or virtual-cam")),
            responses(
                (status = 200, description = "The output's state after the command", body = OutputCommandAnswer,
                 example = json!({"ok": true, "instance": "default", "output": "stream", "action": "start",
                                  "active": true, "state": "starting", "sent_to_obs": true})),
                (status = 409, description = "Already in that state, or the output is not available (replay buffer not enabled, no virtual camera device)", body = crate::error::ErrorBody),
                CommandErrors,
                (status = 404, description = "No such instance or output", body = crate::error::ErrorBody)
            )
        )]
        pub async fn $name(
            state: web::Data<AppState>,
            target: Target,
            OutputInPath(output): OutputInPath,
        ) -> Answer {
            let make: fn(Output) -> OutputCommand = $command;
            run(&state, &target, make(output)).await
        }
    };
}

output_route!(
    start,
    "/api/outputs/{output}/start",
    "Start an output (a second start while it starts is answered with that state)",
    OutputCommand::Start
);
output_route!(
    stop,
    "/api/outputs/{output}/stop",
    "Stop an output (a stop while it starts waits for the start to settle)",
    OutputCommand::Stop
);
output_route!(
    toggle,
    "/api/outputs/{output}/toggle",
    "Start the output if it is off, stop it if it is on; answers the new state",
    OutputCommand::Toggle
);

/// Body of `POST .../outputs/{output}/ensure`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnsureBody {
    /// The state the output should be in.
    active: bool,
}

#[utoipa::path(
    post,
    path = "/api/outputs/{output}/ensure",
    tag = "instance",
    summary = "Bring the output to a state; does nothing when it is there (idempotent)",
    params(("output" = String, Path, description = "stream, record, replay-buffer or virtual-cam")),
    request_body(content = EnsureBody, content_type = "application/json", example = json!({"active": true})),
    responses(
        (status = 200, description = "The output's state; sent_to_obs false when nothing was needed", body = OutputCommandAnswer,
         example = json!({"ok": true, "instance": "default", "output": "record", "action": "ensure",
                          "active": true, "state": "started", "paused": false, "sent_to_obs": false})),
        (status = 400, description = "Malformed body or missing `active`", body = crate::error::ErrorBody),
        (status = 409, description = "The output is not available", body = crate::error::ErrorBody),
        CommandErrors,
        (status = 404, description = "No such instance or output", body = crate::error::ErrorBody)
    )
)]
pub async fn ensure(
    state: web::Data<AppState>,
    target: Target,
    OutputInPath(output): OutputInPath,
    Json(EnsureBody { active }): Json<EnsureBody>,
) -> Answer {
    run(&state, &target, OutputCommand::Ensure { output, active }).await
}

macro_rules! record_route {
    ($name:ident, $path:literal, $summary:literal, $command:expr) => {
        #[utoipa::path(
            post,
            path = $path,
            tag = "instance",
            summary = $summary,
            responses(
                (status = 200, description = "Done", body = OutputCommandAnswer,
                 example = json!({"ok": true, "instance": "default", "output": "record", "action": "pause",
                                  "active": true, "state": "started", "paused": true, "sent_to_obs": true})),
                (status = 409, description = "Not recording, already (not) paused, or unsupported by the recording settings (OBS's words in the message)", body = crate::error::ErrorBody),
                CommandErrors
            )
        )]
        pub async fn $name(state: web::Data<AppState>, target: Target) -> Answer {
            run(&state, &target, $command).await
        }
    };
}

record_route!(
    pause,
    "/api/outputs/record/pause",
    "Pause the recording",
    OutputCommand::Pause
);
record_route!(
    resume,
    "/api/outputs/record/resume",
    "Resume the recording",
    OutputCommand::Resume
);
record_route!(
    toggle_pause,
    "/api/outputs/record/toggle-pause",
    "Pause the recording if it runs, resume it if paused",
    OutputCommand::TogglePause
);
record_route!(
    split,
    "/api/outputs/record/split",
    "Go on recording into a new file (needs file splitting enabled in OBS)",
    OutputCommand::Split
);

/// Optional body of `POST .../outputs/record/chapter`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChapterBody {
    /// The chapter's name; OBS numbers unnamed chapters.
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/outputs/record/chapter",
    tag = "instance",
    summary = "Mark a chapter in the recording (Hybrid MP4 only)",
    request_body(content = Option<ChapterBody>, content_type = "application/json", example = json!({"name": "Interview"})),
    responses(
        (status = 200, description = "Marked", body = OutputCommandAnswer),
        (status = 400, description = "Malformed body", body = crate::error::ErrorBody),
        (status = 409, description = "Not recording, or the recording format has no chapters (output_unsupported)", body = crate::error::ErrorBody,
         example = json!({"error": "output_unsupported", "message": "OBS instance `default` could not add a chapter marker: only the Hybrid MP4 recording format supports them; OBS said: Verify that the output being used supports chapter markers."})),
        CommandErrors
    )
)]
pub async fn chapter(
    state: web::Data<AppState>,
    target: Target,
    OptionalJson(body): OptionalJson<ChapterBody>,
) -> Answer {
    let name = body.and_then(|body| body.name);
    if name.as_deref().is_some_and(|name| name.trim().is_empty()) {
        return Err(ApiError::InvalidField(
            "`name` must not be empty (leave it out for an unnamed chapter)".into(),
        ));
    }
    run(&state, &target, OutputCommand::Chapter(name)).await
}

#[utoipa::path(
    post,
    path = "/api/outputs/replay-buffer/save",
    tag = "instance",
    summary = "Save the replay buffer; answers the saved file's path (from OBS's ReplayBufferSaved)",
    responses(
        (status = 200, description = "Saved", body = OutputCommandAnswer,
         example = json!({"ok": true, "instance": "default", "output": "replay_buffer", "action": "save",
                          "active": true, "state": "started", "sent_to_obs": true,
                          "output_path": "/home/x/Replay 2026-11-30 04-00-00.mkv"})),
        (status = 409, description = "The replay buffer is not enabled in OBS (output_unavailable) or not running", body = crate::error::ErrorBody,
         example = json!({"error": "output_unavailable", "message": "OBS instance `default` has no replay buffer: enable it in OBS (Settings > Output > Replay Buffer) and restart OBS; OBS said: Replay buffer is not available."})),
        CommandErrors,
        (status = 504, description = "OBS did not report the saved file in time", body = crate::error::ErrorBody)
    )
)]
pub async fn save_replay(state: web::Data<AppState>, target: Target) -> Answer {
    run(&state, &target, OutputCommand::SaveReplay).await
}

/// `GET .../outputs`: every output's state, from the cache.
#[derive(Serialize, ToSchema)]
pub struct OutputsView<'a> {
    pub instance: &'a str,
    pub connected: bool,
    pub stale: bool,
    pub stream: &'a StreamFigures,
    pub record: &'a RecordFigures,
    pub replay_buffer: &'a SideOutput,
    pub virtual_cam: &'a SideOutput,
}

#[utoipa::path(
    get,
    path = "/api/outputs",
    tag = "instance",
    summary = "Every output's state (from the cache; never asks OBS)",
    responses(
        (status = 200, description = "Outputs", body = OutputsView),
        InstanceErrors
    )
)]
pub async fn outputs(state: web::Data<AppState>, target: Target) -> Answer {
    let status = target.status(&state)?;
    Ok(HttpResponse::Ok().json(OutputsView {
        instance: &status.name,
        connected: status.is_connected(),
        stale: status.stale,
        stream: &status.stream,
        record: &status.record,
        replay_buffer: &status.outputs.replay_buffer,
        virtual_cam: &status.outputs.virtual_cam,
    }))
}

/// `GET .../stats/history`.
#[derive(Serialize, ToSchema)]
pub struct StatsHistoryView {
    pub instance: String,
    pub window_seconds: i64,
    /// Oldest first; one per poll that moved a figure.
    pub samples: Vec<StatsSample>,
}

#[utoipa::path(
    get,
    path = "/api/stats/history",
    tag = "instance",
    summary = "The last 10 minutes of stats (bitrate, dropped frames, FPS, CPU...), oldest first",
    responses(
        (status = 200, description = "Samples", body = StatsHistoryView),
        InstanceErrors
    )
)]
pub async fn stats_history(history: web::Data<StatsHistory>, target: Target) -> HttpResponse {
    HttpResponse::Ok().json(StatsHistoryView {
        samples: history.recent(&target.name, chrono::Utc::now()),
        instance: target.name,
        window_seconds: WINDOW_SECONDS,
    })
}

async fn output_command(
    state: &AppState,
    target: &Target,
    command: ObsCommand,
    action: &str,
    conflict: &str,
) -> Answer {
    let outcome = ask::route(&state.supervisor, &target.name, command)
        .await
        .map_err(|error| {
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

/// The seed's four output routes (`POST start-stream | stop-stream | start-record | stop-record`): one output command each, answered in the seed's shape.
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
