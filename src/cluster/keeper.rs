//! The `LeaseKeeper` actor, one per cluster node: every heartbeat it writes the node's heartbeat,
//! reads the instance list (the config file's and the API's, stored in the database, so that an
//! instance added through any node reaches every node), reads the nodes and leases, plans
//! ([`super::lease_plan`]), acts, and publishes the [`ClusterView`] into [`Ownership`].
//!
//! Acting, in the order that keeps every change of an instance under exactly one epoch:
//! - acquired: `ClaimInstance{epoch, next_seq}` to the status manager FIRST, then the
//!   connection is started (`obs::Own`), so its very first change is stamped;
//! - released (a node joined, or the instance is gone): the connection stopped (awaited: it
//!   reports `stopped` before answering), its last changes let through to the history (the
//!   flush), `ReleaseInstance`, and only then the row released;
//! - lost (the database says another owner or epoch), or renewals failing for longer than a
//!   lease minus one heartbeat (the database unreachable: another node may take over once the
//!   lease ends): the connections stopped at once, without waiting for the database
//!   (self-fencing).
//!
//! The database work runs on tokio's blocking threads, on a connection of the keeper's own (not
//! the pool's: a heartbeat must never queue behind history reads), each step bounded by a
//! heartbeat.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    pin::Pin,
    rc::Rc,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::{
    lease_plan::{self, Plan, Situation},
    store::{self, Reading},
    Halt, NodeStarts, DUTIES,
};
use crate::{
    config::{ClusterSettings, DatabaseLocation, InstanceConfig},
    db::{backend::Conn, pool::ConnectionOptions, queries, Persistence},
    fleet::instances::ManagedInstances,
    obs::{AddConnection, ConnectionSupervisor, Disown, Own, RemoveConnection, ReplaceConnection},
    status::{
        ownership::{ClusterView, LeaseView, NodeView, Ownership},
        AddInstance, ClaimInstance, MoveInstance, Ping, ReleaseInstance, RemoveInstance,
        StatusManager,
    },
};

/// Lets an instance's last changes reach the database before its lease is released, so that
/// the next owner numbers on from the last one written: a round trip through the status
/// manager (its pushes to the recorder are then in the recorder's mailbox), then the
/// recorder's flush.
type Flush = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>>;

fn is_duty(name: &str) -> bool {
    name.starts_with("duty:")
}

/// The keeper's own database connection, opened on first use and again after any failure.
#[derive(Clone)]
struct Db {
    conn: Arc<Mutex<Option<Conn>>>,
    location: DatabaseLocation,
    options: ConnectionOptions,
    /// The longest one step may take before the round counts as failed.
    limit: Duration,
}

impl Db {
    /// Runs `work` on a blocking thread; an error (or a step still running from an earlier
    /// round) answers its text, and drops the connection so the next round opens a new one.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let db = self.clone();
        let job = actix_web::rt::task::spawn_blocking(move || {
            let Ok(mut slot) = db.conn.try_lock() else {
                return Err("the previous database step is still running".to_string());
            };
            if slot.is_none() {
                let mut conn = crate::db::pool::establish(&db.location, db.options)
                    .map_err(|error| error.to_string())?;
                // A statement the server sits on must not outlast the step (the thread would
                // hold the connection while later rounds fail).
                diesel::connection::SimpleConnection::batch_execute(
                    &mut conn,
                    &format!("SET statement_timeout = {}", db.limit.as_millis()),
                )
                .map_err(text)?;
                *slot = Some(conn);
            }
            let conn = slot.as_mut().expect("opened above");
            let result = work(conn);
            if result.is_err() {
                *slot = None;
            }
            result
        });
        match tokio::time::timeout(self.limit, job).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(format!("the database step failed: {join}")),
            Err(_) => Err(format!(
                "the database did not answer within {} ms",
                self.limit.as_millis()
            )),
        }
    }
}

fn text(error: diesel::result::Error) -> String {
    error.to_string()
}

/// What a node needs to keep its leases.
pub struct KeeperParts {
    pub cluster: ClusterSettings,
    pub location: DatabaseLocation,
    pub options: ConnectionOptions,
    /// The config file's instances (they win over a stored one of the same name).
    pub configured: Vec<InstanceConfig>,
    /// Every instance the status manager and the supervisor know at start.
    pub known: Vec<InstanceConfig>,
    pub manager: Addr<StatusManager>,
    pub supervisor: Addr<ConnectionSupervisor>,
    pub ownership: Ownership,
    pub starts: NodeStarts,
    /// The instances made through the API, as this node's fleet routes know them.
    pub managed: ManagedInstances,
    /// The history (flushed before a lease is released).
    pub persistence: Persistence,
}

pub struct LeaseKeeper {
    me: String,
    address: String,
    lease: Duration,
    heartbeat: Duration,
    db: Db,
    configured: BTreeMap<String, InstanceConfig>,
    known: BTreeMap<String, InstanceConfig>,
    /// The instances stored in the database at the last round.
    stored: BTreeSet<String>,
    manager: Addr<StatusManager>,
    supervisor: Addr<ConnectionSupervisor>,
    ownership: Ownership,
    starts: NodeStarts,
    managed: ManagedInstances,
    flush: Flush,
    /// What this node holds: lease name and epoch.
    held: BTreeMap<String, u64>,
    /// The first heartbeat (which sets `started_at`) is written.
    announced: bool,
    /// When the last round whose renewals all reached the database began: every lease held was
    /// good until at least a lease after it.
    confirmed: Option<Instant>,
    /// A round is under way.
    busy: bool,
    halted: bool,
    /// Bumped by every self-fencing, so that a round under way acts on nothing it acquired.
    fences: Arc<AtomicU64>,
}

impl LeaseKeeper {
    pub fn new(parts: KeeperParts) -> Self {
        let heartbeat = parts.cluster.heartbeat();
        let (manager, persistence) = (parts.manager.clone(), parts.persistence);
        let flush: Flush = Rc::new(move || {
            let (manager, persistence) = (manager.clone(), persistence.clone());
            Box::pin(async move {
                let _ = manager.send(Ping).await;
                if !persistence.flush(heartbeat).await {
                    log::warn!(
                        "cluster: the history did not take an instance's last changes within \
                         {} ms; its lease is released anyway",
                        heartbeat.as_millis()
                    );
                }
            })
        });
        Self {
            me: parts.cluster.node_id.clone(),
            address: parts.cluster.address.clone(),
            lease: parts.cluster.lease,
            heartbeat,
            db: Db {
                conn: Default::default(),
                location: parts.location,
                options: parts.options,
                limit: heartbeat,
            },
            configured: by_name(parts.configured),
            known: by_name(parts.known),
            stored: BTreeSet::new(),
            manager: parts.manager,
            supervisor: parts.supervisor,
            ownership: parts.ownership,
            starts: parts.starts,
            managed: parts.managed,
            flush,
            held: BTreeMap::new(),
            announced: false,
            confirmed: None,
            busy: false,
            halted: false,
            fences: Default::default(),
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.halted {
            return;
        }
        self.fence_if_overdue();
        if self.busy {
            return;
        }
        self.busy = true;
        let round = Round {
            me: self.me.clone(),
            address: self.address.clone(),
            lease: self.lease,
            db: self.db.clone(),
            configured: self.configured.clone(),
            known: self.known.clone(),
            held: self.held.clone(),
            stored_before: self.stored.clone(),
            announced: self.announced,
            manager: self.manager.clone(),
            supervisor: self.supervisor.clone(),
            managed: self.managed.clone(),
            flush: self.flush.clone(),
            fences: self.fences.clone(),
            fence: self.fences.load(Ordering::SeqCst),
        };
        ctx.spawn(
            round
                .run()
                .into_actor(self)
                .map(|outcome, act, _| act.finish(outcome)),
        );
    }

    /// Stops every connection at once when the leases may have ended without this node
    /// knowing: no renewal confirmed for a lease minus one heartbeat.
    fn fence_if_overdue(&mut self) {
        let Some(confirmed) = self.confirmed else {
            return;
        };
        let margin = self.lease.saturating_sub(self.heartbeat);
        if self.held.is_empty() || confirmed.elapsed() < margin {
            return;
        }
        log::error!(
            "cluster: no lease renewal reached the database for {} ms; giving up this node's {} \
             lease(s) (connections stopped) before another node takes them over",
            confirmed.elapsed().as_millis(),
            self.held.len()
        );
        let held = std::mem::take(&mut self.held);
        self.fence(held.into_keys().collect());
        self.publish_without_mine();
    }

    /// Stops `names` at once (without the database): the connection, then the stamping.
    fn fence(&mut self, names: Vec<String>) {
        self.fences.fetch_add(1, Ordering::SeqCst);
        for name in names {
            stop_at_once(&self.supervisor, &self.manager, name);
        }
    }

    /// The view, with nothing held by this node any more.
    fn publish_without_mine(&self) {
        if let Some(mut view) = self.ownership.view() {
            for lease in view.leases.values_mut() {
                if lease.owner.as_deref() == Some(self.me.as_str()) {
                    lease.owner = None;
                }
            }
            self.publish(view);
        }
    }

    /// Publishes `view` to every reader of [`Ownership`], and this node's leases to the
    /// metrics.
    fn publish(&self, view: ClusterView) {
        let held = view
            .leases
            .iter()
            .filter(|(_, lease)| lease.owner.as_deref() == Some(self.me.as_str()))
            .map(|(name, _)| name.as_str());
        crate::metrics::metrics().set_cluster_leases(&self.me, held);
        self.ownership.publish(view);
    }

    fn finish(&mut self, outcome: Outcome) {
        self.busy = false;
        self.known = outcome.known;
        self.stored = outcome.stored;
        self.announced |= outcome.announced;
        if let Some(began) = outcome.confirmed {
            self.confirmed = Some(began);
        }
        for name in &outcome.lost {
            self.held.remove(name);
        }
        for name in &outcome.released {
            self.held.remove(name);
        }
        if self.fences.load(Ordering::SeqCst) != outcome.fence || self.halted {
            // Fenced (or halted) while the round ran: whatever it took is stopped as well.
            let taken: Vec<String> = outcome.acquired.into_iter().map(|(name, _)| name).collect();
            self.fence(taken);
            self.held.clear();
            self.publish_without_mine();
            return;
        }
        self.held.extend(outcome.acquired);
        if let Some(reading) = outcome.reading {
            self.starts.set(
                reading
                    .nodes
                    .iter()
                    .map(|node| (node.node_id.clone(), node.started_at.and_utc()))
                    .collect(),
            );
            self.publish(view_of(&self.me, self.lease, &reading, &self.held));
        }
        self.fence_if_overdue();
    }
}

fn by_name(instances: Vec<InstanceConfig>) -> BTreeMap<String, InstanceConfig> {
    instances
        .into_iter()
        .map(|instance| (instance.name.clone(), instance))
        .collect()
}

/// Stops an instance's connection, then its stamping, without waiting for the caller.
fn stop_at_once(
    supervisor: &Addr<ConnectionSupervisor>,
    manager: &Addr<StatusManager>,
    name: String,
) {
    if is_duty(&name) {
        return;
    }
    let (supervisor, manager) = (supervisor.clone(), manager.clone());
    actix::spawn(async move {
        let _ = supervisor.send(Disown(name.clone())).await;
        let _ = manager.send(ReleaseInstance { instance: name }).await;
    });
}

/// The view published after a round: what was read, with this node's own leases as it now
/// holds them (acquired and renewed ones good for a lease from the read, released ones free).
pub fn view_of(
    me: &str,
    lease: Duration,
    reading: &Reading,
    held: &BTreeMap<String, u64>,
) -> ClusterView {
    let until = reading.now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let heartbeats: BTreeMap<String, DateTime<Utc>> = reading
        .nodes
        .iter()
        .map(|node| (node.node_id.clone(), node.heartbeat_at.and_utc()))
        .collect();
    let live = lease_plan::live_nodes(me, reading.now, lease, &heartbeats);
    let nodes = reading
        .nodes
        .iter()
        .map(|node| {
            (
                node.node_id.clone(),
                NodeView {
                    address: node.address.clone(),
                    heartbeat_at: node.heartbeat_at.and_utc(),
                    live: live.contains(&node.node_id),
                },
            )
        })
        .collect();
    let mut leases: BTreeMap<String, LeaseView> = reading
        .leases
        .iter()
        .map(|row| {
            let mine = row.owner.as_deref() == Some(me);
            let view = if mine && !held.contains_key(&row.name) {
                // Released this round (or a former life's): not this node's.
                LeaseView {
                    owner: None,
                    epoch: row.epoch as u64,
                    expires_at: None,
                }
            } else {
                LeaseView {
                    owner: row.owner.clone(),
                    epoch: row.epoch as u64,
                    expires_at: row.expires_at.map(|at| at.and_utc()),
                }
            };
            (row.name.clone(), view)
        })
        .collect();
    for (name, epoch) in held {
        leases.insert(
            name.clone(),
            LeaseView {
                owner: Some(me.to_string()),
                epoch: *epoch,
                expires_at: Some(until),
            },
        );
    }
    ClusterView {
        me: me.to_string(),
        leases,
        nodes,
        read_at: Some(reading.now),
    }
}

/// One heartbeat's work, off the actor (its state travels in and out).
struct Round {
    me: String,
    address: String,
    lease: Duration,
    db: Db,
    configured: BTreeMap<String, InstanceConfig>,
    known: BTreeMap<String, InstanceConfig>,
    held: BTreeMap<String, u64>,
    /// The instances stored in the database at the previous round.
    stored_before: BTreeSet<String>,
    announced: bool,
    manager: Addr<StatusManager>,
    supervisor: Addr<ConnectionSupervisor>,
    managed: ManagedInstances,
    flush: Flush,
    fences: Arc<AtomicU64>,
    /// The fence count when the round began.
    fence: u64,
}

/// What a round did.
struct Outcome {
    known: BTreeMap<String, InstanceConfig>,
    /// The instances stored in the database at this round.
    stored: BTreeSet<String>,
    announced: bool,
    /// When the round began, if every renewal reached the database.
    confirmed: Option<Instant>,
    reading: Option<Reading>,
    acquired: Vec<(String, u64)>,
    released: Vec<String>,
    lost: Vec<String>,
    fence: u64,
}

/// What the first database step of a round reads.
struct Heard {
    reading: Reading,
    stored: Vec<InstanceConfig>,
}

impl Round {
    async fn run(mut self) -> Outcome {
        let began = Instant::now();
        let mut outcome = Outcome {
            known: std::mem::take(&mut self.known),
            stored: self.stored_before.clone(),
            announced: false,
            confirmed: None,
            reading: None,
            acquired: Vec::new(),
            released: Vec::new(),
            lost: Vec::new(),
            fence: self.fence,
        };
        let (me, address, starting) = (self.me.clone(), self.address.clone(), !self.announced);
        let heard = self
            .db
            .run(move |conn| {
                let stored = queries::managed::instances(conn).map_err(text)?;
                let pg = store::postgres(conn).map_err(text)?;
                store::heartbeat(pg, &me, &address, starting).map_err(text)?;
                let reading = store::read(pg).map_err(text)?;
                let stored = stored
                    .iter()
                    .filter_map(crate::fleet::store::instance_of)
                    .collect();
                Ok(Heard { reading, stored })
            })
            .await;
        let heard = match heard {
            Ok(heard) => heard,
            Err(error) => {
                log::warn!("cluster: heartbeat failed: {error}");
                return outcome;
            }
        };
        outcome.announced = true;
        let instances = self
            .sync_instances(&mut outcome.known, &mut outcome.stored, heard.stored)
            .await;

        let leases: BTreeMap<String, LeaseView> = heard
            .reading
            .leases
            .iter()
            .map(|row| {
                (
                    row.name.clone(),
                    LeaseView {
                        owner: row.owner.clone(),
                        epoch: row.epoch as u64,
                        expires_at: row.expires_at.map(|at| at.and_utc()),
                    },
                )
            })
            .collect();
        let heartbeats: BTreeMap<String, DateTime<Utc>> = heard
            .reading
            .nodes
            .iter()
            .map(|node| (node.node_id.clone(), node.heartbeat_at.and_utc()))
            .collect();
        let live = lease_plan::live_nodes(&self.me, heard.reading.now, self.lease, &heartbeats);
        let names: BTreeSet<String> = instances
            .into_iter()
            .chain(DUTIES.iter().map(|duty| duty.to_string()))
            .collect();
        let plan = lease_plan::plan(&Situation {
            me: &self.me,
            now: heard.reading.now,
            live: &live,
            leases: &leases,
            names: &names,
            held: &self.held,
        });
        outcome.reading = Some(heard.reading);
        self.act(plan, began, &mut outcome).await;
        outcome
    }

    /// Brings the status manager and the supervisor to the instance list: the config file's
    /// and the stored ones (the file's win). Answers every instance's name.
    async fn sync_instances(
        &self,
        known: &mut BTreeMap<String, InstanceConfig>,
        stored_now: &mut BTreeSet<String>,
        stored: Vec<InstanceConfig>,
    ) -> Vec<String> {
        let mut wanted = self.configured.clone();
        let stored: BTreeMap<String, InstanceConfig> = by_name(stored)
            .into_iter()
            .filter(|(name, _)| !self.configured.contains_key(name))
            .collect();
        // Changed through this node's own routes, which told the manager and the supervisor
        // already: not twice.
        let changed_here: BTreeSet<&String> = stored
            .iter()
            .filter(|(name, instance)| self.managed.get(name).as_ref() == Some(*instance))
            .map(|(name, _)| name)
            .collect();
        // This node's fleet routes answer for instances made through any node. Only one read
        // at the previous heartbeat too: a route of this node that has just stored one is
        // still to register it itself (and would take one already there for a name taken).
        for (name, instance) in &stored {
            if self.stored_before.contains(name)
                && self.managed.get(name).as_ref() != Some(instance)
            {
                self.managed.replace(instance.clone());
            }
            wanted.insert(name.clone(), instance.clone());
        }
        *stored_now = stored.keys().cloned().collect();
        for (name, instance) in &wanted {
            match known.get(name) {
                None => {
                    // The board first, then the connection (which waits for its lease).
                    let _ = self
                        .manager
                        .send(AddInstance {
                            name: name.clone(),
                            host: instance.host.clone(),
                            port: instance.port,
                        })
                        .await;
                    let _ = self.supervisor.send(AddConnection(instance.clone())).await;
                }
                Some(before) if before != instance && !changed_here.contains(name) => {
                    if (&before.host, before.port) != (&instance.host, instance.port) {
                        let _ = self
                            .manager
                            .send(MoveInstance {
                                name: name.clone(),
                                host: instance.host.clone(),
                                port: instance.port,
                            })
                            .await;
                    }
                    let _ = self
                        .supervisor
                        .send(ReplaceConnection(instance.clone()))
                        .await;
                }
                Some(_) => {}
            }
        }
        let gone: Vec<String> = known
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in &gone {
            self.managed.remove(name);
        }
        for name in gone {
            // One held is released by the plan first, then forgotten (see `forget_if_gone`).
            if !self.held.contains_key(&name) {
                self.forget(&name).await;
            }
        }
        let names = wanted.keys().cloned().collect();
        *known = wanted;
        names
    }

    async fn act(&mut self, plan: Plan, began: Instant, outcome: &mut Outcome) {
        // Lost: stop at once, before anything else.
        for name in &plan.lost {
            log::warn!("cluster: lease `{name}` is no longer this node's; stopping it");
            self.stop(name, &outcome.known).await;
        }
        outcome.lost.extend(plan.lost);

        let (me, lease) = (self.me.clone(), self.lease);
        let renew = plan.renew.clone();
        let acquire = plan.acquire.clone();
        let taken = self
            .db
            .run(move |conn| {
                let pg = store::postgres(conn).map_err(text)?;
                let renewed = store::renew(pg, &renew, &me, lease).map_err(text)?;
                let mut acquired = Vec::new();
                for name in &acquire {
                    if let Some(epoch) = store::acquire(pg, name, &me, lease).map_err(text)? {
                        let next_seq = if is_duty(name) {
                            0
                        } else {
                            store::next_seq(pg, name).map_err(text)?
                        };
                        acquired.push((name.clone(), epoch, next_seq));
                    }
                }
                Ok((renewed, acquired))
            })
            .await;
        let (renewed, acquired) = match taken {
            Ok(taken) => taken,
            Err(error) => {
                log::warn!("cluster: renewing leases failed: {error}");
                // Nothing known to be lost; the fence stops everything if this goes on.
                return;
            }
        };
        outcome.confirmed = Some(began);
        for (name, _) in &plan.renew {
            if !renewed.contains(name) {
                log::warn!("cluster: lease `{name}` was taken over; stopping it");
                self.stop(name, &outcome.known).await;
                outcome.lost.push(name.clone());
            }
        }
        for (name, epoch, next_seq) in acquired {
            if self.fences.load(Ordering::SeqCst) != self.fence {
                // Fenced meanwhile: take nothing on; the caller stops what was acquired.
                outcome.acquired.push((name, epoch));
                continue;
            }
            if !is_duty(&name) {
                // The stamp first, so that the connection's very first change carries it.
                let _ = self
                    .manager
                    .send(ClaimInstance {
                        instance: name.clone(),
                        epoch,
                        next_seq,
                    })
                    .await;
                let _ = self.supervisor.send(Own(name.clone())).await;
            }
            log::info!("cluster: took `{name}` (epoch {epoch})");
            outcome.acquired.push((name, epoch));
        }

        for (name, epoch) in plan.release {
            self.stop(&name, &outcome.known).await;
            let me = self.me.clone();
            let row = name.clone();
            match self
                .db
                .run(move |conn| {
                    store::release(store::postgres(conn).map_err(text)?, &row, &me, epoch)
                        .map_err(text)
                })
                .await
            {
                Ok(_) => log::info!("cluster: handed `{name}` over (epoch {epoch})"),
                // It expires by itself a lease from its last renewal.
                Err(error) => log::warn!("cluster: releasing `{name}` failed: {error}"),
            }
            outcome.released.push(name);
        }
    }

    /// Stops an instance's connection (awaited), forgets it if it was removed from the list
    /// meanwhile, lets its last changes through, then stops stamping its changes.
    async fn stop(&self, name: &str, known: &BTreeMap<String, InstanceConfig>) {
        if is_duty(name) {
            return;
        }
        let _ = self.supervisor.send(Disown(name.to_string())).await;
        if !known.contains_key(name) {
            // Numbered while still held, so its removal is relayed: the other nodes take it off
            // their boards too (and drop its status row), whatever they mirrored before.
            self.forget(name).await;
        }
        (self.flush)().await;
        let _ = self
            .manager
            .send(ReleaseInstance {
                instance: name.to_string(),
            })
            .await;
    }

    /// An instance gone from the list: its connection (awaited), then its place on the board.
    async fn forget(&self, name: &str) {
        let _ = self
            .supervisor
            .send(RemoveConnection(name.to_string()))
            .await;
        let _ = self
            .manager
            .send(RemoveInstance {
                name: name.to_string(),
            })
            .await;
    }
}

impl Actor for LeaseKeeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.tick(ctx);
        ctx.run_interval(self.heartbeat, |act, ctx| act.tick(ctx));
    }
}

impl Handler<Halt> for LeaseKeeper {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, Halt { leave }: Halt, _: &mut Self::Context) -> Self::Result {
        self.halted = true;
        let held = std::mem::take(&mut self.held);
        self.fences.fetch_add(1, Ordering::SeqCst);
        self.publish_without_mine();
        let (supervisor, manager, flush) = (
            self.supervisor.clone(),
            self.manager.clone(),
            self.flush.clone(),
        );
        let (db, me) = (self.db.clone(), self.me.clone());
        Box::pin(
            async move {
                for name in held.keys().filter(|name| !is_duty(name)) {
                    let _ = supervisor.send(Disown(name.clone())).await;
                    if leave {
                        flush().await;
                    }
                    let _ = manager
                        .send(ReleaseInstance {
                            instance: name.clone(),
                        })
                        .await;
                }
                if !leave {
                    return;
                }
                let left = db
                    .run(move |conn| {
                        let pg = store::postgres(conn).map_err(text)?;
                        for (name, epoch) in &held {
                            store::release(pg, name, &me, *epoch).map_err(text)?;
                        }
                        store::leave(pg, &me).map_err(text)
                    })
                    .await;
                if let Err(error) = left {
                    log::warn!("cluster: leaving the cluster failed (the leases expire by themselves): {error}");
                }
            }
            .into_actor(self),
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDateTime;

    use super::*;
    use crate::cluster::store::{LeaseRow, NodeRow};

    fn at(seconds: i64) -> NaiveDateTime {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn the_view_shows_what_this_node_now_holds_and_which_nodes_live() {
        let node = |id: &str, heartbeat: i64| NodeRow {
            node_id: id.into(),
            address: format!("http://127.0.0.1:{}", heartbeat.abs()),
            started_at: at(-100),
            heartbeat_at: at(heartbeat),
        };
        let lease = |name: &str, owner: &str, epoch| LeaseRow {
            name: name.into(),
            owner: Some(owner.into()),
            epoch,
            expires_at: Some(at(5)),
        };
        let reading = Reading {
            now: at(0).and_utc(),
            nodes: vec![node("me", -1), node("other", -2), node("dead", -30)],
            leases: vec![
                lease("kept", "me", 3),
                lease("released", "me", 4),
                lease("theirs", "other", 1),
            ],
        };
        let held: BTreeMap<String, u64> = [("kept".to_string(), 3), ("new".to_string(), 1)].into();
        let view = view_of("me", Duration::from_secs(10), &reading, &held);
        assert_eq!(view.me, "me");
        assert!(view.nodes["me"].live && view.nodes["other"].live && !view.nodes["dead"].live);
        assert_eq!(view.leases["kept"].owner.as_deref(), Some("me"));
        assert_eq!(view.leases["kept"].expires_at, Some(at(10).and_utc()));
        assert_eq!(view.leases["new"].owner.as_deref(), Some("me"));
        assert_eq!(view.leases["released"].owner, None);
        assert_eq!(view.leases["theirs"].owner.as_deref(), Some("other"));
        assert_eq!(view.read_at, Some(at(0).and_utc()));
    }
}
