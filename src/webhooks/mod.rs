//! Webhooks out (signed, durable, retried) and callbacks in.

pub mod schedule;
pub mod signing;
