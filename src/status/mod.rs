//! The status core: the `StatusManager` singleton that holds the cached status of every OBS
//! instance, the board its readers read, and the change stream it numbers and pushes.
//!
//! An instance's status is made of every capability's slice, so each slice (plain data and the
//! pure rules that apply what OBS reports to it, with their tests) lives here too: [`outputs`],
//! [`sources`], [`studio`], [`scenes`] (whose status, with stream and record, predates the seam and
//! is in [`model`] and [`update`]). [`kinds`] describes every kind of change, so that history,
//! webhooks and the WebSocket carry them without code for any one kind. Nothing
//! here names a capability module: capabilities sit above and import this.

pub mod audio;
pub mod board;
pub mod kinds;
pub mod lossy;
pub mod manager;
pub mod model;
pub mod outputs;
pub mod rule_firing;
pub mod scenes;
pub mod sources;
pub mod studio;
pub mod update;

pub use board::{HubSnapshot, StatusBoard};
pub use manager::{
    Announce, ApplyCallback, CallbackDecision, ChangeEvent, LinkOrigin, Ping, Report, SetRunning,
    StatusChanged, StatusManager, Subscribe,
};
pub use model::{ConnectionState, InstanceStatus};
pub use update::{Change, ObsUpdate, Source};
