//! The outputs capability: stream, record, replay buffer and virtual camera.
//!
//! Everything about OBS's outputs lives here, in the shape every capability follows:
//! - [`status`]: this capability's slice of an instance's status (replay buffer and virtual
//!   camera; stream and record predate the seam and stay in `status::model`) and the pure rules
//!   that apply what OBS reports to it;
//! - [`events`]: which OBS events and reads concern outputs, as updates for those rules;
//! - [`discipline`]: the command discipline, a pure per-output lane that serialises commands and
//!   never lets two racing start/stop requests reach OBS (the connection actor drives it);
//! - [`commands`]: the commands and how one is sent to OBS;
//! - [`routes`]: the REST routes (`/api/outputs/...`, `/api/stats/history`);
//! - [`stats_history`]: the last ten minutes of figures per instance, in memory.
//!
//! Changes reach history, the WebSocket and webhooks as the generic `output_changed` change (and
//! the older `streaming_changed` / `recording_changed`): those layers have no outputs code.

pub mod commands;
pub mod discipline;
pub mod events;
pub mod routes;
pub mod stats_history;
pub mod status;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One of OBS's four frontend outputs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Stream,
    Record,
    ReplayBuffer,
    VirtualCam,
}

impl Output {
    pub const ALL: [Output; 4] = [
        Self::Stream,
        Self::Record,
        Self::ReplayBuffer,
        Self::VirtualCam,
    ];

    /// The name in JSON bodies and change events.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Record => "record",
            Self::ReplayBuffer => "replay_buffer",
            Self::VirtualCam => "virtual_cam",
        }
    }

    /// The name in URLs (`/api/outputs/{output}/...`).
    pub fn path_name(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Record => "record",
            Self::ReplayBuffer => "replay-buffer",
            Self::VirtualCam => "virtual-cam",
        }
    }

    pub fn from_path(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|output| output.path_name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}
