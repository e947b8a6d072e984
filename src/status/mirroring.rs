//! In a cluster of hubs, what a node makes of what the owner of an instance wrote (relayed by
//! the change feed): which changes are new to this node and whether the owner's status
//! replaces the one on the board. Plain functions; the status manager applies the plan.
//!
//! Every change of an instance carries its `instance_seq`, gap-free across owners. A node
//! remembers, in the instance's status, the `instance_seq` its board includes: relayed changes
//! at or below it are ones this node has already shown (or numbered itself, while it owned the
//! instance), and are dropped, so a relay that repeats itself (a sweep racing a notification,
//! a catch-up after the listener reconnected) shows nothing twice.

use chrono::{DateTime, Utc};

use super::update::{Change, Source};

/// One change as its owner wrote it, to be shown by this node.
#[derive(Clone, Debug, PartialEq)]
pub struct MirroredChange {
    pub instance_seq: u64,
    /// The lease epoch its owner wrote it under.
    pub epoch: u64,
    pub at: DateTime<Utc>,
    pub source: Source,
    pub change: Change,
}

/// What to do with a relay.
#[derive(Debug, PartialEq)]
pub struct MirrorPlan {
    /// The owner's status replaces the board's.
    pub replace_status: bool,
    /// The changes new to this node, in order.
    pub changes: Vec<MirroredChange>,
    /// The `instance_seq` the board includes afterwards.
    pub instance_seq: u64,
}

impl MirrorPlan {
    pub fn is_empty(&self) -> bool {
        !self.replace_status && self.changes.is_empty()
    }
}

/// `known`: the `instance_seq` of the board's status (None: the instance is unknown here, or
/// was never numbered). `status_seq`: the `instance_seq` the owner's status was written at,
/// when the relay carries it. `changes`: what the owner wrote, in any order.
pub fn plan(
    known: Option<u64>,
    status_seq: Option<u64>,
    mut changes: Vec<MirroredChange>,
) -> MirrorPlan {
    let floor = known.unwrap_or(0);
    changes.sort_by_key(|change| change.instance_seq);
    changes.dedup_by_key(|change| change.instance_seq);
    changes.retain(|change| change.instance_seq > floor);
    let last_change = changes.last().map(|change| change.instance_seq);
    // An unknown instance takes any status; a known one only a status at least as new as what
    // the board includes (an older one would take the board back in time).
    let replace_status = match (known, status_seq) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(known), Some(seq)) => seq >= known && (seq > known || !changes.is_empty()),
    };
    let instance_seq = [
        Some(floor),
        last_change,
        status_seq.filter(|_| replace_status),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(floor);
    MirrorPlan {
        replace_status,
        changes,
        instance_seq,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(instance_seq: u64) -> MirroredChange {
        MirroredChange {
            instance_seq,
            epoch: 1,
            at: Utc::now(),
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: format!("scene {instance_seq}"),
                previous: None,
            },
        }
    }

    fn seqs(plan: &MirrorPlan) -> Vec<u64> {
        plan.changes
            .iter()
            .map(|change| change.instance_seq)
            .collect()
    }

    #[test]
    fn only_changes_newer_than_the_board_are_shown_once_each_in_order() {
        let plan = plan(
            Some(3),
            Some(6),
            vec![
                change(5),
                change(2),
                change(4),
                change(6),
                change(5),
                change(3),
            ],
        );
        assert_eq!(seqs(&plan), [4, 5, 6]);
        assert!(plan.replace_status);
        assert_eq!(plan.instance_seq, 6);
    }

    #[test]
    fn a_relay_already_shown_does_nothing() {
        let plan = plan(Some(6), Some(6), vec![change(5), change(6)]);
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.instance_seq, 6);
        let older = super::plan(Some(6), Some(4), vec![]);
        assert!(older.is_empty(), "an older status is not taken: {older:?}");
    }

    #[test]
    fn an_unknown_instance_takes_the_owners_status_and_its_place() {
        let loaded = plan(None, Some(40), vec![]);
        assert!(loaded.replace_status);
        assert!(loaded.changes.is_empty());
        assert_eq!(loaded.instance_seq, 40);
        // A status-less relay of an unknown instance shows its changes (the board has none).
        let bare = plan(None, None, vec![change(1), change(2)]);
        assert!(!bare.replace_status);
        assert_eq!(seqs(&bare), [1, 2]);
        assert_eq!(bare.instance_seq, 2);
    }
}
