//! `HistoryStore`: the history's side of its [`Writer`](super::write_behind::Writer) thread. It
//! does what it is told, once; the recorder decides what to write and retries.

use super::{
    backend,
    pool::Pool,
    queries::{self, InstanceIds},
    recording::WriteOp,
    DbError,
};
use chrono::{DateTime, Utc};

/// The pool and the instance ids learnt so far (cached: every event names its instance).
#[derive(Clone)]
pub struct HistoryStore {
    pool: Pool,
    instance_ids: InstanceIds,
}

impl HistoryStore {
    pub fn new(pool: Pool, instance_ids: InstanceIds) -> Self {
        Self { pool, instance_ids }
    }

    /// Writes a batch in one transaction; answers what it stored.
    pub fn write_batch(&mut self, ops: &[WriteOp]) -> Result<queries::Applied, DbError> {
        let mut conn = self.pool.get()?;
        // Ids learnt inside a transaction that rolls back must not be remembered.
        let mut ids = self.instance_ids.clone();
        let written = backend::write_transaction(&mut conn, |conn| {
            queries::apply_batch(conn, ops, &mut ids)
        })?;
        self.instance_ids = ids;
        Ok(written)
    }

    /// Deletes up to `chunk` events that happened before `before`; answers how many went.
    pub fn prune(&mut self, before: DateTime<Utc>, chunk: i64) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        Ok(queries::events::prune(
            &mut conn,
            before.naive_utc(),
            chunk,
        )?)
    }
}
