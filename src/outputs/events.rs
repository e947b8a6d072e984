//! Where OBS's output events and reads become updates for the outputs' slice of status.

use futures_util::future::BoxFuture;
use obws::{events::Event, responses::StatusCode, Client};

use super::{
    status::{OutputUpdate, SideReading},
    Output,
};
use crate::{obs::events::output_state_name, status::update::PollReading};

/// What `app` registers so that the connection hands this capability its events and reads the
/// side outputs in the poll (stream and record stay with `obs::reading`).
pub const TRANSLATOR: crate::obs::Translator = crate::obs::Translator {
    translate: |event| translate(event).map(crate::status::update::ObsUpdate::Output),
    event_type,
    poll: Some(read_into_poll),
    reread: None,
    snapshot: None,
};

fn read_into_poll<'a>(
    client: &'a Client,
    reading: &'a mut PollReading,
) -> BoxFuture<'a, Result<(), obws::error::Error>> {
    crate::obs::events::store_poll_read(reading, read_side(client), |reading, read| {
        reading.side = read
    })
}

/// The outputs' events (stream and record state stay with `obs::events`); None for others.
pub fn translate(event: &Event) -> Option<OutputUpdate> {
    Some(match event {
        Event::ReplayBufferStateChanged { active, state } => OutputUpdate::State {
            output: Output::ReplayBuffer,
            active: *active,
            state: output_state_name(*state).to_string(),
        },
        Event::VirtualcamStateChanged { active, state } => OutputUpdate::State {
            output: Output::VirtualCam,
            active: *active,
            state: output_state_name(*state).to_string(),
        },
        Event::ReplayBufferSaved { path } => {
            OutputUpdate::ReplaySaved(path.to_string_lossy().into_owned())
        }
        Event::RecordFileChanged { path } => OutputUpdate::RecordFileChanged(path.clone()),
        _ => return None,
    })
}

/// The protocol name of the outputs' events (a bounded label for metrics).
pub fn event_type(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::ReplayBufferStateChanged { .. } => "ReplayBufferStateChanged",
        Event::VirtualcamStateChanged { .. } => "VirtualcamStateChanged",
        Event::ReplayBufferSaved { .. } => "ReplayBufferSaved",
        Event::RecordFileChanged { .. } => "RecordFileChanged",
        _ => return None,
    })
}

/// Reads whether the replay buffer and the virtual camera are active. OBS answers 604
/// (InvalidResourceState) for an output it does not have: that is "not available", not a
/// failed read.
pub async fn read_side(client: &Client) -> Result<SideReading, obws::error::Error> {
    fn available(
        read: Result<bool, obws::error::Error>,
    ) -> Result<Option<bool>, obws::error::Error> {
        match read {
            Ok(active) => Ok(Some(active)),
            Err(obws::error::Error::Api {
                code: StatusCode::InvalidResourceState,
                ..
            }) => Ok(None),
            Err(other) => Err(other),
        }
    }
    Ok(SideReading {
        replay_buffer: available(client.replay_buffer().status().await)?,
        virtual_cam: available(client.virtual_cam().status().await)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn output_events_become_updates_and_others_pass_through() {
        let replay = event(serde_json::json!({
            "eventType": "ReplayBufferStateChanged",
            "eventData": {"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}
        }));
        assert_eq!(
            translate(&replay),
            Some(OutputUpdate::State {
                output: Output::ReplayBuffer,
                active: true,
                state: "started".into()
            })
        );
        let saved = event(serde_json::json!({
            "eventType": "ReplayBufferSaved",
            "eventData": {"savedReplayPath": "/home/x/Replay 2026-11-30 04-00-00.mkv"}
        }));
        assert_eq!(
            translate(&saved),
            Some(OutputUpdate::ReplaySaved(
                "/home/x/Replay 2026-11-30 04-00-00.mkv".into()
            ))
        );
        let split = event(serde_json::json!({
            "eventType": "RecordFileChanged",
            "eventData": {"newOutputPath": "/home/x/b.mkv"}
        }));
        assert_eq!(
            translate(&split),
            Some(OutputUpdate::RecordFileChanged("/home/x/b.mkv".into()))
        );
        assert!(translate(&Event::ExitStarted).is_none());
    }
}
