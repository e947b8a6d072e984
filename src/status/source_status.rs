//! The sources' slice of an instance's status (scene items, media inputs, profile and scene
//! collection) and the pure rules that apply what OBS reports to it.
//!
//! It lives in the status core because an instance's status is made of every capability's slice;
//! the capability itself (events, commands, routes) sits in the capability layer above, which
//! imports this module, never the reverse.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{kinds::ChangeKind, update::Change};

/// How deep groups and nested scenes are followed (OBS forbids cycles; this bounds a bad read).
pub const MAX_NESTING: usize = 4;

/// One item of a scene or group, as last read or reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SceneItem {
    /// OBS's numeric scene item id (unique within its scene or group).
    pub id: i64,
    pub source_name: String,
    /// The input kind (`text_ft2_source_v2`, `color_source_v3`...), or `scene` or `group`.
    pub kind: String,
    pub enabled: bool,
    pub locked: bool,
    /// Position in the scene, 0 at the bottom.
    pub index: u32,
}

impl SceneItem {
    /// Groups and nested scenes hold items of their own.
    pub fn holds_items(&self) -> bool {
        self.kind == "scene" || self.kind == "group"
    }
}

/// A media input's playback, as last read or reported.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaPlayback {
    /// `playing`, `paused`, `stopped`, `ended`, `opening`, `buffering`, `error` or `none`.
    pub state: String,
    /// Position in milliseconds when last read (null when nothing plays).
    pub cursor_ms: Option<u64>,
    pub duration_ms: Option<u64>,
}

/// The sources' slice of an instance's status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SourcesStatus {
    /// Items per scene or group read so far, by the container's name. Groups and nested scenes
    /// appear under their own name, so an event about any of them updates one list.
    pub scene_items: BTreeMap<String, Vec<SceneItem>>,
    /// Media inputs read or reported so far, by input name.
    pub media: BTreeMap<String, MediaPlayback>,
    pub profile: Option<String>,
    pub scene_collection: Option<String>,
    /// True between CurrentSceneCollectionChanging and ...Changed: OBS refuses requests then,
    /// and what is cached belongs to the collection being left.
    pub collection_changing: bool,
}

/// What OBS told the hub about sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceUpdate {
    /// A fresh read of these containers' items (a scene and the groups and scenes inside it).
    Items(Vec<(String, Vec<SceneItem>)>),
    /// SceneItemCreated, SceneItemRemoved, SceneItemListReindexed: the list is re-read on
    /// the next request, so forget it rather than serve it wrong.
    ItemsChanged {
        scene: String,
    },
    ItemEnabled {
        scene: String,
        id: i64,
        enabled: bool,
    },
    ItemLocked {
        scene: String,
        id: i64,
        locked: bool,
    },
    Media {
        input: String,
        playback: MediaPlayback,
    },
    /// MediaInputPlaybackStarted/Ended, MediaInputActionTriggered: a new state, cursor unknown.
    MediaState {
        input: String,
        state: String,
    },
    Filter {
        source: String,
        filter: String,
        enabled: bool,
    },
    Profile(String),
    CollectionChanging(String),
    /// CurrentSceneCollectionChanged, or a read: everything cached from the old one goes.
    Collection(String),
}

/// A change of a source, as subscribers see it (`source_changed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum SourceChange {
    SceneItem {
        scene: String,
        item_id: i64,
        source_name: Option<String>,
        enabled: bool,
        locked: bool,
    },
    Media {
        input: String,
        state: String,
    },
    Filter {
        source: String,
        filter: String,
        enabled: bool,
    },
    Profile {
        profile: String,
    },
    SceneCollection {
        scene_collection: String,
        changing: bool,
    },
}

/// An input was renamed: its items in every cached scene or group carry the new name.
pub fn rename_source(sources: &mut SourcesStatus, old: &str, new: &str) {
    for item in sources.scene_items.values_mut().flatten() {
        if item.source_name == old {
            item.source_name = new.to_string();
        }
    }
}

/// Applies one update; returns the changes it made.
pub fn apply(sources: &mut SourcesStatus, update: SourceUpdate) -> Vec<SourceChange> {
    match update {
        SourceUpdate::Items(containers) => {
            for (name, items) in containers {
                sources.scene_items.insert(name, items);
            }
            Vec::new()
        }
        SourceUpdate::ItemsChanged { scene } => {
            sources.scene_items.remove(&scene);
            Vec::new()
        }
        SourceUpdate::ItemEnabled { scene, id, enabled } => set_item(sources, scene, id, |item| {
            std::mem::replace(&mut item.enabled, enabled) != enabled
        }),
        SourceUpdate::ItemLocked { scene, id, locked } => set_item(sources, scene, id, |item| {
            std::mem::replace(&mut item.locked, locked) != locked
        }),
        SourceUpdate::Media { input, playback } => {
            let previous = sources.media.insert(input.clone(), playback.clone());
            if previous.is_some_and(|previous| previous.state == playback.state) {
                return Vec::new();
            }
            vec![SourceChange::Media {
                input,
                state: playback.state,
            }]
        }
        SourceUpdate::MediaState { input, state } => {
            let playback = sources.media.entry(input.clone()).or_default();
            if playback.state == state {
                return Vec::new();
            }
            playback.state = state.clone();
            playback.cursor_ms = None;
            vec![SourceChange::Media { input, state }]
        }
        SourceUpdate::Filter {
            source,
            filter,
            enabled,
        } => vec![SourceChange::Filter {
            source,
            filter,
            enabled,
        }],
        SourceUpdate::Profile(profile) => {
            if sources.profile.as_deref() == Some(profile.as_str()) {
                return Vec::new();
            }
            sources.profile = Some(profile.clone());
            vec![SourceChange::Profile { profile }]
        }
        SourceUpdate::CollectionChanging(to) => {
            if sources.collection_changing {
                return Vec::new();
            }
            sources.collection_changing = true;
            vec![SourceChange::SceneCollection {
                scene_collection: to,
                changing: true,
            }]
        }
        SourceUpdate::Collection(name) => {
            let same = sources.scene_collection.as_deref() == Some(name.as_str());
            if same && !sources.collection_changing {
                return Vec::new();
            }
            if !same {
                // Items and media belong to the collection they were read from.
                sources.scene_items.clear();
                sources.media.clear();
            }
            sources.collection_changing = false;
            sources.scene_collection = Some(name.clone());
            vec![SourceChange::SceneCollection {
                scene_collection: name,
                changing: false,
            }]
        }
    }
}

/// Applies `edit` to the item `id` of `scene`; a change when `edit` says it changed something.
/// An item never read is still news (its list is read on the next request).
fn set_item(
    sources: &mut SourcesStatus,
    scene: String,
    id: i64,
    edit: impl FnOnce(&mut SceneItem) -> bool,
) -> Vec<SourceChange> {
    let item = sources
        .scene_items
        .get_mut(&scene)
        .and_then(|items| items.iter_mut().find(|item| item.id == id));
    match item {
        Some(item) => {
            if !edit(item) {
                return Vec::new();
            }
            vec![SourceChange::SceneItem {
                scene,
                item_id: id,
                source_name: Some(item.source_name.clone()),
                enabled: item.enabled,
                locked: item.locked,
            }]
        }
        None => {
            let mut unknown = SceneItem {
                id,
                source_name: String::new(),
                kind: String::new(),
                enabled: false,
                locked: false,
                index: 0,
            };
            edit(&mut unknown);
            vec![SourceChange::SceneItem {
                scene,
                item_id: id,
                source_name: None,
                enabled: unknown.enabled,
                locked: unknown.locked,
            }]
        }
    }
}

/// Why an item could not be picked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemLookup {
    None,
    /// Several items show the same source (a source can be added to a scene twice): their ids.
    Several(Vec<i64>),
}

/// Picks the item named in a URL: its numeric id, or the name of the source it shows.
pub fn find_item<'a>(items: &'a [SceneItem], key: &str) -> Result<&'a SceneItem, ItemLookup> {
    if let Ok(id) = key.parse::<i64>() {
        if let Some(item) = items.iter().find(|item| item.id == id) {
            return Ok(item);
        }
    }
    let named: Vec<&SceneItem> = items
        .iter()
        .filter(|item| item.source_name == key)
        .collect();
    match named.as_slice() {
        [item] => Ok(item),
        [] => Err(ItemLookup::None),
        several => Err(ItemLookup::Several(
            several.iter().map(|item| item.id).collect(),
        )),
    }
}

/// A scene item with the items of the group or scene it shows, for answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SceneItemTree {
    #[serde(flatten)]
    pub item: SceneItem,
    /// The items inside a group or nested scene (empty for inputs, or when not read).
    #[schema(no_recursion)]
    pub children: Vec<SceneItemTree>,
}

/// The items of `scene`, groups and nested scenes resolved as children from the cached lists.
pub fn tree(sources: &SourcesStatus, scene: &str) -> Option<Vec<SceneItemTree>> {
    fn build(sources: &SourcesStatus, items: &[SceneItem], depth: usize) -> Vec<SceneItemTree> {
        items
            .iter()
            .map(|item| SceneItemTree {
                item: item.clone(),
                children: match sources.scene_items.get(&item.source_name) {
                    Some(inner) if item.holds_items() && depth < MAX_NESTING => {
                        build(sources, inner, depth + 1)
                    }
                    _ => Vec::new(),
                },
            })
            .collect()
    }
    let items = sources.scene_items.get(scene)?;
    Some(build(sources, items, 0))
}

/// Whether `name` is a group seen inside some cached scene (groups are not in the scene list).
pub fn is_known_group(sources: &SourcesStatus, name: &str) -> bool {
    sources
        .scene_items
        .values()
        .flatten()
        .any(|item| item.kind == "group" && item.source_name == name)
}

/// Scene items shown, hidden or locked, media states, filters, profile and scene collection
/// switches. Sent only to webhook endpoints that list it.
pub static SOURCE_CHANGED: ChangeKind = ChangeKind {
    name: "source_changed",
    recorded: true,
    webhook_default: false,
    payload: |change| match change {
        Change::SourceChanged(change) => serde_json::json!(change),
        _ => serde_json::Value::Null,
    },
    callback: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, name: &str, kind: &str) -> SceneItem {
        SceneItem {
            id,
            source_name: name.into(),
            kind: kind.into(),
            enabled: true,
            locked: false,
            index: u32::try_from(id).unwrap_or(0),
        }
    }

    fn cached() -> SourcesStatus {
        let mut sources = SourcesStatus::default();
        apply(
            &mut sources,
            SourceUpdate::Items(vec![
                (
                    "Live".into(),
                    vec![
                        item(1, "Title", "text_ft2_source_v2"),
                        item(2, "Lower third", "group"),
                        item(3, "Logo", "image_source"),
                        item(4, "Logo", "image_source"),
                    ],
                ),
                (
                    "Lower third".into(),
                    vec![item(7, "Name", "text_ft2_source_v2")],
                ),
            ]),
        );
        sources
    }

    #[test]
    fn items_are_found_by_id_or_by_a_source_name_that_names_one() {
        let sources = cached();
        let items = &sources.scene_items["Live"];
        assert_eq!(find_item(items, "1").unwrap().source_name, "Title");
        assert_eq!(find_item(items, "Title").unwrap().id, 1);
        assert_eq!(find_item(items, "Nope"), Err(ItemLookup::None));
        assert_eq!(find_item(items, "99"), Err(ItemLookup::None));
        assert_eq!(
            find_item(items, "Logo"),
            Err(ItemLookup::Several(vec![3, 4]))
        );
    }

    #[test]
    fn groups_resolve_as_children_and_their_events_update_them() {
        let mut sources = cached();
        let tree = tree(&sources, "Live").unwrap();
        assert_eq!(tree[1].children[0].item.source_name, "Name");
        assert!(tree[0].children.is_empty());
        assert!(is_known_group(&sources, "Lower third"));
        assert!(!is_known_group(&sources, "Title"));

        let hidden = apply(
            &mut sources,
            SourceUpdate::ItemEnabled {
                scene: "Lower third".into(),
                id: 7,
                enabled: false,
            },
        );
        assert_eq!(
            hidden,
            vec![SourceChange::SceneItem {
                scene: "Lower third".into(),
                item_id: 7,
                source_name: Some("Name".into()),
                enabled: false,
                locked: false,
            }]
        );
        assert!(!sources.scene_items["Lower third"][0].enabled);
        let again = SourceUpdate::ItemEnabled {
            scene: "Lower third".into(),
            id: 7,
            enabled: false,
        };
        assert!(apply(&mut sources, again).is_empty(), "no news twice");
        let locked = SourceUpdate::ItemLocked {
            scene: "Live".into(),
            id: 1,
            locked: true,
        };
        assert_eq!(apply(&mut sources, locked).len(), 1);
        assert!(sources.scene_items["Live"][0].locked);
    }

    #[test]
    fn a_changed_list_is_forgotten_and_a_new_collection_clears_the_cache() {
        let mut sources = cached();
        apply(
            &mut sources,
            SourceUpdate::ItemsChanged {
                scene: "Live".into(),
            },
        );
        assert!(tree(&sources, "Live").is_none());
        assert!(tree(&sources, "Lower third").is_some());

        sources.scene_collection = Some("Show".into());
        let changing = apply(
            &mut sources,
            SourceUpdate::CollectionChanging("Other".into()),
        );
        assert_eq!(changing.len(), 1);
        assert!(sources.collection_changing);
        assert!(
            sources.scene_items.contains_key("Lower third"),
            "served while changing"
        );
        let changed = apply(&mut sources, SourceUpdate::Collection("Other".into()));
        assert_eq!(
            changed,
            vec![SourceChange::SceneCollection {
                scene_collection: "Other".into(),
                changing: false
            }]
        );
        assert!(!sources.collection_changing);
        assert!(sources.scene_items.is_empty());
        assert!(apply(&mut sources, SourceUpdate::Collection("Other".into())).is_empty());
    }

    #[test]
    fn media_and_profile_changes_are_news_once() {
        let mut sources = SourcesStatus::default();
        let playing = SourceUpdate::MediaState {
            input: "Clip".into(),
            state: "playing".into(),
        };
        assert_eq!(apply(&mut sources, playing.clone()).len(), 1);
        assert!(apply(&mut sources, playing).is_empty());
        assert_eq!(
            apply(&mut sources, SourceUpdate::Profile("Show".into())).len(),
            1
        );
        assert!(apply(&mut sources, SourceUpdate::Profile("Show".into())).is_empty());
    }
}
