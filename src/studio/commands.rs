//! Studio-mode and transition commands: what a client asks for and how it is sent to OBS.
//!
//! OBS has no "toggle studio mode" and no "take with this transition" request: toggle reads then
//! sets, and a take with a transition or a duration makes it OBS's current transition first
//! (as clicking it in OBS's transition dock would), then triggers the take.

use futures_util::future::BoxFuture;
use obws::Client;
use serde::Serialize;
use utoipa::ToSchema;

use super::events;
use crate::obs::{Answered, CapabilityCommand, CommandError};

/// obs-websocket's range for SetCurrentSceneTransitionDuration, in milliseconds.
pub const DURATION_RANGE_MS: std::ops::RangeInclusive<u64> = 50..=20_000;

/// T-bar positions travel in ten-thousandths, so commands stay `Eq`.
pub const TBAR_SCALE: f64 = 10_000.0;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StudioCommand {
    SetStudioMode(bool),
    ToggleStudioMode,
    SetPreview(String),
    /// Preview to program.
    Take {
        transition: Option<String>,
        duration_ms: Option<u64>,
    },
    ListTransitions,
    SetTransition {
        name: String,
        duration_ms: Option<u64>,
    },
    /// `position` in ten-thousandths of the way (0..=10000).
    TBar {
        position: u16,
        release: bool,
    },
}

impl StudioCommand {
    /// The action's name in answers.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SetStudioMode(_) => "set-studio-mode",
            Self::ToggleStudioMode => "toggle-studio-mode",
            Self::SetPreview(_) => "set-preview-scene",
            Self::Take { .. } => "transition",
            Self::ListTransitions => "list-transitions",
            Self::SetTransition { .. } => "set-transition",
            Self::TBar { .. } => "set-tbar",
        }
    }

    /// The main obs-websocket request it sends (a bounded label for metrics).
    pub fn request_name(&self) -> &'static str {
        match self {
            Self::SetStudioMode(_) | Self::ToggleStudioMode => "SetStudioModeEnabled",
            Self::SetPreview(_) => "SetCurrentPreviewScene",
            Self::Take { .. } => "TriggerStudioModeTransition",
            Self::ListTransitions => "GetSceneTransitionList",
            Self::SetTransition { .. } => "SetCurrentSceneTransition",
            Self::TBar { .. } => "SetTBarPosition",
        }
    }
}

/// Studio mode and transition after a command, read back from OBS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct StudioAnswer {
    pub action: &'static str,
    pub studio_mode: bool,
    pub preview_scene: Option<String>,
    /// The scene a take put on program (`transition` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program_scene: Option<String>,
    pub current_transition: Option<String>,
    pub transition_duration_ms: Option<u64>,
}

/// One of OBS's scene transitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TransitionInfo {
    pub name: String,
    /// OBS's kind (`fade_transition`, `cut_transition`, ...).
    pub kind: String,
    /// True when its duration cannot be set (Cut).
    pub fixed: bool,
    pub configurable: bool,
}

/// `GET .../transitions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TransitionList {
    pub current_transition: Option<String>,
    pub transition_duration_ms: Option<u64>,
    pub transitions: Vec<TransitionInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum StudioOutcome {
    Done(StudioAnswer),
    Transitions(TransitionList),
}

/// Runs one command against OBS.
pub async fn send(client: &Client, command: StudioCommand) -> Result<StudioOutcome, CommandError> {
    let action = command.name();
    let mut program_scene = None;
    match command {
        StudioCommand::SetStudioMode(enabled) => {
            client.ui().set_studio_mode_enabled(enabled).await?
        }
        StudioCommand::ToggleStudioMode => {
            let enabled = client.ui().studio_mode_enabled().await?;
            client.ui().set_studio_mode_enabled(!enabled).await?
        }
        StudioCommand::SetPreview(scene) => {
            client
                .scenes()
                .set_current_preview_scene(scene.as_str())
                .await?
        }
        StudioCommand::Take {
            transition,
            duration_ms,
        } => {
            // Refused outside studio mode (506) before anything changes in OBS.
            let preview = client.scenes().current_preview_scene().await?;
            set_transition(client, transition.as_deref(), duration_ms).await?;
            client.transitions().trigger().await?;
            program_scene = Some(preview.id.name);
        }
        StudioCommand::ListTransitions => {
            return Ok(StudioOutcome::Transitions(list_transitions(client).await?))
        }
        StudioCommand::SetTransition { name, duration_ms } => {
            set_transition(client, Some(&name), duration_ms).await?
        }
        StudioCommand::TBar { position, release } => {
            let position = (f64::from(position) / TBAR_SCALE) as f32;
            client
                .transitions()
                .set_tbar_position(position, Some(release))
                .await?
        }
    }
    let reading = events::read(client).await?;
    Ok(StudioOutcome::Done(StudioAnswer {
        action,
        studio_mode: reading.studio_mode,
        preview_scene: reading.preview_scene,
        program_scene,
        current_transition: reading.current_transition,
        transition_duration_ms: reading.transition_duration_ms,
    }))
}

async fn set_transition(
    client: &Client,
    name: Option<&str>,
    duration_ms: Option<u64>,
) -> Result<(), obws::error::Error> {
    if let Some(name) = name {
        client.transitions().set_current(name).await?;
    }
    if let Some(ms) = duration_ms {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        client
            .transitions()
            .set_current_duration(time::Duration::milliseconds(ms))
            .await?;
    }
    Ok(())
}

async fn list_transitions(client: &Client) -> Result<TransitionList, obws::error::Error> {
    let list = client.transitions().list().await?;
    let current = client.transitions().current().await?;
    Ok(TransitionList {
        current_transition: list.current_scene_transition.map(|id| id.name),
        transition_duration_ms: current
            .duration
            .map(|d| u64::try_from(d.whole_milliseconds()).unwrap_or(0)),
        transitions: list
            .transitions
            .into_iter()
            .map(|transition| TransitionInfo {
                name: transition.id.name,
                kind: transition.kind,
                fixed: transition.fixed,
                configurable: transition.configurable,
            })
            .collect(),
    })
}

impl CapabilityCommand for StudioCommand {
    fn request_name(&self) -> &'static str {
        StudioCommand::request_name(self)
    }

    fn run(self: Box<Self>, client: &Client) -> BoxFuture<'_, Result<Answered, CommandError>> {
        Box::pin(async move { Ok(Answered::new(send(client, *self).await?)) })
    }
}
