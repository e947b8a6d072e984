//! `WebhookDispatcher`: turns status changes into stored deliveries and sends them, signed.
//!
//! It runs on an arbiter (thread) of its own, apart from the status manager and the HTTP
//! workers, and never blocks: database work goes to its [`Writer`] thread (the write-behind
//! component of `db`), HTTP requests are futures on this thread. Three jobs, three files:
//! [`engine`] (changes to deliveries to attempts to outcomes), [`admin`] (the endpoint requests
//! of the HTTP routes), [`attempt`] (one HTTP delivery attempt). The order of things for one
//! change:
//!
//! 1. a `StatusChanged` arrives; one delivery per matching enabled endpoint is queued;
//! 2. the queue is stored in one transaction: at once when the writer is idle, else as soon
//!    as the current batch is committed (so a burst becomes a few large transactions);
//! 3. only then do deliveries enter the [`Outbox`] and get their first attempt;
//! 4. every attempt's outcome is recorded (batched the same way) and the delivery is retried,
//!    finished, or given up, per [`outbox::plan`](super::outbox::plan).
//!
//! A hub that dies anywhere after step 2 resends the pending deliveries at its next start,
//! under the same `webhook-id`: at least once, deduplicated by receivers.

use crate::db::backend::Conn;
use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use actix::prelude::*;
use awc::http::header;
use diesel::QueryResult;

use super::{
    claims::{self, Claims},
    connector::CheckedConnector,
    destination::DestinationPolicy,
    endpoint::{DeclaredEndpoint, Endpoint},
    outbox::Outbox,
    signing,
    store::{self, AttemptOutcome, NewDelivery},
    writer::{StoreError, StoreResult, WebhookStore},
};
/// How deliveries are made (a setting, so it lives with the settings).
pub use crate::config::webhook_settings::DeliverySettings;
use crate::db::{
    pool::Pool,
    write_behind::{Persisting, Pruning, Queue, Run, Writer},
};

pub mod admin;
mod attempt;
pub mod engine;

pub use admin::{
    AddEndpoint, GetEndpoint, ListEndpoints, Redeliver, RemoveEndpoint, SendTest, UpdateEndpoint,
    WebhookError,
};
pub use engine::{DispatchStats, GetStats};

/// How often due retries are started.
const TICK: Duration = Duration::from_millis(50);

/// An endpoint with its key decoded once.
struct Entry {
    endpoint: Endpoint,
    key: Option<Arc<[u8]>>,
}

pub struct WebhookDispatcher {
    writer: Addr<Writer<WebhookStore>>,
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
    incoming: Queue<NewDelivery>,
    /// Attempts made, not recorded yet.
    outcomes: Queue<AttemptOutcome>,
    /// Attempts under way, by delivery id: cancelled when their endpoint is deleted.
    under_way: HashMap<Arc<str>, SpawnHandle>,
    stats: engine::DispatchStats,
    /// In a cluster: this node's claims on deliveries (None alone).
    claims: Option<Claims>,
    /// Counts changes to `endpoints` made here: a heartbeat's endpoint list read before one of
    /// them is stale and not applied.
    endpoint_changes: u64,
}

impl WebhookDispatcher {
    /// Starts the store writer thread and, on an arbiter of its own, the dispatcher, which
    /// brings the declared endpoints in line, loads the pending deliveries and resumes them.
    /// Must run inside an actix `System`. Subscribe it to the status manager to feed it, or
    /// send it `StatusChanged` messages directly (the benchmark does).
    /// `listening`: where the hub's HTTP server listens (API endpoints may not point there).
    pub fn start(
        pool: Pool,
        declared: Vec<DeclaredEndpoint>,
        settings: DeliverySettings,
        listening: Option<SocketAddr>,
        claims: Option<Claims>,
    ) -> Addr<Self> {
        let writer = Writer::start(WebhookStore::new(pool, claims.clone()));
        let policy = Arc::new(DestinationPolicy::new(settings.destinations, listening));
        Self::start_in_arbiter(&Arbiter::new().handle(), move |_| {
            Self::new(writer, declared, settings, policy, claims)
        })
    }

    /// Must be called on the thread the actor will run on (awc clients are per thread).
    fn new(
        writer: Addr<Writer<WebhookStore>>,
        declared: Vec<DeclaredEndpoint>,
        settings: DeliverySettings,
        policy: Arc<DestinationPolicy>,
        claims: Option<Claims>,
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
            writer,
            client: builder().connector(trusted).finish(),
            checked_client: builder().connector(checked).finish(),
            policy,
            outbox: Outbox::new(settings.concurrency),
            settings,
            declared,
            endpoints: HashMap::new(),
            incoming: Queue::new(engine::MAX_INSERT_BATCH),
            outcomes: Queue::new(engine::MAX_OUTCOME_BATCH),
            under_way: HashMap::new(),
            stats: engine::DispatchStats::default(),
            claims,
            endpoint_changes: 0,
        }
    }

    /// One transaction on the writer thread.
    fn transaction<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Conn) -> QueryResult<R> + Send + 'static,
    ) -> Request<Writer<WebhookStore>, Run<WebhookStore, StoreResult<R>>> {
        self.writer.send(Run::new(move |store: &mut WebhookStore| {
            store.transaction(work)
        }))
    }

    fn load(&mut self, ctx: &mut Context<Self>) {
        let declared = self.declared.clone();
        let node = self.claims.as_ref().map(|claims| Arc::clone(&claims.node));
        // `wait`: nothing else (changes, API requests) is handled before the state is loaded.
        ctx.wait(
            self.transaction(move |conn| {
                if node.is_some() {
                    crate::db::queries::webhooks::claims::lock_declared(conn)?;
                }
                store::sync_declared(conn, &declared, chrono::Utc::now())?;
                // A cluster node resumes its own claims; the others' are theirs until they
                // expire (then its heartbeat takes them over).
                let pending = match &node {
                    Some(node) => store::pending_claimed_by(conn, node)?,
                    None => store::pending_deliveries(conn)?,
                };
                Ok((store::all_endpoints(conn)?, pending))
            })
            .into_actor(self)
            .map(|result, act, ctx| {
                match result.map_err(StoreError::from).and_then(|r| r) {
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
                        log::error!("webhooks: cannot load endpoints ({error}); retrying in 1 s");
                        ctx.wait(actix::clock::sleep(Duration::from_secs(1)).into_actor(act));
                        act.load(ctx);
                    }
                }
            }),
        );
    }

    fn remember(&mut self, endpoint: Endpoint) {
        self.endpoint_changes += 1;
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
}

/// The cluster's heartbeat (see [`claims`]).
impl WebhookDispatcher {
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Some(claims) = self.claims.clone() else {
            return;
        };
        let working_on = self.outbox.ids();
        let changes = self.endpoint_changes;
        ctx.spawn(
            self.transaction(move |conn| claims::heartbeat(conn, &claims, &working_on))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    match result.map_err(StoreError::from).and_then(|r| r) {
                        Ok(found) => act.apply_heartbeat(found, changes, ctx),
                        Err(error) => log::warn!(
                            "webhooks: cannot renew this node's delivery claims ({error}); \
                             retrying at the next heartbeat"
                        ),
                    }
                }),
        );
    }

    fn apply_heartbeat(&mut self, found: claims::Heartbeat, changes: u64, ctx: &mut Context<Self>) {
        // Endpoints made, changed or deleted through another node; a list read before a change
        // made here meanwhile is stale (the next heartbeat reads it again).
        if changes == self.endpoint_changes {
            let stored: std::collections::HashSet<String> =
                found.endpoints.iter().map(|e| e.id.clone()).collect();
            let gone: Vec<String> = self
                .endpoints
                .keys()
                .filter(|id| !stored.contains(&***id))
                .map(|id| id.to_string())
                .collect();
            for id in gone {
                self.forget(&id, ctx);
            }
            for endpoint in found.endpoints {
                let unchanged = self
                    .endpoints
                    .get(endpoint.id.as_str())
                    .is_some_and(|entry| same_endpoint(&entry.endpoint, &endpoint));
                if !unchanged {
                    self.remember(endpoint);
                }
            }
        }
        for id in &found.lost {
            log::info!("webhooks: delivery {id} was taken over by another node");
            self.outbox.release(id);
        }
        let taken = found.taken.len();
        for delivery in found.taken {
            if self.is_active(&delivery.endpoint_id) {
                self.outbox.push(delivery);
            }
        }
        if taken > 0 {
            log::info!("webhooks: took over {taken} deliveries whose node stopped renewing them");
        }
        self.start_due(ctx);
        self.publish_depth();
    }
}

/// Whether two readings of an endpoint agree, timestamps to the microsecond (what the
/// database keeps).
fn same_endpoint(a: &Endpoint, b: &Endpoint) -> bool {
    let micros = |at: chrono::DateTime<chrono::Utc>| at.timestamp_micros();
    Endpoint {
        created_at: b.created_at,
        updated_at: b.updated_at,
        ..a.clone()
    } == *b
        && micros(a.created_at) == micros(b.created_at)
        && micros(a.updated_at) == micros(b.updated_at)
}

impl Persisting for WebhookDispatcher {
    type Store = WebhookStore;

    fn writer(&self) -> &Addr<Writer<WebhookStore>> {
        &self.writer
    }
}

impl Actor for WebhookDispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Changes arrive in bursts (do_send ignores the limit); API requests wait for room.
        ctx.set_mailbox_capacity(1024);
        self.load(ctx);
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
        if let Some(claims) = &self.claims {
            ctx.run_interval(claims.heartbeat(), |act, ctx| act.heartbeat(ctx));
        }
        self.start_pruning(ctx);
    }
}
