//! `POST /api/callback/...`: another hub (or anything else) telling this hub about an instance.
//!
//! Outside the API-token middleware: a callback is let in by its Standard Webhooks signature
//! when a callback secret is configured (or by an API token), see
//! [`callbacks::admit`](crate::webhooks::callbacks::admit). What it says goes to the status
//! manager as an `ApplyCallback`: the manager alone decides whether it changes the instance
//! (this route reports the decision), and what it changes reaches the history and every
//! subscriber like any other change.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::{auth::bearer_token, body, target::default_instance, AppState};
use crate::{
    error::ApiError,
    status::ApplyCallback,
    webhooks::{
        callbacks::{self, CallbackHeaders, CallbackRoute, Envelope, Precheck},
        endpoint::check_instance,
        Webhooks,
    },
};

/// Instances a hub will learn of from callbacks alone: a bound on what a buggy sender can make
/// it hold.
pub const MAX_CALLBACK_INSTANCES: usize = 64;

type Answer = Result<HttpResponse, ApiError>;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(super::post("", any_change))
        .service(super::post("/scene-change", scene_change))
        .service(super::post("/streaming-change", streaming_change))
        .service(super::post("/connection-change", connection_change));
}

/// What a callback answer says.
#[derive(Serialize, ToSchema)]
pub struct CallbackAnswer {
    pub ok: bool,
    /// False when received but not applied; `reason` says why.
    pub applied: bool,
    pub instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True for a `webhook-id` received already.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<bool>,
}

/// The errors every callback route can answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description for the document; never built
pub enum CallbackErrors {
    /// The body is invalid (the message names the field)
    #[response(status = 400)]
    InvalidBody(crate::error::ErrorBody),
    /// A callback secret or API tokens are configured and neither a valid signature nor a token was given
    #[response(status = 401)]
    Unauthorized(crate::error::ErrorBody),
    /// No instance named and no default instance
    #[response(status = 404)]
    UnknownInstance(crate::error::ErrorBody),
    /// Body over `[http] callback_body_limit_bytes` (8 KiB by default)
    #[response(status = 413)]
    TooLarge(crate::error::ErrorBody),
    /// A body without `Content-Type: application/json`
    #[response(status = 415)]
    NotJson(crate::error::ErrorBody),
    /// The body did not arrive within `[http] body_timeout_ms` (the connection is closed)
    #[response(status = 408)]
    BodyTimeout(crate::error::ErrorBody),
    /// Too many signed callbacks are being received and checked at once; retry
    #[response(status = 503)]
    TooManyUnauthenticated(crate::error::ErrorBody),
}

#[utoipa::path(post, path = "/api/callback", tag = "callbacks",
    summary = "Another hub's webhook of any type (the Standard Webhooks envelope)",
    request_body = Envelope,
    responses(
        (status = 200, description = "Received: applied, or why not (OBS's own word wins, a duplicate, a late retry, a test)", body = CallbackAnswer),
        CallbackErrors
    ))]
pub async fn any_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    receive(CallbackRoute::Any, request, payload, state, webhooks).await
}

#[utoipa::path(post, path = "/api/callback/scene-change", tag = "callbacks",
    summary = "A scene change of an instance (seed body or envelope)",
    request_body = crate::status::scene_status::SceneFields,
    responses(
        (status = 200, description = "Received: applied, or why not (OBS's own word wins, a duplicate, a late retry, a test)", body = CallbackAnswer),
        CallbackErrors
    ))]
pub async fn scene_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let route = CallbackRoute::flat("scene-change");
    receive(route, request, payload, state, webhooks).await
}

#[utoipa::path(post, path = "/api/callback/streaming-change", tag = "callbacks",
    summary = "A streaming change of an instance (seed body or envelope)",
    request_body = crate::status::output_status::StreamingFields,
    responses(
        (status = 200, description = "Received: applied, or why not (OBS's own word wins, a duplicate, a late retry, a test)", body = CallbackAnswer),
        CallbackErrors
    ))]
pub async fn streaming_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let route = CallbackRoute::flat("streaming-change");
    receive(route, request, payload, state, webhooks).await
}

#[utoipa::path(post, path = "/api/callback/connection-change", tag = "callbacks",
    summary = "A connection change of an instance known from callbacks (seed body or envelope)",
    request_body = crate::status::kinds::ConnectionFields,
    responses(
        (status = 200, description = "Received: applied, or why not (OBS's own word wins, a duplicate, a late retry, a test)", body = CallbackAnswer),
        CallbackErrors
    ))]
pub async fn connection_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let route = CallbackRoute::flat("connection-change");
    receive(route, request, payload, state, webhooks).await
}

fn header_text<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

async fn receive(
    route: CallbackRoute,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let bearer = bearer_token(&request);
    let headers = CallbackHeaders {
        bearer_token: bearer.as_deref(),
        webhook_id: header_text(&request, "webhook-id"),
        webhook_timestamp: header_text(&request, "webhook-timestamp"),
        webhook_signature: header_text(&request, "webhook-signature"),
    };
    let secret = state.settings.callback_secret.as_ref();
    let tokens = &state.settings.api_tokens;
    // What the headers can refuse is refused before a byte of the body is read, and a body
    // whose signature is still to check holds one of a bounded number of slots while it is
    // read: senders without the secret cannot hold sockets and buffers.
    let precheck = callbacks::precheck(secret, tokens, headers, Utc::now().timestamp())
        .map_err(ApiError::Unauthorized)?;
    let _slot = match precheck {
        Precheck::Admitted(_) => None,
        Precheck::SignatureToVerify => Some(state.unauthenticated.acquire()?),
    };
    let body = body::read_limited(payload, state.settings.http.callback_body_limit).await?;
    callbacks::admit(secret, tokens, headers, &body, Utc::now().timestamp())
        .map_err(ApiError::Unauthorized)?;
    body::check_type_of(&request, &body)?;
    let message = callbacks::parse(route, &body)?;

    let configured = state.settings.instance_names();
    let instance = match &message.instance {
        Some(name) => {
            check_instance(name).map_err(|e| ApiError::InvalidField(format!("`instance`: {e}")))?;
            name.clone()
        }
        None => default_instance(&configured)?,
    };
    let answer = |applied: bool, reason: Option<&str>| {
        HttpResponse::Ok().json(CallbackAnswer {
            ok: true,
            applied,
            instance: instance.clone(),
            reason: reason.map(str::to_string),
            duplicate: None,
        })
    };
    let Some((kind, update)) = message.update else {
        return Ok(answer(
            false,
            Some("a test message: received, nothing to apply"),
        ));
    };

    let linked = configured.contains(&instance);
    let snapshot = state.board.current();
    let status = snapshot.instance(&instance).cloned();
    if status.is_none() && !linked {
        let learnt = snapshot
            .instances
            .keys()
            .filter(|name| !configured.contains(name))
            .count();
        if learnt >= MAX_CALLBACK_INSTANCES {
            return Err(ApiError::InvalidField(format!(
                "`instance`: `{instance}` is unknown here and this hub already follows \
                 {MAX_CALLBACK_INSTANCES} instances from callbacks alone"
            )));
        }
    }

    let decision = {
        let mut memory = webhooks.callback_memory();
        let now = Utc::now();
        if let Some(id) = headers.webhook_id {
            if !memory.first_sight(id, now) {
                return Ok(HttpResponse::Ok().json(CallbackAnswer {
                    ok: true,
                    applied: false,
                    instance,
                    reason: Some("this webhook-id was received already".to_string()),
                    duplicate: Some(true),
                }));
            }
        }
        if let Some(at) = message.occurred_at {
            if !memory.is_newest(&instance, kind, at) {
                return Ok(answer(
                    false,
                    Some("a newer change of this kind was applied already"),
                ));
            }
        }
        // Queued while the memory is held: callbacks reach the manager in the order they were
        // accepted, whichever HTTP worker took them. The manager alone decides whether the
        // callback changes the instance; this route reports its decision.
        state.manager.send(ApplyCallback {
            instance: instance.clone(),
            update,
        })
    };
    let decision = decision.await.map_err(|_| {
        ApiError::Unavailable("the status manager is not running; retry in a moment".to_string())
    })?;
    Ok(match decision {
        Ok(()) => answer(true, None),
        Err(reason) => answer(false, Some(reason)),
    })
}
