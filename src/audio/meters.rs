//! Live audio meters: the `meters` producer on the lossy channel (`status::lossy`).
//!
//! While an instance's `meters` topic has a watcher, the instance is in the tap's wanted set
//! (`obs::taps`): its connection subscribes the hub's own OBS session to InputVolumeMeters
//! (about 20 frames a second, every input's levels), and unsubscribes when the last watcher
//! leaves. Each frame becomes one latest-wins value, levels in dB (converted once here, not in
//! every page), rounded to 0.1 dB, silence floored at -100 like the volumes, and at most +20:
//!
//! ```json
//! {"type":"notice","instance":"default","topic":"meters",
//!  "data":{"inputs":[{"name":"Mic","uuid":"…","channels":[
//!     {"magnitude_db":-23.4,"peak_db":-12.1},{"magnitude_db":-24.0,"peak_db":-13.5}]}]}}
//! ```
//!
//! [`meter_frame`] is the pure conversion; [`MeterNotices`] the actor shell.

use std::collections::BTreeSet;

use actix::prelude::*;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::{
    obs::taps::{EventTap, TappedEvent},
    status::lossy::{LossyHub, Publish, RegisterProducer, TopicKey, WatchChanged},
};

/// The topic (and family) of an instance's meters.
pub const TOPIC: &str = "meters";

/// The quietest level reported: silence (-inf dB in OBS, which JSON cannot carry).
pub const SILENCE_DB: f64 = -100.0;

/// The loudest level reported. Float audio may go past full scale (0 dB), but not by much; OBS
/// 32.2.2 was seen sending a peak of +343 dB in the first frame of a new input (uninitialised),
/// which a meter must not draw.
pub const LOUDEST_DB: f64 = 20.0;

/// Frames waiting for the producer past this many are dropped (the next one replaces them).
const MAILBOX: usize = 64;

pub fn check_topic(topic: &str) -> Result<(), String> {
    if topic == TOPIC {
        Ok(())
    } else {
        Err(format!(
            "no topic `{topic}`: an instance's meters are `meters`"
        ))
    }
}

/// A level as a multiplier (OBS's unit) in dB, to 0.1 dB, within [`SILENCE_DB`] and
/// [`LOUDEST_DB`].
pub fn db_of(mul: f64) -> f64 {
    if mul.is_nan() || mul <= 0.0 {
        return SILENCE_DB;
    }
    ((20.0 * mul.log10()) * 10.0)
        .round()
        .clamp(SILENCE_DB * 10.0, LOUDEST_DB * 10.0)
        / 10.0
}

/// InputVolumeMeters' `eventData` (`inputs: [{inputName, inputUuid, inputLevelsMul:
/// [[magnitude, peak, input_peak], ...]}]`) as the hub's meters value. Inputs or channels that
/// do not have that shape are left out.
pub fn meter_frame(data: &Value) -> Value {
    let inputs = data["inputs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let inputs: Vec<Value> = inputs
        .iter()
        .filter_map(|input| {
            let name = input["inputName"].as_str()?;
            let channels: Vec<Value> = input["inputLevelsMul"]
                .as_array()?
                .iter()
                .filter_map(|levels| {
                    let levels = levels.as_array()?;
                    Some(json!({
                        "magnitude_db": db_of(levels.first()?.as_f64()?),
                        "peak_db": db_of(levels.get(1)?.as_f64()?),
                    }))
                })
                .collect();
            Some(json!({
                "name": name,
                "uuid": input["inputUuid"].as_str(),
                "channels": channels,
            }))
        })
        .collect();
    json!({ "inputs": inputs })
}

/// The producer of the `meters` family.
pub struct MeterNotices {
    hub: Addr<LossyHub>,
    /// The instances whose meters are watched: the tap's wanted set.
    wanted: watch::Sender<BTreeSet<String>>,
}

/// Starts the producer; answers the tap `app` registers with the translators.
pub fn start(hub: Addr<LossyHub>) -> EventTap {
    let (wanted, wanted_rx) = watch::channel(BTreeSet::new());
    let producer = MeterNotices { hub, wanted }.start();
    EventTap {
        intent: crate::obs_protocol::intent::INPUT_VOLUME_METERS,
        event_type: "InputVolumeMeters",
        wanted: wanted_rx,
        deliver: producer.recipient(),
    }
}

impl Actor for MeterNotices {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        self.hub.do_send(RegisterProducer {
            family: TOPIC,
            check: check_topic,
            producer: ctx.address().recipient(),
        });
    }
}

impl Handler<WatchChanged> for MeterNotices {
    type Result = ();

    fn handle(&mut self, change: WatchChanged, _: &mut Self::Context) {
        let instance = change.key.instance;
        // send_if_modified: the connections hear only of real changes.
        self.wanted.send_if_modified(|wanted| {
            if change.watched {
                wanted.insert(instance)
            } else {
                wanted.remove(&instance)
            }
        });
    }
}

impl Handler<TappedEvent> for MeterNotices {
    type Result = ();

    fn handle(&mut self, event: TappedEvent, _: &mut Self::Context) {
        // A frame still on its way after the last watcher left is not converted for nothing.
        if !self.wanted.borrow().contains(&event.instance) {
            return;
        }
        self.hub.do_send(Publish {
            key: TopicKey::new(event.instance, TOPIC),
            data: meter_frame(&event.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_decibels_to_a_tenth_with_silence_at_minus_100() {
        assert_eq!(db_of(1.0), 0.0);
        assert_eq!(db_of(0.5), -6.0);
        assert_eq!(db_of(0.1), -20.0);
        assert_eq!(db_of(0.0), SILENCE_DB);
        assert_eq!(db_of(1e-9), SILENCE_DB);
        assert_eq!(db_of(f64::NAN), SILENCE_DB);
        assert_eq!(db_of(2.0), 6.0, "past full scale");
        assert_eq!(db_of(1.5e17), LOUDEST_DB, "what OBS 32.2.2 once sent");
        assert_eq!(db_of(f64::INFINITY), LOUDEST_DB);
    }

    #[test]
    fn a_frame_keeps_every_input_and_channel_and_drops_what_has_no_shape() {
        let frame = meter_frame(&json!({"inputs": [
            {"inputName": "Mic", "inputUuid": "u1",
             "inputLevelsMul": [[0.5, 1.0, 1.0], [0.1, 0.5, 0.5]]},
            {"inputName": "Muted", "inputUuid": "u2", "inputLevelsMul": [[0.0, 0.0, 0.0]]},
            {"inputName": "No levels"},
            {"inputLevelsMul": [[0.5, 0.5, 0.5]]},
        ]}));
        assert_eq!(
            frame,
            json!({"inputs": [
                {"name": "Mic", "uuid": "u1", "channels": [
                    {"magnitude_db": -6.0, "peak_db": 0.0},
                    {"magnitude_db": -20.0, "peak_db": -6.0}]},
                {"name": "Muted", "uuid": "u2", "channels": [
                    {"magnitude_db": -100.0, "peak_db": -100.0}]},
            ]})
        );
        assert_eq!(meter_frame(&json!({})), json!({"inputs": []}));
    }

    #[test]
    fn only_meters_is_a_meters_topic() {
        assert!(check_topic("meters").is_ok());
        let refused = check_topic("meters:Mic").unwrap_err();
        assert!(refused.contains("`meters:Mic`"), "{refused}");
    }
}
