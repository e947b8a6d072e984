//! Several hubs as nodes of one cluster on one PostgreSQL database: each OBS instance is owned by
//! exactly one node at a time, through a lease; any node answers any request (commands for an
//! instance owned elsewhere are forwarded to its owner); every node's browsers see every
//! instance's changes, in order per instance. The shared view of who owns what is
//! `status::ownership`.
//!
//! - [`rendezvous`]: which live node should own a lease (pure);
//! - [`lease_plan`]: what a node does with its leases at a heartbeat (pure);
//! - `store`: the nodes' and leases' rows on PostgreSQL;
//! - `feed`: the other nodes' changes, shown on this node (LISTEN/NOTIFY and catch-up);
//! - `keeper`: the `LeaseKeeper` actor that heartbeats, plans, acts and publishes the view;
//! - [`routes`]: `GET /api/cluster/`;
//! - [`forward`]: requests about an instance another node owns, proxied to it.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use actix::Message;
use chrono::{DateTime, Utc};

pub mod forward;
pub mod lease_plan;
pub mod rendezvous;
pub mod routes;

#[cfg(feature = "postgres")]
pub mod feed;
#[cfg(feature = "postgres")]
pub mod keeper;
#[cfg(feature = "postgres")]
pub mod store;

/// Every lease name that is a duty rather than an instance.
pub const DUTIES: [&str; 1] = [crate::status::ownership::SCHEDULES_DUTY];

/// Stops the lease keeper. `leave`: a graceful stop (the connections stopped, their last changes
/// written, every lease released and the node's row removed, so the others take over at once);
/// otherwise as a crash would (the connections stopped, nothing written: the leases expire).
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Halt {
    pub leave: bool,
}

/// When each node started, as the keeper last read it (for `GET /api/cluster/`).
#[derive(Clone, Debug, Default)]
pub struct NodeStarts(Arc<RwLock<BTreeMap<String, DateTime<Utc>>>>);

impl NodeStarts {
    pub fn set(&self, starts: BTreeMap<String, DateTime<Utc>>) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = starts;
    }

    pub fn get(&self, node: &str) -> Option<DateTime<Utc>> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(node)
            .copied()
    }
}
