//! The command discipline: one lane per output of an instance, so that OBS never receives two
//! racing commands for the same output, whatever the entry point.
//!
//! OBS 32.2.2 crashed (segmentation fault) when two StartStream requests arrived before the
//! first had reached STARTED: obs-websocket answered both 200 because the output was not yet
//! "active". The hub's cached status could not prevent that either: it learns of STARTING only
//! after OBS has accepted the first request. So the lane keeps its own view of the output,
//! including the command it has in flight, and applies these rules (see [`step`]):
//!
//! - one command per output at a time; others queue behind it, in order;
//! - a start or stop in flight, or the transition it began, counts as the state it leads to: a
//!   second start while starting is answered at once with that state and nothing is sent;
//! - a stop while starting (or a start while stopping) waits until the transition settles (OBS
//!   reports STARTED or STOPPED, or [`SETTLE_LIMIT`] passes), then goes to OBS;
//! - toggle, ensure and toggle-pause are resolved against that view when their turn comes.
//!
//! The lane is plain data; the connection actor owns one per output, feeds it OBS's events and
//! polls, and sends what it says to send.

use std::{collections::VecDeque, time::Duration};

use super::output_commands::{Action, OutputCommand};
use crate::status::{
    output_status::{Output, OutputUpdate},
    update::{ObsUpdate, PollReading},
};

/// How long a start or stop may stay unsettled (no STARTED/STOPPED from OBS) before the lane
/// stops waiting for it and lets the next command through. An RTMP connect takes a second or
/// two; OBS gives up on an unreachable server well within this.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(15);

/// Commands that may wait in one lane; more are refused rather than queued without bound.
pub const MAX_QUEUED: usize = 32;

/// What the lane believes about its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing read yet (or a transition never settled).
    Unknown,
    Stopped,
    Starting,
    Started,
    Stopping,
}

impl Phase {
    /// From an OBS output state (`OBS_WEBSOCKET_OUTPUT_*`, as named by `obs::events`).
    pub fn from_obs(active: bool, state: &str) -> Self {
        match state {
            "starting" => Self::Starting,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            "started" | "reconnecting" | "reconnected" | "paused" | "resumed" => Self::Started,
            _ if active => Self::Started,
            _ => Self::Stopped,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Stopped => "stopped",
            Self::Starting => "starting",
            Self::Started => "started",
            Self::Stopping => "stopping",
        }
    }

    /// Whether the output is on, or on its way there.
    pub fn heading_active(self) -> bool {
        matches!(self, Self::Starting | Self::Started)
    }

    /// Whether OBS is consuming frames for this output (the hub polls faster then).
    pub fn running(self) -> bool {
        matches!(self, Self::Starting | Self::Started | Self::Stopping)
    }

    fn in_transition(self) -> bool {
        matches!(self, Self::Starting | Self::Stopping)
    }
}

/// Why the lane refuses a command without asking OBS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Pause or resume of a recording that is not running. (OBS itself answers success and
    /// does nothing.)
    NotRecording,
    /// Too many commands already wait in this lane.
    QueueFull,
    /// OBS accepted a pause or resume that did not happen (a recording sharing the stream's
    /// encoder cannot pause).
    NoEffect,
}

/// What to do with the command at the head of a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this to OBS.
    Send(Action),
    /// Answer at once with the lane's state: the output is there or on its way.
    Answer,
    Refuse(Refusal),
    /// Wait for the transition in progress to settle.
    Wait,
}

/// The discipline's rules: what a command means given what the lane believes.
pub fn step(command: &OutputCommand, phase: Phase, paused: bool) -> Step {
    use Phase::*;
    let start = || match phase {
        Starting => Step::Answer,
        Stopping => Step::Wait,
        // Started: OBS refuses with its own words (409, as the seed's start-stream does).
        Unknown | Stopped | Started => Step::Send(Action::Start),
    };
    let stop = || match phase {
        Stopping => Step::Answer,
        Starting => Step::Wait,
        Unknown | Started | Stopped => Step::Send(Action::Stop),
    };
    let on_recording = |action: Action| match phase {
        Starting | Stopping => Step::Wait,
        Stopped => Step::Refuse(Refusal::NotRecording),
        Unknown | Started => Step::Send(action),
    };
    let after_transition = |action: Action| match phase {
        Starting | Stopping => Step::Wait,
        _ => Step::Send(action),
    };
    match command {
        OutputCommand::Start(_) => start(),
        OutputCommand::Stop(_) => stop(),
        OutputCommand::Toggle(_) if phase.heading_active() => stop(),
        OutputCommand::Toggle(_) => start(),
        OutputCommand::Ensure { active: true, .. } => match phase {
            Started => Step::Answer,
            _ => start(),
        },
        OutputCommand::Ensure { active: false, .. } => match phase {
            Stopped => Step::Answer,
            _ => stop(),
        },
        OutputCommand::Pause => on_recording(Action::Pause),
        OutputCommand::Resume => on_recording(Action::Resume),
        OutputCommand::TogglePause if paused => on_recording(Action::Resume),
        OutputCommand::TogglePause => on_recording(Action::Pause),
        OutputCommand::Split => after_transition(Action::Split),
        OutputCommand::Chapter(name) => after_transition(Action::Chapter(name.clone())),
        OutputCommand::SaveReplay => after_transition(Action::SaveReplay),
    }
}

/// How OBS answered an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Accepted,
    /// Refused because the output already is where the action leads (OutputRunning for a
    /// start, OutputNotRunning for a stop): the lane learns the real state from it.
    AlreadyThere,
    Failed,
}

/// One output's lane. `T` is what the owner keeps per waiting command (its reply channel).
#[derive(Debug)]
pub struct Lane<T> {
    output: Output,
    phase: Phase,
    paused: bool,
    /// A command is with OBS (or held until OBS reports its result, see [`Lane::hold`]).
    busy: bool,
    held: Option<T>,
    /// Bumped at every transition the lane begins and at every reset, so a settle deadline or
    /// an answer from before is recognised as stale.
    epoch: u64,
    queue: VecDeque<(OutputCommand, T)>,
}

impl<T> Lane<T> {
    pub fn new(output: Output) -> Self {
        Self {
            output,
            phase: Phase::Unknown,
            paused: false,
            busy: false,
            held: None,
            epoch: 0,
            queue: VecDeque::new(),
        }
    }

    pub fn output(&self) -> Output {
        self.output
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Queues a command; gives it back when the lane is full.
    pub fn push(&mut self, command: OutputCommand, waiter: T) -> Result<(), (OutputCommand, T)> {
        if self.queue.len() >= MAX_QUEUED {
            return Err((command, waiter));
        }
        self.queue.push_back((command, waiter));
        Ok(())
    }

    /// The next command to act on, with what to do. None while a command is with OBS, while
    /// the head waits for a transition, or when nothing waits. A `Send` marks the lane busy
    /// until [`Lane::sent`].
    pub fn take_next(&mut self) -> Option<(OutputCommand, T, Step)> {
        if self.busy {
            return None;
        }
        let (command, _) = self.queue.front()?;
        let step = step(command, self.phase, self.paused);
        if step == Step::Wait {
            return None;
        }
        let (command, waiter) = self.queue.pop_front()?;
        if matches!(step, Step::Send(_)) {
            self.busy = true;
        }
        Some((command, waiter, step))
    }

    /// OBS answered `action`. Returns the epoch of the transition it began, if it began one:
    /// the owner then schedules [`Lane::expire`] after [`SETTLE_LIMIT`].
    pub fn sent(&mut self, action: &Action, answer: Sent) -> Option<u64> {
        self.busy = self.held.is_some();
        let (moving, there) = match action {
            Action::Start => (Phase::Starting, Phase::Started),
            Action::Stop => (Phase::Stopping, Phase::Stopped),
            Action::Pause | Action::Resume => {
                if answer == Sent::Accepted {
                    self.paused = *action == Action::Pause;
                }
                return None;
            }
            _ => return None,
        };
        match answer {
            Sent::Accepted => {
                // OBS's own event may already have moved the lane on; never go back.
                let before = match action {
                    Action::Start => [Phase::Unknown, Phase::Stopped],
                    _ => [Phase::Unknown, Phase::Started],
                };
                if before.contains(&self.phase) {
                    self.phase = moving;
                }
                if self.phase == moving {
                    self.epoch += 1;
                    return Some(self.epoch);
                }
                None
            }
            Sent::AlreadyThere => {
                self.phase = there;
                None
            }
            Sent::Failed => None,
        }
    }

    /// Keeps the lane busy after OBS accepted a command whose result comes as an event later
    /// (a replay save answers with ReplayBufferSaved's path).
    pub fn hold(&mut self, waiter: T) {
        self.busy = true;
        self.held = Some(waiter);
    }

    pub fn held(&self) -> Option<&T> {
        self.held.as_ref()
    }

    /// The held waiter, releasing the lane.
    pub fn release(&mut self) -> Option<T> {
        self.busy = false;
        self.held.take()
    }

    /// OBS reported a state (an event, or the read after connecting).
    pub fn observe(&mut self, active: bool, state: &str) {
        match state {
            "paused" => self.paused = true,
            "resumed" | "started" | "stopped" => self.paused = false,
            _ => {}
        }
        self.phase = Phase::from_obs(active, state);
    }

    /// A poll read `active`. A poll cannot tell a transition from its end (OBS reports STOPPING
    /// with the output still active), so it only settles one in the direction it was going.
    pub fn observe_poll(&mut self, active: bool, paused: Option<bool>) {
        self.phase = match (self.phase, active) {
            (Phase::Starting, false) | (Phase::Stopping, true) => self.phase,
            (_, true) => Phase::Started,
            (_, false) => Phase::Stopped,
        };
        if let Some(paused) = paused {
            self.paused = paused && active;
        }
    }

    /// The settle deadline of transition `epoch` passed: if it is still unsettled, the lane no
    /// longer knows the state and lets OBS decide the next command. True if the lane changed.
    pub fn expire(&mut self, epoch: u64) -> bool {
        if epoch == self.epoch && self.phase.in_transition() {
            self.phase = Phase::Unknown;
            return true;
        }
        false
    }

    /// The link is gone: everything waiting and held is handed back (to be answered "not
    /// connected"), and the state is unknown until the next read.
    pub fn reset(&mut self) -> Vec<T> {
        self.phase = Phase::Unknown;
        self.paused = false;
        self.busy = false;
        self.epoch += 1;
        let mut waiters: Vec<T> = self.held.take().into_iter().collect();
        waiters.extend(self.queue.drain(..).map(|(_, waiter)| waiter));
        waiters
    }

    /// Whether `epoch` is still this lane's (an answer from before a reset is not).
    pub fn is_current(&self, epoch: u64) -> bool {
        self.epoch == epoch
    }
}

/// The four lanes of one instance.
#[derive(Debug)]
pub struct Lanes<T> {
    lanes: [Lane<T>; 4],
}

impl<T> Default for Lanes<T> {
    fn default() -> Self {
        Self {
            lanes: Output::ALL.map(Lane::new),
        }
    }
}

impl<T> Lanes<T> {
    pub fn get(&self, output: Output) -> &Lane<T> {
        &self.lanes[output.index()]
    }

    pub fn get_mut(&mut self, output: Output) -> &mut Lane<T> {
        &mut self.lanes[output.index()]
    }

    /// Whether any output is running (stats are polled faster then).
    pub fn any_running(&self) -> bool {
        self.lanes.iter().any(|lane| lane.phase.running())
    }

    pub fn reset(&mut self) -> Vec<T> {
        self.lanes.iter_mut().flat_map(Lane::reset).collect()
    }

    /// Teaches the lanes what OBS reported; returns the outputs whose lane may move on.
    pub fn observe(&mut self, update: &ObsUpdate) -> Vec<Output> {
        match update {
            ObsUpdate::StreamState { active, state } => {
                self.get_mut(Output::Stream).observe(*active, state);
                vec![Output::Stream]
            }
            ObsUpdate::RecordState { active, state, .. } => {
                self.get_mut(Output::Record).observe(*active, state);
                vec![Output::Record]
            }
            ObsUpdate::Output(OutputUpdate::State {
                output,
                active,
                state,
            }) => {
                self.get_mut(*output).observe(*active, state);
                vec![*output]
            }
            ObsUpdate::Poll(reading) | ObsUpdate::Snapshot { reading, .. } => {
                self.observe_poll(reading);
                Output::ALL.to_vec()
            }
            _ => Vec::new(),
        }
    }

    fn observe_poll(&mut self, reading: &PollReading) {
        let side = &reading.side;
        self.get_mut(Output::Stream)
            .observe_poll(reading.stream.active, None);
        self.get_mut(Output::Record)
            .observe_poll(reading.record.active, Some(reading.record.paused));
        self.get_mut(Output::ReplayBuffer)
            .observe_poll(side.replay_buffer.unwrap_or(false), None);
        self.get_mut(Output::VirtualCam)
            .observe_poll(side.virtual_cam.unwrap_or(false), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane() -> Lane<&'static str> {
        let mut lane = Lane::new(Output::Stream);
        lane.observe(false, "stopped");
        lane
    }

    fn start() -> OutputCommand {
        OutputCommand::Start(Output::Stream)
    }

    fn stop() -> OutputCommand {
        OutputCommand::Stop(Output::Stream)
    }

    #[test]
    fn a_second_start_while_the_first_is_with_obs_is_answered_without_sending() {
        let mut lane = lane();
        lane.push(start(), "first").unwrap();
        lane.push(start(), "second").unwrap();
        let (_, first, step) = lane.take_next().unwrap();
        assert_eq!((first, step), ("first", Step::Send(Action::Start)));
        // OBS has not answered yet: nothing else may go.
        assert!(lane.take_next().is_none());
        assert!(lane.sent(&Action::Start, Sent::Accepted).is_some());
        assert_eq!(lane.phase(), Phase::Starting);
        let (_, second, step) = lane.take_next().unwrap();
        assert_eq!((second, step), ("second", Step::Answer));
    }

    #[test]
    fn a_stop_while_starting_waits_for_started_then_goes() {
        let mut lane = lane();
        lane.push(start(), "start").unwrap();
        lane.take_next().unwrap();
        lane.sent(&Action::Start, Sent::Accepted);
        lane.push(stop(), "stop").unwrap();
        assert!(lane.take_next().is_none(), "waits while starting");
        lane.observe(true, "started");
        let (_, waiter, step) = lane.take_next().unwrap();
        assert_eq!((waiter, step), ("stop", Step::Send(Action::Stop)));
    }

    #[test]
    fn a_start_while_stopping_waits_and_a_failed_start_lets_the_next_one_try() {
        let mut lane = lane();
        lane.observe(false, "stopping");
        lane.push(start(), "a").unwrap();
        assert!(lane.take_next().is_none());
        lane.observe(false, "stopped");
        let (_, _, step) = lane.take_next().unwrap();
        assert_eq!(step, Step::Send(Action::Start));
        lane.push(start(), "b").unwrap();
        lane.sent(&Action::Start, Sent::Failed);
        assert_eq!(lane.phase(), Phase::Stopped);
        assert_eq!(lane.take_next().unwrap().2, Step::Send(Action::Start));
    }

    #[test]
    fn a_start_made_in_obs_itself_counts_too() {
        let mut lane = lane();
        lane.observe(false, "starting");
        lane.push(start(), "api").unwrap();
        assert_eq!(lane.take_next().unwrap().2, Step::Answer);
    }

    #[test]
    fn toggle_and_ensure_resolve_against_the_lane() {
        let toggle = OutputCommand::Toggle(Output::Stream);
        assert_eq!(
            step(&toggle, Phase::Stopped, false),
            Step::Send(Action::Start)
        );
        assert_eq!(
            step(&toggle, Phase::Started, false),
            Step::Send(Action::Stop)
        );
        assert_eq!(step(&toggle, Phase::Starting, false), Step::Wait);
        assert_eq!(step(&toggle, Phase::Stopping, false), Step::Wait);
        let on = OutputCommand::Ensure {
            output: Output::Stream,
            active: true,
        };
        let off = OutputCommand::Ensure {
            output: Output::Stream,
            active: false,
        };
        assert_eq!(step(&on, Phase::Started, false), Step::Answer);
        assert_eq!(step(&on, Phase::Starting, false), Step::Answer);
        assert_eq!(step(&on, Phase::Stopped, false), Step::Send(Action::Start));
        assert_eq!(step(&on, Phase::Stopping, false), Step::Wait);
        assert_eq!(step(&off, Phase::Stopped, false), Step::Answer);
        assert_eq!(step(&off, Phase::Stopping, false), Step::Answer);
        assert_eq!(step(&off, Phase::Started, false), Step::Send(Action::Stop));
        assert_eq!(step(&off, Phase::Starting, false), Step::Wait);
    }

    #[test]
    fn pause_needs_a_running_recording_and_toggle_pause_follows_the_state() {
        assert_eq!(
            step(&OutputCommand::Pause, Phase::Stopped, false),
            Step::Refuse(Refusal::NotRecording)
        );
        assert_eq!(
            step(&OutputCommand::TogglePause, Phase::Started, false),
            Step::Send(Action::Pause)
        );
        assert_eq!(
            step(&OutputCommand::TogglePause, Phase::Started, true),
            Step::Send(Action::Resume)
        );
        assert_eq!(
            step(&OutputCommand::Split, Phase::Starting, false),
            Step::Wait
        );
        let mut lane: Lane<()> = Lane::new(Output::Record);
        lane.observe(true, "started");
        lane.observe(true, "paused");
        assert!(lane.paused());
        assert_eq!(lane.phase(), Phase::Started);
        lane.observe(true, "resumed");
        assert!(!lane.paused());
    }

    #[test]
    fn a_refusal_because_already_there_teaches_the_lane() {
        let mut lane = lane();
        lane.push(start(), "a").unwrap();
        lane.take_next().unwrap();
        assert_eq!(lane.sent(&Action::Start, Sent::AlreadyThere), None);
        assert_eq!(lane.phase(), Phase::Started);
    }

    #[test]
    fn an_unsettled_transition_expires_and_a_stale_deadline_does_nothing() {
        let mut lane = lane();
        lane.push(start(), "a").unwrap();
        lane.take_next().unwrap();
        let epoch = lane.sent(&Action::Start, Sent::Accepted).unwrap();
        lane.push(stop(), "b").unwrap();
        assert!(lane.take_next().is_none());
        assert!(!lane.expire(epoch + 1));
        assert!(lane.expire(epoch));
        assert_eq!(lane.phase(), Phase::Unknown);
        assert_eq!(lane.take_next().unwrap().2, Step::Send(Action::Stop));
    }

    #[test]
    fn polls_settle_only_in_the_direction_of_the_transition() {
        let mut lane = lane();
        lane.observe(false, "starting");
        lane.observe_poll(false, None);
        assert_eq!(lane.phase(), Phase::Starting);
        lane.observe_poll(true, None);
        assert_eq!(lane.phase(), Phase::Started);
        lane.observe(false, "stopping");
        lane.observe_poll(true, None);
        assert_eq!(lane.phase(), Phase::Stopping);
        lane.observe_poll(false, None);
        assert_eq!(lane.phase(), Phase::Stopped);
    }

    #[test]
    fn a_reset_hands_back_every_waiter_and_the_queue_is_bounded() {
        let mut lane = lane();
        lane.push(start(), "sent").unwrap();
        lane.take_next().unwrap();
        for _ in 1..MAX_QUEUED {
            lane.push(start(), "queued").unwrap();
        }
        lane.push(start(), "last").unwrap();
        assert!(lane.push(start(), "too many").is_err());
        lane.hold("held");
        let epoch = lane.epoch();
        let waiters = lane.reset();
        assert_eq!(waiters.len(), MAX_QUEUED + 1);
        assert_eq!(waiters[0], "held");
        assert!(!lane.is_current(epoch));
        assert_eq!(lane.phase(), Phase::Unknown);
    }

    #[test]
    fn lanes_learn_from_polls_and_say_when_an_output_runs() {
        let mut lanes: Lanes<()> = Lanes::default();
        assert!(!lanes.any_running(), "nothing known yet");
        let mut reading = PollReading::default();
        reading.side.replay_buffer = Some(true);
        assert_eq!(lanes.observe(&ObsUpdate::Poll(reading)).len(), 4);
        assert_eq!(lanes.get(Output::ReplayBuffer).phase(), Phase::Started);
        assert_eq!(lanes.get(Output::VirtualCam).phase(), Phase::Stopped);
        assert!(
            lanes.any_running(),
            "the replay buffer runs: poll stats fast"
        );
        lanes.observe(&ObsUpdate::Output(OutputUpdate::State {
            output: Output::ReplayBuffer,
            active: false,
            state: "stopped".into(),
        }));
        assert!(!lanes.any_running());
    }

    #[test]
    fn a_held_save_keeps_the_lane_busy_until_released() {
        let mut lane: Lane<&str> = Lane::new(Output::ReplayBuffer);
        lane.observe(true, "started");
        lane.push(OutputCommand::SaveReplay, "save").unwrap();
        lane.push(OutputCommand::SaveReplay, "again").unwrap();
        let (_, waiter, step) = lane.take_next().unwrap();
        assert_eq!(step, Step::Send(Action::SaveReplay));
        lane.hold(waiter);
        lane.sent(&Action::SaveReplay, Sent::Accepted);
        assert!(
            lane.take_next().is_none(),
            "held until OBS reports the file"
        );
        assert_eq!(lane.release(), Some("save"));
        assert_eq!(lane.take_next().unwrap().1, "again");
    }
}
