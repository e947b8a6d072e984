//! `AuditRecorder`: gets the audit trail's entries written through the one
//! [`write_behind`](super::write_behind) component, as the history recorder does with events,
//! and prunes them with the history's retention. HTTP hands it an entry and never waits; at
//! shutdown [`Drain`] answers once every accepted entry is in the database.

use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::{
    backend,
    pool::Pool,
    queries,
    source::audit::AuditForm,
    write_behind::{Drain, Failed, Persisting, Pruning, Queue, WriteBehind, Writer},
    DbError,
};

/// Entries per transaction.
const MAX_BATCH: usize = 1_000;
/// Beyond this many unwritten entries (a database broken for long), new ones are dropped and
/// counted rather than exhausting memory.
const MAX_PENDING: usize = 100_000;

/// The audit trail's side of its writer thread.
#[derive(Clone)]
pub struct AuditStore {
    pool: Pool,
}

impl AuditStore {
    fn write(&mut self, batch: &[AuditForm]) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        backend::write_transaction(&mut conn, |conn| Ok(queries::audit::insert(conn, batch)?))
    }

    fn prune(&mut self, before: DateTime<Utc>, chunk: i64) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        Ok(queries::audit::prune(&mut conn, before.naive_utc(), chunk)?)
    }
}

/// One entry to keep.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Record(pub AuditForm);

pub struct AuditRecorder {
    writer: Addr<Writer<AuditStore>>,
    queue: Queue<AuditForm>,
    retention: chrono::Duration,
    dropped: u64,
    failing: bool,
}

impl AuditRecorder {
    /// Starts the recorder and its writer thread.
    pub fn start(pool: Pool, retention: Duration) -> Addr<Self> {
        let writer = Writer::start(AuditStore { pool });
        Self {
            writer,
            queue: Queue::new(MAX_BATCH),
            retention: chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX),
            dropped: 0,
            failing: false,
        }
        .start()
    }
}

impl Actor for AuditRecorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.start_pruning(ctx);
    }
}

impl Persisting for AuditRecorder {
    type Store = AuditStore;

    fn writer(&self) -> &Addr<Writer<AuditStore>> {
        &self.writer
    }
}

impl WriteBehind<AuditForm> for AuditRecorder {
    type Written = usize;
    type Error = DbError;

    fn queue(&mut self) -> &mut Queue<AuditForm> {
        &mut self.queue
    }

    fn write(store: &mut AuditStore, batch: &[AuditForm]) -> Result<usize, DbError> {
        store.write(batch)
    }

    fn written(&mut self, _: Vec<AuditForm>, _: usize, _: &mut Context<Self>) {
        if std::mem::replace(&mut self.failing, false) {
            log::info!("audit: the database accepts entries again");
        }
    }

    fn failed(&mut self, error: Option<&DbError>, failed: Failed) {
        self.failing = true;
        if failed.first {
            let error = error.map_or_else(
                || "the database writer stopped".to_string(),
                ToString::to_string,
            );
            log::warn!("audit: writing entries failed ({error}); kept in memory and retried");
        }
    }
}

impl Pruning for AuditRecorder {
    type Error = DbError;

    fn prune_before(&self) -> Option<DateTime<Utc>> {
        Utc::now().checked_sub_signed(self.retention)
    }

    fn prune_chunk(
        store: &mut AuditStore,
        before: DateTime<Utc>,
        chunk: i64,
    ) -> Result<usize, DbError> {
        store.prune(before, chunk)
    }

    fn pruned(&mut self, before: DateTime<Utc>, result: Result<usize, Option<DbError>>) {
        match result {
            Ok(0) | Err(None) => {}
            Ok(deleted) => log::info!("audit: pruned {deleted} entries older than {before}"),
            Err(Some(error)) => {
                log::warn!("audit: pruning old entries failed ({error}); next try in an hour")
            }
        }
    }
}

impl Handler<Record> for AuditRecorder {
    type Result = ();

    fn handle(&mut self, Record(entry): Record, ctx: &mut Self::Context) {
        if self.queue.len() >= MAX_PENDING {
            self.dropped += 1;
            if self.dropped == 1 {
                log::error!(
                    "audit: {MAX_PENDING} entries wait for the database; new ones are dropped"
                );
            }
            return;
        }
        self.dropped = 0;
        self.queue.push([entry]);
        self.flush(ctx);
    }
}

impl Handler<Drain> for AuditRecorder {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        let drained = self.drain(ctx);
        Box::pin(async move {
            let _ = drained.await;
        })
    }
}
