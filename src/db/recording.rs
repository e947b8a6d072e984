//! What gets written for each change the status manager pushes: a plain function from a
//! change (and what the recorder remembers of its instance) to write operations.
//!
//! - Every change but `stats_updated` becomes an event row. Stats change with every poll of
//!   every instance; they feed the session figures instead of filling the history.
//! - Stream/record state changes and polled figures become session observations.
//! - The scenes table follows OBS from the hub's cached list (which has the uuids that
//!   `scene_list_changed` lacks): after a scene list change, and once after every
//!   (re)connection when the full state has been read again.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    sessions::{Observation, OutputFigures},
    source::session::Output,
};
use crate::status::{model::SceneInfo, ChangeEvent, InstanceStatus};
use crate::status::{update::Source, Change};

/// Kinds of change kept in the events table (`Change::kind()` names).
pub const RECORDED_KINDS: [&str; 8] = [
    "scene_changed",
    "streaming_changed",
    "recording_changed",
    "connection_changed",
    "scene_list_changed",
    "output_changed",
    "source_changed",
    "studio_changed",
];

#[derive(Clone, Debug)]
pub enum WriteOp {
    Event(Arc<ChangeEvent>),
    SyncScenes {
        instance: String,
        scenes: Vec<SceneInfo>,
        at: DateTime<Utc>,
    },
    Output {
        instance: String,
        output: Output,
        observation: Observation,
        at: DateTime<Utc>,
    },
}

impl WriteOp {
    pub fn is_event(&self) -> bool {
        matches!(self, Self::Event(_))
    }
}

/// Shortest stretch of OBS's output time a bitrate is measured over: polls can come close
/// together (a reconnection's full read, then the next poll), and byte counters move in bursts.
const PEAK_WINDOW_MS: u64 = 1_000;

/// What the recorder remembers of one instance between changes.
#[derive(Clone, Debug, Default)]
pub struct InstanceTracker {
    /// A scene sync is owed once the cached status includes change number `.0`.
    scene_sync_due: Option<u64>,
    stream_window: BitrateWindow,
    record_window: BitrateWindow,
}

impl InstanceTracker {
    pub fn scene_sync_due(&self) -> bool {
        self.scene_sync_due.is_some()
    }

    /// The scene sync owed, if the cached status can give it now. Only a list read from a live
    /// OBS is the truth: before the state is read again after a (re)connection the cache holds
    /// the old list (or none at all at start-up); and the change that made the sync due must be
    /// in the cache already (the recorder runs on its own thread, so it may get a change before
    /// the snapshot that holds it is published). Otherwise the sync stays owed: the recorder
    /// asks again on its next tick.
    pub fn due_scene_sync(
        &mut self,
        instance: &str,
        live: Option<Arc<InstanceStatus>>,
        at: DateTime<Utc>,
    ) -> Option<WriteOp> {
        let due_at = self.scene_sync_due?;
        let status = live
            .filter(|s| s.is_connected() && !s.stale && s.seq >= due_at && !s.scenes.is_empty())?;
        self.scene_sync_due = None;
        Some(WriteOp::SyncScenes {
            instance: instance.to_string(),
            scenes: status.scenes.clone(),
            at,
        })
    }
}

/// Measures an output's bitrate over windows of at least [`PEAK_WINDOW_MS`] of OBS's own
/// output time (immune to when the hub polled), from the output's start when it is first seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BitrateWindow {
    /// (output duration ms, bytes) where the current window began.
    start: Option<(u64, u64)>,
}

impl BitrateWindow {
    /// kbit/s when this reading closes a window (bits per millisecond are kbit/s).
    pub fn measure(&mut self, active: bool, duration_ms: u64, bytes: u64) -> Option<f64> {
        if !active {
            self.start = None;
            return None;
        }
        let (start_ms, start_bytes) = match self.start {
            // Counters going backwards: a new session, which began at zero.
            Some((ms, sent)) if duration_ms >= ms && bytes >= sent => (ms, sent),
            _ => (0, 0),
        };
        let elapsed_ms = duration_ms - start_ms;
        if elapsed_ms < PEAK_WINDOW_MS {
            self.start = Some((start_ms, start_bytes));
            return None;
        }
        self.start = Some((duration_ms, bytes));
        Some((bytes - start_bytes) as f64 * 8.0 / elapsed_ms as f64)
    }
}

/// The write operations for one change. `live` reads the instance's current cached status
/// (only called when the scene list is needed).
pub fn ops_for(
    event: &Arc<ChangeEvent>,
    tracker: &mut InstanceTracker,
    live: impl FnOnce() -> Option<Arc<InstanceStatus>>,
) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    let instance = || event.instance.clone();
    let at = event.at;
    if RECORDED_KINDS.contains(&event.change.kind()) {
        ops.push(WriteOp::Event(Arc::clone(event)));
    }
    let mut output = |output: Output, observation: Observation| {
        ops.push(WriteOp::Output {
            instance: instance(),
            output,
            observation,
            at,
        })
    };
    match &event.change {
        Change::ConnectionChanged {
            connected: true, ..
        }
        | Change::SceneListChanged { .. } => tracker.scene_sync_due = Some(event.seq),
        Change::StreamingChanged {
            is_streaming,
            state,
        } => {
            if *is_streaming {
                output(Output::Stream, Observation::Started);
            } else if state == "stopped" {
                output(Output::Stream, Observation::Stopped { output_path: None });
            }
        }
        Change::RecordingChanged {
            is_recording,
            state,
            output_path,
        } => {
            if *is_recording {
                output(Output::Record, Observation::Started);
            } else if state == "stopped" {
                output(
                    Output::Record,
                    Observation::Stopped {
                        output_path: output_path.clone(),
                    },
                );
            }
        }
        Change::StatsUpdated { stream, record, .. } => {
            let stream_kbps =
                tracker
                    .stream_window
                    .measure(stream.active, stream.duration_ms, stream.bytes);
            let record_kbps =
                tracker
                    .record_window
                    .measure(record.active, record.duration_ms, record.bytes);
            output(
                Output::Stream,
                Observation::Figures(OutputFigures {
                    active: stream.active,
                    settled: is_settled(&stream.state),
                    duration_ms: stream.duration_ms,
                    bytes: stream.bytes,
                    skipped_frames: Some(stream.skipped_frames),
                    total_frames: Some(stream.total_frames),
                    kbits_per_sec: stream_kbps,
                }),
            );
            output(
                Output::Record,
                Observation::Figures(OutputFigures {
                    active: record.active,
                    settled: is_settled(&record.state),
                    duration_ms: record.duration_ms,
                    bytes: record.bytes,
                    skipped_frames: None,
                    total_frames: None,
                    kbits_per_sec: record_kbps,
                }),
            );
        }
        Change::SceneChanged { .. }
        | Change::ConnectionChanged { .. }
        | Change::OutputChanged(_)
        | Change::SourceChanged(_) => {}
        Change::StudioChanged(_) => {}
    }
    if tracker.scene_sync_due() {
        ops.extend(tracker.due_scene_sync(&event.instance, live(), at));
    }
    ops
}

/// Outside a start or stop, "not active" means the output is over.
fn is_settled(state: &str) -> bool {
    !matches!(state, "starting" | "stopping")
}

/// How a [`Source`] is stored.
pub fn source_name(source: Source) -> &'static str {
    match source {
        Source::ObsEvent => "obs_event",
        Source::Poll => "poll",
        Source::Connection => "connection",
        Source::Api => "api",
        Source::Callback => "callback",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{
        model::{RecordFigures, StreamFigures},
        ConnectionState,
    };

    fn event(change: Change) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            seq: 1,
            instance: "default".into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change,
        })
    }

    fn live(stale: bool) -> Option<Arc<InstanceStatus>> {
        let mut status = InstanceStatus::new("default", "127.0.0.1", 4455, Utc::now());
        status.connection.state = ConnectionState::Connected;
        status.stale = stale;
        status.seq = 1;
        status.scenes = vec![SceneInfo {
            name: "A".into(),
            uuid: Some("1".into()),
        }];
        Some(Arc::new(status))
    }

    fn kinds(ops: &[WriteOp]) -> Vec<&'static str> {
        ops.iter()
            .map(|op| match op {
                WriteOp::Event(_) => "event",
                WriteOp::SyncScenes { .. } => "sync",
                WriteOp::Output { .. } => "output",
            })
            .collect()
    }

    #[test]
    fn stats_feed_sessions_but_are_not_events() {
        let mut tracker = InstanceTracker::default();
        let stats = event(Change::StatsUpdated {
            stats: None,
            stream: StreamFigures {
                active: true,
                state: "started".into(),
                bytes: 10,
                ..StreamFigures::default()
            },
            record: RecordFigures::default(),
        });
        let ops = ops_for(&stats, &mut tracker, || None);
        assert_eq!(kinds(&ops), ["output", "output"]);
        let WriteOp::Output {
            output: Output::Stream,
            observation: Observation::Figures(figures),
            ..
        } = &ops[0]
        else {
            panic!("{ops:?}")
        };
        assert!(figures.active && figures.settled);
    }

    #[test]
    fn scenes_sync_after_a_reconnection_once_the_state_is_read_again() {
        let mut tracker = InstanceTracker::default();
        let connected = event(Change::ConnectionChanged {
            state: ConnectionState::Connected,
            connected: true,
            error: None,
        });
        // The cache still holds the list from before the reconnection: no sync yet.
        assert_eq!(
            kinds(&ops_for(&connected, &mut tracker, || live(true))),
            ["event"]
        );
        let scene = event(Change::SceneChanged {
            scene: "A".into(),
            previous: None,
        });
        assert_eq!(
            kinds(&ops_for(&scene, &mut tracker, || live(false))),
            ["event", "sync"]
        );
        // Done until the next list change or reconnection.
        assert_eq!(
            kinds(&ops_for(&scene, &mut tracker, || live(false))),
            ["event"]
        );
        let list = event(Change::SceneListChanged {
            scenes: vec!["A".into()],
        });
        assert_eq!(
            kinds(&ops_for(&list, &mut tracker, || live(false))),
            ["event", "sync"]
        );
    }

    #[test]
    fn a_scene_sync_waits_until_the_cache_holds_the_change() {
        let mut tracker = InstanceTracker::default();
        let list = Arc::new(ChangeEvent {
            seq: 2,
            ..(*event(Change::SceneListChanged {
                scenes: vec!["A".into()],
            }))
            .clone()
        });
        // The cache is still at change 1: the sync is owed, not done from the old list.
        assert_eq!(
            kinds(&ops_for(&list, &mut tracker, || live(false))),
            ["event"]
        );
        assert!(tracker.scene_sync_due());
        let newer = live(false).map(|status| {
            let mut status = (*status).clone();
            status.seq = 2;
            Arc::new(status)
        });
        let op = tracker.due_scene_sync("default", newer, Utc::now());
        assert!(matches!(op, Some(WriteOp::SyncScenes { .. })));
        assert!(!tracker.scene_sync_due());
    }

    #[test]
    fn bitrates_are_measured_over_a_second_of_output_at_least() {
        let mut window = BitrateWindow::default();
        // From the start of the output: 750 000 bytes in its first second = 6000 kbit/s.
        assert_eq!(window.measure(true, 300, 200_000), None);
        assert_eq!(window.measure(true, 1_000, 750_000), Some(6000.0));
        assert_eq!(
            window.measure(true, 1_300, 900_000),
            None,
            "too short a window"
        );
        assert_eq!(window.measure(true, 2_000, 1_000_000), Some(2000.0));
        // A new session (counters went back) is measured from its own start.
        assert_eq!(window.measure(true, 1_000, 500_000), Some(4000.0));
        assert_eq!(window.measure(false, 0, 0), None);
        assert_eq!(window, BitrateWindow::default());
    }

    #[test]
    fn output_states_open_and_close_sessions() {
        let mut tracker = InstanceTracker::default();
        let state = |is_streaming: bool, state: &str| {
            event(Change::StreamingChanged {
                is_streaming,
                state: state.into(),
            })
        };
        let observation = |ops: Vec<WriteOp>| match ops.into_iter().nth(1) {
            Some(WriteOp::Output { observation, .. }) => Some(observation),
            _ => None,
        };
        let ops = |e| ops_for(&e, &mut InstanceTracker::default(), || None);
        assert_eq!(
            observation(ops(state(true, "started"))),
            Some(Observation::Started)
        );
        assert_eq!(observation(ops(state(false, "stopping"))), None);
        assert_eq!(observation(ops(state(false, "starting"))), None);
        assert_eq!(
            observation(ops(state(false, "stopped"))),
            Some(Observation::Stopped { output_path: None })
        );
        let recorded = event(Change::RecordingChanged {
            is_recording: false,
            state: "stopped".into(),
            output_path: Some("/a.mkv".into()),
        });
        assert_eq!(
            observation(ops_for(&recorded, &mut tracker, || None)),
            Some(Observation::Stopped {
                output_path: Some("/a.mkv".into())
            })
        );
    }
}
