//! The history API: what the database remembers (events, scenes, stream and record sessions),
//! newest first, a page at a time.
//!
//! The plain routes (`/api/events/` ...) cover every instance, because history is about the
//! hub, not about the one instance the status routes default to; `?instance=` narrows them, as
//! does the per-instance form `/api/instances/{name}/events/`. Pages are cut by an opaque
//! `next_cursor` (pass it back as `?cursor=`): stable while new rows arrive, unlike offsets.
//! Reads run on actix's blocking threads through the pool; in WAL mode they never wait for
//! the writer, and nothing here touches the status path.

use crate::db::backend::Conn;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{de, Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    query::{Limit, Query},
    responses::HistoryErrors,
    AppState,
};
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

const CURSOR_PREFIX: &str = "obs-hub:";

/// The query string of the paged history routes. `kind` is taken by `/api/events` only, which
/// documents it itself; the sessions routes refuse it.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Only this instance (plain route only)
    #[param(value_type = Option<String>)]
    instance: Option<InstanceFilter>,
    /// RFC 3339 time, inclusive
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<Time>,
    /// RFC 3339 time, exclusive
    #[param(value_type = Option<DateTime<Utc>>)]
    until: Option<Time>,
    /// Page size, 1 to 500 (default 50)
    #[param(minimum = 1, maximum = 500, value_type = Option<i64>)]
    limit: Option<Limit>,
    /// `next_cursor` of the previous page
    #[param(value_type = Option<String>)]
    cursor: Option<Cursor>,
    #[param(ignore)]
    kind: Option<Kinds>,
}

/// The query string of `/api/scenes`: the instance only.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScenesQuery {
    /// Only this instance (plain route only)
    #[param(value_type = Option<String>)]
    instance: Option<InstanceFilter>,
}

/// An `instance` filter: a name, not empty.
#[derive(Debug)]
struct InstanceFilter(String);

impl<'de> Deserialize<'de> for InstanceFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        if name.is_empty() {
            return Err(de::Error::custom("must not be empty"));
        }
        Ok(Self(name))
    }
}

/// `kind`: recorded kinds, comma-separated.
#[derive(Debug)]
struct Kinds(Vec<String>);

impl<'de> Deserialize<'de> for Kinds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut kinds = Vec::new();
        for kind in text.split(',').map(str::trim) {
            if !crate::status::kinds::recorded_names().contains(&kind) {
                return Err(de::Error::custom(format!(
                    "`{kind}` is not a recorded kind; one of (or several, comma-separated): {}",
                    crate::status::kinds::recorded_names().join(", ")
                )));
            }
            kinds.push(kind.to_string());
        }
        Ok(Self(kinds))
    }
}

/// `since` and `until`: an RFC 3339 time.
#[derive(Debug)]
struct Time(NaiveDateTime);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // An unencoded `+01:00` arrives as ` 01:00`: take it as meant.
        let value = text.trim_end().replace(' ', "+");
        DateTime::parse_from_rfc3339(&value)
            .map(|time| Self(time.with_timezone(&Utc).naive_utc()))
            .map_err(|_| {
                de::Error::custom(format!(
                    "must be an RFC 3339 time such as 2026-11-23T20:00:00Z, not `{value}`"
                ))
            })
    }
}

/// `cursor`: a `next_cursor` this hub gave out.
#[derive(Debug)]
struct Cursor(i64);

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        decode_cursor(&text).map(Self).ok_or_else(|| {
            de::Error::custom(format!(
                "must be a `next_cursor` this hub gave out, passed back as it was (not `{text}`)"
            ))
        })
    }
}

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

impl TryFrom<PageQuery> for HistoryParams {
    type Error = ApiError;

    /// What no single parameter can say: the time range is the right way round.
    fn try_from(query: PageQuery) -> Result<Self, ApiError> {
        let params = HistoryParams {
            instance: query.instance.map(|instance| instance.0),
            kinds: query.kind.map(|kinds| kinds.0).unwrap_or_default(),
            since: query.since.map(|time| time.0),
            until: query.until.map(|time| time.0),
            limit: Limit::or_default(query.limit),
            before_id: query.cursor.map(|cursor| cursor.0),
        };
        if let (Some(since), Some(until)) = (params.since, params.until) {
            if since > until {
                return Err(ApiError::InvalidField(
                    "`since` must not be later than `until`".into(),
                ));
            }
        }
        Ok(params)
    }
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
    asked: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let Some(name) = request.match_info().get("instance") else {
        return Ok(asked.map(str::to_string));
    };
    // Configured instances, and the callback-only ones another hub told us about.
    let known_to_hub =
        state.settings.instance(name).is_some() || state.board.current().instance(name).is_some();
    if !known_to_hub {
        let known = state.settings.instance_names();
        return Err(ApiError::unknown_instance(name, &known));
    }
    if let Some(other) = asked.filter(|other| *other != name) {
        return Err(ApiError::InvalidField(format!(
            "`instance` says `{other}` but the path names `{name}`"
        )));
    }
    Ok(Some(name.to_string()))
}

/// A page's parameters, checked, and the instance it is about.
fn page_params(
    request: &HttpRequest,
    state: &AppState,
    query: PageQuery,
) -> Result<(HistoryParams, Option<String>), ApiError> {
    let params = HistoryParams::try_from(query)?;
    let instance = requested_instance(request, state, params.instance.as_deref())?;
    Ok((params, instance))
}

fn instance_id(conn: &mut Conn, instance: Option<&str>) -> Result<Option<i32>, ApiError> {
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
    work: impl FnOnce(&mut Conn) -> Result<T, ApiError> + Send + 'static,
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
    Query(query): Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (params, instance) = page_params(&request, &state, query)?;
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
    params(ScenesQuery),
    responses(
        (status = 200, description = "Scenes", body = ScenesList),
        HistoryErrors
    ))]
pub async fn scenes(
    request: HttpRequest,
    state: web::Data<AppState>,
    Query(query): Query<ScenesQuery>,
) -> Result<HttpResponse, ApiError> {
    let asked = query.instance.map(|instance| instance.0);
    let instance = requested_instance(&request, &state, asked.as_deref())?;
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
    query: PageQuery,
    output: Output,
) -> Result<HttpResponse, ApiError> {
    if query.kind.is_some() {
        return Err(ApiError::InvalidField(
            "unknown query parameter `kind`: only /api/events takes it".into(),
        ));
    }
    let (params, instance) = page_params(&request, &state, query)?;
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

/// The two sessions routes, one output's sessions each.
macro_rules! sessions_route {
    ($name:ident, $path:literal, $summary:literal, $output:expr) => {
        #[utoipa::path(get, path = $path, tag = "instance", summary = $summary,
                    params(PageQuery),
                    responses(
                        (status = 200, description = "A page of sessions", body = SessionsPage),
                        HistoryErrors
                    ))]
        pub async fn $name(
            request: HttpRequest,
            state: web::Data<AppState>,
            Query(query): Query<PageQuery>,
        ) -> Result<HttpResponse, ApiError> {
            sessions_page(request, state, query, $output).await
        }
    };
}

sessions_route!(
    stream_sessions,
    "/api/stream-sessions",
    "Streaming sessions, newest first, cursor-paginated",
    Output::Stream
);
sessions_route!(
    record_sessions,
    "/api/record-sessions",
    "Recording sessions (with their files), newest first, cursor-paginated",
    Output::Record
);

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Result<HistoryParams, ApiError> {
        HistoryParams::try_from(super::super::query::parse::<PageQuery>(query)?)
    }

    fn bad(query: &str) -> String {
        match params(query) {
            Err(ApiError::InvalidField(message)) => message,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn defaults_and_good_values() {
        let defaults = params("").unwrap();
        assert_eq!(defaults.limit, Limit::DEFAULT);
        let given = params(
            "instance=studio&kind=scene_changed,streaming_changed&since=2026-11-23T20:00:00Z&until=2026-11-23T21:00:00%2B01:00&limit=500",
        )
        .unwrap();
        assert_eq!(given.instance.as_deref(), Some("studio"));
        assert_eq!(given.kinds, ["scene_changed", "streaming_changed"]);
        assert_eq!(given.limit, 500);
        assert_eq!(given.since, given.until, "21:00+01:00 is 20:00Z");
        let cursor = encode_cursor(42);
        assert_eq!(
            params(&format!("cursor={cursor}")).unwrap().before_id,
            Some(42)
        );
        // An unencoded '+' (a space once decoded) is taken as meant.
        let loose = params("since=2026-11-23T21:00:00+01:00").unwrap();
        assert_eq!(loose.since, given.since);
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
