//! The read side of the status manager: an immutable snapshot that REST handlers read.
//!
//! The manager replaces the snapshot after every update; readers take an `Arc` under a read
//! lock held for a pointer copy. A cached read so costs a lock and a reference count instead of
//! a mailbox round trip to the manager's thread, which is what keeps `GET /api/stream-status/`
//! as cheap as a bare handler.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Utc};

use super::model::InstanceStatus;

/// Everything the manager knows, frozen at one sequence number.
#[derive(Clone, Debug)]
pub struct HubSnapshot {
    pub running: bool,
    /// When the manager was last started or stopped.
    pub since: DateTime<Utc>,
    pub seq: u64,
    pub instances: BTreeMap<String, Arc<InstanceStatus>>,
}

impl HubSnapshot {
    pub fn instance(&self, name: &str) -> Option<&Arc<InstanceStatus>> {
        self.instances.get(name)
    }
}

#[derive(Clone, Debug)]
pub struct StatusBoard {
    current: Arc<RwLock<Arc<HubSnapshot>>>,
}

impl StatusBoard {
    pub fn new(snapshot: HubSnapshot) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(snapshot))),
        }
    }

    pub fn current(&self) -> Arc<HubSnapshot> {
        // A poisoned lock only means a writer panicked mid-swap of an Arc: the value is intact.
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn publish(&self, snapshot: HubSnapshot) {
        let snapshot = Arc::new(snapshot);
        match self.current.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }
}
