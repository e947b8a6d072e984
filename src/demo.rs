//! `obs-hub demo`: the hub against the built-in simulated OBS, with a scripted "show" so that
//! the status visibly moves (scenes switch, a stream runs, bytes and stats grow).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{
    config::{InstanceConfig, Overrides, Secret, Settings},
    fake_obs::{FakeObs, FakeObsConfig, OutputOptions},
};
// The route that pauses the show owns its handle; the demo reads it.
pub use crate::http::demo_show::ShowControl;

const DEMO_PASSWORD: &str = "demo-password";

/// Starts the simulated OBS and returns settings that point the hub at it.
pub async fn start_simulation(bind: &str) -> Result<(FakeObs, Settings), String> {
    let fake = FakeObs::start(FakeObsConfig {
        password: Some(DEMO_PASSWORD.to_string()),
        // A replay buffer to try the outputs routes on; no virtual camera, as on most Linux.
        outputs: OutputOptions {
            replay_buffer: true,
            split_file: true,
            ..OutputOptions::default()
        },
        ..FakeObsConfig::default()
    })
    .await
    .map_err(|error| format!("cannot start the simulated OBS: {error}"))?;
    let mut settings = Settings::resolve(
        None,
        Overrides {
            bind: Some(bind.to_string()),
            ..Overrides::default()
        },
    )
    .map_err(|error| error.to_string())?;
    settings.instances = vec![InstanceConfig {
        name: "default".to_string(),
        host: "127.0.0.1".to_string(),
        port: fake.port(),
        password: Some(Secret::new(DEMO_PASSWORD)),
    }];
    // Simulated events stay on this machine: webhooks made while trying the demo (or fuzzing
    // it, as scripts/schemathesis.sh does) reach loopback receivers only.
    settings.webhooks.delivery.destinations.allow_public = false;
    Ok((fake, settings))
}

/// The demo's history database: the file asked for, or a fresh one of its own in the temporary
/// directory (never the real history's default, so simulated events stay out of it), to be
/// removed with [`remove_database`]. The bool says whether it is such a temporary one.
pub fn database(requested: Option<PathBuf>) -> (PathBuf, bool) {
    match requested {
        Some(path) => (path, false),
        None => (
            std::env::temp_dir().join(format!("obs-hub-demo-{}.db", std::process::id())),
            true,
        ),
    }
}

/// Removes a temporary demo database with its WAL files.
pub fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
}

/// Requests a person makes through the hub (the dashboard's buttons, the API), as opposed to the
/// hub's own reads.
const USER_REQUESTS: [&str; 7] = [
    "SetCurrentProgramScene",
    "StartStream",
    "StopStream",
    "ToggleStream",
    "StartRecord",
    "StopRecord",
    "ToggleRecord",
];

/// Steps of the show skipped after the user acts (15 steps of 4 s: a minute).
const QUIET_STEPS_AFTER_USER: u32 = 15;

/// The show steps back while the user plays with the simulated OBS: it would otherwise switch
/// the scene they just picked, or stop the stream they just started.
#[derive(Debug, Default)]
pub struct ShowYield {
    seen_requests: usize,
    quiet_steps: u32,
}

impl ShowYield {
    /// Whether the show plays this step, given how many user requests OBS has had so far.
    pub fn plays(&mut self, user_requests: usize) -> bool {
        if user_requests != self.seen_requests {
            self.seen_requests = user_requests;
            self.quiet_steps = QUIET_STEPS_AFTER_USER;
        }
        if self.quiet_steps > 0 {
            self.quiet_steps -= 1;
            return false;
        }
        true
    }

    /// [`plays`](Self::plays), and never while the dashboard's button has paused the show.
    /// The clicks are counted while paused too, so that resuming does not take them for new
    /// ones and wait another minute.
    pub fn plays_unless_paused(&mut self, user_requests: usize, paused: bool) -> bool {
        self.plays(user_requests) && !paused
    }
}

/// Plays a little show on the simulated OBS, as a streamer would in OBS itself, pausing for a
/// minute whenever the user acts, and for as long as `control` says it is paused.
pub async fn run_show(fake: FakeObs, control: ShowControl) {
    let scenes = fake.scene_names();
    let mut step = 0usize;
    let mut yielding = ShowYield::default();
    loop {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let user_requests = USER_REQUESTS
            .iter()
            .map(|request| fake.request_count(request))
            .sum();
        if !yielding.plays_unless_paused(user_requests, control.paused()) {
            continue;
        }
        step += 1;
        if step == 1 {
            fake.start_stream_from_obs().await;
        }
        if !scenes.is_empty() {
            fake.switch_scene_from_obs(&scenes[step % scenes.len()])
                .await;
        }
        if step.is_multiple_of(5) {
            if fake.is_recording() {
                fake.stop_record_from_obs().await;
            } else {
                fake.start_record_from_obs().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_show_pauses_for_a_minute_after_the_user_acts() {
        let mut show = ShowYield::default();
        assert!(show.plays(0), "plays while nobody acts");
        assert!(!show.plays(1), "a click pauses it");
        for _ in 1..QUIET_STEPS_AFTER_USER {
            assert!(!show.plays(1));
        }
        assert!(show.plays(1), "it resumes once the user has left it alone");
        assert!(!show.plays(3), "and pauses again at the next click");
    }

    #[test]
    fn a_paused_show_does_not_play_and_resumes_without_waiting() {
        let mut show = ShowYield::default();
        assert!(!show.plays_unless_paused(0, true), "paused");
        assert!(!show.plays_unless_paused(0, true), "still paused");
        assert!(show.plays_unless_paused(0, false), "resumed at once");
    }

    #[actix_web::test]
    async fn the_demo_sends_webhooks_to_this_machine_only() {
        let (_fake, settings) = start_simulation("127.0.0.1:0").await.unwrap();
        let rules = settings.webhooks.delivery.destinations;
        assert!(!rules.allow_public && rules.allow_loopback, "{rules:?}");
    }
}
