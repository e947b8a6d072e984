//! Output commands: what a client asks for, what is actually sent to OBS, and what it answers.

use std::time::Duration;

use obws::Client;
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    discipline::{Phase, Refusal},
    CommandError,
};
use crate::status::output_status::Output;

/// What a client asks of an output. Toggle, ensure and toggle-pause are resolved by the
/// discipline against what the hub knows, so OBS only ever receives plain start/stop/pause/resume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputCommand {
    Start(Output),
    Stop(Output),
    Toggle(Output),
    /// Bring the output to this state; nothing is sent when it is there or on its way.
    Ensure {
        output: Output,
        active: bool,
    },
    Pause,
    Resume,
    TogglePause,
    Split,
    Chapter(Option<String>),
    SaveReplay,
}

impl OutputCommand {
    pub fn output(&self) -> Output {
        match self {
            Self::Start(output) | Self::Stop(output) | Self::Toggle(output) => *output,
            Self::Ensure { output, .. } => *output,
            Self::Pause | Self::Resume | Self::TogglePause | Self::Split | Self::Chapter(_) => {
                Output::Record
            }
            Self::SaveReplay => Output::ReplayBuffer,
        }
    }

    /// The action's name in answers (`start`, `toggle-pause`...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Start(_) => "start",
            Self::Stop(_) => "stop",
            Self::Toggle(_) => "toggle",
            Self::Ensure { .. } => "ensure",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::TogglePause => "toggle-pause",
            Self::Split => "split",
            Self::Chapter(_) => "chapter",
            Self::SaveReplay => "save",
        }
    }
}

/// A request that really goes to OBS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Pause,
    Resume,
    Split,
    Chapter(Option<String>),
    SaveReplay,
}

impl Action {
    /// The obs-websocket request (a bounded label for metrics).
    pub fn request_name(&self, output: Output) -> &'static str {
        match (self, output) {
            (Self::Start, Output::Stream) => "StartStream",
            (Self::Stop, Output::Stream) => "StopStream",
            (Self::Start, Output::Record) => "StartRecord",
            (Self::Stop, Output::Record) => "StopRecord",
            (Self::Start, Output::ReplayBuffer) => "StartReplayBuffer",
            (Self::Stop, Output::ReplayBuffer) => "StopReplayBuffer",
            (Self::Start, Output::VirtualCam) => "StartVirtualCam",
            (Self::Stop, Output::VirtualCam) => "StopVirtualCam",
            (Self::Pause, _) => "PauseRecord",
            (Self::Resume, _) => "ResumeRecord",
            (Self::Split, _) => "SplitRecordFile",
            (Self::Chapter(_), _) => "CreateRecordChapter",
            (Self::SaveReplay, _) => "SaveReplayBuffer",
        }
    }
}

/// How long a pause or resume may take to show in GetRecordStatus: OBS queues it to its UI
/// thread after answering the request.
const PAUSE_CONFIRMATION: Duration = Duration::from_secs(2);
const PAUSE_CHECK_EVERY: Duration = Duration::from_millis(100);

impl Action {
    /// Time this action takes beyond its request: a pause or resume is confirmed afterwards.
    pub fn confirmation_time(&self) -> Duration {
        match self {
            Self::Pause | Self::Resume => PAUSE_CONFIRMATION,
            _ => Duration::ZERO,
        }
    }
}

/// Sends one action; answers the recording's path for a record stop.
pub async fn send(
    client: &Client,
    output: Output,
    action: &Action,
) -> Result<Option<String>, CommandError> {
    let path = send_request(client, output, action).await?;
    if let Action::Pause | Action::Resume = action {
        confirm_pause(client, *action == Action::Pause).await?;
    }
    Ok(path)
}

/// OBS answers PauseRecord with success and does nothing when the recording cannot be paused
/// (it shares the stream's encoder: Simple mode with "Same as stream" quality). Say so rather
/// than report a pause that did not happen.
async fn confirm_pause(client: &Client, paused: bool) -> Result<(), CommandError> {
    let deadline = tokio::time::Instant::now() + PAUSE_CONFIRMATION;
    loop {
        let status = client.recording().status().await?;
        if status.paused == paused || !status.active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CommandError::OutputRefused {
                output: Output::Record,
                refusal: Refusal::NoEffect,
            });
        }
        tokio::time::sleep(PAUSE_CHECK_EVERY).await;
    }
}

async fn send_request(
    client: &Client,
    output: Output,
    action: &Action,
) -> Result<Option<String>, obws::error::Error> {
    match (action, output) {
        (Action::Start, Output::Stream) => client.streaming().start().await?,
        (Action::Stop, Output::Stream) => client.streaming().stop().await?,
        (Action::Start, Output::Record) => client.recording().start().await?,
        (Action::Stop, Output::Record) => return client.recording().stop().await.map(Some),
        (Action::Start, Output::ReplayBuffer) => client.replay_buffer().start().await?,
        (Action::Stop, Output::ReplayBuffer) => client.replay_buffer().stop().await?,
        (Action::Start, Output::VirtualCam) => client.virtual_cam().start().await?,
        (Action::Stop, Output::VirtualCam) => client.virtual_cam().stop().await?,
        (Action::Pause, _) => client.recording().pause().await?,
        (Action::Resume, _) => client.recording().resume().await?,
        (Action::Split, _) => client.recording().split_file().await?,
        (Action::Chapter(name), _) => client.recording().create_chapter(name.as_deref()).await?,
        (Action::SaveReplay, _) => client.replay_buffer().save().await?,
    }
    Ok(None)
}

/// The answer to an output command.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OutputAnswer {
    pub output: Output,
    pub action: &'static str,
    /// The state the output is in or on its way to: true from `starting` until `stopping`.
    pub active: bool,
    /// `starting`, `started`, `stopping`, `stopped` (or `unknown` before the first reading).
    pub state: &'static str,
    /// Whether the recording is paused (record only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// False when the hub answered without asking OBS: the output was already where the
    /// command leads, or on its way there (a second start while starting).
    pub sent_to_obs: bool,
    /// The finished recording (record stop) or the saved replay (replay-buffer save).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
}

impl OutputAnswer {
    pub fn new(command: &OutputCommand, phase: Phase, paused: bool, sent_to_obs: bool) -> Self {
        let output = command.output();
        Self {
            output,
            action: command.name(),
            active: phase.heading_active(),
            state: phase.as_str(),
            paused: (output == Output::Record).then_some(paused),
            sent_to_obs,
            output_path: None,
        }
    }
}
