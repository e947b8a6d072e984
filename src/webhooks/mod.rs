//! Webhooks out (signed, durable, retried) and callbacks in.
//!
//! - [`dispatcher::WebhookDispatcher`]: the actor that turns status changes into deliveries and
//!   sends them, on its own thread; its database writes run on a [`db::write_behind`](crate::db::write_behind)
//!   writer thread ([`writer::WebhookStore`]).
//! - Plain logic: [`events`] (event types, message bodies), [`endpoint`] (endpoints and the
//!   checks on them), [`destination`] (where API endpoints may point; [`connector`] applies it
//!   to every connection), [`outbox`] (per-endpoint queues, what happens after an attempt),
//!   [`schedule`] (retry delays, response verdicts), [`signing`] (Standard Webhooks),
//!   [`callbacks`] (what `/api/callback/...` accepts and who may call it), [`store`] (endpoints and
//!   pending deliveries to and from their rows under `db`), [`settings`] (the configuration's part).
//!
//! The HTTP routes are in `http::webhooks` and `http::callbacks`.

pub mod callbacks;
pub mod claims;
pub mod connector;
pub mod destination;
pub mod dispatcher;
pub mod endpoint;
pub mod events;
pub mod outbox;
pub mod schedule;
pub mod settings;
pub mod signing;
pub mod store;
pub mod writer;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use actix::Addr;

use self::{callbacks::CallbackMemory, dispatcher::WebhookDispatcher, endpoint::DeclaredEndpoint};
use crate::config::Settings;
use crate::db::{pool::Pool, write_behind::Drain};

/// What the rest of the hub holds of webhooks (cheap to clone).
#[derive(Clone)]
pub struct Webhooks {
    dispatcher: Option<Addr<WebhookDispatcher>>,
    pool: Option<Pool>,
    memory: Arc<Mutex<CallbackMemory>>,
}

impl Webhooks {
    /// Callbacks only: no database, so no outbox (`OBS_HUB_DATABASE=none`).
    pub fn without_outbox() -> Self {
        Self {
            dispatcher: None,
            pool: None,
            memory: Arc::default(),
        }
    }

    /// Starts the dispatcher on the hub's database (`app` subscribes it to the status manager),
    /// with the endpoints of the config file (`declared`, from [`settings::declared_endpoints`])
    /// and of the callback base URL. Without a database there is no outbox; the configuration
    /// refuses declared endpoints in that case. `listening` is where the hub's HTTP server
    /// listens: endpoints made through the API may not point there.
    pub fn start(
        settings: &Settings,
        mut declared: Vec<DeclaredEndpoint>,
        pool: Option<Pool>,
        listening: SocketAddr,
    ) -> Self {
        let Some(pool) = pool else {
            return Self::without_outbox();
        };
        if let Some(base) = &settings.callback_base_url {
            declared.extend(endpoint::callback_endpoints(
                base,
                settings.callback_secret.as_ref(),
            ));
            if settings.callback_secret.is_none() {
                log::info!(
                    "webhooks: callbacks to {base} go unsigned (set OBS_HUB_CALLBACK_SECRET on \
                     both hubs to sign them)"
                );
            }
        }
        let dispatcher = WebhookDispatcher::start(
            pool.clone(),
            declared,
            settings.webhooks.delivery.clone(),
            Some(listening),
            claims::Claims::of(settings),
        );
        Self {
            dispatcher: Some(dispatcher),
            pool: Some(pool),
            memory: Arc::default(),
        }
    }

    pub fn dispatcher(&self) -> Option<&Addr<WebhookDispatcher>> {
        self.dispatcher.as_ref()
    }

    /// For delivery log reads; None without a database.
    pub fn pool(&self) -> Option<&Pool> {
        self.pool.as_ref()
    }

    /// The replay and ordering memory of the callback routes.
    pub fn callback_memory(&self) -> MutexGuard<'_, CallbackMemory> {
        // A panic while holding it leaves plain maps behind: still usable.
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits (at most `limit`) until every accepted delivery and attempt is written: shutdown.
    pub async fn drain(&self, limit: Duration) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        if tokio::time::timeout(limit, dispatcher.send(Drain))
            .await
            .is_err()
        {
            log::warn!("webhooks: some deliveries could not be stored before shutdown");
        }
    }
}
