//! Commands the API sends to an instance's connection, and how they run against OBS.

use actix::Message;
use obws::{responses::StatusCode, Client};
use serde::Serialize;

use super::{failure::error_chain, reading};
use crate::pictures::capture::Screenshot;
use crate::{
    outputs::{
        commands::{OutputAnswer, OutputCommand},
        discipline::Refusal,
        Output,
    },
    sources::commands::{self as source_commands, SourceCommand, SourceOutcome},
    status::{model::SceneInfo, ConnectionState},
    studio::commands::{StudioCommand, StudioOutcome},
};

#[derive(Clone, Debug, PartialEq)]
pub enum ObsCommand {
    SwitchScene(String),
    /// Start, stop, pause... an output: serialised per output by the connection (see
    /// `outputs::discipline`), never sent from here.
    Output(OutputCommand),
    /// Re-read the scene list from OBS.
    SyncScenes,
    /// Scene items, inputs, media, filters, profiles, collections, hotkeys.
    Source(SourceCommand),
    /// Studio mode, preview, takes, transitions (see `studio::commands`).
    Studio(StudioCommand),
    /// A picture of a scene or an input (see `pictures::capture`).
    Screenshot(Screenshot),
    /// Mute, volume, balance (see `audio::commands`).
    Audio(crate::audio::commands::AudioCommand),
}

/// Sent to an `ObsConnection` (through the supervisor) to run one command.
#[derive(Message, Debug)]
#[rtype(result = "Result<CommandOutcome, CommandError>")]
pub struct Execute(pub ObsCommand);

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CommandOutcome {
    SceneSwitched {
        scene_name: String,
    },
    Output(OutputAnswer),
    Scenes {
        scenes: Vec<SceneInfo>,
        current_scene: Option<String>,
    },
    Source(SourceOutcome),
    Studio(StudioOutcome),
    /// The image's bytes.
    Picture(Vec<u8>),
    /// An input's audio after an audio command.
    Audio(crate::status::audio::AudioInput),
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("OBS is not connected ({state:?})")]
    NotConnected {
        state: ConnectionState,
        reason: Option<String>,
    },
    #[error("OBS did not answer within {0} ms")]
    Timeout(u64),
    #[error("OBS refused the request: {message}")]
    Rejected { code: StatusCode, message: String },
    #[error("the link to OBS failed during the request: {0}")]
    LinkFailed(String),
    #[error("no OBS instance named `{0}`")]
    UnknownInstance(String),
    #[error("the connection to `{0}` is restarting; retry in a moment")]
    Unavailable(String),
    /// A request the hub does not send, with the reason (e.g. a raw `StartOutput`, which no
    /// output lane can take).
    #[error("{0}")]
    NotAllowed(String),
    /// The command discipline refused an output command without asking OBS.
    #[error("{output:?} refused: {refusal:?}")]
    OutputRefused { output: Output, refusal: Refusal },
    /// OBS is switching scene collections: it refuses requests until the switch ends.
    #[error("OBS is switching scene collections")]
    CollectionChanging,
}

impl From<obws::error::Error> for CommandError {
    fn from(error: obws::error::Error) -> Self {
        match error {
            obws::error::Error::Api { code, message } => Self::Rejected {
                code,
                message: message.unwrap_or_else(|| format!("{code:?}")),
            },
            other => Self::LinkFailed(error_chain(&other)),
        }
    }
}

impl ObsCommand {
    /// The obs-websocket request it sends (a bounded label for metrics).
    pub fn request_name(&self) -> &'static str {
        match self {
            Self::SwitchScene(_) => "SetCurrentProgramScene",
            // Labelled by the request really sent, where the discipline sends it.
            Self::Output(_) => "output",
            Self::SyncScenes => "GetSceneList",
            Self::Source(command) => command.request_name(),
            Self::Studio(command) => command.request_name(),
            Self::Screenshot(_) => "GetSourceScreenshot",
            Self::Audio(command) => command.request_name(),
        }
    }
}

pub async fn run(client: &Client, command: ObsCommand) -> Result<CommandOutcome, CommandError> {
    Ok(match command {
        ObsCommand::SwitchScene(scene_name) => {
            client
                .scenes()
                .set_current_program_scene(scene_name.as_str())
                .await?;
            CommandOutcome::SceneSwitched { scene_name }
        }
        // The connection hands these to its output lanes before ever calling `run`.
        ObsCommand::Output(command) => {
            return Err(CommandError::Unavailable(format!(
                "{} (output commands go through the connection's discipline)",
                command.output().as_str()
            )))
        }
        ObsCommand::SyncScenes => {
            let (scenes, current_scene) = reading::read_scenes(client).await?;
            CommandOutcome::Scenes {
                scenes,
                current_scene,
            }
        }
        ObsCommand::Source(command) => {
            CommandOutcome::Source(source_commands::run(client, &command).await?)
        }
        ObsCommand::Studio(command) => {
            CommandOutcome::Studio(crate::studio::commands::send(client, command).await?)
        }
        ObsCommand::Screenshot(screenshot) => {
            CommandOutcome::Picture(crate::pictures::capture::take(client, &screenshot).await?)
        }
        ObsCommand::Audio(command) => {
            CommandOutcome::Audio(crate::audio::commands::send(client, command).await?)
        }
    })
}
