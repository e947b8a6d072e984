//! The history API: what the database remembers (events, scenes, stream and record sessions),
//! newest first, a page at a time.
//!
//! The plain routes (`/api/events/` ...) cover every instance, because history is about the
//! hub, not about the one instance the status routes default to; `?instance=` narrows them, as
//! does the per-instance form `/api/instances/{name}/events/`. Pages are cut by an opaque
//! `next_cursor` (pass it back as `?cursor=`): stable while new rows arrive, unlike offsets.
//! Reads run on actix's blocking threads through the pool; in WAL mode they never wait for
//! the writer, and nothing here touches the status path.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use diesel::SqliteConnection;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use crate::{
    config::NO_DATABASE,
    db::{
        queries::{
            events::{self, EventQuery},
            instances, scenes,
            sessions::{self, SessionQuery},
        },
        source::session::{Output, OutputSession},
    },
    error::ApiError,
};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
const CURSOR_PREFIX: &str = "obs-hub:";

/// Query parameters of a history route, validated.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryParams {
    pub instance: Option<String>,
    pub kinds: Vec<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub limit: i64,
    pub before_id: Option<i64>,
}

/// Parses a query string, refusing parameters the route does not take: a typo must not
/// silently widen the answer.
pub fn parse_params(query: &str, allowed: &[&str]) -> Result<HistoryParams, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|error| ApiError::InvalidField(format!("the query string is malformed: {error}")))?
        .into_inner();
    let mut given: HashMap<&str, &str> = HashMap::new();
    for (key, value) in &pairs {
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::InvalidField(format!(
                "unknown query parameter `{key}`; this route takes: {}",
                allowed.join(", ")
            )));
        }
        if given.insert(key, value).is_some() {
            return Err(ApiError::InvalidField(format!(
                "`{key}` is given more than once"
            )));
        }
    }
    let mut params = HistoryParams {
        limit: DEFAULT_LIMIT,
        ..HistoryParams::default()
    };
    if let Some(instance) = given.get("instance") {
        if instance.is_empty() {
            return Err(ApiError::InvalidField(
                "`instance` must not be empty".into(),
            ));
        }
        params.instance = Some(instance.to_string());
    }
    if let Some(kinds) = given.get("kind") {
        for kind in kinds.split(',').map(str::trim) {
            let recorded = crate::status::kinds::recorded_names();
            if !recorded.contains(&kind) {
                return Err(ApiError::InvalidField(format!(
                    "`kind`: `{kind}` is not a recorded kind; one of (or several, comma-separated): {}",
                    recorded.join(", ")
                )));
            }
            params.kinds.push(kind.to_string());
        }
    }
    params.since = given
        .get("since")
        .map(|v| parse_time("since", v))
        .transpose()?;
    params.until = given
        .get("until")
        .map(|v| parse_time("until", v))
        .transpose()?;
    if let (Some(since), Some(until)) = (params.since, params.until) {
        if since > until {
            return Err(ApiError::InvalidField(
                "`since` must not be later than `until`".into(),
            ));
        }
    }
    if let Some(limit) = given.get("limit") {
        params.limit = match limit.parse::<i64>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(ApiError::InvalidField(format!(
                    "`limit` must be a whole number from 1 to {MAX_LIMIT}, not `{limit}`"
                )))
            }
        };
    }
    if let Some(cursor) = given.get("cursor") {
        params.before_id = Some(decode_cursor(cursor).ok_or_else(|| {
            ApiError::InvalidField(format!(
                "`cursor` `{cursor}` is not one this hub gave out; pass a `next_cursor` back as it was"
            ))
        })?);
    }
    Ok(params)
}

fn parse_time(name: &str, value: &str) -> Result<NaiveDateTime, ApiError> {
    // An unencoded `+01:00` arrives as ` 01:00`: take it as meant.
    let value = value.trim_end().replace(' ', "+");
    DateTime::parse_from_rfc3339(&value)
        .map(|time| time.with_timezone(&Utc).naive_utc())
        .map_err(|_| {
            ApiError::InvalidField(format!(
                "`{name}` must be an RFC 3339 time such as 2026-11-23T20:00:00Z, not `{value}`"
            ))
        })
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

pub fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(CURSOR_PREFIX)?
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
}

/// Rows fetched one past the limit tell whether another page exists.
fn next_cursor<T>(rows: &mut Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(|row| encode_cursor(id(row)))
}

fn utc(time: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&time)
}

/// The instance a request is about: the path's (which must be configured, as on every
/// per-instance route) or the `instance` parameter's (any instance the database knows).
fn requested_instance(
    request: &HttpRequest,
    state: &AppState,
    params: &HistoryParams,
) -> Result<Option<String>, ApiError> {
    let Some(name) = request.match_info().get("instance") else {
        return Ok(params.instance.clone());
    };
    // Configured instances, and the callback-only ones another hub told us about.
    let known_to_hub =
        state.settings.instance(name).is_some() || state.board.current().instance(name).is_some();
    if !known_to_hub {
        let known: Vec<String> = state
            .settings
            .instances
            .iter()
            .map(|i| i.name.clone())
            .collect();
        return Err(ApiError::unknown_instance(name, &known));
    }
    if params
        .instance
        .as_deref()
        .is_some_and(|other| other != name)
    {
        return Err(ApiError::InvalidField(format!(
            "`instance` says `{}` but the path names `{name}`",
            params.instance.as_deref().unwrap_or_default()
        )));
    }
    Ok(Some(name.to_string()))
}

fn instance_id(
    conn: &mut SqliteConnection,
    instance: Option<&str>,
) -> Result<Option<i32>, ApiError> {
    let Some(name) = instance else {
        return Ok(None);
    };
    match instances::id_by_name(conn, name).map_err(database_error)? {
        Some(id) => Ok(Some(id)),
        None => Err(ApiError::unknown_instance(name, &[])),
    }
}

fn database_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::PersistenceUnavailable(format!(
        "the history database cannot be read right now ({error}); live status is not affected"
    ))
}

/// Runs a read on a blocking thread with a pooled connection.
async fn read<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&mut SqliteConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let Some(pool) = state.persistence.pool().cloned() else {
        return Err(ApiError::PersistenceUnavailable(format!(
            "the hub keeps no history (started with OBS_HUB_DATABASE={NO_DATABASE})"
        )));
    };
    web::block(move || {
        let mut conn = pool.get().map_err(database_error)?;
        work(&mut conn)
    })
    .await
    .map_err(database_error)?
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    id: i64,
    instance: String,
    kind: String,
    source: String,
    happened_at: DateTime<Utc>,
    /// The hub's sequence number when it happened (restarts with the hub).
    seq: i64,
    /// The change, as subscribers and the live feed receive it.
    payload: Value,
}

/// The query string of the paged history routes, as the OpenAPI document describes it (the
/// routes themselves parse it with [`parse_params`], which names a bad parameter).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description for the document; never built
pub struct PageQuery {
    /// Only this instance (plain route only)
    instance: Option<String>,
    /// RFC 3339 time, inclusive
    since: Option<DateTime<Utc>>,
    /// RFC 3339 time, exclusive
    until: Option<DateTime<Utc>>,
    /// Page size, 1 to 500 (default 50)
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

/// The errors every history route can answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description for the document; never built
pub enum HistoryErrors {
    /// A query parameter is invalid (the message names it)
    #[response(status = 400)]
    BadParameter(crate::error::ErrorBody),
    /// An API token is configured and was not given
    #[response(status = 401)]
    Unauthorized(crate::error::ErrorBody),
    /// No such instance
    #[response(status = 404)]
    UnknownInstance(crate::error::ErrorBody),
    /// The hub keeps no history, or the database is unavailable
    #[response(status = 503)]
    Unavailable(crate::error::ErrorBody),
}

/// A page of `GET /api/events/`, newest first.
#[derive(Serialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<EventView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/events", tag = "instance",
    summary = "Event history, newest first, filterable, cursor-paginated",
    params(
        PageQuery,
        ("kind" = Option<String>, Query, description = "Comma-separated kinds: scene_changed, streaming_changed, recording_changed, connection_changed, scene_list_changed")
    ),
    responses(
        (status = 200, description = "A page of events", body = EventsPage),
        HistoryErrors
    ))]
pub async fn events(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = parse_params(
        request.query_string(),
        &["instance", "kind", "since", "until", "limit", "cursor"],
    )?;
    let instance = requested_instance(&request, &state, &params)?;
    let page = read(&state, move |conn| {
        let query = EventQuery {
            instance_id: instance_id(conn, instance.as_deref())?,
            kinds: params.kinds,
            since: params.since,
            until: params.until,
            before_id: params.before_id,
            limit: params.limit + 1,
        };
        let mut rows = events::page(conn, &query).map_err(database_error)?;
        let next = next_cursor(&mut rows, params.limit, |(event, _)| event.id);
        Ok((rows, next))
    })
    .await?;
    let (rows, next_cursor) = page;
    let events: Vec<EventView> = rows
        .into_iter()
        .map(|(event, instance)| EventView {
            id: event.id,
            instance,
            kind: event.kind,
            source: event.source,
            happened_at: utc(event.happened_at),
            seq: event.seq,
            payload: serde_json::from_str(&event.payload).unwrap_or(Value::String(event.payload)),
        })
        .collect();
    Ok(HttpResponse::Ok().json(EventsPage {
        events,
        next_cursor,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SceneView {
    instance: String,
    name: String,
    uuid: Option<String>,
    /// In OBS's Scenes dock, 0 at the top (the last known one for a removed scene).
    position: i32,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    removed: bool,
    removed_at: Option<DateTime<Utc>>,
}

/// `GET /api/scenes/`.
#[derive(Serialize, ToSchema)]
pub struct ScenesList {
    pub scenes: Vec<SceneView>,
}

#[utoipa::path(get, path = "/api/scenes", tag = "instance",
    summary = "Scenes as the database knows them, removed ones flagged",
    params(("instance" = Option<String>, Query, description = "Only this instance (plain route only)")),
    responses(
        (status = 200, description = "Scenes", body = ScenesList),
        HistoryErrors
    ))]
pub async fn scenes(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let params = parse_params(request.query_string(), &["instance"])?;
    let instance = requested_instance(&request, &state, &params)?;
    let rows = read(&state, move |conn| {
        let id = instance_id(conn, instance.as_deref())?;
        scenes::list(conn, id).map_err(database_error)
    })
    .await?;
    let scenes: Vec<SceneView> = rows
        .into_iter()
        .map(|(scene, instance)| SceneView {
            instance,
            name: scene.name,
            uuid: scene.uuid,
            position: scene.position,
            first_seen: utc(scene.first_seen),
            last_seen: utc(scene.last_seen),
            removed: scene.removed_at.is_some(),
            removed_at: scene.removed_at.map(utc),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ScenesList { scenes }))
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    id: i64,
    instance: String,
    started_at: DateTime<Utc>,
    /// None while the output runs.
    ended_at: Option<DateTime<Utc>>,
    active: bool,
    /// `stopped`, or `found_stopped` when the hub found it over after a restart or a lost link
    /// (then `ended_at` is the last moment it was seen running).
    end_reason: Option<String>,
    duration_ms: i64,
    bytes: i64,
    /// Streams only.
    skipped_frames: Option<i64>,
    total_frames: Option<i64>,
    peak_kbits_per_sec: f64,
    /// Recordings only.
    output_path: Option<String>,
}

impl SessionView {
    fn new(session: OutputSession, instance: String) -> Self {
        Self {
            id: session.id,
            instance,
            started_at: utc(session.started_at),
            ended_at: session.ended_at.map(utc),
            active: session.ended_at.is_none(),
            end_reason: session.end_reason,
            duration_ms: session.duration_ms,
            bytes: session.bytes,
            skipped_frames: session.skipped_frames,
            total_frames: session.total_frames,
            peak_kbits_per_sec: session.peak_kbits_per_sec,
            output_path: session.output_path,
        }
    }
}

/// A page of `GET /api/stream-sessions/` or `/api/record-sessions/`, newest first.
#[derive(Serialize, ToSchema)]
pub struct SessionsPage {
    pub sessions: Vec<SessionView>,
    pub next_cursor: Option<String>,
}

async fn sessions_page(
    request: HttpRequest,
    state: web::Data<AppState>,
    output: Output,
) -> Result<HttpResponse, ApiError> {
    let params = parse_params(
        request.query_string(),
        &["instance", "since", "until", "limit", "cursor"],
    )?;
    let instance = requested_instance(&request, &state, &params)?;
    let (rows, next_cursor) = read(&state, move |conn| {
        let query = SessionQuery {
            output,
            instance_id: instance_id(conn, instance.as_deref())?,
            since: params.since,
            until: params.until,
            before_id: params.before_id,
            limit: params.limit + 1,
        };
        let mut rows = sessions::page(conn, &query).map_err(database_error)?;
        let next = next_cursor(&mut rows, params.limit, |(session, _)| session.id);
        Ok((rows, next))
    })
    .await?;
    let sessions: Vec<SessionView> = rows
        .into_iter()
        .map(|(session, instance)| SessionView::new(session, instance))
        .collect();
    Ok(HttpResponse::Ok().json(SessionsPage {
        sessions,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/api/stream-sessions", tag = "instance",
    summary = "Streaming sessions, newest first, cursor-paginated",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionsPage),
        HistoryErrors
    ))]
pub async fn stream_sessions(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    sessions_page(request, state, Output::Stream).await
}

#[utoipa::path(get, path = "/api/record-sessions", tag = "instance",
    summary = "Recording sessions (with their files), newest first, cursor-paginated",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of sessions", body = SessionsPage),
        HistoryErrors
    ))]
pub async fn record_sessions(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    sessions_page(request, state, Output::Record).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT_PARAMS: [&str; 6] = ["instance", "kind", "since", "until", "limit", "cursor"];

    fn bad(query: &str) -> String {
        match parse_params(query, &EVENT_PARAMS) {
            Err(ApiError::InvalidField(message)) => message,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_good_values() {
        let params = parse_params("", &EVENT_PARAMS).unwrap();
        assert_eq!(params.limit, DEFAULT_LIMIT);
        let params = parse_params(
            "instance=studio&kind=scene_changed,streaming_changed&since=2026-11-23T20:00:00Z&until=2026-11-23T21:00:00%2B01:00&limit=500",
            &EVENT_PARAMS,
        )
        .unwrap();
        assert_eq!(params.instance.as_deref(), Some("studio"));
        assert_eq!(params.kinds, ["scene_changed", "streaming_changed"]);
        assert_eq!(params.limit, 500);
        assert_eq!(params.since, params.until, "21:00+01:00 is 20:00Z");
        // An unencoded '+' (a space once decoded) is taken as meant.
        let loose = parse_params("since=2026-11-23T21:00:00+01:00", &EVENT_PARAMS).unwrap();
        assert_eq!(loose.since, params.since);
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, name) in [
            ("limit=0", "`limit`"),
            ("limit=501", "`limit`"),
            ("limit=ten", "`limit`"),
            ("cursor=nonsense", "`cursor`"),
            ("since=yesterday", "`since`"),
            ("until=2026-13-01T00:00:00Z", "`until`"),
            (
                "since=2026-11-24T00:00:00Z&until=2026-11-23T00:00:00Z",
                "`since`",
            ),
            ("kind=stats_updated", "`kind`"),
            ("kind=scene_changed,nope", "`nope`"),
            ("limits=5", "`limits`"),
            ("limit=5&limit=6", "`limit`"),
            ("instance=", "`instance`"),
        ] {
            let message = bad(query);
            assert!(message.contains(name), "{query}: {message}");
        }
    }

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("obs-hub:-1")), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("42")), None);
        assert_eq!(decode_cursor("!!"), None);
    }

    #[test]
    fn a_full_page_has_a_cursor_to_the_next() {
        let mut rows: Vec<i64> = vec![9, 8, 7];
        assert_eq!(next_cursor(&mut rows, 2, |id| *id), Some(encode_cursor(8)));
        assert_eq!(rows, [9, 8]);
        let mut last: Vec<i64> = vec![2, 1];
        assert_eq!(next_cursor(&mut last, 2, |id| *id), None);
    }
}
