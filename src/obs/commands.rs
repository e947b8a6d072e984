//! Commands the API sends to an instance's connection, and how they run against OBS.

use std::{any::Any, fmt::Debug};

use actix::Message;
use futures_util::future::BoxFuture;
use obws::{responses::StatusCode, Client};

use super::{
    discipline::Refusal,
    failure::error_chain,
    output_commands::{OutputAnswer, OutputCommand},
    reading,
};
use crate::status::{model::SceneInfo, output_status::Output, update::ObsUpdate, ConnectionState};

/// A capability's command (sources, studio, pictures...): the capability defines what it sends
/// and what it answers; the connection only runs it, under its timeout and metrics.
pub trait CapabilityCommand: Send + Debug {
    /// The obs-websocket request it sends (a bounded label for metrics).
    fn request_name(&self) -> &'static str;
    /// Sends it to OBS.
    fn run(self: Box<Self>, client: &Client) -> BoxFuture<'_, Result<Answered, CommandError>>;
}

/// What a capability command answered: the capability's own answer, which its route takes back
/// with [`CommandOutcome::into_capability`], and the change OBS just confirmed, which the
/// connection applies at once (a read right after the answer sees it).
pub struct Answered {
    pub answer: Box<dyn Any + Send>,
    pub confirmed: Option<ObsUpdate>,
}

impl Answered {
    pub fn new(answer: impl Any + Send) -> Self {
        Self {
            answer: Box::new(answer),
            confirmed: None,
        }
    }
}

impl Debug for Answered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answered")
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub enum ObsCommand {
    SwitchScene(String),
    /// Start, stop, pause... an output: serialised per output by the connection (see
    /// `obs::discipline`), never sent from here.
    Output(OutputCommand),
    /// Re-read the scene list from OBS.
    SyncScenes,
    /// A capability's command: scene items, inputs, media, filters, profiles, collections,
    /// hotkeys; studio mode, preview, takes, transitions; pictures.
    Capability(Box<dyn CapabilityCommand>),
}

impl ObsCommand {
    pub fn capability(command: impl CapabilityCommand + 'static) -> Self {
        Self::Capability(Box::new(command))
    }
}

/// Sent to an `ObsConnection` (through the supervisor) to run one command.
#[derive(Message, Debug)]
#[rtype(result = "Result<CommandOutcome, CommandError>")]
pub struct Execute(pub ObsCommand);

#[derive(Debug)]
pub enum CommandOutcome {
    SceneSwitched {
        scene_name: String,
    },
    Output(OutputAnswer),
    Scenes {
        scenes: Vec<SceneInfo>,
        current_scene: Option<String>,
    },
    /// A capability's answer (see [`Answered`]).
    Capability(Box<dyn Any + Send>),
}

impl CommandOutcome {
    /// A capability's answer of type `T` (`None` for any other outcome).
    pub fn into_capability<T: Any>(self) -> Option<T> {
        match self {
            Self::Capability(answer) => answer.downcast::<T>().ok().map(|answer| *answer),
            _ => None,
        }
    }
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
            Self::Capability(command) => command.request_name(),
        }
    }
}

/// Runs `command`; with the change OBS confirmed by its answer, if the command says so.
pub async fn run(
    client: &Client,
    command: ObsCommand,
) -> Result<(CommandOutcome, Option<ObsUpdate>), CommandError> {
    Ok(match command {
        ObsCommand::SwitchScene(scene_name) => {
            client
                .scenes()
                .set_current_program_scene(scene_name.as_str())
                .await?;
            let confirmed = ObsUpdate::ProgramScene(scene_name.clone());
            (
                CommandOutcome::SceneSwitched { scene_name },
                Some(confirmed),
            )
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
            let confirmed = ObsUpdate::SceneList(scenes.clone());
            let outcome = CommandOutcome::Scenes {
                scenes,
                current_scene,
            };
            (outcome, Some(confirmed))
        }
        ObsCommand::Capability(command) => {
            let Answered { answer, confirmed } = command.run(client).await?;
            (CommandOutcome::Capability(answer), confirmed)
        }
    })
}
