//! The webhook outbox's queries: plain functions over a connection, on the rows of
//! [`source::webhook`](crate::db::source::webhook). Writes run on the dispatcher's writer thread
//! (the caller wraps a batch in one transaction); the delivery log's reads on actix's blocking
//! threads.

use crate::db::backend::{per_backend, Conn};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::{
    schema::{webhook_attempts, webhook_deliveries, webhook_endpoints},
    source::webhook::{
        AttemptOutcome, AttemptRow, DeliveryLog, DeliveryRow, DeliveryStatus, EndpointRow,
        NewDelivery, NewDeliveryRow, Restarted,
    },
};

/// Rows per INSERT statement: well under SQLite's limit of bound variables.
const INSERT_CHUNK: usize = 1_000;

pub fn all_endpoints(conn: &mut Conn) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .order((webhook_endpoints::created_at, webhook_endpoints::id))
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn find_endpoint(conn: &mut Conn, id: &str) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_endpoint(conn: &mut Conn, endpoint: &EndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(endpoint)
        .execute(conn)
        .map(drop)
}

/// Writes every field of `endpoint`; when it is (now) disabled, its pending deliveries end as
/// `endpoint_disabled`.
pub fn save_endpoint(conn: &mut Conn, endpoint: &EndpointRow) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(&endpoint.id))
        .set(endpoint)
        .execute(conn)?;
    if !endpoint.enabled {
        end_pending(conn, &endpoint.id)?;
    }
    Ok(())
}

/// Deletes an endpoint with its deliveries and their attempts; false when there was none.
pub fn delete_endpoint(conn: &mut Conn, id: &str) -> QueryResult<bool> {
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

fn end_pending(conn: &mut Conn, endpoint_id: &str) -> QueryResult<usize> {
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

/// Stores new deliveries (the caller wraps the batch in one transaction).
pub fn insert_deliveries(conn: &mut Conn, deliveries: &[NewDelivery]) -> QueryResult<()> {
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
        // A multi-row INSERT is each engine's own (diesel's multi-backend cannot build it).
        per_backend!(conn, |c| diesel::insert_into(webhook_deliveries::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Records attempts and what they made of their deliveries (the caller wraps the batch in one
/// transaction). An outcome whose delivery is gone (its endpoint was deleted while the attempt
/// was under way) is skipped: there is nothing left to record it against. Answers how many were.
pub fn record_outcomes(conn: &mut Conn, outcomes: &[AttemptOutcome]) -> QueryResult<usize> {
    record_outcomes_claimed(conn, outcomes, None)
}

/// [`record_outcomes`]; in a cluster (`claimant`: this node), only those of deliveries this
/// node still has claimed: another node that took a delivery over records its own attempts.
pub fn record_outcomes_claimed(
    conn: &mut Conn,
    outcomes: &[AttemptOutcome],
    claimant: Option<&str>,
) -> QueryResult<usize> {
    let mut rows: Vec<AttemptRow> = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let delivered_at =
            (outcome.new_status == DeliveryStatus::Delivered).then(|| outcome.at.naive_utc());
        let changes = (
            webhook_deliveries::status.eq(outcome.new_status.as_str()),
            webhook_deliveries::attempts.eq(i32::try_from(outcome.n).unwrap_or(i32::MAX)),
            webhook_deliveries::next_attempt_at
                .eq(outcome.next_attempt_at.map(|at| at.naive_utc())),
            webhook_deliveries::delivered_at.eq(delivered_at),
        );
        let delivery =
            webhook_deliveries::table.filter(webhook_deliveries::id.eq(&*outcome.delivery_id));
        let updated = match claimant {
            None => diesel::update(delivery).set(changes).execute(conn)?,
            Some(node) => diesel::update(delivery.filter(webhook_deliveries::claimed_by.eq(node)))
                .set(changes)
                .execute(conn)?,
        };
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
        per_backend!(conn, |c| diesel::insert_into(webhook_attempts::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(outcomes.len() - rows.len())
}

/// Every pending delivery of an enabled endpoint, oldest first: what a restart resumes.
pub fn pending_deliveries(conn: &mut Conn) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_deliveries::seq)
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// [`pending_deliveries`] claimed by `node`: what a cluster node resumes at its start (its
/// claims from before a restart; the other nodes' are theirs until they expire).
pub fn pending_claimed_by(conn: &mut Conn, node: &str) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::claimed_by.eq(node))
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_deliveries::seq)
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// The deliveries of `ids`, oldest first.
#[cfg(feature = "postgres")]
fn deliveries_by_id(conn: &mut Conn, ids: &[String]) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq_any(ids))
        .order(webhook_deliveries::seq)
        .select(DeliveryRow::as_select())
        .load(conn)
}

/// The claims of a cluster's nodes on deliveries (`claimed_by`, `claimed_until`): PostgreSQL
/// only (a cluster needs it), with the database's clock, so that the nodes' clocks play no
/// part. On SQLite there is no cluster: nothing is claimed and nothing found.
pub mod claims {
    use super::*;

    /// Claims `ids` (just stored, or made pending again) for `node` until a lease from now.
    pub fn claim(conn: &mut Conn, ids: &[&str], node: &str, lease_ms: i64) -> QueryResult<()> {
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(pg) = conn {
            use diesel::sql_types::{Array, BigInt, Text};
            for chunk in ids.chunks(INSERT_CHUNK) {
                diesel::sql_query(
                    "UPDATE webhook_deliveries SET claimed_by = $1, \
                     claimed_until = (now() AT TIME ZONE 'UTC') + $2 * interval '1 millisecond' \
                     WHERE id = ANY($3)",
                )
                .bind::<Text, _>(node)
                .bind::<BigInt, _>(lease_ms)
                .bind::<Array<Text>, _>(chunk)
                .execute(pg)?;
            }
        }
        let _ = (conn, ids, node, lease_ms);
        Ok(())
    }

    /// Holds the cluster's lock on the declared endpoints until the transaction ends: nodes
    /// starting together bring them in line one after the other, so each endpoint is added
    /// once (two would send every change twice, under two ids).
    pub fn lock_declared(conn: &mut Conn) -> QueryResult<()> {
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(pg) = conn {
            // Any fixed key: only this statement takes it.
            diesel::sql_query("SELECT pg_advisory_xact_lock(7291004411830612273)").execute(pg)?;
        }
        let _ = conn;
        Ok(())
    }

    /// Extends every claim `node` holds on a pending delivery to a lease from now.
    pub fn renew(conn: &mut Conn, node: &str, lease_ms: i64) -> QueryResult<usize> {
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(pg) = conn {
            use diesel::sql_types::{BigInt, Text};
            return diesel::sql_query(
                "UPDATE webhook_deliveries \
                 SET claimed_until = (now() AT TIME ZONE 'UTC') + $2 * interval '1 millisecond' \
                 WHERE claimed_by = $1 AND status = 'pending'",
            )
            .bind::<Text, _>(node)
            .bind::<BigInt, _>(lease_ms)
            .execute(pg);
        }
        let _ = (conn, node, lease_ms);
        Ok(0)
    }

    #[cfg(feature = "postgres")]
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }

    /// Those of `ids` that `node` no longer has claimed (another node took them over while
    /// this one could not renew): this node must leave them alone.
    pub fn lost(conn: &mut Conn, ids: &[String], node: &str) -> QueryResult<Vec<String>> {
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(pg) = conn {
            use diesel::sql_types::{Array, Text};
            let mut lost = Vec::new();
            for chunk in ids.chunks(INSERT_CHUNK) {
                let found: Vec<Id> = diesel::sql_query(
                    "SELECT id FROM webhook_deliveries \
                     WHERE id = ANY($1) AND claimed_by IS DISTINCT FROM $2",
                )
                .bind::<Array<Text>, _>(chunk)
                .bind::<Text, _>(node)
                .load(pg)?;
                lost.extend(found.into_iter().map(|row| row.id));
            }
            return Ok(lost);
        }
        let _ = (conn, ids, node);
        Ok(Vec::new())
    }

    /// Claims for `node` up to `limit` pending deliveries of enabled endpoints whose claim has
    /// expired (their node died or lost the database) or that nobody claimed, oldest first, and
    /// answers them. Rows another node is claiming at this very moment are skipped, not waited
    /// for (`FOR UPDATE SKIP LOCKED`): each delivery goes to one node.
    pub fn take_expired(
        conn: &mut Conn,
        node: &str,
        lease_ms: i64,
        limit: i64,
    ) -> QueryResult<Vec<DeliveryRow>> {
        #[cfg(feature = "postgres")]
        if let Conn::Postgres(pg) = conn {
            use diesel::sql_types::{BigInt, Text};
            let taken: Vec<Id> = diesel::sql_query(
                "UPDATE webhook_deliveries \
                 SET claimed_by = $1, \
                     claimed_until = (now() AT TIME ZONE 'UTC') + $2 * interval '1 millisecond' \
                 WHERE seq IN ( \
                     SELECT d.seq FROM webhook_deliveries d \
                     JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                     WHERE d.status = 'pending' AND e.enabled \
                       AND d.claimed_by IS DISTINCT FROM $1 \
                       AND (d.claimed_until IS NULL \
                            OR d.claimed_until < (now() AT TIME ZONE 'UTC')) \
                     ORDER BY d.seq LIMIT $3 \
                     FOR UPDATE OF d SKIP LOCKED) \
                 RETURNING id",
            )
            .bind::<Text, _>(node)
            .bind::<BigInt, _>(lease_ms)
            .bind::<BigInt, _>(limit)
            .load(pg)?;
            let ids: Vec<String> = taken.into_iter().map(|row| row.id).collect();
            return deliveries_by_id(conn, &ids);
        }
        let _ = (conn, node, lease_ms, limit);
        Ok(Vec::new())
    }
}

pub fn find_delivery(conn: &mut Conn, id: &str) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// An endpoint's deliveries, newest first, `limit` of them with `seq` below `before`.
pub fn deliveries_page(
    conn: &mut Conn,
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

/// Makes a delivery pending again, due now, at the start of a new round of the schedule, unless
/// its endpoint is disabled.
pub fn restart_delivery(
    conn: &mut Conn,
    id: &str,
    now: DateTime<Utc>,
) -> QueryResult<Restarted<DeliveryRow>> {
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
    Ok(Restarted::Pending(DeliveryRow {
        status: DeliveryStatus::Pending.as_str().to_string(),
        round_start: row.attempts,
        next_attempt_at: Some(now.naive_utc()),
        ..row
    }))
}

/// Deletes up to `chunk` finished deliveries (not pending) created before `before`, with their
/// attempts; returns how many went.
pub fn prune_finished(conn: &mut Conn, before: DateTime<Utc>, chunk: i64) -> QueryResult<usize> {
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
