//! The simulated audio mixer: mute, volume, balance, sync offset, monitoring and tracks of the
//! inputs that have audio, with obs-websocket 5.5's requests, events, codes and comments
//! (RequestHandler_Inputs.cpp). The media input "Intro clip" has audio, as an `ffmpeg_source`
//! does in OBS; the other inputs of the fake have none (604, as OBS answers for them).

use serde_json::{json, Map, Value};

use super::protocol::{intent, status};
use super::sources::uuid_of;
use super::state::{required_string, ObsEvent, ObsState, Outcome};

/// The requests answered here.
pub const REQUESTS: &[&str] = &[
    "GetInputMute",
    "SetInputMute",
    "ToggleInputMute",
    "GetInputVolume",
    "SetInputVolume",
    "GetInputAudioBalance",
    "SetInputAudioBalance",
    "GetInputAudioSyncOffset",
    "GetInputAudioMonitorType",
    "GetInputAudioTracks",
];

/// One input's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct InputAudio {
    pub name: String,
    pub muted: bool,
    pub mul: f64,
    pub balance: f64,
    pub sync_offset_ms: i64,
    pub monitor_type: &'static str,
    pub tracks: [bool; 6],
}

impl InputAudio {
    /// A new input as OBS makes one: unmuted at 0 dB, centred, not monitored, on track 1.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            muted: false,
            mul: 1.0,
            balance: 0.5,
            sync_offset_ms: 0,
            monitor_type: "OBS_MONITORING_TYPE_NONE",
            tracks: [true, false, false, false, false, false],
        }
    }
}

/// The inputs with audio.
#[derive(Debug, Clone)]
pub struct Audio {
    inputs: Vec<InputAudio>,
}

impl Default for Audio {
    fn default() -> Self {
        Self {
            inputs: vec![InputAudio::new("Intro clip")],
        }
    }
}

impl Audio {
    pub fn input(&self, name: &str) -> Option<&InputAudio> {
        self.inputs.iter().find(|input| input.name == name)
    }

    /// Every input with audio, in creation order.
    pub fn inputs(&self) -> &[InputAudio] {
        &self.inputs
    }
}

/// The dB of a multiplier. Silence is -inf dB in OBS, which JSON cannot carry: the fake says
/// -100, the bottom of SetInputVolume's range.
pub fn db_of(mul: f64) -> f64 {
    if mul <= 0.0 {
        -100.0
    } else {
        20.0 * mul.log10()
    }
}

fn event(input: &InputAudio, event_type: &str, data: Value) -> ObsEvent {
    let mut data = data.as_object().cloned().unwrap_or_default();
    data.insert("inputName".into(), json!(input.name));
    data.insert("inputUuid".into(), json!(uuid_of(&input.name)));
    ObsEvent::new(event_type, intent::INPUTS, Value::Object(data))
}

/// Like the user adding an audio input (a microphone) to `scene` in OBS; None if the name is
/// taken or the scene has no items.
pub fn create_input(state: &mut ObsState, scene: &str, name: &str) -> Option<Vec<ObsEvent>> {
    let events = state
        .sources_mut()
        .create_input(scene, name, "pulse_input_capture")?;
    state.audio_mut().inputs.push(InputAudio::new(name));
    Some(events)
}

/// Like the user removing an input in OBS; None if there is no such input.
pub fn remove_input(state: &mut ObsState, name: &str) -> Option<Vec<ObsEvent>> {
    let events = state.sources_mut().remove_input(name)?;
    state.audio_mut().inputs.retain(|input| input.name != name);
    Some(events)
}

/// Mutes or unmutes as a click in OBS's mixer would; None if there is no such audio input.
pub fn set_muted(state: &mut ObsState, name: &str, muted: bool) -> Option<Vec<ObsEvent>> {
    let input = state
        .audio_mut()
        .inputs
        .iter_mut()
        .find(|i| i.name == name)?;
    input.muted = muted;
    Some(vec![event(
        input,
        "InputMuteStateChanged",
        json!({ "inputMuted": muted }),
    )])
}

fn number(data: Option<&Map<String, Value>>, key: &str) -> Result<Option<f64>, Outcome> {
    match data.and_then(|d| d.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or_else(|| {
            Outcome::error(
                status::INVALID_REQUEST_FIELD_TYPE,
                Some(format!("The field value of `{key}` must be a number.")),
            )
        }),
    }
}

fn in_range(key: &str, value: f64, min: f64, max: f64) -> Result<f64, Outcome> {
    if value < min {
        return Err(Outcome::error(
            status::REQUEST_FIELD_OUT_OF_RANGE,
            Some(format!(
                "The field value of `{key}` is below the minimum of `{min:.6}`"
            )),
        ));
    }
    if value > max {
        return Err(Outcome::error(
            status::REQUEST_FIELD_OUT_OF_RANGE,
            Some(format!(
                "The field value of `{key}` is above the maximum of `{max:.6}`"
            )),
        ));
    }
    Ok(value)
}

/// The named input's audio: 600 if no input has that name, 604 if it has no audio.
fn find<'a>(
    state: &'a mut ObsState,
    data: Option<&Map<String, Value>>,
) -> Result<&'a mut InputAudio, Outcome> {
    let name = required_string(data, "inputName")?.to_string();
    let known = state.has_source(&name);
    state
        .audio_mut()
        .inputs
        .iter_mut()
        .find(|input| input.name == name)
        .ok_or_else(|| {
            if known {
                Outcome::error(
                    status::INVALID_RESOURCE_STATE,
                    Some("The specified input does not support audio.".into()),
                )
            } else {
                Outcome::error(
                    status::RESOURCE_NOT_FOUND,
                    Some(format!("No source was found by the name of `{name}`.")),
                )
            }
        })
}

/// Answers one of [`REQUESTS`] (the caller routes only those here).
pub fn answer(
    state: &mut ObsState,
    request_type: &str,
    data: Option<&Map<String, Value>>,
) -> Result<Outcome, Outcome> {
    let input = find(state, data)?;
    Ok(match request_type {
        "GetInputMute" => Outcome::success(Some(json!({ "inputMuted": input.muted }))),
        "SetInputMute" => {
            let muted = data
                .and_then(|d| d.get("inputMuted"))
                .ok_or_else(|| {
                    Outcome::error(
                        status::MISSING_REQUEST_FIELD,
                        Some("Your request is missing the `inputMuted` field.".into()),
                    )
                })?
                .as_bool()
                .ok_or_else(|| {
                    Outcome::error(
                        status::INVALID_REQUEST_FIELD_TYPE,
                        Some("The field value of `inputMuted` must be a boolean.".into()),
                    )
                })?;
            input.muted = muted;
            let changed = event(
                input,
                "InputMuteStateChanged",
                json!({ "inputMuted": muted }),
            );
            Outcome::success(None).with_events(vec![changed])
        }
        "ToggleInputMute" => {
            input.muted = !input.muted;
            let muted = input.muted;
            let changed = event(
                input,
                "InputMuteStateChanged",
                json!({ "inputMuted": muted }),
            );
            Outcome::success(Some(json!({ "inputMuted": muted }))).with_events(vec![changed])
        }
        "GetInputVolume" => Outcome::success(Some(json!({
            "inputVolumeMul": input.mul,
            "inputVolumeDb": db_of(input.mul),
        }))),
        "SetInputVolume" => {
            let mul = number(data, "inputVolumeMul")?;
            let db = number(data, "inputVolumeDb")?;
            let mul = match (mul, db) {
                (Some(_), Some(_)) => {
                    return Err(Outcome::error(
                        status::TOO_MANY_REQUEST_FIELDS,
                        Some("You may only specify one volume field.".into()),
                    ))
                }
                (None, None) => {
                    return Err(Outcome::error(
                        status::MISSING_REQUEST_FIELD,
                        Some("You must specify one volume field.".into()),
                    ))
                }
                (Some(mul), None) => in_range("inputVolumeMul", mul, 0.0, 20.0)?,
                (None, Some(db)) => 10f64.powf(in_range("inputVolumeDb", db, -100.0, 26.0)? / 20.0),
            };
            input.mul = mul;
            let changed = event(
                input,
                "InputVolumeChanged",
                json!({ "inputVolumeMul": mul, "inputVolumeDb": db_of(mul) }),
            );
            Outcome::success(None).with_events(vec![changed])
        }
        "GetInputAudioBalance" => {
            Outcome::success(Some(json!({ "inputAudioBalance": input.balance })))
        }
        "SetInputAudioBalance" => {
            let balance = number(data, "inputAudioBalance")?.ok_or_else(|| {
                Outcome::error(
                    status::MISSING_REQUEST_FIELD,
                    Some("Your request is missing the `inputAudioBalance` field.".into()),
                )
            })?;
            input.balance = in_range("inputAudioBalance", balance, 0.0, 1.0)?;
            let changed = event(
                input,
                "InputAudioBalanceChanged",
                json!({ "inputAudioBalance": balance }),
            );
            Outcome::success(None).with_events(vec![changed])
        }
        "GetInputAudioSyncOffset" => Outcome::success(Some(
            json!({ "inputAudioSyncOffset": input.sync_offset_ms }),
        )),
        "GetInputAudioMonitorType" => {
            Outcome::success(Some(json!({ "monitorType": input.monitor_type })))
        }
        "GetInputAudioTracks" => {
            let tracks: Map<String, Value> = (1..=6)
                .zip(input.tracks)
                .map(|(track, on)| (track.to_string(), json!(on)))
                .collect();
            Outcome::success(Some(json!({ "inputAudioTracks": tracks })))
        }
        _ => Outcome::error(status::UNKNOWN_REQUEST_TYPE, None),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::obs_protocol::object;

    fn state() -> ObsState {
        ObsState::new(&["Live".to_string()], "30.2.3", "5.5.2", Instant::now())
    }

    #[test]
    fn volume_mute_and_balance_follow_obs_rules() {
        let mut obs = state();
        let clip = |extra: Value| {
            let mut data = object(json!({"inputName": "Intro clip"}));
            data.extend(object(extra));
            data
        };
        let half = answer(
            &mut obs,
            "SetInputVolume",
            Some(&clip(json!({"inputVolumeDb": -6.0}))),
        )
        .unwrap();
        assert_eq!(half.event_types(), ["InputVolumeChanged"]);
        assert!((obs.audio().input("Intro clip").unwrap().mul - 0.501).abs() < 0.001);
        let both = clip(json!({"inputVolumeDb": -6.0, "inputVolumeMul": 1.0}));
        let refused = answer(&mut obs, "SetInputVolume", Some(&both));
        assert_eq!(refused.unwrap_err().code, status::TOO_MANY_REQUEST_FIELDS);
        let loud = clip(json!({"inputVolumeDb": 30.0}));
        let refused = answer(&mut obs, "SetInputVolume", Some(&loud));
        assert_eq!(
            refused.unwrap_err().code,
            status::REQUEST_FIELD_OUT_OF_RANGE
        );
        let toggled = answer(&mut obs, "ToggleInputMute", Some(&clip(json!({})))).unwrap();
        assert_eq!(toggled.event_types(), ["InputMuteStateChanged"]);
        assert!(obs.audio().input("Intro clip").unwrap().muted);
        let silent = object(json!({"inputName": "Title"}));
        let refused = answer(&mut obs, "GetInputMute", Some(&silent));
        assert_eq!(refused.unwrap_err().code, status::INVALID_RESOURCE_STATE);
        let nobody = object(json!({"inputName": "Nobody"}));
        let refused = answer(&mut obs, "GetInputMute", Some(&nobody));
        assert_eq!(refused.unwrap_err().code, status::RESOURCE_NOT_FOUND);
    }
}
