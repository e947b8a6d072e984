//! `[cluster]`: this hub as one node of several sharing one PostgreSQL database (see
//! the nodes module above). Off unless a node id is given.

use std::time::Duration;

use serde::Deserialize;

/// The shortest lease: a heartbeat renews it three times per lease, and a database round trip
/// on a loaded machine must fit in one heartbeat with room to spare.
const MIN_LEASE_MS: u64 = 1_500;
const MAX_LEASE_MS: u64 = 600_000;
const DEFAULT_LEASE_MS: u64 = 10_000;

/// The `[cluster]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCluster {
    pub(super) node_id: Option<String>,
    pub(super) address: Option<String>,
    pub(super) lease_ms: Option<u64>,
}

/// A node of a cluster of hubs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSettings {
    /// This node's name, unique in the cluster (`[cluster] node_id`, `OBS_HUB_CLUSTER_NODE_ID`).
    pub node_id: String,
    /// The base URL the other nodes reach this one at, to forward commands for the instances it
    /// owns (`[cluster] address`, `OBS_HUB_CLUSTER_ADDRESS`), e.g. `http://10.0.0.2:8000`.
    pub address: String,
    /// How long an instance's lease lasts without renewal: a dead node's instances are taken
    /// over after at most this long (plus one reconnect). Renewed every third of it.
    pub lease: Duration,
}

impl ClusterSettings {
    /// How often the node renews its leases and its own heartbeat.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 3
    }
}

/// The cluster settings, None when this hub runs alone. `node_id` and `address` come from the
/// environment over the file. Errors name the key.
pub(super) fn resolve(
    file: &FileCluster,
    node_id: Option<&str>,
    address: Option<&str>,
) -> Result<Option<ClusterSettings>, (&'static str, String)> {
    let node_id = node_id.or(file.node_id.as_deref());
    let address = address.or(file.address.as_deref());
    let Some(node_id) = node_id else {
        if address.is_some() || file.lease_ms.is_some() {
            return Err((
                "[cluster] node_id",
                "is required when [cluster] has other settings (or unset them to run alone)"
                    .to_string(),
            ));
        }
        return Ok(None);
    };
    if node_id.is_empty()
        || node_id.len() > 64
        || !node_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err((
            "OBS_HUB_CLUSTER_NODE_ID",
            format!(
                "`{node_id}` is not a node id: 1 to 64 characters among letters, digits, `-`, `_` \
                 and `.`"
            ),
        ));
    }
    let Some(address) = address else {
        return Err((
            "OBS_HUB_CLUSTER_ADDRESS",
            "is required with a node id: the URL the other nodes reach this one at \
             (e.g. http://10.0.0.2:8000)"
                .to_string(),
        ));
    };
    let address = address.trim_end_matches('/');
    let valid_address = address
        .strip_prefix("http://")
        .or_else(|| address.strip_prefix("https://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/') && !rest.contains('@'));
    if !valid_address {
        return Err((
            "OBS_HUB_CLUSTER_ADDRESS",
            format!(
                "`{address}` is not a node address: http:// or https:// and a host[:port], \
                 nothing after"
            ),
        ));
    }
    let lease_ms = file.lease_ms.unwrap_or(DEFAULT_LEASE_MS);
    if !(MIN_LEASE_MS..=MAX_LEASE_MS).contains(&lease_ms) {
        return Err((
            "[cluster] lease_ms",
            format!("must be between {MIN_LEASE_MS} and {MAX_LEASE_MS} (it was {lease_ms})"),
        ));
    }
    Ok(Some(ClusterSettings {
        node_id: node_id.to_string(),
        address: address.to_string(),
        lease: Duration::from_millis(lease_ms),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(node_id: Option<&str>, address: Option<&str>, lease_ms: Option<u64>) -> FileCluster {
        FileCluster {
            node_id: node_id.map(str::to_string),
            address: address.map(str::to_string),
            lease_ms,
        }
    }

    #[test]
    fn no_node_id_means_no_cluster_and_a_lone_setting_is_refused() {
        assert_eq!(resolve(&file(None, None, None), None, None), Ok(None));
        let lone = resolve(&file(None, Some("http://127.0.0.1:8001"), None), None, None);
        assert_eq!(lone.unwrap_err().0, "[cluster] node_id");
    }

    #[test]
    fn a_node_needs_a_good_id_and_an_address_and_the_environment_wins() {
        let settings = resolve(
            &file(Some("file-node"), Some("http://127.0.0.1:1"), None),
            Some("n1"),
            Some("http://127.0.0.1:8001/"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(settings.node_id, "n1");
        assert_eq!(settings.address, "http://127.0.0.1:8001");
        assert_eq!(settings.lease, Duration::from_secs(10));
        assert_eq!(settings.heartbeat(), Duration::from_secs(10) / 3);
        for bad in ["", "a b", "n/1", &"x".repeat(65)] {
            let refused = resolve(
                &file(Some(bad), Some("http://127.0.0.1:1"), None),
                None,
                None,
            );
            assert_eq!(refused.unwrap_err().0, "OBS_HUB_CLUSTER_NODE_ID", "{bad:?}");
        }
        let missing = resolve(&file(Some("n1"), None, None), None, None);
        assert_eq!(missing.unwrap_err().0, "OBS_HUB_CLUSTER_ADDRESS");
        for bad in [
            "127.0.0.1:8001",
            "ftp://h",
            "http://",
            "http://h/path",
            "http://u@h",
        ] {
            let refused = resolve(&file(Some("n1"), Some(bad), None), None, None);
            assert_eq!(refused.unwrap_err().0, "OBS_HUB_CLUSTER_ADDRESS", "{bad:?}");
        }
        for bad in [0, 1_499, 600_001] {
            let refused = resolve(
                &file(Some("n1"), Some("http://127.0.0.1:1"), Some(bad)),
                None,
                None,
            );
            assert_eq!(refused.unwrap_err().0, "[cluster] lease_ms", "{bad}");
        }
    }
}
