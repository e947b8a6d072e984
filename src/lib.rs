//! obs-hub: keeps persistent connections to one or many OBS Studio instances, caches their
//! status and serves it to REST clients and subscribers without anyone polling OBS.
//!
//! Layers, low to high: a module imports only from its own layer or lower ones, and no two
//! top-level modules import each other. `scripts/check-layers.py` reads the list below (run by
//! `.ci/run` and by the `layers` test), so this text and the check cannot disagree.
//! - L0 leaves, importing nothing of ours: [`obs_protocol`] (the obs-websocket v5 message
//!   shapes, shared by our client session and the simulated OBS), [`secret`] (secrets that never
//!   print, constant-time token comparison), [`backoff`], [`connection_state`] (named by the
//!   status board, error bodies and metrics alike), [`shutdown`], [`open_files`] (the
//!   open-files limit raised at start), [`systemd`], [`tls`], [`clock`] (the time rules wait
//!   on, driven by hand in tests)
//! - L1 settings and plumbing: [`config`] (flags > env > TOML file > defaults), [`metrics`],
//!   [`error`] (the one `ApiError`)
//! - L2 the status core: [`status`] (the `StatusManager` singleton holding the cached status of
//!   every instance, and the change stream)
//! - L3 services: [`obs`] (one `ObsConnection` actor per OBS instance, and the supervisor that
//!   keeps them alive; it runs the commands, poll reads and translators capabilities register,
//!   and serialises output commands in per-output lanes), [`db`] (history in SQLite: the recorder and writer actors, queries),
//!   [`webhooks`] (signed webhooks from a durable outbox, and what the callback routes accept)
//! - L4 web plumbing: [`http`] (the actix-web REST layer, WebSocket feed, dashboard)
//! - L5 capabilities, each with its OBS-event translator, commands, routes and history hook:
//!   [`scenes`] (the scenes table), [`outputs`] (stream, record, replay buffer, virtual camera),
//!   [`sources`] (scene items, inputs, media, filters, profiles, scene collections, hotkeys),
//!   [`studio`] (studio mode, transitions, T-bar), [`audio`] (the mixer: mute, volume, balance),
//!   [`pictures`] (program, preview and source pictures, one capture shared by every viewer),
//!   [`fleet`] (instance groups and their commands, instances added and removed while the hub
//!   runs), [`rules`] (automation: triggers, conditions, schedules, held conditions; its actions
//!   are the other capabilities' commands, sent the way their routes send them), [`cluster`]
//!   (several hubs on one PostgreSQL database: instance leases, forwarding, the change relay);
//!   their slices of status live in `status`
//! - L6 the whole: [`app`] (start-up: builds the actors, wires every subscriber, registers
//!   each capability in one line), [`api_document`] (the OpenAPI document, above every route),
//!   [`cli`] (the command line), [`doctor`], [`demo`]
//! - L7 test and demo support: [`fake_obs`] (a protocol-faithful simulated obs-websocket v5
//!   server); no production module imports it, only tests and the demo (`demo` -> `fake_obs`)

pub mod api_document;
pub mod app;
pub mod audio;
pub mod backoff;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod connection_state;
pub mod db;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod fake_obs;
pub mod fleet;
pub mod http;
pub mod metrics;
pub mod obs;
pub mod obs_protocol;
pub mod open_files;
pub mod outputs;
pub mod pictures;
pub mod rules;
pub mod scenes;
pub mod secret;
pub mod shutdown;
pub mod sources;
pub mod status;
pub mod studio;
pub mod systemd;
pub mod tls;
pub mod webhooks;

/// The layer order above, checked with the tests (and by `.ci/run`).
#[cfg(test)]
mod layers {
    use std::process::Command;

    #[test]
    #[cfg_attr(
        python3_missing,
        ignore = "python3 was not found at build time; .ci/run runs scripts/check-layers.py"
    )]
    fn no_module_imports_from_a_layer_above_it_nor_in_a_cycle() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/check-layers.py");
        // The checker's own self-test first: a checker that passes everything proves nothing.
        for args in [&["--self-test"][..], &[]] {
            let output = Command::new("python3")
                .arg(script)
                .args(args)
                .output()
                .expect("python3 runs");
            assert!(
                output.status.success(),
                "check-layers.py {args:?} failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
