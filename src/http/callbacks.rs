//! `POST /api/callback/...`: another hub (or anything else) telling this hub about an instance.
//!
//! Outside the API-token middleware: a callback is let in by its Standard Webhooks signature
//! when a callback secret is configured (or by an API token), see
//! [`callbacks::admit`](crate::webhooks::callbacks::admit). What it says is sent to the status
//! manager as a `Report` from `Source::Callback`, so it reaches the history and every
//! subscriber like any other change.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde_json::json;

use super::{auth::bearer_token, body, target::default_instance, AppState};
use crate::{
    error::ApiError,
    status::{update, AddCallbackInstance, LinkOrigin, Report, Source},
    webhooks::{
        callbacks::{self, CallbackHeaders, CallbackRoute},
        endpoint::check_instance,
        events::EventType,
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

async fn any_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    receive(CallbackRoute::Any, request, payload, state, webhooks).await
}

async fn scene_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let route = CallbackRoute::Only(EventType::SceneChanged);
    receive(route, request, payload, state, webhooks).await
}

async fn streaming_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let route = CallbackRoute::Only(EventType::StreamingChanged);
    receive(route, request, payload, state, webhooks).await
}

async fn connection_change(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    webhooks: web::Data<Webhooks>,
) -> Answer {
    let route = CallbackRoute::Only(EventType::ConnectionChanged);
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
    let body = body::read(payload).await?;
    let bearer = bearer_token(&request);
    let headers = CallbackHeaders {
        bearer_token: bearer.as_deref(),
        webhook_id: header_text(&request, "webhook-id"),
        webhook_timestamp: header_text(&request, "webhook-timestamp"),
        webhook_signature: header_text(&request, "webhook-signature"),
    };
    callbacks::admit(
        state.settings.callback_secret.as_ref(),
        &state.settings.api_tokens,
        headers,
        &body,
        Utc::now().timestamp(),
    )
    .map_err(ApiError::Unauthorized)?;
    let message = callbacks::parse(route, &body)?;

    let configured: Vec<String> = state
        .settings
        .instances
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let instance = match &message.instance {
        Some(name) => {
            check_instance(name).map_err(|e| ApiError::InvalidField(format!("`instance`: {e}")))?;
            name.clone()
        }
        None => default_instance(&configured)?,
    };
    let answer = |applied: bool, reason: Option<&str>| {
        let mut body = json!({ "ok": true, "applied": applied, "instance": instance });
        if let Some(reason) = reason {
            body["reason"] = json!(reason);
        }
        HttpResponse::Ok().json(body)
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

    let mut memory = webhooks.callback_memory();
    let now = Utc::now();
    if let Some(id) = headers.webhook_id {
        if !memory.first_sight(id, now) {
            return Ok(HttpResponse::Ok().json(json!({
                "ok": true, "applied": false, "duplicate": true, "instance": instance,
                "reason": "this webhook-id was received already",
            })));
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
    if let Some(status) = &status {
        if let Some(reason) = update::callback_overruled(linked, status, &update) {
            return Ok(answer(false, Some(reason)));
        }
    }
    if status.is_none() {
        state.manager.do_send(AddCallbackInstance(instance.clone()));
    }
    // Sent while the memory is held: callbacks reach the manager in the order they were
    // accepted, whichever HTTP worker took them.
    state.manager.do_send(Report {
        instance: instance.clone(),
        origin: LinkOrigin(0),
        source: Source::Callback,
        update,
    });
    drop(memory);
    Ok(answer(true, None))
}
