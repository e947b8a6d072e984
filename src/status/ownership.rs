//! Who owns which instance and which hub-wide duty, when hubs run as nodes of a cluster on one
//! PostgreSQL database. The node's lease keeper writes it at every heartbeat; the forwarding of
//! requests, the webhooks' claims, the rules' schedules and the operations routes read it. A hub
//! running alone owns everything ([`Ownership::alone`]).

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Utc};

/// The duty of firing scheduled rules: held by one node of a cluster at a time.
pub const SCHEDULES_DUTY: &str = "duty:schedules";

/// A lease as this node last read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    /// The owning node; None while released or never taken.
    pub owner: Option<String>,
    pub epoch: u64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A node as this node last read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// Base URL the other nodes reach it at (`http://host:port`).
    pub address: String,
    pub heartbeat_at: DateTime<Utc>,
    /// Its heartbeat is younger than a lease.
    pub live: bool,
}

/// Everything known about the cluster at the last heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// This node's id.
    pub me: String,
    /// By lease name: an instance's name, or a duty (`duty:...`).
    pub leases: BTreeMap<String, LeaseView>,
    pub nodes: BTreeMap<String, NodeView>,
    /// When this view was read.
    pub read_at: Option<DateTime<Utc>>,
}

impl ClusterView {
    /// Whether this node held the lease `name` when the view was read.
    pub fn holds(&self, name: &str) -> bool {
        self.leases
            .get(name)
            .is_some_and(|lease| lease.owner.as_deref() == Some(self.me.as_str()))
    }
}

/// Where a request about an instance is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Here: this node owns it (or runs alone).
    Local,
    /// By the owning node, at this base URL.
    Remote { node: String, address: String },
    /// Nobody owns it right now (a takeover under way): ask again shortly.
    Unowned,
}

/// The shared view; cheap to clone. None inside: the hub runs alone.
#[derive(Clone, Debug, Default)]
pub struct Ownership(Option<Arc<RwLock<ClusterView>>>);

impl Ownership {
    /// A hub alone: every instance and every duty is its own.
    pub fn alone() -> Self {
        Self(None)
    }

    /// A cluster node's view, empty (owning nothing) until the first heartbeat fills it.
    pub fn node(me: &str) -> Self {
        Self(Some(Arc::new(RwLock::new(ClusterView {
            me: me.to_string(),
            ..Default::default()
        }))))
    }

    pub fn is_cluster(&self) -> bool {
        self.0.is_some()
    }

    /// Replaces the view (the lease keeper, at every heartbeat).
    pub fn publish(&self, view: ClusterView) {
        if let Some(shared) = &self.0 {
            *shared
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = view;
        }
    }

    /// A copy of the current view (None alone).
    pub fn view(&self) -> Option<ClusterView> {
        self.0.as_ref().map(|shared| {
            shared
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone()
        })
    }

    /// Whether this node holds the lease `name` (an instance or a duty); always true alone.
    pub fn holds(&self, name: &str) -> bool {
        self.view().is_none_or(|view| view.holds(name))
    }

    /// Where requests about `instance` go.
    pub fn route(&self, instance: &str) -> Routing {
        let Some(view) = self.view() else {
            return Routing::Local;
        };
        route_in(&view, instance)
    }
}

/// Where requests about `instance` go, by `view`: to its owner if that node is live.
pub fn route_in(view: &ClusterView, instance: &str) -> Routing {
    let owner = view
        .leases
        .get(instance)
        .and_then(|lease| lease.owner.as_deref());
    match owner {
        Some(owner) if owner == view.me => Routing::Local,
        Some(owner) => match view.nodes.get(owner) {
            Some(node) if node.live => Routing::Remote {
                node: owner.to_string(),
                address: node.address.clone(),
            },
            _ => Routing::Unowned,
        },
        None => Routing::Unowned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ClusterView {
        let lease = |owner: Option<&str>| LeaseView {
            owner: owner.map(str::to_string),
            epoch: 1,
            expires_at: None,
        };
        let node = |address: &str, live| NodeView {
            address: address.to_string(),
            heartbeat_at: Utc::now(),
            live,
        };
        ClusterView {
            me: "n1".into(),
            leases: [
                ("mine".to_string(), lease(Some("n1"))),
                ("theirs".to_string(), lease(Some("n2"))),
                ("dead".to_string(), lease(Some("n3"))),
                ("free".to_string(), lease(None)),
                (SCHEDULES_DUTY.to_string(), lease(Some("n2"))),
            ]
            .into(),
            nodes: [
                ("n1".to_string(), node("http://127.0.0.1:1", true)),
                ("n2".to_string(), node("http://127.0.0.1:2", true)),
                ("n3".to_string(), node("http://127.0.0.1:3", false)),
            ]
            .into(),
            read_at: None,
        }
    }

    #[test]
    fn requests_go_to_a_live_owner_and_wait_for_a_dead_ones_successor() {
        let view = view();
        assert_eq!(route_in(&view, "mine"), Routing::Local);
        assert_eq!(
            route_in(&view, "theirs"),
            Routing::Remote {
                node: "n2".into(),
                address: "http://127.0.0.1:2".into()
            }
        );
        assert_eq!(route_in(&view, "dead"), Routing::Unowned);
        assert_eq!(route_in(&view, "free"), Routing::Unowned);
        assert_eq!(route_in(&view, "unknown"), Routing::Unowned);
    }

    #[test]
    fn alone_everything_is_local_and_a_node_holds_only_its_leases() {
        let alone = Ownership::alone();
        assert!(!alone.is_cluster());
        assert_eq!(alone.route("anything"), Routing::Local);
        assert!(alone.holds(SCHEDULES_DUTY));
        let node = Ownership::node("n1");
        assert!(!node.holds("mine"), "nothing before the first heartbeat");
        node.publish(view());
        assert!(node.holds("mine"));
        assert!(!node.holds("theirs"));
        assert!(!node.holds(SCHEDULES_DUTY));
    }
}
