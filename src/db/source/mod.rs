//! Row structs and insert forms, one file per table (queries live in `db::queries`).

pub mod audit;
pub mod event;
pub mod instance;
pub mod managed;
pub mod rule;
pub mod scene;
pub mod session;
pub mod token;
pub mod webhook;
