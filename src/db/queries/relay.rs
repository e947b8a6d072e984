//! The change relay of a cluster of hubs (each node's change feed reads it): what the node
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
    /// The instance was removed at `seq`: its row goes, so that no node loads it again.
    pub removed: bool,
}

/// Whether `node` holds `instance`'s lease under `epoch`. On PostgreSQL the lease row is
/// locked FOR KEY SHARE until the transaction ends: renewals and takeovers (updates of other
/// columns) do not wait for it, but a node that has taken the lease over takes the row FOR
/// UPDATE before it reads the next number (the lease store's next_seq), which waits for this
/// write to commit: it numbers on from it, and no number is written twice.
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
        let rows: Vec<Epoch> = sql_query(
            "SELECT epoch FROM cluster_leases WHERE name = $1 AND owner = $2 FOR KEY SHARE",
        )
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
            if status.removed {
                sql_query("DELETE FROM cluster_status WHERE instance = $1 AND seq <= $2")
                    .bind::<Text, _>(&status.instance)
                    .bind::<BigInt, _>(status.seq)
                    .execute(conn)?;
                continue;
            }
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
                    removed: false,
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

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;
    use diesel::{connection::SimpleConnection, sql_types::BigInt};

    use super::*;
    use crate::{
        db::{
            backend::write_transaction,
            queries::{apply_batch, Applied, InstanceIds},
            recording::{Relayed, WriteOp},
            testing::{test_db_on, Backend},
        },
        status::{Change, ChangeEvent, ClusterStamp, InstanceStatus, Source},
    };

    fn relayed(instance_seq: u64, epoch: u64, change: Change) -> WriteOp {
        let mut status = InstanceStatus::new("studio", "127.0.0.1", 4455, Utc::now());
        status.instance_seq = Some(instance_seq);
        WriteOp::Relay(Arc::new(Relayed {
            event: Arc::new(ChangeEvent {
                seq: 100 + instance_seq,
                instance: "studio".into(),
                at: Utc::now(),
                source: Source::ObsEvent,
                change,
                cluster: Some(ClusterStamp {
                    instance_seq,
                    epoch,
                    mirrored: false,
                }),
            }),
            status: Some(Arc::new(status)),
            node: Arc::from("n1"),
        }))
    }

    fn scene(instance_seq: u64, epoch: u64) -> WriteOp {
        relayed(
            instance_seq,
            epoch,
            Change::SceneChanged {
                scene: format!("scene {instance_seq}"),
                previous: None,
            },
        )
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn count(conn: &mut Conn, sql: &str) -> i64 {
        crate::db::backend::per_backend!(conn, |c| diesel::sql_query(sql)
            .get_result::<Count>(c)
            .expect("counts")
            .n)
    }

    fn write(conn: &mut Conn, ops: &[WriteOp]) -> Applied {
        let mut ids = InstanceIds::new();
        write_transaction(conn, |conn| apply_batch(conn, ops, &mut ids)).expect("written")
    }

    /// The owner's changes are written (event row with its instance_seq, relay row of every
    /// kind, status, notification) only while it holds the lease under their epoch.
    #[test]
    #[cfg_attr(postgres_missing, ignore = "needs PostgreSQL")]
    fn postgres_relayed_changes_are_written_only_under_the_lease_they_were_numbered_under() {
        let (db, mut conn) = test_db_on(Backend::Postgres);
        let mut listener = db.connect();
        listener.batch_execute("LISTEN obs_hub_changes").unwrap();
        conn.batch_execute(
            "INSERT INTO cluster_leases (name, owner, epoch, expires_at) \
             VALUES ('studio', 'n1', 2, now() + interval '1 hour')",
        )
        .unwrap();
        let stats = Change::StatsUpdated {
            stats: None,
            stream: Default::default(),
            record: Default::default(),
        };
        let applied = write(&mut conn, &[scene(1, 2), relayed(2, 2, stats)]);
        assert_eq!(
            applied,
            Applied {
                events: 1,
                fenced_off: 0
            },
            "stats are relayed, not recorded"
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM events WHERE instance_seq = 1"
            ),
            1
        );
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM cluster_changes"),
            2
        );
        assert_eq!(
            count(&mut conn, "SELECT max(seq) AS n FROM cluster_status"),
            2
        );
        let Conn::Postgres(listener) = &mut listener else {
            panic!("a PostgreSQL connection")
        };
        diesel::sql_query("SELECT 1").execute(listener).unwrap();
        let told: Vec<String> = listener
            .notifications_iter()
            .map(|notification| notification.unwrap().payload)
            .collect();
        assert_eq!(told, ["studio"], "one notification per instance and batch");

        // Numbered under an older epoch: refused, whatever else the batch holds.
        let applied = write(&mut conn, &[scene(3, 1)]);
        assert_eq!(applied.fenced_off, 1);
        // The lease moved to another node: the old owner's late change is refused.
        conn.batch_execute("UPDATE cluster_leases SET owner = 'n2', epoch = 3")
            .unwrap();
        let applied = write(&mut conn, &[scene(3, 2)]);
        assert_eq!(
            applied,
            Applied {
                events: 0,
                fenced_off: 1
            }
        );
        assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM events"), 1);
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM cluster_changes"),
            2
        );
        assert_eq!(
            count(&mut conn, "SELECT max(seq) AS n FROM cluster_status"),
            2
        );
    }

    /// Pruning keeps an hour of changes, and each instance's newest whatever its age (the
    /// next owner numbers on from it).
    #[test]
    #[cfg_attr(postgres_missing, ignore = "needs PostgreSQL")]
    fn postgres_pruning_keeps_the_last_hour_and_each_instances_newest_change() {
        let (_db, mut conn) = test_db_on(Backend::Postgres);
        conn.batch_execute(
            "INSERT INTO cluster_changes (instance, seq, epoch, node_id, body, happened_at) VALUES \
             ('a', 1, 1, 'n1', '{}', now() - interval '3 hours'), \
             ('a', 2, 1, 'n1', '{}', now() - interval '2 hours'), \
             ('a', 3, 1, 'n1', '{}', now()), \
             ('b', 1, 1, 'n1', '{}', now() - interval '3 hours'), \
             ('b', 2, 1, 'n1', '{}', now() - interval '2 hours')",
        )
        .unwrap();
        let Conn::Postgres(pg) = &mut conn else {
            panic!("a PostgreSQL connection")
        };
        assert_eq!(prune(pg).unwrap(), 3);
        let left: Vec<(String, i64)> = crate::db::schema::cluster_changes::table
            .select((
                crate::db::schema::cluster_changes::instance,
                crate::db::schema::cluster_changes::seq,
            ))
            .order_by((
                crate::db::schema::cluster_changes::instance,
                crate::db::schema::cluster_changes::seq,
            ))
            .load(pg)
            .unwrap();
        assert_eq!(left, [("a".to_string(), 3), ("b".to_string(), 2)]);
    }
}
