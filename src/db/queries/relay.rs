//! The change relay of a cluster of hubs (`crate::cluster::feed` reads it): what the node
//! owning an instance writes beside its history, in the same transaction and fenced by its
//! lease, and what the other nodes read back. PostgreSQL only (a cluster needs it): on SQLite
//! a relayed write is refused like a fenced-off one.
//!
//! - `cluster_changes`: every change of every kind, by `(instance, seq)` where `seq` is the
//!   change's `instance_seq`; `body` is the change as the WebSocket sends it.
//! - `cluster_status`: each instance's status (JSON) as of the last change written, and that
//!   change's `seq`: a node catching up reads it first, then the changes up to it.
//! - `pg_notify('obs_hub_changes', instance)` on commit tells the listeners which instance moved.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::backend::Conn;

/// The channel the owners notify and the feeds listen on.
pub const CHANNEL: &str = "obs_hub_changes";

/// How long relayed changes are kept (a node that was away longer loads the status instead).
pub const KEEP_CHANGES: &str = "1 hour";

/// One relayed change, as written.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRow {
    pub instance: String,
    pub seq: i64,
    pub epoch: i64,
    pub node_id: String,
    pub body: String,
    pub happened_at: NaiveDateTime,
}

/// An instance's status as of its change `seq`.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusRow {
    pub instance: String,
    pub seq: i64,
    pub epoch: i64,
    pub node_id: String,
    pub status: String,
}

/// Whether `node` holds `instance`'s lease under `epoch`. On PostgreSQL the lease row is
/// locked (FOR SHARE) until the transaction ends: a node taking the lease over waits for this
/// write to commit, and numbers on from it.
pub fn lease_held(conn: &mut Conn, instance: &str, node: &str, epoch: i64) -> QueryResult<bool> {
    #[cfg(feature = "postgres")]
    if let Conn::Postgres(pg) = conn {
        return pg::lease_held(pg, instance, node, epoch);
    }
    let _ = (conn, instance, node, epoch);
    Ok(false)
}

/// Writes relayed changes and status rows and notifies the listeners (PostgreSQL only; the
/// caller has checked the fences, inside the same transaction).
pub fn write(conn: &mut Conn, changes: &[ChangeRow], statuses: &[StatusRow]) -> QueryResult<()> {
    #[cfg(feature = "postgres")]
    if let Conn::Postgres(pg) = conn {
        return pg::write(pg, changes, statuses);
    }
    let _ = (conn, changes, statuses);
    Ok(())
}

#[cfg(feature = "postgres")]
pub use pg::*;

#[cfg(feature = "postgres")]
mod pg {
    use std::collections::BTreeSet;

    use diesel::{
        sql_query,
        sql_types::{BigInt, Text},
        PgConnection,
    };

    use super::*;
    use crate::db::schema::{cluster_changes, cluster_status};

    #[derive(QueryableByName)]
    struct Epoch {
        #[diesel(sql_type = BigInt)]
        epoch: i64,
    }

    pub(super) fn lease_held(
        conn: &mut PgConnection,
        instance: &str,
        node: &str,
        epoch: i64,
    ) -> QueryResult<bool> {
        let rows: Vec<Epoch> =
            sql_query("SELECT epoch FROM cluster_leases WHERE name = $1 AND owner = $2 FOR SHARE")
                .bind::<Text, _>(instance)
                .bind::<Text, _>(node)
                .load(conn)?;
        Ok(rows.iter().any(|row| row.epoch == epoch))
    }

    pub(super) fn write(
        conn: &mut PgConnection,
        changes: &[ChangeRow],
        statuses: &[StatusRow],
    ) -> QueryResult<()> {
        for change in changes {
            // A batch retried after a commit whose answer was lost finds its rows there.
            diesel::insert_into(cluster_changes::table)
                .values((
                    cluster_changes::instance.eq(&change.instance),
                    cluster_changes::seq.eq(change.seq),
                    cluster_changes::epoch.eq(change.epoch),
                    cluster_changes::node_id.eq(&change.node_id),
                    cluster_changes::body.eq(&change.body),
                    cluster_changes::happened_at.eq(change.happened_at),
                ))
                .on_conflict_do_nothing()
                .execute(conn)?;
        }
        for status in statuses {
            // Never back in time: a row written at a later seq stays.
            sql_query(
                "INSERT INTO cluster_status (instance, seq, epoch, node_id, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, now() AT TIME ZONE 'UTC') \
                 ON CONFLICT (instance) DO UPDATE SET seq = EXCLUDED.seq, \
                 epoch = EXCLUDED.epoch, node_id = EXCLUDED.node_id, status = EXCLUDED.status, \
                 updated_at = EXCLUDED.updated_at WHERE cluster_status.seq <= EXCLUDED.seq",
            )
            .bind::<Text, _>(&status.instance)
            .bind::<BigInt, _>(status.seq)
            .bind::<BigInt, _>(status.epoch)
            .bind::<Text, _>(&status.node_id)
            .bind::<Text, _>(&status.status)
            .execute(conn)?;
        }
        let moved: BTreeSet<&str> = changes
            .iter()
            .map(|change| change.instance.as_str())
            .chain(statuses.iter().map(|status| status.instance.as_str()))
            .collect();
        for instance in moved {
            // Delivered on commit, once per instance and transaction.
            sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(instance)
                .execute(conn)?;
        }
        Ok(())
    }

    /// Every instance's status `seq` (the sweep compares them with what it has shown).
    pub fn status_seqs(conn: &mut PgConnection) -> QueryResult<Vec<(String, i64)>> {
        cluster_status::table
            .select((cluster_status::instance, cluster_status::seq))
            .load(conn)
    }

    /// One instance's status row.
    pub fn status_of(conn: &mut PgConnection, instance: &str) -> QueryResult<Option<StatusRow>> {
        cluster_status::table
            .filter(cluster_status::instance.eq(instance))
            .select((
                cluster_status::instance,
                cluster_status::seq,
                cluster_status::epoch,
                cluster_status::node_id,
                cluster_status::status,
            ))
            .first::<(String, i64, i64, String, String)>(conn)
            .optional()
            .map(|row| {
                row.map(|(instance, seq, epoch, node_id, status)| StatusRow {
                    instance,
                    seq,
                    epoch,
                    node_id,
                    status,
                })
            })
    }

    /// An instance's changes with `after < seq <= upto`, in order.
    pub fn changes_between(
        conn: &mut PgConnection,
        instance: &str,
        after: i64,
        upto: i64,
    ) -> QueryResult<Vec<ChangeRow>> {
        cluster_changes::table
            .filter(cluster_changes::instance.eq(instance))
            .filter(cluster_changes::seq.gt(after))
            .filter(cluster_changes::seq.le(upto))
            .order(cluster_changes::seq.asc())
            .select((
                cluster_changes::instance,
                cluster_changes::seq,
                cluster_changes::epoch,
                cluster_changes::node_id,
                cluster_changes::body,
                cluster_changes::happened_at,
            ))
            .load::<(String, i64, i64, String, String, NaiveDateTime)>(conn)
            .map(|rows| {
                rows.into_iter()
                    .map(
                        |(instance, seq, epoch, node_id, body, happened_at)| ChangeRow {
                            instance,
                            seq,
                            epoch,
                            node_id,
                            body,
                            happened_at,
                        },
                    )
                    .collect()
            })
    }

    /// Deletes relayed changes older than [`KEEP_CHANGES`] by the database's clock, but never an
    /// instance's newest (the next owner numbers on from it); answers how many went.
    pub fn prune(conn: &mut PgConnection) -> QueryResult<usize> {
        sql_query(format!(
            "DELETE FROM cluster_changes AS old \
             WHERE old.happened_at < (now() AT TIME ZONE 'UTC') - interval '{KEEP_CHANGES}' \
             AND old.seq < (SELECT max(newest.seq) FROM cluster_changes AS newest \
                            WHERE newest.instance = old.instance)"
        ))
        .execute(conn)
    }
}
