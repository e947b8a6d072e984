//! The delivery engine: status changes become stored deliveries (through the write-behind
//! component), stored deliveries enter the [`Outbox`](crate::webhooks::outbox::Outbox) and get
//! their attempts, and every attempt's outcome is recorded (batched the same way).

use std::sync::Arc;

use actix::prelude::*;
use chrono::Utc;

use super::{attempt::Attempt, WebhookDispatcher, WebhookStore};
use crate::{
    db::write_behind::{Drain, Failed, Pruning, Queue, WriteBehind},
    status::StatusChanged,
    webhooks::{
        endpoint::{self, EndpointSource},
        events::{self, EventType},
        outbox::{self, AttemptResult, DeliveryStatus, PendingDelivery, Plan},
        store::{self, AttemptOutcome, NewDelivery},
        writer::{Refused, StoreError},
    },
};

/// Deliveries per insert transaction at most.
pub(super) const MAX_INSERT_BATCH: usize = 5_000;
/// Outcomes per transaction at most.
pub(super) const MAX_OUTCOME_BATCH: usize = 5_000;
/// Finished deliveries are kept this long in the delivery log.
const DELIVERY_RETENTION: chrono::Duration = chrono::Duration::days(30);

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

impl WebhookDispatcher {
    pub(super) fn is_active(&self, endpoint_id: &str) -> bool {
        self.endpoints
            .get(endpoint_id)
            .is_some_and(|entry| entry.endpoint.enabled)
    }

    /// New deliveries: stored first (at once if the writer is idle), sent once stored.
    fn accept(&mut self, deliveries: Vec<NewDelivery>, ctx: &mut Context<Self>) {
        self.incoming.push(deliveries);
        WriteBehind::<NewDelivery>::flush(self, ctx);
        self.publish_depth();
    }

    pub(super) fn publish_depth(&mut self) {
        let depth = (self.incoming.len() + self.outbox.depth()) as u64;
        self.stats.outbox_depth = depth;
        crate::metrics::metrics()
            .webhook_outbox_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub(super) fn start_due(&mut self, ctx: &mut Context<Self>) {
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
    pub(super) fn forget(&mut self, endpoint_id: &str, ctx: &mut Context<Self>) {
        self.endpoint_changes += 1;
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
        if self.outbox.take_released(&delivery.id) {
            // Another node has taken it over: its attempts are that node's to record and retry.
            self.start_due(ctx);
            self.publish_depth();
            return;
        }
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
        self.outcomes.push([AttemptOutcome {
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
        }]);
        if again.is_some() {
            delivery.round_start = delivery.attempts;
            delivery.due = now;
            self.outbox.push(delivery);
        } else if let Plan::RetryAt(at) = plan {
            delivery.due = at;
            self.outbox.push(delivery);
        }
        WriteBehind::<AttemptOutcome>::flush(self, ctx);
        self.start_due(ctx);
        self.publish_depth();
    }

    /// Marks an endpoint disabled in memory and drops what waits for it; answers how many.
    fn deactivate(&mut self, endpoint_id: &str, reason: &str, now: chrono::DateTime<Utc>) -> usize {
        self.endpoint_changes += 1;
        if let Some(entry) = self.endpoints.get_mut(endpoint_id) {
            entry.endpoint.enabled = false;
            entry.endpoint.disabled_reason = Some(reason.to_string());
            entry.endpoint.updated_at = now;
        }
        self.outbox.drop_endpoint(endpoint_id)
    }

    /// Starts the attempts that became due (retries).
    pub(super) fn tick(&mut self, ctx: &mut Context<Self>) {
        self.start_due(ctx);
    }
}

impl WriteBehind<NewDelivery> for WebhookDispatcher {
    type Written = Refused;
    type Error = StoreError;

    fn queue(&mut self) -> &mut Queue<NewDelivery> {
        &mut self.incoming
    }

    fn write(store: &mut WebhookStore, batch: &[NewDelivery]) -> Result<Refused, StoreError> {
        store.write_deliveries(batch)
    }

    /// An endpoint disabled or deleted since these were accepted has had its pending
    /// deliveries ended in the store: storing these now would leave them pending behind it.
    fn before_batch(&mut self) {
        let endpoints = &self.endpoints;
        self.incoming.retain(|delivery| {
            endpoints
                .get(&delivery.endpoint_id)
                .is_some_and(|entry| entry.endpoint.enabled)
        });
    }

    fn written(&mut self, batch: Vec<NewDelivery>, refused: Refused, ctx: &mut Context<Self>) {
        report_refused("deliveries", &refused);
        self.stats.stored += (batch.len() - refused.len()) as u64;
        for (index, delivery) in batch.into_iter().enumerate() {
            // Refused ones were never stored; an endpoint disabled meanwhile had these ended in
            // the store.
            let stored = !refused.iter().any(|(at, _)| *at == index);
            if stored && self.is_active(&delivery.endpoint_id) {
                self.outbox.push(PendingDelivery::from(delivery));
            }
        }
        self.start_due(ctx);
        self.publish_depth();
    }

    fn recovered(&mut self) {
        log::info!("webhooks: the database accepts writes again");
    }

    fn failed(&mut self, error: Option<&StoreError>, failed: Failed) {
        report_failure("storing deliveries", error, failed);
    }
}

impl WriteBehind<AttemptOutcome> for WebhookDispatcher {
    type Written = Refused;
    type Error = StoreError;

    fn queue(&mut self) -> &mut Queue<AttemptOutcome> {
        &mut self.outcomes
    }

    fn write(store: &mut WebhookStore, batch: &[AttemptOutcome]) -> Result<Refused, StoreError> {
        store.write_outcomes(batch)
    }

    /// Those of an endpoint deleted meanwhile have nothing left to go to.
    fn before_batch(&mut self) {
        let endpoints = &self.endpoints;
        self.outcomes
            .retain(|outcome| endpoints.contains_key(&outcome.endpoint_id));
    }

    fn written(&mut self, _: Vec<AttemptOutcome>, refused: Refused, _: &mut Context<Self>) {
        report_refused("attempt outcomes", &refused);
        self.publish_depth();
    }

    fn recovered(&mut self) {
        log::info!("webhooks: the database accepts writes again");
    }

    fn failed(&mut self, error: Option<&StoreError>, failed: Failed) {
        report_failure("recording attempts", error, failed);
    }
}

impl Pruning for WebhookDispatcher {
    type Error = StoreError;

    fn prune_before(&self) -> Option<chrono::DateTime<Utc>> {
        Utc::now().checked_sub_signed(DELIVERY_RETENTION)
    }

    fn prune_chunk(
        store: &mut WebhookStore,
        before: chrono::DateTime<Utc>,
        chunk: i64,
    ) -> Result<usize, StoreError> {
        store.transaction(|conn| store::prune_finished(conn, before, chunk))
    }

    fn pruned(&mut self, _: chrono::DateTime<Utc>, result: Result<usize, Option<StoreError>>) {
        if let Err(Some(error)) = result {
            log::warn!("webhooks: pruning old deliveries failed ({error}); next try in an hour");
        }
    }
}

/// One warning per run of failures: the rows wait in memory meanwhile.
fn report_failure(what: &str, error: Option<&StoreError>, failed: Failed) {
    if failed.first {
        let error = error.map_or_else(|| StoreError::Stopped.to_string(), ToString::to_string);
        log::warn!(
            "webhooks: {what} failed ({error}); kept in memory and retried, deliveries wait \
             until the database accepts writes"
        );
    }
}

/// One line for rows the database refused for good (they are dropped, not retried).
fn report_refused(what: &str, refused: &Refused) {
    if let Some((_, reason)) = refused.first() {
        log::warn!(
            "webhooks: the database refused {} of the {what} written ({reason}); those are \
             dropped",
            refused.len()
        );
    }
}

impl Handler<StatusChanged> for WebhookDispatcher {
    type Result = ();

    fn handle(&mut self, StatusChanged(event): StatusChanged, ctx: &mut Self::Context) {
        if event.cluster.as_ref().is_some_and(|stamp| stamp.mirrored) {
            // Relayed from the node that owns the instance: that node sends its webhooks.
            return;
        }
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
        self.accept(deliveries.collect(), ctx);
    }
}

impl Handler<GetStats> for WebhookDispatcher {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        self.publish_depth();
        MessageResult(self.stats)
    }
}

/// Answers once every accepted delivery and every outcome recorded so far is written.
impl Handler<Drain> for WebhookDispatcher {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Self::Context) -> Self::Result {
        let deliveries = WriteBehind::<NewDelivery>::drain(self, ctx);
        let outcomes = WriteBehind::<AttemptOutcome>::drain(self, ctx);
        Box::pin(async move {
            let _ = deliveries.await;
            let _ = outcomes.await;
        })
    }
}
