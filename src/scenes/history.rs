//! What the history keeps of scenes beyond event rows: the scenes table follows every
//! `scene_list_changed`, which carries the whole list with its uuids. The hub's cached list
//! starts empty, so the first full read after start-up is a change too; a reconnection that
//! finds the list as it was changes nothing, so there is nothing to write.

use crate::{
    db::recording::{HistoryHook, WriteOp},
    status::{Change, ChangeEvent},
};

/// The hook `app` registers for the scenes capability.
pub fn hook() -> Box<dyn HistoryHook> {
    Box::new(SceneSync)
}

/// One instance's scene sync: it needs nothing but the change.
#[derive(Clone, Copy, Debug, Default)]
pub struct SceneSync;

impl HistoryHook for SceneSync {
    fn ops(&mut self, event: &ChangeEvent) -> Vec<WriteOp> {
        match &event.change {
            Change::SceneListChanged { scene_details, .. } => vec![WriteOp::SyncScenes {
                instance: event.instance.clone(),
                scenes: scene_details.clone(),
                at: event.at,
            }],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::recording::test_support::*;
    use crate::status::{model::SceneInfo, ConnectionState};

    /// The change itself carries the list with its uuids: nothing is read from the board, and
    /// nothing is owed for later.
    #[test]
    fn a_scene_list_change_syncs_the_scenes_it_carries() {
        let mut tracker = InstanceTracker::new(&HistoryHooks::default().with(hook));
        let connected = obs_event(Change::ConnectionChanged {
            state: ConnectionState::Connected,
            connected: true,
            error: None,
        });
        assert_eq!(op_kinds(&ops_for(&connected, &mut tracker)), ["event"]);
        let details = vec![SceneInfo {
            name: "A".into(),
            uuid: Some("1".into()),
        }];
        let list = obs_event(Change::SceneListChanged {
            scenes: vec!["A".into()],
            scene_details: details.clone(),
        });
        let ops = ops_for(&list, &mut tracker);
        assert_eq!(op_kinds(&ops), ["event", "sync"]);
        let WriteOp::SyncScenes { scenes, .. } = &ops[1] else {
            panic!("{ops:?}")
        };
        assert_eq!(scenes, &details);
        let scene = obs_event(Change::SceneChanged {
            scene: "A".into(),
            previous: None,
        });
        assert_eq!(op_kinds(&ops_for(&scene, &mut tracker)), ["event"]);
    }
}
