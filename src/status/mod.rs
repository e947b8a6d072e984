//! The status manager: the singleton that holds the cached status of every OBS instance.

pub mod board;
pub mod lossy;
pub mod manager;
pub mod model;
pub mod update;

pub use board::{HubSnapshot, StatusBoard};
pub use manager::{
    AddCallbackInstance, ChangeEvent, LinkOrigin, Ping, Report, SetRunning, StatusChanged,
    StatusManager, Subscribe,
};
pub use model::{ConnectionState, InstanceStatus};
pub use update::{Change, ObsUpdate, Source};
