//! `GET /ws`: one `LiveSession` actor per connected browser.
//!
//! This is the only file that uses actix-web-actors (deprecated upstream in favour of actix-ws).
//! The session talks to the rest of the hub through messages only: [`Join`] and
//! [`CurrentSnapshot`] to the [`LiveFeed`], [`LiveEvent`]s back; [`Watch`], [`Unwatch`] and
//! [`Leave`] to the [`LossyHub`], whose notices it takes from its [`Inbox`] when woken (a stream
//! beside its mailbox, so they never count in its backlog of numbered changes). The protocol itself (message
//! shapes, which changes to forward, close reasons) is in `live_protocol`, and who may connect
//! in `ws_access`, so swapping the transport means rewriting this shell only. A session of an
//! instance-limited token sees only its instances (`live_protocol::InstanceFilter`).

use std::{sync::Arc, time::Instant};

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{self, CloseCode, CloseReason};

use super::{
    live_feed::{CurrentSnapshot, Join, LiveEvent, LiveFeed},
    live_protocol::{self, ClientRequest, InstanceFilter, SeqGate},
    ws_access, AppState,
};
use crate::{
    config::WebSocketSettings,
    error::ApiError,
    metrics::metrics,
    status::{
        lossy::{Inbox, Leave, LossyHub, Unwatch, Watch},
        HubSnapshot, StatusBoard,
    },
};

/// Largest frame a client may send. Clients only send a resync or a (un)subscription: anything
/// big is a mistake or an attack, and the codec refuses it before buffering it.
const MAX_CLIENT_FRAME: usize = 4096;

/// Upgrades to a live session after the origin and token checks.
pub async fn live_socket(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = ws_access::admit(&request, &state)?;
    let filter = InstanceFilter::from_allow_list(
        caller.grant().and_then(|grant| grant.instances.as_deref()),
    );
    let not_a_websocket = |error: &dyn std::fmt::Display| {
        ApiError::WebSocketRequired(format!(
            "/ws is the live-update WebSocket ({error}); open it with a WebSocket client, \
             e.g. new WebSocket(\"ws://{}/ws\")",
            request.connection_info().host()
        ))
    };
    // Checked first for its precise reason; the builder below would only say "bad request".
    ws::handshake(&request).map_err(|error| not_a_websocket(&error))?;
    let session = LiveSession {
        feed: state.live.clone(),
        limits: state.settings.websocket.clone(),
        gate: SeqGate::after_snapshot(0),
        last_heard: Instant::now(),
        lossy: state.lossy.clone(),
        inbox: Inbox::new(),
        board: state.board.clone(),
        own_seq: matches!(filter, InstanceFilter::Only(_)).then_some(0),
        filter,
    };
    ws::WsResponseBuilder::new(session, &request, payload)
        .frame_size(MAX_CLIENT_FRAME)
        .start()
        .map_err(|error| not_a_websocket(&error))
}

struct LiveSession {
    feed: Addr<LiveFeed>,
    limits: WebSocketSettings,
    gate: SeqGate,
    /// When the client last sent anything (a pong counts).
    last_heard: Instant,
    lossy: Addr<LossyHub>,
    /// This session's slots of notices (see `status::lossy`).
    inbox: Arc<Inbox>,
    /// To refuse a subscription to an instance that does not exist.
    board: StatusBoard,
    /// The instances this session sees (its token's allow-list).
    filter: InstanceFilter,
    /// A limited session's own count of the changes it sent (see [`InstanceFilter`]); None
    /// when it sees every instance and sends the hub's `seq` as is.
    own_seq: Option<u64>,
}

/// The inbox has notices waiting (an item of the session's wake-up stream).
struct NoticesWaiting;

impl LiveSession {
    /// Asks the feed for a snapshot and sends it. `wait` holds the mailbox meanwhile, so no
    /// change is handled before the gate knows the snapshot's seq.
    fn fetch_snapshot<M>(&mut self, ctx: &mut ws::WebsocketContext<Self>, request: M)
    where
        M: Message<Result = std::sync::Arc<HubSnapshot>> + Send + 'static,
        LiveFeed: Handler<M>,
    {
        let reply = self.feed.send(request);
        ctx.wait(
            reply
                .into_actor(self)
                .map(|reply, session, ctx| match reply {
                    Ok(snapshot) => {
                        session.gate.snapshot_sent(snapshot.seq);
                        ctx.text(match session.own_seq {
                            None => live_protocol::snapshot_message(&snapshot),
                            Some(seq) => live_protocol::limited_snapshot_message(
                                &snapshot,
                                &session.filter,
                                seq,
                            ),
                        });
                    }
                    Err(_) => close(
                        ctx,
                        CloseCode::Restart,
                        "the hub is restarting; reconnect".into(),
                    ),
                }),
        );
    }

    /// Subscribes to topics of an instance; answers `subscribed` (before any of their notices:
    /// `wait` holds the session until the hub has answered) or an `invalid_subscription` error.
    fn subscribe(
        &mut self,
        ctx: &mut ws::WebsocketContext<Self>,
        instance: String,
        topics: Vec<String>,
    ) {
        let refusal = self.filter.refusal(&instance).or_else(|| {
            let known = self.board.current().instance(&instance).is_some();
            (!known).then(|| format!("no OBS instance is named `{instance}`"))
        });
        if let Some(message) = refusal {
            ctx.text(live_protocol::error_message(
                "invalid_subscription",
                &message,
            ));
            return;
        }
        let watch = self.lossy.send(Watch {
            inbox: self.inbox.clone(),
            instance: instance.clone(),
            topics: topics.clone(),
        });
        ctx.wait(watch.into_actor(self).map(move |reply, _, ctx| {
            let answer = match reply {
                Ok(Ok(())) => live_protocol::subscription_message("subscribed", &instance, &topics),
                Ok(Err(refusal)) => live_protocol::error_message("invalid_subscription", &refusal),
                Err(_) => live_protocol::error_message(
                    "invalid_subscription",
                    "notices are not available (the hub is stopping)",
                ),
            };
            ctx.text(answer);
        }));
    }

    /// Unsubscribes; `unsubscribed` is sent once the hub has dropped the topics' unsent
    /// notices, so none of them follows it.
    fn unsubscribe(
        &mut self,
        ctx: &mut ws::WebsocketContext<Self>,
        instance: String,
        topics: Vec<String>,
    ) {
        let unwatch = self.lossy.send(Unwatch {
            client: self.inbox.id(),
            instance: instance.clone(),
            topics: topics.clone(),
        });
        ctx.wait(unwatch.into_actor(self).map(move |_, _, ctx| {
            ctx.text(live_protocol::subscription_message(
                "unsubscribed",
                &instance,
                &topics,
            ));
        }));
    }

    fn heartbeat(&self, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.run_interval(self.limits.ping_interval, |session, ctx| {
            let timeout = session.limits.client_timeout;
            if live_protocol::is_silent(session.last_heard, Instant::now(), timeout) {
                close(ctx, CloseCode::Away, live_protocol::silent_reason(timeout));
            } else {
                ctx.ping(b"");
            }
        });
    }
}

fn close(ctx: &mut ws::WebsocketContext<LiveSession>, code: CloseCode, reason: String) {
    ctx.close(Some(CloseReason {
        code,
        description: Some(reason),
    }));
    ctx.stop();
}

impl Actor for LiveSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics().websocket_clients.inc();
        // The bounded backlog: the feed's try_send fails once this many changes wait here.
        ctx.set_mailbox_capacity(self.limits.max_backlog);
        self.heartbeat(ctx);
        ctx.add_stream(futures_util::stream::unfold(
            self.inbox.clone(),
            |inbox| async move {
                inbox.ready().await;
                Some((NoticesWaiting, inbox))
            },
        ));
        let join = Join(ctx.address().recipient(), self.filter.clone());
        self.fetch_snapshot(ctx, join);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics().websocket_clients.dec();
        self.lossy.do_send(Leave(self.inbox.id()));
    }
}

impl StreamHandler<NoticesWaiting> for LiveSession {
    fn handle(&mut self, _: NoticesWaiting, ctx: &mut Self::Context) {
        for (_, notice) in self.inbox.take() {
            ctx.text(&*notice);
        }
    }

    /// The wake-up stream never ends by itself; the default would stop the session.
    fn finished(&mut self, _: &mut Self::Context) {}
}

impl Handler<LiveEvent> for LiveSession {
    type Result = ();

    fn handle(&mut self, event: LiveEvent, ctx: &mut Self::Context) {
        match event {
            LiveEvent::Change { seq, json } => {
                if self.gate.admit(seq) {
                    match &mut self.own_seq {
                        None => ctx.text(&*json),
                        Some(own) => {
                            *own += 1;
                            ctx.text(live_protocol::renumbered(&json, *own));
                        }
                    }
                }
            }
            LiveEvent::Overflowed => {
                log::info!(
                    "live session closed: more than {} updates waiting for a slow client",
                    self.limits.max_backlog
                );
                close(
                    ctx,
                    CloseCode::Again,
                    live_protocol::too_slow_reason(self.limits.max_backlog),
                );
            }
            LiveEvent::ShuttingDown => close(
                ctx,
                CloseCode::Away,
                "the hub is shutting down; reconnect in a moment".to_string(),
            ),
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for LiveSession {
    fn handle(&mut self, frame: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => {
                log::debug!("live session: protocol error from client: {error}");
                close(
                    ctx,
                    CloseCode::Protocol,
                    live_protocol::close_reason(error.to_string()),
                );
                return;
            }
        };
        self.last_heard = Instant::now();
        match frame {
            ws::Message::Text(text) => match live_protocol::parse_client_message(&text) {
                Ok(ClientRequest::Resync) => self.fetch_snapshot(ctx, CurrentSnapshot),
                Ok(ClientRequest::Subscribe { instance, topics }) => {
                    self.subscribe(ctx, instance, topics)
                }
                Ok(ClientRequest::Unsubscribe { instance, topics }) => {
                    self.unsubscribe(ctx, instance, topics)
                }
                Err(message) => ctx.text(live_protocol::error_message("invalid_message", &message)),
            },
            ws::Message::Binary(_) => ctx.text(live_protocol::error_message(
                "invalid_message",
                "binary frames are not understood; send JSON text such as {\"type\":\"resync\"}",
            )),
            ws::Message::Ping(bytes) => ctx.pong(&bytes),
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
            ws::Message::Pong(_) | ws::Message::Continuation(_) | ws::Message::Nop => {}
        }
    }
}
