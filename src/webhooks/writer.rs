//! `StoreWriter`: the webhook tables' writes, on a thread of their own (a `SyncArbiter`), so that
//! SQLite's blocking calls never run on the dispatcher's thread, the status manager's or an HTTP
//! worker's. One message = one transaction.

use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use diesel::{r2d2::ConnectionManager, SqliteConnection};

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

#[derive(Message)]
#[rtype(result = "StoreResult<()>")]
pub struct InsertDeliveries(pub Arc<Vec<NewDelivery>>);

#[derive(Message)]
#[rtype(result = "StoreResult<()>")]
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
    type Result = StoreResult<()>;

    fn handle(
        &mut self,
        InsertDeliveries(batch): InsertDeliveries,
        _: &mut Self::Context,
    ) -> Self::Result {
        self.write(|conn| store::insert_deliveries(conn, &batch))
    }
}

impl Handler<RecordOutcomes> for StoreWriter {
    type Result = StoreResult<()>;

    fn handle(
        &mut self,
        RecordOutcomes(batch): RecordOutcomes,
        _: &mut Self::Context,
    ) -> Self::Result {
        self.write(|conn| store::record_outcomes(conn, &batch))
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
