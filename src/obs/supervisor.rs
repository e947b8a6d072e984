//! `ConnectionSupervisor`: starts one `ObsConnection` per configured instance, routes commands to
//! them by name, starts and stops them on request, and restarts any that died.
//!
//! actix's own `Supervisor` restarts an actor that stops, but a panic unwinds through it and
//! takes it down too. So the supervisor checks its children's mailboxes once a second and starts
//! a fresh actor (a new generation, whose reports outrank the dead one's) for any that is gone.
//!
//! On a node of a cluster the supervisor is gated ([`ConnectionSupervisor::gated`]): it knows
//! every instance but connects only to those the lease keeper hands it ([`Own`], [`Disown`]),
//! the ones this node holds the lease of. Alone, every instance is its own.

use std::{collections::BTreeMap, time::Duration};

use actix::prelude::*;

use serde_json::{Map, Value};

use super::{
    commands::{CommandError, CommandOutcome, Execute, ObsCommand},
    connection::{Disconnect, ExecuteRaw, ObsConnection, RawCall, Resume},
    events::Translators,
    raw::{self, OutputRequest},
};
use crate::{
    config::{InstanceConfig, Timing},
    status::{ConnectionState, Ping, SetRunning, StatusManager},
};

const LIVENESS_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Starts every instance that is not running (idempotent).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartManager;

/// Disconnects every instance (idempotent).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopManager;

/// Starts or stops one instance.
#[derive(Message)]
#[rtype(result = "Result<(), CommandError>")]
pub struct SetInstanceRunning {
    pub instance: String,
    pub running: bool,
}

/// Starts a connection to an instance added while the hub runs (the status manager knows it
/// already). Answers false, starting nothing, when an instance of that name exists.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct AddConnection(pub InstanceConfig);

/// Gives an instance a new address or password: its connection is stopped (it reports
/// `stopped` first) and one to the new address started. Answers false for an unknown instance.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct ReplaceConnection(pub InstanceConfig);

/// Forgets an instance removed while the hub runs; answers once its connection has stopped
/// (false for an unknown instance).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct RemoveConnection(pub String);

/// Gated (a cluster node): this node took the instance's lease; start its connection. Answers
/// false for an unknown instance.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Own(pub String);

/// Gated (a cluster node): this node gave up or lost the instance's lease; answers once its
/// connection has stopped (false when it was not running).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Disown(pub String);

/// Runs a command on the named instance.
#[derive(Message)]
#[rtype(result = "Result<CommandOutcome, CommandError>")]
pub struct Route {
    pub instance: String,
    pub command: ObsCommand,
}

/// Runs a raw request or batch on the named instance (`POST .../obs/requests/{type}`,
/// `POST .../obs/batch`); answers OBS's response.
#[derive(Message)]
#[rtype(result = "Result<Map<String, Value>, CommandError>")]
pub struct RouteRaw {
    pub instance: String,
    pub call: RawCall,
}

pub struct ConnectionSupervisor {
    instances: BTreeMap<String, InstanceConfig>,
    timing: Timing,
    manager: Addr<StatusManager>,
    translators: Translators,
    connections: BTreeMap<String, Addr<ObsConnection>>,
    generations: BTreeMap<String, u32>,
    /// One password throttle for every link this hub opens (see `auth_throttle`).
    throttle: std::sync::Arc<super::auth_throttle::AuthThrottle>,
    /// Some on a cluster node: the only instances it may connect to (their leases are its).
    owned: Option<std::collections::BTreeSet<String>>,
}

impl ConnectionSupervisor {
    pub fn new(
        instances: Vec<InstanceConfig>,
        timing: Timing,
        manager: Addr<StatusManager>,
        translators: Translators,
    ) -> Self {
        Self {
            instances: instances
                .into_iter()
                .map(|instance| (instance.name.clone(), instance))
                .collect(),
            timing,
            manager,
            translators,
            connections: BTreeMap::new(),
            generations: BTreeMap::new(),
            throttle: Default::default(),
            owned: None,
        }
    }

    /// On a cluster node: connects to no instance until the lease keeper says this node owns it
    /// ([`Own`]); starting the manager or an instance starts only owned ones.
    pub fn gated(mut self) -> Self {
        self.owned = Some(Default::default());
        self
    }

    fn may_run(&self, name: &str) -> bool {
        self.owned.as_ref().is_none_or(|owned| owned.contains(name))
    }

    fn start_instance(&mut self, name: &str) {
        if let Some(connection) = self.connections.get(name) {
            // Running already; a kicked one waits for exactly this to reconnect.
            connection.do_send(Resume);
            return;
        }
        if !self.may_run(name) {
            return;
        }
        let Some(config) = self.instances.get(name) else {
            return;
        };
        let generation = self.generations.entry(name.to_string()).or_insert(0);
        *generation += 1;
        let connection = ObsConnection::new(
            config.clone(),
            self.timing.clone(),
            self.manager.clone().recipient(),
            self.translators.clone(),
            *generation,
            self.throttle.clone(),
        )
        .start();
        self.connections.insert(name.to_string(), connection);
    }

    fn restart_dead_connections(&mut self) {
        let dead: Vec<String> = self
            .connections
            .iter()
            .filter(|(_, connection)| !connection.connected())
            .map(|(name, _)| name.clone())
            .collect();
        for name in dead {
            log::error!("obs `{name}`: connection actor died unexpectedly; restarting it");
            self.connections.remove(&name);
            self.start_instance(&name);
        }
    }
}

impl Actor for ConnectionSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            self.start_instance(&name);
        }
        ctx.run_interval(LIVENESS_CHECK_INTERVAL, |act, _| {
            act.restart_dead_connections()
        });
    }
}

impl Handler<Ping> for ConnectionSupervisor {
    type Result = ();

    fn handle(&mut self, _: Ping, _: &mut Self::Context) {}
}

impl Handler<StartManager> for ConnectionSupervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StartManager, _: &mut Self::Context) -> Self::Result {
        let names: Vec<String> = self.instances.keys().cloned().collect();
        for name in names {
            self.start_instance(&name);
        }
        let manager = self.manager.clone();
        Box::pin(async move {
            let _ = manager.send(SetRunning(true)).await;
        })
    }
}

impl Handler<StopManager> for ConnectionSupervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: StopManager, _: &mut Self::Context) -> Self::Result {
        let stopping: Vec<_> = std::mem::take(&mut self.connections)
            .into_values()
            .collect();
        let manager = self.manager.clone();
        // Each connection reports `stopped` before it answers, and the manager handles messages
        // in order: once SetRunning is answered, the board shows every instance stopped.
        Box::pin(async move {
            for connection in stopping {
                let _ = connection.send(Disconnect).await;
            }
            let _ = manager.send(SetRunning(false)).await;
        })
    }
}

impl Handler<SetInstanceRunning> for ConnectionSupervisor {
    type Result = ResponseFuture<Result<(), CommandError>>;

    fn handle(&mut self, message: SetInstanceRunning, _: &mut Self::Context) -> Self::Result {
        if !self.instances.contains_key(&message.instance) {
            return Box::pin(async move { Err(CommandError::UnknownInstance(message.instance)) });
        }
        let manager = self.manager.clone();
        if message.running {
            self.start_instance(&message.instance);
            Box::pin(async move {
                let _ = manager.send(SetRunning(true)).await;
                Ok(())
            })
        } else {
            let stopping = self.connections.remove(&message.instance);
            Box::pin(async move {
                if let Some(connection) = stopping {
                    let _ = connection.send(Disconnect).await;
                }
                Ok(())
            })
        }
    }
}

impl Handler<AddConnection> for ConnectionSupervisor {
    type Result = bool;

    fn handle(&mut self, AddConnection(config): AddConnection, _: &mut Self::Context) -> bool {
        if self.instances.contains_key(&config.name) {
            return false;
        }
        let name = config.name.clone();
        self.instances.insert(name.clone(), config);
        self.start_instance(&name);
        true
    }
}

impl Handler<ReplaceConnection> for ConnectionSupervisor {
    type Result = ResponseActFuture<Self, bool>;

    fn handle(
        &mut self,
        ReplaceConnection(config): ReplaceConnection,
        _: &mut Self::Context,
    ) -> Self::Result {
        match self.instances.get(&config.name) {
            None => return Box::pin(actix::fut::ready(false)),
            // Nothing changed (a cluster node's keeper learning of a change this node made):
            // no reconnect.
            Some(current) if *current == config => return Box::pin(actix::fut::ready(true)),
            Some(_) => {}
        }
        let name = config.name.clone();
        self.instances.insert(name.clone(), config);
        // Only a running instance is started again: a stopped one keeps its new address for
        // when it is started.
        let stopping = self.connections.remove(&name);
        Box::pin(
            async move {
                let was_running = stopping.is_some();
                if let Some(connection) = stopping {
                    let _ = connection.send(Disconnect).await;
                }
                was_running
            }
            .into_actor(self)
            .map(move |was_running, act, _| {
                if was_running {
                    // A new generation: the old link's late reports are outranked.
                    act.start_instance(&name);
                }
                true
            }),
        )
    }
}

impl Handler<RemoveConnection> for ConnectionSupervisor {
    type Result = ResponseFuture<bool>;

    fn handle(
        &mut self,
        RemoveConnection(name): RemoveConnection,
        _: &mut Self::Context,
    ) -> Self::Result {
        if self.instances.remove(&name).is_none() {
            return Box::pin(async { false });
        }
        // `generations` keeps its count: the name added again starts a newer generation.
        let stopping = self.connections.remove(&name);
        Box::pin(async move {
            if let Some(connection) = stopping {
                let _ = connection.send(Disconnect).await;
            }
            true
        })
    }
}

impl Handler<Own> for ConnectionSupervisor {
    type Result = bool;

    fn handle(&mut self, Own(name): Own, _: &mut Self::Context) -> bool {
        if let Some(owned) = &mut self.owned {
            owned.insert(name.clone());
        }
        if !self.instances.contains_key(&name) {
            return false;
        }
        self.start_instance(&name);
        true
    }
}

impl Handler<Disown> for ConnectionSupervisor {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, Disown(name): Disown, _: &mut Self::Context) -> Self::Result {
        if let Some(owned) = &mut self.owned {
            owned.remove(&name);
        }
        let stopping = self.connections.remove(&name);
        // Each connection reports `stopped` before it answers: once this is answered, the
        // instance's last changes are in the status manager's mailbox, ahead of what follows.
        Box::pin(async move {
            match stopping {
                Some(connection) => {
                    let _ = connection.send(Disconnect).await;
                    true
                }
                None => false,
            }
        })
    }
}

impl ConnectionSupervisor {
    /// The live connection actor of `instance`, replacing a dead one first.
    fn connection(&mut self, instance: &str) -> Result<Addr<ObsConnection>, CommandError> {
        if !self.instances.contains_key(instance) {
            return Err(CommandError::UnknownInstance(instance.to_string()));
        }
        // Do not wait for the next liveness check to replace a connection that died.
        if self
            .connections
            .get(instance)
            .is_some_and(|connection| !connection.connected())
        {
            self.restart_dead_connections();
        }
        self.connections
            .get(instance)
            .cloned()
            .ok_or_else(|| CommandError::NotConnected {
                state: ConnectionState::Stopped,
                reason: Some("the OBS manager is stopped for this instance".to_string()),
            })
    }
}

impl Handler<Route> for ConnectionSupervisor {
    type Result = ResponseFuture<Result<CommandOutcome, CommandError>>;

    fn handle(
        &mut self,
        Route { instance, command }: Route,
        _: &mut Self::Context,
    ) -> Self::Result {
        let connection = match self.connection(&instance) {
            Ok(connection) => connection,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        Box::pin(async move {
            connection
                .send(Execute(command))
                .await
                .unwrap_or(Err(CommandError::Unavailable(instance)))
        })
    }
}

impl Handler<RouteRaw> for ConnectionSupervisor {
    type Result = ResponseFuture<Result<Map<String, Value>, CommandError>>;

    fn handle(
        &mut self,
        RouteRaw { instance, call }: RouteRaw,
        _: &mut Self::Context,
    ) -> Self::Result {
        let connection = match self.connection(&instance) {
            Ok(connection) => connection,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        // A raw request that drives an output runs as the typed command, through the same
        // `Execute` and the same per-output lane as the `/outputs/...` routes: it can never race
        // them (`raw::output_request` decides which requests these are).
        let typed = match &call {
            RawCall::Request {
                request_type,
                request_data,
            } => match raw::output_request(request_type, request_data.as_ref()) {
                Some(OutputRequest::Typed(command)) => {
                    Some((request_type.clone(), ObsCommand::Output(command)))
                }
                Some(OutputRequest::Refused(reason)) => {
                    return Box::pin(async move { Err(CommandError::NotAllowed(reason)) })
                }
                None => None,
            },
            RawCall::Batch { .. } => None,
        };
        Box::pin(async move {
            match typed {
                Some((request_type, command)) => {
                    let outcome = connection
                        .send(Execute(command))
                        .await
                        .unwrap_or(Err(CommandError::Unavailable(instance)));
                    raw::answer_of_typed(&request_type, outcome)
                }
                None => connection
                    .send(ExecuteRaw(call))
                    .await
                    .unwrap_or(Err(CommandError::Unavailable(instance))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        config::Secret,
        fake_obs::{FakeObs, FakeObsConfig},
        obs::connection::Crash,
        status::StatusBoard,
    };

    fn fast_timing() -> Timing {
        Timing {
            poll_interval: Duration::from_millis(300),
            active_poll_interval: Duration::from_millis(300),
            heartbeat_interval: Duration::from_millis(200),
            heartbeat_timeout: Duration::from_millis(500),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(300),
            auth_retry_interval: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
        }
    }

    async fn wait_for(board: &StatusBoard, what: &str, check: impl Fn(&StatusBoard) -> bool) {
        for _ in 0..300 {
            if check(board) {
                return;
            }
            actix::clock::sleep(Duration::from_millis(50)).await;
        }
        panic!("gave up waiting for: {what}");
    }

    fn instance(name: &str, fake: &FakeObs) -> InstanceConfig {
        InstanceConfig {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: fake.port(),
            password: Some(Secret::new("pw")),
        }
    }

    #[actix_web::test]
    async fn a_panicking_connection_is_restarted_and_the_other_instance_is_undisturbed() {
        let config = || FakeObsConfig {
            password: Some("pw".into()),
            ..FakeObsConfig::default()
        };
        let studio = FakeObs::start(config()).await.unwrap();
        let booth = FakeObs::start(config()).await.unwrap();
        let manager_actor = StatusManager::new(&[
            ("studio", "127.0.0.1", studio.port()),
            ("booth", "127.0.0.1", booth.port()),
        ]);
        let board = manager_actor.board();
        let manager = manager_actor.start();
        let supervisor = ConnectionSupervisor::new(
            vec![instance("studio", &studio), instance("booth", &booth)],
            fast_timing(),
            manager,
            Translators::default(),
        )
        .start();
        let both_connected = |board: &StatusBoard| {
            let snapshot = board.current();
            snapshot
                .instances
                .values()
                .all(|i| i.is_connected() && !i.stale)
        };
        wait_for(&board, "both instances connected", both_connected).await;
        let since = |name: &str| board.current().instances[name].connection.connected_since;
        let (studio_since, booth_since) = (since("studio"), since("booth"));

        let studio_connection = supervisor
            .send(InspectConnection("studio".into()))
            .await
            .unwrap()
            .unwrap();
        studio_connection.do_send(Crash);
        wait_for(&board, "studio's actor gone", |_| {
            !studio_connection.connected()
        })
        .await;
        wait_for(&board, "studio connected again", |board| {
            both_connected(board) && since("studio") != studio_since
        })
        .await;

        let outcome = supervisor
            .send(Route {
                instance: "studio".into(),
                command: ObsCommand::SwitchScene("Live".into()),
            })
            .await
            .unwrap();
        assert!(outcome.is_ok(), "{outcome:?}");
        assert_eq!(studio.current_scene(), "Live");
        // One link is two sessions: obws's and the hub's own.
        wait_for(&board, "the dead actor's link dropped", |_| {
            studio.connection_count() == 2
        })
        .await;
        let booth_now = &board.current().instances["booth"];
        assert!(booth_now.is_connected());
        assert_eq!(booth_now.connection.connected_since, booth_since);
    }

    /// Test-only access to a child, to make it panic.
    #[derive(Message)]
    #[rtype(result = "Option<Addr<ObsConnection>>")]
    struct InspectConnection(String);

    impl Handler<InspectConnection> for ConnectionSupervisor {
        type Result = Option<Addr<ObsConnection>>;
        fn handle(&mut self, message: InspectConnection, _: &mut Self::Context) -> Self::Result {
            self.connections.get(&message.0).cloned()
        }
    }
}
