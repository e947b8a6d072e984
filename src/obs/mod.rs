//! The OBS side: one `ObsConnection` actor per instance (obws's link plus the hub's own
//! `session`, which carries `raw` requests and batches, sees kicks and takes the high-volume events
//! of [`taps`] while wanted), the supervisor that keeps them alive,
//! and the plain functions they use (failure classification, event translation, reads). The
//! connection serialises output commands itself: [`discipline`] (one lane per output, so OBS never
//! gets two racing start/stop requests, whatever the entry point) and [`output_commands`] (what
//! is asked of an output, what is really sent, what it answers) are its transport rules.

mod api_error;
pub mod auth_throttle;
pub mod commands;
pub mod connection;
pub mod discipline;
pub mod events;
pub mod failure;
pub mod output_commands;
pub mod probe;
pub mod raw;
pub mod reading;
pub mod session;
pub mod supervisor;
pub mod taps;

pub use commands::{Answered, CapabilityCommand, CommandError, CommandOutcome, ObsCommand};
pub use connection::ObsConnection;
pub use events::{PollReader, Reread, Translator, Translators};
pub use supervisor::{
    AddConnection, ConnectionSupervisor, Disown, Own, RemoveConnection, ReplaceConnection, Route,
    RouteRaw, SetInstanceRunning, StartManager, StopManager,
};
