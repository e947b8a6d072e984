//! Taps: high-volume OBS events (audio meters, about 20 a second) that a capability takes from
//! the hub's own session ([`super::session::RawSession`]) while it wants them, never from obws's
//! link (obws ends the event stream of a consumer that falls behind, which the connection must
//! read as a lost link).
//!
//! A capability registers an [`EventTap`] with its translators (`Translators::with_tap`): the
//! event's intent bit and type, the instances that want it now (a `watch` channel the
//! capability writes), and where each event goes. The connection subscribes its session to the
//! intents its instance is wanted for ([`wanted_intents`]), with Reidentify whenever that set
//! changes or a new link opens, and a forwarding task hands the session's events to the taps
//! ([`forward`]) without passing through the connection actor.

use std::{collections::BTreeSet, fmt, sync::Arc};

use actix::prelude::*;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::session::RawEvent;

/// One tapped event, for the capability that registered the tap.
#[derive(Message, Debug, Clone, PartialEq)]
#[rtype(result = "()")]
pub struct TappedEvent {
    pub instance: String,
    /// The event's `eventData`.
    pub data: Value,
}

/// A high-volume event a capability takes while some instances want it.
#[derive(Clone)]
pub struct EventTap {
    /// The subscription bit that carries the event (`1 << 16` for InputVolumeMeters).
    pub intent: u32,
    pub event_type: &'static str,
    /// The instances that want the event now.
    pub wanted: watch::Receiver<BTreeSet<String>>,
    /// Where the events go. Sent with `try_send`: a full mailbox drops the event, which is
    /// right for values whose next one replaces them anyway.
    pub deliver: Recipient<TappedEvent>,
}

impl fmt::Debug for EventTap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventTap")
            .field("intent", &self.intent)
            .field("event_type", &self.event_type)
            .field("wanted", &*self.wanted.borrow())
            .finish()
    }
}

/// The intents `instance`'s session must subscribe to now.
pub fn wanted_intents(taps: &[EventTap], instance: &str) -> u32 {
    taps.iter()
        .filter(|tap| tap.wanted.borrow().contains(instance))
        .fold(0, |intents, tap| intents | tap.intent)
}

/// Hands every event of one session to the tap of its type until the session ends (its event
/// channel closes).
pub async fn forward(
    instance: String,
    taps: Arc<[EventTap]>,
    mut events: mpsc::Receiver<RawEvent>,
) {
    while let Some(event) = events.recv().await {
        if let Some(tap) = taps.iter().find(|tap| tap.event_type == event.event_type) {
            // Full: this frame is dropped, the next replaces it; closed: the capability is gone.
            let _ = tap.deliver.try_send(TappedEvent {
                instance: instance.clone(),
                data: event.data,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Sink;
    impl Actor for Sink {
        type Context = Context<Self>;
    }
    impl Handler<TappedEvent> for Sink {
        type Result = ();
        fn handle(&mut self, _: TappedEvent, _: &mut Context<Self>) {}
    }

    #[actix_web::test]
    async fn an_instance_wants_the_intents_of_the_taps_that_name_it() {
        let (meters, wanted) = watch::channel(BTreeSet::new());
        let tap = EventTap {
            intent: 1 << 16,
            event_type: "InputVolumeMeters",
            wanted,
            deliver: Sink.start().recipient(),
        };
        let taps = [tap];
        assert_eq!(wanted_intents(&taps, "default"), 0);
        meters.send_modify(|set| {
            set.insert("default".to_string());
        });
        assert_eq!(wanted_intents(&taps, "default"), 1 << 16);
        assert_eq!(wanted_intents(&taps, "other"), 0);
    }
}
