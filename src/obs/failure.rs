//! Why a connection attempt or a link failed, in words a streamer understands.

use serde::Serialize;
use utoipa::ToSchema;

/// The classes of failure the hub treats differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// OBS refused the password (close code 4009). Retried slowly: each attempt pops an alert.
    AuthFailed,
    /// OBS or obs-websocket is older than obws supports.
    Incompatible,
    /// Nothing answered at host:port, or the link broke.
    Unreachable,
    /// Something answered but not in time.
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl LinkFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

const SUPPORTED: &str = "obs-hub needs OBS Studio 30.2 or newer (obs-websocket 5.5 or newer)";

/// Classifies an obws error from connecting. `password_configured` picks the right advice for a
/// refused login.
pub fn classify(error: &obws::error::Error, password_configured: bool) -> LinkFailure {
    use obws::{client::HandshakeError, error::Error};
    match error {
        Error::Handshake(HandshakeError::ConnectionClosed(Some(details))) => {
            match u16::from(details.code) {
                4009 if password_configured => LinkFailure::new(
                    FailureKind::AuthFailed,
                    "OBS refused the password: check Tools > WebSocket Server Settings in OBS",
                ),
                4009 => LinkFailure::new(
                    FailureKind::AuthFailed,
                    "OBS requires a password and none is configured (OBS_WEBSOCKET_PASSWORD)",
                ),
                4010 => LinkFailure::new(
                    FailureKind::Incompatible,
                    format!("obs-websocket does not support RPC version 1; {SUPPORTED}"),
                ),
                code => LinkFailure::new(
                    FailureKind::Unreachable,
                    format!(
                        "OBS closed the connection during the handshake (code {code}: {})",
                        details.reason
                    ),
                ),
            }
        }
        Error::Handshake(HandshakeError::NoHello) => LinkFailure::new(
            FailureKind::Timeout,
            "no obs-websocket greeting within 5 s: is this the OBS WebSocket port?",
        ),
        Error::Handshake(other) => LinkFailure::new(
            FailureKind::Unreachable,
            format!("obs-websocket handshake failed: {}", error_chain(other)),
        ),
        Error::Timeout => LinkFailure::new(FailureKind::Timeout, "OBS did not answer in time"),
        Error::Connect(inner) => LinkFailure::new(
            FailureKind::Unreachable,
            format!("cannot reach OBS: {}", error_chain(inner)),
        ),
        Error::ObsStudioVersion(version, _) => LinkFailure::new(
            FailureKind::Incompatible,
            format!("OBS Studio {version} is too old; {SUPPORTED}"),
        ),
        Error::ObsWebsocketVersion(version, _) => LinkFailure::new(
            FailureKind::Incompatible,
            format!("obs-websocket {version} is not supported; {SUPPORTED}"),
        ),
        Error::RpcVersion { negotiated, .. } => LinkFailure::new(
            FailureKind::Incompatible,
            format!("obs-websocket negotiated RPC version {negotiated}; {SUPPORTED}"),
        ),
        other => LinkFailure::new(FailureKind::Unreachable, error_chain(other)),
    }
}

/// `error: cause: cause`, so that "connection refused" is not hidden behind "failed to connect".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_obs_is_incompatible_and_names_the_versions() {
        let error = obws::error::Error::ObsStudioVersion(
            semver::Version::new(29, 0, 2),
            semver::Comparator::parse(">=30.2").unwrap(),
        );
        let failure = classify(&error, true);
        assert_eq!(failure.kind, FailureKind::Incompatible);
        assert!(failure.message.contains("29.0.2"));
        assert!(failure.message.contains("30.2"));
    }

    #[test]
    fn timeout_is_a_timeout() {
        assert_eq!(
            classify(&obws::error::Error::Timeout, false).kind,
            FailureKind::Timeout
        );
    }

    #[test]
    fn chain_includes_causes_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(error_chain(&io), "connection refused");
    }
}
