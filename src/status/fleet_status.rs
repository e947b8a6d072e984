//! The fleet's change kind: an instance added, changed (new address or password) or removed
//! while the hub runs (issue 20). The instance's own slice is its whole status: added, it starts
//! as a fresh one; removed, it leaves the board (its history stays).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{kinds::ChangeKind, update::Change};

/// What happened to the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceAction {
    Added,
    Changed,
    Removed,
}

/// An `instance_changed` change: the action and the address the instance has (had, when
/// removed). Never a password.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"action": "added", "host": "127.0.0.1", "port": 4455}))]
pub struct InstanceChange {
    pub action: InstanceAction,
    pub host: String,
    pub port: u16,
}

/// An instance added, changed or removed through the API. Newer than the webhook endpoints
/// that exist: sent only to endpoints that list it.
pub static INSTANCE_CHANGED: ChangeKind = ChangeKind {
    name: "instance_changed",
    recorded: true,
    webhook_default: false,
    payload: |change| match change {
        Change::InstanceChanged(change) => serde_json::json!(change),
        _ => serde_json::Value::Null,
    },
    callback: None,
};
