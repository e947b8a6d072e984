//! A simulated OBS Studio speaking obs-websocket v5, faithful to OBS 30.2.3 / obs-websocket
//! 5.5.2 in what obs-hub relies on: the Hello/Identify handshake with password authentication,
//! requests and their status codes, events filtered by subscription, and the close codes OBS
//! sends when it quits (1001) or kicks a session (4011).
//!
//! The integration tests use it to break connections on purpose ([`FakeObs::stop`],
//! [`FakeObs::freeze`], [`FakeObs::kick_all`]); `obs-hub demo` uses it so a newcomer sees a
//! status that moves without installing OBS (GetStats and the output counters drift with time).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use obs_hub::fake_obs::{FakeObs, FakeObsConfig};
//!
//! let obs = FakeObs::start(FakeObsConfig {
//!     password: Some("secret".into()),
//!     ..FakeObsConfig::default()
//! })
//! .await?;
//! println!("fake OBS on ws://127.0.0.1:{}", obs.port());
//! obs.switch_scene_from_obs("Live").await;
//! obs.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! Layout: `protocol` is the wire vocabulary (pure; its [`intent`] and [`close`] codes are
//! public), `state` the simulated OBS and its request dispatcher (pure), `server` the sockets
//! and tasks.

mod audio;
mod meters;
mod outputs;
mod pictures;
mod protocol;
mod server;
mod sources;
mod state;
mod studio;

pub use self::protocol::{close, intent};
pub use self::state::OutputOptions;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use self::server::{lock, Shared};
use self::state::{FollowUp, ObsEvent, ObsState};

/// How to start a [`FakeObs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeObsConfig {
    /// WebSocket server password; `None` means no authentication is required.
    pub password: Option<String>,
    /// Port on 127.0.0.1; 0 picks a free one (read it back with [`FakeObs::port`]).
    pub port: u16,
    /// Initial scenes, top of OBS's Scenes dock first; the first is the program scene.
    /// Duplicates are ignored; an empty list gives OBS's default single scene "Scene".
    pub scenes: Vec<String>,
    /// Reported as `obsVersion` by GetVersion.
    pub obs_version: String,
    /// Reported as `obsWebSocketVersion` in Hello and GetVersion.
    pub websocket_version: String,
    /// Replay buffer, virtual camera, file splitting, chapter markers: all off by default.
    pub outputs: OutputOptions,
    /// How long this OBS has been running when the fake starts: GetStats's lifetime counters
    /// (frames rendered and skipped) start from there. Zero by default, a fresh launch.
    pub uptime: Duration,
}

impl Default for FakeObsConfig {
    /// No password, a free port, five typical stream scenes, OBS 30.2.3 with obs-websocket 5.5.2
    /// (the Debian trixie build obws 0.15 accepts).
    fn default() -> Self {
        FakeObsConfig {
            password: None,
            port: 0,
            scenes: ["Scene", "Starting Soon", "Live", "BRB", "Ending"]
                .into_iter()
                .map(String::from)
                .collect(),
            obs_version: "30.2.3".into(),
            websocket_version: "5.5.2".into(),
            outputs: OutputOptions::default(),
            uptime: Duration::ZERO,
        }
    }
}

/// A running simulated OBS. Cheap to clone: clones control the same instance.
///
/// The server runs in tokio tasks until [`FakeObs::stop`]; dropping the handles does not stop it.
#[derive(Clone)]
pub struct FakeObs {
    shared: Arc<Shared>,
}

impl FakeObs {
    /// Binds 127.0.0.1:`config.port` and starts serving in background tasks.
    pub async fn start(config: FakeObsConfig) -> std::io::Result<FakeObs> {
        let listener = server::bind(config.port)?;
        let port = listener.local_addr()?.port();
        let state = ObsState::new(
            &config.scenes,
            &config.obs_version,
            &config.websocket_version,
            Instant::now()
                .checked_sub(config.uptime)
                .unwrap_or_else(Instant::now),
        )
        .with_outputs(config.outputs);
        let shared = Arc::new(Shared::new(port, state, config.password));
        shared.serve(listener);
        Ok(FakeObs { shared })
    }

    /// The port the server listens on (the same across [`FakeObs::restart`]).
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// Like OBS quitting: sends ExitStarted to subscribed sessions, closes every session with
    /// 1001 "Server stopping." and stops listening, so new connections are refused. Returns
    /// once the sessions are gone (or cut off after a few seconds). If OBS is frozen, sockets
    /// are dropped without a goodbye, like a hung OBS being killed, and the freeze is lifted.
    pub async fn stop(&self) {
        self.shared.stop().await;
    }

    /// Listens again on the same port, keeping scenes, outputs and counters, like OBS being
    /// started again. Does nothing if already listening.
    pub async fn restart(&self) -> std::io::Result<()> {
        if self.shared.is_listening() {
            return Ok(());
        }
        let listener = server::bind(self.shared.port)?;
        self.shared.serve(listener);
        Ok(())
    }

    /// Like a hung OBS or a dead network: sockets stay open but nothing is read or written.
    /// Requests get no response, events are held back, pings get no pong, and new TCP
    /// connections are not even upgraded to WebSocket (so no Hello).
    pub fn freeze(&self) {
        self.shared.set_frozen(true);
    }

    /// Ends a [`FakeObs::freeze`]: held-back messages are processed and sent.
    pub fn unfreeze(&self) {
        self.shared.set_frozen(false);
    }

    /// Like the user pressing "Kick" on every session in OBS: closes each identified session
    /// with 4011 "Your session has been invalidated.". Returns once they are gone (while OBS is
    /// frozen the kick waits for [`FakeObs::unfreeze`], and this returns after a few seconds).
    pub async fn kick_all(&self) {
        self.shared.kick_all().await;
    }

    /// Like the user pressing "Kick" on one session: the newest identified one (the last in
    /// OBS's session list) is closed with 4011. False if none is identified.
    pub async fn kick_newest(&self) -> bool {
        self.shared.kick_newest().await
    }

    /// Sets (or removes) the password required by handshakes from now on; sessions already
    /// identified stay connected.
    pub fn set_password(&self, password: Option<String>) {
        self.shared.set_password(password);
    }

    /// Changes the versions reported from now on, e.g. "29.0.2" / "5.1.0" for an OBS too old
    /// for obws 0.15.
    pub fn set_versions(&self, obs_version: &str, websocket_version: &str) {
        let mut state = lock(&self.shared.state);
        state.obs_version = obs_version.to_owned();
        state.websocket_version = websocket_version.to_owned();
    }

    /// As if the user clicked a scene in OBS: makes it the program scene and emits
    /// CurrentProgramSceneChanged (nothing if it already was). False if there is no such scene.
    pub async fn switch_scene_from_obs(&self, name: &str) -> bool {
        self.shared
            .change_state(|state| match state.switch_scene_by_name(name) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// As OBS 32.2 does for a scene switch interrupted by a faster one: the program scene
    /// changes and the transition starts and ends, but no CurrentProgramSceneChanged is emitted.
    /// False if there is no such scene.
    pub async fn switch_scene_interrupted_from_obs(&self, name: &str) -> bool {
        self.shared
            .change_state(|state| match studio::switch_interrupted(state, name) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// An input's (muted, volume multiplier, balance); None if it has no audio.
    pub fn input_audio(&self, input: &str) -> Option<(bool, f64, f64)> {
        let state = lock(&self.shared.state);
        let audio = state.audio().input(input)?;
        Some((audio.muted, audio.mul, audio.balance))
    }

    /// As if the user clicked an input's mute button in OBS's mixer: InputMuteStateChanged.
    /// False if there is no such input with audio.
    pub async fn set_input_muted_from_obs(&self, input: &str, muted: bool) -> bool {
        self.shared
            .change_state(|state| match audio::set_muted(state, input, muted) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// As if the user added a microphone input to `scene` in OBS: InputCreated, then
    /// SceneItemCreated. False if the name is taken or the scene has no items in the fake.
    pub async fn create_audio_input_from_obs(&self, scene: &str, name: &str) -> bool {
        self.shared
            .change_state(|state| match audio::create_input(state, scene, name) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// As if the user removed an input in OBS: SceneItemRemoved for its items, then
    /// InputRemoved. False if there is no such input.
    pub async fn remove_input_from_obs(&self, name: &str) -> bool {
        self.shared
            .change_state(|state| match audio::remove_input(state, name) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// Whether OBS is in studio mode.
    pub fn is_studio_mode(&self) -> bool {
        lock(&self.shared.state).studio().enabled()
    }

    /// The scene on preview (None outside studio mode).
    pub fn preview_scene(&self) -> Option<String> {
        let state = lock(&self.shared.state);
        let uuid = state.studio().preview_uuid()?;
        Some(state.scene_by_uuid(uuid).name.clone())
    }

    /// The current transition and its duration.
    pub fn transition(&self) -> (String, u64) {
        let state = lock(&self.shared.state);
        (
            state.studio().current_transition().to_string(),
            state.studio().duration_ms(),
        )
    }

    /// As if the user added a scene in OBS: emits SceneCreated then SceneListChanged.
    /// False (and nothing emitted) if the name is taken.
    pub async fn create_scene_from_obs(&self, name: &str) -> bool {
        self.shared
            .change_state(|state| match state.create_scene(name) {
                Some((_uuid, events)) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// As if the user removed a scene in OBS: emits SceneRemoved, CurrentProgramSceneChanged
    /// if it was live, then SceneListChanged. False if there is no such scene or it is the
    /// last one.
    pub async fn remove_scene_from_obs(&self, name: &str) -> bool {
        self.shared
            .change_state(|state| match state.remove_scene_by_name(name) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// As if the user renamed a scene in OBS: emits SceneNameChanged then SceneListChanged.
    /// False if `old` does not exist or `new` is taken.
    pub async fn rename_scene_from_obs(&self, old: &str, new: &str) -> bool {
        self.shared
            .change_state(|state| match state.rename_scene_by_name(old, new) {
                Some(events) => (true, events),
                None => (false, Vec::new()),
            })
    }

    /// As if the user clicked "Start Streaming": StreamStateChanged STARTING, then STARTED
    /// shortly after. False if the stream is not stopped.
    pub async fn start_stream_from_obs(&self) -> bool {
        self.begin_output(ObsState::start_stream)
    }

    /// As if the user clicked "Stop Streaming": STOPPING, then STOPPED. False if not streaming.
    pub async fn stop_stream_from_obs(&self) -> bool {
        self.begin_output(ObsState::stop_stream)
    }

    /// As if the user clicked "Start Recording": RecordStateChanged STARTING, then STARTED.
    /// False if the recording is not stopped.
    pub async fn start_record_from_obs(&self) -> bool {
        self.begin_output(ObsState::start_record)
    }

    /// As if the user clicked "Stop Recording": STOPPING, then STOPPED with the file path.
    /// False if not recording.
    pub async fn stop_record_from_obs(&self) -> bool {
        self.begin_output(ObsState::stop_record)
    }

    fn begin_output(
        &self,
        transition: impl FnOnce(&mut ObsState) -> Option<(Vec<ObsEvent>, FollowUp)>,
    ) -> bool {
        let follow_up = self.shared.change_state(|state| match transition(state) {
            Some((events, follow_up)) => (Some(follow_up), events),
            None => (None, Vec::new()),
        });
        match follow_up {
            Some(follow_up) => {
                self.shared.schedule(follow_up);
                true
            }
            None => false,
        }
    }

    /// Sends a raw event (op 5) to every identified session subscribed to `intent`. `data` is
    /// sent as `eventData` when it is an object and left out otherwise (as OBS does for
    /// events without data, e.g. ExitStarted).
    pub async fn emit_event(&self, event_type: &str, intent: u32, data: Value) {
        self.shared.broadcast(&[ObsEvent {
            event_type: event_type.to_owned(),
            intent,
            data: Some(data),
        }]);
    }

    /// How many identified sessions are subscribed to the audio meters (InputVolumeMeters).
    pub fn meter_subscribers(&self) -> usize {
        self.shared.meter_subscribers()
    }

    /// Sends one meter frame now to the sessions subscribed to the meters (besides the ones
    /// sent every 50 ms while some session is), for tests that want a frame at a known point.
    pub fn push_meter_frame(&self) {
        self.shared.send_meter_frame();
    }

    /// Number of sessions currently identified.
    pub fn connection_count(&self) -> usize {
        self.shared.identified_count()
    }

    /// How many requests of this type were received in total, across all sessions and
    /// restarts (requests of a batch count once executed; a halted batch skips the rest).
    pub fn request_count(&self, request_type: &str) -> usize {
        self.shared.request_count(request_type)
    }

    /// How many logins this OBS refused (wrong or missing password).
    pub fn refused_logins(&self) -> u64 {
        self.shared
            .refused_logins
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Name of the current program scene.
    pub fn current_scene(&self) -> String {
        lock(&self.shared.state).program_scene().name.clone()
    }

    /// Whether the stream output is active (from STARTED until STOPPED).
    pub fn is_streaming(&self) -> bool {
        lock(&self.shared.state).is_streaming()
    }

    /// Whether the record output is active (from STARTED until STOPPED).
    pub fn is_recording(&self) -> bool {
        lock(&self.shared.state).is_recording()
    }

    /// Holds every output transition half-way (STARTING, STOPPING, a replay being saved) until
    /// [`FakeObs::release_transitions`], as a slow RTMP server would: tests use it to act while
    /// an output is starting, without depending on timing.
    pub fn hold_transitions(&self) {
        self.shared.hold_transitions();
    }

    /// Completes the held transitions (STARTED, STOPPED, ReplayBufferSaved...) and stops
    /// holding them.
    pub fn release_transitions(&self) {
        self.shared.release_transitions();
    }

    /// How many StartStream requests (or ToggleStream starting) arrived while the stream was
    /// already STARTING: the racing pair that crashed OBS 32.2.2. Real OBS answers them 200.
    pub fn overlapping_stream_starts(&self) -> u32 {
        lock(&self.shared.state).stream_start_overlaps()
    }

    pub fn is_record_paused(&self) -> bool {
        lock(&self.shared.state).is_record_paused()
    }

    /// Whether the replay buffer is active (from STARTED until STOPPED).
    pub fn is_replay_buffer_active(&self) -> bool {
        lock(&self.shared.state).side_outputs().replay_active()
    }

    /// Whether the virtual camera is on.
    pub fn is_virtual_cam_active(&self) -> bool {
        lock(&self.shared.state).side_outputs().virtualcam_active()
    }

    /// The path of the last replay saved.
    pub fn last_replay(&self) -> Option<String> {
        lock(&self.shared.state)
            .side_outputs()
            .last_replay()
            .map(str::to_owned)
    }

    /// Scene names, top of OBS's Scenes dock first (GetSceneList lists them the other way).
    pub fn scene_names(&self) -> Vec<String> {
        lock(&self.shared.state).scene_names()
    }

    /// Whether the item `id` of this scene or group is shown in OBS.
    pub fn scene_item_enabled(&self, scene: &str, id: i64) -> Option<bool> {
        lock(&self.shared.state).sources().item_enabled(scene, id)
    }

    /// As if the user hid or showed an item in OBS: emits SceneItemEnableStateChanged.
    pub fn set_scene_item_enabled_from_obs(&self, scene: &str, id: i64, enabled: bool) {
        self.shared
            .change_state(|state| ((), state.sources_mut().set_item_enabled(scene, id, enabled)));
    }

    /// An input's settings as OBS holds them.
    pub fn input_settings(&self, input: &str) -> Option<Value> {
        lock(&self.shared.state).sources().input_settings(input)
    }

    pub fn filter_enabled(&self, source: &str, filter: &str) -> Option<bool> {
        lock(&self.shared.state)
            .sources()
            .filter_enabled(source, filter)
    }

    /// A media input's OBS_MEDIA_STATE_*.
    pub fn media_state(&self, input: &str) -> Option<&'static str> {
        lock(&self.shared.state).sources().media_state(input)
    }

    pub fn current_profile(&self) -> String {
        lock(&self.shared.state).sources().profile().to_string()
    }

    pub fn current_scene_collection(&self) -> String {
        lock(&self.shared.state).sources().collection().to_string()
    }
}
