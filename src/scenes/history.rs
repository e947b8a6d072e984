//! What the history keeps of scenes beyond event rows: the scenes table follows OBS from the
//! hub's cached list (which has the uuids that `scene_list_changed` lacks), after a scene list
//! change and once after every (re)connection when the full state has been read again.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    db::recording::{HistoryHook, WriteOp},
    status::{Change, ChangeEvent, InstanceStatus},
};

/// The hook `app` registers for the scenes capability.
pub fn hook() -> Box<dyn HistoryHook> {
    Box::<SceneSync>::default()
}

/// One instance's scene sync.
#[derive(Clone, Debug, Default)]
pub struct SceneSync {
    /// A scene sync is owed once the cached status includes change number `.0`.
    due: Option<u64>,
}

impl SceneSync {
    /// The scene sync owed, if the cached status can give it now. Only a list read from a live
    /// OBS is the truth: before the state is read again after a (re)connection the cache holds
    /// the old list (or none at all at start-up); and the change that made the sync due must be
    /// in the cache already (the recorder runs on its own thread, so it may get a change before
    /// the snapshot that holds it is published). Otherwise the sync stays owed: the recorder
    /// asks again on its next tick.
    fn due_sync(
        &mut self,
        instance: &str,
        live: Option<Arc<InstanceStatus>>,
        at: DateTime<Utc>,
    ) -> Option<WriteOp> {
        let due_at = self.due?;
        let status = live
            .filter(|s| s.is_connected() && !s.stale && s.seq >= due_at && !s.scenes.is_empty())?;
        self.due = None;
        Some(WriteOp::SyncScenes {
            instance: instance.to_string(),
            scenes: status.scenes.clone(),
            at,
        })
    }
}

impl HistoryHook for SceneSync {
    fn ops(
        &mut self,
        event: &ChangeEvent,
        live: &mut dyn FnMut() -> Option<Arc<InstanceStatus>>,
    ) -> Vec<WriteOp> {
        if matches!(
            event.change,
            Change::ConnectionChanged {
                connected: true,
                ..
            } | Change::SceneListChanged { .. }
        ) {
            self.due = Some(event.seq);
        }
        if self.due.is_none() {
            return Vec::new();
        }
        self.due_sync(&event.instance, live(), event.at)
            .into_iter()
            .collect()
    }

    fn owes(&self) -> bool {
        self.due.is_some()
    }

    fn owed(
        &mut self,
        instance: &str,
        live: Option<Arc<InstanceStatus>>,
        at: DateTime<Utc>,
    ) -> Vec<WriteOp> {
        self.due_sync(instance, live, at).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        db::recording::{ops_for, HistoryHooks, InstanceTracker},
        status::{model::SceneInfo, update::Source, ConnectionState},
    };

    fn event(change: Change) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            seq: 1,
            instance: "default".into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change,
        })
    }

    fn tracker() -> InstanceTracker {
        InstanceTracker::new(&HistoryHooks::default().with(hook))
    }

    fn live(stale: bool) -> Option<Arc<InstanceStatus>> {
        let mut status = InstanceStatus::new("default", "127.0.0.1", 4455, Utc::now());
        status.connection.state = ConnectionState::Connected;
        status.stale = stale;
        status.seq = 1;
        status.scenes = vec![SceneInfo {
            name: "A".into(),
            uuid: Some("1".into()),
        }];
        Some(Arc::new(status))
    }

    fn kinds(ops: &[WriteOp]) -> Vec<&'static str> {
        ops.iter()
            .map(|op| match op {
                WriteOp::Event(_) => "event",
                WriteOp::SyncScenes { .. } => "sync",
                WriteOp::Output { .. } => "output",
            })
            .collect()
    }

    #[test]
    fn scenes_sync_after_a_reconnection_once_the_state_is_read_again() {
        let mut tracker = tracker();
        let connected = event(Change::ConnectionChanged {
            state: ConnectionState::Connected,
            connected: true,
            error: None,
        });
        // The cache still holds the list from before the reconnection: no sync yet.
        assert_eq!(
            kinds(&ops_for(&connected, &mut tracker, || live(true))),
            ["event"]
        );
        let scene = event(Change::SceneChanged {
            scene: "A".into(),
            previous: None,
        });
        assert_eq!(
            kinds(&ops_for(&scene, &mut tracker, || live(false))),
            ["event", "sync"]
        );
        // Done until the next list change or reconnection.
        assert_eq!(
            kinds(&ops_for(&scene, &mut tracker, || live(false))),
            ["event"]
        );
        let list = event(Change::SceneListChanged {
            scenes: vec!["A".into()],
        });
        assert_eq!(
            kinds(&ops_for(&list, &mut tracker, || live(false))),
            ["event", "sync"]
        );
    }

    #[test]
    fn a_scene_sync_waits_until_the_cache_holds_the_change() {
        let mut tracker = tracker();
        let list = Arc::new(ChangeEvent {
            seq: 2,
            ..(*event(Change::SceneListChanged {
                scenes: vec!["A".into()],
            }))
            .clone()
        });
        // The cache is still at change 1: the sync is owed, not done from the old list.
        assert_eq!(
            kinds(&ops_for(&list, &mut tracker, || live(false))),
            ["event"]
        );
        assert!(tracker.owes_writes());
        let newer = live(false).map(|status| {
            let mut status = (*status).clone();
            status.seq = 2;
            Arc::new(status)
        });
        let ops = tracker.owed_writes("default", newer, Utc::now());
        assert!(matches!(ops.as_slice(), [WriteOp::SyncScenes { .. }]));
        assert!(!tracker.owes_writes());
    }
}
