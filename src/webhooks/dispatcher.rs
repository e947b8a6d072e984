//! `WebhookDispatcher`: turns status changes into stored deliveries and sends them, signed.
//!
//! It runs on an arbiter (thread) of its own, apart from the status manager and the HTTP
//! workers, and never blocks: database work goes to the [`StoreWriter`] thread, HTTP requests
//! are futures on this thread. The order of things for one change:
//!
//! 1. a `StatusChanged` arrives; one delivery per matching enabled endpoint is buffered;
//! 2. the buffer is stored in one transaction: at once when the writer is idle, else as soon
//!    as the current batch is committed (so a burst becomes a few large transactions);
//! 3. only then do deliveries enter the [`Outbox`] and get their first attempt;
//! 4. every attempt's outcome is recorded (batched the same way) and the delivery is retried,
//!    finished, or given up, per [`outbox::plan`].
//!
//! A hub that dies anywhere after step 2 resends the pending deliveries at its next start,
//! under the same `webhook-id`: at least once, deduplicated by receivers.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use awc::http::header;
use chrono::Utc;
use tokio::sync::oneshot;

use super::{
    connector::CheckedConnector,
    destination::{is_local_address, DestinationPolicy},
    endpoint::{self, DeclaredEndpoint, Endpoint, EndpointPatch, EndpointSource, NewEndpoint},
    events::{self, EventType},
    outbox::{self, AttemptResult, DeliveryStatus, Outbox, PendingDelivery, Plan},
    schedule::parse_retry_after,
    signing,
    store::{AttemptOutcome, NewDelivery, Restarted},
    writer::{self, StoreError, StoreWriter},
};
/// How deliveries are made (a setting, so it lives with the settings).
pub use crate::config::webhooks::DeliverySettings;
use crate::{backoff::Backoff, status::StatusChanged};

/// How often due retries are started and buffered outcomes written.
const TICK: Duration = Duration::from_millis(50);
/// Deliveries per insert transaction at most.
const MAX_INSERT_BATCH: usize = 5_000;
/// Outcomes per transaction at most.
const MAX_OUTCOME_BATCH: usize = 5_000;
/// Finished deliveries are kept this long in the delivery log.
const DELIVERY_RETENTION: chrono::Duration = chrono::Duration::days(30);
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
const PRUNE_CHUNK: i64 = 10_000;
/// Response bytes read at most (so the connection can be reused; never kept); more is not
/// waited for.
const RESPONSE_READ_LIMIT: usize = 64 * 1024;

/// Failures of webhook API requests.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The URL points where the destination policy does not let webhooks go.
    #[error("{0}")]
    DestinationRefused(String),
    /// As many endpoints as the configuration allows exist already.
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<MailboxError> for WebhookError {
    fn from(_: MailboxError) -> Self {
        Self::Store(StoreError::Stopped)
    }
}

type WebhookResult<T> = Result<T, WebhookError>;

/// All endpoints, in creation order.
#[derive(Message)]
#[rtype(result = "Vec<Endpoint>")]
pub struct ListEndpoints;

#[derive(Message)]
#[rtype(result = "WebhookResult<Endpoint>")]
pub struct GetEndpoint(pub String);

#[derive(Message)]
#[rtype(result = "WebhookResult<Endpoint>")]
pub struct AddEndpoint(pub NewEndpoint);

#[derive(Message)]
#[rtype(result = "WebhookResult<Endpoint>")]
pub struct UpdateEndpoint {
    pub id: String,
    pub patch: EndpointPatch,
}

#[derive(Message)]
#[rtype(result = "WebhookResult<()>")]
pub struct RemoveEndpoint(pub String);

/// Sends a delivery again now (a new round of the schedule); answers its endpoint's id.
#[derive(Message)]
#[rtype(result = "WebhookResult<String>")]
pub struct Redeliver(pub String);

/// Stores and sends a `webhook.test` message to an endpoint; answers the message id.
#[derive(Message)]
#[rtype(result = "WebhookResult<String>")]
pub struct SendTest(pub String);

/// Counters since start (tests, the benchmark).
#[derive(Message)]
#[rtype(result = "DispatchStats")]
pub struct GetStats;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchStats {
    /// Deliveries stored since start.
    pub stored: u64,
    pub attempts: u64,
    pub delivered: u64,
    pub retries: u64,
    pub failed: u64,
    /// Buffered, waiting or under way now.
    pub outbox_depth: u64,
}

/// Answers once every buffered delivery and outcome is written (shutdown). The caller bounds
/// the wait: with a broken database it would never come.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// An endpoint with its key decoded once.
struct Entry {
    endpoint: Endpoint,
    key: Option<Arc<[u8]>>,
}

pub struct WebhookDispatcher {
    store: Addr<StoreWriter>,
    /// For declared endpoints (config file, callback base URL): the operator's own word.
    client: awc::Client,
    /// For endpoints created through the API: every connection checked by `policy`.
    checked_client: awc::Client,
    policy: Arc<DestinationPolicy>,
    settings: DeliverySettings,
    declared: Vec<DeclaredEndpoint>,
    endpoints: HashMap<Arc<str>, Entry>,
    outbox: Outbox,
    /// Accepted, not stored yet (first in first out).
    incoming: Vec<NewDelivery>,
    inserting: bool,
    /// Attempts made, not recorded yet.
    outcomes: Vec<AttemptOutcome>,
    /// Attempts under way, by delivery id: cancelled when their endpoint is deleted.
    under_way: HashMap<Arc<str>, SpawnHandle>,
    recording: bool,
    store_backoff: Backoff,
    store_retry_at: Option<Instant>,
    store_failing: bool,
    stats: DispatchStats,
    drain_waiters: Vec<oneshot::Sender<()>>,
}

impl WebhookDispatcher {
    /// Starts the store writer thread and, on an arbiter of its own, the dispatcher, which
    /// brings the declared endpoints in line, loads the pending deliveries and resumes them.
    /// Must run inside an actix `System`. Subscribe it to the status manager to feed it, or
    /// send it `StatusChanged` messages directly (the benchmark does).
    /// `listening`: where the hub's HTTP server listens (API endpoints may not point there).
    pub fn start(
        pool: writer::Pool,
        declared: Vec<DeclaredEndpoint>,
        settings: DeliverySettings,
        listening: Option<SocketAddr>,
    ) -> Addr<Self> {
        let store = SyncArbiter::start(1, move || StoreWriter::new(pool.clone()));
        let policy = Arc::new(DestinationPolicy::new(settings.destinations, listening));
        Self::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            Self::new(store, declared, settings, policy)
        })
    }

    /// Must be called on the thread the actor will run on (awc clients are per thread).
    fn new(
        store: Addr<StoreWriter>,
        declared: Vec<DeclaredEndpoint>,
        settings: DeliverySettings,
        policy: Arc<DestinationPolicy>,
    ) -> Self {
        let builder = || {
            awc::Client::builder()
                .timeout(settings.timeout)
                .disable_redirects()
                .add_default_header((
                    header::USER_AGENT,
                    concat!("obs-hub/", env!("CARGO_PKG_VERSION")),
                ))
        };
        // Per-endpoint limits bound the connections; the connector's own pool limit would let a
        // few slow endpoints hold every connection.
        let trusted = awc::Connector::new().timeout(settings.timeout).limit(0);
        let checked = awc::Connector::new()
            .connector(CheckedConnector::new(Arc::clone(&policy)))
            .timeout(settings.timeout)
            .limit(0);
        Self {
            store,
            client: builder().connector(trusted).finish(),
            checked_client: builder().connector(checked).finish(),
            policy,
            outbox: Outbox::new(settings.concurrency),
            settings,
            declared,
            endpoints: HashMap::new(),
            incoming: Vec::new(),
            inserting: false,
            outcomes: Vec::new(),
            under_way: HashMap::new(),
            recording: false,
            store_backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            store_retry_at: None,
            store_failing: false,
            stats: DispatchStats::default(),
            drain_waiters: Vec::new(),
        }
    }

    fn load(&mut self, ctx: &mut Context<Self>) {
        let declared = self.declared.clone();
        // `wait`: nothing else (changes, API requests) is handled before the state is loaded.
        ctx.wait(
            self.store
                .send(writer::Load { declared })
                .into_actor(self)
                .map(
                    |result, act, ctx| match result.map_err(StoreError::from).and_then(|r| r) {
                        Ok((endpoints, pending)) => {
                            for endpoint in endpoints {
                                act.remember(endpoint);
                            }
                            let enabled = act
                                .endpoints
                                .values()
                                .filter(|e| e.endpoint.enabled)
                                .count();
                            if enabled > 0 {
                                log::info!("webhooks: {enabled} endpoints enabled");
                            }
                            let resumed = pending.len();
                            for delivery in pending {
                                act.outbox.push(delivery);
                            }
                            if resumed > 0 {
                                log::info!("webhooks: resuming {resumed} pending deliveries");
                            }
                            act.start_due(ctx);
                        }
                        Err(error) => {
                            log::error!(
                                "webhooks: cannot load endpoints ({error}); retrying in 1 s"
                            );
                            ctx.wait(actix::clock::sleep(Duration::from_secs(1)).into_actor(act));
                            act.load(ctx);
                        }
                    },
                ),
        );
    }

    fn remember(&mut self, endpoint: Endpoint) {
        let key = match &endpoint.secret {
            None => None,
            Some(secret) => match signing::key_bytes(secret) {
                Ok(key) => Some(Arc::from(key)),
                Err(_) => {
                    log::error!(
                        "webhooks: endpoint {} has a malformed secret; it is skipped until fixed",
                        endpoint.id
                    );
                    return;
                }
            },
        };
        if !endpoint.enabled {
            self.outbox.drop_endpoint(&endpoint.id);
        }
        self.endpoints
            .insert(endpoint.id.as_str().into(), Entry { endpoint, key });
    }

    fn is_active(&self, endpoint_id: &str) -> bool {
        self.endpoints
            .get(endpoint_id)
            .is_some_and(|entry| entry.endpoint.enabled)
    }

    fn accept(
        &mut self,
        deliveries: impl IntoIterator<Item = NewDelivery>,
        ctx: &mut Context<Self>,
    ) {
        self.incoming.extend(deliveries);
        self.flush_incoming(ctx);
        self.publish_depth();
    }

    fn store_may_write(&self) -> bool {
        self.store_retry_at.is_none_or(|at| Instant::now() >= at)
    }

    fn store_failed(&mut self, what: &str, error: &StoreError) {
        let delay = self.store_backoff.next_delay(&mut rand::thread_rng());
        self.store_retry_at = Some(Instant::now() + delay);
        if !self.store_failing {
            self.store_failing = true;
            log::warn!(
                "webhooks: {what} failed ({error}); kept in memory and retried, deliveries \
                 wait until the database accepts writes"
            );
        }
    }

    fn store_succeeded(&mut self) {
        self.store_backoff.reset();
        self.store_retry_at = None;
        if self.store_failing {
            self.store_failing = false;
            log::info!("webhooks: the database accepts writes again");
        }
    }

    fn flush_incoming(&mut self, ctx: &mut Context<Self>) {
        if self.inserting || self.incoming.is_empty() || !self.store_may_write() {
            return;
        }
        // An endpoint disabled or deleted since these were accepted has had its pending
        // deliveries ended in the store: storing these now would leave them pending behind it.
        let endpoints = &self.endpoints;
        self.incoming.retain(|delivery| {
            endpoints
                .get(&delivery.endpoint_id)
                .is_some_and(|entry| entry.endpoint.enabled)
        });
        if self.incoming.is_empty() {
            return;
        }
        let take = self.incoming.len().min(MAX_INSERT_BATCH);
        let batch: Arc<Vec<NewDelivery>> = Arc::new(self.incoming.drain(..take).collect());
        self.inserting = true;
        ctx.spawn(
            self.store
                .send(writer::InsertDeliveries(Arc::clone(&batch)))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.inserting = false;
                    match result.map_err(StoreError::from).and_then(|r| r) {
                        Ok(refused) => {
                            act.store_succeeded();
                            report_refused("deliveries", &refused);
                            act.stats.stored += (batch.len() - refused.len()) as u64;
                            for (index, delivery) in batch.iter().enumerate() {
                                // Refused ones were never stored; an endpoint disabled meanwhile
                                // had these ended in the store.
                                let stored = !refused.iter().any(|(at, _)| *at == index);
                                if stored && act.is_active(&delivery.endpoint_id) {
                                    act.outbox.push(delivery.clone().into_pending());
                                }
                            }
                            act.start_due(ctx);
                        }
                        Err(error) => {
                            act.store_failed("storing deliveries", &error);
                            let mut restored: Vec<NewDelivery> =
                                Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
                            // Never stored: those for an endpoint disabled meanwhile are dropped
                            // here, or they would be stored pending behind its back.
                            restored.retain(|delivery| act.is_active(&delivery.endpoint_id));
                            restored.append(&mut act.incoming);
                            act.incoming = restored;
                        }
                    }
                    act.flush_incoming(ctx);
                    act.after_write();
                }),
        );
    }

    fn flush_outcomes(&mut self, ctx: &mut Context<Self>) {
        if self.recording || self.outcomes.is_empty() || !self.store_may_write() {
            return;
        }
        let take = self.outcomes.len().min(MAX_OUTCOME_BATCH);
        let batch: Arc<Vec<AttemptOutcome>> = Arc::new(self.outcomes.drain(..take).collect());
        self.recording = true;
        ctx.spawn(
            self.store
                .send(writer::RecordOutcomes(Arc::clone(&batch)))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.recording = false;
                    match result.map_err(StoreError::from).and_then(|r| r) {
                        Ok(refused) => {
                            act.store_succeeded();
                            report_refused("attempt outcomes", &refused);
                        }
                        Err(error) => {
                            act.store_failed("recording attempts", &error);
                            let mut restored: Vec<AttemptOutcome> =
                                Arc::try_unwrap(batch).unwrap_or_else(|shared| (*shared).clone());
                            // Those of an endpoint deleted meanwhile have nothing left to go to.
                            restored
                                .retain(|outcome| act.endpoints.contains_key(&outcome.endpoint_id));
                            restored.append(&mut act.outcomes);
                            act.outcomes = restored;
                        }
                    }
                    act.flush_outcomes(ctx);
                    act.after_write();
                }),
        );
    }

    fn after_write(&mut self) {
        let idle = !self.inserting
            && !self.recording
            && self.incoming.is_empty()
            && self.outcomes.is_empty();
        if idle {
            for waiter in self.drain_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        self.publish_depth();
    }

    fn publish_depth(&mut self) {
        let depth = (self.incoming.len() + self.outbox.depth()) as u64;
        self.stats.outbox_depth = depth;
        crate::metrics::metrics()
            .webhook_outbox_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    fn start_due(&mut self, ctx: &mut Context<Self>) {
        for delivery in self.outbox.take_due(Utc::now()) {
            let Some(entry) = self.endpoints.get(&delivery.endpoint_id) else {
                let _ = self.outbox.finished(&delivery.endpoint_id, &delivery.id);
                continue;
            };
            let client = match entry.endpoint.source {
                EndpointSource::Api => &self.checked_client,
                EndpointSource::Config | EndpointSource::Callback => &self.client,
            };
            let request = Attempt {
                client: client.clone(),
                url: entry.endpoint.url.clone(),
                key: entry.key.clone(),
                id: Arc::clone(&delivery.id),
                body: Arc::clone(&delivery.body),
                timeout: self.settings.timeout,
            };
            self.stats.attempts += 1;
            let id = Arc::clone(&delivery.id);
            let handle = ctx.spawn(
                request
                    .send()
                    .into_actor(self)
                    .map(move |result, act, ctx| act.attempt_finished(delivery, result, ctx)),
            );
            self.under_way.insert(id, handle);
        }
    }

    /// Forgets a deleted endpoint: its attempts under way are cancelled and nothing of it is
    /// written any more (its deliveries went with it), so no batch ever names a missing row.
    fn forget(&mut self, endpoint_id: &str, ctx: &mut Context<Self>) {
        self.endpoints.remove(endpoint_id);
        for delivery_id in self.outbox.remove_endpoint(endpoint_id) {
            if let Some(handle) = self.under_way.remove(&delivery_id) {
                ctx.cancel_future(handle);
            }
        }
        self.incoming
            .retain(|delivery| &*delivery.endpoint_id != endpoint_id);
        self.outcomes
            .retain(|outcome| &*outcome.endpoint_id != endpoint_id);
        self.publish_depth();
    }

    fn attempt_finished(
        &mut self,
        mut delivery: PendingDelivery,
        result: AttemptResult,
        ctx: &mut Context<Self>,
    ) {
        self.under_way.remove(&delivery.id);
        if !self.endpoints.contains_key(&delivery.endpoint_id) {
            // Deleted while under way (normally cancelled then): its delivery is gone.
            return;
        }
        let redelivery = self.outbox.finished(&delivery.endpoint_id, &delivery.id);
        delivery.attempts += 1;
        let now = Utc::now();
        let active = self.is_active(&delivery.endpoint_id);
        let plan = outbox::plan(
            &delivery,
            &result,
            &self.settings.schedule,
            active,
            now,
            &mut rand::thread_rng(),
        );
        crate::metrics::metrics()
            .webhook_deliveries
            .with_label_values(&[plan.outcome()])
            .inc();
        let mut disable_endpoint = None;
        match plan {
            Plan::Delivered => self.stats.delivered += 1,
            Plan::RetryAt(_) => self.stats.retries += 1,
            Plan::GiveUp => {
                self.stats.failed += 1;
                log::warn!(
                    "webhooks: delivery {} to endpoint {} given up after {} attempts ({})",
                    delivery.id,
                    delivery.endpoint_id,
                    delivery.attempts,
                    result.error.as_deref().unwrap_or("no error")
                );
            }
            Plan::DisableEndpoint => {
                self.stats.failed += 1;
                if active {
                    let reason = "the receiver answered 410 Gone".to_string();
                    let dropped = self.deactivate(&delivery.endpoint_id, &reason, now);
                    log::warn!(
                        "webhooks: endpoint {} answered 410 Gone: disabled, {dropped} pending \
                         deliveries ended (PATCH it with enabled=true to resume)",
                        delivery.endpoint_id
                    );
                    disable_endpoint = Some((Arc::clone(&delivery.endpoint_id), reason));
                }
            }
            Plan::EndpointInactive => self.stats.failed += 1,
        }
        let attempted_at = now - chrono::Duration::from_std(result.latency).unwrap_or_default();
        // A redelivery asked for during this attempt starts a new round now, unless the
        // endpoint is gone.
        let again =
            redelivery.filter(|_| !matches!(plan, Plan::DisableEndpoint | Plan::EndpointInactive));
        let (new_status, next_attempt_at) = match (&again, plan) {
            (Some(_), _) => (DeliveryStatus::Pending, Some(now)),
            (None, Plan::RetryAt(at)) => (DeliveryStatus::Pending, Some(at)),
            (None, plan) => (plan.status(), None),
        };
        self.outcomes.push(AttemptOutcome {
            delivery_id: Arc::clone(&delivery.id),
            endpoint_id: Arc::clone(&delivery.endpoint_id),
            n: delivery.attempts,
            at: attempted_at,
            status_code: result.status,
            latency_ms: u64::try_from(result.latency.as_millis()).unwrap_or(u64::MAX),
            error: result.error,
            new_status,
            next_attempt_at,
            disable_endpoint,
        });
        if again.is_some() {
            delivery.round_start = delivery.attempts;
            delivery.due = now;
            self.outbox.push(delivery);
        } else if let Plan::RetryAt(at) = plan {
            delivery.due = at;
            self.outbox.push(delivery);
        }
        self.flush_outcomes(ctx);
        self.start_due(ctx);
        self.publish_depth();
    }

    /// Marks an endpoint disabled in memory and drops what waits for it; answers how many.
    fn deactivate(&mut self, endpoint_id: &str, reason: &str, now: chrono::DateTime<Utc>) -> usize {
        if let Some(entry) = self.endpoints.get_mut(endpoint_id) {
            entry.endpoint.enabled = false;
            entry.endpoint.disabled_reason = Some(reason.to_string());
            entry.endpoint.updated_at = now;
        }
        self.outbox.drop_endpoint(endpoint_id)
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.flush_incoming(ctx);
        self.flush_outcomes(ctx);
        self.start_due(ctx);
    }

    fn prune(&mut self, ctx: &mut Context<Self>) {
        let before = Utc::now() - DELIVERY_RETENTION;
        ctx.spawn(
            self.store
                .send(writer::PruneDeliveries {
                    before,
                    chunk: PRUNE_CHUNK,
                })
                .into_actor(self)
                .map(
                    |result, act, ctx| match result.map_err(StoreError::from).and_then(|r| r) {
                        Ok(deleted) if i64::try_from(deleted).is_ok_and(|n| n >= PRUNE_CHUNK) => {
                            act.prune(ctx)
                        }
                        Ok(_) => {}
                        Err(error) => log::warn!(
                        "webhooks: pruning old deliveries failed ({error}); next try in an hour"
                    ),
                    },
                ),
        );
    }

    /// The destination policy on a URL given through the API (400 when refused).
    fn check_destination(&self, url: &str) -> WebhookResult<()> {
        self.policy
            .check_url(url, is_local_address)
            .map_err(|reason| {
                WebhookError::DestinationRefused(format!(
                    "`url` `{url}` is not an allowed webhook destination: {reason}"
                ))
            })
    }

    fn endpoint(&self, id: &str) -> WebhookResult<&Endpoint> {
        self.endpoints
            .get(id)
            .map(|entry| &entry.endpoint)
            .ok_or_else(|| WebhookError::NotFound(format!("no webhook endpoint `{id}`")))
    }
}

impl Actor for WebhookDispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Changes arrive in bursts (do_send ignores the limit); API requests wait for room.
        ctx.set_mailbox_capacity(1024);
        self.load(ctx);
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
        self.prune(ctx);
        ctx.run_interval(PRUNE_INTERVAL, |act, ctx| act.prune(ctx));
    }
}

impl Handler<StatusChanged> for WebhookDispatcher {
    type Result = ();

    fn handle(&mut self, StatusChanged(event): StatusChanged, ctx: &mut Self::Context) {
        let kind = EventType::of(&event.change);
        let targets: Vec<Arc<str>> = self
            .endpoints
            .iter()
            .filter(|(_, entry)| {
                entry.endpoint.enabled && entry.endpoint.filter.matches(kind, &event.instance)
            })
            .map(|(id, _)| Arc::clone(id))
            .collect();
        if targets.is_empty() {
            return;
        }
        let message = events::message_for(&event);
        let event_type: Arc<str> = message.event_type.into();
        let body: Arc<str> = message.body.into();
        let now = Utc::now();
        let deliveries = targets.into_iter().map(|endpoint_id| NewDelivery {
            id: endpoint::new_message_id().into(),
            endpoint_id,
            event_type: Arc::clone(&event_type),
            body: Arc::clone(&body),
            created_at: now,
        });
        let deliveries: Vec<_> = deliveries.collect();
        self.accept(deliveries, ctx);
    }
}

impl Handler<ListEndpoints> for WebhookDispatcher {
    type Result = MessageResult<ListEndpoints>;

    fn handle(&mut self, _: ListEndpoints, _: &mut Self::Context) -> Self::Result {
        let mut all: Vec<Endpoint> = self
            .endpoints
            .values()
            .map(|entry| entry.endpoint.clone())
            .collect();
        all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        MessageResult(all)
    }
}

impl Handler<GetEndpoint> for WebhookDispatcher {
    type Result = WebhookResult<Endpoint>;

    fn handle(&mut self, GetEndpoint(id): GetEndpoint, _: &mut Self::Context) -> Self::Result {
        self.endpoint(&id).cloned()
    }
}

impl Handler<AddEndpoint> for WebhookDispatcher {
    type Result = AtomicResponse<Self, WebhookResult<Endpoint>>;

    fn handle(&mut self, AddEndpoint(new): AddEndpoint, _: &mut Self::Context) -> Self::Result {
        let checked = self.check_destination(&new.url).and_then(|()| {
            let limit = self.settings.max_endpoints;
            let made = self
                .endpoints
                .values()
                .filter(|entry| entry.endpoint.source == EndpointSource::Api)
                .count();
            if made >= limit {
                return Err(WebhookError::TooMany(format!(
                    "{made} webhook endpoints exist already, the most allowed \
                     ([webhook_delivery] max_endpoints = {limit}); delete one first"
                )));
            }
            Ok(())
        });
        if let Err(error) = checked {
            return AtomicResponse::new(Box::pin(fut::ready(Err(error))));
        }
        let now = Utc::now();
        let endpoint = Endpoint {
            id: endpoint::new_endpoint_id(),
            url: new.url,
            secret: Some(new.secret),
            filter: new.filter,
            enabled: new.enabled,
            disabled_reason: None,
            source: EndpointSource::Api,
            created_at: now,
            updated_at: now,
        };
        // Atomic: endpoint changes are applied one at a time, in order.
        AtomicResponse::new(Box::pin(
            self.store
                .send(writer::CreateEndpoint(endpoint.clone()))
                .into_actor(self)
                .map(move |result, act, _| {
                    result??;
                    act.remember(endpoint.clone());
                    Ok(endpoint)
                }),
        ))
    }
}

impl Handler<UpdateEndpoint> for WebhookDispatcher {
    type Result = AtomicResponse<Self, WebhookResult<Endpoint>>;

    fn handle(&mut self, update: UpdateEndpoint, _: &mut Self::Context) -> Self::Result {
        let new_url = update.patch.url.clone();
        let updated = self
            .endpoint(&update.id)
            .and_then(|current| {
                endpoint::apply_patch(current, update.patch, Utc::now())
                    .map_err(WebhookError::Conflict)
            })
            .and_then(|updated| match &new_url {
                Some(url) => self.check_destination(url).map(|()| updated),
                None => Ok(updated),
            });
        let updated = match updated {
            Ok(updated) => updated,
            Err(error) => return AtomicResponse::new(Box::pin(fut::ready(Err(error)))),
        };
        AtomicResponse::new(Box::pin(
            self.store
                .send(writer::SaveEndpoint(updated.clone()))
                .into_actor(self)
                .map(move |result, act, _| {
                    result??;
                    act.remember(updated.clone());
                    act.publish_depth();
                    Ok(updated)
                }),
        ))
    }
}

impl Handler<RemoveEndpoint> for WebhookDispatcher {
    type Result = AtomicResponse<Self, WebhookResult<()>>;

    fn handle(
        &mut self,
        RemoveEndpoint(id): RemoveEndpoint,
        _: &mut Self::Context,
    ) -> Self::Result {
        if let Err(error) = self.endpoint(&id) {
            return AtomicResponse::new(Box::pin(fut::ready(Err(error))));
        }
        AtomicResponse::new(Box::pin(
            self.store
                .send(writer::DeleteEndpoint(id.clone()))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    result??;
                    act.forget(&id, ctx);
                    Ok(())
                }),
        ))
    }
}

impl Handler<Redeliver> for WebhookDispatcher {
    type Result = AtomicResponse<Self, WebhookResult<String>>;

    fn handle(&mut self, Redeliver(id): Redeliver, _: &mut Self::Context) -> Self::Result {
        AtomicResponse::new(Box::pin(
            self.store
                .send(writer::RestartDelivery {
                    id: id.clone(),
                    now: Utc::now(),
                })
                .into_actor(self)
                .map(move |result, act, ctx| {
                    let delivery = match result?? {
                        Restarted::Pending(delivery) => delivery,
                        Restarted::NotFound => {
                            return Err(WebhookError::NotFound(format!("no delivery `{id}`")))
                        }
                        Restarted::EndpointDisabled(endpoint) => {
                            return Err(WebhookError::Conflict(format!(
                                "endpoint {endpoint} of delivery `{id}` is disabled; enable it \
                                 first (PATCH {{\"enabled\": true}})"
                            )))
                        }
                    };
                    let endpoint_id = delivery.endpoint_id.to_string();
                    act.outbox.push(delivery);
                    act.start_due(ctx);
                    act.publish_depth();
                    Ok(endpoint_id)
                }),
        ))
    }
}

impl Handler<SendTest> for WebhookDispatcher {
    type Result = AtomicResponse<Self, WebhookResult<String>>;

    fn handle(&mut self, SendTest(endpoint_id): SendTest, _: &mut Self::Context) -> Self::Result {
        let checked = self.endpoint(&endpoint_id).and_then(|endpoint| {
            if endpoint.enabled {
                Ok(())
            } else {
                Err(WebhookError::Conflict(format!(
                    "webhook endpoint `{endpoint_id}` is disabled; enable it first"
                )))
            }
        });
        if let Err(error) = checked {
            return AtomicResponse::new(Box::pin(fut::ready(Err(error))));
        }
        let now = Utc::now();
        let message = events::test_message(&endpoint_id, now);
        let delivery = NewDelivery {
            id: endpoint::new_message_id().into(),
            endpoint_id: endpoint_id.as_str().into(),
            event_type: message.event_type.into(),
            body: message.body.into(),
            created_at: now,
        };
        AtomicResponse::new(Box::pin(
            self.store
                .send(writer::InsertDeliveries(Arc::new(vec![delivery.clone()])))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    if let Some((_, reason)) = result??.into_iter().next() {
                        return Err(WebhookError::Store(StoreError::Refused(reason)));
                    }
                    act.stats.stored += 1;
                    let id = delivery.id.to_string();
                    act.outbox.push(delivery.into_pending());
                    act.start_due(ctx);
                    act.publish_depth();
                    Ok(id)
                }),
        ))
    }
}

impl Handler<GetStats> for WebhookDispatcher {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        self.publish_depth();
        MessageResult(self.stats)
    }
}

impl Handler<Drain> for WebhookDispatcher {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        let (sender, receiver) = oneshot::channel();
        self.drain_waiters.push(sender);
        self.store_retry_at = None;
        self.flush_incoming(ctx);
        self.flush_outcomes(ctx);
        self.after_write();
        Box::pin(async move {
            let _ = receiver.await;
        })
    }
}

/// One HTTP attempt: everything it needs, so the future owns its data.
struct Attempt {
    client: awc::Client,
    url: String,
    key: Option<Arc<[u8]>>,
    id: Arc<str>,
    body: Arc<str>,
    timeout: Duration,
}

impl Attempt {
    async fn send(self) -> AttemptResult {
        let started = Instant::now();
        // Signed per attempt: receivers refuse timestamps older than 5 minutes.
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .client
            .post(self.url.as_str())
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header(("webhook-id", &*self.id))
            .insert_header(("webhook-timestamp", timestamp.to_string()));
        if let Some(key) = &self.key {
            let signature = signing::sign(key, &self.id, timestamp, self.body.as_bytes());
            request = request.insert_header(("webhook-signature", signature));
        }
        let body = awc::body::BoxBody::new(self.body.as_bytes().to_vec());
        // awc bounds the time to the response head; this bounds the whole attempt.
        let outcome = actix::clock::timeout(self.timeout + Duration::from_secs(1), async {
            let mut response = request.send_body(body).await.map_err(describe_send_error)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(parse_retry_after);
            // Read (bounded) so the connection can be reused, and dropped: what a receiver
            // answers is not ours to keep, nor to show through the delivery log.
            let _ = response.body().limit(RESPONSE_READ_LIMIT).await;
            Ok::<_, String>((status, retry_after))
        })
        .await;
        let latency = started.elapsed();
        match outcome {
            Ok(Ok((status, retry_after))) => AttemptResult {
                status: Some(status),
                retry_after,
                latency,
                error: (!(200..300).contains(&status)).then(|| describe_status(status)),
            },
            Ok(Err(error)) => AttemptResult {
                status: None,
                retry_after: None,
                latency,
                error: Some(error),
            },
            Err(_) => AttemptResult {
                status: None,
                retry_after: None,
                latency,
                error: Some(format!("no answer within {} s", self.timeout.as_secs_f32())),
            },
        }
    }
}

/// One line for rows the database refused for good (they are dropped, not retried).
fn report_refused(what: &str, refused: &writer::Refused) {
    if let Some((_, reason)) = refused.first() {
        log::warn!(
            "webhooks: the database refused {} of the {what} written ({reason}); those are \
             dropped",
            refused.len()
        );
    }
}

fn describe_send_error(error: awc::error::SendRequestError) -> String {
    use awc::error::SendRequestError;
    match error {
        SendRequestError::Timeout => "no answer within the timeout".to_string(),
        SendRequestError::Connect(error) => format!("cannot connect: {error}"),
        other => other.to_string(),
    }
}

/// A failed answer in words: its status code, the standard reason phrase and what redirects
/// mean here. Never the body, nor the receiver's own reason phrase: they are the receiver's
/// words, readable back through the delivery log by anyone with API access.
fn describe_status(status: u16) -> String {
    let reason = awc::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason());
    let mut text = match reason {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    };
    if (300..400).contains(&status) {
        text.push_str(" (redirects are not followed: give the final URL)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_answers_are_described_by_their_status_only() {
        assert_eq!(describe_status(500), "HTTP 500 Internal Server Error");
        assert_eq!(describe_status(599), "HTTP 599");
        assert!(describe_status(302).contains("redirects are not followed"));
    }
}
