//! The lossy channel: the second kind of change (see ARCHITECTURE.md), for values that change
//! often and whose past is worthless once a newer one exists ("picture updated", audio meters).
//!
//! - **Opt-in topics.** A topic is a name within an instance (`picture:program`, `meters`); its
//!   family is the text before the first `:` (`picture`). A WebSocket client watches topics of
//!   an instance, and only watchers get its values.
//! - **Latest value wins.** A value is unnumbered. Per client, each watched topic has one slot
//!   holding the newest value not yet sent ([`Slots`]): a newer value replaces it. A client that
//!   stops reading so costs the hub one slot per topic it watches, and never delays anything
//!   else: the slots sit beside the session's mailbox ([`Inbox`]), not in it, so they are not
//!   counted in its backlog of numbered changes; they never reach history or webhooks.
//! - **Producers are told.** A producer registers for a family with a check of its topic names,
//!   and is told when a topic of that family gains its first watcher or loses its last one
//!   ([`WatchChanged`]), so that it works only while someone watches (captures a picture,
//!   subscribes to OBS's meters).
//!
//! [`Watchers`] (who watches what, and the transitions producers are told) and [`Slots`] are
//! plain, unit-tested data; [`LossyHub`] is the actor shell between producers and sessions.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
};

use actix::prelude::*;
use serde::Serialize;
use tokio::sync::Notify;

/// How many topics one client may watch at once (each may cost the hub work, e.g. a capture).
pub const MAX_TOPICS_PER_CLIENT: usize = 32;

fn too_many_topics() -> String {
    format!(
        "a client may watch at most {MAX_TOPICS_PER_CLIENT} topics; unsubscribe from some first"
    )
}

/// One topic of one instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TopicKey {
    pub instance: String,
    pub topic: String,
}

impl TopicKey {
    pub fn new(instance: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            instance: instance.into(),
            topic: topic.into(),
        }
    }
}

/// A topic's family: the text before its first `:` (`picture` of `picture:program`).
pub fn family(topic: &str) -> &str {
    topic.split_once(':').map_or(topic, |(family, _)| family)
}

/// The JSON text frame of one value: `{"type":"notice","instance":..,"topic":..,"data":..}`.
/// Encoded once per value and shared by every watcher.
pub fn notice_text(key: &TopicKey, data: &serde_json::Value) -> Arc<str> {
    let notice = serde_json::json!({
        "type": "notice",
        "instance": key.instance,
        "topic": key.topic,
        "data": data,
    });
    Arc::from(notice.to_string())
}

/// A client of the lossy channel (a WebSocket session), numbered for the hub's maps.
pub type ClientId = u64;

/// A watcher count crossing zero, to tell the topic's producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    FirstWatcher(TopicKey),
    LastWatcherGone(TopicKey),
}

/// Who watches what. Pure bookkeeping: each change answers the transitions it caused.
#[derive(Debug, Default)]
pub struct Watchers {
    by_topic: HashMap<TopicKey, BTreeSet<ClientId>>,
    by_client: HashMap<ClientId, BTreeSet<TopicKey>>,
}

impl Watchers {
    /// `client` watches `key`. Watching a topic twice is one watch. Refused (with the reason)
    /// past [`MAX_TOPICS_PER_CLIENT`].
    pub fn watch(&mut self, client: ClientId, key: TopicKey) -> Result<Option<Transition>, String> {
        let topics = self.by_client.entry(client).or_default();
        if topics.contains(&key) {
            return Ok(None);
        }
        if topics.len() >= MAX_TOPICS_PER_CLIENT {
            return Err(too_many_topics());
        }
        topics.insert(key.clone());
        let watchers = self.by_topic.entry(key.clone()).or_default();
        watchers.insert(client);
        Ok((watchers.len() == 1).then_some(Transition::FirstWatcher(key)))
    }

    /// `client` stops watching `key` (nothing if it did not watch it).
    pub fn unwatch(&mut self, client: ClientId, key: &TopicKey) -> Option<Transition> {
        let topics = self.by_client.get_mut(&client)?;
        if !topics.remove(key) {
            return None;
        }
        if topics.is_empty() {
            self.by_client.remove(&client);
        }
        let watchers = self.by_topic.get_mut(key)?;
        watchers.remove(&client);
        if !watchers.is_empty() {
            return None;
        }
        self.by_topic.remove(key);
        Some(Transition::LastWatcherGone(key.clone()))
    }

    /// `client` is gone: it watches nothing any more.
    pub fn leave(&mut self, client: ClientId) -> Vec<Transition> {
        let topics = self.by_client.get(&client).cloned().unwrap_or_default();
        topics
            .iter()
            .filter_map(|key| self.unwatch(client, key))
            .collect()
    }

    /// The clients watching `key`.
    pub fn of(&self, key: &TopicKey) -> impl Iterator<Item = ClientId> + '_ {
        self.by_topic.get(key).into_iter().flatten().copied()
    }

    pub fn is_watched(&self, key: &TopicKey) -> bool {
        self.by_topic.contains_key(key)
    }

    /// Every watched topic (for a producer that registers late).
    pub fn topics(&self) -> impl Iterator<Item = &TopicKey> {
        self.by_topic.keys()
    }

    pub fn watches(&self, client: ClientId, key: &TopicKey) -> bool {
        self.by_client
            .get(&client)
            .is_some_and(|topics| topics.contains(key))
    }

    /// How many topics `client` watches.
    pub fn count_of(&self, client: ClientId) -> usize {
        self.by_client.get(&client).map_or(0, BTreeSet::len)
    }

    /// Whether the client watches anything (a client watching nothing is forgotten).
    pub fn has_client(&self, client: ClientId) -> bool {
        self.by_client.contains_key(&client)
    }
}

/// One client's unsent values: one slot per topic, the newest value wins.
#[derive(Debug, Default)]
pub struct Slots {
    pending: BTreeMap<TopicKey, Arc<str>>,
}

impl Slots {
    /// Keeps `value` as the one to send for `key`; answers true when the slots were empty
    /// (the client needs waking up).
    pub fn put(&mut self, key: TopicKey, value: Arc<str>) -> bool {
        let was_empty = self.pending.is_empty();
        self.pending.insert(key, value);
        was_empty
    }

    /// Everything to send now, in a stable order; the slots are left empty.
    pub fn take(&mut self) -> Vec<(TopicKey, Arc<str>)> {
        std::mem::take(&mut self.pending).into_iter().collect()
    }

    /// Drops the unsent value of a topic the client no longer watches.
    pub fn forget(&mut self, key: &TopicKey) {
        self.pending.remove(key);
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

static NEXT_CLIENT: AtomicU64 = AtomicU64::new(1);

/// What a session shares with the hub: its slots and a wake-up. The hub fills the slots; the
/// session waits on [`Inbox::ready`] (a stream of its own, not its mailbox) and takes them.
#[derive(Debug)]
pub struct Inbox {
    id: ClientId,
    slots: Mutex<Slots>,
    wake: Notify,
}

impl Inbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            id: NEXT_CLIENT.fetch_add(1, Ordering::Relaxed),
            slots: Mutex::new(Slots::default()),
            wake: Notify::new(),
        })
    }

    pub fn id(&self) -> ClientId {
        self.id
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A poisoned lock only means a panic elsewhere mid-insert; the map itself is whole.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn put(&self, key: TopicKey, value: Arc<str>) {
        if self.slots().put(key, value) {
            // Stores a permit if the session is not waiting: wake-ups coalesce to one.
            self.wake.notify_one();
        }
    }

    pub fn take(&self) -> Vec<(TopicKey, Arc<str>)> {
        self.slots().take()
    }

    pub fn forget(&self, key: &TopicKey) {
        self.slots().forget(key);
    }

    /// Resolves once values may be waiting (after a [`Inbox::put`] since the last wake-up).
    pub async fn ready(&self) {
        self.wake.notified().await;
    }
}

/// Checks a topic name of a producer's family; the error says what is wrong, for the client.
pub type TopicCheck = fn(&str) -> Result<(), String>;

/// Told to a producer when a topic of its family gains its first watcher (`watched`) or loses
/// its last one.
#[derive(Message, Clone, Debug, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct WatchChanged {
    pub key: TopicKey,
    pub watched: bool,
}

/// Registers the producer of a family of topics.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterProducer {
    pub family: &'static str,
    pub check: TopicCheck,
    pub producer: Recipient<WatchChanged>,
}

/// A client watches `topics` of `instance`: all of them, or (with the reason) none.
#[derive(Message)]
#[rtype(result = "Result<(), String>")]
pub struct Watch {
    pub inbox: Arc<Inbox>,
    pub instance: String,
    pub topics: Vec<String>,
}

/// A client stops watching `topics` of `instance`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch {
    pub client: ClientId,
    pub instance: String,
    pub topics: Vec<String>,
}

/// A client is gone (its session stopped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave(pub ClientId);

/// A producer's new value for a topic; dropped when nobody watches it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    pub key: TopicKey,
    pub data: serde_json::Value,
}

struct Producer {
    check: TopicCheck,
    recipient: Recipient<WatchChanged>,
}

/// The actor between producers and sessions.
#[derive(Default)]
pub struct LossyHub {
    watchers: Watchers,
    inboxes: HashMap<ClientId, Arc<Inbox>>,
    producers: HashMap<&'static str, Producer>,
    /// The last value of each watched topic, for a client that starts watching it later (a
    /// picture that does not change would otherwise never be announced to it).
    latest: HashMap<TopicKey, Arc<str>>,
}

impl LossyHub {
    fn tell(&mut self, transition: Transition) {
        let (key, watched) = match transition {
            Transition::FirstWatcher(key) => (key, true),
            Transition::LastWatcherGone(key) => {
                self.latest.remove(&key);
                (key, false)
            }
        };
        if let Some(producer) = self.producers.get(family(&key.topic)) {
            // do_send: a producer must not miss a transition, or it would capture forever.
            producer.recipient.do_send(WatchChanged { key, watched });
        }
    }

    fn check(&self, topic: &str) -> Result<(), String> {
        let producer = self.producers.get(family(topic)).ok_or_else(|| {
            let mut known: Vec<_> = self.producers.keys().copied().collect();
            known.sort_unstable();
            format!(
                "unknown topic `{topic}`: topics start with one of {}",
                known
                    .iter()
                    .map(|family| format!("`{family}:`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        (producer.check)(topic)
    }
}

impl Actor for LossyHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Watches and values arrive in bursts; none should be refused.
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<RegisterProducer> for LossyHub {
    type Result = ();

    fn handle(&mut self, register: RegisterProducer, _: &mut Self::Context) {
        for key in self.watchers.topics() {
            if family(&key.topic) == register.family {
                register.producer.do_send(WatchChanged {
                    key: key.clone(),
                    watched: true,
                });
            }
        }
        self.producers.insert(
            register.family,
            Producer {
                check: register.check,
                recipient: register.producer,
            },
        );
    }
}

impl Handler<Watch> for LossyHub {
    type Result = Result<(), String>;

    fn handle(&mut self, watch: Watch, _: &mut Self::Context) -> Self::Result {
        for topic in &watch.topics {
            self.check(topic)?;
        }
        let client = watch.inbox.id();
        let mut new_keys: Vec<TopicKey> = Vec::new();
        for topic in &watch.topics {
            let key = TopicKey::new(watch.instance.as_str(), topic.as_str());
            if !self.watchers.watches(client, &key) && !new_keys.contains(&key) {
                new_keys.push(key);
            }
        }
        // All or none: checked before anything changes.
        if self.watchers.count_of(client) + new_keys.len() > MAX_TOPICS_PER_CLIENT {
            return Err(too_many_topics());
        }
        let mut added = Vec::new();
        for key in new_keys {
            let transition = self.watchers.watch(client, key.clone())?;
            added.push((key, transition));
        }
        self.inboxes.insert(client, watch.inbox.clone());
        for (key, transition) in added {
            if let Some(value) = self.latest.get(&key) {
                watch.inbox.put(key, value.clone());
            }
            if let Some(transition) = transition {
                self.tell(transition);
            }
        }
        Ok(())
    }
}

impl Handler<Unwatch> for LossyHub {
    type Result = ();

    fn handle(&mut self, unwatch: Unwatch, _: &mut Self::Context) {
        for topic in unwatch.topics {
            let key = TopicKey::new(unwatch.instance.as_str(), topic);
            if let Some(inbox) = self.inboxes.get(&unwatch.client) {
                inbox.forget(&key);
            }
            if let Some(transition) = self.watchers.unwatch(unwatch.client, &key) {
                self.tell(transition);
            }
        }
        if !self.watchers.has_client(unwatch.client) {
            self.inboxes.remove(&unwatch.client);
        }
    }
}

impl Handler<Leave> for LossyHub {
    type Result = ();

    fn handle(&mut self, Leave(client): Leave, _: &mut Self::Context) {
        self.inboxes.remove(&client);
        for transition in self.watchers.leave(client) {
            self.tell(transition);
        }
    }
}

impl Handler<Publish> for LossyHub {
    type Result = ();

    fn handle(&mut self, publish: Publish, _: &mut Self::Context) {
        if !self.watchers.is_watched(&publish.key) {
            return;
        }
        let text = notice_text(&publish.key, &publish.data);
        for client in self.watchers.of(&publish.key) {
            if let Some(inbox) = self.inboxes.get(&client) {
                inbox.put(publish.key.clone(), text.clone());
            }
        }
        self.latest.insert(publish.key, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(topic: &str) -> TopicKey {
        TopicKey::new("default", topic)
    }

    #[test]
    fn a_family_is_the_text_before_the_first_colon() {
        assert_eq!(family("picture:program"), "picture");
        assert_eq!(family("picture:source/a:b"), "picture");
        assert_eq!(family("meters"), "meters");
    }

    #[test]
    fn producers_hear_of_the_first_watcher_and_the_last_one_leaving() {
        let mut watchers = Watchers::default();
        assert_eq!(
            watchers.watch(1, key("picture:program")),
            Ok(Some(Transition::FirstWatcher(key("picture:program"))))
        );
        assert_eq!(watchers.watch(2, key("picture:program")), Ok(None));
        assert_eq!(
            watchers.watch(1, key("picture:program")),
            Ok(None),
            "twice is once"
        );
        assert_eq!(watchers.of(&key("picture:program")).count(), 2);
        assert_eq!(watchers.unwatch(1, &key("picture:program")), None);
        assert_eq!(
            watchers.unwatch(1, &key("picture:program")),
            None,
            "not watched any more"
        );
        assert_eq!(
            watchers.unwatch(2, &key("picture:program")),
            Some(Transition::LastWatcherGone(key("picture:program")))
        );
        assert!(!watchers.is_watched(&key("picture:program")));
        assert!(!watchers.has_client(1) && !watchers.has_client(2));
    }

    #[test]
    fn a_leaving_client_ends_the_topics_only_it_watched() {
        let mut watchers = Watchers::default();
        watchers.watch(1, key("a:x")).unwrap();
        watchers.watch(1, key("b:y")).unwrap();
        watchers.watch(2, key("b:y")).unwrap();
        let other_instance = TopicKey::new("studio", "a:x");
        watchers.watch(1, other_instance.clone()).unwrap();
        let mut gone = watchers.leave(1);
        gone.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        assert_eq!(
            gone,
            [
                Transition::LastWatcherGone(key("a:x")),
                Transition::LastWatcherGone(other_instance),
            ]
        );
        assert!(watchers.is_watched(&key("b:y")));
        assert!(
            watchers.leave(1).is_empty(),
            "leaving twice changes nothing"
        );
    }

    #[test]
    fn a_client_watches_a_bounded_number_of_topics() {
        let mut watchers = Watchers::default();
        for n in 0..MAX_TOPICS_PER_CLIENT {
            watchers.watch(1, key(&format!("a:{n}"))).unwrap();
        }
        let refusal = watchers.watch(1, key("a:one-more")).unwrap_err();
        assert!(refusal.contains("at most 32"), "{refusal}");
        assert!(!watchers.is_watched(&key("a:one-more")));
        assert!(watchers.watch(2, key("a:one-more")).is_ok(), "per client");
    }

    #[test]
    fn the_newest_value_wins_one_slot_per_topic() {
        let mut slots = Slots::default();
        assert!(slots.put(key("a:x"), Arc::from("1")), "wake on the first");
        assert!(!slots.put(key("a:x"), Arc::from("2")), "no second wake-up");
        assert!(!slots.put(key("b:y"), Arc::from("3")));
        for n in 0..1000 {
            slots.put(key("a:x"), Arc::from(n.to_string()));
        }
        assert_eq!(slots.len(), 2, "bounded by topics, not by values");
        let taken = slots.take();
        assert_eq!(
            taken,
            [(key("a:x"), Arc::from("999")), (key("b:y"), Arc::from("3"))]
        );
        assert!(slots.is_empty());
        assert!(
            slots.put(key("a:x"), Arc::from("4")),
            "wake again once empty"
        );
        slots.forget(&key("a:x"));
        assert!(slots.take().is_empty());
    }

    #[test]
    fn a_notice_names_its_instance_and_topic() {
        let text = notice_text(
            &key("picture:program"),
            &serde_json::json!({"etag": "\"ab\""}),
        );
        let notice: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(notice["type"], "notice");
        assert_eq!(notice["instance"], "default");
        assert_eq!(notice["topic"], "picture:program");
        assert_eq!(notice["data"]["etag"], "\"ab\"");
        assert!(notice.get("seq").is_none(), "unnumbered");
    }

    /// Records what a producer is told.
    struct Producer(Arc<Mutex<Vec<WatchChanged>>>);
    impl Actor for Producer {
        type Context = Context<Self>;
    }
    impl Handler<WatchChanged> for Producer {
        type Result = ();
        fn handle(&mut self, change: WatchChanged, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(change);
        }
    }

    #[derive(Message)]
    #[rtype(result = "()")]
    struct Barrier;
    impl Handler<Barrier> for Producer {
        type Result = ();
        fn handle(&mut self, _: Barrier, _: &mut Context<Self>) {}
    }

    fn check_picture(topic: &str) -> Result<(), String> {
        if topic == "picture:program" || topic == "picture:preview" {
            Ok(())
        } else {
            Err(format!("no picture `{topic}`"))
        }
    }

    #[actix_web::test]
    async fn the_hub_sends_only_to_watchers_the_latest_value_and_tells_the_producer() {
        let told = Arc::new(Mutex::new(Vec::new()));
        let producer = Producer(told.clone()).start();
        let hub = LossyHub::default().start();
        hub.send(RegisterProducer {
            family: "picture",
            check: check_picture,
            producer: producer.clone().recipient(),
        })
        .await
        .unwrap();
        let (watcher, bystander) = (Inbox::new(), Inbox::new());

        let unknown = hub
            .send(Watch {
                inbox: watcher.clone(),
                instance: "default".into(),
                topics: vec!["picture:program".into(), "meters".into()],
            })
            .await
            .unwrap()
            .unwrap_err();
        assert!(unknown.contains("`picture:`"), "{unknown}");
        let bad = hub
            .send(Watch {
                inbox: watcher.clone(),
                instance: "default".into(),
                topics: vec!["picture:sideways".into()],
            })
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(bad, "no picture `picture:sideways`");
        hub.send(Watch {
            inbox: watcher.clone(),
            instance: "default".into(),
            topics: vec!["picture:program".into()],
        })
        .await
        .unwrap()
        .unwrap();

        for n in 0..3 {
            hub.send(Publish {
                key: key("picture:program"),
                data: serde_json::json!({ "n": n }),
            })
            .await
            .unwrap();
        }
        hub.send(Publish {
            key: key("picture:preview"),
            data: serde_json::json!({ "n": "unwatched" }),
        })
        .await
        .unwrap();
        let taken = watcher.take();
        assert_eq!(taken.len(), 1, "one slot: {taken:?}");
        assert!(
            taken[0].1.contains(r#""n":2"#),
            "the latest: {}",
            taken[0].1
        );
        assert!(bystander.take().is_empty());

        // A later watcher gets the latest value at once.
        hub.send(Watch {
            inbox: bystander.clone(),
            instance: "default".into(),
            topics: vec!["picture:program".into()],
        })
        .await
        .unwrap()
        .unwrap();
        assert!(bystander.take()[0].1.contains(r#""n":2"#));

        hub.send(Unwatch {
            client: watcher.id(),
            instance: "default".into(),
            topics: vec!["picture:program".into()],
        })
        .await
        .unwrap();
        hub.send(Leave(bystander.id())).await.unwrap();
        producer.send(Barrier).await.unwrap();
        assert_eq!(
            *told.lock().unwrap(),
            [
                WatchChanged {
                    key: key("picture:program"),
                    watched: true
                },
                WatchChanged {
                    key: key("picture:program"),
                    watched: false
                },
            ],
            "only the first watcher and the last one leaving"
        );
        // Nobody watches: a value is dropped, and a new watcher starts from nothing.
        hub.send(Publish {
            key: key("picture:program"),
            data: serde_json::json!({ "n": 3 }),
        })
        .await
        .unwrap();
        let late = Inbox::new();
        hub.send(Watch {
            inbox: late.clone(),
            instance: "default".into(),
            topics: vec!["picture:program".into()],
        })
        .await
        .unwrap()
        .unwrap();
        assert!(late.take().is_empty());
    }

    #[actix_web::test]
    async fn a_watch_is_all_or_nothing_and_a_late_producer_hears_of_watched_topics() {
        let hub = LossyHub::default().start();
        let watcher = Inbox::new();
        let watch = |topics: Vec<String>| Watch {
            inbox: watcher.clone(),
            instance: "default".into(),
            topics,
        };
        let refused = hub
            .send(watch(vec!["picture:program".into()]))
            .await
            .unwrap();
        assert!(refused.is_err(), "no producer of `picture:` yet");

        let told = Arc::new(Mutex::new(Vec::new()));
        let producer = Producer(told.clone()).start();
        let register = || RegisterProducer {
            family: "picture",
            check: |_| Ok(()),
            producer: producer.clone().recipient(),
        };
        hub.send(register()).await.unwrap();
        hub.send(watch(vec!["picture:a".into()]))
            .await
            .unwrap()
            .unwrap();
        let too_many: Vec<String> = (0..MAX_TOPICS_PER_CLIENT)
            .map(|n| format!("picture:{n}"))
            .collect();
        let refused = hub.send(watch(too_many)).await.unwrap().unwrap_err();
        assert!(refused.contains("at most 32"), "{refused}");
        // Registering again (a restarted producer) tells it what is watched now: only `a`.
        hub.send(register()).await.unwrap();
        producer.send(Barrier).await.unwrap();
        let watched = WatchChanged {
            key: key("picture:a"),
            watched: true,
        };
        assert_eq!(*told.lock().unwrap(), [watched.clone(), watched]);
    }

    #[actix_web::test]
    async fn a_put_wakes_a_waiting_session_once() {
        let inbox = Inbox::new();
        inbox.put(key("a:x"), Arc::from("1"));
        inbox.put(key("a:x"), Arc::from("2"));
        // The permit stored by the first put: resolves at once, without another put.
        inbox.ready().await;
        assert_eq!(inbox.take(), [(key("a:x"), Arc::from("2"))]);
    }
}
