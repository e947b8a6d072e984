//! The endpoint administration the HTTP routes ask of the dispatcher: list, get, create,
//! update, delete endpoints, redeliver, send a test message. Each change is written first and
//! applied to the engine's endpoints once stored (atomic: one at a time, in order).

use actix::prelude::*;
use chrono::Utc;

use super::{WebhookDispatcher, WebhookStore};
use crate::{
    db::write_behind::Run,
    webhooks::{
        destination::is_local_address,
        endpoint::{self, Endpoint, EndpointPatch, EndpointSource, NewEndpoint},
        events,
        outbox::PendingDelivery,
        store::{self, NewDelivery, Restarted},
        writer::StoreError,
    },
};

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
            self.transaction({
                let endpoint = endpoint.clone();
                move |conn| store::insert_endpoint(conn, &endpoint)
            })
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
            self.transaction({
                let updated = updated.clone();
                move |conn| store::save_endpoint(conn, &updated)
            })
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
            self.transaction({
                let id = id.clone();
                move |conn| store::delete_endpoint(conn, &id)
            })
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
            self.transaction({
                let id = id.clone();
                let now = Utc::now();
                let claims = self.claims.clone();
                move |conn| {
                    let restarted = store::restart_delivery(conn, &id, now)?;
                    // In a cluster the node asked sends it: its claim, whoever had it.
                    if let (Some(claims), Restarted::Pending(_)) = (&claims, &restarted) {
                        claims.claim(conn, &[id.as_str()])?;
                    }
                    Ok(restarted)
                }
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
            self.writer
                .send(Run::new({
                    let delivery = delivery.clone();
                    move |store: &mut WebhookStore| store.write_deliveries(&[delivery])
                }))
                .into_actor(self)
                .map(move |result, act, ctx| {
                    if let Some((_, reason)) = result??.into_iter().next() {
                        return Err(WebhookError::Store(StoreError::Refused(reason)));
                    }
                    act.stats.stored += 1;
                    let id = delivery.id.to_string();
                    act.outbox.push(PendingDelivery::from(delivery));
                    act.start_due(ctx);
                    act.publish_depth();
                    Ok(id)
                }),
        ))
    }
}

impl WebhookDispatcher {
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
