//! obs-hub: keeps persistent connections to one or many OBS Studio instances, caches their
//! status and serves it to REST clients and subscribers without anyone polling OBS.
//!
//! Where things live:
//! - [`obs`]: one `ObsConnection` actor per OBS instance, and the supervisor that keeps them alive;
//! - [`status`]: the `StatusManager` singleton holding the cached status of every instance;
//! - [`http`]: the actix-web REST layer; [`error`]: its one error type;
//! - [`db`]: persistence (history in SQLite: the recorder and DB writer actors, queries);
//! - [`webhooks`]: signed webhooks from a durable outbox (the `WebhookDispatcher` actor), and
//!   what the callback routes accept;
//! - [`app`]: start-up; [`config`] and [`cli`]: settings and the command line; [`open_files`]:
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
pub mod open_files;
pub mod shutdown;
pub mod status;
pub mod systemd;
pub mod tls;
pub mod webhooks;
