//! The General category: GetVersion, GetStats (numbers that drift with time), custom events
//! and Sleep.

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::{
    all_requests,
    stream_record::{frames, saturating_u32},
    ObsEvent, ObsState, Outcome, Request, FPS, SUPPORTED_IMAGE_FORMATS,
};
use crate::fake_obs::protocol::{intent, status, RPC_VERSION};

pub(super) const REQUESTS: &[&str] = &["GetVersion", "GetStats", "BroadcastCustomEvent", "Sleep"];

/// Answers one of [`REQUESTS`] (see `super::CATEGORIES`).
pub(super) fn answer(
    state: &mut ObsState,
    request: &Request<'_>,
    now: Instant,
) -> Result<Outcome, Outcome> {
    let data = request.data;
    Ok(match request.request_type {
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
        _ => Outcome::error(status::UNKNOWN_REQUEST_TYPE, None),
    })
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

/// A slow, smooth variation in [-1, 1], so numbers move without looking random per call.
pub(super) fn drift(t: f64, period_seconds: f64, phase: f64) -> f64 {
    (2.0 * PI * t / period_seconds + phase).sin()
}

impl ObsState {
    pub(super) fn version_json(&self) -> Value {
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
    pub(super) fn stats_json(&self, now: Instant, incoming: u64, outgoing: u64) -> Value {
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
}
