//! `ObsConnection`: one actor per OBS instance, owning its obws client.
//!
//! It connects, re-reads the full state after every (re)connection, forwards OBS events to the
//! status manager as typed updates, polls on an interval to reconcile what events missed, proves
//! the link alive with a heartbeat, and reconnects forever with backoff. obws itself never
//! reconnects and its event stream simply ends on disconnect, so all of that lives here.

use std::{sync::Arc, time::Duration};

use actix::prelude::*;
use chrono::Utc;
use futures_util::StreamExt;
use obws::{client::ConnectConfig, events::Event, Client};

use super::{
    backoff::Backoff,
    commands::{self, CommandError, CommandOutcome, Execute, ObsCommand},
    events::{event_type, translate, EventAction},
    failure::{classify, error_chain, FailureKind, LinkFailure},
    reading,
};
use crate::{
    config::{InstanceConfig, Timing},
    metrics::metrics,
    status::{
        model::SceneInfo,
        update::{ConnectionReport, ObsUpdate, PollReading, Source},
        ConnectionState, LinkOrigin, Report,
    },
};

/// obws drops events for a consumer that falls this far behind, ending its stream as if the link
/// had closed; the actor drains promptly, and this leaves room for bursts.
const EVENT_BUFFER: usize = 1024;

/// Asks the actor to disconnect and stop (manager stop, instance stop).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect;

/// An OBS event tagged with the link it arrived on.
struct LinkEvent {
    link: u32,
    event: Event,
}

enum Link {
    Down,
    Connecting,
    Up {
        id: u32,
        client: Arc<Client>,
        events: SpawnHandle,
    },
}

/// What a successful connection attempt hands back to the actor.
struct OpenedLink {
    client: Client,
    events: obws::events::EventStream,
    versions: (String, String),
    scenes: Vec<SceneInfo>,
    reading: PollReading,
}

pub struct ObsConnection {
    config: InstanceConfig,
    timing: Timing,
    manager: Recipient<Report>,
    /// Which incarnation of this instance's actor we are (the supervisor counts restarts).
    generation: u32,
    links_opened: u32,
    link: Link,
    state: ConnectionState,
    last_error: Option<String>,
    failed_attempts: u32,
    backoff: Backoff,
    heartbeat_in_flight: bool,
    poll_in_flight: bool,
    /// Between CurrentSceneCollectionChanging and ...Changed requests are undefined behaviour.
    collection_changing: bool,
}

impl ObsConnection {
    pub fn new(
        config: InstanceConfig,
        timing: Timing,
        manager: Recipient<Report>,
        generation: u32,
    ) -> Self {
        let backoff = Backoff::new(timing.backoff_min, timing.backoff_max);
        Self {
            config,
            timing,
            manager,
            generation,
            links_opened: 0,
            link: Link::Down,
            state: ConnectionState::Connecting,
            last_error: None,
            failed_attempts: 0,
            backoff,
            heartbeat_in_flight: false,
            poll_in_flight: false,
            collection_changing: false,
        }
    }

    fn origin(&self) -> LinkOrigin {
        LinkOrigin::new(self.generation, self.links_opened)
    }

    fn report(&self, source: Source, update: ObsUpdate) {
        self.manager.do_send(Report {
            instance: self.config.name.clone(),
            origin: self.origin(),
            source,
            update,
        });
    }

    fn current_link(&self) -> Option<(u32, Arc<Client>)> {
        match &self.link {
            Link::Up { id, client, .. } => Some((*id, Arc::clone(client))),
            _ => None,
        }
    }

    fn is_current(&self, link: u32) -> bool {
        matches!(self.link, Link::Up { id, .. } if id == link)
    }

    fn set_state(
        &mut self,
        state: ConnectionState,
        error: Option<String>,
        next_attempt_in: Option<Duration>,
        versions: Option<(String, String)>,
    ) {
        if state != self.state || error != self.last_error {
            let name = &self.config.name;
            match (&error, next_attempt_in) {
                (Some(error), Some(delay)) => log::warn!(
                    "obs `{name}`: {} ({error}); next attempt in {} ms",
                    state.as_str(),
                    delay.as_millis()
                ),
                (Some(error), None) => log::warn!("obs `{name}`: {} ({error})", state.as_str()),
                (None, _) => log::info!("obs `{name}`: {}", state.as_str()),
            }
        }
        self.state = state;
        self.last_error = error.clone();
        let next_attempt_at = next_attempt_in
            .and_then(|delay| chrono::Duration::from_std(delay).ok())
            .map(|delay| Utc::now() + delay);
        self.report(
            Source::Connection,
            ObsUpdate::Connection(ConnectionReport {
                state,
                error,
                attempts: self.failed_attempts,
                next_attempt_at,
                versions,
            }),
        );
    }

    fn connect(&mut self, ctx: &mut Context<Self>) {
        if !matches!(self.link, Link::Down) {
            return;
        }
        self.link = Link::Connecting;
        let config = self.config.clone();
        let timing = self.timing.clone();
        ctx.spawn(open_link(config, timing).into_actor(self).map(
            |result, act, ctx| match result {
                Ok(opened) => act.on_connected(opened, ctx),
                Err(failure) => act.on_connect_failed(failure, ctx),
            },
        ));
    }

    fn on_connected(&mut self, opened: OpenedLink, ctx: &mut Context<Self>) {
        self.links_opened += 1;
        let link = self.links_opened;
        let events = ctx.add_stream(opened.events.map(move |event| LinkEvent { link, event }));
        self.link = Link::Up {
            id: link,
            client: Arc::new(opened.client),
            events,
        };
        self.failed_attempts = 0;
        self.backoff.reset();
        self.collection_changing = false;
        log::info!(
            "obs `{}`: connected to OBS {} (obs-websocket {}) at {}:{}",
            self.config.name,
            opened.versions.0,
            opened.versions.1,
            self.config.host,
            self.config.port
        );
        self.set_state(
            ConnectionState::Connected,
            None,
            None,
            Some(opened.versions),
        );
        self.report(
            Source::Connection,
            ObsUpdate::Snapshot {
                scenes: opened.scenes,
                reading: opened.reading,
            },
        );
    }

    fn on_connect_failed(&mut self, failure: LinkFailure, ctx: &mut Context<Self>) {
        self.link = Link::Down;
        metrics()
            .reconnects
            .with_label_values(&[self.config.name.as_str()])
            .inc();
        self.failed_attempts += 1;
        let (state, delay) = match failure.kind {
            // Each refused login pops an alert on the OBS machine: do not hammer it.
            FailureKind::AuthFailed => {
                (ConnectionState::AuthFailed, self.timing.auth_retry_interval)
            }
            FailureKind::Incompatible => (
                ConnectionState::Incompatible,
                self.timing.auth_retry_interval,
            ),
            FailureKind::Unreachable | FailureKind::NotObsWebsocket | FailureKind::Timeout => (
                ConnectionState::Reconnecting,
                self.backoff.next_delay(&mut rand::thread_rng()),
            ),
        };
        self.set_state(state, Some(failure.message), Some(delay), None);
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    fn on_link_lost(&mut self, reason: String, ctx: &mut Context<Self>) {
        let Link::Up { events, .. } = std::mem::replace(&mut self.link, Link::Down) else {
            return;
        };
        // Dropping the last Arc of the client aborts obws's receive task.
        ctx.cancel_future(events);
        metrics()
            .reconnects
            .with_label_values(&[self.config.name.as_str()])
            .inc();
        let delay = self.backoff.next_delay(&mut rand::thread_rng());
        self.set_state(
            ConnectionState::Reconnecting,
            Some(reason),
            Some(delay),
            None,
        );
        ctx.run_later(delay, |act, ctx| act.connect(ctx));
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Some((link, client)) = self.current_link() else {
            return;
        };
        if self.heartbeat_in_flight {
            return;
        }
        self.heartbeat_in_flight = true;
        let limit = self.timing.heartbeat_timeout;
        let latency = metrics()
            .obs_request_seconds
            .with_label_values(&[self.config.name.as_str(), "GetVersion"]);
        ctx.spawn(
            async move {
                let _timer = latency.start_timer();
                tokio::time::timeout(limit, client.general().version()).await
            }
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.heartbeat_in_flight = false;
                if !act.is_current(link) {
                    return;
                }
                let reason = match result {
                    Ok(Ok(_)) => return,
                    Ok(Err(error)) => format!("heartbeat failed: {}", error_chain(&error)),
                    Err(_) => format!(
                        "OBS did not answer a heartbeat within {} ms; link considered dead",
                        limit.as_millis()
                    ),
                };
                act.on_link_lost(reason, ctx);
            }),
        );
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        let Some((link, client)) = self.current_link() else {
            return;
        };
        if self.poll_in_flight || self.collection_changing {
            return;
        }
        self.poll_in_flight = true;
        let limit = self.timing.request_timeout;
        ctx.spawn(
            async move { tokio::time::timeout(limit, reading::read_poll(&client)).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    act.poll_in_flight = false;
                    // A failed poll says nothing certain about the link; the heartbeat decides.
                    if let (true, Ok(Ok(reading))) = (act.is_current(link), result) {
                        act.report(Source::Poll, ObsUpdate::Poll(reading));
                    }
                }),
        );
    }

    fn resync(&mut self, whole: bool, ctx: &mut Context<Self>) {
        let Some((link, client)) = self.current_link() else {
            return;
        };
        let limit = self.timing.request_timeout;
        ctx.spawn(
            async move {
                tokio::time::timeout(limit, async {
                    if whole {
                        reading::read_snapshot(&client)
                            .await
                            .map(|(scenes, reading)| ObsUpdate::Snapshot { scenes, reading })
                    } else {
                        reading::read_scenes(&client)
                            .await
                            .map(|(scenes, _)| ObsUpdate::SceneList(scenes))
                    }
                })
                .await
            }
            .into_actor(self)
            .map(move |result, act, _| match result {
                Ok(Ok(update)) if act.is_current(link) => act.report(Source::ObsEvent, update),
                Ok(Err(error)) => log::warn!(
                    "obs `{}`: re-reading state failed: {}",
                    act.config.name,
                    error_chain(&error)
                ),
                _ => {}
            }),
        );
    }
}

/// Connects, subscribes to events before reading state (so nothing falls between the two), and
/// reads the full state.
async fn open_link(config: InstanceConfig, timing: Timing) -> Result<OpenedLink, LinkFailure> {
    let has_password = config.password.is_some();
    let client = Client::connect_with_config(ConnectConfig {
        host: config.host.as_str(),
        port: config.port,
        password: config.password.as_ref().map(|secret| secret.expose()),
        // None means every category except the high-volume ones (volume meters etc.).
        event_subscriptions: None,
        broadcast_capacity: EVENT_BUFFER,
        connect_timeout: timing.connect_timeout,
        dangerous: None,
    })
    .await
    .map_err(|error| classify(&error, has_password))?;
    let events = client
        .events()
        .map_err(|error| classify(&error, has_password))?;
    let read = async {
        let version = client.general().version().await?;
        let (scenes, reading) = reading::read_snapshot(&client).await?;
        Ok::<_, obws::error::Error>((version, scenes, reading))
    };
    let (version, scenes, reading) = tokio::time::timeout(timing.request_timeout, read)
        .await
        .map_err(|_| {
            LinkFailure::new(
                FailureKind::Timeout,
                "connected, but OBS did not answer the state read in time",
            )
        })?
        .map_err(|error| classify(&error, has_password))?;
    Ok(OpenedLink {
        client,
        events,
        versions: (
            version.obs_studio_version.to_string(),
            version.obs_web_socket_version.to_string(),
        ),
        scenes,
        reading,
    })
}

impl Actor for ObsConnection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(256);
        self.set_state(ConnectionState::Connecting, None, None, None);
        self.connect(ctx);
        ctx.run_interval(self.timing.heartbeat_interval, |act, ctx| {
            act.heartbeat(ctx)
        });
        ctx.run_interval(self.timing.poll_interval, |act, ctx| act.poll(ctx));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        log::debug!("obs `{}`: connection actor stopped", self.config.name);
    }
}

impl StreamHandler<LinkEvent> for ObsConnection {
    fn handle(&mut self, LinkEvent { link, event }: LinkEvent, ctx: &mut Self::Context) {
        if !self.is_current(link) {
            return;
        }
        metrics()
            .obs_events
            .with_label_values(&[self.config.name.as_str(), event_type(&event)])
            .inc();
        match translate(event) {
            EventAction::Update(update) => self.report(Source::ObsEvent, update),
            EventAction::ResyncScenes => self.resync(false, ctx),
            EventAction::PausePolling => self.collection_changing = true,
            EventAction::ResyncAll => {
                self.collection_changing = false;
                self.resync(true, ctx);
            }
            EventAction::ObsExiting => {
                log::info!("obs `{}`: OBS is shutting down", self.config.name)
            }
            EventAction::LinkClosed => {
                self.on_link_lost("OBS closed the connection".to_string(), ctx)
            }
            EventAction::Ignore => {}
        }
    }

    /// The event stream ends when obws's socket closes; the default would stop the actor.
    fn finished(&mut self, ctx: &mut Self::Context) {
        self.on_link_lost("the connection to OBS closed".to_string(), ctx);
    }
}

impl Handler<Execute> for ObsConnection {
    type Result = ResponseActFuture<Self, Result<CommandOutcome, CommandError>>;

    fn handle(&mut self, Execute(command): Execute, _: &mut Self::Context) -> Self::Result {
        let Some((link, client)) = self.current_link() else {
            let error = CommandError::NotConnected {
                state: self.state,
                reason: self.last_error.clone(),
            };
            return Box::pin(fut::ready(Err(error)));
        };
        let limit = self.timing.request_timeout;
        let ran = command.clone();
        let latency = metrics()
            .obs_request_seconds
            .with_label_values(&[self.config.name.as_str(), command.request_name()]);
        Box::pin(
            async move {
                let _timer = latency.start_timer();
                tokio::time::timeout(limit, commands::run(&client, command))
                    .await
                    .unwrap_or_else(|_| {
                        Err(CommandError::Timeout(
                            u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                        ))
                    })
            }
            .into_actor(self)
            .map(move |result, act, _| {
                // What OBS just confirmed is applied at once, so a read right after the answer
                // sees it even if OBS's own event is still on its way.
                if let (Ok(outcome), true) = (&result, act.is_current(link)) {
                    match (ran, outcome) {
                        (ObsCommand::SwitchScene(scene), _) => {
                            act.report(Source::Api, ObsUpdate::ProgramScene(scene))
                        }
                        (ObsCommand::SyncScenes, CommandOutcome::Scenes { scenes, .. }) => {
                            act.report(Source::Api, ObsUpdate::SceneList(scenes.clone()))
                        }
                        _ => {}
                    }
                }
                result
            }),
        )
    }
}

impl Handler<Disconnect> for ObsConnection {
    type Result = ();

    fn handle(&mut self, _: Disconnect, ctx: &mut Self::Context) {
        // Reported before answering, so that whoever awaited this sees `stopped` right after.
        if let Link::Up { events, .. } = std::mem::replace(&mut self.link, Link::Down) {
            ctx.cancel_future(events);
        }
        self.failed_attempts = 0;
        self.set_state(ConnectionState::Stopped, None, None, None);
        ctx.stop();
    }
}

/// Lets the supervision test make the actor panic the way a bug would.
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Crash;

#[cfg(test)]
impl Handler<Crash> for ObsConnection {
    type Result = ();

    fn handle(&mut self, _: Crash, _: &mut Self::Context) {
        panic!("deliberate panic in ObsConnection (supervision test)");
    }
}
