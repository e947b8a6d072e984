//! `StoreWriter`: the webhook tables' writes, on a thread of their own (a `SyncArbiter`), so that
//! SQLite's blocking calls never run on the dispatcher's thread, the status manager's or an HTTP
//! worker's. One message = one transaction.
//!
//! Batches (new deliveries, attempt outcomes) go through [`write_batch`]: a row the database
//! refuses for good (a constraint) is left out and reported, and the rest is written. Only
//! passing failures (a lock, a full disk) fail the whole batch, which the dispatcher retries.

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use diesel::{
    r2d2::ConnectionManager,
    result::{DatabaseErrorKind, Error as QueryError},
    Connection, QueryResult, SqliteConnection,
};

use super::{
    endpoint::{DeclaredEndpoint, Endpoint},
    outbox::PendingDelivery,
    store::{self, AttemptOutcome, NewDelivery, Restarted},
};

/// The database pool (the same type as the persistence layer's).
pub type Pool = r2d2::Pool<ConnectionManager<SqliteConnection>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("webhook store: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("webhook store: no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("webhook store: the writer thread stopped")]
    Stopped,
    #[error("webhook store: the database refused the row: {0}")]
    Refused(String),
}

impl From<MailboxError> for StoreError {
    fn from(_: MailboxError) -> Self {
        Self::Stopped
    }
}

type StoreResult<T> = Result<T, StoreError>;

/// Brings the declared endpoints in line, then answers every endpoint and every pending
/// delivery of an enabled one (start-up).
#[derive(Message)]
#[rtype(result = "StoreResult<(Vec<Endpoint>, Vec<PendingDelivery>)>")]
pub struct Load {
    pub declared: Vec<DeclaredEndpoint>,
}

/// The rows of a batch the database refused for good: their index in the batch, and why.
pub type Refused = Vec<(usize, String)>;

#[derive(Message)]
#[rtype(result = "StoreResult<Refused>")]
pub struct InsertDeliveries(pub Arc<Vec<NewDelivery>>);

#[derive(Message)]
#[rtype(result = "StoreResult<Refused>")]
pub struct RecordOutcomes(pub Arc<Vec<AttemptOutcome>>);

#[derive(Message)]
#[rtype(result = "StoreResult<()>")]
pub struct CreateEndpoint(pub Endpoint);

/// Writes an endpoint (and ends its pending deliveries when it is disabled).
#[derive(Message)]
#[rtype(result = "StoreResult<()>")]
pub struct SaveEndpoint(pub Endpoint);

#[derive(Message)]
#[rtype(result = "StoreResult<bool>")]
pub struct DeleteEndpoint(pub String);

#[derive(Message)]
#[rtype(result = "StoreResult<Restarted>")]
pub struct RestartDelivery {
    pub id: String,
    pub now: DateTime<Utc>,
}

/// Deletes up to `chunk` finished deliveries older than `before`.
#[derive(Message)]
#[rtype(result = "StoreResult<usize>")]
pub struct PruneDeliveries {
    pub before: DateTime<Utc>,
    pub chunk: i64,
}

pub struct StoreWriter {
    pool: Pool,
}

impl StoreWriter {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// One IMMEDIATE transaction: the write lock is taken up front, so waiting for it honours
    /// busy_timeout instead of failing halfway through a batch.
    fn write<T>(
        &self,
        work: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<T>,
    ) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        Ok(conn.immediate_transaction(work)?)
    }
}

/// Whether the database refuses this row for good: writing it again can never succeed, so
/// retrying the batch that holds it would fail forever.
fn refuses_the_row(error: &QueryError) -> bool {
    matches!(
        error,
        QueryError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation,
            _
        )
    )
}

/// Writes `rows` with `write` in one IMMEDIATE transaction. When the database refuses a row for
/// good, the batch is written again row by row (each in a savepoint of one transaction), leaving
/// out the refused rows, which are answered. Any other failure fails the batch as a whole.
pub fn write_batch<T, R>(
    conn: &mut SqliteConnection,
    rows: &[T],
    write: impl Fn(&mut SqliteConnection, &[T]) -> QueryResult<R>,
) -> QueryResult<Refused> {
    match conn.immediate_transaction(|conn| write(conn, rows)) {
        Ok(_) => return Ok(Vec::new()),
        Err(error) if !refuses_the_row(&error) => return Err(error),
        Err(_) => {}
    }
    conn.immediate_transaction(|conn| {
        let mut refused = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            // Nested: a savepoint, so a refused row leaves nothing half-written behind.
            match conn.transaction(|conn| write(conn, std::slice::from_ref(row))) {
                Ok(_) => {}
                Err(error) if refuses_the_row(&error) => refused.push((index, error.to_string())),
                Err(error) => return Err(error),
            }
        }
        Ok(refused)
    })
}

impl Actor for StoreWriter {
    type Context = SyncContext<Self>;
}

impl Handler<Load> for StoreWriter {
    type Result = StoreResult<(Vec<Endpoint>, Vec<PendingDelivery>)>;

    fn handle(&mut self, load: Load, _: &mut Self::Context) -> Self::Result {
        self.write(|conn| {
            store::sync_declared(conn, &load.declared, Utc::now())?;
            Ok((
                store::all_endpoints(conn)?,
                store::pending_deliveries(conn)?,
            ))
        })
    }
}

impl Handler<InsertDeliveries> for StoreWriter {
    type Result = StoreResult<Refused>;

    fn handle(
        &mut self,
        InsertDeliveries(batch): InsertDeliveries,
        _: &mut Self::Context,
    ) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(write_batch(&mut conn, &batch, store::insert_deliveries)?)
    }
}

impl Handler<RecordOutcomes> for StoreWriter {
    type Result = StoreResult<Refused>;

    fn handle(
        &mut self,
        RecordOutcomes(batch): RecordOutcomes,
        _: &mut Self::Context,
    ) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(write_batch(&mut conn, &batch, store::record_outcomes)?)
    }
}

impl Handler<CreateEndpoint> for StoreWriter {
    type Result = StoreResult<()>;

    fn handle(
        &mut self,
        CreateEndpoint(endpoint): CreateEndpoint,
        _: &mut Self::Context,
    ) -> Self::Result {
        self.write(|conn| store::insert_endpoint(conn, &endpoint))
    }
}

impl Handler<SaveEndpoint> for StoreWriter {
    type Result = StoreResult<()>;

    fn handle(
        &mut self,
        SaveEndpoint(endpoint): SaveEndpoint,
        _: &mut Self::Context,
    ) -> Self::Result {
        self.write(|conn| store::save_endpoint(conn, &endpoint))
    }
}

impl Handler<DeleteEndpoint> for StoreWriter {
    type Result = StoreResult<bool>;

    fn handle(
        &mut self,
        DeleteEndpoint(id): DeleteEndpoint,
        _: &mut Self::Context,
    ) -> Self::Result {
        self.write(|conn| store::delete_endpoint(conn, &id))
    }
}

impl Handler<RestartDelivery> for StoreWriter {
    type Result = StoreResult<Restarted>;

    fn handle(&mut self, restart: RestartDelivery, _: &mut Self::Context) -> Self::Result {
        self.write(|conn| store::restart_delivery(conn, &restart.id, restart.now))
    }
}

impl Handler<PruneDeliveries> for StoreWriter {
    type Result = StoreResult<usize>;

    fn handle(&mut self, prune: PruneDeliveries, _: &mut Self::Context) -> Self::Result {
        self.write(|conn| store::prune_finished(conn, prune.before, prune.chunk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::store::tests::test_db;
    use diesel::RunQueryDsl;

    fn delivery(id: &str, endpoint_id: &str) -> NewDelivery {
        NewDelivery {
            id: id.into(),
            endpoint_id: endpoint_id.into(),
            event_type: "scene_changed".into(),
            body: "{}".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_row_the_database_refuses_is_left_out_and_the_rest_written() {
        let (_dir, mut conn) = test_db();
        diesel::sql_query("PRAGMA foreign_keys = ON")
            .execute(&mut conn)
            .unwrap();
        let endpoint = crate::webhooks::endpoint::DeclaredEndpoint::receiver(
            "http://127.0.0.1:9/in",
            crate::webhooks::signing::generate_secret(),
        );
        store::sync_declared(&mut conn, &[endpoint], Utc::now()).unwrap();
        let id = store::all_endpoints(&mut conn).unwrap()[0].id.clone();
        // The middle one names an endpoint that does not exist (deleted meanwhile).
        let batch = [
            delivery("msg_a", &id),
            delivery("msg_b", "ep_deleted"),
            delivery("msg_c", &id),
        ];
        let refused = write_batch(&mut conn, &batch, store::insert_deliveries).unwrap();
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 1);
        assert!(refused[0].1.contains("FOREIGN KEY"), "{}", refused[0].1);
        let pending: Vec<String> = store::pending_deliveries(&mut conn)
            .unwrap()
            .iter()
            .map(|d| d.id.to_string())
            .collect();
        assert_eq!(pending, ["msg_a", "msg_c"]);
        // Written again (a retry): refused for good, never a failed batch.
        let again = write_batch(&mut conn, &batch[..1], store::insert_deliveries).unwrap();
        assert_eq!(again.len(), 1, "the same id twice is refused too");
    }
}
