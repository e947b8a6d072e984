//! Crash safety: the built `obs-hub` is killed (SIGKILL, SIGTERM, a truncated `-shm` file) while
//! the simulated OBS floods it with thousands of events a second, then started again on the same
//! database. A crate of its own because that load must not run beside the in-process tests of
//! `tests/hub/` (whose heartbeats expire in 600 ms): cargo runs test binaries one after another.

#[path = "../common/mod.rs"]
mod common;

mod history;
mod webhooks;
