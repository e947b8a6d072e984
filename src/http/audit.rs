//! The audit trail (issue 19): every state-changing `/api/` request is recorded with when, who
//! (the token's name, never its secret; `rule:<name>` for what rules do), from where, the route
//! and instance, what was asked with its secrets redacted, the outcome and the duration.
//! `auth::require_token` builds the entries; `db::audit::AuditRecorder` writes them behind the
//! request; `GET /api/audit/` (admin) reads them with the history routes' filters and cursor.

use std::{
    cell::RefCell,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
};

use actix_web::{dev::Payload, error::PayloadError, web, HttpRequest, HttpResponse};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    body::BODY_LIMIT,
    history::{encode_cursor, HistoryParams, PageQuery},
    AppState,
};
use crate::{
    config::NO_DATABASE,
    db::{
        queries::audit::{self, AuditQuery},
        source::audit::AuditRow,
    },
    error::ApiError,
};

/// What replaces a secret's value.
pub const REDACTED: &str = "[redacted]";

/// Whether a JSON key names a secret: passwords, secrets, tokens, keys (a stream key is `key`
/// in OBS's stream service settings), credentials and `Authorization`. Compared without case,
/// `_`, `-` or spaces, so `streamKey`, `stream_key` and `Stream Key` are all caught; `hotkey`
/// and `keyId` (names, not secrets) are not.
pub fn is_secret_key(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    const ANYWHERE: [&str; 7] = [
        "password",
        "passwd",
        "secret",
        "token",
        "passphrase",
        "credential",
        "authorization",
    ];
    ANYWHERE.iter().any(|word| key.contains(word))
        || (key.ends_with("key") && !key.ends_with("hotkey"))
        || key == "auth"
}

/// `value` with the value of every secret key replaced by [`REDACTED`], at any depth (so the
/// `requestData` of raw and batch OBS requests is covered too).
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if is_secret_key(key) && !value.is_null() {
                        Value::String(REDACTED.to_string())
                    } else {
                        redact(value)
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// What an audit entry says was asked: the body as redacted JSON, a note for a body that is not
/// JSON (its bytes could hold anything), None for no body.
pub fn describe_body(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    Some(match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => redact(&value).to_string(),
        Err(_) => Value::String(format!("({} bytes, not JSON)", bytes.len())).to_string(),
    })
}

/// An audit entry for what a rule did (issue 20): recorded under `rule:<name>`, with no remote
/// address, its request redacted like a client's. Send it as `db::audit::Record`.
pub fn rule_action(
    rule: &str,
    method: &str,
    route: &str,
    instance: Option<&str>,
    request: Option<&Value>,
    outcome: Result<u16, &ApiError>,
    duration_ms: i64,
) -> crate::db::source::audit::AuditForm {
    let (status, error) = match outcome {
        Ok(status) => (status, None),
        Err(error) => (
            actix_web::ResponseError::status_code(error).as_u16(),
            Some(error.code().to_string()),
        ),
    };
    crate::db::source::audit::AuditForm {
        happened_at: Utc::now().naive_utc(),
        actor: format!("rule:{rule}"),
        remote: None,
        method: method.to_string(),
        route: route.to_string(),
        instance: instance.map(str::to_string),
        request: request.map(|body| redact(body).to_string()),
        status: i32::from(status),
        error,
        duration_ms,
    }
}

/// A request body that keeps a copy (up to the body limit) of what its handler read, for the
/// audit entry. Reading is unchanged: limits, the body timeout and errors pass through.
pub struct Tee {
    inner: Payload,
    seen: Rc<RefCell<Vec<u8>>>,
}

impl Tee {
    pub fn wrap(inner: Payload) -> (Self, Rc<RefCell<Vec<u8>>>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        (
            Self {
                inner,
                seen: Rc::clone(&seen),
            },
            seen,
        )
    }
}

impl Stream for Tee {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let item = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &item {
            let mut seen = this.seen.borrow_mut();
            let room = BODY_LIMIT.saturating_sub(seen.len());
            seen.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        item
    }
}

/// One entry of `GET /api/audit/`.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    id: i64,
    at: DateTime<Utc>,
    /// `token:<name>`, `rule:<name>` (actions rules take) or `anonymous` (a hub without tokens).
    #[schema(example = "token:stream-deck")]
    actor: String,
    /// The token's name when a token made the request.
    token: Option<String>,
    /// The client's address as the hub saw it.
    remote: Option<String>,
    method: String,
    #[schema(example = "/api/instances/main/switch-scene")]
    route: String,
    instance: Option<String>,
    /// The JSON body, secrets replaced by "[redacted]"; null when there was none.
    request: Option<Value>,
    /// The answer's HTTP status.
    status: i32,
    /// The answer's error code, if it was an error.
    error: Option<String>,
    duration_ms: i64,
}

impl From<AuditRow> for AuditView {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: Utc.from_utc_datetime(&row.happened_at),
            token: row.actor.strip_prefix("token:").map(str::to_string),
            actor: row.actor,
            remote: row.remote,
            method: row.method,
            route: row.route,
            instance: row.instance,
            request: row
                .request
                .map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text))),
            status: row.status,
            error: row.error,
            duration_ms: row.duration_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /api/audit/`, for the document (parsed by [`parse_audit_query`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description for the document; never built
pub struct AuditParams {
    /// Only requests about this instance
    instance: Option<String>,
    /// Only this actor: `token:<name>` or `rule:<name>`
    actor: Option<String>,
    /// RFC 3339 time, inclusive
    since: Option<DateTime<Utc>>,
    /// RFC 3339 time, inclusive
    until: Option<DateTime<Utc>>,
    /// Page size, 1 to 500 (default 50)
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

/// The history's parameters plus `actor`.
fn parse_audit_query(query: &str) -> Result<(HistoryParams, Option<String>), ApiError> {
    let mut actor = None;
    let mut rest = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        if part.split('=').next() != Some("actor") {
            rest.push(part);
            continue;
        }
        let pairs = web::Query::<Vec<(String, String)>>::from_query(part)
            .map_err(|error| ApiError::InvalidField(format!("`actor`: {error}")))?
            .into_inner();
        let value = pairs
            .into_iter()
            .next()
            .map(|(_, value)| value)
            .unwrap_or_default();
        if value.is_empty() {
            return Err(ApiError::InvalidField("`actor` must not be empty".into()));
        }
        if actor.replace(value).is_some() {
            return Err(ApiError::InvalidField(
                "`actor` is given more than once".into(),
            ));
        }
    }
    let params = HistoryParams::try_from(super::query::parse::<PageQuery>(&rest.join("&"))?)?;
    if !params.kinds.is_empty() {
        return Err(ApiError::InvalidField(
            "unknown query parameter `kind`: the audit takes `instance`, `actor`, `since`, \
             `until`, `limit` and `cursor`"
                .into(),
        ));
    }
    Ok((params, actor))
}

#[utoipa::path(get, path = "/api/audit", tag = "tokens",
    summary = "The audit trail: every state-changing request, newest first",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 400, description = "A query parameter is invalid (the message names it)", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database, or it fails", body = crate::error::ErrorBody),
    ))]
pub async fn entries(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (params, actor) = parse_audit_query(request.query_string())?;
    let Some(pool) = state.persistence.pool().cloned() else {
        return Err(ApiError::PersistenceUnavailable(format!(
            "the hub keeps no audit trail without a database (OBS_HUB_DATABASE={NO_DATABASE})"
        )));
    };
    let limit = params.limit;
    let query = AuditQuery {
        instance: params.instance,
        actor,
        since: params.since,
        until: params.until,
        before_id: params.before_id,
        limit: limit + 1,
    };
    let database_error = |error: String| {
        ApiError::PersistenceUnavailable(format!(
            "the audit trail cannot be read right now ({error})"
        ))
    };
    let mut rows = web::block(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        audit::page(&mut conn, &query).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| database_error(e.to_string()))?
    .map_err(database_error)?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|row| encode_cursor(row.id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(AuditPage {
        entries: rows.into_iter().map(AuditView::from).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_are_recognised_in_any_spelling() {
        for key in [
            "password",
            "obs_password",
            "secret",
            "webhookSecret",
            "token",
            "bearer_token",
            "key",
            "stream_key",
            "streamKey",
            "Stream Key",
            "Authorization",
            "api-key",
            "auth",
            "passphrase",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "scene_name",
            "hotkey",
            "hotkeyName",
            "keyId",
            "keyModifiers",
            "host",
            "port",
            "author",
            "monkeys",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn secrets_are_redacted_at_any_depth_and_the_rest_is_kept() {
        let body = json!({
            "host": "127.0.0.1",
            "password": "hunter2",
            "url": "http://127.0.0.1:9/hook",
            "secret": "whsec_abc",
            "requests": [
                {"requestType": "SetStreamServiceSettings", "requestData": {
                    "streamServiceType": "rtmp_custom",
                    "streamServiceSettings": {"server": "rtmp://127.0.0.1/live", "key": "sk-live-123",
                        "use_auth": true, "username": "u", "password": "p4ss"}}},
                {"requestType": "TriggerHotkeyByName", "requestData": {"hotkeyName": "OBSBasic.StartStreaming"}}
            ],
            "absent_token": null
        });
        let redacted = redact(&body);
        let text = redacted.to_string();
        for secret in ["hunter2", "whsec_abc", "sk-live-123", "p4ss"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(redacted["host"], "127.0.0.1");
        assert_eq!(redacted["password"], REDACTED);
        let settings = &redacted["requests"][0]["requestData"]["streamServiceSettings"];
        assert_eq!(settings["server"], "rtmp://127.0.0.1/live");
        assert_eq!(settings["key"], REDACTED);
        assert_eq!(settings["username"], "u");
        assert_eq!(
            redacted["requests"][1]["requestData"]["hotkeyName"],
            "OBSBasic.StartStreaming"
        );
        // A null says no secret was sent: kept as null.
        assert!(redacted["absent_token"].is_null());
    }

    #[test]
    fn bodies_are_described_without_their_secrets() {
        assert_eq!(describe_body(b""), None);
        assert_eq!(describe_body(b"  \n"), None);
        assert_eq!(
            describe_body(br#"{"scene_name":"Live"}"#).as_deref(),
            Some(r#"{"scene_name":"Live"}"#)
        );
        let garbled = describe_body(b"password=hunter2").unwrap();
        assert!(!garbled.contains("hunter2"));
        assert!(garbled.contains("not JSON"));
    }

    #[test]
    fn a_rules_action_is_recorded_under_its_name_redacted() {
        let body = json!({"streamServiceSettings": {"key": "sk-1"}});
        let entry = rule_action(
            "end-of-show",
            "POST",
            "/api/stop-stream",
            Some("main"),
            Some(&body),
            Err(&ApiError::Conflict("not streaming".into())),
            4,
        );
        assert_eq!(entry.actor, "rule:end-of-show");
        assert_eq!(entry.status, 409);
        assert_eq!(entry.error.as_deref(), Some("conflict"));
        assert!(!entry.request.unwrap().contains("sk-1"));
        let view = AuditView::from(AuditRow {
            id: 1,
            happened_at: entry.happened_at,
            actor: entry.actor,
            remote: None,
            method: entry.method,
            route: entry.route,
            instance: entry.instance,
            request: None,
            status: entry.status,
            error: entry.error,
            duration_ms: 4,
        });
        assert_eq!(view.token, None, "a rule is not a token");
    }

    #[test]
    fn the_audit_query_takes_the_history_filters_and_an_actor() {
        let (params, actor) = parse_audit_query("actor=token:deck&instance=main&limit=5").unwrap();
        assert_eq!(actor.as_deref(), Some("token:deck"));
        assert_eq!(params.instance.as_deref(), Some("main"));
        assert_eq!(params.limit, 5);
        assert!(parse_audit_query("kind=scene_changed").is_err());
        assert!(parse_audit_query("actor=a&actor=b").is_err());
    }
}
