//! The outputs capability: stream, record, replay buffer and virtual camera.
//!
//! Everything about OBS's outputs lives here, in the shape every capability follows:
//! - its slice of an instance's status (replay buffer and virtual camera; stream and record
//!   predate the seam and stay in `status::model`) and the pure rules that apply what OBS
//!   reports to it live in `status::output_status` (re-exported here as [`status`]), because the
//!   instance status is made of every capability's slice;
//! - [`events`]: which OBS events and reads concern outputs, as updates for those rules;
//! - [`discipline`] and [`commands`]: the command discipline (a pure per-output lane that
//!   serialises commands and never lets two racing start/stop requests reach OBS) and the output
//!   commands; the connection drives them whatever the entry point (routes, raw requests), so
//!   they live in `obs` (`obs::discipline`, `obs::output_commands`), re-exported here;
//! - [`routes`]: the REST routes (`/api/outputs/...`, `/api/stats/history`);
//! - [`history`]: what the history keeps of outputs beyond event rows (stream and record
//!   sessions), a hook that `app` registers;
//! - [`stats_history`]: the last ten minutes of figures per instance, in memory.
//!
//! Changes reach history, the WebSocket and webhooks as the generic `output_changed` change (and
//! the older `streaming_changed` / `recording_changed`): those layers have no outputs code.

pub mod events;
pub mod history;
pub mod routes;
pub mod stats_history;

pub use crate::obs::{discipline, output_commands as commands};
pub use crate::status::output_status::{self as status, Output};
