//! The simulated audio meters: InputVolumeMeters frames for the sessions subscribed to
//! `intent::INPUT_VOLUME_METERS`, as OBS sends about every 50 ms.
//!
//! Each input with audio gets two channels whose levels follow a slow deterministic wave (frame
//! `n` always reads the same), scaled by the input's volume; a muted input reads 0 (silence), as
//! in OBS's mixer. The server's ticker sends a frame every [`METER_INTERVAL`] while some session
//! is subscribed; tests can push one at once with `FakeObs::push_meter_frame`.

use std::time::Duration;

use serde_json::{json, Value};

use super::audio::Audio;
use super::protocol::intent;
use super::sources::uuid_of;
use super::state::ObsEvent;

/// OBS's meter period (obs-websocket sends InputVolumeMeters every 50 ms).
pub const METER_INTERVAL: Duration = Duration::from_millis(50);

/// The channels of every simulated input (stereo).
const CHANNELS: usize = 2;

/// One channel's `[magnitude, peak, input_peak]` (multipliers) in frame `n`.
fn levels(n: u64, input: usize, channel: usize, mul: f64, muted: bool) -> [f64; 3] {
    // A wave between 0.05 and 0.45 of full scale, each input and channel out of phase.
    let phase = n as f64 * 0.35 + input as f64 * 1.3 + channel as f64 * 0.4;
    let input_peak = 0.25 + 0.2 * phase.sin();
    if muted {
        return [0.0, 0.0, input_peak];
    }
    let peak = (input_peak * mul).min(1.0);
    [peak * 0.7, peak, input_peak]
}

/// Frame `n` of the meters of `audio`'s inputs.
pub fn frame(audio: &Audio, n: u64) -> ObsEvent {
    let inputs: Vec<Value> = audio
        .inputs()
        .iter()
        .enumerate()
        .map(|(at, input)| {
            let channels: Vec<[f64; 3]> = (0..CHANNELS)
                .map(|channel| levels(n, at, channel, input.mul, input.muted))
                .collect();
            json!({
                "inputName": input.name,
                "inputUuid": uuid_of(&input.name),
                "inputLevelsMul": channels,
            })
        })
        .collect();
    ObsEvent::new(
        "InputVolumeMeters",
        intent::INPUT_VOLUME_METERS,
        json!({ "inputs": inputs }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_move_from_frame_to_frame_and_a_muted_input_is_silent() {
        let [magnitude, peak, _] = levels(0, 0, 0, 1.0, false);
        assert!(0.0 < magnitude && magnitude < peak && peak <= 1.0);
        assert_ne!(levels(1, 0, 0, 1.0, false), levels(0, 0, 0, 1.0, false));
        assert_eq!(levels(3, 0, 0, 1.0, false), levels(3, 0, 0, 1.0, false));
        let [magnitude, peak, input_peak] = levels(0, 0, 0, 1.0, true);
        assert_eq!((magnitude, peak), (0.0, 0.0));
        assert!(input_peak > 0.0, "before the mute");
    }

    #[test]
    fn a_frame_has_every_input_with_audio_in_obs_shape() {
        let event = frame(&Audio::default(), 0);
        assert_eq!(event.event_type, "InputVolumeMeters");
        assert_eq!(event.intent, 1 << 16);
        let data = event.data.unwrap();
        let inputs = data["inputs"].as_array().unwrap();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0]["inputName"], "Intro clip");
        assert_eq!(inputs[0]["inputLevelsMul"].as_array().unwrap().len(), 2);
        assert_eq!(inputs[0]["inputLevelsMul"][0].as_array().unwrap().len(), 3);
    }
}
