//! The fleet: instance groups, and instances added, changed and removed while the hub runs
//! (issue 20, items 3 and 4).
//!
//! - [`groups`]: the registry of instance groups (declared in the config file or made through
//!   the API) and the one function resolving a group to its members;
pub mod groups;
