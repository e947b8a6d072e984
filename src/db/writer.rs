//! `DbWriter`: the one owner of database writes, on its own thread (a `SyncArbiter`), so that
//! SQLite's blocking calls (fsync, waiting for a lock) never run on an async thread. It does
//! what it is told, once; the recorder decides what to write and retries.

use std::sync::Arc;

use super::{
    pool::Pool,
    queries::{self, InstanceIds},
    recording::WriteOp,
    DbError,
};
use actix::prelude::*;
use chrono::{DateTime, Utc};

/// Writes a batch in one transaction; answers how many events it stored.
#[derive(Message)]
#[rtype(result = "Result<usize, DbError>")]
pub struct WriteBatch(pub Arc<Vec<WriteOp>>);

/// Deletes up to `chunk` events that happened before `before`; answers how many went.
#[derive(Message)]
#[rtype(result = "Result<usize, DbError>")]
pub struct PruneEvents {
    pub before: DateTime<Utc>,
    pub chunk: i64,
}

pub struct DbWriter {
    pool: Pool,
    instance_ids: InstanceIds,
}

impl DbWriter {
    pub fn new(pool: Pool, instance_ids: InstanceIds) -> Self {
        Self { pool, instance_ids }
    }
}

impl Actor for DbWriter {
    type Context = SyncContext<Self>;
}

impl Handler<WriteBatch> for DbWriter {
    type Result = Result<usize, DbError>;

    fn handle(&mut self, WriteBatch(ops): WriteBatch, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        // Ids learnt inside a transaction that rolls back must not be remembered.
        let mut ids = self.instance_ids.clone();
        // IMMEDIATE takes the write lock up front: waiting for it honours busy_timeout, where a
        // deferred transaction could fail to upgrade its read lock halfway through the batch.
        let written =
            conn.immediate_transaction(|conn| queries::apply_batch(conn, &ops, &mut ids))?;
        self.instance_ids = ids;
        Ok(written)
    }
}

impl Handler<PruneEvents> for DbWriter {
    type Result = Result<usize, DbError>;

    fn handle(&mut self, prune: PruneEvents, _: &mut Self::Context) -> Self::Result {
        let mut conn = self.pool.get()?;
        Ok(queries::events::prune(
            &mut conn,
            prune.before.naive_utc(),
            prune.chunk,
        )?)
    }
}
