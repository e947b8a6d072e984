//! The simulated OBS itself: scenes, the stream and record outputs, the numbers GetStats
//! reports, and `dispatch`, which answers one request against that state. Nothing here touches
//! the network or the clock on its own: callers pass `now`, so all of it is unit-testable.
//!
//! State changes hand back the events OBS would emit, in OBS's order; the server broadcasts them.

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::outputs::{self as side_outputs, SideOutputs};
use super::pictures;
use super::protocol::{intent, status, RPC_VERSION};
use super::sources::{self, Sources};
use super::studio::{self, Studio};

/// How long an output sits in STARTING/STOPPING before it is STARTED/STOPPED.
/// Real OBS takes from a few ms (recording) to a second or two (RTMP connect).
pub const OUTPUT_TRANSITION_DELAY: Duration = Duration::from_millis(100);

/// Where recordings "land"; OBS's default recording path on Linux is the home directory,
/// and the OBS-in-chroot setup in OBS-NOTES.md uses HOME=/home/x.
pub(super) const RECORDING_DIRECTORY: &str = "/home/x";

/// Stream output rate: 6000 kbit/s, a common Twitch/YouTube 1080p30 setting.
const STREAM_BYTES_PER_SECOND: f64 = 6_000_000.0 / 8.0;
/// Record output rate: 2500 kbit/s, close to OBS's simple-mode "High Quality" default.
const RECORD_BYTES_PER_SECOND: f64 = 2_500_000.0 / 8.0;
/// OBS's default video settings render at 30 fps.
const FPS: f64 = 30.0;

/// The requests this fake answers; reported as `availableRequests` by GetVersion.
pub const SUPPORTED_REQUESTS: &[&str] = &[
    "GetVersion",
    "GetStats",
    "BroadcastCustomEvent",
    "Sleep",
    "GetSceneList",
    "GetCurrentProgramScene",
    "SetCurrentProgramScene",
    "CreateScene",
    "RemoveScene",
    "SetSceneName",
    "GetStreamStatus",
    "ToggleStream",
    "StartStream",
    "StopStream",
    "GetRecordStatus",
    "ToggleRecord",
    "StartRecord",
    "StopRecord",
    "ToggleRecordPause",
    "PauseRecord",
    "ResumeRecord",
    "SplitRecordFile",
    "CreateRecordChapter",
];

/// Which optional outputs and recording features this OBS has. Each is off by default, as in a
/// fresh OBS on Linux: the replay buffer must be enabled in the output settings, the virtual
/// camera needs a v4l2loopback device, file splitting must be enabled, and chapter markers need
/// the Hybrid MP4 format (the fake records Matroska otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOptions {
    pub replay_buffer: bool,
    pub virtual_cam: bool,
    pub split_file: bool,
    pub chapter_markers: bool,
    /// The recording shares the stream's encoder (Simple mode, "Same as stream" quality): OBS
    /// then cannot pause it, and answers PauseRecord with success doing nothing.
    pub record_shares_stream_encoder: bool,
}

/// Every request this fake answers.
pub fn all_requests() -> impl Iterator<Item = &'static str> {
    SUPPORTED_REQUESTS
        .iter()
        .chain(side_outputs::REQUESTS)
        .chain(sources::REQUESTS)
        .chain(studio::REQUESTS)
        .chain(pictures::REQUESTS)
        .copied()
}

/// What Qt reports on Debian for QImageWriter::supportedImageFormats().
pub(super) const SUPPORTED_IMAGE_FORMATS: &[&str] = &[
    "bmp", "cur", "icns", "ico", "jpeg", "jpg", "pbm", "pgm", "png", "ppm", "tif", "tiff", "wbmp",
    "webp", "xbm", "xpm",
];

/// An event OBS emits: type, the subscription bit it needs, and its `eventData` (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct ObsEvent {
    pub event_type: String,
    pub intent: u32,
    pub data: Option<Value>,
}

impl ObsEvent {
    pub(super) fn new(event_type: &str, intent: u32, data: Value) -> Self {
        ObsEvent {
            event_type: event_type.to_owned(),
            intent,
            data: Some(data),
        }
    }
}

/// The second half of an output transition, applied by the server after
/// [`OUTPUT_TRANSITION_DELAY`] with [`ObsState::complete`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    StreamStarted,
    StreamStopped,
    RecordStarted,
    RecordStopped,
    ReplayStarted,
    ReplayStopped,
    ReplaySaved,
    /// The end of a scene collection switch.
    CollectionChanged,
}

/// The answer to one request, plus what it set in motion.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub code: u16,
    pub comment: Option<String>,
    pub response_data: Option<Value>,
    /// Events to broadcast right after the response is sent.
    pub events: Vec<ObsEvent>,
    /// A transition to complete after [`OUTPUT_TRANSITION_DELAY`].
    pub follow_up: Option<FollowUp>,
    /// Hold the response back this long (Sleep).
    pub delay: Option<Duration>,
}

impl Outcome {
    pub(super) fn success(response_data: Option<Value>) -> Self {
        Outcome {
            code: status::SUCCESS,
            comment: None,
            response_data,
            events: Vec::new(),
            follow_up: None,
            delay: None,
        }
    }

    pub(super) fn error(code: u16, comment: Option<String>) -> Self {
        Outcome {
            code,
            comment,
            ..Outcome::success(None)
        }
    }

    /// `requestData` was sent but is not an object.
    pub fn request_data_not_an_object() -> Self {
        Outcome::error(
            status::INVALID_REQUEST_FIELD_TYPE,
            Some("Your request data is not an object.".into()),
        )
    }

    pub(super) fn with_events(mut self, events: Vec<ObsEvent>) -> Self {
        self.events = events;
        self
    }
}

/// One request as the dispatcher sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `""` when the client sent no `requestType` string.
    pub request_type: &'a str,
    /// `None` when `requestData` is absent or not an object.
    pub data: Option<&'a Map<String, Value>>,
    /// Messages this session has received/sent so far (GetStats reports them).
    pub session_incoming: u64,
    pub session_outgoing: u64,
}

/// One scene of the scene list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scene {
    pub name: String,
    pub uuid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Stopped,
    Starting,
    Active,
    Stopping,
}

/// The stream or record output: its phase and the counters GetStreamStatus/GetRecordStatus show.
#[derive(Debug, Clone)]
struct Output {
    phase: Phase,
    /// When the output reached STARTED; `None` while stopped or starting.
    active_since: Option<Instant>,
    bytes_per_second: f64,
    /// Totals of the last session: OBS keeps reporting them after the output stops.
    last_bytes: u64,
    last_total_frames: u32,
    last_skipped_frames: u32,
}

impl Output {
    fn new(bytes_per_second: f64) -> Self {
        Output {
            phase: Phase::Stopped,
            active_since: None,
            bytes_per_second,
            last_bytes: 0,
            last_total_frames: 0,
            last_skipped_frames: 0,
        }
    }

    /// Active in OBS's sense (`obs_output_active`): started and not yet fully stopped.
    fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active | Phase::Stopping)
    }

    fn elapsed(&self, now: Instant) -> Duration {
        self.active_since
            .map(|since| now.saturating_duration_since(since))
            .unwrap_or_default()
    }

    fn bytes(&self, now: Instant) -> u64 {
        match self.active_since {
            Some(_) => output_bytes(self.bytes_per_second, self.elapsed(now)),
            None => self.last_bytes,
        }
    }

    fn total_frames(&self, now: Instant) -> u32 {
        match self.active_since {
            Some(_) => frames(self.elapsed(now)),
            None => self.last_total_frames,
        }
    }

    fn skipped_frames(&self, now: Instant) -> u32 {
        match self.active_since {
            // A healthy link drops a frame now and then: one every five minutes.
            Some(_) => saturating_u32(self.elapsed(now).as_secs() / 300),
            None => self.last_skipped_frames,
        }
    }

    fn begin_start(&mut self) {
        self.phase = Phase::Starting;
        self.last_bytes = 0;
        self.last_total_frames = 0;
        self.last_skipped_frames = 0;
    }

    fn finish_start(&mut self, now: Instant) {
        self.phase = Phase::Active;
        self.active_since = Some(now);
    }

    fn finish_stop(&mut self, now: Instant) {
        self.last_bytes = self.bytes(now);
        self.last_total_frames = self.total_frames(now);
        self.last_skipped_frames = self.skipped_frames(now);
        self.phase = Phase::Stopped;
        self.active_since = None;
    }

    /// The fields GetStreamStatus and GetRecordStatus share.
    fn status_fields(&self, now: Instant) -> Map<String, Value> {
        // OBS reports duration 0 for an inactive output (NumberHelper::GetOutputDuration).
        let duration = if self.is_active() {
            self.elapsed(now)
        } else {
            Duration::ZERO
        };
        let mut fields = Map::new();
        fields.insert("outputActive".into(), json!(self.is_active()));
        fields.insert("outputTimecode".into(), json!(timecode(duration)));
        fields.insert("outputDuration".into(), json!(duration.as_millis() as u64));
        fields.insert("outputBytes".into(), json!(self.bytes(now)));
        fields
    }
}

/// Bytes an output has sent after `elapsed`: the nominal rate plus a gentle wobble, like a
/// real encoder's bitrate. The wobble's slope stays far below the rate, so bytes never go down.
fn output_bytes(bytes_per_second: f64, elapsed: Duration) -> u64 {
    let t = elapsed.as_secs_f64();
    let wobble =
        |t: f64| bytes_per_second * (0.05 * (0.9 * t).sin() + 0.025 * (2.3 * t + 1.0).sin());
    let bytes = bytes_per_second * t + wobble(t) - wobble(0.0);
    bytes.max(0.0) as u64
}

fn frames(elapsed: Duration) -> u32 {
    saturating_u32((elapsed.as_secs_f64() * FPS) as u64)
}

fn saturating_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// OBS's `HH:MM:SS.mmm` output timecode.
fn timecode(duration: Duration) -> String {
    let millis = duration.as_millis();
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
}

/// A slow, smooth variation in [-1, 1], so numbers move without looking random per call.
fn drift(t: f64, period_seconds: f64, phase: f64) -> f64 {
    (2.0 * PI * t / period_seconds + phase).sin()
}

/// Everything the simulated OBS knows.
#[derive(Debug, Clone)]
pub struct ObsState {
    /// Scenes in the order of OBS's Scenes dock, top first.
    scenes: Vec<Scene>,
    program_scene_uuid: String,
    launched_at: Instant,
    stream: Output,
    record: Output,
    /// Path of the current (or last) recording file.
    record_path: Option<String>,
    /// Bytes of finished recordings, taken off the free disk space.
    recorded_bytes: u64,
    record_paused: bool,
    options: OutputOptions,
    side: SideOutputs,
    sources: Sources,
    studio: Studio,
    /// StartStream requests that arrived while the stream was STARTING. Real OBS answers them
    /// 200 and starts the output again, which crashed OBS 32.2.2: the hub must never send one.
    stream_start_overlaps: u32,
    pub obs_version: String,
    pub websocket_version: String,
}

impl ObsState {
    /// A freshly launched OBS with these scenes (top first); the first is the program scene.
    /// An empty list gets OBS's own default single scene, "Scene".
    pub fn new(
        scene_names: &[String],
        obs_version: &str,
        websocket_version: &str,
        now: Instant,
    ) -> Self {
        let mut scenes: Vec<Scene> = Vec::new();
        for name in scene_names {
            if !scenes.iter().any(|scene| &scene.name == name) {
                scenes.push(Scene {
                    name: name.clone(),
                    uuid: Uuid::new_v4().to_string(),
                });
            }
        }
        if scenes.is_empty() {
            scenes.push(Scene {
                name: "Scene".into(),
                uuid: Uuid::new_v4().to_string(),
            });
        }
        let program_scene_uuid = scenes[0].uuid.clone();
        // The sources live in "Live" when there is one (the default scenes), else in the first.
        let sources_scene = scenes
            .iter()
            .find(|scene| scene.name == "Live")
            .unwrap_or(&scenes[0])
            .name
            .clone();
        ObsState {
            scenes,
            program_scene_uuid,
            launched_at: now,
            stream: Output::new(STREAM_BYTES_PER_SECOND),
            record: Output::new(RECORD_BYTES_PER_SECOND),
            record_path: None,
            recorded_bytes: 0,
            record_paused: false,
            options: OutputOptions::default(),
            side: SideOutputs::new(false, false),
            sources: Sources::new(&sources_scene),
            studio: Studio::default(),
            stream_start_overlaps: 0,
            obs_version: obs_version.to_owned(),
            websocket_version: websocket_version.to_owned(),
        }
    }

    /// This OBS with these optional outputs and features.
    pub fn with_outputs(mut self, options: OutputOptions) -> Self {
        self.options = options;
        self.side = SideOutputs::new(options.replay_buffer, options.virtual_cam);
        self
    }

    pub fn stream_start_overlaps(&self) -> u32 {
        self.stream_start_overlaps
    }

    pub fn is_record_paused(&self) -> bool {
        self.record_paused
    }

    pub fn side_outputs(&self) -> &SideOutputs {
        &self.side
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    pub fn sources_mut(&mut self) -> &mut Sources {
        &mut self.sources
    }

    pub fn studio(&self) -> &Studio {
        &self.studio
    }

    pub(super) fn studio_mut(&mut self) -> &mut Studio {
        &mut self.studio
    }

    /// The scene with this uuid (the program scene if there is none: callers hold known uuids).
    pub(super) fn scene_by_uuid(&self, uuid: &str) -> &Scene {
        self.scenes
            .iter()
            .find(|scene| scene.uuid == uuid)
            .unwrap_or_else(|| self.program_scene())
    }

    pub(super) fn position_by_uuid(&self, uuid: &str) -> usize {
        self.scenes
            .iter()
            .position(|scene| scene.uuid == uuid)
            .unwrap_or(0)
    }

    pub(super) fn scene_uuid_at(&self, position: usize) -> String {
        self.scenes[position].uuid.clone()
    }

    /// StartStream (or ToggleStream starting): while STARTING, real OBS starts again (see
    /// `stream_start_overlaps`); the fake records it and changes nothing else.
    fn request_stream_start(&mut self) -> Result<Outcome, Outcome> {
        if self.stream.phase == Phase::Starting {
            self.stream_start_overlaps += 1;
            return Ok(Outcome::success(None));
        }
        begun(self.start_stream(), status::OUTPUT_RUNNING, None)
    }

    fn record_pause_event(&self, paused: bool) -> ObsEvent {
        let state = if paused {
            "OBS_WEBSOCKET_OUTPUT_PAUSED"
        } else {
            "OBS_WEBSOCKET_OUTPUT_RESUMED"
        };
        self.record_state_event(true, state, false)
    }

    /// obs_frontend_recording_pause: does nothing (and says nothing) when not recording.
    fn set_record_paused(&mut self, paused: bool) -> Vec<ObsEvent> {
        let pausable = !self.options.record_shares_stream_encoder;
        if !self.record.is_active() || self.record_paused == paused || !pausable {
            return Vec::new();
        }
        self.record_paused = paused;
        vec![self.record_pause_event(paused)]
    }

    fn split_record_file(&mut self) -> Result<Outcome, Outcome> {
        if !self.record.is_active() {
            return Err(Outcome::error(status::OUTPUT_NOT_RUNNING, None));
        }
        if !self.options.split_file {
            return Err(Outcome::error(
                status::REQUEST_PROCESSING_FAILED,
                Some("Verify that file splitting is enabled in the output settings.".into()),
            ));
        }
        let file_name = chrono::Local::now().format("%Y-%m-%d %H-%M-%S%.3f");
        let path = format!("{RECORDING_DIRECTORY}/{file_name}.mkv");
        self.record_path = Some(path.clone());
        Ok(Outcome::success(None).with_events(vec![ObsEvent::new(
            "RecordFileChanged",
            intent::OUTPUTS,
            json!({ "newOutputPath": path }),
        )]))
    }

    fn create_record_chapter(
        &mut self,
        data: Option<&Map<String, Value>>,
    ) -> Result<Outcome, Outcome> {
        // obs-websocket's `Contains` treats a null field as absent (obws sends `null` for an
        // unnamed chapter): only a present, non-null value must be a string.
        if let Some(name) = data
            .and_then(|d| d.get("chapterName"))
            .filter(|name| !name.is_null())
        {
            if !name.is_string() {
                return Err(Outcome::error(
                    status::INVALID_REQUEST_FIELD_TYPE,
                    Some("The field value of `chapterName` must be a string.".into()),
                ));
            }
        }
        if !self.record.is_active() {
            return Err(Outcome::error(status::OUTPUT_NOT_RUNNING, None));
        }
        if !self.options.chapter_markers {
            return Err(Outcome::error(
                status::REQUEST_PROCESSING_FAILED,
                Some("Verify that the output being used supports chapter markers.".into()),
            ));
        }
        Ok(Outcome::success(None))
    }

    /// Scene names, top of the Scenes dock first.
    pub fn scene_names(&self) -> Vec<String> {
        self.scenes.iter().map(|scene| scene.name.clone()).collect()
    }

    pub fn program_scene(&self) -> &Scene {
        self.scenes
            .iter()
            .find(|scene| scene.uuid == self.program_scene_uuid)
            // The constructor and every removal keep the program scene in the list.
            .unwrap_or(&self.scenes[0])
    }

    /// Streaming in OBS's sense: from STARTED until STOPPED.
    pub fn is_streaming(&self) -> bool {
        self.stream.is_active()
    }

    pub fn is_recording(&self) -> bool {
        self.record.is_active()
    }

    /// Whether a scene or an input has that name.
    pub(super) fn has_source(&self, name: &str) -> bool {
        self.position_by_name(name).is_some() || self.sources.has_input(name)
    }

    pub(super) fn position_by_name(&self, name: &str) -> Option<usize> {
        self.scenes.iter().position(|scene| scene.name == name)
    }

    /// The scene array of GetSceneList and SceneListChanged. obs-websocket lists scenes bottom
    /// of the dock first, and `sceneIndex` 0 is the bottom scene.
    fn scene_list_json(&self) -> Value {
        self.scenes
            .iter()
            .rev()
            .enumerate()
            .map(|(index, scene)| {
                json!({ "sceneName": scene.name, "sceneUuid": scene.uuid, "sceneIndex": index })
            })
            .collect()
    }

    fn scene_list_changed(&self) -> ObsEvent {
        ObsEvent::new(
            "SceneListChanged",
            intent::SCENES,
            json!({ "scenes": self.scene_list_json() }),
        )
    }

    fn program_scene_changed(&self) -> ObsEvent {
        let scene = self.program_scene();
        ObsEvent::new(
            "CurrentProgramSceneChanged",
            intent::SCENES,
            json!({ "sceneName": scene.name, "sceneUuid": scene.uuid }),
        )
    }

    /// Makes the scene at `position` the program scene. Like clicking the scene that is
    /// already live, choosing the current scene changes nothing and emits nothing.
    pub(super) fn set_program_scene(&mut self, position: usize) -> Vec<ObsEvent> {
        let uuid = self.scenes[position].uuid.clone();
        if uuid == self.program_scene_uuid {
            return Vec::new();
        }
        self.program_scene_uuid = uuid;
        vec![self.program_scene_changed()]
    }

    /// The user clicked a scene in OBS. `None` if there is no scene by that name.
    pub fn switch_scene_by_name(&mut self, name: &str) -> Option<Vec<ObsEvent>> {
        let position = self.position_by_name(name)?;
        Some(self.set_program_scene(position))
    }

    /// Adds a scene at the bottom of the dock, as OBS does. `None` if the name is taken.
    pub fn create_scene(&mut self, name: &str) -> Option<(String, Vec<ObsEvent>)> {
        if self.position_by_name(name).is_some() {
            return None;
        }
        let scene = Scene {
            name: name.to_owned(),
            uuid: Uuid::new_v4().to_string(),
        };
        let created = ObsEvent::new(
            "SceneCreated",
            intent::SCENES,
            json!({ "sceneName": scene.name, "sceneUuid": scene.uuid, "isGroup": false }),
        );
        let uuid = scene.uuid.clone();
        self.scenes.push(scene);
        Some((uuid, vec![created, self.scene_list_changed()]))
    }

    /// Removes the scene at `position`. If it was live, OBS moves the program to the scene
    /// that takes its place in the dock (or the one above when it was the bottom one).
    /// `None` for the last remaining scene: OBS never leaves a collection without one.
    fn remove_scene_at(&mut self, position: usize) -> Option<Vec<ObsEvent>> {
        if self.scenes.len() < 2 {
            return None;
        }
        let removed = self.scenes.remove(position);
        let mut events = vec![ObsEvent::new(
            "SceneRemoved",
            intent::SCENES,
            json!({ "sceneName": removed.name, "sceneUuid": removed.uuid, "isGroup": false }),
        )];
        if removed.uuid == self.program_scene_uuid {
            let next = position.min(self.scenes.len() - 1);
            self.program_scene_uuid = self.scenes[next].uuid.clone();
            events.push(self.program_scene_changed());
        }
        events.push(self.scene_list_changed());
        Some(events)
    }

    /// The user removed a scene in OBS. `None` if there is no such scene or it is the last one.
    pub fn remove_scene_by_name(&mut self, name: &str) -> Option<Vec<ObsEvent>> {
        let position = self.position_by_name(name)?;
        self.remove_scene_at(position)
    }

    fn rename_scene_at(&mut self, position: usize, new_name: &str) -> Vec<ObsEvent> {
        let scene = &mut self.scenes[position];
        let old_name = std::mem::replace(&mut scene.name, new_name.to_owned());
        let renamed = ObsEvent::new(
            "SceneNameChanged",
            intent::SCENES,
            json!({ "sceneUuid": scene.uuid, "oldSceneName": old_name, "sceneName": new_name }),
        );
        vec![renamed, self.scene_list_changed()]
    }

    /// The user renamed a scene in OBS. `None` if `old` does not exist or `new` is taken.
    pub fn rename_scene_by_name(&mut self, old: &str, new: &str) -> Option<Vec<ObsEvent>> {
        let position = self.position_by_name(old)?;
        if self.position_by_name(new).is_some() {
            return None;
        }
        Some(self.rename_scene_at(position, new))
    }

    fn output_state_event(event_type: &str, active: bool, state: &str) -> ObsEvent {
        ObsEvent::new(
            event_type,
            intent::OUTPUTS,
            json!({ "outputActive": active, "outputState": state }),
        )
    }

    fn record_state_event(&self, active: bool, state: &str, with_path: bool) -> ObsEvent {
        let path = if with_path {
            json!(self.record_path)
        } else {
            Value::Null
        };
        ObsEvent::new(
            "RecordStateChanged",
            intent::OUTPUTS,
            json!({ "outputActive": active, "outputState": state, "outputPath": path }),
        )
    }

    /// Starts streaming (STARTING now, STARTED after the follow-up). `None` if not stopped.
    pub fn start_stream(&mut self) -> Option<(Vec<ObsEvent>, FollowUp)> {
        if self.stream.phase != Phase::Stopped {
            return None;
        }
        self.stream.begin_start();
        let starting =
            Self::output_state_event("StreamStateChanged", false, "OBS_WEBSOCKET_OUTPUT_STARTING");
        Some((vec![starting], FollowUp::StreamStarted))
    }

    /// Stops streaming (STOPPING now, STOPPED after the follow-up). `None` if not active.
    pub fn stop_stream(&mut self) -> Option<(Vec<ObsEvent>, FollowUp)> {
        if self.stream.phase != Phase::Active {
            return None;
        }
        self.stream.phase = Phase::Stopping;
        let stopping =
            Self::output_state_event("StreamStateChanged", false, "OBS_WEBSOCKET_OUTPUT_STOPPING");
        Some((vec![stopping], FollowUp::StreamStopped))
    }

    /// Starts recording into a new file named after the current local time, like OBS's
    /// default `%CCYY-%MM-%DD %hh-%mm-%ss` file name format. `None` if not stopped.
    pub fn start_record(&mut self) -> Option<(Vec<ObsEvent>, FollowUp)> {
        if self.record.phase != Phase::Stopped {
            return None;
        }
        self.record.begin_start();
        let file_name = chrono::Local::now().format("%Y-%m-%d %H-%M-%S");
        self.record_path = Some(format!("{RECORDING_DIRECTORY}/{file_name}.mkv"));
        let starting = self.record_state_event(false, "OBS_WEBSOCKET_OUTPUT_STARTING", false);
        Some((vec![starting], FollowUp::RecordStarted))
    }

    /// Stops recording. `None` if not active.
    pub fn stop_record(&mut self) -> Option<(Vec<ObsEvent>, FollowUp)> {
        if self.record.phase != Phase::Active {
            return None;
        }
        self.record.phase = Phase::Stopping;
        let stopping = self.record_state_event(false, "OBS_WEBSOCKET_OUTPUT_STOPPING", false);
        Some((vec![stopping], FollowUp::RecordStopped))
    }

    /// Completes a transition begun earlier. Does nothing if the output has moved on since
    /// (e.g. the follow-up of a start arriving after a state reset).
    pub fn complete(&mut self, follow_up: FollowUp, now: Instant) -> Vec<ObsEvent> {
        match follow_up {
            FollowUp::StreamStarted if self.stream.phase == Phase::Starting => {
                self.stream.finish_start(now);
                vec![Self::output_state_event(
                    "StreamStateChanged",
                    true,
                    "OBS_WEBSOCKET_OUTPUT_STARTED",
                )]
            }
            FollowUp::StreamStopped if self.stream.phase == Phase::Stopping => {
                self.stream.finish_stop(now);
                vec![Self::output_state_event(
                    "StreamStateChanged",
                    false,
                    "OBS_WEBSOCKET_OUTPUT_STOPPED",
                )]
            }
            // obs-websocket 5.x names the file in STARTED and STOPPED, null otherwise.
            FollowUp::RecordStarted if self.record.phase == Phase::Starting => {
                self.record.finish_start(now);
                vec![self.record_state_event(true, "OBS_WEBSOCKET_OUTPUT_STARTED", true)]
            }
            FollowUp::RecordStopped if self.record.phase == Phase::Stopping => {
                self.record.finish_stop(now);
                self.record_paused = false;
                self.recorded_bytes += self.record.last_bytes;
                vec![self.record_state_event(false, "OBS_WEBSOCKET_OUTPUT_STOPPED", true)]
            }
            FollowUp::ReplayStarted | FollowUp::ReplayStopped | FollowUp::ReplaySaved => {
                let file_name = chrono::Local::now().format("%Y-%m-%d %H-%M-%S");
                self.side.complete(follow_up, &file_name.to_string())
            }
            FollowUp::CollectionChanged => self.sources.complete_collection_switch(),
            _ => Vec::new(),
        }
    }

    fn version_json(&self) -> Value {
        json!({
            "obsVersion": self.obs_version,
            "obsWebSocketVersion": self.websocket_version,
            "rpcVersion": RPC_VERSION,
            "availableRequests": all_requests().collect::<Vec<_>>(),
            "supportedImageFormats": SUPPORTED_IMAGE_FORMATS,
            "platform": "debian",
            "platformDescription": "Debian GNU/Linux 13 (trixie)",
        })
    }

    /// GetStats: numbers that drift smoothly with time and rise while outputs run.
    fn stats_json(&self, now: Instant, incoming: u64, outgoing: u64) -> Value {
        let uptime = now.saturating_duration_since(self.launched_at);
        let t = uptime.as_secs_f64();
        let streaming = if self.stream.is_active() { 1.0 } else { 0.0 };
        let recording = if self.record.is_active() { 1.0 } else { 0.0 };

        let cpu_usage = 2.4
            + 0.6 * drift(t, 17.0, 0.0)
            + 0.3 * drift(t, 3.7, 1.3)
            + 4.0 * streaming
            + 3.0 * recording;
        // Memory creeps up slowly over a session, as OBS's does, capped at +60 MB.
        let memory_usage = 412.0
            + (t / 60.0 * 0.4).min(60.0)
            + 3.5 * drift(t, 120.0, 0.4)
            + 35.0 * streaming
            + 20.0 * recording;
        let recording_now = if self.record.is_active() {
            self.record.bytes(now)
        } else {
            0
        };
        let recorded_bytes = self.recorded_bytes + recording_now;
        let available_disk_space = 183_500.0 - recorded_bytes as f64 / 1_048_576.0;
        let active_fps = FPS + 0.02 * drift(t, 2.9, 0.0);
        let average_frame_render_time =
            0.8 + 0.25 * drift(t, 7.9, 0.2) + 0.1 * drift(t, 2.2, 2.0) + 0.3 * streaming;
        let render_total_frames = frames(uptime);
        // A skipped render frame every quarter hour, a lagged output frame every half hour.
        let render_skipped_frames = saturating_u32(uptime.as_secs() / 900);
        let output_skipped_frames = saturating_u32(uptime.as_secs() / 1800);
        let output_total_frames = render_total_frames.saturating_sub(render_skipped_frames);

        json!({
            "cpuUsage": cpu_usage.max(0.1),
            "memoryUsage": memory_usage,
            "availableDiskSpace": available_disk_space.max(0.0),
            "activeFps": active_fps,
            "averageFrameRenderTime": average_frame_render_time,
            "renderSkippedFrames": render_skipped_frames,
            "renderTotalFrames": render_total_frames,
            "outputSkippedFrames": output_skipped_frames,
            "outputTotalFrames": output_total_frames,
            "webSocketSessionIncomingMessages": incoming,
            "webSocketSessionOutgoingMessages": outgoing,
        })
    }

    fn stream_status_json(&self, now: Instant) -> Value {
        let mut fields = self.stream.status_fields(now);
        let congestion = if self.stream.is_active() {
            let t = self.stream.elapsed(now).as_secs_f64();
            (0.01 + 0.01 * drift(t, 11.0, 0.0)).max(0.0)
        } else {
            0.0
        };
        fields.insert("outputReconnecting".into(), json!(false));
        fields.insert("outputCongestion".into(), json!(congestion));
        fields.insert(
            "outputSkippedFrames".into(),
            json!(self.stream.skipped_frames(now)),
        );
        fields.insert(
            "outputTotalFrames".into(),
            json!(self.stream.total_frames(now)),
        );
        Value::Object(fields)
    }

    fn record_status_json(&self, now: Instant) -> Value {
        let mut fields = self.record.status_fields(now);
        fields.insert("outputPaused".into(), json!(self.record_paused));
        Value::Object(fields)
    }
}

/// A required string field, validated with obs-websocket's codes and wording.
pub(super) fn required_string<'a>(
    data: Option<&'a Map<String, Value>>,
    key: &str,
) -> Result<&'a str, Outcome> {
    let Some(data) = data else {
        return Err(Outcome::error(
            status::MISSING_REQUEST_DATA,
            Some("Your request data is missing or invalid (non-object)".into()),
        ));
    };
    match data.get(key) {
        None | Some(Value::Null) => Err(Outcome::error(
            status::MISSING_REQUEST_FIELD,
            Some(format!("Your request is missing the `{key}` field.")),
        )),
        Some(Value::String(s)) if s.is_empty() => Err(Outcome::error(
            status::REQUEST_FIELD_EMPTY,
            Some(format!("The field value of `{key}` must not be empty.")),
        )),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Outcome::error(
            status::INVALID_REQUEST_FIELD_TYPE,
            Some(format!("The field value of `{key}` must be a string.")),
        )),
    }
}

/// A required number field within `[min, max]`.
fn required_number(
    data: Option<&Map<String, Value>>,
    key: &str,
    min: f64,
    max: f64,
) -> Result<f64, Outcome> {
    let Some(data) = data else {
        return Err(Outcome::error(
            status::MISSING_REQUEST_DATA,
            Some("Your request data is missing or invalid (non-object)".into()),
        ));
    };
    let value = match data.get(key) {
        None | Some(Value::Null) => {
            return Err(Outcome::error(
                status::MISSING_REQUEST_FIELD,
                Some(format!("Your request is missing the `{key}` field.")),
            ))
        }
        Some(value) => value.as_f64().ok_or_else(|| {
            Outcome::error(
                status::INVALID_REQUEST_FIELD_TYPE,
                Some(format!("The field value of `{key}` must be a number.")),
            )
        })?,
    };
    if value < min || value > max {
        let bound = if value < min {
            "below the minimum"
        } else {
            "above the maximum"
        };
        let limit = if value < min { min } else { max };
        return Err(Outcome::error(
            status::REQUEST_FIELD_OUT_OF_RANGE,
            Some(format!(
                "The field value of `{key}` is {bound} of `{limit}`"
            )),
        ));
    }
    Ok(value)
}

/// Finds the scene a request names by `sceneUuid` (preferred, as obs-websocket does) or
/// `sceneName`, with obs-websocket 5.5's errors.
pub(super) fn requested_scene(
    state: &ObsState,
    data: Option<&Map<String, Value>>,
) -> Result<usize, Outcome> {
    let field = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_str);
    if let Some(uuid) = field("sceneUuid") {
        return state
            .scenes
            .iter()
            .position(|scene| scene.uuid.eq_ignore_ascii_case(uuid))
            .ok_or_else(|| {
                Outcome::error(
                    status::RESOURCE_NOT_FOUND,
                    Some(format!("No source was found by the UUID of `{uuid}`.")),
                )
            });
    }
    if let Some(name) = field("sceneName") {
        return state.position_by_name(name).ok_or_else(|| {
            Outcome::error(
                status::RESOURCE_NOT_FOUND,
                Some(format!("No source was found by the name of `{name}`.")),
            )
        });
    }
    Err(Outcome::error(
        status::MISSING_REQUEST_FIELD,
        Some(
            "Your request must contain at least one of the following fields: `sceneName` or \
             `sceneUuid`."
                .into(),
        ),
    ))
}

/// The answer to a request that starts or stops an output: success with the transition's
/// events and follow-up, or `refused` (no comment, as obs-websocket sends) if it could not begin.
fn begun(
    transition: Option<(Vec<ObsEvent>, FollowUp)>,
    refused: u16,
    response_data: Option<Value>,
) -> Result<Outcome, Outcome> {
    let (events, follow_up) = transition.ok_or_else(|| Outcome::error(refused, None))?;
    Ok(Outcome {
        follow_up: Some(follow_up),
        ..Outcome::success(response_data).with_events(events)
    })
}

/// Answers one request against `state`, as obs-websocket 5.5 would.
pub fn dispatch(state: &mut ObsState, request: Request<'_>, now: Instant) -> Outcome {
    handle(state, request, now).unwrap_or_else(|error| error)
}

fn handle(state: &mut ObsState, request: Request<'_>, now: Instant) -> Result<Outcome, Outcome> {
    let data = request.data;
    let outcome = match request.request_type {
        "" => Outcome::error(
            status::MISSING_REQUEST_TYPE,
            Some("Your request's `requestType` may not be empty.".into()),
        ),
        "GetVersion" => Outcome::success(Some(state.version_json())),
        "GetStats" => Outcome::success(Some(state.stats_json(
            now,
            request.session_incoming,
            request.session_outgoing,
        ))),
        "BroadcastCustomEvent" => {
            let event_data = data
                .and_then(|d| d.get("eventData"))
                .filter(|value| value.is_object())
                .ok_or_else(|| {
                    Outcome::error(
                        status::MISSING_REQUEST_FIELD,
                        Some("Your request is missing the `eventData` field.".into()),
                    )
                })?;
            Outcome::success(None).with_events(vec![ObsEvent::new(
                "CustomEvent",
                intent::GENERAL,
                event_data.clone(),
            )])
        }
        "Sleep" => {
            // obs-websocket only honours Sleep inside batches; the fake also accepts it alone so
            // tests can hold a response back.
            let has = |key: &str| data.is_some_and(|d| d.get(key).is_some_and(|v| !v.is_null()));
            let delay = if has("sleepFrames") && !has("sleepMillis") {
                let frames = required_number(data, "sleepFrames", 0.0, 10_000.0)?;
                Duration::from_secs_f64(frames / FPS)
            } else {
                let millis = required_number(data, "sleepMillis", 0.0, 50_000.0)?;
                Duration::from_secs_f64(millis / 1000.0)
            };
            Outcome {
                delay: Some(delay),
                ..Outcome::success(None)
            }
        }
        "GetSceneList" => {
            let program = state.program_scene();
            // Outside studio mode OBS reports null preview fields.
            let preview = state
                .studio
                .preview_uuid()
                .map(|uuid| state.scene_by_uuid(uuid));
            Outcome::success(Some(json!({
                "currentProgramSceneName": program.name,
                "currentProgramSceneUuid": program.uuid,
                "currentPreviewSceneName": preview.map(|scene| &scene.name),
                "currentPreviewSceneUuid": preview.map(|scene| &scene.uuid),
                "scenes": state.scene_list_json(),
            })))
        }
        "GetCurrentProgramScene" => {
            let program = state.program_scene();
            Outcome::success(Some(json!({
                "sceneName": program.name,
                "sceneUuid": program.uuid,
                "currentProgramSceneName": program.name,
                "currentProgramSceneUuid": program.uuid,
            })))
        }
        "SetCurrentProgramScene" => {
            let position = requested_scene(state, data)?;
            Outcome::success(None).with_events(state.set_program_scene(position))
        }
        "CreateScene" => {
            let name = required_string(data, "sceneName")?;
            let (uuid, events) = state.create_scene(name).ok_or_else(|| {
                Outcome::error(
                    status::RESOURCE_ALREADY_EXISTS,
                    Some("A source already exists by that scene name.".into()),
                )
            })?;
            Outcome::success(Some(json!({ "sceneUuid": uuid }))).with_events(events)
        }
        "RemoveScene" => {
            let position = requested_scene(state, data)?;
            let events = state.remove_scene_at(position).ok_or_else(|| {
                Outcome::error(
                    status::NOT_ENOUGH_RESOURCES,
                    Some("You cannot remove the last scene in the collection.".into()),
                )
            })?;
            Outcome::success(None).with_events(events)
        }
        "SetSceneName" => {
            let position = requested_scene(state, data)?;
            let new_name = required_string(data, "newSceneName")?;
            // Renaming a scene to its own name also fails in OBS: the name is taken (by itself).
            if state.position_by_name(new_name).is_some() {
                return Err(Outcome::error(
                    status::RESOURCE_ALREADY_EXISTS,
                    Some("A source already exists by that new scene name.".into()),
                ));
            }
            Outcome::success(None).with_events(state.rename_scene_at(position, new_name))
        }
        "GetStreamStatus" => Outcome::success(Some(state.stream_status_json(now))),
        "StartStream" => state.request_stream_start()?,
        "StopStream" => begun(state.stop_stream(), status::OUTPUT_NOT_RUNNING, None)?,
        "ToggleStream" => {
            let starting = !state.stream.is_active();
            let response = json!({ "outputActive": starting });
            let outcome = if starting {
                state.request_stream_start()?
            } else {
                // A stream caught stopping cannot be toggled.
                begun(state.stop_stream(), status::OUTPUT_RUNNING, None)?
            };
            Outcome {
                response_data: Some(response),
                ..outcome
            }
        }
        "GetRecordStatus" => Outcome::success(Some(state.record_status_json(now))),
        "StartRecord" => begun(state.start_record(), status::OUTPUT_RUNNING, None)?,
        "StopRecord" => {
            let transition = state.stop_record();
            let response = json!({ "outputPath": state.record_path });
            begun(transition, status::OUTPUT_NOT_RUNNING, Some(response))?
        }
        "ToggleRecord" => {
            let starting = !state.record.is_active();
            let transition = if starting {
                state.start_record()
            } else {
                state.stop_record()
            };
            let response = json!({ "outputActive": starting });
            begun(transition, status::OUTPUT_RUNNING, Some(response))?
        }
        "PauseRecord" => {
            if state.record_paused {
                return Err(Outcome::error(status::OUTPUT_PAUSED, None));
            }
            Outcome::success(None).with_events(state.set_record_paused(true))
        }
        "ResumeRecord" => {
            if !state.record_paused {
                return Err(Outcome::error(status::OUTPUT_NOT_PAUSED, None));
            }
            Outcome::success(None).with_events(state.set_record_paused(false))
        }
        "ToggleRecordPause" => {
            let pausing = !state.record_paused;
            Outcome::success(Some(json!({ "outputPaused": pausing })))
                .with_events(state.set_record_paused(pausing))
        }
        "SplitRecordFile" => state.split_record_file()?,
        "CreateRecordChapter" => state.create_record_chapter(data)?,
        other if sources::REQUESTS.contains(&other) => {
            let scenes = state.scene_names();
            state
                .sources
                .dispatch(other, data, &scenes)
                .unwrap_or_else(|| Err(Outcome::error(status::UNKNOWN_REQUEST_TYPE, None)))?
        }
        other if side_outputs::REQUESTS.contains(&other) => state
            .side
            .dispatch(other)
            .unwrap_or_else(|| Err(Outcome::error(status::UNKNOWN_REQUEST_TYPE, None)))?,
        other if studio::REQUESTS.contains(&other) => studio::dispatch(state, other, data)
            .unwrap_or_else(|| Err(Outcome::error(status::UNKNOWN_REQUEST_TYPE, None)))?,
        "GetSourceScreenshot" => pictures::screenshot(state, data)?,
        _ => Outcome::error(
            status::UNKNOWN_REQUEST_TYPE,
            Some("Your request type is not valid.".into()),
        ),
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(now: Instant) -> ObsState {
        let names: Vec<String> = ["Scene", "Live", "BRB"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        ObsState::new(&names, "30.2.3", "5.5.2", now)
    }

    fn request<'a>(request_type: &'a str, data: Option<&'a Map<String, Value>>) -> Request<'a> {
        Request {
            request_type,
            data,
            session_incoming: 3,
            session_outgoing: 4,
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn event_types(outcome: &Outcome) -> Vec<&str> {
        outcome
            .events
            .iter()
            .map(|e| e.event_type.as_str())
            .collect()
    }

    #[test]
    fn scene_list_is_bottom_first_with_index_zero_at_the_bottom() {
        let now = Instant::now();
        let mut obs = state(now);
        let list = dispatch(&mut obs, request("GetSceneList", None), now);
        let data = list.response_data.expect("data");
        assert_eq!(data["currentProgramSceneName"], "Scene");
        assert!(data["currentPreviewSceneName"].is_null());
        let scenes = data["scenes"].as_array().expect("array");
        let names: Vec<&str> = scenes
            .iter()
            .filter_map(|s| s["sceneName"].as_str())
            .collect();
        assert_eq!(names, ["BRB", "Live", "Scene"]);
        assert_eq!(scenes[0]["sceneIndex"], 0);
        assert_eq!(scenes[2]["sceneIndex"], 2);
        assert!(Uuid::parse_str(scenes[0]["sceneUuid"].as_str().expect("uuid")).is_ok());
    }

    #[test]
    fn switching_scenes_by_name_and_uuid() {
        let now = Instant::now();
        let mut obs = state(now);
        let data = object(json!({"sceneName": "Live"}));
        let outcome = dispatch(
            &mut obs,
            request("SetCurrentProgramScene", Some(&data)),
            now,
        );
        assert_eq!(outcome.code, status::SUCCESS);
        assert_eq!(event_types(&outcome), ["CurrentProgramSceneChanged"]);
        assert_eq!(outcome.events[0].intent, intent::SCENES);
        assert_eq!(obs.program_scene().name, "Live");

        let same = dispatch(
            &mut obs,
            request("SetCurrentProgramScene", Some(&data)),
            now,
        );
        assert!(same.events.is_empty(), "no event when nothing changes");

        let brb_uuid = obs.scenes[2].uuid.to_uppercase();
        let by_uuid = object(json!({"sceneUuid": brb_uuid}));
        dispatch(
            &mut obs,
            request("SetCurrentProgramScene", Some(&by_uuid)),
            now,
        );
        assert_eq!(obs.program_scene().name, "BRB");

        let missing = object(json!({"sceneName": "Nope"}));
        let error = dispatch(
            &mut obs,
            request("SetCurrentProgramScene", Some(&missing)),
            now,
        );
        assert_eq!(error.code, status::RESOURCE_NOT_FOUND);
        assert_eq!(
            error.comment.as_deref(),
            Some("No source was found by the name of `Nope`.")
        );
        let neither = dispatch(&mut obs, request("SetCurrentProgramScene", None), now);
        assert_eq!(neither.code, status::MISSING_REQUEST_FIELD);
    }

    #[test]
    fn create_rename_remove_emit_obs_events() {
        let now = Instant::now();
        let mut obs = state(now);
        let create = object(json!({"sceneName": "Intro"}));
        let created = dispatch(&mut obs, request("CreateScene", Some(&create)), now);
        assert_eq!(event_types(&created), ["SceneCreated", "SceneListChanged"]);
        assert_eq!(obs.scene_names(), ["Scene", "Live", "BRB", "Intro"]);
        let again = dispatch(&mut obs, request("CreateScene", Some(&create)), now);
        assert_eq!(again.code, status::RESOURCE_ALREADY_EXISTS);

        let rename = object(json!({"sceneName": "Intro", "newSceneName": "Opening"}));
        let renamed = dispatch(&mut obs, request("SetSceneName", Some(&rename)), now);
        assert_eq!(
            event_types(&renamed),
            ["SceneNameChanged", "SceneListChanged"]
        );
        assert_eq!(
            renamed.events[0].data.as_ref().expect("data")["oldSceneName"],
            "Intro"
        );

        // Removing the live scene moves the program to the scene that takes its place.
        let remove = object(json!({"sceneName": "Scene"}));
        let removed = dispatch(&mut obs, request("RemoveScene", Some(&remove)), now);
        assert_eq!(
            event_types(&removed),
            [
                "SceneRemoved",
                "CurrentProgramSceneChanged",
                "SceneListChanged"
            ]
        );
        assert_eq!(obs.program_scene().name, "Live");

        let missing_field = dispatch(
            &mut obs,
            request("CreateScene", Some(&object(json!({})))),
            now,
        );
        assert_eq!(missing_field.code, status::MISSING_REQUEST_FIELD);
        assert_eq!(
            missing_field.comment.as_deref(),
            Some("Your request is missing the `sceneName` field.")
        );
        let wrong_type = object(json!({"sceneName": 5}));
        let wrong = dispatch(&mut obs, request("CreateScene", Some(&wrong_type)), now);
        assert_eq!(wrong.code, status::INVALID_REQUEST_FIELD_TYPE);
    }

    #[test]
    fn the_last_scene_cannot_be_removed() {
        let now = Instant::now();
        let mut obs = ObsState::new(&[], "30.2.3", "5.5.2", now);
        assert_eq!(obs.scene_names(), ["Scene"]);
        assert!(obs.remove_scene_by_name("Scene").is_none());
    }

    #[test]
    fn stream_lifecycle_and_growing_bytes() {
        let start = Instant::now();
        let mut obs = state(start);
        let stop_idle = dispatch(&mut obs, request("StopStream", None), start);
        assert_eq!(stop_idle.code, status::OUTPUT_NOT_RUNNING);

        let started = dispatch(&mut obs, request("StartStream", None), start);
        assert_eq!(started.code, status::SUCCESS);
        assert_eq!(started.follow_up, Some(FollowUp::StreamStarted));
        assert_eq!(
            started.events[0].data.as_ref().expect("data")["outputState"],
            "OBS_WEBSOCKET_OUTPUT_STARTING"
        );
        assert!(!obs.is_streaming(), "not active until STARTED");
        // Like obs-websocket (the output is not "active" yet), a second start is accepted and
        // recorded as the overlap that crashed OBS 32.2.2.
        let overlapping = dispatch(&mut obs, request("StartStream", None), start);
        assert_eq!(overlapping.code, status::SUCCESS);
        assert_eq!(overlapping.follow_up, None);
        assert_eq!(obs.stream_start_overlaps(), 1);

        let events = obs.complete(FollowUp::StreamStarted, start);
        assert_eq!(events[0].data.as_ref().expect("data")["outputActive"], true);
        assert!(obs.is_streaming());

        let status_at = |obs: &mut ObsState, secs: u64| {
            let at = start + Duration::from_secs(secs);
            dispatch(obs, request("GetStreamStatus", None), at)
                .response_data
                .expect("data")
        };
        let ten = status_at(&mut obs, 10);
        let twenty = status_at(&mut obs, 20);
        assert_eq!(ten["outputActive"], true);
        assert_eq!(ten["outputTimecode"], "00:00:10.000");
        assert_eq!(ten["outputDuration"], 10_000);
        assert_eq!(ten["outputTotalFrames"], 300);
        let bytes_ten = ten["outputBytes"].as_u64().expect("bytes");
        let bytes_twenty = twenty["outputBytes"].as_u64().expect("bytes");
        let kbits = (bytes_twenty - bytes_ten) as f64 * 8.0 / 10.0 / 1000.0;
        assert!((5000.0..7000.0).contains(&kbits), "{kbits} kbit/s");

        let stopping = dispatch(
            &mut obs,
            request("StopStream", None),
            start + Duration::from_secs(20),
        );
        assert_eq!(stopping.follow_up, Some(FollowUp::StreamStopped));
        obs.complete(FollowUp::StreamStopped, start + Duration::from_secs(20));
        let after = status_at(&mut obs, 30);
        assert_eq!(after["outputActive"], false);
        assert_eq!(after["outputDuration"], 0);
        assert_eq!(
            after["outputBytes"].as_u64(),
            Some(bytes_twenty),
            "last totals kept"
        );
    }

    #[test]
    fn toggles_report_the_new_state_and_refuse_half_way() {
        let now = Instant::now();
        let mut obs = state(now);
        let on = dispatch(&mut obs, request("ToggleStream", None), now);
        assert_eq!(on.response_data, Some(json!({ "outputActive": true })));
        assert_eq!(on.follow_up, Some(FollowUp::StreamStarted));
        let starting = dispatch(&mut obs, request("ToggleStream", None), now);
        assert_eq!(
            starting.response_data,
            Some(json!({ "outputActive": true }))
        );
        assert_eq!(
            obs.stream_start_overlaps(),
            1,
            "toggled while starting: starts again"
        );
        obs.complete(FollowUp::StreamStarted, now);
        obs.stop_stream();
        let stopping = dispatch(&mut obs, request("ToggleStream", None), now);
        assert_eq!(
            stopping.code,
            status::OUTPUT_RUNNING,
            "a stream stopping cannot toggle"
        );
        obs.complete(FollowUp::StreamStopped, now);
        dispatch(&mut obs, request("StartStream", None), now);
        obs.complete(FollowUp::StreamStarted, now);
        let off = dispatch(&mut obs, request("ToggleStream", None), now);
        assert_eq!(off.response_data, Some(json!({ "outputActive": false })));
        assert_eq!(off.follow_up, Some(FollowUp::StreamStopped));
    }

    #[test]
    fn bytes_never_go_backwards() {
        let mut previous = 0;
        for tenth in 0..3000 {
            let bytes = output_bytes(STREAM_BYTES_PER_SECOND, Duration::from_millis(tenth * 100));
            assert!(bytes >= previous, "bytes went down at {tenth}");
            previous = bytes;
        }
    }

    #[test]
    fn record_reports_its_path() {
        let now = Instant::now();
        let mut obs = state(now);
        dispatch(&mut obs, request("StartRecord", None), now);
        let started = obs.complete(FollowUp::RecordStarted, now);
        let path = started[0].data.as_ref().expect("data")["outputPath"]
            .as_str()
            .expect("path")
            .to_owned();
        assert!(
            path.starts_with("/home/x/") && path.ends_with(".mkv"),
            "{path}"
        );
        let stopped = dispatch(&mut obs, request("StopRecord", None), now);
        assert_eq!(
            stopped.response_data.expect("data")["outputPath"],
            path.as_str()
        );
        assert_eq!(
            stopped.events[0].data.as_ref().expect("data")["outputPath"],
            Value::Null
        );
    }

    #[test]
    fn stats_move_with_time() {
        let start = Instant::now();
        let mut obs = state(start);
        let at = |obs: &mut ObsState, secs: u64| {
            dispatch(
                obs,
                request("GetStats", None),
                start + Duration::from_secs(secs),
            )
            .response_data
            .expect("data")
        };
        let a = at(&mut obs, 5);
        let b = at(&mut obs, 65);
        assert_eq!(a["renderTotalFrames"], 150);
        assert_eq!(b["renderTotalFrames"], 1950);
        assert_ne!(a["cpuUsage"], b["cpuUsage"]);
        let fps = b["activeFps"].as_f64().expect("fps");
        assert!((29.9..30.1).contains(&fps));
        assert_eq!(a["webSocketSessionIncomingMessages"], 3);
    }

    #[test]
    fn every_advertised_request_is_handled_and_others_are_not() {
        let now = Instant::now();
        for request_type in all_requests() {
            let mut obs = state(now);
            let outcome = dispatch(&mut obs, request(request_type, None), now);
            assert_ne!(outcome.code, status::UNKNOWN_REQUEST_TYPE, "{request_type}");
        }
        let mut obs = state(now);
        let unknown = dispatch(&mut obs, request("NotARealRequest", None), now);
        assert_eq!(unknown.code, status::UNKNOWN_REQUEST_TYPE);
        assert_eq!(
            unknown.comment.as_deref(),
            Some("Your request type is not valid.")
        );
    }

    #[test]
    fn sleep_validates_its_range() {
        let now = Instant::now();
        let mut obs = state(now);
        let ok = object(json!({"sleepMillis": 250}));
        let outcome = dispatch(&mut obs, request("Sleep", Some(&ok)), now);
        assert_eq!(outcome.delay, Some(Duration::from_millis(250)));
        let too_long = object(json!({"sleepMillis": 60_000}));
        let outcome = dispatch(&mut obs, request("Sleep", Some(&too_long)), now);
        assert_eq!(outcome.code, status::REQUEST_FIELD_OUT_OF_RANGE);
    }

    #[test]
    fn record_pause_resume_split_and_chapter_follow_obs() {
        let now = Instant::now();
        let mut obs = state(now).with_outputs(OutputOptions {
            split_file: true,
            ..OutputOptions::default()
        });
        // obs-websocket 5.5 pauses nothing, and says success, when not recording.
        let idle = dispatch(&mut obs, request("PauseRecord", None), now);
        assert_eq!((idle.code, idle.events.len()), (status::SUCCESS, 0));
        assert_eq!(
            dispatch(&mut obs, request("SplitRecordFile", None), now).code,
            status::OUTPUT_NOT_RUNNING
        );
        dispatch(&mut obs, request("StartRecord", None), now);
        obs.complete(FollowUp::RecordStarted, now);
        let paused = dispatch(&mut obs, request("PauseRecord", None), now);
        assert_eq!(
            paused.events[0].data.as_ref().expect("data")["outputState"],
            "OBS_WEBSOCKET_OUTPUT_PAUSED"
        );
        assert_eq!(
            dispatch(&mut obs, request("PauseRecord", None), now).code,
            status::OUTPUT_PAUSED
        );
        let status_now = dispatch(&mut obs, request("GetRecordStatus", None), now);
        assert_eq!(
            status_now.response_data.expect("data")["outputPaused"],
            true
        );
        let toggled = dispatch(&mut obs, request("ToggleRecordPause", None), now);
        assert_eq!(
            toggled.response_data,
            Some(json!({ "outputPaused": false }))
        );
        assert_eq!(
            dispatch(&mut obs, request("ResumeRecord", None), now).code,
            status::OUTPUT_NOT_PAUSED
        );
        let split = dispatch(&mut obs, request("SplitRecordFile", None), now);
        assert_eq!(event_types(&split), ["RecordFileChanged"]);
        let chapter = dispatch(&mut obs, request("CreateRecordChapter", None), now);
        assert_eq!(chapter.code, status::REQUEST_PROCESSING_FAILED);
        assert_eq!(
            chapter.comment.as_deref(),
            Some("Verify that the output being used supports chapter markers.")
        );
        let bad_name = object(json!({"chapterName": 3}));
        let bad = dispatch(
            &mut obs,
            request("CreateRecordChapter", Some(&bad_name)),
            now,
        );
        assert_eq!(bad.code, status::INVALID_REQUEST_FIELD_TYPE);
        let null_name = object(json!({"chapterName": null}));
        let unnamed = dispatch(
            &mut obs,
            request("CreateRecordChapter", Some(&null_name)),
            now,
        );
        assert_eq!(
            unnamed.code,
            status::REQUEST_PROCESSING_FAILED,
            "null is no name, as in obs-websocket"
        );

        let mut without_split = state(now);
        dispatch(&mut without_split, request("StartRecord", None), now);
        without_split.complete(FollowUp::RecordStarted, now);
        let refused = dispatch(&mut without_split, request("SplitRecordFile", None), now);
        assert_eq!(refused.code, status::REQUEST_PROCESSING_FAILED);
        assert_eq!(
            refused.comment.as_deref(),
            Some("Verify that file splitting is enabled in the output settings.")
        );
    }

    #[test]
    fn timecode_format() {
        assert_eq!(timecode(Duration::from_millis(3_723_004)), "01:02:03.004");
    }
}
