//! The OBS side: one `ObsConnection` actor per instance (obws's link plus the hub's own
//! `session`, which carries `raw` requests and batches and sees kicks), the supervisor that keeps them alive,
//! and the plain functions they use (failure classification, event translation, reads).

mod api_error;
pub mod auth_throttle;
pub mod commands;
pub mod connection;
pub mod events;
pub mod failure;
pub mod probe;
pub mod raw;
pub mod reading;
pub mod session;
pub mod supervisor;

pub use commands::{CommandError, CommandOutcome, ObsCommand};
pub use connection::ObsConnection;
pub use events::{Translator, Translators};
pub use supervisor::{
    ConnectionSupervisor, Route, RouteRaw, SetInstanceRunning, StartManager, StopManager,
};
