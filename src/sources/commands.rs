//! Source commands: what the routes ask of OBS about scene items, inputs, media, filters,
//! profiles, scene collections and hotkeys, how each is sent, and what OBS's answer teaches the
//! status cache.

use futures_util::future::BoxFuture;
use obws::{
    common::MediaAction,
    requests::{
        filters::SetEnabled as SetFilterEnabled,
        inputs::{InputId, SetSettings},
        scene_items::{SetEnabled, SetLocked},
        scenes::SceneId,
        sources::SourceId,
    },
    responses::{scene_items::SourceType, StatusCode},
    Client,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    events::media_state_name,
    status::{MediaPlayback, SceneItem, SourceUpdate, MAX_NESTING},
};
use crate::{
    obs::{Answered, CapabilityCommand, CommandError},
    status::update::ObsUpdate,
};

/// A media action the routes offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    Play,
    Pause,
    Stop,
    Restart,
}

impl Media {
    pub fn from_path(name: &str) -> Option<Self> {
        Some(match name {
            "play" => Self::Play,
            "pause" => Self::Pause,
            "stop" => Self::Stop,
            "restart" => Self::Restart,
            _ => return None,
        })
    }

    fn action(self) -> MediaAction {
        match self {
            Self::Play => MediaAction::Play,
            Self::Pause => MediaAction::Pause,
            Self::Stop => MediaAction::Stop,
            Self::Restart => MediaAction::Restart,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceCommand {
    /// Read a scene's (or group's) items, and those of the groups and scenes inside it.
    ReadItems {
        scene: String,
        group: bool,
    },
    SetItemEnabled {
        scene: String,
        id: i64,
        enabled: bool,
    },
    SetItemLocked {
        scene: String,
        id: i64,
        locked: bool,
    },
    ReadInputs,
    ReadInputSettings(String),
    /// Merged into the input's settings (OBS's overlay).
    SetInputSettings {
        input: String,
        settings: Value,
    },
    ReadMedia(String),
    MediaAction {
        input: String,
        action: Media,
    },
    SetMediaCursor {
        input: String,
        ms: u64,
    },
    ReadFilters(String),
    SetFilterEnabled {
        source: String,
        filter: String,
        enabled: bool,
    },
    ReadProfiles,
    SetProfile(String),
    ReadCollections,
    SetCollection(String),
    ReadHotkeys,
    TriggerHotkey(String),
}

impl SourceCommand {
    /// The obs-websocket request it sends first (a bounded label for metrics).
    pub fn request_name(&self) -> &'static str {
        match self {
            Self::ReadItems { .. } => "GetSceneItemList",
            Self::SetItemEnabled { .. } => "SetSceneItemEnabled",
            Self::SetItemLocked { .. } => "SetSceneItemLocked",
            Self::ReadInputs => "GetInputList",
            Self::ReadInputSettings(_) => "GetInputSettings",
            Self::SetInputSettings { .. } => "SetInputSettings",
            Self::ReadMedia(_) => "GetMediaInputStatus",
            Self::MediaAction { .. } => "TriggerMediaInputAction",
            Self::SetMediaCursor { .. } => "SetMediaInputCursor",
            Self::ReadFilters(_) => "GetSourceFilterList",
            Self::SetFilterEnabled { .. } => "SetSourceFilterEnabled",
            Self::ReadProfiles => "GetProfileList",
            Self::SetProfile(_) => "SetCurrentProfile",
            Self::ReadCollections => "GetSceneCollectionList",
            Self::SetCollection(_) => "SetCurrentSceneCollection",
            Self::ReadHotkeys => "GetHotkeyList",
            Self::TriggerHotkey(_) => "TriggerHotkeyByName",
        }
    }
}

/// An input and its kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct InputInfo {
    pub name: String,
    /// OBS's input kind (`text_ft2_source_v2`, `ffmpeg_source`...).
    pub kind: String,
}

/// A filter on a source.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct FilterInfo {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub index: u32,
}

/// A list of names and the current one (profiles, scene collections).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct NamedList {
    pub current: String,
    pub names: Vec<String>,
}

/// What OBS answered.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SourceOutcome {
    Items(Vec<(String, Vec<SceneItem>)>),
    Inputs(Vec<InputInfo>),
    Settings { kind: String, settings: Value },
    Media(MediaPlayback),
    Filters(Vec<FilterInfo>),
    Profiles(NamedList),
    Collections(NamedList),
    Hotkeys(Vec<String>),
    Done,
}

impl SourceOutcome {
    /// What OBS confirmed, applied to the cache at once so a read right after sees it even if
    /// OBS's own event is still on its way.
    pub fn update(&self, command: &SourceCommand) -> Option<SourceUpdate> {
        Some(match (command, self) {
            (_, Self::Items(containers)) => SourceUpdate::Items(containers.clone()),
            (SourceCommand::ReadMedia(input), Self::Media(playback)) => SourceUpdate::Media {
                input: input.clone(),
                playback: playback.clone(),
            },
            (_, Self::Profiles(list)) => SourceUpdate::Profile(list.current.clone()),
            (SourceCommand::SetItemEnabled { scene, id, enabled }, Self::Done) => {
                SourceUpdate::ItemEnabled {
                    scene: scene.clone(),
                    id: *id,
                    enabled: *enabled,
                }
            }
            (SourceCommand::SetItemLocked { scene, id, locked }, Self::Done) => {
                SourceUpdate::ItemLocked {
                    scene: scene.clone(),
                    id: *id,
                    locked: *locked,
                }
            }
            (SourceCommand::SetProfile(name), Self::Done) => SourceUpdate::Profile(name.clone()),
            _ => return None,
        })
    }
}

pub async fn run(
    client: &Client,
    command: &SourceCommand,
) -> Result<SourceOutcome, obws::error::Error> {
    Ok(match command {
        SourceCommand::ReadItems { scene, group } => {
            SourceOutcome::Items(read_items(client, scene, *group).await?)
        }
        SourceCommand::SetItemEnabled { scene, id, enabled } => {
            client
                .scene_items()
                .set_enabled(SetEnabled {
                    scene: SceneId::Name(scene),
                    item_id: *id,
                    enabled: *enabled,
                })
                .await?;
            SourceOutcome::Done
        }
        SourceCommand::SetItemLocked { scene, id, locked } => {
            client
                .scene_items()
                .set_locked(SetLocked {
                    scene: SceneId::Name(scene),
                    item_id: *id,
                    locked: *locked,
                })
                .await?;
            SourceOutcome::Done
        }
        SourceCommand::ReadInputs => SourceOutcome::Inputs(
            client
                .inputs()
                .list(None)
                .await?
                .into_iter()
                .map(|input| InputInfo {
                    name: input.id.name,
                    kind: input.kind,
                })
                .collect(),
        ),
        SourceCommand::ReadInputSettings(input) => {
            let read = client
                .inputs()
                .settings::<Value>(InputId::Name(input))
                .await?;
            SourceOutcome::Settings {
                kind: read.kind,
                settings: read.settings,
            }
        }
        SourceCommand::SetInputSettings { input, settings } => {
            client
                .inputs()
                .set_settings(SetSettings {
                    input: InputId::Name(input),
                    settings,
                    overlay: Some(true),
                })
                .await?;
            SourceOutcome::Done
        }
        SourceCommand::ReadMedia(input) => {
            let status = client.media_inputs().status(InputId::Name(input)).await?;
            SourceOutcome::Media(MediaPlayback {
                state: media_state_name(status.state).to_string(),
                cursor_ms: status.cursor.map(millis),
                duration_ms: status.duration.map(millis),
            })
        }
        SourceCommand::MediaAction { input, action } => {
            client
                .media_inputs()
                .trigger_action(InputId::Name(input), action.action())
                .await?;
            SourceOutcome::Done
        }
        SourceCommand::SetMediaCursor { input, ms } => {
            client
                .media_inputs()
                .set_cursor(
                    InputId::Name(input),
                    time::Duration::milliseconds(i64::try_from(*ms).unwrap_or(i64::MAX)),
                )
                .await?;
            SourceOutcome::Done
        }
        SourceCommand::ReadFilters(source) => SourceOutcome::Filters(
            client
                .filters()
                .list(SourceId::Name(source))
                .await?
                .into_iter()
                .map(|filter| FilterInfo {
                    name: filter.name,
                    kind: filter.kind,
                    enabled: filter.enabled,
                    index: filter.index,
                })
                .collect(),
        ),
        SourceCommand::SetFilterEnabled {
            source,
            filter,
            enabled,
        } => {
            client
                .filters()
                .set_enabled(SetFilterEnabled {
                    source: SourceId::Name(source),
                    filter,
                    enabled: *enabled,
                })
                .await?;
            SourceOutcome::Done
        }
        SourceCommand::ReadProfiles => {
            let list = client.profiles().list().await?;
            SourceOutcome::Profiles(NamedList {
                current: list.current,
                names: list.profiles,
            })
        }
        SourceCommand::SetProfile(name) => {
            client.profiles().set_current(name).await?;
            SourceOutcome::Done
        }
        SourceCommand::ReadCollections => {
            let list = client.scene_collections().list().await?;
            SourceOutcome::Collections(NamedList {
                current: list.current,
                names: list.collections,
            })
        }
        SourceCommand::SetCollection(name) => {
            client.scene_collections().set_current(name).await?;
            SourceOutcome::Done
        }
        SourceCommand::ReadHotkeys => SourceOutcome::Hotkeys(client.hotkeys().list().await?),
        SourceCommand::TriggerHotkey(name) => {
            client.hotkeys().trigger_by_name(name, None).await?;
            SourceOutcome::Done
        }
    })
}

/// OBS's signed durations as milliseconds (a negative one, which OBS never sends, as 0).
fn millis(duration: time::Duration) -> u64 {
    u64::try_from(duration.whole_milliseconds()).unwrap_or(0)
}

/// Reads `scene`'s items, then those of every group and scene inside it (breadth first, each
/// container once, at most [`MAX_NESTING`] levels deep). GetSceneItemList does not say whether
/// an item is shown or locked (in obws), so each item costs two more requests.
pub async fn read_items(
    client: &Client,
    scene: &str,
    group: bool,
) -> Result<Vec<(String, Vec<SceneItem>)>, obws::error::Error> {
    let mut read: Vec<(String, Vec<SceneItem>)> = Vec::new();
    let mut level = vec![(scene.to_string(), group)];
    for _ in 0..=MAX_NESTING {
        let mut next = Vec::new();
        for (container, group) in level {
            if read.iter().any(|(name, _)| *name == container) {
                continue;
            }
            let items = read_container(client, &container, group).await?;
            next.extend(
                items
                    .iter()
                    .filter(|item| item.holds_items())
                    .map(|item| (item.source_name.clone(), item.kind == "group")),
            );
            read.push((container, items));
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(read)
}

async fn read_container(
    client: &Client,
    container: &str,
    group: bool,
) -> Result<Vec<SceneItem>, obws::error::Error> {
    let id = SceneId::Name(container);
    let listed = if group {
        client.scene_items().list_group(id).await?
    } else {
        match client.scene_items().list(id).await {
            // A group named where a scene was expected: OBS wants the group request.
            Err(obws::error::Error::Api {
                code: StatusCode::InvalidResourceType,
                ..
            }) => client.scene_items().list_group(id).await?,
            other => other?,
        }
    };
    let mut items = Vec::with_capacity(listed.len());
    for item in listed {
        let kind = match (item.source_type, item.is_group, item.input_kind) {
            (SourceType::Scene, Some(true), _) => "group".to_string(),
            (SourceType::Scene, _, _) => "scene".to_string(),
            (_, _, Some(kind)) => kind,
            (_, _, None) => "unknown".to_string(),
        };
        items.push(SceneItem {
            id: item.id,
            enabled: client.scene_items().enabled(id, item.id).await?,
            locked: client.scene_items().locked(id, item.id).await?,
            source_name: item.source_name,
            kind,
            index: item.index,
        });
    }
    Ok(items)
}

impl CapabilityCommand for SourceCommand {
    fn request_name(&self) -> &'static str {
        SourceCommand::request_name(self)
    }

    fn run(self: Box<Self>, client: &Client) -> BoxFuture<'_, Result<Answered, CommandError>> {
        Box::pin(async move {
            let outcome = run(client, &self).await?;
            let confirmed = outcome.update(&self).map(ObsUpdate::Source);
            Ok(Answered {
                answer: Box::new(outcome),
                confirmed,
            })
        })
    }
}
