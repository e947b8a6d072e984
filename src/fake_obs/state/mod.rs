//! The simulated OBS itself, and `dispatch`, which answers one request against it. Requests
//! are answered per protocol category, as obws groups them: [`general`] (version, stats, Sleep),
//! [`scenes`], [`stream_record`] (the stream and record outputs), and the sibling modules
//! `outputs` (replay buffer, virtual camera), `sources`, `studio` (the UI category) and
//! `pictures`. Nothing here touches the network or the clock on its own: callers pass `now`,
//! so all of it is unit-testable.
//!
//! State changes hand back the events OBS would emit, in OBS's order; the server broadcasts them.

mod general;
mod scenes;
mod stream_record;

use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use uuid::Uuid;

pub(super) use self::scenes::requested_scene;
use self::stream_record::{Output, Phase, RECORD_BYTES_PER_SECOND, STREAM_BYTES_PER_SECOND};
use super::audio::{self, Audio};
use super::outputs::{self as side_outputs, SideOutputs};
use super::pictures;
use super::protocol::status;
use super::sources::{self, Sources};
use super::studio::{self, Studio};

/// How long an output sits in STARTING/STOPPING before it is STARTED/STOPPED.
/// Real OBS takes from a few ms (recording) to a second or two (RTMP connect).
pub const OUTPUT_TRANSITION_DELAY: Duration = Duration::from_millis(100);

/// Where recordings "land"; OBS's default recording path on Linux is the home directory,
/// and the OBS-in-chroot setup in OBS-NOTES.md uses HOME=/home/x.
pub(super) const RECORDING_DIRECTORY: &str = "/home/x";

/// OBS's default video settings render at 30 fps.
pub(super) const FPS: f64 = 30.0;

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

/// How a category answers one of its requests.
type Answer = fn(&mut ObsState, &Request<'_>, Instant) -> Result<Outcome, Outcome>;

/// The categories that answer against the whole state, with their requests, in the order
/// GetVersion lists them (the others keep their own state: see [`handle`]).
const CATEGORIES: [(&[&str], Answer); 3] = [
    (general::REQUESTS, general::answer),
    (scenes::REQUESTS, scenes::answer),
    (stream_record::REQUESTS, stream_record::answer),
];

/// Every request this fake answers.
pub fn all_requests() -> impl Iterator<Item = &'static str> {
    CATEGORIES
        .iter()
        .flat_map(|(requests, _)| requests.iter())
        .chain(side_outputs::REQUESTS)
        .chain(sources::REQUESTS)
        .chain(studio::REQUESTS)
        .chain(audio::REQUESTS)
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

    /// The types of the events, in order (what tests compare).
    #[cfg(test)]
    pub(super) fn event_types(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|event| event.event_type.as_str())
            .collect()
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
    audio: Audio,
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
            audio: Audio::default(),
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

    pub fn audio(&self) -> &Audio {
        &self.audio
    }

    pub(super) fn audio_mut(&mut self) -> &mut Audio {
        &mut self.audio
    }

    /// Whether a scene or an input has that name.
    pub(super) fn has_source(&self, name: &str) -> bool {
        self.position_by_name(name).is_some() || self.sources.has_input(name)
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

/// Answers one request against `state`, as obs-websocket 5.5 would.
pub fn dispatch(state: &mut ObsState, request: Request<'_>, now: Instant) -> Outcome {
    handle(state, request, now).unwrap_or_else(|error| error)
}

/// Hands the request to the category that answers it.
fn handle(state: &mut ObsState, request: Request<'_>, now: Instant) -> Result<Outcome, Outcome> {
    let (request_type, data) = (request.request_type, request.data);
    if request_type.is_empty() {
        return Ok(Outcome::error(
            status::MISSING_REQUEST_TYPE,
            Some("Your request's `requestType` may not be empty.".into()),
        ));
    }
    if let Some((_, answer)) = CATEGORIES
        .iter()
        .find(|(requests, _)| requests.contains(&request_type))
    {
        return answer(state, &request, now);
    }
    let unknown = || Err(Outcome::error(status::UNKNOWN_REQUEST_TYPE, None));
    match request_type {
        other if sources::REQUESTS.contains(&other) => {
            let scenes = state.scene_names();
            state
                .sources
                .dispatch(other, data, &scenes)
                .unwrap_or_else(unknown)
        }
        other if side_outputs::REQUESTS.contains(&other) => {
            state.side.dispatch(other).unwrap_or_else(unknown)
        }
        other if studio::REQUESTS.contains(&other) => studio::answer(state, other, data),
        other if audio::REQUESTS.contains(&other) => audio::answer(state, other, data),
        "GetSourceScreenshot" => pictures::screenshot(state, data),
        _ => Ok(Outcome::error(
            status::UNKNOWN_REQUEST_TYPE,
            Some("Your request type is not valid.".into()),
        )),
    }
}

#[cfg(test)]
mod tests;
