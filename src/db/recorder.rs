//! `Recorder`: subscribes to the status manager's changes and gets them written, in batches,
//! through the [`write_behind`](super::write_behind) component.
//!
//! It runs on its own arbiter and only ever buffers: the manager `do_send`s to it (never
//! waiting). The history lags by the write under way and what arrived during it (more only when
//! the writer cannot keep up, as `pending_events` shows), which is what a SIGKILL can lose. A
//! batch that fails (full disk, read-only file, locked database) is retried with backoff while
//! new events queue behind it, so nothing accepted is lost unless the database stays broken
//! long enough for 200 000 events to pile up (then new events are dropped and counted, rather
//! than exhausting memory). State changes are logged once each.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::Utc;

use super::{
    health::{PersistenceHealth, Transition},
    queries::Applied,
    recording::{self, HistoryHooks, InstanceTracker, Relayed, WriteOp},
    write_behind::{Drain, Failed, Persisting, Pruning, Queue, WriteBehind, Writer},
    writer::HistoryStore,
    DbError,
};
use crate::status::{StatusBoard, StatusChanged};

/// Operations per transaction: big enough to amortise the commit, small enough to hold the
/// write lock briefly.
const MAX_BATCH_OPS: usize = 2_000;
/// Beyond this many unwritten events, new ones are dropped (and counted).
const MAX_PENDING_EVENTS: u64 = 200_000;
/// Changes refused by their lease's fence are logged at most this often.
const FENCE_WARNING_INTERVAL: Duration = Duration::from_secs(60);

pub struct Recorder {
    writer: Addr<Writer<HistoryStore>>,
    health: PersistenceHealth,
    retention: chrono::Duration,
    queue: Queue<WriteOp>,
    /// Events accepted and not committed yet: queued, being written or waiting for a retry.
    unwritten_events: u64,
    /// What each capability writes beyond event rows (registered in `app`).
    hooks: HistoryHooks,
    trackers: HashMap<String, InstanceTracker>,
    dropping: bool,
    /// In a cluster: this node's id and its board (stamped changes are relayed with the
    /// instance's status). None alone.
    relay: Option<(Arc<str>, StatusBoard)>,
    /// When changes refused by their lease's fence were last logged.
    fence_warned: Option<Instant>,
}

/// In a cluster: relay this node's stamped changes, as node `node`, with the statuses of
/// `board` (sent by `app` before the recorder is subscribed to the status manager).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RelayAs {
    pub node: String,
    pub board: StatusBoard,
}

impl Recorder {
    pub fn new(
        writer: Addr<Writer<HistoryStore>>,
        health: PersistenceHealth,
        retention: Duration,
        hooks: HistoryHooks,
    ) -> Self {
        Self {
            writer,
            health,
            retention: chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX),
            queue: Queue::new(MAX_BATCH_OPS),
            unwritten_events: 0,
            hooks,
            trackers: HashMap::new(),
            dropping: false,
            relay: None,
            fence_warned: None,
        }
    }

    fn accept(&mut self, mut ops: Vec<WriteOp>, ctx: &mut Context<Self>) {
        ops.retain(|op| {
            // Scene syncs and session changes are few and small: always kept.
            if !op.is_event() {
                return true;
            }
            if self.unwritten_events >= MAX_PENDING_EVENTS {
                self.health.update(|report| report.dropped_events += 1);
                if !self.dropping {
                    self.dropping = true;
                    log::error!(
                        "persistence: {MAX_PENDING_EVENTS} events wait for the database; new \
                         events are dropped until it accepts writes again"
                    );
                }
                return false;
            }
            self.unwritten_events += 1;
            true
        });
        self.queue.push(ops);
        let unwritten = self.unwritten_events;
        self.health
            .update(|report| report.pending_events = unwritten);
        // Straight to the writer if it is idle; otherwise this joins the next batch.
        self.flush(ctx);
    }
}

impl Persisting for Recorder {
    type Store = HistoryStore;

    fn writer(&self) -> &Addr<Writer<HistoryStore>> {
        &self.writer
    }
}

impl WriteBehind<WriteOp> for Recorder {
    type Written = Applied;
    type Error = DbError;

    fn queue(&mut self) -> &mut Queue<WriteOp> {
        &mut self.queue
    }

    fn write(store: &mut HistoryStore, batch: &[WriteOp]) -> Result<Applied, DbError> {
        store.write_batch(batch)
    }

    fn written(&mut self, batch: Vec<WriteOp>, applied: Applied, _: &mut Context<Self>) {
        if applied.fenced_off > 0 {
            crate::metrics::metrics()
                .cluster_fenced_changes
                .inc_by(applied.fenced_off as u64);
            // Once a minute at most: until the keeper learns it lost the lease, every poll
            // makes a change that is refused.
            if self
                .fence_warned
                .is_none_or(|at| at.elapsed() >= FENCE_WARNING_INTERVAL)
            {
                self.fence_warned = Some(Instant::now());
                log::warn!(
                    "cluster: {} changes dropped: this node no longer holds their instance's \
                     lease (another node owns it now)",
                    applied.fenced_off
                );
            }
        }
        let events = batch.iter().filter(|op| op.is_event()).count() as u64;
        self.unwritten_events = self.unwritten_events.saturating_sub(events);
        self.dropping = false;
        let unwritten = self.unwritten_events;
        let transition = self.health.update(|report| {
            report.pending_events = unwritten;
            report.batch_written(events)
        });
        if transition == Some(Transition::Recovered) {
            log::info!(
                "persistence: the database accepts writes again ({unwritten} events to catch up)"
            );
        }
    }

    fn failed(&mut self, error: Option<&DbError>, _: Failed) {
        let error = error.map_or_else(
            || "the database writer stopped".to_string(),
            ToString::to_string,
        );
        let unwritten = self.unwritten_events;
        let transition = self.health.update(|report| {
            report.pending_events = unwritten;
            report.write_failed(error, Utc::now())
        });
        match transition {
            Some(Transition::Degraded(error)) => log::warn!(
                "persistence degraded: writing to the database failed ({error}); live status is \
                 not affected, {unwritten} events kept in memory and retried"
            ),
            Some(Transition::ErrorChanged(error)) => {
                log::warn!("persistence still degraded, now: {error}")
            }
            _ => {}
        }
    }
}

impl Pruning for Recorder {
    type Error = DbError;

    fn prune_before(&self) -> Option<chrono::DateTime<Utc>> {
        Utc::now().checked_sub_signed(self.retention)
    }

    fn prune_chunk(
        store: &mut HistoryStore,
        before: chrono::DateTime<Utc>,
        chunk: i64,
    ) -> Result<usize, DbError> {
        store.prune(before, chunk)
    }

    fn pruned(&mut self, before: chrono::DateTime<Utc>, result: Result<usize, Option<DbError>>) {
        match result {
            Ok(0) | Err(None) => {}
            Ok(deleted) => {
                log::info!("persistence: pruned {deleted} events older than {before}")
            }
            Err(Some(error)) => {
                self.health.update(|report| report.failed_writes += 1);
                log::warn!("persistence: pruning old events failed ({error}); next try in an hour");
            }
        }
    }
}

impl Actor for Recorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.start_pruning(ctx);
    }
}

impl Handler<StatusChanged> for Recorder {
    type Result = ();

    fn handle(&mut self, StatusChanged(event): StatusChanged, ctx: &mut Self::Context) {
        let stamp = event.cluster;
        // Relayed from its owner, which has written it (history, sessions, scenes) already.
        if stamp.is_some_and(|stamp| stamp.mirrored) {
            return;
        }
        let hooks = &self.hooks;
        let tracker = self
            .trackers
            .entry(event.instance.clone())
            .or_insert_with(|| InstanceTracker::new(hooks));
        let mut ops = recording::ops_for(&event, tracker);
        if let (Some(_), Some((node, board))) = (stamp, &self.relay) {
            let status = board.current().instance(&event.instance).cloned();
            ops = recording::relay_ops(
                ops,
                Relayed {
                    event,
                    status,
                    node: Arc::clone(node),
                },
            );
        }
        self.accept(ops, ctx);
    }
}

impl Handler<RelayAs> for Recorder {
    type Result = ();

    fn handle(&mut self, relay: RelayAs, _: &mut Self::Context) {
        self.relay = Some((Arc::from(relay.node), relay.board));
    }
}

impl Handler<Drain> for Recorder {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        let drained = self.drain(ctx);
        Box::pin(async move {
            let _ = drained.await;
        })
    }
}
