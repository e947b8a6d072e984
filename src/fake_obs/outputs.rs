//! The simulated replay buffer and virtual camera, with obs-websocket 5.5's requests, events,
//! codes and comments (RequestHandler_Outputs.cpp): both answer 604 "... is not available." to
//! every request when OBS does not have them (replay buffer not enabled in the output settings,
//! no virtual camera device), which is OBS's default on a Linux machine without v4l2loopback.

use serde_json::json;

use super::protocol::{intent, status};
use super::state::{FollowUp, ObsEvent, Outcome};

const REPLAY_NOT_AVAILABLE: &str = "Replay buffer is not available.";
const VIRTUALCAM_NOT_AVAILABLE: &str = "VirtualCam is not available.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayPhase {
    Stopped,
    Starting,
    Active,
    Stopping,
}

/// Replay buffer and virtual camera.
#[derive(Debug, Clone)]
pub struct SideOutputs {
    replay_available: bool,
    replay: ReplayPhase,
    last_replay: Option<String>,
    virtualcam_available: bool,
    virtualcam_active: bool,
}

impl SideOutputs {
    pub fn new(replay_available: bool, virtualcam_available: bool) -> Self {
        Self {
            replay_available,
            replay: ReplayPhase::Stopped,
            last_replay: None,
            virtualcam_available,
            virtualcam_active: false,
        }
    }

    /// `obs_frontend_replay_buffer_active`: from STARTED until STOPPED.
    pub fn replay_active(&self) -> bool {
        matches!(self.replay, ReplayPhase::Active | ReplayPhase::Stopping)
    }

    pub fn virtualcam_active(&self) -> bool {
        self.virtualcam_active
    }

    pub fn last_replay(&self) -> Option<&str> {
        self.last_replay.as_deref()
    }

    fn replay_event(active: bool, state: &str) -> ObsEvent {
        ObsEvent::new(
            "ReplayBufferStateChanged",
            intent::OUTPUTS,
            json!({ "outputActive": active, "outputState": state }),
        )
    }

    fn virtualcam_event(active: bool) -> ObsEvent {
        let state = if active {
            "OBS_WEBSOCKET_OUTPUT_STARTED"
        } else {
            "OBS_WEBSOCKET_OUTPUT_STOPPED"
        };
        ObsEvent::new(
            "VirtualcamStateChanged",
            intent::OUTPUTS,
            json!({ "outputActive": active, "outputState": state }),
        )
    }

    fn start_replay(&mut self) -> Result<Outcome, Outcome> {
        if self.replay_active() || self.replay != ReplayPhase::Stopped {
            return Err(Outcome::error(status::OUTPUT_RUNNING, None));
        }
        self.replay = ReplayPhase::Starting;
        Ok(Outcome {
            follow_up: Some(FollowUp::ReplayStarted),
            ..Outcome::success(None).with_events(vec![Self::replay_event(
                false,
                "OBS_WEBSOCKET_OUTPUT_STARTING",
            )])
        })
    }

    fn stop_replay(&mut self) -> Result<Outcome, Outcome> {
        if self.replay != ReplayPhase::Active {
            return Err(Outcome::error(status::OUTPUT_NOT_RUNNING, None));
        }
        self.replay = ReplayPhase::Stopping;
        Ok(Outcome {
            follow_up: Some(FollowUp::ReplayStopped),
            ..Outcome::success(None).with_events(vec![Self::replay_event(
                false,
                "OBS_WEBSOCKET_OUTPUT_STOPPING",
            )])
        })
    }

    fn set_virtualcam(&mut self, active: bool) -> Outcome {
        self.virtualcam_active = active;
        Outcome::success(None).with_events(vec![Self::virtualcam_event(active)])
    }

    /// Completes a replay-buffer transition or save begun earlier.
    pub fn complete(&mut self, follow_up: FollowUp, file_name: &str) -> Vec<ObsEvent> {
        match follow_up {
            FollowUp::ReplayStarted if self.replay == ReplayPhase::Starting => {
                self.replay = ReplayPhase::Active;
                vec![Self::replay_event(true, "OBS_WEBSOCKET_OUTPUT_STARTED")]
            }
            FollowUp::ReplayStopped if self.replay == ReplayPhase::Stopping => {
                self.replay = ReplayPhase::Stopped;
                vec![Self::replay_event(false, "OBS_WEBSOCKET_OUTPUT_STOPPED")]
            }
            // OBS names replays "Replay <date>" in the recording directory.
            FollowUp::ReplaySaved if self.replay_active() => {
                let path = format!(
                    "{}/Replay {file_name}.mkv",
                    super::state::RECORDING_DIRECTORY
                );
                self.last_replay = Some(path.clone());
                vec![ObsEvent::new(
                    "ReplayBufferSaved",
                    intent::OUTPUTS,
                    json!({ "savedReplayPath": path }),
                )]
            }
            _ => Vec::new(),
        }
    }

    /// Answers the replay-buffer and virtual-camera requests; `None` for any other request.
    pub fn dispatch(&mut self, request_type: &str) -> Option<Result<Outcome, Outcome>> {
        REQUESTS
            .contains(&request_type)
            .then(|| self.handle(request_type))
    }

    fn handle(&mut self, request_type: &str) -> Result<Outcome, Outcome> {
        let replay = |this: &Self| {
            if this.replay_available {
                Ok(())
            } else {
                Err(Outcome::error(
                    status::INVALID_RESOURCE_STATE,
                    Some(REPLAY_NOT_AVAILABLE.into()),
                ))
            }
        };
        let virtualcam = |this: &Self| {
            if this.virtualcam_available {
                Ok(())
            } else {
                Err(Outcome::error(
                    status::INVALID_RESOURCE_STATE,
                    Some(VIRTUALCAM_NOT_AVAILABLE.into()),
                ))
            }
        };
        let active = |value: bool| Outcome::success(Some(json!({ "outputActive": value })));
        match request_type {
            "GetReplayBufferStatus" => {
                replay(self)?;
                Ok(active(self.replay_active()))
            }
            "StartReplayBuffer" => {
                replay(self)?;
                self.start_replay()
            }
            "StopReplayBuffer" => {
                replay(self)?;
                self.stop_replay()
            }
            "ToggleReplayBuffer" => {
                replay(self)?;
                let starting = !self.replay_active();
                let outcome = if starting {
                    self.start_replay()?
                } else {
                    self.stop_replay()?
                };
                Ok(Outcome {
                    response_data: Some(json!({ "outputActive": starting })),
                    ..outcome
                })
            }
            "SaveReplayBuffer" => {
                replay(self)?;
                if !self.replay_active() {
                    return Err(Outcome::error(status::OUTPUT_NOT_RUNNING, None));
                }
                Ok(Outcome {
                    follow_up: Some(FollowUp::ReplaySaved),
                    ..Outcome::success(None)
                })
            }
            "GetLastReplayBufferReplay" => {
                replay(self)?;
                if !self.replay_active() {
                    return Err(Outcome::error(status::OUTPUT_NOT_RUNNING, None));
                }
                Ok(Outcome::success(Some(
                    json!({ "savedReplayPath": self.last_replay.clone().unwrap_or_default() }),
                )))
            }
            "GetVirtualCamStatus" => {
                virtualcam(self)?;
                Ok(active(self.virtualcam_active))
            }
            "StartVirtualCam" => {
                virtualcam(self)?;
                if self.virtualcam_active {
                    return Err(Outcome::error(status::OUTPUT_RUNNING, None));
                }
                Ok(self.set_virtualcam(true))
            }
            "StopVirtualCam" => {
                virtualcam(self)?;
                if !self.virtualcam_active {
                    return Err(Outcome::error(status::OUTPUT_NOT_RUNNING, None));
                }
                Ok(self.set_virtualcam(false))
            }
            "ToggleVirtualCam" => {
                virtualcam(self)?;
                let now_active = !self.virtualcam_active;
                Ok(Outcome {
                    response_data: Some(json!({ "outputActive": now_active })),
                    ..self.set_virtualcam(now_active)
                })
            }
            _ => Err(Outcome::error(
                status::UNKNOWN_REQUEST_TYPE,
                Some("Your request type is not valid.".into()),
            )),
        }
    }
}

/// The requests answered here (for GetVersion's `availableRequests`).
pub const REQUESTS: &[&str] = &[
    "GetReplayBufferStatus",
    "ToggleReplayBuffer",
    "StartReplayBuffer",
    "StopReplayBuffer",
    "SaveReplayBuffer",
    "GetLastReplayBufferReplay",
    "GetVirtualCamStatus",
    "ToggleVirtualCam",
    "StartVirtualCam",
    "StopVirtualCam",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_outputs_answer_604_with_obs_words() {
        let mut side = SideOutputs::new(false, false);
        for request in REQUESTS {
            let Some(Err(outcome)) = side.dispatch(request) else {
                panic!("{request} answered");
            };
            assert_eq!(outcome.code, status::INVALID_RESOURCE_STATE, "{request}");
            let comment = outcome.comment.unwrap_or_default();
            assert!(
                comment.ends_with("is not available."),
                "{request}: {comment}"
            );
        }
        assert!(side.dispatch("GetStats").is_none());
    }

    #[test]
    fn the_replay_buffer_starts_saves_and_stops() {
        let mut side = SideOutputs::new(true, false);
        let Some(Err(idle_save)) = side.dispatch("SaveReplayBuffer") else {
            panic!("saved while stopped");
        };
        assert_eq!(idle_save.code, status::OUTPUT_NOT_RUNNING);
        let Some(Ok(started)) = side.dispatch("StartReplayBuffer") else {
            panic!("not started");
        };
        assert_eq!(started.follow_up, Some(FollowUp::ReplayStarted));
        side.complete(FollowUp::ReplayStarted, "x");
        assert!(side.replay_active());
        let Some(Ok(save)) = side.dispatch("SaveReplayBuffer") else {
            panic!("not saved");
        };
        let saved = side.complete(save.follow_up.unwrap(), "2026-11-30 04-00-00");
        assert_eq!(saved[0].event_type, "ReplayBufferSaved");
        assert_eq!(
            side.last_replay(),
            Some("/home/x/Replay 2026-11-30 04-00-00.mkv")
        );
        let Some(Ok(stopping)) = side.dispatch("ToggleReplayBuffer") else {
            panic!("not toggled");
        };
        assert_eq!(
            stopping.response_data,
            Some(json!({ "outputActive": false }))
        );
    }
}
