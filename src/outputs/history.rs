//! What the history keeps of outputs beyond event rows: stream and record sessions, opened and
//! closed by the outputs' state changes and filled in by the polled figures, with bitrates
//! measured over at least a second of OBS's own output time.

use crate::{
    db::{
        recording::{HistoryHook, WriteOp},
        sessions::{Observation, OutputFigures},
        source::session::Output,
    },
    status::{Change, ChangeEvent},
};

/// The hook `app` registers for the outputs capability.
pub fn hook() -> Box<dyn HistoryHook> {
    Box::<Sessions>::default()
}

/// Shortest stretch of OBS's output time a bitrate is measured over: polls can come close
/// together (a reconnection's full read, then the next poll), and byte counters move in bursts.
const PEAK_WINDOW_MS: u64 = 1_000;

/// One instance's stream and record sessions.
#[derive(Clone, Debug, Default)]
pub struct Sessions {
    stream_window: BitrateWindow,
    record_window: BitrateWindow,
}

impl HistoryHook for Sessions {
    fn ops(&mut self, event: &ChangeEvent) -> Vec<WriteOp> {
        let mut ops = Vec::new();
        let mut output = |output: Output, observation: Observation| {
            ops.push(WriteOp::Output {
                instance: event.instance.clone(),
                output,
                observation,
                at: event.at,
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
                    self.stream_window
                        .measure(stream.active, stream.duration_ms, stream.bytes);
                let record_kbps =
                    self.record_window
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
            _ => {}
        }
        ops
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

/// Outside a start or stop, "not active" means the output is over.
fn is_settled(state: &str) -> bool {
    !matches!(state, "starting" | "stopping")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::recording::test_support::*;
    use crate::status::model::{RecordFigures, StreamFigures};

    fn new_tracker() -> InstanceTracker {
        InstanceTracker::new(&HistoryHooks::default().with(hook))
    }

    #[test]
    fn stats_feed_sessions_but_are_not_events() {
        let mut tracker = new_tracker();
        let stats = obs_event(Change::StatsUpdated {
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
        assert_eq!(op_kinds(&ops), ["output", "output"]);
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
        let mut tracker = new_tracker();
        let state = |is_streaming: bool, state: &str| {
            obs_event(Change::StreamingChanged {
                is_streaming,
                state: state.into(),
            })
        };
        let observation = |ops: Vec<WriteOp>| match ops.into_iter().nth(1) {
            Some(WriteOp::Output { observation, .. }) => Some(observation),
            _ => None,
        };
        let ops = |e| ops_for(&e, &mut new_tracker());
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
        let recorded = obs_event(Change::RecordingChanged {
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
