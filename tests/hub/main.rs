//! The in-process hub tests, one integration crate (one binary to link) with a module per area.
//! Each test starts its own hub (`common::spawn_hub*`: its own port, database and simulated OBS),
//! so they run in parallel inside this one binary. A test that runs the built `obs-hub` as a
//! child (`cli`, `doctor`) belongs here too: it goes through `common::binary`, which gives the
//! child a clean environment and kills it on drop, and nothing of this process is shared with it.
//!
//! New tests go in the module of their area, or in a new module listed below; a new integration
//! crate only for a test that cannot share this process with the others (see `tests/crash/`,
//! `tests/real_obs/`, `tests/dashboard_browser.rs`).

#[path = "../common/mod.rs"]
mod common;

mod api;
mod audio;
mod cli;
mod cluster;
mod cluster_duties;
mod cluster_leases;
mod cluster_relay;
mod connection;
mod dashboard_state;
mod doctor;
mod fake_obs_protocol;
mod fleet;
mod meters;
mod ops;
mod outputs;
mod persistence;
mod pictures;
mod postgres;
mod rules;
mod scopes;
mod sources;
mod status_lane;
mod studio;
mod subscribers;
mod webhooks;
mod ws_protocol;
