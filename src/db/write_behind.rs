//! The one write-behind pattern of the hub: what the history recorder and the webhook outbox
//! (and the audit trail) share to get rows written without ever making their callers wait.
//!
//! - [`Queue`]: plain data, unit-tested without actors. Items wait in order; one batch at a time
//!   is under way; a batch that fails goes back to the front and is retried after a backoff;
//!   waiters for "everything written" (shutdown) are answered once the queue is idle.
//! - [`Writer`]: a thread of its own (a `SyncArbiter`) that owns the database side (the pool
//!   and whatever it remembers between writes) and runs one job at a time, so SQLite's blocking
//!   calls never run on an async thread.
//! - [`WriteBehind`] and [`Pruning`]: the thin actor shell. An actor that owns a `Queue` says how
//!   a batch is written and what to do once it is written (or failed); the provided methods send
//!   batches, schedule retries and prune old rows on a schedule.
//!
//! Commits are continuous (group commit): items pushed while the writer is idle are written at
//! once, and the items that arrive during a write form the next batch, sent as soon as that
//! write ends. No waiting interval adds to the lag.

use std::{
    collections::VecDeque,
    fmt::Display,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::oneshot;

use crate::backoff::Backoff;

/// The first retry of a failed batch waits about this long; each failure doubles it...
pub const RETRY_MIN: Duration = Duration::from_millis(100);
/// ...up to this.
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// How often old rows are pruned (and once at start).
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Rows deleted per pruning transaction: the write lock is held briefly, and pruning goes on
/// chunk after chunk while chunks come back full.
pub const PRUNE_CHUNK: i64 = 10_000;

/// Items waiting to be written, the batch under way, and when a failed batch may be retried.
pub struct Queue<T> {
    pending: VecDeque<T>,
    max_batch: usize,
    in_flight: bool,
    retry_at: Option<Instant>,
    backoff: Backoff,
    failing: bool,
    drain_waiters: Vec<oneshot::Sender<()>>,
}

/// What a failed batch means for the caller's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed {
    /// The first failure after a success (worth a warning; later ones are not).
    pub first: bool,
    /// When the batch is tried again.
    pub retry_in: Duration,
}

impl<T> Queue<T> {
    /// `max_batch`: items per transaction at most (big enough to amortise the commit, small
    /// enough to hold the write lock briefly).
    pub fn new(max_batch: usize) -> Self {
        Self {
            pending: VecDeque::new(),
            max_batch: max_batch.max(1),
            in_flight: false,
            retry_at: None,
            backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
            failing: false,
            drain_waiters: Vec::new(),
        }
    }

    pub fn push(&mut self, items: impl IntoIterator<Item = T>) {
        self.pending.extend(items);
    }

    /// Items waiting (not counting a batch under way).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Nothing waits and nothing is under way.
    pub fn is_idle(&self) -> bool {
        !self.in_flight && self.pending.is_empty()
    }

    /// Whether the last write failed (and no write has succeeded since).
    pub fn is_failing(&self) -> bool {
        self.failing
    }

    /// Keeps only the waiting items `keep` wants (e.g. those of an endpoint still enabled).
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.pending.retain(keep);
    }

    /// The next batch to write, if one may go now: none while one is under way, while a failed
    /// one waits for its retry time, or when nothing waits. The batch counts as under way until
    /// [`Queue::written`] or [`Queue::failed`].
    pub fn next_batch(&mut self, now: Instant) -> Option<Vec<T>> {
        if self.in_flight || self.retry_at.is_some_and(|at| now < at) || self.pending.is_empty() {
            return None;
        }
        let take = self.pending.len().min(self.max_batch);
        self.in_flight = true;
        Some(self.pending.drain(..take).collect())
    }

    /// The batch under way was written. Answers whether this ends a run of failures.
    pub fn written(&mut self) -> bool {
        self.in_flight = false;
        self.retry_at = None;
        self.backoff.reset();
        std::mem::replace(&mut self.failing, false)
    }

    /// The batch under way failed: it goes back in front of what arrived meanwhile (order is
    /// kept) and waits for its retry time.
    pub fn failed(&mut self, batch: Vec<T>, now: Instant, rng: &mut impl Rng) -> Failed {
        self.in_flight = false;
        for item in batch.into_iter().rev() {
            self.pending.push_front(item);
        }
        let retry_in = self.backoff.next_delay(rng);
        self.retry_at = Some(now + retry_in);
        Failed {
            first: !std::mem::replace(&mut self.failing, true),
            retry_in,
        }
    }

    /// Drops the wait before the next retry (shutdown tries once more at once).
    pub fn retry_now(&mut self) {
        self.retry_at = None;
    }

    /// Resolves once the queue is idle (at once if it is). With a database that stays broken
    /// it never resolves: the caller bounds the wait.
    pub fn drained(&mut self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        self.drain_waiters.push(sender);
        self.answer_drain_waiters();
        receiver
    }

    /// Answers the drain waiters if the queue is idle.
    pub fn answer_drain_waiters(&mut self) {
        if self.is_idle() {
            for waiter in self.drain_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }
}

/// The thread that owns a write-behind's database side (`S`: the pool, and what it remembers
/// between writes) and runs one [`Run`] job at a time on it.
pub struct Writer<S: Unpin + 'static>(S);

impl<S: Clone + Send + Sync + Unpin + 'static> Writer<S> {
    /// One thread: SQLite takes one writer at a time anyway.
    pub fn start(store: S) -> Addr<Self> {
        SyncArbiter::start(1, move || Writer(store.clone()))
    }
}

impl<S: Unpin + 'static> Actor for Writer<S> {
    type Context = SyncContext<Self>;
}

/// A job for a [`Writer`]: runs on its thread with its store, answers `R`.
pub struct Run<S, R>(Box<dyn FnOnce(&mut S) -> R + Send>);

impl<S, R> Run<S, R> {
    pub fn new(job: impl FnOnce(&mut S) -> R + Send + 'static) -> Self {
        Self(Box::new(job))
    }
}

impl<S: 'static, R: 'static> Message for Run<S, R> {
    type Result = R;
}

impl<S: Unpin + 'static, R: Send + 'static> Handler<Run<S, R>> for Writer<S> {
    type Result = MessageResult<Run<S, R>>;

    fn handle(&mut self, Run(job): Run<S, R>, _: &mut Self::Context) -> Self::Result {
        MessageResult(job(&mut self.0))
    }
}

/// Answers once everything accepted so far is written (shutdown). The caller bounds the wait:
/// with a broken database it would never come.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// An actor with a [`Writer`] for its database side.
pub trait Persisting: Actor<Context = Context<Self>> {
    type Store: Unpin + Send + 'static;

    fn writer(&self) -> &Addr<Writer<Self::Store>>;
}

/// An actor that writes `T`s behind its own back: it pushes them to its [`Queue`] and calls
/// [`WriteBehind::flush`]; batches go to its writer one at a time, failures are retried with
/// backoff. An actor may write several kinds of item, each with its own queue.
pub trait WriteBehind<T>: Persisting
where
    T: Clone + Send + Sync + 'static,
{
    /// What a written batch answers (a count, rows refused...).
    type Written: Send + 'static;
    type Error: Display + Send + 'static;

    fn queue(&mut self) -> &mut Queue<T>;

    /// Writes one batch, on the writer's thread.
    fn write(store: &mut Self::Store, batch: &[T]) -> Result<Self::Written, Self::Error>;

    /// Called just before a batch is taken (to drop items no longer wanted).
    fn before_batch(&mut self) {}

    /// The batch was written.
    fn written(&mut self, batch: Vec<T>, written: Self::Written, ctx: &mut Context<Self>);

    /// A batch was written after a run of failures (called before [`WriteBehind::written`]).
    fn recovered(&mut self) {}

    /// The batch failed (it is back in the queue, retried after `failed.retry_in`). `error` is
    /// None when the writer thread stopped.
    fn failed(&mut self, error: Option<&Self::Error>, failed: Failed);

    /// Sends the next batch if one may go now; after it ends, the next one follows at once.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        self.before_batch();
        let Some(batch) = self.queue().next_batch(Instant::now()) else {
            self.queue().answer_drain_waiters();
            return;
        };
        let batch = Arc::new(batch);
        let shared = Arc::clone(&batch);
        let job = Run::new(move |store: &mut Self::Store| Self::write(store, &shared));
        ctx.spawn(
            self.writer()
                .send(job)
                .into_actor(self)
                .map(move |result, act, ctx| {
                    let batch = Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
                    match result {
                        Ok(Ok(written)) => {
                            if act.queue().written() {
                                act.recovered();
                            }
                            act.written(batch, written, ctx);
                        }
                        Ok(Err(error)) => {
                            let failed =
                                act.queue()
                                    .failed(batch, Instant::now(), &mut rand::thread_rng());
                            act.failed(Some(&error), failed);
                            ctx.run_later(failed.retry_in, |act, ctx| act.flush(ctx));
                        }
                        Err(_) => {
                            let failed =
                                act.queue()
                                    .failed(batch, Instant::now(), &mut rand::thread_rng());
                            act.failed(None, failed);
                            ctx.run_later(failed.retry_in, |act, ctx| act.flush(ctx));
                        }
                    }
                    act.flush(ctx);
                }),
        );
    }

    /// Resolves once everything pushed so far is written; a batch waiting for its retry is
    /// tried at once (shutdown).
    fn drain(&mut self, ctx: &mut Context<Self>) -> oneshot::Receiver<()> {
        let drained = self.queue().drained();
        self.queue().retry_now();
        self.flush(ctx);
        drained
    }
}

/// An actor whose old rows are deleted on a schedule, a chunk per transaction.
pub trait Pruning: Persisting {
    type Error: Display + Send + 'static;

    /// Rows older than this go (None: keep everything).
    fn prune_before(&self) -> Option<DateTime<Utc>>;

    /// Deletes up to `chunk` rows older than `before`, on the writer's thread; answers how many.
    fn prune_chunk(
        store: &mut Self::Store,
        before: DateTime<Utc>,
        chunk: i64,
    ) -> Result<usize, Self::Error>;

    /// Pruning ended: `Ok(rows deleted)` or the error that stopped it (tried again next time).
    fn pruned(&mut self, before: DateTime<Utc>, result: Result<usize, Option<Self::Error>>);

    /// Prunes now and every [`PRUNE_INTERVAL`] (call from `started`).
    fn start_pruning(&mut self, ctx: &mut Context<Self>) {
        self.prune(ctx);
        ctx.run_interval(PRUNE_INTERVAL, |act, ctx| act.prune(ctx));
    }

    fn prune(&mut self, ctx: &mut Context<Self>) {
        if let Some(before) = self.prune_before() {
            prune_from(self, ctx, before, 0);
        }
    }
}

/// One chunk, then the next while chunks come back full.
fn prune_from<A: Pruning>(act: &mut A, ctx: &mut Context<A>, before: DateTime<Utc>, total: usize) {
    let job = Run::new(move |store: &mut A::Store| A::prune_chunk(store, before, PRUNE_CHUNK));
    ctx.spawn(
        act.writer()
            .send(job)
            .into_actor(act)
            .map(move |result, act, ctx| match result {
                Ok(Ok(deleted)) if is_full_chunk(deleted) => {
                    prune_from(act, ctx, before, total + deleted)
                }
                Ok(Ok(deleted)) => act.pruned(before, Ok(total + deleted)),
                Ok(Err(error)) => act.pruned(before, Err(Some(error))),
                Err(_) => act.pruned(before, Err(None)),
            }),
    );
}

fn is_full_chunk(deleted: usize) -> bool {
    i64::try_from(deleted).is_ok_and(|n| n >= PRUNE_CHUNK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn rng() -> StdRng {
        StdRng::seed_from_u64(3)
    }

    #[test]
    fn batches_go_one_at_a_time_in_order_and_bounded() {
        let now = Instant::now();
        let mut queue = Queue::new(2);
        queue.push([1, 2, 3]);
        assert_eq!(queue.next_batch(now), Some(vec![1, 2]));
        // Under way: what arrives meanwhile waits for the next batch.
        queue.push([4]);
        assert_eq!(queue.next_batch(now), None);
        assert!(!queue.written(), "no failure to end");
        assert_eq!(queue.next_batch(now), Some(vec![3, 4]));
        queue.written();
        assert!(queue.is_idle());
        assert_eq!(queue.next_batch(now), None);
    }

    #[test]
    fn a_failed_batch_goes_back_in_front_and_waits_for_its_backoff() {
        let now = Instant::now();
        let mut queue = Queue::new(10);
        let mut rng = rng();
        queue.push(["a", "b"]);
        let batch = queue.next_batch(now).expect("a batch");
        queue.push(["c"]);
        let failed = queue.failed(batch, now, &mut rng);
        assert!(failed.first);
        assert!(failed.retry_in >= RETRY_MIN / 2 && failed.retry_in <= RETRY_MIN);
        assert_eq!(queue.next_batch(now), None, "not before its retry time");
        let batch = queue
            .next_batch(now + failed.retry_in)
            .expect("retried once due");
        assert_eq!(batch, ["a", "b", "c"], "order kept");
        let again = queue.failed(batch, now, &mut rng);
        assert!(!again.first, "one warning per run of failures");
        assert!(again.retry_in > failed.retry_in / 2, "the backoff grows");
        queue.retry_now();
        let batch = queue.next_batch(now).expect("retry_now lifts the wait");
        assert_eq!(batch.len(), 3);
        assert!(queue.written(), "a success ends the run of failures");
        assert!(!queue.is_failing());
    }

    #[test]
    fn drain_waiters_are_answered_once_nothing_waits_or_is_under_way() {
        let now = Instant::now();
        let mut queue = Queue::new(10);
        let mut idle = queue.drained();
        assert!(idle.try_recv().is_ok(), "an idle queue is drained at once");
        queue.push([1]);
        let mut waiting = queue.drained();
        let batch = queue.next_batch(now).expect("a batch");
        queue.answer_drain_waiters();
        assert!(waiting.try_recv().is_err(), "the batch is under way");
        queue.failed(batch, now, &mut rng());
        queue.answer_drain_waiters();
        assert!(waiting.try_recv().is_err(), "a failed batch is not written");
        queue.retry_now();
        queue.next_batch(now).expect("retried");
        queue.written();
        queue.answer_drain_waiters();
        assert!(waiting.try_recv().is_ok());
    }

    #[test]
    fn retain_drops_only_waiting_items() {
        let mut queue = Queue::new(1);
        queue.push([1, 2, 3, 4]);
        let under_way = queue.next_batch(Instant::now()).expect("a batch");
        queue.retain(|n| n % 2 == 0);
        assert_eq!(under_way, [1]);
        assert_eq!(queue.len(), 2);
    }

    /// The database side of the shell tests: fails the first `failures` writes, keeps what it
    /// is given, and holds `rows` old rows to prune.
    #[derive(Clone, Default)]
    struct Table(Arc<std::sync::Mutex<TableState>>);

    #[derive(Default)]
    struct TableState {
        failures: usize,
        written: Vec<u32>,
        rows: usize,
    }

    impl Table {
        fn with<R>(&self, f: impl FnOnce(&mut TableState) -> R) -> R {
            f(&mut self.0.lock().expect("not poisoned"))
        }
    }

    struct Shell {
        writer: Addr<Writer<Table>>,
        queue: Queue<u32>,
        first_failures: usize,
        pruned: Option<oneshot::Sender<usize>>,
    }

    impl Actor for Shell {
        type Context = Context<Self>;
    }

    impl Persisting for Shell {
        type Store = Table;

        fn writer(&self) -> &Addr<Writer<Table>> {
            &self.writer
        }
    }

    impl WriteBehind<u32> for Shell {
        type Written = ();
        type Error = String;

        fn queue(&mut self) -> &mut Queue<u32> {
            &mut self.queue
        }

        fn write(store: &mut Table, batch: &[u32]) -> Result<(), String> {
            store.with(|table| {
                if table.failures > 0 {
                    table.failures -= 1;
                    return Err("disk full".into());
                }
                table.written.extend_from_slice(batch);
                Ok(())
            })
        }

        fn written(&mut self, _: Vec<u32>, _: (), _: &mut Context<Self>) {}

        fn failed(&mut self, _: Option<&String>, failed: Failed) {
            self.first_failures += usize::from(failed.first);
        }
    }

    impl Pruning for Shell {
        type Error = String;

        fn prune_before(&self) -> Option<DateTime<Utc>> {
            Some(Utc::now())
        }

        fn prune_chunk(store: &mut Table, _: DateTime<Utc>, chunk: i64) -> Result<usize, String> {
            Ok(store.with(|table| {
                let deleted = table.rows.min(chunk as usize);
                table.rows -= deleted;
                deleted
            }))
        }

        fn pruned(&mut self, _: DateTime<Utc>, result: Result<usize, Option<String>>) {
            if let (Some(sender), Ok(deleted)) = (self.pruned.take(), result) {
                let _ = sender.send(deleted);
            }
        }
    }

    struct Push(Vec<u32>);

    impl Message for Push {
        type Result = ();
    }

    impl Handler<Push> for Shell {
        type Result = ();

        fn handle(&mut self, Push(items): Push, ctx: &mut Context<Self>) {
            self.queue.push(items);
            self.flush(ctx);
        }
    }

    impl Handler<Drain> for Shell {
        type Result = ResponseFuture<()>;

        fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
            let drained = self.drain(ctx);
            Box::pin(async move {
                let _ = drained.await;
            })
        }
    }

    struct FirstFailures;

    impl Message for FirstFailures {
        type Result = usize;
    }

    impl Handler<FirstFailures> for Shell {
        type Result = usize;

        fn handle(&mut self, _: FirstFailures, _: &mut Context<Self>) -> usize {
            self.first_failures
        }
    }

    #[actix_web::test]
    async fn what_was_pushed_is_written_in_order_through_failures_before_drain_answers() {
        let table = Table::default();
        table.with(|state| state.failures = 3);
        let shell = Shell {
            writer: Writer::start(table.clone()),
            queue: Queue::new(4),
            first_failures: 0,
            pruned: None,
        }
        .start();
        for chunk in (0..20).collect::<Vec<u32>>().chunks(3) {
            shell.do_send(Push(chunk.to_vec()));
        }
        shell.send(Drain).await.expect("drained");
        assert_eq!(
            table.with(|state| state.written.clone()),
            (0..20).collect::<Vec<_>>()
        );
        assert_eq!(
            shell.send(FirstFailures).await.expect("asked"),
            1,
            "one warning"
        );
    }

    #[actix_web::test]
    async fn pruning_goes_on_chunk_after_chunk_while_chunks_come_back_full() {
        let table = Table::default();
        let rows = 2 * PRUNE_CHUNK as usize + 5;
        table.with(|state| state.rows = rows);
        let (sender, pruned) = oneshot::channel();
        let writer = Writer::start(table.clone());
        Shell::create(move |ctx| {
            let mut shell = Shell {
                writer,
                queue: Queue::new(1),
                first_failures: 0,
                pruned: Some(sender),
            };
            shell.start_pruning(ctx);
            shell
        });
        assert_eq!(pruned.await.expect("pruned"), rows);
        assert_eq!(table.with(|state| state.rows), 0);
    }
}
