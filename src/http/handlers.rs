//! Route handlers: parse, route to the supervisor or read the board, shape the answer.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    ask::{ask, ask_for},
    auth::Caller,
    body::OptionalJson,
    responses::InstanceErrors,
    target::Target,
    views, AppState,
};
use crate::{
    config::Secret,
    error::ApiError,
    obs::{
        probe::{probe, ProbeTarget},
        SetInstanceRunning, StartManager, StopManager,
    },
};

type Answer = Result<HttpResponse, ApiError>;

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
