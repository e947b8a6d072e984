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
//! Every change is serialised once here and shared by all sessions. A session of an
//! instance-limited token gets only its instances' changes: the feed skips the others before
//! they reach its backlog (for a session that sees every instance that is one enum test, no
//! name comparison).

use std::sync::Arc;

use actix::prelude::*;

use super::live_protocol::{change_message, InstanceFilter};
use crate::status::{HubSnapshot, StatusBoard, StatusChanged};

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

/// Adds a session, which sees the instances of its filter; answers the snapshot to send first.
/// Every change newer than that snapshot (of those instances) reaches the session (see
/// [`LiveFeed`]'s handler for why).
#[derive(Message)]
#[rtype(result = "Arc<HubSnapshot>")]
pub struct Join(pub Recipient<LiveEvent>, pub InstanceFilter);

/// The current snapshot, for a session whose client asked to resync. The session stays joined,
/// so changes newer than it keep coming.
#[derive(Message)]
#[rtype(result = "Arc<HubSnapshot>")]
pub struct CurrentSnapshot;

pub struct LiveFeed {
    board: StatusBoard,
    sessions: Vec<(Recipient<LiveEvent>, InstanceFilter)>,
}

impl LiveFeed {
    /// `app` subscribes it to the status manager before any connection or route can make a
    /// change, so it forwards every change there is: a session's snapshot-then-changes can
    /// leave none out.
    pub fn new(board: StatusBoard) -> Self {
        Self {
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
        // actix-web's graceful shutdown waits (30 s) for open connections to end, and a
        // WebSocket never ends by itself: on SIGINT/SIGTERM the sessions are closed at once,
        // so shutdown is prompt and browsers go and reconnect to the next hub process.
        ctx.spawn(
            crate::shutdown::stop_requested()
                .into_actor(self)
                .map(|(), feed, _| {
                    for (session, _) in feed.sessions.drain(..) {
                        session.do_send(LiveEvent::ShuttingDown);
                    }
                }),
        );
    }
}

impl Handler<Join> for LiveFeed {
    type Result = Arc<HubSnapshot>;

    /// The snapshot is read after every change this feed has already forwarded was published
    /// (the manager publishes before it pushes), and every change the feed handles from now on
    /// goes to the new session: between them, nothing is left out. Changes that are in both
    /// are dropped by the session's `SeqGate`.
    fn handle(&mut self, Join(session, filter): Join, _: &mut Self::Context) -> Self::Result {
        self.sessions.retain(|(session, _)| session.connected());
        self.sessions.push((session, filter));
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
        self.sessions.retain(|(session, filter)| {
            if !filter.allows(&change.instance) {
                return true;
            }
            match session.try_send(event.clone()) {
                Ok(()) => true,
                Err(SendError::Full(_)) => {
                    // Bypasses the full mailbox on purpose: one message, the last it gets.
                    session.do_send(LiveEvent::Overflowed);
                    false
                }
                Err(SendError::Closed(_)) => false,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc, Mutex};

    use super::*;
    use crate::status::{LinkOrigin, ObsUpdate, Report, Source};
    use crate::status::{StatusManager, Subscribe};

    /// A stand-in session that records what it gets. `Hold` blocks its thread until released,
    /// as a session is frozen while its socket takes nothing.
    struct Recorder {
        seen: Arc<Mutex<Vec<LiveEvent>>>,
        capacity: usize,
    }

    impl Actor for Recorder {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Self::Context) {
            ctx.set_mailbox_capacity(self.capacity);
        }
    }

    impl Handler<LiveEvent> for Recorder {
        type Result = ();
        fn handle(&mut self, event: LiveEvent, _: &mut Self::Context) {
            self.seen.lock().unwrap().push(event);
        }
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Hold(mpsc::Receiver<()>);

    /// Answered once the recorder has handled everything queued before it.
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Flush;

    impl Handler<Flush> for Recorder {
        type Result = ();
        fn handle(&mut self, _: Flush, _: &mut Self::Context) {}
    }

    impl Handler<Hold> for Recorder {
        type Result = ();
        fn handle(&mut self, Hold(release): Hold, _: &mut Self::Context) {
            let _ = release.recv();
        }
    }

    fn scene(name: &str) -> Report {
        Report {
            instance: "default".into(),
            origin: LinkOrigin(1),
            source: Source::ObsEvent,
            update: ObsUpdate::ProgramScene(name.into()),
        }
    }

    fn seqs(events: &[LiveEvent]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|event| match event {
                LiveEvent::Change { seq, .. } => Some(*seq),
                _ => None,
            })
            .collect()
    }

    /// Returns once `report` has gone through the manager and the feed has handed on what it
    /// made of it: a round trip through each (an actor handles its mailbox in order, and the
    /// manager pushes to the feed while it handles the report).
    async fn publish(manager: &Addr<StatusManager>, feed: &Addr<LiveFeed>, report: Report) {
        manager.send(report).await.unwrap();
        feed.send(CurrentSnapshot).await.unwrap();
    }

    /// A status manager for one `default` instance and a live feed subscribed to it.
    async fn subscribed_feed() -> (Addr<StatusManager>, Addr<LiveFeed>) {
        let manager = StatusManager::new(&[("default", "127.0.0.1", 4455)]);
        let board = manager.board();
        let manager = manager.start();
        let feed = LiveFeed::new(board).start();
        manager
            .send(Subscribe(feed.clone().recipient()))
            .await
            .unwrap();
        (manager, feed)
    }

    #[actix_web::test]
    async fn a_frozen_session_is_cut_off_after_its_backlog_and_others_get_everything() {
        let (manager, feed) = subscribed_feed().await;

        let healthy_seen = Arc::new(Mutex::new(Vec::new()));
        let healthy = Recorder {
            seen: healthy_seen.clone(),
            capacity: 4,
        }
        .start();
        // The frozen one lives on a thread of its own, which `Hold` blocks.
        let frozen_seen = Arc::new(Mutex::new(Vec::new()));
        let frozen_arbiter = actix::Arbiter::new();
        let frozen = Recorder::start_in_arbiter(&frozen_arbiter.handle(), {
            let seen = frozen_seen.clone();
            move |_| Recorder { seen, capacity: 4 }
        });
        let (release, held) = mpsc::channel();
        frozen.do_send(Hold(held));

        let snapshot = feed
            .send(Join(healthy.clone().recipient(), InstanceFilter::Every))
            .await
            .unwrap();
        assert_eq!(snapshot.seq, 0);
        feed.send(Join(frozen.clone().recipient(), InstanceFilter::Every))
            .await
            .unwrap();

        // One change at a time, so the healthy session keeps up; the frozen one cannot.
        for n in 0..20 {
            publish(&manager, &feed, scene(&format!("scene {n}"))).await;
            healthy.send(Flush).await.unwrap();
        }
        release.send(()).unwrap();
        // Waits for room in the frozen one's full mailbox, then for what was queued before it.
        frozen.send(Flush).await.unwrap();

        let healthy_seen = healthy_seen.lock().unwrap();
        assert_eq!(seqs(&healthy_seen), (1..=20).collect::<Vec<_>>());
        let frozen_seen = frozen_seen.lock().unwrap();
        let got = seqs(&frozen_seen);
        assert!(!got.is_empty() && got.len() < 20, "{got:?}");
        assert_eq!(got, (1..=got.len() as u64).collect::<Vec<_>>(), "a prefix");
        assert!(
            matches!(frozen_seen.last(), Some(LiveEvent::Overflowed)),
            "told last: {frozen_seen:?}"
        );
        frozen_arbiter.stop();
    }

    #[actix_web::test]
    async fn a_joining_session_gets_every_change_after_its_snapshot() {
        let (manager, feed) = subscribed_feed().await;
        publish(&manager, &feed, scene("Before")).await;

        let seen = Arc::new(Mutex::new(Vec::new()));
        let session = Recorder {
            seen: seen.clone(),
            capacity: 16,
        }
        .start();
        let snapshot = feed
            .send(Join(session.clone().recipient(), InstanceFilter::Every))
            .await
            .unwrap();
        assert_eq!(snapshot.seq, 1);
        assert_eq!(
            snapshot
                .instance("default")
                .unwrap()
                .current_scene
                .as_deref(),
            Some("Before")
        );
        publish(&manager, &feed, scene("After")).await;
        session.send(Flush).await.unwrap();
        assert_eq!(seqs(&seen.lock().unwrap()), [2]);
        let current = feed.send(CurrentSnapshot).await.unwrap();
        assert_eq!(current.seq, 2);
    }
}
