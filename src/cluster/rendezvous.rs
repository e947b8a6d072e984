//! Which node should own a lease: rendezvous (highest random weight) hashing over the live
//! nodes. Every node computes the same answer from the same list of nodes, with no coordination:
//! the weight of a (node, name) pair is a hash that is the same on every node, every platform
//! and every build (FNV-1a, then SplitMix64's finaliser to spread FNV's weak low bits), never
//! std's `DefaultHasher`, whose algorithm may change between Rust releases.
//!
//! When a node leaves, only the names it owned move (each to its second-highest node); when one
//! joins, it takes the names for which it weighs most: about 1/n of them.

/// FNV-1a, 64 bits.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.into_iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// SplitMix64's finaliser: every input bit reaches every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The weight of `node` for `name`. A zero byte separates the two (neither may contain one in
/// practice: node ids and instance names are restricted), so ("ab", "c") and ("a", "bc") differ.
pub fn weight(node: &str, name: &str) -> u64 {
    mix(fnv1a(
        node.bytes().chain(std::iter::once(0)).chain(name.bytes()),
    ))
}

/// The node that should own `name` among `nodes` (None when there is none). Ties (astronomically
/// rare) go to the smaller node id, so that every node still agrees.
pub fn owner<'a>(name: &str, nodes: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    nodes
        .into_iter()
        .map(|node| (weight(node, name), std::cmp::Reverse(node), node))
        .max()
        .map(|(_, _, node)| node)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("obs-{i:03}")).collect()
    }

    fn owners<'a>(names: &[String], nodes: &[&'a str]) -> BTreeMap<String, &'a str> {
        names
            .iter()
            .map(|name| (name.clone(), owner(name, nodes.iter().copied()).unwrap()))
            .collect()
    }

    #[test]
    fn the_weight_is_the_same_everywhere_and_forever() {
        // Fixed values: a change of hash would move every lease of a running cluster whose
        // nodes run different builds.
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(weight("n1", "studio"), weight("n1", "studio"));
        assert_ne!(weight("ab", "c"), weight("a", "bc"));
        assert_eq!(owner("x", []), None);
        assert_eq!(owner("x", ["only"]), Some("only"));
    }

    #[test]
    fn three_hundred_names_spread_over_three_nodes_within_twenty_percent() {
        let nodes = ["node-1", "node-2", "node-3"];
        let owners = owners(&names(300), &nodes);
        for node in nodes {
            let count = owners.values().filter(|owner| **owner == node).count();
            assert!((80..=120).contains(&count), "{node} owns {count} of 300");
        }
    }

    #[test]
    fn a_node_leaving_moves_only_its_names() {
        let names = names(300);
        let before = owners(&names, &["node-1", "node-2", "node-3"]);
        let after = owners(&names, &["node-1", "node-3"]);
        for name in &names {
            if before[name] != "node-2" {
                assert_eq!(before[name], after[name], "{name} moved");
            } else {
                assert_ne!(after[name], "node-2");
            }
        }
    }

    #[test]
    fn a_node_joining_takes_about_a_quarter_and_nothing_moves_between_the_others() {
        let names = names(300);
        let before = owners(&names, &["node-1", "node-2", "node-3"]);
        let after = owners(&names, &["node-1", "node-2", "node-3", "node-4"]);
        let mut taken = 0;
        for name in &names {
            if after[name] == "node-4" {
                taken += 1;
            } else {
                assert_eq!(before[name], after[name], "{name} moved between old nodes");
            }
        }
        // 1/4 of 300 is 75; ±20 %.
        assert!((60..=90).contains(&taken), "node-4 took {taken}");
    }
}
