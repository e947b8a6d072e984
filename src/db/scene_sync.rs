//! How a scene list OBS reports compares with the one known before: what was added, removed
//! and renamed. Renames are recognised by uuid (OBS keeps a scene's uuid when it is renamed);
//! a scene without a uuid on either side is matched by name.
//!
//! Used twice: by the database, to make the scenes table follow OBS, and by
//! `POST /api/sync-scenes/`, to say what the forced re-read changed in the hub's view.

use serde::Serialize;
use utoipa::ToSchema;

use crate::status::model::SceneInfo;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct SceneRename {
    pub uuid: Option<String>,
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SceneDiff {
    pub added: Vec<SceneInfo>,
    pub removed: Vec<SceneInfo>,
    pub renamed: Vec<SceneRename>,
    /// For each scene of the current list (same index): the index of the known scene it is,
    /// or None when it is new.
    pub matches: Vec<Option<usize>>,
}

impl SceneDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.renamed.is_empty()
    }
}

pub fn diff(known: &[SceneInfo], current: &[SceneInfo]) -> SceneDiff {
    let mut used = vec![false; known.len()];
    let mut matches = vec![None; current.len()];
    // First by uuid: it survives renames.
    for (slot, scene) in matches.iter_mut().zip(current) {
        let Some(uuid) = &scene.uuid else { continue };
        if let Some(j) =
            (0..known.len()).find(|&j| !used[j] && known[j].uuid.as_ref() == Some(uuid))
        {
            used[j] = true;
            *slot = Some(j);
        }
    }
    // Then by name, only where a uuid is missing on one side: two different uuids under one
    // name are a scene removed and another created.
    for (slot, scene) in matches.iter_mut().zip(current) {
        if slot.is_some() {
            continue;
        }
        if let Some(j) = (0..known.len()).find(|&j| {
            !used[j]
                && known[j].name == scene.name
                && (known[j].uuid.is_none() || scene.uuid.is_none())
        }) {
            used[j] = true;
            *slot = Some(j);
        }
    }
    let renamed = matches
        .iter()
        .zip(current)
        .filter_map(|(slot, scene)| {
            let before = &known[(*slot)?];
            (before.name != scene.name).then(|| SceneRename {
                uuid: scene.uuid.clone().or_else(|| before.uuid.clone()),
                from: before.name.clone(),
                to: scene.name.clone(),
            })
        })
        .collect();
    let added = matches
        .iter()
        .zip(current)
        .filter(|(slot, _)| slot.is_none())
        .map(|(_, scene)| scene.clone())
        .collect();
    let removed = known
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|(scene, _)| scene.clone())
        .collect();
    SceneDiff {
        added,
        removed,
        renamed,
        matches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(name: &str, uuid: Option<&str>) -> SceneInfo {
        SceneInfo {
            name: name.into(),
            uuid: uuid.map(String::from),
        }
    }

    #[test]
    fn the_same_list_is_no_change() {
        let list = [scene("A", Some("1")), scene("B", None)];
        let diff = diff(&list, &list);
        assert!(diff.is_empty());
        assert_eq!(diff.matches, [Some(0), Some(1)]);
    }

    #[test]
    fn a_rename_is_recognised_by_uuid_even_when_moved() {
        let known = [scene("A", Some("1")), scene("B", Some("2"))];
        let current = [scene("B", Some("2")), scene("Main", Some("1"))];
        let diff = diff(&known, &current);
        assert_eq!(
            diff.renamed,
            [SceneRename {
                uuid: Some("1".into()),
                from: "A".into(),
                to: "Main".into()
            }]
        );
        assert!(diff.added.is_empty() && diff.removed.is_empty());
        assert_eq!(diff.matches, [Some(1), Some(0)]);
    }

    #[test]
    fn adds_and_removes() {
        let known = [scene("A", Some("1")), scene("B", Some("2"))];
        let current = [scene("C", Some("3")), scene("A", Some("1"))];
        let diff = diff(&known, &current);
        assert_eq!(diff.added, [scene("C", Some("3"))]);
        assert_eq!(diff.removed, [scene("B", Some("2"))]);
        assert!(diff.renamed.is_empty());
    }

    #[test]
    fn same_name_with_a_new_uuid_is_a_new_scene() {
        let known = [scene("A", Some("1"))];
        let current = [scene("A", Some("9"))];
        let diff = diff(&known, &current);
        assert_eq!(diff.added.len(), 1);
        assert_eq!(diff.removed.len(), 1);
        assert!(diff.renamed.is_empty());
    }

    #[test]
    fn without_uuids_names_decide() {
        let known = [scene("A", None), scene("B", Some("2"))];
        let current = [scene("A", Some("1")), scene("B", None)];
        let diff = diff(&known, &current);
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(diff.matches, [Some(0), Some(1)]);
    }
}
