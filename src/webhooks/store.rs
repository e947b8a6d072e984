//! The webhook tables (migrations/2026-11-23-230000_webhooks) and plain query functions over a
//! connection. Writes run on the [`StoreWriter`](super::writer::StoreWriter) thread; the API's
//! reads run on actix's blocking threads.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    endpoint::{DeclaredEndpoint, Endpoint, EndpointSource},
    events::{EventType, Filter},
    outbox::{DeliveryStatus, PendingDelivery},
};
use crate::config::Secret;

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        secret -> Nullable<Text>,
        event_types -> Text,
        instance -> Nullable<Text>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        source -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (seq) {
        seq -> BigInt,
        id -> Text,
        endpoint_id -> Text,
        event_type -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        round_start -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> BigInt,
        delivery_id -> Text,
        n -> Integer,
        attempted_at -> Timestamp,
        status_code -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::allow_tables_to_appear_in_same_query!(
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts
);

/// Rows per INSERT statement: well under SQLite's limit of bound variables.
const INSERT_CHUNK: usize = 1_000;
/// Why a declared endpoint that the configuration no longer names is disabled.
pub const RETIRED_REASON: &str = "no longer in the configuration";

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
struct EndpointRow {
    id: String,
    url: String,
    secret: Option<String>,
    event_types: String,
    instance: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    source: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl EndpointRow {
    fn from_endpoint(endpoint: &Endpoint) -> Self {
        let names: Vec<&str> = endpoint
            .filter
            .event_types
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        Self {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            secret: endpoint.secret.as_ref().map(|s| s.expose().to_string()),
            event_types: serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_string()),
            instance: endpoint.filter.instance.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            source: endpoint.source.as_str().to_string(),
            created_at: endpoint.created_at.naive_utc(),
            updated_at: endpoint.updated_at.naive_utc(),
        }
    }

    fn into_endpoint(self) -> Endpoint {
        let names: Vec<String> = serde_json::from_str(&self.event_types).unwrap_or_default();
        // A name a newer hub wrote and this one does not know is skipped, not fatal.
        let event_types = names
            .iter()
            .filter_map(|name| name.parse::<EventType>().ok())
            .collect();
        Endpoint {
            source: EndpointSource::parse(&self.source).unwrap_or(EndpointSource::Api),
            id: self.id,
            url: self.url,
            secret: self.secret.map(Secret::new),
            filter: Filter {
                event_types,
                instance: self.instance,
            },
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
struct NewDeliveryRow<'a> {
    id: &'a str,
    endpoint_id: &'a str,
    event_type: &'a str,
    payload: &'a str,
    status: &'a str,
    attempts: i32,
    round_start: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub round_start: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

impl DeliveryRow {
    fn into_pending(self) -> PendingDelivery {
        PendingDelivery {
            id: self.id.into(),
            endpoint_id: self.endpoint_id.into(),
            event_type: self.event_type.into(),
            body: self.payload.into(),
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            round_start: u32::try_from(self.round_start).unwrap_or(0),
            due: self
                .next_attempt_at
                .map_or_else(Utc::now, |at| at.and_utc()),
        }
    }
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub delivery_id: String,
    pub n: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// A message for one endpoint, to be stored before its first attempt.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: Arc<str>,
    pub endpoint_id: Arc<str>,
    pub event_type: Arc<str>,
    pub body: Arc<str>,
    pub created_at: DateTime<Utc>,
}

impl NewDelivery {
    pub fn into_pending(self) -> PendingDelivery {
        PendingDelivery {
            id: self.id,
            endpoint_id: self.endpoint_id,
            event_type: self.event_type,
            body: self.body,
            attempts: 0,
            round_start: 0,
            due: self.created_at,
        }
    }
}

/// One attempt and what it made of its delivery.
#[derive(Clone, Debug)]
pub struct AttemptOutcome {
    pub delivery_id: Arc<str>,
    /// The delivery's endpoint (outcomes of a deleted endpoint are dropped unwritten).
    pub endpoint_id: Arc<str>,
    /// The attempt's number (1 for the first).
    pub n: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub new_status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set on 410 Gone: the endpoint to disable, and why.
    pub disable_endpoint: Option<(Arc<str>, String)>,
}

/// A delivery as the log shows it, with its attempts (oldest first).
#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub delivery: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

pub fn all_endpoints(conn: &mut SqliteConnection) -> QueryResult<Vec<Endpoint>> {
    Ok(webhook_endpoints::table
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .select(EndpointRow::as_select())
        .load(conn)?
        .into_iter()
        .map(EndpointRow::into_endpoint)
        .collect())
}

pub fn find_endpoint(conn: &mut SqliteConnection, id: &str) -> QueryResult<Option<Endpoint>> {
    Ok(webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?
        .map(EndpointRow::into_endpoint))
}

pub fn insert_endpoint(conn: &mut SqliteConnection, endpoint: &Endpoint) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(EndpointRow::from_endpoint(endpoint))
        .execute(conn)
        .map(drop)
}

/// Writes every field of `endpoint`; when it is (now) disabled, its pending deliveries end as
/// `endpoint_disabled`.
pub fn save_endpoint(conn: &mut SqliteConnection, endpoint: &Endpoint) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(&endpoint.id))
        .set(EndpointRow::from_endpoint(endpoint))
        .execute(conn)?;
    if !endpoint.enabled {
        end_pending(conn, &endpoint.id)?;
    }
    Ok(())
}

/// Deletes an endpoint with its deliveries and their attempts; false when there was none.
pub fn delete_endpoint(conn: &mut SqliteConnection, id: &str) -> QueryResult<bool> {
    // Deleted by hand as well as by ON DELETE CASCADE: the cascade needs foreign_keys=ON on the
    // connection, which a pool customiser sets but a bare connection would not.
    let deliveries = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(id))
        .select(webhook_deliveries::id);
    diesel::delete(
        webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(deliveries)),
    )
    .execute(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
        .execute(conn)?;
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? > 0)
}

fn end_pending(conn: &mut SqliteConnection, endpoint_id: &str) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::EndpointDisabled.as_str()),
        webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// Brings the declared endpoints (config file, callback base URL) in line with `declared`:
/// same source and URL = same endpoint (its id, log and pending deliveries are kept); new ones
/// are added; ones no longer declared are disabled (their log stays until deleted).
pub fn sync_declared(
    conn: &mut SqliteConnection,
    declared: &[DeclaredEndpoint],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let existing: Vec<Endpoint> = all_endpoints(conn)?
        .into_iter()
        .filter(|endpoint| endpoint.source.is_declared())
        .collect();
    for wanted in declared {
        let found = existing
            .iter()
            .find(|e| e.source == wanted.source && e.url == wanted.url);
        match found {
            Some(current) => {
                let mut updated = current.clone();
                updated.secret = wanted.secret.clone();
                updated.filter = wanted.filter.clone();
                if current.disabled_reason.as_deref() == Some(RETIRED_REASON) {
                    updated.enabled = true;
                    updated.disabled_reason = None;
                }
                if &updated != current {
                    updated.updated_at = now;
                    save_endpoint(conn, &updated)?;
                }
            }
            None => insert_endpoint(
                conn,
                &Endpoint {
                    id: super::endpoint::new_endpoint_id(),
                    url: wanted.url.clone(),
                    secret: wanted.secret.clone(),
                    filter: wanted.filter.clone(),
                    enabled: true,
                    disabled_reason: None,
                    source: wanted.source,
                    created_at: now,
                    updated_at: now,
                },
            )?,
        }
    }
    for old in &existing {
        let still_declared = declared
            .iter()
            .any(|d| d.source == old.source && d.url == old.url);
        if !still_declared && old.enabled {
            let mut retired = old.clone();
            retired.enabled = false;
            retired.disabled_reason = Some(RETIRED_REASON.to_string());
            retired.updated_at = now;
            save_endpoint(conn, &retired)?;
        }
    }
    Ok(())
}

/// Stores new deliveries (the caller wraps the batch in one transaction).
pub fn insert_deliveries(
    conn: &mut SqliteConnection,
    deliveries: &[NewDelivery],
) -> QueryResult<()> {
    for chunk in deliveries.chunks(INSERT_CHUNK) {
        let rows: Vec<NewDeliveryRow<'_>> = chunk
            .iter()
            .map(|d| NewDeliveryRow {
                id: &d.id,
                endpoint_id: &d.endpoint_id,
                event_type: &d.event_type,
                payload: &d.body,
                status: DeliveryStatus::Pending.as_str(),
                attempts: 0,
                round_start: 0,
                next_attempt_at: d.created_at.naive_utc(),
                created_at: d.created_at.naive_utc(),
            })
            .collect();
        diesel::insert_into(webhook_deliveries::table)
            .values(&rows)
            .execute(conn)?;
    }
    Ok(())
}

/// Records attempts and what they made of their deliveries (the caller wraps the batch in one
/// transaction). An outcome whose delivery is gone (its endpoint was deleted while the attempt
/// was under way) is skipped: there is nothing left to record it against. Answers how many were.
pub fn record_outcomes(
    conn: &mut SqliteConnection,
    outcomes: &[AttemptOutcome],
) -> QueryResult<usize> {
    let mut rows: Vec<AttemptRow> = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let delivered_at =
            (outcome.new_status == DeliveryStatus::Delivered).then(|| outcome.at.naive_utc());
        let updated = diesel::update(
            webhook_deliveries::table.filter(webhook_deliveries::id.eq(&*outcome.delivery_id)),
        )
        .set((
            webhook_deliveries::status.eq(outcome.new_status.as_str()),
            webhook_deliveries::attempts.eq(i32::try_from(outcome.n).unwrap_or(i32::MAX)),
            webhook_deliveries::next_attempt_at
                .eq(outcome.next_attempt_at.map(|at| at.naive_utc())),
            webhook_deliveries::delivered_at.eq(delivered_at),
        ))
        .execute(conn)?;
        if updated == 0 {
            continue;
        }
        rows.push(AttemptRow {
            id: 0,
            delivery_id: outcome.delivery_id.to_string(),
            n: i32::try_from(outcome.n).unwrap_or(i32::MAX),
            attempted_at: outcome.at.naive_utc(),
            status_code: outcome.status_code.map(i32::from),
            latency_ms: i64::try_from(outcome.latency_ms).unwrap_or(i64::MAX),
            error: outcome.error.clone(),
        });
        if let Some((endpoint_id, reason)) = &outcome.disable_endpoint {
            diesel::update(webhook_endpoints::table.find(&**endpoint_id))
                .set((
                    webhook_endpoints::enabled.eq(false),
                    webhook_endpoints::disabled_reason.eq(reason),
                    webhook_endpoints::updated_at.eq(outcome.at.naive_utc()),
                ))
                .execute(conn)?;
            end_pending(conn, endpoint_id)?;
        }
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        diesel::insert_into(webhook_attempts::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(outcomes.len() - rows.len())
}

/// Every pending delivery of an enabled endpoint, oldest first: what a restart resumes.
pub fn pending_deliveries(conn: &mut SqliteConnection) -> QueryResult<Vec<PendingDelivery>> {
    Ok(webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_deliveries::seq)
        .select(DeliveryRow::as_select())
        .load(conn)?
        .into_iter()
        .map(DeliveryRow::into_pending)
        .collect())
}

pub fn find_delivery(conn: &mut SqliteConnection, id: &str) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// An endpoint's deliveries, newest first, `limit` of them with `seq` below `before`.
pub fn deliveries_page(
    conn: &mut SqliteConnection,
    endpoint_id: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DeliveryLog>> {
    let deliveries: Vec<DeliveryRow> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::seq.lt(before.unwrap_or(i64::MAX)))
        .order(webhook_deliveries::seq.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    let mut attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(&ids))
        .order((
            webhook_attempts::delivery_id,
            webhook_attempts::n,
            webhook_attempts::id,
        ))
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(deliveries
        .into_iter()
        .map(|delivery| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut attempts)
                .into_iter()
                .partition(|a| a.delivery_id == delivery.id);
            attempts = rest;
            DeliveryLog {
                delivery,
                attempts: mine,
            }
        })
        .collect())
}

/// What a redelivery request found.
#[derive(Debug, PartialEq)]
pub enum Restarted {
    Pending(PendingDelivery),
    NotFound,
    /// The delivery's endpoint (this id) is disabled: nothing was changed.
    EndpointDisabled(String),
}

/// Makes a delivery pending again, due now, at the start of a new round of the schedule, unless
/// its endpoint is disabled.
pub fn restart_delivery(
    conn: &mut SqliteConnection,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Restarted> {
    let Some(row) = find_delivery(conn, id)? else {
        return Ok(Restarted::NotFound);
    };
    let enabled: bool = webhook_endpoints::table
        .find(&row.endpoint_id)
        .select(webhook_endpoints::enabled)
        .first(conn)?;
    if !enabled {
        return Ok(Restarted::EndpointDisabled(row.endpoint_id));
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(id)))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::round_start.eq(row.attempts),
            webhook_deliveries::next_attempt_at.eq(Some(now.naive_utc())),
        ))
        .execute(conn)?;
    Ok(Restarted::Pending(PendingDelivery {
        round_start: u32::try_from(row.attempts).unwrap_or(0),
        due: now,
        ..row.into_pending()
    }))
}

/// Deletes up to `chunk` finished deliveries (not pending) created before `before`, with their
/// attempts; returns how many went.
pub fn prune_finished(
    conn: &mut SqliteConnection,
    before: DateTime<Utc>,
    chunk: i64,
) -> QueryResult<usize> {
    let old: Vec<String> = webhook_deliveries::table
        .filter(webhook_deliveries::created_at.lt(before.naive_utc()))
        .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
        .order(webhook_deliveries::seq)
        .limit(chunk)
        .select(webhook_deliveries::id)
        .load(conn)?;
    diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(&old)))
        .execute(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&old)))
        .execute(conn)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::webhooks::endpoint::callback_endpoints;

    /// A migrated database in its own temporary directory (kept alive by the TempDir).
    pub(crate) fn test_db() -> (tempfile::TempDir, SqliteConnection) {
        use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
        const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("webhooks.db");
        let mut conn =
            SqliteConnection::establish(path.to_str().expect("utf-8 path")).expect("opens");
        conn.run_pending_migrations(MIGRATIONS).expect("migrates");
        (dir, conn)
    }

    fn api_endpoint(url: &str) -> Endpoint {
        Endpoint {
            id: super::super::endpoint::new_endpoint_id(),
            url: url.into(),
            secret: Some(super::super::signing::generate_secret()),
            filter: Filter {
                event_types: EventType::defaults(),
                instance: None,
            },
            enabled: true,
            disabled_reason: None,
            source: EndpointSource::Api,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn new_delivery(endpoint: &Endpoint, n: u32) -> NewDelivery {
        NewDelivery {
            id: format!("msg_{n}").into(),
            endpoint_id: endpoint.id.as_str().into(),
            event_type: "scene_changed".into(),
            body: format!(r#"{{"n":{n}}}"#).into(),
            created_at: Utc::now(),
        }
    }

    fn outcome(id: &str, n: u32, status: DeliveryStatus, code: Option<u16>) -> AttemptOutcome {
        AttemptOutcome {
            delivery_id: id.into(),
            endpoint_id: "ep_test".into(),
            n,
            at: Utc::now(),
            status_code: code,
            latency_ms: 12,
            error: code.is_none().then(|| "connection refused".to_string()),
            new_status: status,
            next_attempt_at: (status == DeliveryStatus::Pending).then(Utc::now),
            disable_endpoint: None,
        }
    }

    #[test]
    fn endpoints_round_trip_with_their_secret() {
        let (_dir, mut conn) = test_db();
        let endpoint = api_endpoint("http://127.0.0.1:9/hook");
        insert_endpoint(&mut conn, &endpoint).unwrap();
        let mut read = find_endpoint(&mut conn, &endpoint.id).unwrap().unwrap();
        // Timestamps lose nothing but sub-microsecond precision.
        read.created_at = endpoint.created_at;
        read.updated_at = endpoint.updated_at;
        assert_eq!(read, endpoint);
        assert_eq!(all_endpoints(&mut conn).unwrap().len(), 1);
    }

    #[test]
    fn deliveries_resume_until_they_end_and_the_log_keeps_every_attempt() {
        let (_dir, mut conn) = test_db();
        let endpoint = api_endpoint("http://127.0.0.1:9/hook");
        insert_endpoint(&mut conn, &endpoint).unwrap();
        let batch: Vec<_> = (0..3).map(|n| new_delivery(&endpoint, n)).collect();
        insert_deliveries(&mut conn, &batch).unwrap();
        assert_eq!(pending_deliveries(&mut conn).unwrap().len(), 3);

        record_outcomes(
            &mut conn,
            &[
                outcome("msg_0", 1, DeliveryStatus::Pending, None),
                outcome("msg_1", 1, DeliveryStatus::Delivered, Some(204)),
            ],
        )
        .unwrap();
        record_outcomes(
            &mut conn,
            &[outcome("msg_0", 2, DeliveryStatus::Delivered, Some(200))],
        )
        .unwrap();
        let pending = pending_deliveries(&mut conn).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(&*pending[0].id, "msg_2");
        assert_eq!(&*pending[0].body, r#"{"n":2}"#);

        let page = deliveries_page(&mut conn, &endpoint.id, None, 2).unwrap();
        let ids: Vec<_> = page.iter().map(|l| l.delivery.id.as_str()).collect();
        assert_eq!(ids, ["msg_2", "msg_1"], "newest first");
        let older =
            deliveries_page(&mut conn, &endpoint.id, Some(page[1].delivery.seq), 10).unwrap();
        assert_eq!(older.len(), 1);
        let retried = &older[0];
        assert_eq!(retried.delivery.status, "delivered");
        assert_eq!(retried.delivery.attempts, 2);
        assert!(retried.delivery.delivered_at.is_some());
        let codes: Vec<_> = retried.attempts.iter().map(|a| a.status_code).collect();
        assert_eq!(codes, [None, Some(200)]);
        assert_eq!(
            retried.attempts[0].error.as_deref(),
            Some("connection refused")
        );
    }

    #[test]
    fn an_attempt_that_ends_after_its_endpoint_was_deleted_is_skipped_not_fatal() {
        let (_dir, mut conn) = test_db();
        let deleted = api_endpoint("http://127.0.0.1:9/deleted");
        let kept = api_endpoint("http://127.0.0.1:9/kept");
        insert_endpoint(&mut conn, &deleted).unwrap();
        insert_endpoint(&mut conn, &kept).unwrap();
        insert_deliveries(
            &mut conn,
            &[new_delivery(&deleted, 0), new_delivery(&kept, 1)],
        )
        .unwrap();
        assert!(delete_endpoint(&mut conn, &deleted.id).unwrap());
        let skipped = conn
            .immediate_transaction(|conn| {
                record_outcomes(
                    conn,
                    &[
                        outcome("msg_0", 1, DeliveryStatus::Delivered, Some(204)),
                        outcome("msg_1", 1, DeliveryStatus::Delivered, Some(204)),
                    ],
                )
            })
            .unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(
            find_delivery(&mut conn, "msg_1").unwrap().unwrap().status,
            "delivered"
        );
        assert!(pending_deliveries(&mut conn).unwrap().is_empty());
    }

    #[test]
    fn logged_error_answers_lose_the_receivers_words_on_upgrade() {
        use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
        const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
        const SCRUB: &str = "20261130040000";
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        // The schema as it was before the scrub.
        loop {
            let pending = conn.pending_migrations(MIGRATIONS).unwrap();
            let Some(next) = pending.first() else { break };
            if next.name().version().to_string() == SCRUB {
                break;
            }
            conn.run_migration(next.as_ref()).unwrap();
        }
        let endpoint = api_endpoint("http://127.0.0.1:9/hook");
        insert_endpoint(&mut conn, &endpoint).unwrap();
        insert_deliveries(&mut conn, &[new_delivery(&endpoint, 0)]).unwrap();
        let mut old = outcome("msg_0", 1, DeliveryStatus::Pending, Some(503));
        old.error = Some("HTTP 503: stack trace with a password".into());
        let mut moved = outcome("msg_0", 2, DeliveryStatus::Pending, Some(302));
        moved.error =
            Some("HTTP 302 (redirects are not followed: give the final URL): <html>".into());
        let refused = outcome("msg_0", 3, DeliveryStatus::Pending, None);
        record_outcomes(&mut conn, &[old, moved, refused]).unwrap();
        conn.run_pending_migrations(MIGRATIONS).unwrap();
        let log = deliveries_page(&mut conn, &endpoint.id, None, 1).unwrap();
        let errors: Vec<_> = log[0]
            .attempts
            .iter()
            .map(|a| a.error.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            errors,
            [
                "HTTP 503",
                "HTTP 302 (redirects are not followed: give the final URL)",
                "connection refused",
            ]
        );
    }

    #[test]
    fn gone_disables_the_endpoint_and_ends_its_pending_deliveries() {
        let (_dir, mut conn) = test_db();
        let endpoint = api_endpoint("http://127.0.0.1:9/hook");
        insert_endpoint(&mut conn, &endpoint).unwrap();
        let batch: Vec<_> = (0..2).map(|n| new_delivery(&endpoint, n)).collect();
        insert_deliveries(&mut conn, &batch).unwrap();
        let mut gone = outcome("msg_0", 1, DeliveryStatus::EndpointDisabled, Some(410));
        gone.disable_endpoint = Some((endpoint.id.as_str().into(), "410 Gone".into()));
        record_outcomes(&mut conn, &[gone]).unwrap();
        let read = find_endpoint(&mut conn, &endpoint.id).unwrap().unwrap();
        assert!(!read.enabled);
        assert_eq!(read.disabled_reason.as_deref(), Some("410 Gone"));
        assert!(pending_deliveries(&mut conn).unwrap().is_empty());
        let other = find_delivery(&mut conn, "msg_1").unwrap().unwrap();
        assert_eq!(other.status, "endpoint_disabled");

        // No redelivery while the endpoint is disabled; once enabled, a new round.
        assert_eq!(
            restart_delivery(&mut conn, "msg_0", Utc::now()).unwrap(),
            Restarted::EndpointDisabled(endpoint.id.clone())
        );
        save_endpoint(&mut conn, &endpoint).unwrap();
        let Restarted::Pending(again) = restart_delivery(&mut conn, "msg_0", Utc::now()).unwrap()
        else {
            panic!("restarted");
        };
        assert_eq!((again.attempts, again.round_start), (1, 1));
        assert_eq!(
            find_delivery(&mut conn, "msg_0").unwrap().unwrap().status,
            "pending"
        );
        assert_eq!(
            restart_delivery(&mut conn, "msg_nope", Utc::now()).unwrap(),
            Restarted::NotFound
        );
    }

    #[test]
    fn declared_endpoints_follow_the_configuration() {
        let (_dir, mut conn) = test_db();
        let first = callback_endpoints("http://hub-b:8000", None);
        sync_declared(&mut conn, &first, Utc::now()).unwrap();
        let ids: Vec<String> = all_endpoints(&mut conn)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids.len(), 3);
        // Same URLs, now signed: same endpoints.
        let secret = super::super::signing::generate_secret();
        let signed = callback_endpoints("http://hub-b:8000", Some(&secret));
        sync_declared(&mut conn, &signed, Utc::now()).unwrap();
        let endpoints = all_endpoints(&mut conn).unwrap();
        assert_eq!(
            endpoints.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            ids
        );
        assert!(endpoints.iter().all(|e| e.secret.is_some()));
        // Another base URL: the old ones are retired, not deleted.
        sync_declared(
            &mut conn,
            &callback_endpoints("http://hub-c:8000", None),
            Utc::now(),
        )
        .unwrap();
        let endpoints = all_endpoints(&mut conn).unwrap();
        assert_eq!(endpoints.len(), 6);
        let retired: Vec<_> = endpoints.iter().filter(|e| !e.enabled).collect();
        assert_eq!(retired.len(), 3);
        assert!(retired.iter().all(|e| e.url.starts_with("http://hub-b")));
        assert!(retired
            .iter()
            .all(|e| e.disabled_reason.as_deref() == Some(RETIRED_REASON)));
        // And back: re-enabled.
        sync_declared(&mut conn, &first, Utc::now()).unwrap();
        let enabled = all_endpoints(&mut conn)
            .unwrap()
            .into_iter()
            .filter(|e| e.enabled)
            .count();
        assert_eq!(enabled, 3);
    }

    #[test]
    fn deleting_an_endpoint_takes_its_log_and_pruning_keeps_pending_ones() {
        let (_dir, mut conn) = test_db();
        let endpoint = api_endpoint("http://127.0.0.1:9/hook");
        insert_endpoint(&mut conn, &endpoint).unwrap();
        let batch: Vec<_> = (0..2).map(|n| new_delivery(&endpoint, n)).collect();
        insert_deliveries(&mut conn, &batch).unwrap();
        record_outcomes(
            &mut conn,
            &[outcome("msg_0", 1, DeliveryStatus::Delivered, Some(200))],
        )
        .unwrap();
        let later = Utc::now() + chrono::Duration::days(1);
        assert_eq!(prune_finished(&mut conn, later, 100).unwrap(), 1);
        assert!(find_delivery(&mut conn, "msg_1").unwrap().is_some());
        assert!(delete_endpoint(&mut conn, &endpoint.id).unwrap());
        assert!(!delete_endpoint(&mut conn, &endpoint.id).unwrap());
        assert!(find_delivery(&mut conn, "msg_1").unwrap().is_none());
    }
}
