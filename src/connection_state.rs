//! Where a connection to one OBS instance stands: named by the status board, the connection
//! actors, error bodies (`obs_not_connected`) and the metrics alike. A leaf.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a connection to one OBS instance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// First attempt since the instance was started.
    Connecting,
    Connected,
    /// The link failed or dropped; another attempt is scheduled (`next_attempt_at`).
    Reconnecting,
    /// OBS refused the password; retried slowly.
    AuthFailed,
    /// OBS is older than the hub supports; retried slowly.
    Incompatible,
    /// The manager (or this instance) was stopped on request.
    Stopped,
    /// OBS's user kicked one of the hub's sessions (close code 4011): every link is closed and
    /// none is reopened until `obs-manager/start` asks for it.
    Kicked,
}

impl ConnectionState {
    pub const ALL: [ConnectionState; 7] = [
        Self::Connecting,
        Self::Connected,
        Self::Reconnecting,
        Self::AuthFailed,
        Self::Incompatible,
        Self::Stopped,
        Self::Kicked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::AuthFailed => "auth_failed",
            Self::Incompatible => "incompatible",
            Self::Stopped => "stopped",
            Self::Kicked => "kicked",
        }
    }
}
