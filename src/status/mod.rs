//! The status core: the `StatusManager` singleton that holds the cached status of every OBS
//! instance, the board its readers read, and the change stream it numbers and pushes.
//!
//! An instance's status is made of every capability's slice, so each slice (plain data and the
//! pure rules that apply what OBS reports to it, with their tests) lives here too:
//! [`output_status`], [`source_status`], [`studio_status`], [`audio_status`], [`fleet_status`]
//! (instances added, changed and removed through the API), [`scene_status`]
//! (whose status, with stream and record, predates the seam and is in [`model`] and [`update`]).
//! Their names end in `_status` so that no module here shares a name with a capability module.
//! [`kinds`] describes every kind of change, so that history, webhooks and the WebSocket carry
//! them without code for any one kind. Nothing
//! here names a capability module: capabilities sit above and import this.

pub mod audio_status;
pub mod board;
pub mod fleet_status;
pub mod kinds;
pub mod lossy;
pub mod manager;
pub mod mirroring;
pub mod model;
pub mod output_status;
pub mod ownership;
pub mod rule_firing;
pub mod scene_status;
pub mod source_status;
pub mod studio_status;
pub mod update;

pub use board::{HubSnapshot, StatusBoard};
pub use manager::{
    AddInstance, Announce, ApplyCallback, CallbackDecision, ChangeEvent, ClaimInstance,
    ClusterStamp, LinkOrigin, Mirror, MoveInstance, Ping, ReleaseInstance, RemoveInstance, Report,
    SetRunning, StatusChanged, StatusManager, Subscribe,
};
pub use mirroring::MirroredChange;
pub use model::{ConnectionState, InstanceStatus};
pub use update::{Change, ObsUpdate, Source};
