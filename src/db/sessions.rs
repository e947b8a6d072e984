//! The rules of stream and record sessions: what one observation of an output does to the
//! session that is open for it (if any). Plain functions; `queries::sessions` runs the steps.
//!
//! - OBS says the output started: a session opens (unless one is open: after a restart of the
//!   hub, OBS still streaming means the session it had recorded goes on).
//! - OBS says it stopped: the session closes now, with the figures last polled.
//! - Polled figures while active: the session's figures follow; the peak bitrate is the highest
//!   measured (the recorder measures it over windows of at least a second). OBS's output duration going backwards means OBS started a new
//!   session while the hub was not looking: the old one is closed, a new one opened.
//! - Polled "not active" outside a start/stop transition: a session still open ended while the
//!   hub was not looking (the hub was down, or the link was): it is closed at the last moment it
//!   was seen active, with the last figures known (`found_stopped`).

use chrono::NaiveDateTime;

use super::source::session::{
    Output, OutputCloseForm, OutputFiguresForm, OutputSession, OutputSessionForm,
};

/// How far OBS's output duration may go backwards before it is taken for a new session.
const NEW_SESSION_TOLERANCE_MS: i64 = 1_000;

pub const END_STOPPED: &str = "stopped";
pub const END_FOUND_STOPPED: &str = "found_stopped";

#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// OBS reported the output started.
    Started,
    /// OBS reported the output stopped; a recording's file comes with it.
    Stopped { output_path: Option<String> },
    /// The output's figures, from a poll.
    Figures(OutputFigures),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputFigures {
    pub active: bool,
    /// False while OBS is starting or stopping the output: "not active" is then not news.
    pub settled: bool,
    pub duration_ms: u64,
    pub bytes: u64,
    pub skipped_frames: Option<u32>,
    pub total_frames: Option<u32>,
    /// The bitrate over the window that ended with this reading, when one did.
    pub kbits_per_sec: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SessionStep {
    Open(OutputSessionForm),
    Update { id: i64, figures: OutputFiguresForm },
    Close { id: i64, close: OutputCloseForm },
}

pub fn plan(
    instance_id: i32,
    output: Output,
    open: Option<&OutputSession>,
    observation: &Observation,
    at: NaiveDateTime,
) -> Vec<SessionStep> {
    match (observation, open) {
        (Observation::Started, Some(_)) => Vec::new(),
        (Observation::Started, None) => vec![SessionStep::Open(OutputSessionForm {
            instance_id,
            output: output.as_str(),
            started_at: at,
            updated_at: at,
            duration_ms: 0,
            bytes: 0,
            skipped_frames: None,
            total_frames: None,
            peak_kbits_per_sec: 0.0,
            output_path: None,
        })],
        (Observation::Stopped { output_path }, Some(session)) => {
            let observed = (at - session.started_at).num_milliseconds().max(0);
            vec![SessionStep::Close {
                id: session.id,
                close: OutputCloseForm {
                    ended_at: Some(at),
                    end_reason: Some(END_STOPPED),
                    duration_ms: session.duration_ms.max(observed),
                    output_path: output_path.clone(),
                },
            }]
        }
        (Observation::Stopped { .. }, None) => Vec::new(),
        (Observation::Figures(figures), open) if figures.active => {
            let duration_ms = to_i64(figures.duration_ms);
            match open {
                Some(session) if duration_ms + NEW_SESSION_TOLERANCE_MS < session.duration_ms => {
                    vec![
                        found_stopped(session),
                        SessionStep::Open(opened_from(instance_id, output, figures, at)),
                    ]
                }
                Some(session) => vec![SessionStep::Update {
                    id: session.id,
                    figures: OutputFiguresForm {
                        updated_at: at,
                        duration_ms,
                        bytes: to_i64(figures.bytes),
                        skipped_frames: figures.skipped_frames.map(i64::from),
                        total_frames: figures.total_frames.map(i64::from),
                        peak_kbits_per_sec: session
                            .peak_kbits_per_sec
                            .max(figures.kbits_per_sec.unwrap_or(0.0)),
                    },
                }],
                None => vec![SessionStep::Open(opened_from(
                    instance_id,
                    output,
                    figures,
                    at,
                ))],
            }
        }
        (Observation::Figures(figures), Some(session)) if figures.settled => {
            vec![found_stopped(session)]
        }
        (Observation::Figures(_), _) => Vec::new(),
    }
}

fn found_stopped(session: &OutputSession) -> SessionStep {
    SessionStep::Close {
        id: session.id,
        close: OutputCloseForm {
            ended_at: Some(session.updated_at),
            end_reason: Some(END_FOUND_STOPPED),
            duration_ms: session.duration_ms,
            output_path: None,
        },
    }
}

/// A session first seen already running (the hub started mid-stream): it began `duration` ago.
fn opened_from(
    instance_id: i32,
    output: Output,
    figures: &OutputFigures,
    at: NaiveDateTime,
) -> OutputSessionForm {
    let duration_ms = to_i64(figures.duration_ms);
    OutputSessionForm {
        instance_id,
        output: output.as_str(),
        started_at: at - chrono::Duration::milliseconds(duration_ms),
        updated_at: at,
        duration_ms,
        bytes: to_i64(figures.bytes),
        skipped_frames: figures.skipped_frames.map(i64::from),
        total_frames: figures.total_frames.map(i64::from),
        peak_kbits_per_sec: figures.kbits_per_sec.unwrap_or(0.0),
        output_path: None,
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Settled figures of an output as a poll reports them, the bitrate following from bytes over
/// time: what the session tests here and in `db::queries` feed in.
#[cfg(test)]
pub(crate) fn figures_with_frames(
    active: bool,
    duration_ms: u64,
    bytes: u64,
    skipped_frames: u32,
    total_frames: u32,
) -> Observation {
    Observation::Figures(OutputFigures {
        active,
        settled: true,
        duration_ms,
        bytes,
        skipped_frames: Some(skipped_frames),
        total_frames: Some(total_frames),
        kbits_per_sec: Some(bytes as f64 * 8.0 / duration_ms.max(1) as f64),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    fn at(seconds: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|day| day.and_hms_opt(20, 0, 0))
            .expect("valid date")
            + Duration::seconds(seconds)
    }

    fn open_session(started: i64, updated: i64, duration_ms: i64, bytes: i64) -> OutputSession {
        OutputSession {
            id: 7,
            instance_id: 1,
            output: "stream".into(),
            started_at: at(started),
            ended_at: None,
            updated_at: at(updated),
            end_reason: None,
            duration_ms,
            bytes,
            skipped_frames: Some(0),
            total_frames: Some(0),
            peak_kbits_per_sec: 4000.0,
            output_path: None,
        }
    }

    fn figures(active: bool, duration_ms: u64, bytes: u64) -> Observation {
        figures_with_frames(active, duration_ms, bytes, 3, 300)
    }

    #[test]
    fn started_opens_once() {
        let steps = plan(1, Output::Stream, None, &Observation::Started, at(0));
        assert!(matches!(&steps[..], [SessionStep::Open(form)] if form.started_at == at(0)));
        let open = open_session(0, 0, 0, 0);
        assert!(plan(1, Output::Stream, Some(&open), &Observation::Started, at(5)).is_empty());
    }

    #[test]
    fn polls_update_figures_and_keep_the_peak() {
        let open = open_session(0, 10, 10_000, 5_000_000);
        let measured = |kbits_per_sec: Option<f64>| {
            Observation::Figures(OutputFigures {
                active: true,
                settled: true,
                duration_ms: 12_000,
                bytes: 6_500_000,
                skipped_frames: Some(3),
                total_frames: Some(300),
                kbits_per_sec,
            })
        };
        let steps = plan(
            1,
            Output::Stream,
            Some(&open),
            &measured(Some(6000.0)),
            at(12),
        );
        let [SessionStep::Update {
            id: 7,
            figures: form,
        }] = &steps[..]
        else {
            panic!("{steps:?}")
        };
        assert_eq!(form.bytes, 6_500_000);
        assert_eq!(form.skipped_frames, Some(3));
        assert_eq!(form.peak_kbits_per_sec, 6000.0);
        // A slower window, or none that ended, keeps the peak.
        let slower = plan(
            1,
            Output::Stream,
            Some(&open),
            &measured(Some(1000.0)),
            at(12),
        );
        let [SessionStep::Update { figures: form, .. }] = &slower[..] else {
            panic!("{slower:?}")
        };
        assert_eq!(form.peak_kbits_per_sec, 4000.0);
        let none = plan(1, Output::Stream, Some(&open), &measured(None), at(12));
        assert!(
            matches!(&none[..], [SessionStep::Update { figures, .. }] if figures.peak_kbits_per_sec == 4000.0)
        );
    }

    #[test]
    fn stopped_closes_with_the_observed_duration() {
        let open = open_session(0, 8, 8_000, 6_000_000);
        let steps = plan(
            1,
            Output::Record,
            Some(&open),
            &Observation::Stopped {
                output_path: Some("/rec/a.mkv".into()),
            },
            at(10),
        );
        let [SessionStep::Close { id: 7, close }] = &steps[..] else {
            panic!("{steps:?}")
        };
        assert_eq!(close.ended_at, Some(at(10)));
        assert_eq!(close.duration_ms, 10_000);
        assert_eq!(close.end_reason, Some(END_STOPPED));
        assert_eq!(close.output_path.as_deref(), Some("/rec/a.mkv"));
    }

    #[test]
    fn not_active_after_a_restart_closes_with_the_last_figures() {
        let open = open_session(0, 30, 30_000, 9_000_000);
        let steps = plan(
            1,
            Output::Stream,
            Some(&open),
            &figures(false, 0, 0),
            at(500),
        );
        let [SessionStep::Close { close, .. }] = &steps[..] else {
            panic!("{steps:?}")
        };
        assert_eq!(
            close.ended_at,
            Some(at(30)),
            "the last moment it was seen live"
        );
        assert_eq!(close.duration_ms, 30_000);
        assert_eq!(close.end_reason, Some(END_FOUND_STOPPED));
        // In the middle of a start or stop, "not active" is not news.
        let transition = Observation::Figures(OutputFigures {
            settled: false,
            ..OutputFigures::default()
        });
        assert!(plan(1, Output::Stream, Some(&open), &transition, at(31)).is_empty());
    }

    #[test]
    fn still_active_after_a_restart_keeps_the_session_unless_obs_restarted_it() {
        let open = open_session(0, 30, 30_000, 9_000_000);
        let going_on = plan(
            1,
            Output::Stream,
            Some(&open),
            &figures(true, 95_000, 30_000_000),
            at(95),
        );
        assert!(matches!(&going_on[..], [SessionStep::Update { id: 7, .. }]));
        // OBS's duration went backwards: a new stream began while the hub was away.
        let restarted = plan(
            1,
            Output::Stream,
            Some(&open),
            &figures(true, 20_000, 15_000_000),
            at(95),
        );
        let [SessionStep::Close { id: 7, .. }, SessionStep::Open(new)] = &restarted[..] else {
            panic!("{restarted:?}")
        };
        assert_eq!(new.started_at, at(75));
        assert_eq!(new.peak_kbits_per_sec, 6000.0);
    }

    #[test]
    fn first_sight_of_a_running_output_opens_it_in_the_past() {
        let steps = plan(
            1,
            Output::Stream,
            None,
            &figures(true, 4_000, 3_000_000),
            at(100),
        );
        let [SessionStep::Open(form)] = &steps[..] else {
            panic!("{steps:?}")
        };
        assert_eq!(form.started_at, at(96));
        assert_eq!(form.bytes, 3_000_000);
    }
}
