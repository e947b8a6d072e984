//! The studio-mode capability: preview and program, takes with a transition, the T-bar.
//!
//! It follows the outputs capability's shape:
//! - [`status`] (the file `status/studio_status.rs`, in the status core, which holds
//!   every capability's slice): this capability's slice of an instance's status and the pure rules
//!   that apply what OBS reports to it;
//! - [`events`]: which OBS events and reads concern studio mode and transitions;
//! - [`commands`]: the commands and how one is sent to OBS;
//! - [`routes`]: the REST routes (`/api/studio-mode`, `/api/preview-scene`, `/api/transition`,
//!   `/api/transitions/...`).
//!
//! Changes reach history, the WebSocket and webhooks as the generic `studio_changed` change
//! (the whole slice, it is small): those layers have no studio code.

pub mod commands;
pub mod events;
pub mod routes;

pub use crate::status::studio_status as status;
