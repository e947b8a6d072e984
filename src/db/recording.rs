//! What gets written for each change the status manager pushes: a plain function from a
//! change (and what the recorder remembers of its instance) to write operations.
//!
//! - Every change but `stats_updated` becomes an event row. Stats change with every poll of
//!   every instance; they feed the session figures instead of filling the history.
//! - Stream/record state changes and polled figures become session observations.
//! - The scenes table follows every `scene_list_changed`, which carries the whole list with its
//!   uuids. The hub's cached list starts empty, so the first full read after start-up is a
//!   change too; a reconnection that finds the list as it was changes nothing to write.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    sessions::{Observation, OutputFigures},
    source::session::Output,
};
use crate::status::{model::SceneInfo, ChangeEvent};
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
    stream_window: BitrateWindow,
    record_window: BitrateWindow,
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

/// The write operations for one change.
pub fn ops_for(event: &Arc<ChangeEvent>, tracker: &mut InstanceTracker) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    let instance = || event.instance.clone();
    let at = event.at;
    if RECORDED_KINDS.contains(&event.change.kind()) {
        ops.push(WriteOp::Event(Arc::clone(event)));
    }
    if let Change::SceneListChanged { scene_details, .. } = &event.change {
        ops.push(WriteOp::SyncScenes {
            instance: instance(),
            scenes: scene_details.clone(),
            at,
        });
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
        | Change::SceneListChanged { .. }
        | Change::ConnectionChanged { .. }
        | Change::OutputChanged(_)
        | Change::SourceChanged(_) => {}
        Change::StudioChanged(_) => {}
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
        let ops = ops_for(&stats, &mut tracker);
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

    /// The change itself carries the list with its uuids: nothing is read from the board, and
    /// nothing is owed for later.
    #[test]
    fn a_scene_list_change_syncs_the_scenes_it_carries() {
        let mut tracker = InstanceTracker::default();
        let connected = event(Change::ConnectionChanged {
            state: ConnectionState::Connected,
            connected: true,
            error: None,
        });
        assert_eq!(kinds(&ops_for(&connected, &mut tracker)), ["event"]);
        let details = vec![SceneInfo {
            name: "A".into(),
            uuid: Some("1".into()),
        }];
        let list = event(Change::SceneListChanged {
            scenes: vec!["A".into()],
            scene_details: details.clone(),
        });
        let ops = ops_for(&list, &mut tracker);
        assert_eq!(kinds(&ops), ["event", "sync"]);
        let WriteOp::SyncScenes { scenes, .. } = &ops[1] else {
            panic!("{ops:?}")
        };
        assert_eq!(scenes, &details);
        let scene = event(Change::SceneChanged {
            scene: "A".into(),
            previous: None,
        });
        assert_eq!(kinds(&ops_for(&scene, &mut tracker)), ["event"]);
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
        let ops = |e| ops_for(&e, &mut InstanceTracker::default());
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
            observation(ops_for(&recorded, &mut tracker)),
            Some(Observation::Stopped {
                output_path: Some("/a.mkv".into())
            })
        );
    }
}
