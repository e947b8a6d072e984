//! `LiveFeed`: the one subscriber of the status manager that fans changes out to the browser
//! sessions of `/ws`, each with a bounded backlog.
//!
//! Why a fan-out rather than sessions subscribing to the manager directly: the manager pushes
//! with `do_send`, which ignores mailbox limits (right for persistence and webhooks, which must
//! not lose a change). A browser session is different. Under actix-web-actors the session actor
//! only runs while actix-web polls its response body, and actix-web stops polling once its write
//! buffer to that socket is full. A browser that stops reading (a sleeping laptop, a tab stuck on
//! a bad mobile link) thus freezes its session, and every change would pile up in its mailbox for
//! as long as the socket stays open. So the feed hands each session a change with `try_send`
//! into a mailbox of `max_backlog` places: when that is full, the session is far behind, is
//! dropped from the feed and told [`LiveEvent::Overflowed`]. Once its socket moves again it
//! sends what it had queued (a gap-free prefix), closes with a reason, and the browser
//! reconnects and starts from a fresh snapshot. What one stuck browser costs the hub is so
//! bounded by `max_backlog` changes plus the socket buffers.
//!
//! Every change is serialised once here and shared by all sessions.

use std::sync::Arc;

use actix::prelude::*;

use super::live_protocol::change_message;
use crate::status::{HubSnapshot, StatusBoard, StatusChanged, StatusManager, Subscribe};

/// What the feed sends a session.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum LiveEvent {
    /// One change, already encoded as its protocol message.
    Change { seq: u64, json: Arc<str> },
    /// The session's backlog was full: it has been dropped and will get nothing more.
    Overflowed,
    /// The hub is shutting down: the browser should reconnect (to the next hub process).
    ShuttingDown,
}

/// Adds a session; answers the snapshot to send first. Every change newer than that snapshot
/// reaches the session (see [`LiveFeed`]'s handler for why).
#[derive(Message)]
#[rtype(result = "Arc<HubSnapshot>")]
pub struct Join(pub Recipient<LiveEvent>);

/// The current snapshot, for a session whose client asked to resync. The session stays joined,
/// so changes newer than it keep coming.
#[derive(Message)]
#[rtype(result = "Arc<HubSnapshot>")]
pub struct CurrentSnapshot;

pub struct LiveFeed {
    manager: Addr<StatusManager>,
    board: StatusBoard,
    sessions: Vec<Recipient<LiveEvent>>,
}

impl LiveFeed {
    pub fn new(manager: Addr<StatusManager>, board: StatusBoard) -> Self {
        Self {
            manager,
            board,
            sessions: Vec::new(),
        }
    }
}

impl Actor for LiveFeed {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Roomy, as the manager's: changes arrive in bursts and must never be refused here.
        ctx.set_mailbox_capacity(4096);
        // `wait` holds every Join until the manager has registered the feed: a session that
        // joined earlier could miss changes made between its snapshot and the subscription.
        let subscribe = self.manager.send(Subscribe(ctx.address().recipient()));
        ctx.wait(subscribe.into_actor(self).map(|result, _, ctx| {
            if result.is_err() {
                log::error!("live feed: the status manager is gone; live updates are off");
                ctx.stop();
            }
        }));
        // actix-web's graceful shutdown waits (30 s) for open connections to end, and a
        // WebSocket never ends by itself: on SIGINT/SIGTERM the sessions are closed at once,
        // so shutdown is prompt and browsers go and reconnect to the next hub process.
        ctx.spawn(stop_requested().into_actor(self).map(|(), feed, _| {
            for session in feed.sessions.drain(..) {
                session.do_send(LiveEvent::ShuttingDown);
            }
        }));
    }
}

/// Resolves when the process is asked to stop (actix-server, listening for the same signals,
/// stops the HTTP server meanwhile). Never resolves if the signals cannot be watched.
async fn stop_requested() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    () = interrupt => {}
                }
            }
            Err(error) => {
                log::warn!(
                    "live feed: cannot watch SIGTERM ({error}); only Ctrl-C closes sessions"
                );
                interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

impl Handler<Join> for LiveFeed {
    type Result = Arc<HubSnapshot>;

    /// The snapshot is read after every change this feed has already forwarded was published
    /// (the manager publishes before it pushes), and every change the feed handles from now on
    /// goes to the new session: between them, nothing is left out. Changes that are in both
    /// are dropped by the session's `SeqGate`.
    fn handle(&mut self, Join(session): Join, _: &mut Self::Context) -> Self::Result {
        self.sessions.retain(|session| session.connected());
        self.sessions.push(session);
        self.board.current()
    }
}

impl Handler<CurrentSnapshot> for LiveFeed {
    type Result = Arc<HubSnapshot>;

    fn handle(&mut self, _: CurrentSnapshot, _: &mut Self::Context) -> Self::Result {
        self.board.current()
    }
}

impl Handler<StatusChanged> for LiveFeed {
    type Result = ();

    fn handle(&mut self, change: StatusChanged, _: &mut Self::Context) {
        if self.sessions.is_empty() {
            return;
        }
        let event = LiveEvent::Change {
            seq: change.seq,
            json: Arc::from(change_message(&change)),
        };
        self.sessions
            .retain(|session| match session.try_send(event.clone()) {
                Ok(()) => true,
                Err(SendError::Full(_)) => {
                    // Bypasses the full mailbox on purpose: one message, the last it gets.
                    session.do_send(LiveEvent::Overflowed);
                    false
                }
                Err(SendError::Closed(_)) => false,
            });
    }
}
