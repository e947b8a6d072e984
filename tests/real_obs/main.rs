//! End-to-end tests against a real OBS Studio (30.2 and 32.2, headless, started by
//! `scripts/real-obs.sh`): `obs` checks OBS itself (and so what the simulated OBS must imitate),
//! `hub` the hub against it. Every test is `#[ignore]`d, so a plain `cargo test` lists them as
//! ignored, never as passed; `bash scripts/e2e-real-obs.sh` runs them with `--ignored`, once per
//! OBS version. A crate of its own because it needs that OBS (one at a time, on port 4455) and
//! runs only on request; see `obs` for the environment it reads.

#[path = "../common/mod.rs"]
mod common;

mod hub;
mod obs;
