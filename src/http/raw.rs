//! Raw obs-websocket requests and batches (`POST .../obs/requests/{RequestType}`,
//! `POST .../obs/batch`): what a controller's "custom command" needs when the hub has no typed
//! route. Parse and check here (`obs::raw` holds the rules), send through the supervisor, answer
//! OBS's response verbatim. The hub's own session (`obs::session`) carries them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{
    ask::ask_for,
    body::{self, Json},
    responses::InstanceErrors,
    target::Target,
    AppState,
};
use crate::{
    error::ApiError,
    obs::{connection::RawCall, raw, RouteRaw},
};

type Answer = Result<HttpResponse, ApiError>;

/// Body of `POST .../obs/batch`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// obs-websocket request objects: `requestType`, optional `requestId` and `requestData`.
    #[schema(value_type = Vec<Object>)]
    requests: Vec<Value>,
    /// Stop at the first request that fails (default false).
    #[serde(default)]
    halt_on_failure: bool,
    /// `serial_realtime` (default), `serial_frame` or `parallel`.
    #[serde(default)]
    execution_type: Option<String>,
}

async fn route(state: &AppState, target: &Target, call: RawCall) -> Answer {
    let message = RouteRaw {
        instance: target.name.clone(),
        call,
    };
    let answer = ask_for(&state.supervisor, message, |error| {
        ApiError::from_command(&target.name, error, "")
    })
    .await?;
    Ok(HttpResponse::Ok().json(answer))
}

#[utoipa::path(
    post,
    path = "/api/obs/requests/{request_type}",
    tag = "instance",
    summary = "Send one obs-websocket request as is; OBS's answer comes back verbatim",
    description = "The body, if any, is the request's `requestData` (a JSON object). The answer \
        is OBS's `requestType`, `requestStatus` (`result`, `code`, `comment`) and `responseData`, \
        with 200 whatever OBS decided: read `requestStatus.result`. StartStream, StopStream, \
        StartRecord and StopRecord run as the typed routes do. Requests that may change OBS \
        are followed by a re-read of its state.",
    params(("request_type" = String, Path, description = "An obs-websocket request type, e.g. GetVersion")),
    request_body(content = Option<Object>, content_type = "application/json"),
    responses(
        (status = 200, description = "OBS's answer", body = Object),
        (status = 400, description = "Malformed request type or body", body = crate::error::ErrorBody),
        (status = 503, description = "Not connected", body = crate::error::ErrorBody),
        (status = 504, description = "OBS did not answer in time", body = crate::error::ErrorBody),
        InstanceErrors
    )
)]
pub async fn request(
    state: web::Data<AppState>,
    target: Target,
    http: HttpRequest,
    payload: web::Payload,
) -> Answer {
    let request_type = http
        .match_info()
        .get("request_type")
        .unwrap_or_default()
        .to_string();
    raw::check_request_type(&request_type).map_err(ApiError::InvalidField)?;
    let request_data: Option<Map<String, Value>> = body::optional_json(&http, payload).await?;
    let call = RawCall::Request {
        request_type,
        request_data: request_data.map(Value::Object),
    };
    route(&state, &target, call).await
}

#[utoipa::path(
    post,
    path = "/api/obs/batch",
    tag = "instance",
    summary = "Send an obs-websocket request batch; OBS's results come back verbatim",
    description = "At most 64 requests; `Sleep`s of at most 5000 ms (or 300 frames) in all; \
        requests that drive an output (StartStream, ToggleRecord...) are refused here: send \
        them alone. The whole batch must finish within `request_timeout_ms` plus its sleeps.",
    request_body(content = BatchBody, content_type = "application/json"),
    responses(
        (status = 200, description = "`results`: OBS's answer to each request run", body = Object),
        (status = 400, description = "Malformed body, too many requests, too long a sleep, or an output request", body = crate::error::ErrorBody),
        (status = 503, description = "Not connected", body = crate::error::ErrorBody),
        (status = 504, description = "OBS did not answer in time", body = crate::error::ErrorBody),
        InstanceErrors
    )
)]
pub async fn batch(
    state: web::Data<AppState>,
    target: Target,
    Json(batch): Json<BatchBody>,
) -> Answer {
    let execution_type = match batch.execution_type.as_deref() {
        None => crate::obs_protocol::execution::SERIAL_REALTIME,
        Some(name) => raw::execution_type(name).ok_or_else(|| {
            ApiError::InvalidField(format!(
                "`execution_type`: `{name}` is not one of serial_realtime, serial_frame, parallel"
            ))
        })?,
    };
    let checked = raw::check_batch(batch.requests).map_err(ApiError::InvalidField)?;
    let call = RawCall::Batch {
        batch: checked,
        halt_on_failure: batch.halt_on_failure,
        execution_type,
    };
    route(&state, &target, call).await
}
