//! obs-hub: keeps persistent connections to one or many OBS Studio instances, caches their
//! status and serves it to REST clients and subscribers without anyone polling OBS.
//!
//! Where things live:
//! - [`obs_protocol`]: the obs-websocket v5 message shapes (a leaf), shared by our client session
//!   and the simulated OBS;
//! - [`obs`]: one `ObsConnection` actor per OBS instance, and the supervisor that keeps them alive;
//! - [`status`]: the `StatusManager` singleton holding the cached status of every instance;
//! - [`http`]: the actix-web REST layer; [`error`]: its one error type;
//! - [`db`]: persistence (history in SQLite: the recorder and DB writer actors, queries);
//! - [`webhooks`]: signed webhooks from a durable outbox (the `WebhookDispatcher` actor), and
//!   what the callback routes accept;
//! - [`outputs`]: the outputs capability (stream, record, replay buffer, virtual camera): its
//!   slice of status, command discipline, routes and stats history;
//! - [`sources`]: the sources capability (scene items, inputs, media, filters, profiles, scene
//!   collections, hotkeys): its slice of status, events, commands and routes;
//! - [`pictures`]: program, preview and source pictures, one capture shared by every viewer;
//! - [`scenes`]: the scenes capability (so far: what the history keeps of scenes);
//! - [`studio`]: the studio-mode capability (preview, program, transitions, T-bar);
//! - [`app`]: start-up (wires every subscriber, registers each capability); [`openapi`]: the
//!   OpenAPI document, above every route; [`config`] and [`cli`]: settings and the command line; [`open_files`]:
//!   the open-files limit raised at start;
//! - [`fake_obs`]: a protocol-faithful simulated obs-websocket v5 server (tests and `obs-hub demo`).

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod fake_obs;
pub mod http;
pub mod metrics;
pub mod obs;
pub mod obs_protocol;
pub mod open_files;
pub mod openapi;
pub mod outputs;
pub mod pictures;
pub mod scenes;
pub mod shutdown;
pub mod sources;
pub mod status;
pub mod studio;
pub mod systemd;
pub mod tls;
pub mod webhooks;
