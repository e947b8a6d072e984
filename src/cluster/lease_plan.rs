//! What a node does with the leases at one heartbeat, decided from what it read from the
//! database (pure: the keeper reads, calls [`plan`], then acts).
//!
//! The rules, for each lease name (an instance, or a duty such as `duty:schedules`):
//! - its desired owner is the rendezvous winner among the live nodes (this one included);
//! - acquire when this node is the desired owner and the lease is free or EXPIRED: never one
//!   that has not expired, whose holder may still be talking to its OBS;
//! - renew what this node holds and is still desired for;
//! - release what it holds but a live node is desired for (a node joined: graceful handover),
//!   or what no longer exists;
//! - lost: this node believed it held a lease, and the database says another owner or another
//!   epoch: it must stop at once (its late writes are fenced off by the epoch anyway).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::rendezvous;
use crate::status::ownership::LeaseView;

/// What the node read at this heartbeat, and what it believes.
pub struct Situation<'a> {
    pub me: &'a str,
    /// The database's clock at the read.
    pub now: DateTime<Utc>,
    /// The nodes whose heartbeat is younger than a lease (see [`live_nodes`]).
    pub live: &'a BTreeSet<String>,
    /// Every lease row, by name.
    pub leases: &'a BTreeMap<String, LeaseView>,
    /// Every name that should have an owner: the instances and the duties.
    pub names: &'a BTreeSet<String>,
    /// What this node believes it holds: name and epoch.
    pub held: &'a BTreeMap<String, u64>,
}

/// What to do, each list in name order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub acquire: Vec<String>,
    /// Name and the epoch held.
    pub renew: Vec<(String, u64)>,
    /// Name and the epoch held.
    pub release: Vec<(String, u64)>,
    pub lost: Vec<String>,
}

/// The live nodes: those whose heartbeat is younger than `lease` at `now`, and always `me`
/// (which has just written its own).
pub fn live_nodes<'a>(
    me: &str,
    now: DateTime<Utc>,
    lease: std::time::Duration,
    heartbeats: impl IntoIterator<Item = (&'a String, &'a DateTime<Utc>)>,
) -> BTreeSet<String> {
    let lease = Duration::from_std(lease).unwrap_or(Duration::MAX);
    let mut live: BTreeSet<String> = heartbeats
        .into_iter()
        .filter(|(_, heartbeat_at)| is_live(now, **heartbeat_at, lease))
        .map(|(node, _)| node.clone())
        .collect();
    live.insert(me.to_string());
    live
}

fn is_live(now: DateTime<Utc>, heartbeat_at: DateTime<Utc>, lease: Duration) -> bool {
    now.signed_duration_since(heartbeat_at) < lease
}

/// Whether `lease` may be taken at `now`: nobody holds it, or its holder let it expire.
pub fn is_free(lease: Option<&LeaseView>, now: DateTime<Utc>) -> bool {
    match lease {
        None => true,
        Some(lease) => {
            lease.owner.is_none() || lease.expires_at.is_none_or(|expires| expires < now)
        }
    }
}

pub fn plan(situation: &Situation) -> Plan {
    let Situation {
        me,
        now,
        live,
        leases,
        names,
        held,
    } = *situation;
    let desired = |name: &str| rendezvous::owner(name, live.iter().map(String::as_str));
    let mut plan = Plan::default();
    for (name, &epoch) in held {
        let still_mine = leases
            .get(name)
            .is_some_and(|lease| lease.owner.as_deref() == Some(me) && lease.epoch == epoch);
        if !still_mine {
            plan.lost.push(name.clone());
        } else if names.contains(name) && desired(name) == Some(me) {
            plan.renew.push((name.clone(), epoch));
        } else {
            plan.release.push((name.clone(), epoch));
        }
    }
    for name in names {
        if !held.contains_key(name) && desired(name) == Some(me) && is_free(leases.get(name), now) {
            plan.acquire.push(name.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn lease(owner: Option<&str>, epoch: u64, expires: i64) -> LeaseView {
        LeaseView {
            owner: owner.map(str::to_string),
            epoch,
            expires_at: owner.map(|_| at(expires)),
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|item| item.to_string()).collect()
    }

    /// Instance names rendezvous gives to `node` among `nodes`, and to others.
    fn names_of(node: &str, nodes: &[&str], n: usize) -> (Vec<String>, Vec<String>) {
        (0..n)
            .map(|i| format!("obs-{i}"))
            .partition(|name| rendezvous::owner(name, nodes.iter().copied()) == Some(node))
    }

    #[test]
    fn live_nodes_are_those_heard_from_within_a_lease_and_always_me() {
        let heartbeats: BTreeMap<String, DateTime<Utc>> = [
            ("fresh".to_string(), at(-9)),
            ("stale".to_string(), at(-10)),
            ("me".to_string(), at(-60)),
        ]
        .into();
        let live = live_nodes("me", at(0), std::time::Duration::from_secs(10), &heartbeats);
        assert_eq!(live, set(&["fresh", "me"]));
    }

    #[test]
    fn a_node_alone_acquires_free_and_expired_leases_but_never_a_live_one() {
        let names = set(&["free", "new", "expired", "held-elsewhere", "released"]);
        let leases: BTreeMap<_, _> = [
            ("free".to_string(), lease(None, 3, 0)),
            ("expired".to_string(), lease(Some("dead"), 7, -1)),
            ("held-elsewhere".to_string(), lease(Some("dead"), 2, 5)),
            (
                "released".to_string(),
                LeaseView {
                    owner: None,
                    epoch: 4,
                    expires_at: None,
                },
            ),
        ]
        .into();
        let plan = plan(&Situation {
            me: "me",
            now: at(0),
            live: &set(&["me"]),
            leases: &leases,
            names: &names,
            held: &BTreeMap::new(),
        });
        assert_eq!(
            plan,
            Plan {
                acquire: vec![
                    "expired".into(),
                    "free".into(),
                    "new".into(),
                    "released".into()
                ],
                ..Plan::default()
            },
            "`held-elsewhere` has not expired: its holder may still be connected"
        );
    }

    #[test]
    fn held_leases_are_renewed_handed_over_to_a_joining_node_or_lost() {
        let (mine, theirs) = names_of("me", &["me", "joiner"], 40);
        assert!(!mine.is_empty() && !theirs.is_empty());
        let mut names: BTreeSet<String> = mine.iter().chain(&theirs).cloned().collect();
        let mut leases = BTreeMap::new();
        let mut held = BTreeMap::new();
        for name in &names {
            leases.insert(name.clone(), lease(Some("me"), 5, 8));
            held.insert(name.clone(), 5);
        }
        // One taken by another node behind our back (we were fenced off), one gone from the
        // instance list, one whose epoch moved on.
        let stolen = mine[0].clone();
        leases.insert(stolen.clone(), lease(Some("joiner"), 6, 8));
        let removed = "removed".to_string();
        leases.insert(removed.clone(), lease(Some("me"), 1, 8));
        held.insert(removed.clone(), 1);
        let bumped = mine[1].clone();
        leases.insert(bumped.clone(), lease(Some("me"), 9, 8));
        names.insert("duty:schedules".into());
        let plan = plan(&Situation {
            me: "me",
            now: at(0),
            live: &set(&["me", "joiner"]),
            leases: &leases,
            names: &names,
            held: &held,
        });
        let mut lost = vec![bumped.clone(), stolen.clone()];
        lost.sort();
        assert_eq!(plan.lost, lost);
        let mut released: Vec<String> = theirs.clone();
        released.push(removed);
        released.sort();
        assert_eq!(
            plan.release
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>(),
            released
        );
        let mut renewed: Vec<String> = mine
            .iter()
            .filter(|name| **name != stolen && **name != bumped)
            .cloned()
            .collect();
        renewed.sort();
        assert_eq!(
            plan.renew
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>(),
            renewed
        );
        assert!(plan.renew.iter().all(|(_, epoch)| *epoch == 5));
        // The duty goes to whichever node rendezvous picks; only if that is me do I take it.
        let duty_mine = rendezvous::owner("duty:schedules", ["me", "joiner"]) == Some("me");
        assert_eq!(
            plan.acquire,
            if duty_mine {
                vec!["duty:schedules".to_string()]
            } else {
                vec![]
            }
        );
    }

    #[test]
    fn a_dead_nodes_leases_go_to_the_survivors_once_expired() {
        let names: BTreeSet<String> = (0..30).map(|i| format!("obs-{i}")).collect();
        let leases: BTreeMap<_, _> = names
            .iter()
            .map(|name| (name.clone(), lease(Some("dead"), 1, -1)))
            .collect();
        let live = set(&["a", "b"]);
        let acquired: Vec<Vec<String>> = ["a", "b"]
            .iter()
            .map(|me| {
                plan(&Situation {
                    me,
                    now: at(0),
                    live: &live,
                    leases: &leases,
                    names: &names,
                    held: &BTreeMap::new(),
                })
                .acquire
            })
            .collect();
        let mut all: Vec<String> = acquired.concat();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 30, "each taken once");
        assert_eq!(
            acquired[0].len() + acquired[1].len(),
            30,
            "by one node only"
        );
        let not_yet = plan(&Situation {
            me: "a",
            now: at(-2),
            live: &live,
            leases: &leases,
            names: &names,
            held: &BTreeMap::new(),
        });
        assert!(not_yet.acquire.is_empty(), "before the expiry: {not_yet:?}");
    }
}
