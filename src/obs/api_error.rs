//! How a command's failure reads in the API: [`ApiError::from_command`], beside
//! [`CommandError`] so that `error` (a lower layer) need not know the OBS connection.

use obws::responses::StatusCode as ObsStatus;

use super::{discipline::Refusal, CommandError};
use crate::error::ApiError;

impl ApiError {
    /// Maps a command failure for `instance`, with the command's own words for conflicts.
    pub fn from_command(instance: &str, error: CommandError, conflict: &str) -> Self {
        match error {
            CommandError::NotConnected { state, reason } => Self::NotConnected {
                instance: instance.to_string(),
                state,
                message: match reason {
                    Some(reason) => format!(
                        "OBS instance `{instance}` is not connected ({}): {reason}",
                        state.as_str()
                    ),
                    None => format!(
                        "OBS instance `{instance}` is not connected ({}); retry once it is",
                        state.as_str()
                    ),
                },
            },
            CommandError::Timeout(ms) => Self::Timeout(format!(
                "OBS instance `{instance}` did not answer within {ms} ms; it may be frozen or busy"
            )),
            CommandError::Rejected { code, message } => match code {
                ObsStatus::OutputRunning | ObsStatus::OutputNotRunning => {
                    Self::Conflict(conflict.to_string())
                }
                ObsStatus::ResourceNotFound => Self::UnknownScene(message),
                ObsStatus::NotReady => Self::Unavailable(format!(
                    "OBS instance `{instance}` is not ready yet ({message}); retry in a moment"
                )),
                _ => Self::ObsRejected(format!("OBS refused the request ({code:?}): {message}")),
            },
            CommandError::LinkFailed(reason) => Self::Unavailable(format!(
                "the link to OBS instance `{instance}` failed during the request ({reason}); \
                 the hub is reconnecting, retry in a moment"
            )),
            CommandError::UnknownInstance(name) => Self::unknown_instance(&name, &[]),
            CommandError::Unavailable(name) => Self::Unavailable(format!(
                "the connection to `{name}` is restarting; retry in a moment"
            )),
            CommandError::CollectionChanging => Self::CollectionChanging(format!(
                "OBS instance `{instance}` is switching scene collections and refuses requests \
                 until it is done; retry in a few seconds (status reads keep answering from the \
                 cache meanwhile)"
            )),
            CommandError::NotAllowed(reason) => Self::InvalidField(reason),
            CommandError::OutputRefused { output, refusal } => match refusal {
                Refusal::NotRecording => Self::Conflict(format!(
                    "OBS instance `{instance}` is not recording: there is nothing to pause or resume"
                )),
                Refusal::NoEffect => Self::OutputUnsupported(format!(
                    "OBS instance `{instance}` accepted the request but its recording did not \
                     pause or resume: OBS cannot pause a recording that shares the stream's \
                     encoder (Simple output mode with Recording Quality \"Same as stream\"); \
                     choose another recording quality"
                )),
                Refusal::QueueFull => Self::Unavailable(format!(
                    "too many commands wait for the {} output of `{instance}`; retry in a moment",
                    output.as_str()
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{http::StatusCode, ResponseError};

    use super::*;
    use crate::status::ConnectionState;

    #[test]
    fn obs_refusals_map_to_http_meanings() {
        let conflict = ApiError::from_command(
            "default",
            CommandError::Rejected {
                code: ObsStatus::OutputRunning,
                message: "already active".into(),
            },
            "already streaming",
        );
        assert_eq!(conflict.status_code(), StatusCode::CONFLICT);
        assert_eq!(conflict.to_string(), "already streaming");
        let missing = ApiError::from_command(
            "default",
            CommandError::Rejected {
                code: ObsStatus::ResourceNotFound,
                message: "No source was found by the name of `Nope`.".into(),
            },
            "",
        );
        assert_eq!(missing.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(missing.code(), "unknown_scene");
    }

    #[test]
    fn not_connected_carries_the_state() {
        let error = ApiError::from_command(
            "studio",
            CommandError::NotConnected {
                state: ConnectionState::AuthFailed,
                reason: Some("OBS refused the password".into()),
            },
            "",
        );
        assert_eq!(error.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        let body = serde_json::to_value(error.body()).unwrap();
        assert_eq!(body["connection_state"], "auth_failed");
        assert_eq!(body["instance"], "studio");
        assert!(body["message"].as_str().unwrap().contains("password"));
    }
}
