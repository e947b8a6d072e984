//! `ObsConnection`: one actor per OBS instance, owning its obws client.
//!
//! It connects, re-reads the full state after every (re)connection, forwards OBS events to the
//! status manager as typed updates, polls on an interval to reconcile what events missed, proves
//! the link alive with a heartbeat, and reconnects forever with backoff. obws itself never
//! reconnects and its event stream simply ends on disconnect, so all of that lives here.
//!
//! Each link is two obs-websocket sessions opened together: obws's (status, events, typed
//! commands) and the hub's own [`RawSession`] (raw requests and batches). The hub's session sees
//! close codes, which obws hides: a 4011 on it means OBS's user kicked the hub, and the actor
//! then closes both and stays `kicked` until [`Resume`] (`obs-manager/start`).

use std::{sync::Arc, time::Duration};

use actix::prelude::*;
use chrono::Utc;
use futures_util::StreamExt;
use obws::{client::ConnectConfig, events::Event, Client};
use serde_json::{Map, Value};

use super::{
    commands::{self, CommandError, CommandOutcome, Execute, ObsCommand},
    discipline::{Lanes, Refusal, Sent, Step, SETTLE_LIMIT},
    events::{event_type, translate, EventAction, Reread, Translators},
    failure::{classify, error_chain, FailureKind, LinkFailure},
    output_commands::{self, Action, OutputAnswer, OutputCommand},
    raw::{self, CheckedBatch},
    reading,
    session::{RawSession, SessionClosed, SessionConfig, SessionError},
    taps,
};
use crate::{
    backoff::Backoff,
    config::{InstanceConfig, Timing},
    metrics::metrics,
    status::{
        model::SceneInfo,
        output_status::{Output, OutputUpdate},
        source_status::SourceUpdate,
        update::{ConnectionReport, ObsUpdate, PollReading, Source},
        ConnectionState, LinkOrigin, Report,
    },
};

/// obws drops events for a consumer that falls this far behind, ending its stream as if the link
/// had closed; the actor drains promptly, and this leaves room for bursts.
const EVENT_BUFFER: usize = 1024;

/// An output command waiting in its lane, and where its answer goes.
#[derive(Debug)]
struct Waiter {
    id: u64,
    reply: tokio::sync::oneshot::Sender<Result<CommandOutcome, CommandError>>,
}

impl Waiter {
    fn answer(self, result: Result<CommandOutcome, CommandError>) {
        // The caller may have given up (its HTTP client went away): nothing to do then.
        let _ = self.reply.send(result);
    }
}

/// Asks the actor to disconnect and stop (manager stop, instance stop).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect;

/// Brings a `kicked` instance back (`obs-manager/start`); does nothing in any other state.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Resume;

/// A raw request or batch for the hub's own session.
#[derive(Debug)]
pub enum RawCall {
    Request {
        request_type: String,
        request_data: Option<Value>,
    },
    Batch {
        batch: CheckedBatch,
        halt_on_failure: bool,
        execution_type: i64,
    },
}

/// Runs a [`RawCall`]; answers OBS's response `d` (a batch's: `results`), without the hub's own
/// request id.
#[derive(Message, Debug)]
#[rtype(result = "Result<Map<String, Value>, CommandError>")]
pub struct ExecuteRaw(pub RawCall);

/// The instances that want a tapped event changed (see `obs::taps`).
struct TapsWanted;

/// What runs once a re-read ended (the next owed re-read of the same slice).
type AfterReread = Box<dyn FnOnce(&mut ObsConnection, &mut Context<ObsConnection>)>;

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
        session: Arc<RawSession>,
    },
}

/// What a successful connection attempt hands back to the actor.
struct OpenedLink {
    client: Client,
    events: obws::events::EventStream,
    session: RawSession,
    versions: (String, String),
    scenes: Vec<SceneInfo>,
    reading: PollReading,
}

pub struct ObsConnection {
    config: InstanceConfig,
    timing: Timing,
    manager: Recipient<Report>,
    /// The capabilities' event translators (registered in `app`).
    translators: Translators,
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
    /// Re-reads after raw requests: a burst of them costs at most two re-reads, not one each.
    reread: raw::Coalesced,
    /// The same for each capability's re-read (by `Reread::what`).
    slice_rereads: std::collections::HashMap<&'static str, raw::Coalesced>,
    /// Between CurrentSceneCollectionChanging and ...Changed requests are undefined behaviour.
    collection_changing: bool,
    /// The command discipline: one lane per output (see `obs::discipline`).
    outputs: Lanes<Waiter>,
    waiters_made: u64,
    /// Bumped by every output action sent and every output state OBS reports. A poll answered
    /// after a bump may have been read before it (under load a poll's answer can come after the
    /// events of a start it preceded), so its outputs would roll the state back to "stopped"
    /// and a following stop would not be sent: such a poll is dropped; the next one reads afresh.
    output_moves: u64,
    /// The same for the program scene (bumped by every scene change OBS reports): a poll read
    /// before a switch must not switch the hub back to the scene before it.
    scene_moves: u64,
    /// The hub's password throttle, shared with its other connections.
    throttle: std::sync::Arc<super::auth_throttle::AuthThrottle>,
    /// The tapped intents the current link's session was last asked to subscribe to.
    session_intents: u32,
}

impl ObsConnection {
    pub fn new(
        config: InstanceConfig,
        timing: Timing,
        manager: Recipient<Report>,
        translators: Translators,
        generation: u32,
        throttle: std::sync::Arc<super::auth_throttle::AuthThrottle>,
    ) -> Self {
        let backoff = Backoff::new(timing.backoff_min, timing.backoff_max);
        Self {
            config,
            timing,
            manager,
            translators,
            generation,
            links_opened: 0,
            link: Link::Down,
            state: ConnectionState::Connecting,
            last_error: None,
            failed_attempts: 0,
            backoff,
            heartbeat_in_flight: false,
            poll_in_flight: false,
            reread: raw::Coalesced::default(),
            slice_rereads: Default::default(),
            collection_changing: false,
            outputs: Lanes::default(),
            waiters_made: 0,
            output_moves: 0,
            scene_moves: 0,
            throttle,
            session_intents: 0,
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
        // A kicked instance stays down until Resume, whatever retry was scheduled before.
        if !matches!(self.link, Link::Down) || self.state == ConnectionState::Kicked {
            return;
        }
        self.link = Link::Connecting;
        let config = self.config.clone();
        let timing = self.timing.clone();
        let capabilities = self.translators.clone();
        ctx.spawn(
            open_link(config, timing, capabilities, self.throttle.clone())
                .into_actor(self)
                .map(|result, act, ctx| match result {
                    // Kicked while this attempt was under way: its sessions are dropped (closed).
                    _ if act.state == ConnectionState::Kicked => act.link = Link::Down,
                    Ok(opened) => act.on_connected(opened, ctx),
                    Err(failure) => act.on_connect_failed(failure, ctx),
                }),
        );
    }

    fn on_connected(&mut self, opened: OpenedLink, ctx: &mut Context<Self>) {
        self.links_opened += 1;
        let link = self.links_opened;
        let events = ctx.add_stream(opened.events.map(move |event| LinkEvent { link, event }));
        let mut closed = opened.session.closed();
        ctx.spawn(
            async move {
                let ended = closed.wait_for(Option::is_some).await;
                ended.ok().and_then(|ended| ended.clone())
            }
            .into_actor(self)
            .map(move |ended, act, ctx| act.on_session_closed(link, ended, ctx)),
        );
        let mut session = opened.session;
        let taps = self.translators.taps();
        if let (Some(tapped), false) = (session.take_events(), taps.is_empty()) {
            // Straight to the taps, not through this actor's mailbox: ends with the session.
            actix::spawn(taps::forward(self.config.name.clone(), taps, tapped));
        }
        self.link = Link::Up {
            id: link,
            client: Arc::new(opened.client),
            events,
            session: Arc::new(session),
        };
        // A new session starts subscribed to nothing: tapped events are asked for again.
        self.session_intents = 0;
        self.sync_taps(ctx);
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
        let snapshot = ObsUpdate::Snapshot {
            scenes: opened.scenes,
            reading: opened.reading,
        };
        self.learn(&snapshot, ctx);
        self.report(Source::Connection, snapshot);
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
        self.fail_waiting_outputs(&reason);
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

    /// Subscribes the current session to the tapped events this instance is wanted for now
    /// (Reidentify), if that changed. A failed Reidentify means the session ended, which
    /// `on_session_closed` handles.
    fn sync_taps(&mut self, ctx: &mut Context<Self>) {
        let Link::Up { session, .. } = &self.link else {
            return;
        };
        let wanted = taps::wanted_intents(&self.translators.taps(), &self.config.name);
        if wanted == self.session_intents {
            return;
        }
        self.session_intents = wanted;
        let session = Arc::clone(session);
        let name = self.config.name.clone();
        ctx.spawn(
            async move {
                if let Err(error) = session.reidentify(wanted).await {
                    log::debug!("obs `{name}`: could not change the tapped events: {error}");
                }
            }
            .into_actor(self),
        );
    }

    /// The hub's own session of `link` ended. A kick (4011) stops every link; any other close
    /// of the current link is a lost link like obws's.
    fn on_session_closed(
        &mut self,
        link: u32,
        ended: Option<SessionClosed>,
        ctx: &mut Context<Self>,
    ) {
        match ended {
            // The newest link's session, even if obws's side of it was already seen dropping
            // (both are closed by the same kick, in no set order).
            Some(ended) if ended.is_kick() && link == self.links_opened => {
                self.on_kicked(&ended, ctx)
            }
            Some(ended) if self.is_current(link) => {
                self.on_link_lost(format!("the hub's own session: {}", ended.describe()), ctx)
            }
            None if self.is_current(link) => {
                self.on_link_lost("the hub's own session ended".to_string(), ctx)
            }
            _ => {}
        }
    }

    fn on_kicked(&mut self, ended: &SessionClosed, ctx: &mut Context<Self>) {
        if self.state == ConnectionState::Kicked {
            return;
        }
        if let Link::Up { events, .. } = std::mem::replace(&mut self.link, Link::Down) {
            ctx.cancel_future(events);
        }
        // An attempt under way (Link::Connecting) is discarded when it completes: see connect().
        self.failed_attempts = 0;
        let reason = format!(
            "kicked from OBS ({}); the hub does not reconnect on its own after a kick: \
             POST /api/instances/{}/obs-manager/start to connect again",
            ended.describe(),
            self.config.name
        );
        self.set_state(ConnectionState::Kicked, Some(reason), None, None);
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
        let (moves, scene_moves) = (self.output_moves, self.scene_moves);
        let capabilities = self.translators.clone();
        ctx.spawn(
            async move {
                tokio::time::timeout(limit, reading::read_poll(&client, &capabilities)).await
            }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.poll_in_flight = false;
                    if moves != act.output_moves {
                        return;
                    }
                    // A failed poll says nothing certain about the link; the heartbeat decides.
                    if let (true, Ok(Ok(mut reading))) = (act.is_current(link), result) {
                        if scene_moves != act.scene_moves {
                            // Read before the latest switch: the event knows better.
                            reading.current_scene = None;
                        }
                        let update = ObsUpdate::Poll(reading);
                        act.learn(&update, ctx);
                        act.report(Source::Poll, update);
                    }
                }),
        );
    }

    /// Re-reads everything after raw requests that may have changed it, coalescing bursts.
    fn reread_after_raw(&mut self, ctx: &mut Context<Self>) {
        let Some((link, client)) = self.current_link() else {
            return;
        };
        if !self.reread.begin() {
            return;
        }
        let limit = self.timing.request_timeout;
        let capabilities = self.translators.clone();
        ctx.spawn(
            async move {
                tokio::time::timeout(limit, reading::read_snapshot(&client, &capabilities)).await
            }
            .into_actor(self)
            .map(move |result, act, ctx| {
                let again = act.reread.finish();
                if let (true, Ok(Ok((scenes, reading)))) = (act.is_current(link), result) {
                    act.report(Source::Api, ObsUpdate::Snapshot { scenes, reading });
                }
                if again {
                    act.reread_after_raw(ctx);
                }
            }),
        );
    }

    fn resync(&mut self, whole: bool, ctx: &mut Context<Self>) {
        let capabilities = self.translators.clone();
        self.reread_and_report(ctx, "state", move |client| async move {
            let update = if whole {
                reading::read_snapshot(&client, &capabilities)
                    .await
                    .map(|(scenes, reading)| ObsUpdate::Snapshot { scenes, reading })?
            } else {
                reading::read_scenes(&client)
                    .await
                    .map(|(scenes, _)| ObsUpdate::SceneList(scenes))?
            };
            Ok(vec![update])
        });
    }

    /// Re-reads the program scene and a capability's slice, after an update that calls for it
    /// (registered with the capability's translator). The studio's, after a transition ends:
    /// OBS 32.2 skips CurrentProgramSceneChanged for switches that a faster switch interrupted,
    /// so the hub's program scene is right one transition after the last switch, not only at the
    /// next poll; after a transition change: its event does not carry the new transition's
    /// duration.
    fn reread(&mut self, reread: Reread, ctx: &mut Context<Self>) {
        if self.current_link().is_none()
            || !self.slice_rereads.entry(reread.what).or_default().begin()
        {
            return;
        }
        let ended: AfterReread = Box::new(move |act, ctx| {
            if act.slice_rereads.entry(reread.what).or_default().finish() {
                act.reread(reread, ctx);
            }
        });
        self.reread_and_report_then(ctx, reread.what, ended, move |client| async move {
            let mut updates = Vec::with_capacity(2);
            if reread.program_scene {
                let program = client.scenes().current_program_scene().await?;
                updates.push(ObsUpdate::ProgramScene(program.id.name));
            }
            updates.push((reread.read)(&client).await?);
            Ok(updates)
        });
    }

    /// Runs `read` on the current link within the request timeout and reports what it read as
    /// OBS events, in order, if that link is still the current one when the answer comes (a
    /// reading from a link since replaced would overwrite newer state). A failed read is
    /// logged naming `what` was being re-read; the next poll or event corrects it.
    fn reread_and_report<F, R>(&mut self, ctx: &mut Context<Self>, what: &'static str, read: F)
    where
        F: FnOnce(Arc<Client>) -> R,
        R: std::future::Future<Output = Result<Vec<ObsUpdate>, obws::error::Error>> + 'static,
    {
        self.reread_and_report_then(ctx, what, Box::new(|_, _| {}), read);
    }

    /// [`Self::reread_and_report`], then `ended` (however the read ended).
    fn reread_and_report_then<F, R>(
        &mut self,
        ctx: &mut Context<Self>,
        what: &'static str,
        ended: AfterReread,
        read: F,
    ) where
        F: FnOnce(Arc<Client>) -> R,
        R: std::future::Future<Output = Result<Vec<ObsUpdate>, obws::error::Error>> + 'static,
    {
        let Some((link, client)) = self.current_link() else {
            ended(self, ctx);
            return;
        };
        let limit = self.timing.request_timeout;
        let reading = read(client);
        ctx.spawn(
            async move { tokio::time::timeout(limit, reading).await }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    match result {
                        Ok(Ok(updates)) if act.is_current(link) => {
                            for update in updates {
                                act.learn(&update, ctx);
                                act.report(Source::ObsEvent, update);
                            }
                        }
                        Ok(Err(error)) => log::warn!(
                            "obs `{}`: re-reading {what} failed: {}",
                            act.config.name,
                            error_chain(&error)
                        ),
                        _ => {}
                    }
                    ended(act, ctx);
                }),
        );
    }

    /// Polls every `active_poll_interval` while an output runs (bitrate and dropped frames
    /// fresh enough to act on), every `poll_interval` otherwise.
    fn schedule_poll(&mut self, ctx: &mut Context<Self>) {
        let interval = if self.outputs.any_running() {
            self.timing.active_poll_interval
        } else {
            self.timing.poll_interval
        };
        ctx.run_later(interval, |act, ctx| {
            act.poll(ctx);
            act.schedule_poll(ctx);
        });
    }

    /// Teaches the output lanes what OBS reported, and lets waiting commands move on.
    fn learn(&mut self, update: &ObsUpdate, ctx: &mut Context<Self>) {
        if let ObsUpdate::Output(OutputUpdate::ReplaySaved(path)) = update {
            let lane = self.outputs.get_mut(Output::ReplayBuffer);
            if let Some(waiter) = lane.release() {
                let mut answer =
                    OutputAnswer::new(&OutputCommand::SaveReplay, lane.phase(), false, true);
                answer.output_path = Some(path.clone());
                waiter.answer(Ok(CommandOutcome::Output(answer)));
            }
            self.pump(Output::ReplayBuffer, ctx);
            return;
        }
        if is_output_state(update) {
            self.output_moves += 1;
        }
        if matches!(update, ObsUpdate::ProgramScene(_)) {
            self.scene_moves += 1;
        }
        for output in self.outputs.observe(update) {
            self.pump(output, ctx);
        }
    }

    fn not_connected(&self) -> CommandError {
        CommandError::NotConnected {
            state: self.state,
            reason: self.last_error.clone(),
        }
    }

    fn fail_waiting_outputs(&mut self, reason: &str) {
        for waiter in self.outputs.reset() {
            waiter.answer(Err(CommandError::LinkFailed(reason.to_string())));
        }
    }

    /// Queues an output command in its lane; answered when the lane gets to it.
    fn submit_output(
        &mut self,
        command: OutputCommand,
        ctx: &mut Context<Self>,
    ) -> ResponseActFuture<Self, Result<CommandOutcome, CommandError>> {
        if self.current_link().is_none() {
            return Box::pin(fut::ready(Err(self.not_connected())));
        }
        let output = command.output();
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.waiters_made += 1;
        let waiter = Waiter {
            id: self.waiters_made,
            reply,
        };
        if let Err((_, waiter)) = self.outputs.get_mut(output).push(command, waiter) {
            waiter.answer(Err(CommandError::OutputRefused {
                output,
                refusal: Refusal::QueueFull,
            }));
        }
        self.pump(output, ctx);
        let instance = self.config.name.clone();
        Box::pin(
            async move {
                answer
                    .await
                    .unwrap_or(Err(CommandError::Unavailable(instance)))
            }
            .into_actor(self),
        )
    }

    /// Acts on the lane's head commands until one goes to OBS or must wait.
    fn pump(&mut self, output: Output, ctx: &mut Context<Self>) {
        while let Some((command, waiter, step)) = self.outputs.get_mut(output).take_next() {
            let lane = self.outputs.get(output);
            match step {
                Step::Answer => {
                    let answer = OutputAnswer::new(&command, lane.phase(), lane.paused(), false);
                    waiter.answer(Ok(CommandOutcome::Output(answer)));
                }
                Step::Refuse(refusal) => {
                    waiter.answer(Err(CommandError::OutputRefused { output, refusal }))
                }
                Step::Send(action) => {
                    self.send_output(command, action, waiter, ctx);
                    return;
                }
                // `take_next` never hands out a waiting command.
                Step::Wait => return,
            }
        }
    }

    fn send_output(
        &mut self,
        command: OutputCommand,
        action: Action,
        waiter: Waiter,
        ctx: &mut Context<Self>,
    ) {
        let output = command.output();
        let Some((_, client)) = self.current_link() else {
            self.outputs.get_mut(output).sent(&action, Sent::Failed);
            waiter.answer(Err(self.not_connected()));
            return;
        };
        let epoch = self.outputs.get(output).epoch();
        self.output_moves += 1;
        let limit = self.timing.request_timeout + action.confirmation_time();
        let latency = metrics()
            .obs_request_seconds
            .with_label_values(&[self.config.name.as_str(), action.request_name(output)]);
        let request = action.clone();
        ctx.spawn(
            async move {
                let _timer = latency.start_timer();
                tokio::time::timeout(limit, output_commands::send(&client, output, &request))
                    .await
                    .map_err(|_| {
                        CommandError::Timeout(u64::try_from(limit.as_millis()).unwrap_or(u64::MAX))
                    })
                    .and_then(|sent| sent)
            }
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.on_output_sent(command, action, epoch, result, waiter, ctx)
            }),
        );
    }

    fn on_output_sent(
        &mut self,
        command: OutputCommand,
        action: Action,
        epoch: u64,
        result: Result<Option<String>, CommandError>,
        waiter: Waiter,
        ctx: &mut Context<Self>,
    ) {
        let output = command.output();
        let lane = self.outputs.get_mut(output);
        if !lane.is_current(epoch) {
            // The link dropped meanwhile; the lane was reset. Say what OBS said.
            let answer = OutputAnswer::new(&command, lane.phase(), lane.paused(), true);
            waiter.answer(result.map(|path| {
                CommandOutcome::Output(OutputAnswer {
                    output_path: path,
                    ..answer
                })
            }));
            return;
        }
        let sent = match (&result, &action) {
            (Ok(_), _) => Sent::Accepted,
            (Err(CommandError::Rejected { code, .. }), Action::Start)
                if *code == obws::responses::StatusCode::OutputRunning =>
            {
                Sent::AlreadyThere
            }
            (Err(CommandError::Rejected { code, .. }), Action::Stop)
                if *code == obws::responses::StatusCode::OutputNotRunning =>
            {
                Sent::AlreadyThere
            }
            _ => Sent::Failed,
        };
        if sent == Sent::Accepted && action == Action::SaveReplay {
            // Answered with the file's path when OBS reports ReplayBufferSaved.
            let id = waiter.id;
            lane.hold(waiter);
            lane.sent(&action, sent);
            ctx.run_later(SETTLE_LIMIT, move |act, ctx| {
                let lane = act.outputs.get_mut(Output::ReplayBuffer);
                if lane.held().is_some_and(|held| held.id == id) {
                    if let Some(waiter) = lane.release() {
                        waiter.answer(Err(CommandError::Timeout(
                            u64::try_from(SETTLE_LIMIT.as_millis()).unwrap_or(u64::MAX),
                        )));
                    }
                    act.pump(Output::ReplayBuffer, ctx);
                }
            });
            return;
        }
        if let Some(transition) = lane.sent(&action, sent) {
            ctx.run_later(SETTLE_LIMIT, move |act, ctx| {
                if act.outputs.get_mut(output).expire(transition) {
                    log::warn!(
                        "obs `{}`: {} did not settle within {} s; letting the next command through",
                        act.config.name,
                        output.as_str(),
                        SETTLE_LIMIT.as_secs()
                    );
                    act.pump(output, ctx);
                }
            });
        }
        let lane = self.outputs.get(output);
        let answer = OutputAnswer::new(&command, lane.phase(), lane.paused(), true);
        let ensured = matches!(command, OutputCommand::Ensure { .. }) && sent == Sent::AlreadyThere;
        let result = match result {
            Ok(path) => Ok(CommandOutcome::Output(OutputAnswer {
                output_path: path,
                ..answer
            })),
            // Ensure asked for a state OBS says the output already is in: done.
            Err(_) if ensured => Ok(CommandOutcome::Output(answer)),
            Err(error) => Err(error),
        };
        waiter.answer(result);
        self.pump(output, ctx);
    }
}

/// Connects, subscribes to events before reading state (so nothing falls between the two), and
/// reads the full state.
async fn open_link(
    config: InstanceConfig,
    timing: Timing,
    capabilities: Translators,
    throttle: std::sync::Arc<super::auth_throttle::AuthThrottle>,
) -> Result<OpenedLink, LinkFailure> {
    // Logins to one OBS go one at a time through its gate (see `auth_throttle`).
    let gate = throttle.gate(&super::auth_throttle::key(&config.host, config.port));
    let mut refused_at = gate.lock().await;
    let now = std::time::Instant::now();
    if let Some(wait) =
        super::auth_throttle::wait_left(*refused_at, timing.auth_retry_interval, now)
    {
        return Err(LinkFailure::new(
            FailureKind::AuthFailed,
            format!(
                "OBS refused the password moments ago (on another link to it); the hub tries \
                 again in {} s, so that OBS does not pop an alert at every attempt",
                wait.as_secs().max(1)
            ),
        ));
    }
    let opened = try_open_link(config, timing, capabilities).await;
    match &opened {
        Err(failure) if failure.kind == FailureKind::AuthFailed => {
            *refused_at = Some(std::time::Instant::now())
        }
        Err(_) => {}
        Ok(_) => *refused_at = None,
    }
    opened
}

async fn try_open_link(
    config: InstanceConfig,
    timing: Timing,
    capabilities: Translators,
) -> Result<OpenedLink, LinkFailure> {
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
        let (scenes, reading) = reading::read_snapshot(&client, &capabilities).await?;
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
    // Opened once obws's session is identified, so a refused password is reported (and
    // alerted in OBS) once, by the first.
    let session = RawSession::connect(SessionConfig {
        host: config.host.clone(),
        port: config.port,
        password: config.password.clone(),
        event_subscriptions: 0,
        connect_timeout: timing.connect_timeout,
    })
    .await
    .map_err(|error| session_failure(&error))?;
    Ok(OpenedLink {
        client,
        events,
        session,
        versions: (
            version.obs_studio_version.to_string(),
            version.obs_web_socket_version.to_string(),
        ),
        scenes,
        reading,
    })
}

fn session_failure(error: &SessionError) -> LinkFailure {
    let kind = match error {
        SessionError::Closed(closed) if closed.code == Some(4009) => FailureKind::AuthFailed,
        SessionError::PasswordRequired => FailureKind::AuthFailed,
        SessionError::Timeout => FailureKind::Timeout,
        _ => FailureKind::Unreachable,
    };
    LinkFailure::new(
        kind,
        format!("the hub's own OBS session did not open: {error}"),
    )
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
        self.schedule_poll(ctx);
        for tap in self.translators.taps().iter() {
            ctx.add_stream(futures_util::stream::unfold(
                tap.wanted.clone(),
                |mut wanted| async move {
                    wanted.changed().await.ok()?;
                    Some((TapsWanted, wanted))
                },
            ));
        }
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
            .with_label_values(&[
                self.config.name.as_str(),
                event_type(&event, &self.translators),
            ])
            .inc();
        match translate(event, &self.translators) {
            EventAction::Update(update) => {
                self.learn(&update, ctx);
                let reread = self.translators.reread_after(&update);
                self.report(Source::ObsEvent, update);
                if let Some(reread) = reread {
                    self.reread(reread, ctx);
                }
            }
            EventAction::ResyncScenes => self.resync(false, ctx),
            EventAction::PausePolling(collection) => {
                self.collection_changing = true;
                self.report(
                    Source::ObsEvent,
                    ObsUpdate::Source(SourceUpdate::CollectionChanging(collection)),
                );
            }
            EventAction::ResyncAll(collection) => {
                self.collection_changing = false;
                self.report(
                    Source::ObsEvent,
                    ObsUpdate::Source(SourceUpdate::Collection(collection)),
                );
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

impl StreamHandler<TapsWanted> for ObsConnection {
    fn handle(&mut self, _: TapsWanted, ctx: &mut Self::Context) {
        self.sync_taps(ctx);
    }

    /// The capability is gone (the hub is stopping); the default would stop the actor.
    fn finished(&mut self, _: &mut Self::Context) {}
}

impl Handler<Execute> for ObsConnection {
    type Result = ResponseActFuture<Self, Result<CommandOutcome, CommandError>>;

    fn handle(&mut self, Execute(command): Execute, ctx: &mut Self::Context) -> Self::Result {
        if let ObsCommand::Output(command) = command {
            return self.submit_output(command, ctx);
        }
        let Some((link, client)) = self.current_link() else {
            let error = CommandError::NotConnected {
                state: self.state,
                reason: self.last_error.clone(),
            };
            return Box::pin(fut::ready(Err(error)));
        };
        if self.collection_changing {
            return Box::pin(fut::ready(Err(CommandError::CollectionChanging)));
        }
        let limit = self.timing.request_timeout;
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
                let (outcome, confirmed) = result?;
                if let (Some(update), true) = (confirmed, act.is_current(link)) {
                    act.report(Source::Api, update);
                }
                Ok(outcome)
            }),
        )
    }
}

impl Handler<ExecuteRaw> for ObsConnection {
    type Result = ResponseActFuture<Self, Result<Map<String, Value>, CommandError>>;

    fn handle(&mut self, ExecuteRaw(call): ExecuteRaw, _: &mut Self::Context) -> Self::Result {
        let Link::Up {
            id: link, session, ..
        } = &self.link
        else {
            let error = CommandError::NotConnected {
                state: self.state,
                reason: self.last_error.clone(),
            };
            return Box::pin(fut::ready(Err(error)));
        };
        let (link, session) = (*link, Arc::clone(session));
        let (label, limit, may_change) = match &call {
            RawCall::Request { request_type, .. } => (
                "raw",
                self.timing.request_timeout,
                raw::changes_state(request_type),
            ),
            RawCall::Batch { batch, .. } => (
                "batch",
                self.timing.request_timeout + batch.sleep_allowance,
                batch.changes_state,
            ),
        };
        // Bounded labels: request types come from clients.
        let latency = metrics()
            .obs_request_seconds
            .with_label_values(&[self.config.name.as_str(), label]);
        Box::pin(
            async move {
                let _timer = latency.start_timer();
                let answer = tokio::time::timeout(limit, async {
                    match &call {
                        RawCall::Request {
                            request_type,
                            request_data,
                        } => session.request(request_type, request_data.as_ref()).await,
                        RawCall::Batch {
                            batch,
                            halt_on_failure,
                            execution_type,
                        } => {
                            session
                                .batch(&batch.requests, *halt_on_failure, *execution_type)
                                .await
                        }
                    }
                })
                .await;
                match answer {
                    Err(_) => Err(CommandError::Timeout(
                        u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
                    )),
                    Ok(Err(error)) => Err(CommandError::LinkFailed(error.to_string())),
                    Ok(Ok(answer)) => Ok(raw::without_hub_request_id(answer)),
                }
            }
            .into_actor(self)
            .map(move |result, act, ctx| {
                // What the request may have changed is read back, so the cache does not wait
                // for the next poll (OBS sends no event for much of it).
                if may_change && result.is_ok() && act.is_current(link) {
                    act.reread_after_raw(ctx);
                }
                result
            }),
        )
    }
}

impl Handler<Resume> for ObsConnection {
    type Result = ();

    fn handle(&mut self, _: Resume, ctx: &mut Self::Context) {
        if self.state != ConnectionState::Kicked {
            return;
        }
        log::info!(
            "obs `{}`: reconnecting after a kick, as asked",
            self.config.name
        );
        self.set_state(ConnectionState::Connecting, None, None, None);
        self.connect(ctx);
    }
}

impl Handler<Disconnect> for ObsConnection {
    type Result = ();

    fn handle(&mut self, _: Disconnect, ctx: &mut Self::Context) {
        // Reported before answering, so that whoever awaited this sees `stopped` right after.
        if let Link::Up { events, .. } = std::mem::replace(&mut self.link, Link::Down) {
            ctx.cancel_future(events);
        }
        self.fail_waiting_outputs("the OBS manager was stopped for this instance");
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

/// An output's state as OBS reports it in an event (a poll's reading is not one).
fn is_output_state(update: &ObsUpdate) -> bool {
    matches!(
        update,
        ObsUpdate::StreamState { .. }
            | ObsUpdate::RecordState { .. }
            | ObsUpdate::Output(OutputUpdate::State { .. })
    )
}
