//! History events written per second through the write-behind (the recorder, its batches and its
//! writer thread), on SQLite or on PostgreSQL.
//!
//! ```sh
//! cargo run --release --example history_throughput -- [events] [database]
//! cargo run --release --features postgres --example history_throughput -- 100000 postgres://...
//! ```
//!
//! Defaults: 100 000 events, an SQLite file in a temporary directory. `database` is what
//! `OBS_HUB_DATABASE` takes (a path, or a `postgres://` URL in a build with the feature; the
//! database must be empty or migrated by obs-hub). The events are `scene_changed` changes of one
//! instance, handed to the recorder as the status manager hands them over, all at once (below
//! the recorder's limit of waiting events); the clock runs from the first to the moment the
//! recorder reports every one committed.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use obs_hub::{
    config::{DatabaseSettings, InstanceConfig, PostgresUrl},
    db::{recording::HistoryHooks, Persistence},
    status::{Change, ChangeEvent, Source, StatusChanged},
};

fn main() -> Result<(), String> {
    let events: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let database = std::env::args().nth(2);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut settings = DatabaseSettings::default();
    match database.as_deref().map(|d| (d, PostgresUrl::parse(d))) {
        Some((_, Some(url))) => {
            settings.path = None;
            settings.postgres = Some(url);
        }
        Some((path, None)) => settings.path = Some(path.into()),
        None => settings.path = Some(dir.path().join("history.db")),
    }
    let location = settings.location().ok_or("no database")?.to_string();
    let instances = [InstanceConfig {
        name: "default".into(),
        host: "127.0.0.1".into(),
        port: 4455,
        password: None,
    }];
    actix_web::rt::System::new().block_on(async move {
        let persistence = Persistence::start(&settings, &instances, HistoryHooks::default())
            .map_err(|e| e.to_string())?;
        let recorder = persistence.recorder().ok_or("no recorder")?.clone();
        let before = persistence.report().written_events;
        let started = Instant::now();
        let at = chrono::Utc::now();
        for seq in 1..=events {
            recorder.do_send(StatusChanged(Arc::new(ChangeEvent {
                cluster: None,
                seq,
                instance: "default".into(),
                at,
                source: Source::ObsEvent,
                change: Change::SceneChanged {
                    scene: format!("Scene {}", seq % 5),
                    previous: Some(format!("Scene {}", (seq + 4) % 5)),
                },
            })));
        }
        persistence.drain(Duration::from_secs(600)).await;
        let elapsed = started.elapsed();
        let report = persistence.report();
        let written = report.written_events - before;
        println!(
            "{location}: {written} of {events} events written in {:.2} s = {:.0} events/s \
             (failed writes {}, dropped {})",
            elapsed.as_secs_f64(),
            written as f64 / elapsed.as_secs_f64(),
            report.failed_writes,
            report.dropped_events,
        );
        actix::System::current().stop();
        Ok(())
    })
}
