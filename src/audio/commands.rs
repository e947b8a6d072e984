//! Audio commands: what a client asks for and how it is sent to OBS. Every command answers the
//! input's audio as OBS reports it afterwards (read back, not guessed).

use obws::{
    requests::inputs::{InputId, Volume},
    Client,
};

use super::{events, status::AudioInput};
use crate::obs::{Answered, CapabilityCommand, CommandError};

/// obs-websocket's range for SetInputVolume's `inputVolumeDb`.
pub const DB_RANGE: std::ops::RangeInclusive<f64> = -100.0..=26.0;
/// obs-websocket's range for SetInputVolume's `inputVolumeMul`.
pub const MUL_RANGE: std::ops::RangeInclusive<f64> = 0.0..=20.0;
/// obs-websocket's range for SetInputAudioBalance.
pub const BALANCE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=1.0;

#[derive(Clone, Debug, PartialEq)]
pub enum AudioCommand {
    SetMuted { input: String, muted: bool },
    ToggleMute { input: String },
    VolumeDb { input: String, db: f64 },
    VolumeMul { input: String, mul: f64 },
    Balance { input: String, balance: f64 },
}

impl AudioCommand {
    /// The input it acts on.
    pub fn input(&self) -> &str {
        match self {
            Self::SetMuted { input, .. }
            | Self::ToggleMute { input }
            | Self::VolumeDb { input, .. }
            | Self::VolumeMul { input, .. }
            | Self::Balance { input, .. } => input,
        }
    }

    /// The action's name in answers.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SetMuted { muted: true, .. } => "mute",
            Self::SetMuted { muted: false, .. } => "unmute",
            Self::ToggleMute { .. } => "toggle-mute",
            Self::VolumeDb { .. } | Self::VolumeMul { .. } => "set-volume",
            Self::Balance { .. } => "set-balance",
        }
    }

    /// The obs-websocket request it sends (a bounded label for metrics).
    pub fn request_name(&self) -> &'static str {
        match self {
            Self::SetMuted { .. } => "SetInputMute",
            Self::ToggleMute { .. } => "ToggleInputMute",
            Self::VolumeDb { .. } | Self::VolumeMul { .. } => "SetInputVolume",
            Self::Balance { .. } => "SetInputAudioBalance",
        }
    }
}

/// Runs one command against OBS; answers the input's audio afterwards.
pub async fn send(client: &Client, command: AudioCommand) -> Result<AudioInput, CommandError> {
    let inputs = client.inputs();
    let id = InputId::Name(command.input());
    match &command {
        AudioCommand::SetMuted { muted, .. } => inputs.set_muted(id, *muted).await?,
        AudioCommand::ToggleMute { .. } => {
            inputs.toggle_mute(id).await?;
        }
        AudioCommand::VolumeDb { db, .. } => inputs.set_volume(id, Volume::Db(*db as f32)).await?,
        AudioCommand::VolumeMul { mul, .. } => {
            inputs.set_volume(id, Volume::Mul(*mul as f32)).await?
        }
        AudioCommand::Balance { balance, .. } => {
            inputs.set_audio_balance(id, *balance as f32).await?
        }
    }
    let list = inputs.list(None).await?;
    let found = list.into_iter().find(|i| i.id.name == command.input());
    let (uuid, kind) = found
        .map(|i| (Some(i.id.uuid.to_string()), i.kind))
        .unwrap_or_default();
    events::read_input(client, command.input(), uuid, kind)
        .await?
        .ok_or_else(|| CommandError::LinkFailed("the input lost its audio".into()))
}

impl CapabilityCommand for AudioCommand {
    fn request_name(&self) -> &'static str {
        AudioCommand::request_name(self)
    }

    fn run(
        self: Box<Self>,
        client: &Client,
    ) -> futures_util::future::BoxFuture<'_, Result<Answered, CommandError>> {
        Box::pin(async move { Ok(Answered::new(send(client, *self).await?)) })
    }
}
