//! The leases' and nodes' rows on PostgreSQL (`cluster_nodes`, `cluster_leases`): the lease
//! keeper's queries. Every time is the DATABASE's (`now() AT TIME ZONE 'UTC'`), never a node's,
//! so that clock skew between nodes cannot make a lease look expired to one and live to another.
//!
//! The fence is in the statements themselves: an acquire succeeds only on a free or expired
//! row, and bumps the epoch; a renewal or release only on the owner's own epoch. PostgreSQL
//! serialises updates of one row, so of two nodes racing for a lease exactly one wins.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{
    sql_query,
    sql_types::{BigInt, Bool, Nullable, Text, Timestamp},
    PgConnection, QueryResult, QueryableByName, RunQueryDsl,
};

use crate::db::backend::Conn;

/// The PostgreSQL connection inside the hub's connection (a cluster runs on nothing else).
pub fn postgres(conn: &mut Conn) -> QueryResult<&mut PgConnection> {
    match conn {
        Conn::Postgres(pg) => Ok(pg),
        Conn::Sqlite(_) => Err(diesel::result::Error::QueryBuilderError(
            "a cluster needs PostgreSQL".into(),
        )),
    }
}

const NOW: &str = "(now() AT TIME ZONE 'UTC')";

/// A node's row.
#[derive(QueryableByName, Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    #[diesel(sql_type = Text)]
    pub node_id: String,
    #[diesel(sql_type = Text)]
    pub address: String,
    #[diesel(sql_type = Timestamp)]
    pub started_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    pub heartbeat_at: NaiveDateTime,
}

/// A lease's row.
#[derive(QueryableByName, Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub owner: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub epoch: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub expires_at: Option<NaiveDateTime>,
}

/// Everything read at one heartbeat.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The database's clock.
    pub now: DateTime<Utc>,
    pub nodes: Vec<NodeRow>,
    pub leases: Vec<LeaseRow>,
}

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamp)]
    now: NaiveDateTime,
}

#[derive(QueryableByName)]
struct Epoch {
    #[diesel(sql_type = BigInt)]
    epoch: i64,
}

#[derive(QueryableByName)]
struct Next {
    #[diesel(sql_type = BigInt)]
    next: i64,
}

fn millis(lease: std::time::Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

/// Writes this node's heartbeat (and address); `starting` also sets `started_at`: the first
/// heartbeat of this process.
pub fn heartbeat(
    conn: &mut PgConnection,
    me: &str,
    address: &str,
    starting: bool,
) -> QueryResult<()> {
    sql_query(format!(
        "INSERT INTO cluster_nodes (node_id, address, started_at, heartbeat_at) \
         VALUES ($1, $2, {NOW}, {NOW}) \
         ON CONFLICT (node_id) DO UPDATE SET address = EXCLUDED.address, \
         heartbeat_at = EXCLUDED.heartbeat_at, \
         started_at = CASE WHEN $3 THEN EXCLUDED.started_at ELSE cluster_nodes.started_at END"
    ))
    .bind::<Text, _>(me)
    .bind::<Text, _>(address)
    .bind::<Bool, _>(starting)
    .execute(conn)
    .map(drop)
}

/// Removes this node's row: it left (the others see it gone at once, not a lease later).
pub fn leave(conn: &mut PgConnection, me: &str) -> QueryResult<()> {
    sql_query("DELETE FROM cluster_nodes WHERE node_id = $1")
        .bind::<Text, _>(me)
        .execute(conn)
        .map(drop)
}

/// The database's clock, every node and every lease.
pub fn read(conn: &mut PgConnection) -> QueryResult<Reading> {
    let now = sql_query(format!("SELECT {NOW} AS now")).get_result::<Now>(conn)?;
    let nodes = sql_query(
        "SELECT node_id, address, started_at, heartbeat_at FROM cluster_nodes ORDER BY node_id",
    )
    .load::<NodeRow>(conn)?;
    let leases =
        sql_query("SELECT name, owner, epoch, expires_at FROM cluster_leases ORDER BY name")
            .load::<LeaseRow>(conn)?;
    Ok(Reading {
        now: now.now.and_utc(),
        nodes,
        leases,
    })
}

/// Takes `name` for `me` if it is free or expired; answers the new epoch (None: someone holds
/// it).
pub fn acquire(
    conn: &mut PgConnection,
    name: &str,
    me: &str,
    lease: std::time::Duration,
) -> QueryResult<Option<u64>> {
    sql_query("INSERT INTO cluster_leases (name, owner, epoch, expires_at) VALUES ($1, NULL, 0, NULL) ON CONFLICT (name) DO NOTHING")
        .bind::<Text, _>(name)
        .execute(conn)?;
    let taken = sql_query(format!(
        "UPDATE cluster_leases SET owner = $2, epoch = epoch + 1, \
         expires_at = {NOW} + $3 * interval '1 millisecond' \
         WHERE name = $1 AND (owner IS NULL OR expires_at IS NULL OR expires_at < {NOW}) \
         RETURNING epoch"
    ))
    .bind::<Text, _>(name)
    .bind::<Text, _>(me)
    .bind::<BigInt, _>(millis(lease))
    .get_results::<Epoch>(conn)?;
    Ok(taken.first().map(|row| row.epoch as u64))
}

/// Extends `me`'s lease of `name` under `epoch`; false when it is no longer this node's (taken
/// over after it expired: this node must stop).
pub fn renew(
    conn: &mut PgConnection,
    name: &str,
    me: &str,
    epoch: u64,
    lease: std::time::Duration,
) -> QueryResult<bool> {
    sql_query(format!(
        "UPDATE cluster_leases SET expires_at = {NOW} + $4 * interval '1 millisecond' \
         WHERE name = $1 AND owner = $2 AND epoch = $3"
    ))
    .bind::<Text, _>(name)
    .bind::<Text, _>(me)
    .bind::<BigInt, _>(epoch as i64)
    .bind::<BigInt, _>(millis(lease))
    .execute(conn)
    .map(|rows| rows == 1)
}

/// Gives up `me`'s lease of `name` under `epoch` (the epoch stays: the next owner's is higher);
/// false when it was not this node's any more.
pub fn release(conn: &mut PgConnection, name: &str, me: &str, epoch: u64) -> QueryResult<bool> {
    sql_query(
        "UPDATE cluster_leases SET owner = NULL, expires_at = NULL \
         WHERE name = $1 AND owner = $2 AND epoch = $3",
    )
    .bind::<Text, _>(name)
    .bind::<Text, _>(me)
    .bind::<BigInt, _>(epoch as i64)
    .execute(conn)
    .map(|rows| rows == 1)
}

/// The per-instance sequence number the next owner of `instance` starts from: one above the
/// last change any owner wrote.
pub fn next_seq(conn: &mut PgConnection, instance: &str) -> QueryResult<u64> {
    sql_query("SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM cluster_changes WHERE instance = $1")
        .bind::<Text, _>(instance)
        .get_result::<Next>(conn)
        .map(|row| row.next as u64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::db::testing::{test_db_on, Backend};

    const LEASE: Duration = Duration::from_secs(10);

    fn lease_row(conn: &mut PgConnection, name: &str) -> LeaseRow {
        read(conn)
            .unwrap()
            .leases
            .into_iter()
            .find(|lease| lease.name == name)
            .expect("a row")
    }

    /// Ends every lease now, as if its holder had died a lease ago.
    fn expire_all(conn: &mut PgConnection) {
        sql_query(format!(
            "UPDATE cluster_leases SET expires_at = {NOW} - interval '1 second' WHERE owner IS NOT NULL"
        ))
        .execute(conn)
        .unwrap();
    }

    #[test]
    #[cfg_attr(postgres_missing, ignore = "needs PostgreSQL's binaries")]
    fn postgres_a_lease_is_taken_once_renewed_by_its_epoch_and_taken_over_only_expired() {
        let (_db, mut conn) = test_db_on(Backend::Postgres);
        let conn = postgres(&mut conn).unwrap();
        assert_eq!(acquire(conn, "studio", "n1", LEASE).unwrap(), Some(1));
        assert_eq!(
            acquire(conn, "studio", "n2", LEASE).unwrap(),
            None,
            "live: never taken"
        );
        assert_eq!(
            acquire(conn, "studio", "n1", LEASE).unwrap(),
            None,
            "held is held"
        );
        let before = lease_row(conn, "studio");
        assert_eq!(before.owner.as_deref(), Some("n1"));
        assert!(renew(conn, "studio", "n1", 1, LEASE).unwrap());
        assert!(!renew(conn, "studio", "n2", 1, LEASE).unwrap());
        assert!(!renew(conn, "studio", "n1", 2, LEASE).unwrap());
        let renewed = lease_row(conn, "studio");
        assert!(renewed.expires_at >= before.expires_at);

        expire_all(conn);
        assert_eq!(acquire(conn, "studio", "n2", LEASE).unwrap(), Some(2));
        assert!(
            !renew(conn, "studio", "n1", 1, LEASE).unwrap(),
            "the old owner's epoch is fenced off"
        );
        assert!(!release(conn, "studio", "n1", 1).unwrap());
        assert!(release(conn, "studio", "n2", 2).unwrap());
        let released = lease_row(conn, "studio");
        assert_eq!(
            (released.owner, released.epoch, released.expires_at),
            (None, 2, None)
        );
        assert_eq!(acquire(conn, "studio", "n1", LEASE).unwrap(), Some(3));
    }

    #[test]
    #[cfg_attr(postgres_missing, ignore = "needs PostgreSQL's binaries")]
    fn postgres_heartbeats_keep_the_start_and_next_seq_follows_the_changes() {
        let (_db, mut conn) = test_db_on(Backend::Postgres);
        let conn = postgres(&mut conn).unwrap();
        heartbeat(conn, "n1", "http://127.0.0.1:1", true).unwrap();
        let first = read(conn).unwrap();
        assert_eq!(first.nodes.len(), 1);
        let started = first.nodes[0].started_at;
        heartbeat(conn, "n1", "http://127.0.0.1:2", false).unwrap();
        let second = read(conn).unwrap();
        assert_eq!(second.nodes[0].started_at, started);
        assert_eq!(second.nodes[0].address, "http://127.0.0.1:2");
        assert!(second.nodes[0].heartbeat_at >= first.nodes[0].heartbeat_at);
        assert!(second.now >= first.now);
        leave(conn, "n1").unwrap();
        assert!(read(conn).unwrap().nodes.is_empty());

        assert_eq!(next_seq(conn, "studio").unwrap(), 1);
        sql_query(
            "INSERT INTO cluster_changes (instance, seq, epoch, node_id, body, happened_at) \
             VALUES ('studio', 41, 1, 'n1', '{}', now()), ('booth', 99, 1, 'n1', '{}', now())",
        )
        .execute(conn)
        .unwrap();
        assert_eq!(next_seq(conn, "studio").unwrap(), 42);
    }
}
