//! The sources capability: scene items, inputs (text and settings), media inputs, filters,
//! profiles, scene collections and hotkeys.
//!
//! Everything about OBS's sources lives here, in the shape every capability follows:
//! - [`status`] (the file `status/source_status.rs`, in the status core, which holds
//!   every capability's slice): this capability's slice of an instance's status (scene items per
//!   scene or group, media playback, profile and scene collection, whether a collection switch is under way) and
//!   the pure rules that apply what OBS reports to it;
//! - [`events`]: which OBS events concern sources, as updates for those rules;
//! - [`commands`]: the commands, how each is sent to OBS, and what its answer teaches the cache;
//! - [`routes`]: the REST routes (`/api/scenes/{scene}/items/...`, `/api/inputs/...`,
//!   `/api/sources/{source}/filters/...`, `/api/profiles`, `/api/scene-collections`,
//!   `/api/hotkeys`).
//!
//! Changes reach history, the WebSocket and webhooks as the generic `source_changed` change:
//! those layers have no sources code.

pub mod commands;
pub mod events;
pub mod routes;

pub use crate::status::source_status as status;
