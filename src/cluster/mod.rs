//! Several hubs as nodes of one cluster on one PostgreSQL database: each OBS instance is owned by
//! exactly one node at a time, through a lease; any node answers any request (commands for an
//! instance owned elsewhere are forwarded to its owner); every node's browsers see every
//! instance's changes, in order per instance. The shared view of who owns what is
//! `status::ownership`.

pub mod forward;
