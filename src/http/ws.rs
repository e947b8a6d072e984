//! `GET /ws`: one `LiveSession` actor per connected browser.
//!
//! This is the only file that uses actix-web-actors (deprecated upstream in favour of actix-ws).
//! The session talks to the rest of the hub through messages only: [`Join`] and
//! [`CurrentSnapshot`] to the [`LiveFeed`], [`LiveEvent`]s back. The protocol itself (message
//! shapes, which changes to forward, close reasons) is in `live_protocol`, and who may connect
//! in `ws_access`, so swapping the transport means rewriting this shell only.

use std::time::Instant;

use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_web_actors::ws::{self, CloseCode, CloseReason};

use super::{
    live_feed::{CurrentSnapshot, Join, LiveEvent, LiveFeed},
    live_protocol::{self, ClientRequest, SeqGate},
    ws_access, AppState,
};
use crate::{config::WebSocketSettings, error::ApiError, metrics::metrics, status::HubSnapshot};

/// Largest frame a client may send. Clients only send `{"type":"resync"}`: anything big is a
/// mistake or an attack, and the codec refuses it before buffering it.
const MAX_CLIENT_FRAME: usize = 4096;

/// Upgrades to a live session after the origin and token checks.
pub async fn live_socket(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    ws_access::admit(&request, &state)?;
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
}

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
                        ctx.text(live_protocol::snapshot_message(&snapshot));
                    }
                    Err(_) => close(
                        ctx,
                        CloseCode::Restart,
                        "the hub is restarting; reconnect".into(),
                    ),
                }),
        );
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
        let join = Join(ctx.address().recipient());
        self.fetch_snapshot(ctx, join);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics().websocket_clients.dec();
    }
}

impl Handler<LiveEvent> for LiveSession {
    type Result = ();

    fn handle(&mut self, event: LiveEvent, ctx: &mut Self::Context) {
        match event {
            LiveEvent::Change { seq, json } => {
                if self.gate.admit(seq) {
                    ctx.text(&*json);
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
