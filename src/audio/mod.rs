//! The audio capability: the mixer through the hub (mute, volume, balance of every input that has
//! audio).
//!
//! It follows the studio capability's shape:
//! - [`status`] (the file `status/audio_status.rs`, in the status core): the slice and its
//!   pure rules;
//! - [`events`]: which OBS events and reads concern audio;
//! - [`commands`]: the commands and how one is sent to OBS;
//! - [`routes`]: the REST routes (`/api/audio/inputs/...`).
//!
//! Changes reach history, the WebSocket and webhooks as the generic `audio_changed` change.
//! - [`meters`]: live levels (InputVolumeMeters, about 20 a second), taken from the hub's own
//!   session only while watched, sent as the `status::lossy` topic `meters`, never a numbered
//!   change.

pub mod commands;
pub mod events;
pub mod meters;
pub mod routes;

pub use crate::status::audio_status as status;
