//! The fleet: instance groups, and instances added, changed and removed while the hub runs
//! (issue 20, items 3 and 4).
//!
//! - [`groups`]: the registry of instance groups (declared in the config file or made through
//!   the API) and the one function resolving a group to its members, which the rules use too;
//! - [`fanout`]: a group command, every per-instance route run on each member at once;
//! - [`instances`]: the instances made through the API, and the rules their bodies pass;
//! - [`store`]: their rows (the queries are `db::queries::managed`);
//! - [`routes`]: `/api/instance-groups/...` and `POST`/`PATCH`/`DELETE /api/instances/...`.
//!
//! Adding or removing an instance is a message to the status manager (`status::AddInstance`,
//! `RemoveInstance`: the board, and an `instance_changed` change for history, WebSocket and
//! webhooks) and to the connection supervisor (`obs::AddConnection`, `RemoveConnection`).

pub mod fanout;
pub mod groups;
pub mod instances;
pub mod routes;
pub mod store;
