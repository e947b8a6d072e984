//! API tokens: `Authorization: Bearer <token>` on every `/api/` route when tokens are configured
//! (or, for a picture, a short-lived signed URL: see `signed_url`), each route's scope checked
//! against the token's ([`scopes`], [`tokens`]), commands rate-limited per token and audited
//! ([`audit`]).

use std::sync::Arc;

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{header, Method},
    middleware::Next,
    web, HttpMessage, ResponseError,
};
use chrono::Utc;

use super::{audit, scopes, tokens, tokens::Grant, AppState};
pub use crate::secret::token_matches;
use crate::{
    db::{audit::Record, source::audit::AuditForm},
    error::ApiError,
};

/// The token of an `Authorization: Bearer` header, if any.
pub fn bearer_token(request: &actix_web::HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Who sent a request, as the auth middleware found out (kept in the request's extensions for
/// the handlers that need it: `tokens::show_self`, `tokens::remove`).
#[derive(Clone, Debug)]
pub enum Caller {
    /// A hub that asks for no token.
    Anonymous,
    Token(Arc<Grant>),
}

impl Caller {
    /// The caller of a request that went through [`require_token`] (anonymous otherwise).
    pub fn of(request: &actix_web::HttpRequest) -> Caller {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Anonymous)
    }

    pub fn grant(&self) -> Option<&Grant> {
        match self {
            Caller::Anonymous => None,
            Caller::Token(grant) => Some(grant),
        }
    }

    /// Whether the caller may see `instance`: an instance-limited token sees only its own.
    pub fn sees(&self, instance: &str) -> bool {
        self.grant()
            .and_then(|grant| grant.instances.as_ref())
            .is_none_or(|names| names.iter().any(|name| name == instance))
    }

    /// As the audit trail names it.
    pub fn actor(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".to_string(),
            Caller::Token(grant) => format!("token:{}", grant.name),
        }
    }
}

/// Who is calling: anonymous on a hub without tokens, else the presented token's grant.
pub fn identify(state: &AppState, presented: Option<&str>) -> Result<Caller, ApiError> {
    if !state.tokens.required() {
        return Ok(Caller::Anonymous);
    }
    match presented {
        None => Err(ApiError::Unauthorized(
            "this hub requires an API token: send `Authorization: Bearer <token>`".to_string(),
        )),
        Some(token) => state
            .tokens
            .identify(token)
            .map(Caller::Token)
            .ok_or_else(|| ApiError::Unauthorized("the API token is not valid".to_string())),
    }
}

/// What a request needs ([`scopes`]), and its path split into instance and route.
fn requirement<'a>(method: &str, path: &'a str) -> (Option<scopes::ApiPath<'a>>, scopes::Required) {
    let api = scopes::split_path(path);
    let required = match &api {
        Some(api) => scopes::required(method, api.rest),
        None if path == "/ws" => scopes::WEBSOCKET,
        None => scopes::required(method, path),
    };
    (api, required)
}

/// Whether a request (`method` on `path`, with its query string) may proceed: always when no
/// token is configured; otherwise the token's grant must allow the route's scope.
pub fn authorized(
    state: &AppState,
    presented: Option<&str>,
    method: &str,
    path: &str,
    query: &str,
) -> Result<Caller, ApiError> {
    let caller = identify(state, presented)?;
    if let Caller::Token(grant) = &caller {
        let (api, required) = requirement(method, path);
        // Only an instance-limited token needs to know which instance (it costs a lookup).
        let instance = grant
            .instances
            .as_ref()
            .and_then(|_| request_instance(state, api.as_ref(), required, query));
        let route = || format!("{method} {path}");
        permit(state, grant, route, required, instance.as_deref())?;
    }
    Ok(caller)
}

/// Whether `grant` allows a route needing `required` on `instance` now; notes the use.
pub(crate) fn permit(
    state: &AppState,
    grant: &Grant,
    route: impl Fn() -> String,
    required: scopes::Required,
    instance: Option<&str>,
) -> Result<(), ApiError> {
    let now = Utc::now();
    tokens::permit(grant, route, required, instance, now)?;
    state.tokens.touch(grant, now);
    Ok(())
}

/// The instance a request acts on: its path's, or the default one (None when the route is
/// about the hub, or no default instance can be told).
fn request_instance(
    state: &AppState,
    api: Option<&scopes::ApiPath<'_>>,
    required: scopes::Required,
    query: &str,
) -> Option<String> {
    if let Some(name) = api.and_then(|api| api.instance) {
        return Some(name.to_string());
    }
    if !required.on_instance {
        return None;
    }
    if required.instance_in_query {
        return web::Query::<Vec<(String, String)>>::from_query(query)
            .ok()?
            .into_inner()
            .into_iter()
            .find_map(|(key, value)| (key == "instance").then_some(value));
    }
    // As `target::default_instance` decides, without collecting every name first: this runs
    // on every request of an instance-limited token.
    let instances = &state.settings.instances;
    instances
        .iter()
        .find(|i| i.name == crate::config::DEFAULT_INSTANCE)
        .or(match instances.as_slice() {
            [only] => Some(only),
            _ => None,
        })
        .map(|i| i.name.clone())
}

/// Whether a method changes something (and so is rate-limited and audited).
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware for the `/api` scope: who calls, whether the route's scope lets them
/// ([`scopes`]), the command rate limit, and the audit entry of what changes state. A refusal
/// is answered here (not returned as an error) so that it goes out while the unread body is
/// still held (see `body_guard::deadline`) and the connection is closed rather than drained.
pub async fn require_token<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(request).await?.map_into_left_body());
    };
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.path().to_string();
    let presented = bearer_token(request.request());
    let changes = changes_state(&method);
    let query = request.query_string().to_string();
    let caller = match authorized(&state, presented.as_deref(), method.as_str(), &path, &query)
        .or_else(|refusal| {
            // A picture's short-lived signed URL stands in for a token (GET and HEAD only).
            super::signed_url::admit(&state, request.request(), refusal).map(|()| Caller::Anonymous)
        }) {
        Ok(caller) => caller,
        Err(refusal) => {
            // A refused command by a known token is worth recording (who tried to stop the
            // stream); an unknown token is not (anyone could fill the trail).
            if changes && !matches!(refusal, ApiError::Unauthorized(_)) {
                let caller = identify(&state, presented.as_deref()).unwrap_or(Caller::Anonymous);
                let entry = Entry::new(&state, &request, &caller, started);
                entry.record(
                    &state,
                    None,
                    refusal.status_code().as_u16(),
                    Some(refusal.code()),
                );
            }
            return Ok(request.error_response(refusal).map_into_right_body());
        }
    };
    request.extensions_mut().insert(caller.clone());
    if !changes {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    // Configured (bootstrap) tokens and a hub without tokens are not limited: see the README.
    if let Caller::Token(grant) = &caller {
        if grant.id.is_some() {
            if let Err(retry_after_s) = state
                .rate_limits
                .check(&caller.actor(), std::time::Instant::now())
            {
                let refusal = ApiError::RateLimited {
                    retry_after_s,
                    message: format!(
                        "the token `{}` sent more commands than [http] commands_per_second                          allows; retry in {retry_after_s} s",
                        grant.name
                    ),
                };
                return Ok(request.error_response(refusal).map_into_right_body());
            }
        }
    }
    let entry = Entry::new(&state, &request, &caller, started);
    let (tee, seen) = audit::Tee::wrap(request.take_payload());
    request.set_payload(Payload::Stream {
        payload: Box::pin(tee),
    });
    match next.call(request).await {
        Ok(response) => {
            let code = response
                .response()
                .error()
                .and_then(|error| error.as_error::<ApiError>())
                .map(ApiError::code);
            let body = audit::describe_body(&seen.borrow());
            entry.record(&state, body, response.status().as_u16(), code);
            Ok(response.map_into_left_body())
        }
        Err(error) => {
            let body = audit::describe_body(&seen.borrow());
            let status = error.as_response_error().status_code().as_u16();
            let code = error.as_error::<ApiError>().map(ApiError::code);
            entry.record(&state, body, status, code);
            Err(error)
        }
    }
}

/// An audit entry being made: what is known before the handler runs.
struct Entry {
    actor: String,
    remote: Option<String>,
    method: String,
    route: String,
    instance: Option<String>,
    started: std::time::Instant,
    at: chrono::DateTime<Utc>,
}

impl Entry {
    fn new(
        state: &AppState,
        request: &ServiceRequest,
        caller: &Caller,
        started: std::time::Instant,
    ) -> Self {
        let path = request.path().to_string();
        let api = scopes::split_path(&path);
        let method = request.method().as_str().to_string();
        let required = api
            .as_ref()
            .map_or(scopes::required(&method, &path), |api| {
                scopes::required(&method, api.rest)
            });
        let instance = request_instance(state, api.as_ref(), required, request.query_string());
        Self {
            actor: caller.actor(),
            remote: request.peer_addr().map(|address| address.ip().to_string()),
            method,
            route: path,
            instance,
            started,
            at: Utc::now(),
        }
    }

    fn record(self, state: &AppState, request: Option<String>, status: u16, error: Option<&str>) {
        let Some(recorder) = state.persistence.audit() else {
            return;
        };
        let duration_ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        recorder.do_send(Record(AuditForm {
            happened_at: self.at.naive_utc(),
            actor: self.actor,
            remote: self.remote,
            method: self.method,
            route: self.route,
            instance: self.instance,
            request,
            status: i32::from(status),
            error: error.map(str::to_string),
            duration_ms,
        }));
    }
}
