//! What each obs-websocket event means for the hub: the connection's own events (scenes,
//! stream and record state, scene collection switches, OBS exiting) here, and every other
//! capability's through the [`Translator`] it provides and `app` registers. The same
//! registration carries what the connection reads for the capability: its slice of the periodic
//! poll, and the slice it re-reads at once after some of its events.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use obws::{
    events::{Event, OutputState},
    Client,
};

use super::taps::EventTap;
use crate::status::{
    model::SceneInfo,
    update::{ObsUpdate, PollReading},
};

/// How a capability turns the OBS events it owns into status updates, and what the connection
/// reads from OBS for it.
#[derive(Clone, Copy, Debug)]
pub struct Translator {
    /// The update an event means for the capability; None for events it does not own.
    pub translate: fn(&Event) -> Option<ObsUpdate>,
    /// The protocol name of the events it owns (a bounded label for metrics).
    pub event_type: fn(&Event) -> Option<&'static str>,
    /// Reads the capability's slice of the periodic poll into the reading (None: it has none).
    pub poll: Option<PollReader>,
    /// A slice to re-read at once, with the program scene, after some of its updates.
    pub reread: Option<Reread>,
    /// Reads the capability's slice into the full read after (re)connecting only, for a slice
    /// its events keep and the periodic poll need not (None: it has none).
    pub snapshot: Option<PollReader>,
}

/// Reads one capability's slice of the periodic poll into the reading.
pub type PollReader =
    for<'a> fn(&'a Client, &'a mut PollReading) -> BoxFuture<'a, Result<(), obws::error::Error>>;

/// The body of a [`PollReader`]: awaits the capability's read and stores what it read in its
/// slice of the reading (a failed read leaves the reading as it was and fails the poll).
pub fn store_poll_read<'a, T: Send + 'a>(
    reading: &'a mut PollReading,
    read: impl std::future::Future<Output = Result<T, obws::error::Error>> + Send + 'a,
    store: fn(&mut PollReading, T),
) -> BoxFuture<'a, Result<(), obws::error::Error>> {
    Box::pin(async move {
        store(reading, read.await?);
        Ok(())
    })
}

/// A slice the connection re-reads as soon as an update says so: for events that do not carry
/// everything they changed (or that OBS may skip).
#[derive(Clone, Copy, Debug)]
pub struct Reread {
    /// The slice, for logs; re-reads of one slice run one at a time, a burst of updates that
    /// call for it costing at most one more.
    pub what: &'static str,
    /// Whether the program scene is read and reported before the slice (the studio's re-read
    /// corrects it; a re-read that follows scene switches must not, or a read answered after
    /// newer switches would switch the hub back).
    pub program_scene: bool,
    /// Whether this update calls for the re-read.
    pub after: fn(&ObsUpdate) -> bool,
    /// Reads the slice, as the update that sets it.
    pub read: for<'a> fn(&'a Client) -> BoxFuture<'a, Result<ObsUpdate, obws::error::Error>>,
}

/// The capabilities' translators, in the order they are asked (the first that knows an event
/// wins), and their taps of high-volume events (see `obs::taps`). `app` registers them, one
/// line per capability.
#[derive(Clone, Debug, Default)]
pub struct Translators(Arc<[Translator]>, Arc<[EventTap]>);

impl Translators {
    pub fn new(translators: Vec<Translator>) -> Self {
        Self(translators.into(), Arc::new([]))
    }

    /// The same translators, with one more tap.
    pub fn with_tap(self, tap: EventTap) -> Self {
        let mut taps = self.1.to_vec();
        taps.push(tap);
        Self(self.0, taps.into())
    }

    /// The taps of high-volume events, for the hub's own session.
    pub fn taps(&self) -> Arc<[EventTap]> {
        self.1.clone()
    }

    fn update(&self, event: &Event) -> Option<ObsUpdate> {
        self.0.iter().find_map(|t| (t.translate)(event))
    }

    fn event_type(&self, event: &Event) -> Option<&'static str> {
        self.0.iter().find_map(|t| (t.event_type)(event))
    }

    /// The capabilities' poll readers, in registration order.
    pub fn poll_readers(&self) -> impl Iterator<Item = PollReader> + '_ {
        self.0.iter().filter_map(|t| t.poll)
    }

    /// The capabilities' readers of the full read after (re)connecting, in registration order.
    pub fn snapshot_readers(&self) -> impl Iterator<Item = PollReader> + '_ {
        self.0.iter().filter_map(|t| t.snapshot)
    }

    /// The re-read `update` calls for, if any.
    pub fn reread_after(&self, update: &ObsUpdate) -> Option<Reread> {
        self.0
            .iter()
            .filter_map(|t| t.reread)
            .find(|reread| (reread.after)(update))
    }
}

/// What the connection actor should do with an event. (Lives for one match arm: its size does
/// not matter, so `Update` is not boxed.)
#[derive(Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum EventAction {
    Update(ObsUpdate),
    /// Re-read the scene list (SceneListChanged carries no UUIDs, so read it whole).
    ResyncScenes,
    /// A scene collection switch started (to this collection): requests are undefined
    /// behaviour until it ends.
    PausePolling(String),
    /// A scene collection switch ended (on this collection): everything may have changed.
    ResyncAll(String),
    /// OBS announced it is quitting; the close follows.
    ObsExiting,
    /// The socket closed.
    LinkClosed,
    Ignore,
}

pub fn translate(event: Event, translators: &Translators) -> EventAction {
    match event {
        Event::CurrentProgramSceneChanged { id } => {
            EventAction::Update(ObsUpdate::ProgramScene(id.name))
        }
        Event::SceneCreated {
            id,
            is_group: false,
        } => EventAction::Update(ObsUpdate::SceneCreated(SceneInfo {
            name: id.name,
            uuid: Some(id.uuid.to_string()),
        })),
        Event::SceneRemoved {
            id,
            is_group: false,
        } => EventAction::Update(ObsUpdate::SceneRemoved(id.name)),
        Event::SceneNameChanged {
            old_name, new_name, ..
        } => EventAction::Update(ObsUpdate::SceneRenamed {
            old: old_name,
            new: new_name,
        }),
        Event::SceneListChanged { .. } => EventAction::ResyncScenes,
        Event::StreamStateChanged { active, state } => {
            EventAction::Update(ObsUpdate::StreamState {
                active,
                state: output_state_name(state).to_string(),
            })
        }
        Event::RecordStateChanged {
            active,
            state,
            path,
        } => EventAction::Update(ObsUpdate::RecordState {
            active,
            state: output_state_name(state).to_string(),
            output_path: path,
        }),
        Event::CurrentSceneCollectionChanging { name } => EventAction::PausePolling(name),
        Event::CurrentSceneCollectionChanged { name } => EventAction::ResyncAll(name),
        Event::ExitStarted => EventAction::ObsExiting,
        Event::ServerStopping | Event::ServerStopped => EventAction::LinkClosed,
        // Each capability translates its own events; the first that knows one wins.
        other => translators
            .update(&other)
            .map_or(EventAction::Ignore, EventAction::Update),
    }
}

/// The protocol name of the events the hub reacts to (a bounded label for metrics).
pub fn event_type(event: &Event, translators: &Translators) -> &'static str {
    match event {
        Event::CurrentProgramSceneChanged { .. } => "CurrentProgramSceneChanged",
        Event::SceneCreated { .. } => "SceneCreated",
        Event::SceneRemoved { .. } => "SceneRemoved",
        Event::SceneNameChanged { .. } => "SceneNameChanged",
        Event::SceneListChanged { .. } => "SceneListChanged",
        Event::StreamStateChanged { .. } => "StreamStateChanged",
        Event::RecordStateChanged { .. } => "RecordStateChanged",
        Event::CurrentSceneCollectionChanging { .. } => "CurrentSceneCollectionChanging",
        Event::CurrentSceneCollectionChanged { .. } => "CurrentSceneCollectionChanged",
        Event::ExitStarted => "ExitStarted",
        Event::ServerStopping => "ServerStopping",
        Event::ServerStopped => "ServerStopped",
        other => translators.event_type(other).unwrap_or("other"),
    }
}

pub fn output_state_name(state: OutputState) -> &'static str {
    match state {
        OutputState::Starting => "starting",
        OutputState::Started => "started",
        OutputState::Stopping => "stopping",
        OutputState::Stopped => "stopped",
        OutputState::Reconnecting => "reconnecting",
        OutputState::Reconnected => "reconnected",
        OutputState::Paused => "paused",
        OutputState::Resumed => "resumed",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn protocol_events_become_updates() {
        let scene = event(serde_json::json!({
            "eventType": "CurrentProgramSceneChanged",
            "eventData": {"sceneName": "Live", "sceneUuid": "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11"}
        }));
        assert_eq!(
            translate(scene, &Translators::default()),
            EventAction::Update(ObsUpdate::ProgramScene("Live".into()))
        );
        let stream = event(serde_json::json!({
            "eventType": "StreamStateChanged",
            "eventData": {"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}
        }));
        assert_eq!(
            translate(stream, &Translators::default()),
            EventAction::Update(ObsUpdate::StreamState {
                active: true,
                state: "started".into()
            })
        );
        let record = event(serde_json::json!({
            "eventType": "RecordStateChanged",
            "eventData": {"outputActive": false, "outputState": "OBS_WEBSOCKET_OUTPUT_STOPPED",
                          "outputPath": "/home/x/a.mkv"}
        }));
        assert_eq!(
            translate(record, &Translators::default()),
            EventAction::Update(ObsUpdate::RecordState {
                active: false,
                state: "stopped".into(),
                output_path: Some("/home/x/a.mkv".into())
            })
        );
    }

    #[test]
    fn other_events_go_to_the_registered_translators() {
        let studio_mode = event(serde_json::json!({
            "eventType": "StudioModeStateChanged",
            "eventData": {"studioModeEnabled": true}
        }));
        // Nobody registered for it: ignored, labelled "other".
        assert_eq!(
            translate(studio_mode.clone(), &Translators::default()),
            EventAction::Ignore
        );
        assert_eq!(event_type(&studio_mode, &Translators::default()), "other");
        let claims_it = Translators::new(vec![Translator {
            translate: |event| {
                matches!(event, Event::StudioModeStateChanged { .. })
                    .then(|| ObsUpdate::ProgramScene("claimed".into()))
            },
            event_type: |event| {
                matches!(event, Event::StudioModeStateChanged { .. })
                    .then_some("StudioModeStateChanged")
            },
            poll: None,
            reread: None,
            snapshot: None,
        }]);
        assert_eq!(
            translate(studio_mode.clone(), &claims_it),
            EventAction::Update(ObsUpdate::ProgramScene("claimed".into()))
        );
        assert_eq!(
            event_type(&studio_mode, &claims_it),
            "StudioModeStateChanged"
        );
    }

    #[test]
    fn lifecycle_events_become_actions() {
        assert_eq!(
            translate(Event::ExitStarted, &Translators::default()),
            EventAction::ObsExiting
        );
        assert_eq!(
            translate(Event::ServerStopped, &Translators::default()),
            EventAction::LinkClosed
        );
        let changing = event(serde_json::json!({
            "eventType": "CurrentSceneCollectionChanging",
            "eventData": {"sceneCollectionName": "Show"}
        }));
        assert_eq!(
            translate(changing, &Translators::default()),
            EventAction::PausePolling("Show".into())
        );
        let list = event(serde_json::json!({
            "eventType": "SceneListChanged",
            "eventData": {"scenes": [{"sceneName": "A", "sceneIndex": 0}]}
        }));
        assert_eq!(
            translate(list, &Translators::default()),
            EventAction::ResyncScenes
        );
    }
}
