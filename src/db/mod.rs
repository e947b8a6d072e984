//! Persistence: the hub's history in SQLite or, with the `postgres` feature, PostgreSQL (diesel
//! and r2d2, one schema and one set of queries for both), kept by two actors that the rest of
//! the hub only reaches by messages.
//!
//! - [`write_behind`]: the one write-behind component (queue, batching, retry with backoff,
//!   drain on shutdown, pruning), used by the history recorder and the webhook outbox.
//! - [`recorder::Recorder`] subscribes to the status manager's changes, turns them into write
//!   operations ([`recording`]) and hands them over in batches, retrying when the database fails.
//! - [`writer::HistoryStore`] does the writes, on the recorder's writer thread.
//! - History requests read through the [`pool::Pool`] on actix's blocking threads; in WAL mode
//!   they never wait for the writer.
//!
//! Layout as in Lemmy: [`schema`] (every table: history and the webhook outbox), [`source`] (row
//! structs and insert forms), [`queries`] (plain functions over a connection), [`backend`] (all
//! that is particular to an engine), one [`pool::Pool`]; the rules are plain functions too:
//! [`sessions`] (stream/record sessions), [`scene_sync`] (added/removed/renamed scenes).

pub mod audit;
pub mod backend;
pub mod health;
pub mod pool;
pub mod queries;
pub mod recorder;
pub mod recording;
pub mod scene_sync;
pub mod schema;
pub mod sessions;
pub mod sigbus;
pub mod source;
#[cfg(test)]
pub mod testing;
pub mod write_behind;
pub mod writer;

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;

use self::{
    health::{PersistenceHealth, PersistenceReport},
    pool::{ConnectionOptions, Pool},
    queries::InstanceIds,
    recorder::Recorder,
    write_behind::{Drain, Writer},
    writer::HistoryStore,
};
use crate::config::{DatabaseLocation, DatabaseSettings, InstanceConfig};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {path}: {message}")]
    Open { path: String, message: String },
    #[error("cannot migrate database {path}: {message}")]
    Migration { path: String, message: String },
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
}

fn register_instances(pool: &Pool, instances: &[InstanceConfig]) -> Result<InstanceIds, DbError> {
    let mut ids = InstanceIds::new();
    let mut conn = pool.get()?;
    let now = Utc::now().naive_utc();
    for instance in instances {
        let id = queries::instances::upsert(
            &mut conn,
            &instance.name,
            &instance.host,
            instance.port,
            now,
        )?;
        ids.insert(instance.name.clone(), id);
    }
    Ok(ids)
}

/// What the rest of the hub holds of persistence (cheap to clone).
#[derive(Clone)]
pub struct Persistence {
    pool: Option<Pool>,
    recorder: Option<Addr<Recorder>>,
    /// The audit trail's writer (issue 19).
    audit: Option<Addr<audit::AuditRecorder>>,
    health: PersistenceHealth,
}

impl Persistence {
    pub fn disabled() -> Self {
        Self {
            pool: None,
            recorder: None,
            audit: None,
            health: PersistenceHealth::new(false),
        }
    }

    /// Opens and migrates the database, registers the configured instances, and starts the
    /// writer and the recorder (which the caller subscribes to the status manager). Must run
    /// inside an actix `System`.
    pub fn start(
        settings: &DatabaseSettings,
        instances: &[InstanceConfig],
        hooks: recording::HistoryHooks,
    ) -> Result<Self, DbError> {
        let Some(location) = settings.location() else {
            return Ok(Self::disabled());
        };
        let pool = pool::open(
            &location,
            ConnectionOptions {
                busy_timeout: settings.busy_timeout,
            },
        )?;
        // The first write: a file that opened but cannot be written fails here, named.
        let ids = register_instances(&pool, instances).map_err(|error| DbError::Open {
            path: location.to_string(),
            message: error.to_string(),
        })?;
        if let DatabaseLocation::Sqlite(path) = &location {
            sigbus::name_database_on_sigbus(path);
        }
        log::info!("persistence: history kept in {location}");
        let writer = Writer::start(HistoryStore::new(pool.clone(), ids));
        let health = PersistenceHealth::new(true);
        let recorder = Recorder::new(writer, health.clone(), settings.retention, hooks);
        // Its own thread: buffering a burst never delays the status manager or HTTP workers.
        let recorder = Recorder::start_in_arbiter(&Arbiter::new().handle(), |_| recorder);
        let audit = audit::AuditRecorder::start(pool.clone(), settings.retention);
        Ok(Self {
            pool: Some(pool),
            recorder: Some(recorder),
            audit: Some(audit),
            health,
        })
    }

    /// In a cluster: the recorder writes this node's stamped changes fenced and relays them
    /// (`db::queries::relay`) with the statuses of `board`. Call before subscribing the
    /// recorder to the status manager.
    pub fn relay_as(&self, node: &str, board: crate::status::StatusBoard) {
        if let Some(recorder) = &self.recorder {
            recorder.do_send(recorder::RelayAs {
                node: node.to_string(),
                board,
            });
        }
    }

    /// For history reads; None when persistence is disabled.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }

    pub fn recorder(&self) -> Option<&Addr<Recorder>> {
        self.recorder.as_ref()
    }

    /// The audit trail; None when persistence is disabled.
    pub fn audit(&self) -> Option<&Addr<audit::AuditRecorder>> {
        self.audit.as_ref()
    }

    pub fn report(&self) -> PersistenceReport {
        self.health.report()
    }

    /// Waits (at most `limit`) until every change the recorder has accepted so far is written
    /// (in a cluster: its events, relayed changes and status row). Answers false when the wait
    /// ran out (a database that does not accept writes). The lease keeper calls it before it
    /// releases an instance's lease, after a round trip through the status manager (so that
    /// the changes it pushed are in the recorder's mailbox ahead of this), so that the next
    /// owner numbers on from the last change written. True at once without persistence.
    pub async fn flush(&self, limit: Duration) -> bool {
        let Some(recorder) = &self.recorder else {
            return true;
        };
        matches!(
            tokio::time::timeout(limit, recorder.send(Drain)).await,
            Ok(Ok(()))
        )
    }

    /// Waits (at most `limit`) until every accepted event is written: called at shutdown.
    pub async fn drain(&self, limit: Duration) {
        if let Some(audit) = &self.audit {
            if tokio::time::timeout(limit, audit.send(Drain))
                .await
                .is_err()
            {
                log::warn!("audit: some entries could not be written before shutdown");
            }
        }
        let Some(recorder) = &self.recorder else {
            return;
        };
        if tokio::time::timeout(limit, recorder.send(Drain))
            .await
            .is_err()
        {
            log::warn!(
                "persistence: {} events could not be written before shutdown",
                self.report().pending_events
            );
        }
    }
}
