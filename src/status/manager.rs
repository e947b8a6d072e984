//! `StatusManager`: the singleton actor that owns the cached status of every instance.
//!
//! Connection actors send it [`Report`]s; it applies them with [`update::apply`], numbers every
//! real change with a hub-wide sequence number, publishes a fresh [`HubSnapshot`] for readers and
//! pushes a [`StatusChanged`] to each subscriber. It never talks to OBS itself.
//!
//! Subscribing is the Rust form of the seed's `register_scene_callback`:
//!
//! ```
//! use actix::prelude::*;
//! use obs_hub::status::{
//!     update::{ObsUpdate, Source},
//!     Change, LinkOrigin, Report, StatusChanged, StatusManager, Subscribe,
//! };
//!
//! /// Prints every scene change, like the seed's `my_scene_callback`.
//! struct SceneLogger;
//! impl Actor for SceneLogger {
//!     type Context = Context<Self>;
//! }
//! impl Handler<StatusChanged> for SceneLogger {
//!     type Result = ();
//!     fn handle(&mut self, event: StatusChanged, _: &mut Context<Self>) {
//!         if let Change::SceneChanged { scene, .. } = &event.change {
//!             println!("[{}] scene changed to: {scene} (seq {})", event.instance, event.seq);
//!             System::current().stop();
//!         }
//!     }
//! }
//!
//! let system = System::new();
//! system.block_on(async {
//!     let manager = StatusManager::new(&[("default", "127.0.0.1", 4455)]).start();
//!     manager.do_send(Subscribe(SceneLogger.start().recipient()));
//!     // In the hub, connection actors send these; here we play OBS by hand.
//!     manager.do_send(Report {
//!         instance: "default".into(),
//!         origin: LinkOrigin(1),
//!         source: Source::ObsEvent,
//!         update: ObsUpdate::ProgramScene("Live".into()),
//!     });
//! });
//! system.run().unwrap();
//! ```

use std::{
    collections::{BTreeMap, BTreeSet},
    ops::Deref,
    sync::Arc,
};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    board::{HubSnapshot, StatusBoard},
    fleet_status::{InstanceAction, InstanceChange},
    mirroring::{self, MirroredChange},
    model::InstanceStatus,
    update::{self, Change, ObsUpdate, Source},
};

/// Identifies which actor generation and which link a report comes from. It only grows for an
/// instance, so a late message from a link that has since dropped (or from an actor that has been
/// replaced) is recognised and ignored instead of overwriting fresher state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkOrigin(pub u64);

impl LinkOrigin {
    pub fn new(generation: u32, link: u32) -> Self {
        Self((u64::from(generation) << 32) | u64::from(link))
    }
}

/// Something learnt about one instance, sent by its connection actor.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Report {
    pub instance: String,
    pub origin: LinkOrigin,
    pub source: Source,
    pub update: ObsUpdate,
}

/// One numbered change, as subscribers receive it.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeEvent {
    pub seq: u64,
    pub instance: String,
    pub at: DateTime<Utc>,
    pub source: Source,
    #[serde(flatten)]
    pub change: Change,
    /// In a cluster of hubs, where the change stands in its instance's own sequence; None for
    /// a hub alone.
    #[serde(flatten)]
    pub cluster: Option<ClusterStamp>,
}

/// A change's place in a cluster of hubs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterStamp {
    /// The change's number among its instance's changes: gap-free per instance across every
    /// owner the instance has had (sent to clients as `instance_seq`).
    pub instance_seq: u64,
    /// The lease epoch it was numbered under: a node that has lost the lease since cannot
    /// write it any more.
    #[serde(skip)]
    pub epoch: u64,
    /// Relayed from the node that owns the instance: this node shows it to its clients, but
    /// its owner has already recorded it, sent its webhooks and run its rules.
    #[serde(skip)]
    pub mirrored: bool,
}

/// Pushed to every subscriber for every real change. Shared, not copied, across subscribers.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct StatusChanged(pub Arc<ChangeEvent>);

impl Deref for StatusChanged {
    type Target = ChangeEvent;
    fn deref(&self) -> &ChangeEvent {
        &self.0
    }
}

/// Registers a subscriber; it is dropped once its actor stops.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<StatusChanged>);

/// Answered at once: readiness checks use it to see that an actor is alive and not stuck.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping;

/// Marks the manager as running or stopped (the supervisor starts and stops the connections).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRunning(pub bool);

/// A callback: another hub's word about an instance. The manager alone decides whether it
/// changes the instance ([`update::callback_overruled`]); the answer says why not, if not. An
/// instance no link of this hub feeds is made known by its first callback (hub chaining).
#[derive(Message, Debug)]
#[rtype(result = "CallbackDecision")]
pub struct ApplyCallback {
    pub instance: String,
    pub update: ObsUpdate,
}

/// An instance added through the API while the hub runs: it goes on the board (fresh, linked:
/// callbacks no longer speak for it) before its connection starts, so its first report lands.
/// Answers false when an instance with a link of its own has that name already.
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub struct AddInstance {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// An instance's address changed through the API (its connection is restarted by the
/// supervisor). Answers false for an unknown instance.
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub struct MoveInstance {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// An instance removed through the API, once its connection has stopped: it leaves the board
/// and the metrics; its history stays. Answers false for an unknown instance.
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub struct RemoveInstance {
    pub name: String,
}

/// A change the hub itself makes known about an instance without changing its status (a rule
/// firing): numbered and pushed like any other, so history, webhooks and the WebSocket carry it.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Announce {
    pub instance: String,
    pub source: Source,
    pub change: Change,
}

/// A cluster node took an instance's lease: from now on its changes carry a [`ClusterStamp`]
/// under `epoch`, numbered from `next_seq` (one above the last change any owner wrote).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ClaimInstance {
    pub instance: String,
    pub epoch: u64,
    pub next_seq: u64,
}

/// A cluster node gave up (or lost) an instance's lease: its changes are no longer stamped.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ReleaseInstance {
    pub instance: String,
}

/// In a cluster: what the node owning `instance` wrote since this node last heard of it
/// (sent by the change feed). Unless this node holds the instance's lease itself, the owner's
/// status replaces the board's (the instance is added if unknown) and each change new to this
/// node is numbered in this node's `seq`, stamped `mirrored` with its `instance_seq`, published
/// and pushed like any other (see [`super::mirroring`]).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Mirror {
    pub instance: String,
    /// The owner's status of the instance and the `instance_seq` it was written at.
    pub status: Option<(u64, InstanceStatus)>,
    pub changes: Vec<MirroredChange>,
}

/// Applied (`Ok`), or the reason it was not.
pub type CallbackDecision = Result<(), &'static str>;

pub struct StatusManager {
    instances: BTreeMap<String, Arc<InstanceStatus>>,
    /// The instances this hub has a link of its own to (configured here).
    linked: BTreeSet<String>,
    latest_origin: BTreeMap<String, LinkOrigin>,
    seq: u64,
    running: bool,
    since: DateTime<Utc>,
    subscribers: Vec<Recipient<StatusChanged>>,
    board: StatusBoard,
    /// Per (instance, input) whose volume is moving: the ticket of the latest step. A settle
    /// timer whose ticket is no longer the latest was overtaken by a newer step.
    volume_tickets: BTreeMap<(String, String), u64>,
    next_ticket: u64,
    /// In a cluster: the instances whose lease this node holds, with the epoch and the next
    /// per-instance sequence number.
    claims: BTreeMap<String, Claim>,
}

/// An instance's lease as the numbering needs it.
#[derive(Clone, Copy, Debug)]
struct Claim {
    epoch: u64,
    next_seq: u64,
    /// The first number of this claim: below it, the previous owners' changes.
    first_seq: u64,
}

/// Fired [`super::audio_status::VOLUME_SETTLE`] after a volume step; settles the volume if no later
/// step came (see `status::audio_status`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
struct SettleVolume {
    instance: String,
    input: String,
    ticket: u64,
}

impl StatusManager {
    /// A manager for the given `(name, host, port)` instances, initially running.
    pub fn new(instances: &[(&str, &str, u16)]) -> Self {
        let now = Utc::now();
        let instances: BTreeMap<_, _> = instances
            .iter()
            .map(|(name, host, port)| {
                (
                    name.to_string(),
                    Arc::new(InstanceStatus::new(name, host, *port, now)),
                )
            })
            .collect();
        let board = StatusBoard::new(HubSnapshot {
            running: true,
            since: now,
            seq: 0,
            instances: instances.clone(),
        });
        Self {
            linked: instances.keys().cloned().collect(),
            instances,
            latest_origin: BTreeMap::new(),
            seq: 0,
            running: true,
            since: now,
            subscribers: Vec::new(),
            board,
            volume_tickets: BTreeMap::new(),
            next_ticket: 0,
            claims: BTreeMap::new(),
        }
    }

    /// The read side, for handlers that serve cached status.
    pub fn board(&self) -> StatusBoard {
        self.board.clone()
    }

    fn publish(&self) {
        self.board.publish(HubSnapshot {
            running: self.running,
            since: self.since,
            seq: self.seq,
            instances: self.instances.clone(),
        });
    }

    /// Gives each change its sequence number.
    fn number(
        &mut self,
        instance: &str,
        source: Source,
        changes: Vec<Change>,
        at: DateTime<Utc>,
    ) -> Vec<StatusChanged> {
        changes
            .into_iter()
            .map(|change| {
                self.seq += 1;
                record_metrics(instance, &change);
                let cluster = self.claims.get_mut(instance).map(|claim| {
                    let stamp = ClusterStamp {
                        instance_seq: claim.next_seq,
                        epoch: claim.epoch,
                        mirrored: false,
                    };
                    claim.next_seq += 1;
                    stamp
                });
                if let Some(stamp) = cluster {
                    // The snapshot says which of the instance's changes it includes.
                    if let Some(status) = self.instances.get_mut(instance) {
                        Arc::make_mut(status).instance_seq = Some(stamp.instance_seq);
                    }
                }
                StatusChanged(Arc::new(ChangeEvent {
                    cluster,
                    seq: self.seq,
                    instance: instance.to_string(),
                    at,
                    source,
                    change,
                }))
            })
            .collect()
    }

    /// Applies an update that passed its checks: numbers the changes, publishes, pushes.
    fn apply(&mut self, instance: &str, source: Source, update: ObsUpdate) {
        let Some(status) = self.instances.get_mut(instance) else {
            return;
        };
        let now = Utc::now();
        let status = Arc::make_mut(status);
        if source == Source::ObsEvent {
            status.last_event_at = Some(now);
        }
        let changes = update::apply(status, update, now);
        if !changes.is_empty() {
            status.seq = self.seq + changes.len() as u64;
        }
        let events = self.number(instance, source, changes, now);
        // Published before pushed: a subscriber that reads the board on receiving change `seq`
        // finds it at least that new. The WebSocket's snapshot-then-changes handshake relies on
        // this to leave no change out between the two.
        self.publish();
        self.notify(events);
    }

    fn notify(&mut self, events: Vec<StatusChanged>) {
        if events.is_empty() {
            return;
        }
        self.subscribers.retain(|subscriber| subscriber.connected());
        for event in events {
            for subscriber in &self.subscribers {
                subscriber.do_send(event.clone());
            }
        }
    }
}

fn record_metrics(instance: &str, change: &Change) {
    let metrics = crate::metrics::metrics();
    metrics
        .status_changes
        .with_label_values(&[instance, change.kind()])
        .inc();
    if let Change::ConnectionChanged { state, .. } = change {
        metrics.set_connection_state(instance, *state);
    }
}

impl Actor for StatusManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Reports arrive in bursts (every instance polls at once); a roomy mailbox avoids
        // back-pressuring the connection actors.
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<Report> for StatusManager {
    type Result = ();

    fn handle(&mut self, report: Report, ctx: &mut Self::Context) {
        if !self.instances.contains_key(&report.instance) {
            log::debug!("report for unknown instance {} ignored", report.instance);
            return;
        }
        let latest = self
            .latest_origin
            .entry(report.instance.clone())
            .or_insert(report.origin);
        if report.origin < *latest {
            return;
        }
        *latest = report.origin;
        if let ObsUpdate::Audio(update) = &report.update {
            if let Some(input) = update.moving_volume() {
                self.settle_later(&report.instance, input, ctx);
            }
        }
        self.apply(&report.instance, report.source, report.update);
    }
}

impl StatusManager {
    /// Schedules the settling of a moving volume; a later step reschedules it.
    fn settle_later(&mut self, instance: &str, input: &str, ctx: &mut Context<Self>) {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.volume_tickets
            .insert((instance.to_string(), input.to_string()), ticket);
        let settle = SettleVolume {
            instance: instance.to_string(),
            input: input.to_string(),
            ticket,
        };
        ctx.run_later(super::audio_status::VOLUME_SETTLE, move |_, ctx| {
            ctx.notify(settle)
        });
    }
}

impl Handler<SettleVolume> for StatusManager {
    type Result = ();

    fn handle(&mut self, settle: SettleVolume, _: &mut Self::Context) {
        let key = (settle.instance, settle.input);
        if self.volume_tickets.get(&key) != Some(&settle.ticket) {
            return;
        }
        self.volume_tickets.remove(&key);
        let (instance, input) = key;
        self.apply(
            &instance,
            Source::ObsEvent,
            ObsUpdate::Audio(super::audio_status::AudioUpdate::VolumeSettled(input)),
        );
    }
}

impl Handler<ApplyCallback> for StatusManager {
    type Result = CallbackDecision;

    /// Callbacks come from no link: they neither pass nor move the origin check.
    fn handle(&mut self, callback: ApplyCallback, _: &mut Self::Context) -> CallbackDecision {
        let name = callback.instance;
        let linked = self.linked.contains(&name);
        match self.instances.get(&name) {
            Some(status) => {
                update::callback_overruled(linked, status, &callback.update).map_or(Ok(()), Err)?
            }
            None => {
                log::info!(
                    "instance `{name}` added: it is known from callbacks only (no link of its own)"
                );
                let status = InstanceStatus::new(&name, "", 0, Utc::now());
                self.instances.insert(name.clone(), Arc::new(status));
            }
        }
        // Publishes the board even when nothing changed, so a new instance is on it.
        self.apply(&name, Source::Callback, callback.update);
        Ok(())
    }
}

impl StatusManager {
    /// Numbers and pushes an `instance_changed` for `name` (whose status the caller has set).
    fn instance_changed(&mut self, name: &str, action: InstanceAction, host: &str, port: u16) {
        let now = Utc::now();
        let change = Change::InstanceChanged(InstanceChange {
            action,
            host: host.to_string(),
            port,
        });
        let events = self.number(name, Source::Api, vec![change], now);
        if let Some(status) = self.instances.get_mut(name) {
            let status = Arc::make_mut(status);
            status.seq = self.seq;
            status.last_updated = now;
        }
        self.publish();
        self.notify(events);
    }
}

impl Handler<AddInstance> for StatusManager {
    type Result = bool;

    fn handle(&mut self, added: AddInstance, _: &mut Self::Context) -> bool {
        if self.linked.contains(&added.name) {
            return false;
        }
        // A callback-only instance of that name is replaced: from now on, its own link speaks.
        let status = InstanceStatus::new(&added.name, &added.host, added.port, Utc::now());
        self.instances.insert(added.name.clone(), Arc::new(status));
        self.linked.insert(added.name.clone());
        self.instance_changed(&added.name, InstanceAction::Added, &added.host, added.port);
        true
    }
}

impl Handler<MoveInstance> for StatusManager {
    type Result = bool;

    fn handle(&mut self, moved: MoveInstance, _: &mut Self::Context) -> bool {
        let Some(status) = self.instances.get_mut(&moved.name) else {
            return false;
        };
        let status = Arc::make_mut(status);
        status.host = moved.host.clone();
        status.port = moved.port;
        self.instance_changed(
            &moved.name,
            InstanceAction::Changed,
            &moved.host,
            moved.port,
        );
        true
    }
}

impl Handler<RemoveInstance> for StatusManager {
    type Result = bool;

    fn handle(&mut self, removed: RemoveInstance, _: &mut Self::Context) -> bool {
        let Some(status) = self.instances.get(&removed.name).cloned() else {
            return false;
        };
        // Numbered while the instance is still on the board, so that a subscriber reading
        // the board on receiving it still finds what was removed; then it goes.
        let now = Utc::now();
        let change = Change::InstanceChanged(InstanceChange {
            action: InstanceAction::Removed,
            host: status.host.clone(),
            port: status.port,
        });
        let events = self.number(&removed.name, Source::Api, vec![change], now);
        self.forget(&removed.name);
        self.publish();
        self.notify(events);
        true
    }
}

impl Handler<Announce> for StatusManager {
    type Result = ();

    fn handle(&mut self, announce: Announce, _: &mut Self::Context) {
        let events = self.number(
            &announce.instance,
            announce.source,
            vec![announce.change],
            Utc::now(),
        );
        // The board's sequence number follows, so a snapshot read after this change says so.
        self.publish();
        self.notify(events);
    }
}

impl Handler<ClaimInstance> for StatusManager {
    type Result = ();

    fn handle(&mut self, claim: ClaimInstance, _: &mut Self::Context) {
        self.claims.insert(
            claim.instance,
            Claim {
                epoch: claim.epoch,
                next_seq: claim.next_seq,
                first_seq: claim.next_seq,
            },
        );
    }
}

impl Handler<ReleaseInstance> for StatusManager {
    type Result = ();

    fn handle(&mut self, release: ReleaseInstance, _: &mut Self::Context) {
        self.claims.remove(&release.instance);
    }
}

impl Handler<Mirror> for StatusManager {
    type Result = ();

    fn handle(&mut self, mirror: Mirror, _: &mut Self::Context) {
        let name = mirror.instance;
        let mut changes = mirror.changes;
        let mut offered = mirror.status;
        // Held here: this node numbers the instance's changes itself and its own link speaks
        // for its status. Only the previous owner's last changes, relayed after the handover
        // and before this node's first change, are still shown.
        if let Some(claim) = self.claims.get(&name) {
            changes.retain(|change| change.instance_seq < claim.first_seq);
            offered = None;
        }
        let known = self
            .instances
            .get(&name)
            .map(|status| status.instance_seq.unwrap_or(0));
        let (status_seq, offered) = match offered {
            Some((seq, status)) => (Some(seq), Some(status)),
            None => (None, None),
        };
        let removal = changes.iter().any(|mirrored| {
            matches!(
                &mirrored.change,
                Change::InstanceChanged(InstanceChange {
                    action: InstanceAction::Removed,
                    ..
                })
            )
        });
        if removal && known.is_none() {
            // Gone here already (this node's lease keeper saw it leave the instance list).
            return;
        }
        let plan = mirroring::plan(known, status_seq, changes);
        if plan.is_empty() {
            return;
        }
        let previous_seq = self.instances.get(&name).map_or(0, |status| status.seq);
        if let Some(mut status) = offered.filter(|_| plan.replace_status) {
            // The owner's hub-wide numbering means nothing here.
            status.seq = previous_seq;
            self.instances.insert(name.clone(), Arc::new(status));
        }
        let events: Vec<StatusChanged> = plan
            .changes
            .into_iter()
            .map(|mirrored| {
                self.seq += 1;
                record_metrics(&name, &mirrored.change);
                StatusChanged(Arc::new(ChangeEvent {
                    seq: self.seq,
                    instance: name.clone(),
                    at: mirrored.at,
                    source: mirrored.source,
                    change: mirrored.change,
                    cluster: Some(ClusterStamp {
                        instance_seq: mirrored.instance_seq,
                        epoch: mirrored.epoch,
                        mirrored: true,
                    }),
                }))
            })
            .collect();
        if let Some(status) = self.instances.get_mut(&name) {
            let status = Arc::make_mut(status);
            status.instance_seq = Some(plan.instance_seq);
            if !events.is_empty() {
                status.seq = self.seq;
            }
        }
        if removal {
            // As `RemoveInstance`: numbered while on the board, then gone (or the feed's next
            // status would bring it back on this node).
            self.forget(&name);
        }
        // Published before pushed, as every change (see `apply`).
        self.publish();
        self.notify(events);
    }
}

impl StatusManager {
    /// Takes an instance off the board (its history stays).
    fn forget(&mut self, name: &str) {
        self.instances.remove(name);
        self.linked.remove(name);
        // `latest_origin` is kept: a late report of the stopped link stays ignored if the name
        // is added again.
        self.volume_tickets
            .retain(|(instance, _), _| instance != name);
        crate::metrics::metrics().forget_instance(name);
    }
}

impl Handler<Ping> for StatusManager {
    type Result = ();

    fn handle(&mut self, _: Ping, _: &mut Self::Context) {}
}

impl Handler<Subscribe> for StatusManager {
    type Result = ();

    fn handle(&mut self, Subscribe(subscriber): Subscribe, _: &mut Self::Context) {
        self.subscribers.push(subscriber);
    }
}

impl Handler<SetRunning> for StatusManager {
    type Result = ();

    fn handle(&mut self, SetRunning(running): SetRunning, _: &mut Self::Context) {
        if self.running == running {
            return;
        }
        // The connection actors report their own states (stopped, connecting) as they go.
        self.running = running;
        self.since = Utc::now();
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{model::ConnectionState, update::ConnectionReport};

    fn connected() -> ObsUpdate {
        ObsUpdate::Connection(ConnectionReport {
            state: ConnectionState::Connected,
            error: None,
            attempts: 0,
            next_attempt_at: None,
            versions: None,
        })
    }

    #[actix_web::test]
    async fn the_manager_decides_whether_a_callback_changes_an_instance() {
        let manager = StatusManager::new(&[("studio", "127.0.0.1", 4455)]);
        let board = manager.board();
        let manager = manager.start();
        let scene = |instance: &str, name: &str| ApplyCallback {
            instance: instance.into(),
            update: ObsUpdate::ProgramScene(name.into()),
        };
        let current = |instance: &str| {
            board
                .current()
                .instance(instance)
                .and_then(|status| status.current_scene.clone())
        };
        // Its own link is down: the callback fills the cache in.
        assert_eq!(manager.send(scene("studio", "Live")).await.unwrap(), Ok(()));
        assert_eq!(current("studio").as_deref(), Some("Live"));
        // Its own link is up: OBS's word wins, and the answer says so.
        manager
            .send(Report {
                instance: "studio".into(),
                origin: LinkOrigin::new(1, 1),
                source: Source::Connection,
                update: connected(),
            })
            .await
            .unwrap();
        let refused = manager.send(scene("studio", "BRB")).await.unwrap();
        assert!(refused.is_err_and(|reason| reason.contains("connected")));
        assert_eq!(current("studio").as_deref(), Some("Live"));
        // Nor may a callback say what the link's state is.
        assert!(manager
            .send(ApplyCallback {
                instance: "studio".into(),
                update: connected(),
            })
            .await
            .unwrap()
            .is_err());
        // An instance no link feeds is made known by its first callback and follows them.
        assert_eq!(
            manager.send(scene("remote", "Intro")).await.unwrap(),
            Ok(())
        );
        assert_eq!(current("remote").as_deref(), Some("Intro"));
    }

    #[actix_web::test]
    async fn instances_join_and_leave_the_board_with_a_numbered_change() {
        let manager = StatusManager::new(&[("studio", "127.0.0.1", 4455)]);
        let board = manager.board();
        let manager = manager.start();
        let report = |origin: u32| Report {
            instance: "booth".into(),
            origin: LinkOrigin::new(origin, 1),
            source: Source::Connection,
            update: connected(),
        };
        let added = AddInstance {
            name: "booth".into(),
            host: "127.0.0.1".into(),
            port: 4460,
        };
        assert!(manager.send(added).await.unwrap());
        let snapshot = board.current();
        assert_eq!(snapshot.seq, 1, "instance_changed is numbered");
        assert_eq!(snapshot.instances["booth"].port, 4460);
        // A linked instance now: its link's reports land, callbacks no longer speak for it.
        manager.send(report(1)).await.unwrap();
        assert!(board.current().instances["booth"].is_connected());
        let callback = ApplyCallback {
            instance: "booth".into(),
            update: ObsUpdate::ProgramScene("Live".into()),
        };
        assert!(manager.send(callback).await.unwrap().is_err());
        let again = AddInstance {
            name: "booth".into(),
            host: "127.0.0.1".into(),
            port: 4461,
        };
        assert!(
            !manager.send(again).await.unwrap(),
            "one of that name exists"
        );

        assert!(manager
            .send(RemoveInstance {
                name: "booth".into()
            })
            .await
            .unwrap());
        let seq = board.current().seq;
        assert!(board.current().instance("booth").is_none());
        // The stopped link's late report is ignored: nothing comes back.
        manager.send(report(1)).await.unwrap();
        assert!(board.current().instance("booth").is_none());
        assert_eq!(board.current().seq, seq);
        assert!(!manager
            .send(RemoveInstance {
                name: "booth".into()
            })
            .await
            .unwrap());
    }

    /// Records what a subscriber is pushed.
    struct Seen(Arc<std::sync::Mutex<Vec<StatusChanged>>>);
    impl Actor for Seen {
        type Context = Context<Self>;
    }
    impl Handler<StatusChanged> for Seen {
        type Result = ();
        fn handle(&mut self, event: StatusChanged, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(event);
        }
    }

    #[actix_web::test]
    async fn mirrored_changes_are_numbered_here_once_each_unless_the_instance_is_held_here() {
        let manager = StatusManager::new(&[("studio", "127.0.0.1", 4455)]);
        let board = manager.board();
        let manager = manager.start();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        manager
            .send(Subscribe(Seen(seen.clone()).start().recipient()))
            .await
            .unwrap();
        let scene = |instance_seq: u64| MirroredChange {
            instance_seq,
            epoch: 4,
            at: Utc::now(),
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: format!("scene {instance_seq}"),
                previous: None,
            },
        };
        let owners = |instance_seq: u64, scene: &str| {
            let mut status = InstanceStatus::new("remote", "10.0.0.9", 4455, Utc::now());
            status.current_scene = Some(scene.into());
            status.seq = 999;
            status.instance_seq = Some(instance_seq);
            (instance_seq, status)
        };
        // An instance of another node: added, its changes numbered in this node's sequence.
        manager
            .send(Mirror {
                instance: "remote".into(),
                status: Some(owners(2, "scene 2")),
                changes: vec![scene(1), scene(2)],
            })
            .await
            .unwrap();
        // Repeated by a sweep, with one more: only the new one is shown.
        manager
            .send(Mirror {
                instance: "remote".into(),
                status: Some(owners(3, "scene 3")),
                changes: vec![scene(2), scene(3)],
            })
            .await
            .unwrap();
        let remote = board.current().instances["remote"].clone();
        assert_eq!(remote.current_scene.as_deref(), Some("scene 3"));
        assert_eq!((remote.seq, remote.instance_seq), (3, Some(3)));
        {
            let seen = seen.lock().unwrap();
            let numbered: Vec<_> = seen
                .iter()
                .map(|event| (event.seq, event.cluster.map(|stamp| stamp.instance_seq)))
                .collect();
            assert_eq!(numbered, [(1, Some(1)), (2, Some(2)), (3, Some(3))]);
            assert!(seen.iter().all(|event| event
                .cluster
                .is_some_and(|stamp| stamp.mirrored && stamp.epoch == 4)));
        }
        // Held here from 4 on: this node numbers its changes itself; a relay of them (and of
        // the owner's status) changes nothing.
        manager
            .send(ClaimInstance {
                instance: "remote".into(),
                epoch: 5,
                next_seq: 4,
            })
            .await
            .unwrap();
        manager
            .send(Mirror {
                instance: "remote".into(),
                status: Some(owners(4, "scene 4")),
                changes: vec![scene(4)],
            })
            .await
            .unwrap();
        assert_eq!(
            board.current().instances["remote"].current_scene.as_deref(),
            Some("scene 3")
        );
        assert_eq!(seen.lock().unwrap().len(), 3);
        // Claimed from 6 on: the previous owner's 5, relayed late, is still shown (but not its
        // status); its 6 is this node's own number, and is not.
        manager
            .send(ClaimInstance {
                instance: "remote".into(),
                epoch: 6,
                next_seq: 6,
            })
            .await
            .unwrap();
        manager
            .send(Mirror {
                instance: "remote".into(),
                status: Some(owners(6, "scene 6")),
                changes: vec![scene(5), scene(6)],
            })
            .await
            .unwrap();
        let late: Vec<_> = seen.lock().unwrap()[3..]
            .iter()
            .map(|event| event.cluster.map(|stamp| stamp.instance_seq))
            .collect();
        assert_eq!(late, [Some(5)]);
        assert_eq!(
            board.current().instances["remote"].current_scene.as_deref(),
            Some("scene 3")
        );
    }
}
