//! The Stream and Record categories: the two outputs' phases (STARTING, STARTED, STOPPING,
//! STOPPED), the counters GetStreamStatus and GetRecordStatus report, pausing, splitting and
//! chapters, with the events OBS emits for each.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{
    general::drift, FollowUp, ObsEvent, ObsState, Outcome, Request, FPS, RECORDING_DIRECTORY,
};
use crate::fake_obs::protocol::{intent, status};

/// Stream output rate: 6000 kbit/s, a common Twitch/YouTube 1080p30 setting.
pub(super) const STREAM_BYTES_PER_SECOND: f64 = 6_000_000.0 / 8.0;
/// Record output rate: 2500 kbit/s, close to OBS's simple-mode "High Quality" default.
pub(super) const RECORD_BYTES_PER_SECOND: f64 = 2_500_000.0 / 8.0;
pub(super) const REQUESTS: &[&str] = &[
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

/// Answers one of [`REQUESTS`] (see `super::CATEGORIES`).
pub(super) fn answer(
    state: &mut ObsState,
    request: &Request<'_>,
    now: Instant,
) -> Result<Outcome, Outcome> {
    Ok(match request.request_type {
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
        "CreateRecordChapter" => state.create_record_chapter(request.data)?,
        _ => Outcome::error(status::UNKNOWN_REQUEST_TYPE, None),
    })
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Stopped,
    Starting,
    Active,
    Stopping,
}

/// The stream or record output: its phase and the counters GetStreamStatus/GetRecordStatus show.
#[derive(Debug, Clone)]
pub(super) struct Output {
    pub(super) phase: Phase,
    /// When the output reached STARTED; `None` while stopped or starting.
    pub(super) active_since: Option<Instant>,
    pub(super) bytes_per_second: f64,
    /// Since a test set the rate (`set_stream_bitrate`): when, and the bytes sent by then; the
    /// bytes grow steadily at the new rate from there.
    rate_set: Option<(Instant, u64)>,
    /// Totals of the last session: OBS keeps reporting them after the output stops.
    pub(super) last_bytes: u64,
    pub(super) last_total_frames: u32,
    pub(super) last_skipped_frames: u32,
}

impl Output {
    pub(super) fn new(bytes_per_second: f64) -> Self {
        Output {
            phase: Phase::Stopped,
            active_since: None,
            bytes_per_second,
            rate_set: None,
            last_bytes: 0,
            last_total_frames: 0,
            last_skipped_frames: 0,
        }
    }

    /// Active in OBS's sense (`obs_output_active`): started and not yet fully stopped.
    pub(super) fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active | Phase::Stopping)
    }

    pub(super) fn elapsed(&self, now: Instant) -> Duration {
        self.active_since
            .map(|since| now.saturating_duration_since(since))
            .unwrap_or_default()
    }

    pub(super) fn bytes(&self, now: Instant) -> u64 {
        match (self.active_since, self.rate_set) {
            (Some(_), Some((at, bytes))) => {
                let since = now.saturating_duration_since(at).as_secs_f64();
                bytes + (self.bytes_per_second * since) as u64
            }
            (Some(_), None) => output_bytes(self.bytes_per_second, self.elapsed(now)),
            (None, _) => self.last_bytes,
        }
    }

    /// Sends `bytes_per_second` from `now` on (a test's bitrate drop or recovery).
    pub(super) fn set_rate(&mut self, now: Instant, bytes_per_second: f64) {
        self.rate_set = Some((now, self.bytes(now)));
        self.bytes_per_second = bytes_per_second;
    }

    pub(super) fn total_frames(&self, now: Instant) -> u32 {
        match self.active_since {
            Some(_) => frames(self.elapsed(now)),
            None => self.last_total_frames,
        }
    }

    pub(super) fn skipped_frames(&self, now: Instant) -> u32 {
        match self.active_since {
            // A healthy link drops a frame now and then: one every five minutes.
            Some(_) => saturating_u32(self.elapsed(now).as_secs() / 300),
            None => self.last_skipped_frames,
        }
    }

    pub(super) fn begin_start(&mut self) {
        self.phase = Phase::Starting;
        self.last_bytes = 0;
        self.last_total_frames = 0;
        self.last_skipped_frames = 0;
    }

    pub(super) fn finish_start(&mut self, now: Instant) {
        self.phase = Phase::Active;
        self.active_since = Some(now);
        if self.rate_set.is_some() {
            self.rate_set = Some((now, 0));
        }
    }

    pub(super) fn finish_stop(&mut self, now: Instant) {
        self.last_bytes = self.bytes(now);
        self.last_total_frames = self.total_frames(now);
        self.last_skipped_frames = self.skipped_frames(now);
        self.phase = Phase::Stopped;
        self.active_since = None;
    }

    /// The fields GetStreamStatus and GetRecordStatus share.
    pub(super) fn status_fields(&self, now: Instant) -> Map<String, Value> {
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
pub(super) fn output_bytes(bytes_per_second: f64, elapsed: Duration) -> u64 {
    let t = elapsed.as_secs_f64();
    let wobble =
        |t: f64| bytes_per_second * (0.05 * (0.9 * t).sin() + 0.025 * (2.3 * t + 1.0).sin());
    let bytes = bytes_per_second * t + wobble(t) - wobble(0.0);
    bytes.max(0.0) as u64
}

pub(super) fn frames(elapsed: Duration) -> u32 {
    saturating_u32((elapsed.as_secs_f64() * FPS) as u64)
}

pub(super) fn saturating_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// OBS's `HH:MM:SS.mmm` output timecode.
pub(super) fn timecode(duration: Duration) -> String {
    let millis = duration.as_millis();
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
}

impl ObsState {
    /// StartStream (or ToggleStream starting): while STARTING, real OBS starts again (see
    /// `stream_start_overlaps`); the fake records it and changes nothing else.
    pub(super) fn request_stream_start(&mut self) -> Result<Outcome, Outcome> {
        if self.stream.phase == Phase::Starting {
            self.stream_start_overlaps += 1;
            return Ok(Outcome::success(None));
        }
        begun(self.start_stream(), status::OUTPUT_RUNNING, None)
    }
    pub(super) fn record_pause_event(&self, paused: bool) -> ObsEvent {
        let state = if paused {
            "OBS_WEBSOCKET_OUTPUT_PAUSED"
        } else {
            "OBS_WEBSOCKET_OUTPUT_RESUMED"
        };
        self.record_state_event(true, state, false)
    }
    /// obs_frontend_recording_pause: does nothing (and says nothing) when not recording.
    pub(super) fn set_record_paused(&mut self, paused: bool) -> Vec<ObsEvent> {
        let pausable = !self.options.record_shares_stream_encoder;
        if !self.record.is_active() || self.record_paused == paused || !pausable {
            return Vec::new();
        }
        self.record_paused = paused;
        vec![self.record_pause_event(paused)]
    }
    pub(super) fn split_record_file(&mut self) -> Result<Outcome, Outcome> {
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
    pub(super) fn create_record_chapter(
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
    /// Streaming in OBS's sense: from STARTED until STOPPED.
    pub fn is_streaming(&self) -> bool {
        self.stream.is_active()
    }
    /// The stream sends `kbits_per_sec` from now on (what GetStreamStatus's bytes show).
    pub fn set_stream_bitrate(&mut self, now: Instant, kbits_per_sec: f64) {
        self.stream.set_rate(now, kbits_per_sec * 1000.0 / 8.0);
    }
    pub fn is_recording(&self) -> bool {
        self.record.is_active()
    }
    pub(super) fn output_state_event(event_type: &str, active: bool, state: &str) -> ObsEvent {
        ObsEvent::new(
            event_type,
            intent::OUTPUTS,
            json!({ "outputActive": active, "outputState": state }),
        )
    }
    pub(super) fn record_state_event(
        &self,
        active: bool,
        state: &str,
        with_path: bool,
    ) -> ObsEvent {
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
    pub(super) fn stream_status_json(&self, now: Instant) -> Value {
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
    pub(super) fn record_status_json(&self, now: Instant) -> Value {
        let mut fields = self.record.status_fields(now);
        fields.insert("outputPaused".into(), json!(self.record_paused));
        Value::Object(fields)
    }
}
