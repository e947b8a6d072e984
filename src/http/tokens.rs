//! API tokens and what each may do (issue 19): the tokens from the environment and the config
//! file (admin, for bootstrapping), the tokens made through `POST /api/tokens/` (a scope,
//! optionally narrowed to instances and, within `control`, to capabilities; an optional expiry),
//! the decision [`permit`], and the token routes.
//!
//! A managed token's secret is 256 random bits, shown once at creation and stored only as its
//! SHA-256: for a random secret of that size a plain hash is enough (there is nothing to guess
//! from it, so no salt or slow hash is needed), and a lookup by hash reveals nothing usable
//! through timing. The tokens live in memory (loaded from the database at start), so checking
//! one costs a hash and a map lookup, no database read.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, RwLock,
    },
};

use actix_web::{web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{
    auth::Caller,
    body,
    scopes::{Required, Scope, CAPABILITIES},
    AppState,
};
use crate::{
    config::{Secret, NO_DATABASE},
    db::{
        pool::Pool,
        queries,
        source::token::{TokenForm, TokenRow},
    },
    error::ApiError,
};

/// Managed tokens start with this, so that a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "ohk_";
/// At most this many managed tokens.
const MAX_TOKENS: usize = 1_000;
/// `last_used_at` is written to the database at most this often per token.
const TOUCH_EVERY_S: i64 = 60;

/// What one token may do.
#[derive(Debug)]
pub struct Grant {
    /// The database id of a managed token; None for a configured one.
    pub id: Option<i32>,
    pub name: String,
    pub scope: Scope,
    /// None: every instance.
    pub instances: Option<Vec<String>>,
    /// Within `control`; None: every capability.
    pub capabilities: Option<Vec<String>>,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Unix seconds; 0: never used.
    last_used: AtomicI64,
    /// Unix seconds of the last `last_used_at` write.
    last_written: AtomicI64,
}

impl Grant {
    /// A grant of `scope` over every instance and capability, never expiring, never used, not
    /// stored (no id).
    fn unlimited(name: String, scope: Scope) -> Self {
        Self {
            id: None,
            name,
            scope,
            instances: None,
            capabilities: None,
            created_at: None,
            expires_at: None,
            last_used: AtomicI64::new(0),
            last_written: AtomicI64::new(0),
        }
    }

    fn configured(index: usize) -> Self {
        Self::unlimited(format!("configured-{}", index + 1), Scope::Admin)
    }

    fn from_row(row: TokenRow) -> Option<([u8; 32], Self)> {
        let list = |text: Option<String>| -> Option<Vec<String>> {
            text.and_then(|text| serde_json::from_str(&text).ok())
        };
        let last_used = row.last_used_at.map_or(0, |at| utc(at).timestamp());
        Some((
            from_hex(&row.secret_hash)?,
            Self {
                id: Some(row.id),
                name: row.name,
                scope: Scope::parse(&row.scope)?,
                instances: list(row.instances),
                capabilities: list(row.capabilities),
                created_at: Some(utc(row.created_at)),
                expires_at: row.expires_at.map(utc),
                last_used: AtomicI64::new(last_used),
                last_written: AtomicI64::new(last_used),
            },
        ))
    }

    pub fn last_used(&self) -> Option<DateTime<Utc>> {
        match self.last_used.load(Ordering::Relaxed) {
            0 => None,
            secs => Utc.timestamp_opt(secs, 0).single(),
        }
    }

    /// Notes a use; answers whether the database should hear of it (once a minute at most).
    fn used(&self, now: DateTime<Utc>) -> bool {
        let now = now.timestamp();
        self.last_used.store(now, Ordering::Relaxed);
        let written = self.last_written.load(Ordering::Relaxed);
        now - written >= TOUCH_EVERY_S
            && self
                .last_written
                .compare_exchange(written, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    pub fn view(&self) -> TokenView {
        TokenView {
            id: self.id,
            name: self.name.clone(),
            scopes: self.scope.implied(),
            instances: self.instances.clone(),
            capabilities: self.capabilities.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used(),
        }
    }
}

fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&time)
}

/// The message of a refusal by a token's list (capabilities or instances): what the request
/// is, and what the token may `verb` instead.
fn limited_to(route: String, why: &str, grant: &Grant, verb: &str, allowed: &[String]) -> String {
    format!(
        "{route} {why}; the token `{}` may only {verb}: {}",
        grant.name,
        allowed.join(", ")
    )
}

/// Whether `grant` may make a request that needs `required` about `instance` (the instance the
/// request acts on: its path's, or the default one; None when it cannot be told).
pub fn permit(
    grant: &Grant,
    route: impl Fn() -> String,
    required: Required,
    instance: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if grant.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::TokenExpired(format!(
            "the API token `{}` expired at {}",
            grant.name,
            grant
                .expires_at
                .map(|at| at.to_rfc3339())
                .unwrap_or_default()
        )));
    }
    if grant.scope < required.scope {
        return Err(ApiError::ScopeRequired(format!(
            "{} needs the `{}` scope; the token `{}` has `{}`",
            route(),
            required.scope,
            grant.name,
            grant.scope
        )));
    }
    if let (Scope::Control, Some(capability), Some(allowed)) =
        (grant.scope, required.capability, &grant.capabilities)
    {
        if !allowed.iter().any(|c| c == capability) {
            let why = format!("is a `{capability}` command");
            return Err(ApiError::CapabilityNotAllowed(limited_to(
                route(),
                &why,
                grant,
                "use",
                allowed,
            )));
        }
    }
    if let (true, Some(allowed)) = (required.on_instance, &grant.instances) {
        let permitted = instance.is_some_and(|name| allowed.iter().any(|a| a == name));
        if !permitted {
            let acts_on = match instance {
                Some(name) => format!("acts on the instance `{name}`"),
                None => "names no instance (use /api/instances/{name}/...; the history routes \
                         take ?instance=)"
                    .to_string(),
            };
            return Err(ApiError::InstanceNotAllowed(limited_to(
                route(),
                &acts_on,
                grant,
                "act on",
                allowed,
            )));
        }
    }
    Ok(())
}

fn hash(secret: &str) -> String {
    to_hex(&Sha256::digest(secret.as_bytes()))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let mut bytes = [0u8; 32];
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).ok()?;
    }
    Some(bytes)
}

/// Every token the hub accepts (cheap to clone).
#[derive(Clone)]
pub struct Tokens {
    /// The configured tokens' SHA-256, hashed once at start.
    configured: Arc<Vec<([u8; 32], Arc<Grant>)>>,
    /// Managed tokens by the SHA-256 of their secret.
    managed: Arc<RwLock<HashMap<[u8; 32], Arc<Grant>>>>,
    pool: Option<Pool>,
}

impl Tokens {
    /// The configured tokens, and the managed ones from the database (if it can be read: a
    /// database that fails here leaves only the configured tokens, logged).
    pub fn load(configured: &[Secret], pool: Option<Pool>) -> Self {
        let configured = configured
            .iter()
            .enumerate()
            .map(|(index, secret)| {
                let digest: [u8; 32] = Sha256::digest(secret.expose().as_bytes()).into();
                (digest, Arc::new(Grant::configured(index)))
            })
            .collect();
        let mut managed = HashMap::new();
        if let Some(pool) = &pool {
            match pool
                .get()
                .map_err(|e| e.to_string())
                .and_then(|mut conn| queries::tokens::all(&mut conn).map_err(|e| e.to_string()))
            {
                Ok(rows) => {
                    for (hash, grant) in rows.into_iter().filter_map(Grant::from_row) {
                        managed.insert(hash, Arc::new(grant));
                    }
                }
                Err(error) => log::error!("tokens: the managed tokens cannot be read ({error})"),
            }
        }
        Self {
            configured: Arc::new(configured),
            managed: Arc::new(RwLock::new(managed)),
            pool,
        }
    }

    /// Whether the hub asks for a token at all: only when one is configured (a hub without
    /// one is open on loopback, as before issue 19; managed tokens narrow access on a hub that
    /// has a bootstrap token).
    pub fn required(&self) -> bool {
        !self.configured.is_empty()
    }

    /// The grant of a presented token; None when it is not one of ours.
    pub fn identify(&self, presented: &str) -> Option<Arc<Grant>> {
        // Configured tokens may be short and guessable: compared in constant time, every one.
        let presented_hash = Sha256::digest(presented.as_bytes());
        let mut found = None;
        for (digest, grant) in self.configured.iter() {
            let equal: bool =
                subtle::ConstantTimeEq::ct_eq(digest.as_slice(), presented_hash.as_slice()).into();
            if equal && found.is_none() {
                found = Some(Arc::clone(grant));
            }
        }
        if found.is_some() {
            return found;
        }
        let managed = self.managed.read().ok()?;
        let key: [u8; 32] = presented_hash.into();
        managed.get(&key).cloned()
    }

    /// Notes that `grant` was used; writes `last_used_at` now and then, off the request path.
    pub fn touch(&self, grant: &Grant, now: DateTime<Utc>) {
        let (Some(id), Some(pool)) = (grant.id, self.pool.clone()) else {
            return;
        };
        if grant.used(now) {
            let at = now.naive_utc();
            actix_web::rt::spawn(async move {
                let _ = web::block(move || {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    queries::tokens::touch(&mut conn, id, at).map_err(|e| e.to_string())
                })
                .await;
            });
        }
    }

    fn list(&self) -> Vec<TokenView> {
        let mut views: Vec<TokenView> = self
            .configured
            .iter()
            .map(|(_, grant)| grant.view())
            .chain(
                self.managed
                    .read()
                    .map(|managed| managed.values().map(|g| g.view()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
            .collect();
        views.sort_by_key(|view| (view.id.is_some(), view.id, view.name.clone()));
        views
    }

    fn managed_count(&self) -> usize {
        self.managed.read().map(|m| m.len()).unwrap_or(0)
    }

    fn name_taken(&self, name: &str) -> bool {
        self.configured.iter().any(|(_, g)| g.name == name)
            || self
                .managed
                .read()
                .is_ok_and(|m| m.values().any(|g| g.name == name))
    }

    fn insert(&self, hash: [u8; 32], grant: Grant) {
        if let Ok(mut managed) = self.managed.write() {
            managed.insert(hash, Arc::new(grant));
        }
    }

    /// Removes a managed token from memory; answers its name.
    fn remove(&self, id: i32) -> Option<String> {
        let mut managed = self.managed.write().ok()?;
        let hash = managed
            .iter()
            .find(|(_, g)| g.id == Some(id))
            .map(|(hash, _)| *hash)?;
        managed.remove(&hash).map(|grant| grant.name.clone())
    }
}

/// A token as the API shows it (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Null for a token from the environment or the config file.
    pub id: Option<i32>,
    #[schema(example = "stream-deck")]
    pub name: String,
    /// Each scope includes those below it (admin > control > read).
    pub scopes: Vec<Scope>,
    /// Null: every instance.
    pub instances: Option<Vec<String>>,
    /// Null: every `control` capability.
    pub capabilities: Option<Vec<String>>,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `POST /api/tokens/`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "stream-deck", "scopes": ["control"], "capabilities": ["scenes"],
    "instances": ["default"], "expires_at": "2030-01-01T00:00:00Z"}))]
pub struct CreateTokenBody {
    /// 1 to 64 characters: letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// `read`, `control` and/or `admin`; the highest counts (each includes those below).
    pub scopes: Vec<String>,
    /// Only these instances (not for admin tokens).
    pub instances: Option<Vec<String>>,
    /// Only these `control` capabilities (control tokens only): scenes, studio, outputs,
    /// audio, items, text, media, filters, hotkeys, demo.
    pub capabilities: Option<Vec<String>>,
    /// RFC 3339; must be in the future. Null: never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The new token: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// Send as `Authorization: Bearer <token>`. Shown once: the hub keeps only its hash.
    pub token: String,
}

/// Checks a create body against the hub; answers the scope.
fn validate(
    body: &CreateTokenBody,
    state: &AppState,
    now: DateTime<Utc>,
) -> Result<Scope, ApiError> {
    let name_ok = (1..=64).contains(&body.name.len())
        && body
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !name_ok {
        return Err(ApiError::InvalidField(
            "`name` must be 1 to 64 letters, digits, `.`, `_` or `-`".into(),
        ));
    }
    let mut scope = None;
    for name in &body.scopes {
        let parsed = Scope::parse(name).ok_or_else(|| {
            ApiError::InvalidField(format!(
                "`scopes`: `{name}` is not a scope; use read, control or admin"
            ))
        })?;
        scope = scope.max(Some(parsed));
    }
    let scope = scope.ok_or_else(|| {
        ApiError::InvalidField("`scopes` must name at least one of read, control, admin".into())
    })?;
    if scope == Scope::Admin && (body.instances.is_some() || body.capabilities.is_some()) {
        return Err(ApiError::InvalidField(
            "an admin token cannot be narrowed (it can make tokens); narrow a read or control token"
                .into(),
        ));
    }
    if let Some(capabilities) = &body.capabilities {
        if scope != Scope::Control {
            return Err(ApiError::InvalidField(
                "`capabilities` narrow a control token; this one is not".into(),
            ));
        }
        if let Some(unknown) = capabilities
            .iter()
            .find(|c| !CAPABILITIES.contains(&c.as_str()))
        {
            return Err(ApiError::InvalidField(format!(
                "`capabilities`: `{unknown}` is not one; use: {}",
                CAPABILITIES.join(", ")
            )));
        }
        if capabilities.is_empty() {
            return Err(ApiError::InvalidField(
                "`capabilities` must name at least one (leave it out for all)".into(),
            ));
        }
    }
    if let Some(instances) = &body.instances {
        if instances.is_empty() {
            return Err(ApiError::InvalidField(
                "`instances` must name at least one (leave it out for all)".into(),
            ));
        }
        if let Some(unknown) = instances
            .iter()
            .find(|name| state.settings.instance(name).is_none())
        {
            let known = state.settings.instance_names();
            return Err(ApiError::InvalidField(format!(
                "`instances`: `{unknown}` is not configured; configured: {}",
                known.join(", ")
            )));
        }
    }
    if body.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::InvalidField(
            "`expires_at` must be in the future".into(),
        ));
    }
    Ok(scope)
}

fn database_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::PersistenceUnavailable(format!(
        "the token store cannot be used right now ({error})"
    ))
}

fn pool(state: &AppState) -> Result<Pool, ApiError> {
    state.persistence.pool().cloned().ok_or_else(|| {
        ApiError::PersistenceUnavailable(format!(
            "managed tokens are kept in the database, and this hub has none \
             (OBS_HUB_DATABASE={NO_DATABASE})"
        ))
    })
}

#[utoipa::path(post, path = "/api/tokens", tag = "tokens",
    summary = "Make a token (its secret is in this answer only)",
    request_body = CreateTokenBody,
    responses(
        (status = 201, description = "The token, with its secret", body = CreatedToken),
        (status = 400, description = "A field is invalid (the message names it)", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 409, description = "The name is taken, too many tokens, or the hub asks for no token (configure OBS_HUB_API_TOKEN first)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database, or it fails", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: CreateTokenBody = body::json(&request, payload).await?;
    if !state.tokens.required() {
        return Err(ApiError::Conflict(
            "this hub asks for no token (none is configured), so a narrower one would change \
             nothing: set OBS_HUB_API_TOKEN (or api_tokens) first, then make tokens with it"
                .into(),
        ));
    }
    let now = Utc::now();
    let scope = validate(&body, &state, now)?;
    if state.tokens.name_taken(&body.name) {
        return Err(ApiError::Conflict(format!(
            "a token named `{}` exists; revoke it or pick another name",
            body.name
        )));
    }
    if state.tokens.managed_count() >= MAX_TOKENS {
        return Err(ApiError::Conflict(format!(
            "this hub has {MAX_TOKENS} tokens already; revoke some first"
        )));
    }
    let pool = pool(&state)?;
    let mut random = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut random);
    let secret = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    let secret_hash = hash(&secret);
    let as_json = |list: &Option<Vec<String>>| {
        list.as_ref()
            .map(|list| serde_json::to_string(list).unwrap_or_default())
    };
    let form = TokenForm {
        name: body.name.clone(),
        secret_hash: secret_hash.clone(),
        scope: scope.name().to_string(),
        instances: as_json(&body.instances),
        capabilities: as_json(&body.capabilities),
        created_at: now.naive_utc(),
        expires_at: body.expires_at.map(|at| at.naive_utc()),
    };
    let row = web::block(move || {
        let mut conn = pool.get().map_err(database_error)?;
        queries::tokens::insert(&mut conn, &form).map_err(|error| match error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::Conflict("a token with this name exists".into()),
            other => database_error(other),
        })
    })
    .await
    .map_err(database_error)??;
    let (hash, grant) = Grant::from_row(row)
        .ok_or_else(|| database_error("the stored token could not be read back"))?;
    let view = grant.view();
    state.tokens.insert(hash, grant);
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(CreatedToken {
            view,
            token: secret,
        }))
}

#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    summary = "Every token: names, scopes, created, last used, expiry (never a secret)",
    responses(
        (status = 200, description = "The tokens (configured ones have a null id)", body = Vec<TokenView>),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
    ))]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.tokens.list())
}

/// What the calling token may do: the dashboard asks, to hide what it cannot use.
#[derive(Serialize, ToSchema)]
pub struct SelfView {
    /// False on a hub that asks for no token (everything is allowed, from loopback).
    pub authentication: bool,
    /// Null when the hub asks for no token.
    pub token: Option<TokenView>,
    /// The scopes the caller holds.
    pub scopes: Vec<Scope>,
    /// `control` capabilities the caller may use.
    pub capabilities: Vec<String>,
    /// Null: every instance.
    pub instances: Option<Vec<String>>,
}

#[utoipa::path(get, path = "/api/tokens/self", tag = "tokens",
    summary = "What the token of this request may do (any token)",
    responses(
        (status = 200, description = "Its scopes, capabilities and instances", body = SelfView),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
    ))]
pub async fn show_self(request: HttpRequest) -> HttpResponse {
    let caller = Caller::of(&request);
    let view = match caller.grant() {
        None => SelfView {
            authentication: false,
            token: None,
            scopes: Scope::Admin.implied(),
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            instances: None,
        },
        Some(grant) => SelfView {
            authentication: true,
            token: Some(grant.view()),
            scopes: grant.scope.implied(),
            capabilities: match (&grant.capabilities, grant.scope) {
                (_, Scope::Read) => Vec::new(),
                (Some(list), Scope::Control) => list.clone(),
                _ => CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            },
            instances: grant.instances.clone(),
        },
    };
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(view)
}

/// `DELETE /api/tokens/{id}` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// `true` to revoke the very token this request is sent with (409 otherwise).
    #[serde(rename = "self")]
    pub confirm_self: Option<bool>,
}

#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens",
    summary = "Revoke a managed token at once",
    params(("id" = i32, Path, description = "The token's id"), DeleteQuery),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "A bad id or query parameter", body = crate::error::ErrorBody),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 404, description = "No managed token with this id", body = crate::error::ErrorBody),
        (status = 409, description = "It is the token of this request: add ?self=true to revoke it anyway", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database, or it fails", body = crate::error::ErrorBody),
    ))]
pub async fn remove(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: i32 = id.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::InvalidField(format!(
            "`id` must be a token id (a positive number), not `{id}`"
        ))
    })?;
    let query = web::Query::<DeleteQuery>::from_query(request.query_string())
        .map_err(|error| ApiError::InvalidField(format!("the query string: {error}")))?;
    let caller = Caller::of(&request);
    let is_self = caller.grant().is_some_and(|grant| grant.id == Some(id));
    if is_self && query.confirm_self != Some(true) {
        return Err(ApiError::Conflict(
            "this is the token this request is sent with: add ?self=true to revoke it anyway"
                .into(),
        ));
    }
    let pool = pool(&state)?;
    let deleted = web::block(move || {
        let mut conn = pool.get().map_err(database_error)?;
        queries::tokens::delete(&mut conn, id).map_err(database_error)
    })
    .await
    .map_err(database_error)??;
    let removed = state.tokens.remove(id);
    if !deleted && removed.is_none() {
        return Err(ApiError::RouteNotFound(format!(
            "no managed token has the id {id} (GET /api/tokens/ lists them)"
        )));
    }
    if let Some(name) = removed {
        state.rate_limits.forget(&format!("token:{name}"));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::scopes::required;

    fn grant(scope: Scope) -> Grant {
        Grant {
            id: Some(1),
            ..Grant::unlimited("t".into(), scope)
        }
    }

    fn check(grant: &Grant, method: &str, rest: &str, instance: &str) -> Result<(), &'static str> {
        permit(
            grant,
            || rest.to_string(),
            required(method, rest),
            Some(instance),
            Utc::now(),
        )
        .map_err(|error| error.code())
    }

    #[test]
    fn a_read_token_reads_and_is_refused_commands_naming_the_scope() {
        let read = grant(Scope::Read);
        assert_eq!(check(&read, "GET", "/stream-status", "default"), Ok(()));
        assert_eq!(
            check(&read, "POST", "/switch-scene", "default"),
            Err("scope_required")
        );
        let error = permit(
            &read,
            || "POST /api/switch-scene".to_string(),
            required("POST", "/switch-scene"),
            Some("default"),
            Utc::now(),
        )
        .unwrap_err();
        assert!(error.to_string().contains("`control` scope"), "{error}");
    }

    #[test]
    fn capabilities_narrow_control_and_admin_routes_stay_admin() {
        let mut scenes = grant(Scope::Control);
        scenes.capabilities = Some(vec!["scenes".into()]);
        assert_eq!(check(&scenes, "POST", "/switch-scene", "default"), Ok(()));
        assert_eq!(
            check(&scenes, "POST", "/start-stream", "default"),
            Err("capability_not_allowed")
        );
        assert_eq!(
            check(&scenes, "POST", "/obs/batch", "default"),
            Err("scope_required")
        );
        assert_eq!(
            check(&grant(Scope::Control), "POST", "/webhooks", "default"),
            Err("scope_required")
        );
        assert_eq!(
            check(&grant(Scope::Admin), "POST", "/webhooks", "x"),
            Ok(())
        );
    }

    #[test]
    fn instances_narrow_instance_routes_only() {
        let mut main_only = grant(Scope::Control);
        main_only.instances = Some(vec!["main".into()]);
        assert_eq!(check(&main_only, "POST", "/switch-scene", "main"), Ok(()));
        assert_eq!(
            check(&main_only, "POST", "/switch-scene", "backup"),
            Err("instance_not_allowed")
        );
        // No default instance to act on: refused, not let through.
        assert_eq!(
            permit(
                &main_only,
                String::new,
                required("GET", "/stream-status"),
                None,
                Utc::now()
            )
            .map_err(|e| e.code()),
            Err("instance_not_allowed")
        );
        // Hub routes name no instance.
        assert_eq!(check(&main_only, "GET", "/instances", "backup"), Ok(()));
    }

    #[test]
    fn an_expired_token_is_refused_whatever_it_asks() {
        let mut old = grant(Scope::Admin);
        old.expires_at = Some(Utc::now() - chrono::Duration::seconds(1));
        assert_eq!(
            check(&old, "GET", "/stream-status", "default"),
            Err("token_expired")
        );
    }

    #[test]
    fn last_used_is_written_at_most_once_a_minute() {
        let grant = grant(Scope::Read);
        let now = Utc::now();
        assert!(grant.used(now));
        assert!(!grant.used(now + chrono::Duration::seconds(30)));
        assert_eq!(
            grant.last_used().map(|t| t.timestamp()),
            Some(now.timestamp() + 30)
        );
        assert!(grant.used(now + chrono::Duration::seconds(61)));
    }
}
