//! `Recorder`: subscribes to the status manager's changes and gets them written, in batches.
//!
//! It runs on its own arbiter and only ever buffers: the manager `do_send`s to it (never
//! waiting), and it hands one batch at a time to the [`DbWriter`]. Commits are continuous (group
//! commit): a change that arrives while the writer is idle is written at once, and the changes
//! that arrive during a write form the next batch, sent as soon as that write ends. So the
//! history lags by the write under way and what arrived during it (more only when the writer
//! cannot keep up, as `pending_events` shows), which is what a SIGKILL can lose; no waiting
//! interval adds to it. A batch that fails (full disk, read-only file, locked database)
//! is kept and retried with backoff while new events queue behind it, so nothing accepted is lost
//! unless the database stays broken long enough for 200 000 events to pile up (then new events
//! are dropped and counted, rather than exhausting memory). State changes are logged once each.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::oneshot;

use super::{
    health::{PersistenceHealth, Transition},
    recording::{self, HistoryHooks, InstanceTracker, WriteOp},
    writer::{DbWriter, PruneEvents, WriteBatch},
};
use crate::{
    obs::backoff::Backoff,
    status::{model::SceneInfo, StatusBoard, StatusChanged},
};

/// Retries after a failure, and scene syncs owed until the cached status has caught up, wait for
/// this tick; writes do not.
const TICK_INTERVAL: Duration = Duration::from_millis(50);
/// Operations per transaction: big enough to amortise the commit, small enough to hold the
/// write lock briefly.
const MAX_BATCH_OPS: usize = 2_000;
/// Beyond this many unwritten events, new ones are dropped (and counted).
const MAX_PENDING_EVENTS: u64 = 200_000;
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
const PRUNE_CHUNK: i64 = 10_000;

/// Asks the recorder to write the instance's scene list now (`POST /api/sync-scenes/`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SyncScenes {
    pub instance: String,
    pub scenes: Vec<SceneInfo>,
}

/// Answers once everything accepted so far is written (shutdown). The caller bounds the wait:
/// with a broken database it would never come.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

pub struct Recorder {
    writer: Addr<DbWriter>,
    board: StatusBoard,
    health: PersistenceHealth,
    retention: chrono::Duration,
    pending: VecDeque<WriteOp>,
    /// Events accepted and not committed yet: queued, being written or waiting for a retry.
    unwritten_events: u64,
    /// The batch that failed, retried before anything newer.
    failed_batch: Option<Arc<Vec<WriteOp>>>,
    in_flight: bool,
    retry_not_before: Option<Instant>,
    backoff: Backoff,
    /// What each capability writes beyond event rows (registered in `app`).
    hooks: HistoryHooks,
    trackers: HashMap<String, InstanceTracker>,
    drain_waiters: Vec<oneshot::Sender<()>>,
    dropping: bool,
    pruned: usize,
}

impl Recorder {
    pub fn new(
        writer: Addr<DbWriter>,
        board: StatusBoard,
        health: PersistenceHealth,
        retention: Duration,
        hooks: HistoryHooks,
    ) -> Self {
        Self {
            writer,
            board,
            health,
            retention: chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX),
            pending: VecDeque::new(),
            unwritten_events: 0,
            failed_batch: None,
            in_flight: false,
            retry_not_before: None,
            backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
            hooks,
            trackers: HashMap::new(),
            drain_waiters: Vec::new(),
            dropping: false,
            pruned: 0,
        }
    }

    fn accept(&mut self, ops: Vec<WriteOp>, ctx: &mut Context<Self>) {
        for op in ops {
            if op.is_event() {
                if self.unwritten_events >= MAX_PENDING_EVENTS {
                    self.health.update(|report| report.dropped_events += 1);
                    if !self.dropping {
                        self.dropping = true;
                        log::error!(
                            "persistence: {MAX_PENDING_EVENTS} events wait for the database; \
                             new events are dropped until it accepts writes again"
                        );
                    }
                    continue;
                }
                self.unwritten_events += 1;
            }
            // Scene syncs and session changes are few and small: always kept.
            self.pending.push_back(op);
        }
        // Straight to the writer if it is idle; otherwise this joins the next batch.
        self.flush(ctx);
    }

    fn is_idle(&self) -> bool {
        !self.in_flight && self.failed_batch.is_none() && self.pending.is_empty()
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight
            || self
                .retry_not_before
                .is_some_and(|not_before| Instant::now() < not_before)
        {
            return;
        }
        let batch = match self.failed_batch.take() {
            Some(batch) => batch,
            None if self.pending.is_empty() => {
                self.notify_drained();
                return;
            }
            None => {
                let take = self.pending.len().min(MAX_BATCH_OPS);
                Arc::new(self.pending.drain(..take).collect())
            }
        };
        let events = batch.iter().filter(|op| op.is_event()).count() as u64;
        self.in_flight = true;
        ctx.spawn(
            self.writer
                .send(WriteBatch(Arc::clone(&batch)))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.in_flight = false;
                    match result {
                        Ok(Ok(_)) => act.batch_written(events, ctx),
                        Ok(Err(error)) => act.batch_failed(batch, error.to_string()),
                        Err(_) => act.batch_failed(batch, "the database writer stopped".into()),
                    }
                }),
        );
    }

    fn batch_written(&mut self, events: u64, ctx: &mut Context<Self>) {
        self.unwritten_events = self.unwritten_events.saturating_sub(events);
        self.backoff.reset();
        self.retry_not_before = None;
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
        // What arrived during this write goes next, without waiting for a tick.
        if self.pending.is_empty() {
            self.notify_drained();
        } else {
            self.flush(ctx);
        }
    }

    fn batch_failed(&mut self, batch: Arc<Vec<WriteOp>>, error: String) {
        self.failed_batch = Some(batch);
        let delay = self.backoff.next_delay(&mut rand::thread_rng());
        self.retry_not_before = Some(Instant::now() + delay);
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

    fn notify_drained(&mut self) {
        for waiter in self.drain_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let owed: Vec<WriteOp> = {
            let board = &self.board;
            let now = Utc::now();
            self.trackers
                .iter_mut()
                .filter(|(_, tracker)| tracker.owes_writes())
                .flat_map(|(instance, tracker)| {
                    let live = board.current().instance(instance).cloned();
                    tracker.owed_writes(instance, live, now)
                })
                .collect()
        };
        if !owed.is_empty() {
            self.accept(owed, ctx);
        }
        self.flush(ctx);
        let unwritten = self.unwritten_events;
        self.health
            .update(|report| report.pending_events = unwritten);
    }

    fn prune(&mut self, ctx: &mut Context<Self>) {
        let Some(before) = Utc::now().checked_sub_signed(self.retention) else {
            return;
        };
        ctx.spawn(
            self.writer
                .send(PruneEvents {
                    before,
                    chunk: PRUNE_CHUNK,
                })
                .into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(Ok(deleted)) => {
                        act.pruned += deleted;
                        if i64::try_from(deleted).is_ok_and(|n| n >= PRUNE_CHUNK) {
                            act.prune(ctx);
                        } else if act.pruned > 0 {
                            log::info!(
                                "persistence: pruned {} events older than {before}",
                                std::mem::take(&mut act.pruned)
                            );
                        }
                    }
                    Ok(Err(error)) => {
                        act.pruned = 0;
                        act.health.update(|report| report.failed_writes += 1);
                        log::warn!(
                            "persistence: pruning old events failed ({error}); next try in an hour"
                        );
                    }
                    Err(_) => act.pruned = 0,
                }),
        );
    }
}

impl Actor for Recorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(TICK_INTERVAL, |act, ctx| act.tick(ctx));
        self.prune(ctx);
        ctx.run_interval(PRUNE_INTERVAL, |act, ctx| act.prune(ctx));
    }
}

impl Handler<StatusChanged> for Recorder {
    type Result = ();

    fn handle(&mut self, StatusChanged(event): StatusChanged, ctx: &mut Self::Context) {
        if !self.trackers.contains_key(&event.instance) {
            self.trackers
                .insert(event.instance.clone(), InstanceTracker::new(&self.hooks));
        }
        let board = &self.board;
        let Some(tracker) = self.trackers.get_mut(&event.instance) else {
            return;
        };
        let ops = recording::ops_for(&event, tracker, || {
            board.current().instance(&event.instance).cloned()
        });
        self.accept(ops, ctx);
    }
}

impl Handler<SyncScenes> for Recorder {
    type Result = ();

    fn handle(&mut self, message: SyncScenes, ctx: &mut Self::Context) {
        let op = WriteOp::SyncScenes {
            instance: message.instance,
            scenes: message.scenes,
            at: Utc::now(),
        };
        self.accept(vec![op], ctx);
    }
}

impl Handler<Drain> for Recorder {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        let (sender, receiver) = oneshot::channel();
        self.drain_waiters.push(sender);
        if self.is_idle() {
            self.notify_drained();
        } else {
            self.retry_not_before = None;
            self.flush(ctx);
        }
        Box::pin(async move {
            let _ = receiver.await;
        })
    }
}
