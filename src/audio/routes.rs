//! The audio mixer's REST routes, registered under `/api/` and `/api/instances/{name}/`:
//!
//! - `GET audio/inputs` (from the cache);
//! - `POST audio/inputs/{input}/mute | unmute | toggle-mute` (answers the new state);
//! - `PUT audio/inputs/{input}/volume` (`{"db"}` or `{"mul"}`, range-checked);
//! - `PUT audio/inputs/{input}/balance` (`{"balance": 0.0..1.0}`).
//!
//! Bodies are checked before anything is sent to OBS. Commands go through the instance's
//! connection; nothing here talks to OBS.

use actix_web::{web, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    commands::{AudioCommand, BALANCE_RANGE, DB_RANGE, MUL_RANGE},
    status::AudioInput,
};
use crate::{
    error::ApiError,
    http::{
        ask,
        body::Json,
        get, post, put,
        responses::{CommandErrors, InstanceErrors},
        target::{InputPath, Target},
        AppState,
    },
    obs::{CommandError, CommandOutcome, ObsCommand},
};

type Answer = Result<HttpResponse, ApiError>;
type State = web::Data<AppState>;
/// `{input}`: the routes below are all about one input.
type Input = web::Path<InputPath>;

/// The refusals of a command on one input (besides [`CommandErrors`]).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description for the document; never built
pub enum InputRefusals {
    /// No such instance or input (unknown_source)
    #[response(status = 404)]
    Unknown(crate::error::ErrorBody),
    /// The input has no audio (conflict)
    #[response(status = 409)]
    NoAudio(crate::error::ErrorBody),
}

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get("/audio/inputs", inputs))
        .service(post("/audio/inputs/{input}/mute", mute))
        .service(post("/audio/inputs/{input}/unmute", unmute))
        .service(post("/audio/inputs/{input}/toggle-mute", toggle_mute))
        .service(put("/audio/inputs/{input}/volume", set_volume))
        .service(put("/audio/inputs/{input}/balance", set_balance));
}

/// `GET .../audio/inputs`.
#[derive(Serialize, ToSchema)]
pub struct AudioView<'a> {
    pub instance: &'a str,
    pub connected: bool,
    pub stale: bool,
    /// False until the first read after connecting.
    pub read: bool,
    pub inputs: &'a [AudioInput],
}

/// The answer to every audio command: the input as OBS reports it afterwards.
#[derive(Serialize, ToSchema)]
pub struct AudioCommandAnswer {
    pub ok: bool,
    pub instance: String,
    pub action: &'static str,
    pub input: AudioInput,
}

#[utoipa::path(
    get,
    path = "/api/audio/inputs",
    tag = "instance",
    summary = "Inputs with audio: mute, volume, balance, sync offset, monitoring, tracks, in program/preview (from the cache)",
    responses(
        (status = 200, description = "The mixer", body = AudioView,
         example = json!({"instance": "default", "connected": true, "stale": false, "read": true, "inputs": [
             {"name": "Mic/Aux", "uuid": "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11", "kind": "pulse_input_capture",
              "muted": false, "volume_db": -6.0, "volume_mul": 0.501, "balance": 0.5, "sync_offset_ms": 0,
              "monitor_type": "none", "tracks": [1, 2], "in_program": true, "in_preview": null}]})),
        InstanceErrors
    )
)]
pub async fn inputs(state: web::Data<AppState>, target: Target) -> Answer {
    let status = target.status(&state)?;
    Ok(HttpResponse::Ok().json(AudioView {
        instance: &status.name,
        connected: status.is_connected(),
        stale: status.stale,
        read: status.audio.read,
        inputs: &status.audio.inputs,
    }))
}

async fn run(state: &AppState, target: &Target, command: AudioCommand) -> Answer {
    let action = command.name();
    let input = ask::command(
        &state.supervisor,
        &target.name,
        ObsCommand::capability(command.clone()),
        CommandOutcome::into_capability::<AudioInput>,
        |error| refusal(&target.name, &command, error),
    )
    .await?;
    Ok(HttpResponse::Ok().json(AudioCommandAnswer {
        ok: true,
        instance: target.name.clone(),
        action,
        input,
    }))
}

/// OBS's refusals in words that say what to do.
fn refusal(instance: &str, command: &AudioCommand, error: CommandError) -> ApiError {
    let CommandError::Rejected { code, message } = &error else {
        return ApiError::from_command(instance, error, "");
    };
    let input = command.input();
    match code {
        ObsStatus::ResourceNotFound => ApiError::UnknownSource(format!(
            "OBS instance `{instance}` has no input named `{input}`; \
             GET /api/audio/inputs lists the inputs with audio"
        )),
        ObsStatus::InvalidResourceState => ApiError::Conflict(format!(
            "input `{input}` of OBS instance `{instance}` has no audio; OBS said: {message}"
        )),
        _ => ApiError::from_command(instance, error, ""),
    }
}

#[utoipa::path(
    post,
    path = "/api/audio/inputs/{input}/mute",
    tag = "instance",
    summary = "Mute an input; answers its audio afterwards",
    params(("input" = String, Path, description = "The input's name")),
    responses(
        (status = 200, description = "Muted", body = AudioCommandAnswer,
         example = json!({"ok": true, "instance": "default", "action": "mute", "input": {
             "name": "Mic/Aux", "uuid": "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11", "kind": "pulse_input_capture",
             "muted": true, "volume_db": 0.0, "volume_mul": 1.0, "balance": 0.5, "sync_offset_ms": 0,
             "monitor_type": "none", "tracks": [1], "in_program": true, "in_preview": null}})),
        (status = 400, description = "A blank input name (invalid_field)", body = crate::error::ErrorBody),
        InputRefusals,
        CommandErrors
    )
)]
pub async fn mute(state: State, target: Target, path: Input) -> Answer {
    set_muted(&state, &target, path, true).await
}

#[utoipa::path(
    post,
    path = "/api/audio/inputs/{input}/unmute",
    tag = "instance",
    summary = "Unmute an input; answers its audio afterwards",
    params(("input" = String, Path, description = "The input's name")),
    responses(
        (status = 200, description = "Unmuted", body = AudioCommandAnswer),
        (status = 400, description = "A blank input name (invalid_field)", body = crate::error::ErrorBody),
        InputRefusals,
        CommandErrors
    )
)]
pub async fn unmute(state: State, target: Target, path: Input) -> Answer {
    set_muted(&state, &target, path, false).await
}

#[utoipa::path(
    post,
    path = "/api/audio/inputs/{input}/toggle-mute",
    tag = "instance",
    summary = "Mute an unmuted input, unmute a muted one; answers the new state",
    params(("input" = String, Path, description = "The input's name")),
    responses(
        (status = 200, description = "Toggled", body = AudioCommandAnswer),
        (status = 400, description = "A blank input name (invalid_field)", body = crate::error::ErrorBody),
        InputRefusals,
        CommandErrors
    )
)]
pub async fn toggle_mute(state: State, target: Target, path: Input) -> Answer {
    run_on_input(&state, &target, path, |input| AudioCommand::ToggleMute {
        input,
    })
    .await
}

async fn set_muted(state: &AppState, target: &Target, path: Input, muted: bool) -> Answer {
    run_on_input(state, target, path, |input| AudioCommand::SetMuted {
        input,
        muted,
    })
    .await
}

/// Runs the command made for the path's input (checked first).
async fn run_on_input(
    state: &AppState,
    target: &Target,
    path: Input,
    command: impl FnOnce(String) -> AudioCommand,
) -> Answer {
    let input = path.into_inner().non_empty()?;
    run(state, target, command(input)).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeBody {
    /// -100 to 26 dB. Give `db` or `mul`, not both.
    pub db: Option<f64>,
    /// 0 to 20 (1 is unchanged).
    pub mul: Option<f64>,
}

/// The command a volume body asks for, or why it is refused.
pub fn volume_command(input: String, body: VolumeBody) -> Result<AudioCommand, ApiError> {
    let outside = |field: &str, range: &std::ops::RangeInclusive<f64>, value: f64| {
        ApiError::InvalidField(format!(
            "`{field}` must be between {} and {} (it was {value})",
            range.start(),
            range.end()
        ))
    };
    match (body.db, body.mul) {
        (Some(db), None) if DB_RANGE.contains(&db) => Ok(AudioCommand::VolumeDb { input, db }),
        (Some(db), None) => Err(outside("db", &DB_RANGE, db)),
        (None, Some(mul)) if MUL_RANGE.contains(&mul) => Ok(AudioCommand::VolumeMul { input, mul }),
        (None, Some(mul)) => Err(outside("mul", &MUL_RANGE, mul)),
        _ => Err(ApiError::InvalidField(
            "give exactly one of `db` (-100 to 26) or `mul` (0 to 20)".into(),
        )),
    }
}

#[utoipa::path(
    put,
    path = "/api/audio/inputs/{input}/volume",
    tag = "instance",
    summary = "Set an input's volume in dB or as a multiplier",
    params(("input" = String, Path, description = "The input's name")),
    request_body(content = VolumeBody, example = json!({"db": -6.0})),
    responses(
        (status = 200, description = "The input's audio afterwards", body = AudioCommandAnswer),
        (status = 400, description = "Malformed body, neither or both of `db` and `mul`, or a value outside its range (invalid_field)", body = crate::error::ErrorBody,
         example = json!({"error": "invalid_field", "message": "`db` must be between -100 and 26 (it was 40)"})),
        InputRefusals,
        CommandErrors
    )
)]
pub async fn set_volume(
    state: State,
    target: Target,
    path: Input,
    Json(body): Json<VolumeBody>,
) -> Answer {
    let input = path.into_inner().non_empty()?;
    run(&state, &target, volume_command(input, body)?).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BalanceBody {
    /// 0.0 left, 0.5 centre, 1.0 right.
    pub balance: f64,
}

#[utoipa::path(
    put,
    path = "/api/audio/inputs/{input}/balance",
    tag = "instance",
    summary = "Set an input's stereo balance",
    params(("input" = String, Path, description = "The input's name")),
    request_body(content = BalanceBody, example = json!({"balance": 0.5})),
    responses(
        (status = 200, description = "The input's audio afterwards", body = AudioCommandAnswer),
        (status = 400, description = "Malformed body, or `balance` outside 0.0..1.0 (invalid_field)", body = crate::error::ErrorBody),
        InputRefusals,
        CommandErrors
    )
)]
pub async fn set_balance(
    state: State,
    target: Target,
    path: Input,
    Json(BalanceBody { balance }): Json<BalanceBody>,
) -> Answer {
    let input = path.into_inner().non_empty()?;
    if !BALANCE_RANGE.contains(&balance) {
        return Err(ApiError::InvalidField(format!(
            "`balance` must be between 0.0 and 1.0 (it was {balance})"
        )));
    }
    run(&state, &target, AudioCommand::Balance { input, balance }).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume(db: Option<f64>, mul: Option<f64>) -> Result<AudioCommand, ApiError> {
        volume_command("Mic".into(), VolumeBody { db, mul })
    }

    #[test]
    fn a_volume_body_names_its_field_and_range() {
        assert_eq!(
            volume(Some(-6.0), None).unwrap(),
            AudioCommand::VolumeDb {
                input: "Mic".into(),
                db: -6.0
            }
        );
        assert!(volume(None, Some(20.0)).is_ok());
        let message = |r: Result<AudioCommand, ApiError>| r.unwrap_err().to_string();
        assert!(message(volume(Some(40.0), None)).contains("`db` must be between -100 and 26"));
        assert!(message(volume(None, Some(-1.0))).contains("`mul` must be between 0 and 20"));
        assert!(message(volume(None, None)).contains("exactly one"));
        assert!(message(volume(Some(0.0), Some(1.0))).contains("exactly one"));
    }
}
