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
    /// Something answered at host:port, but not as a WebSocket server (a web server's 404, say):
    /// the port is most likely not OBS's WebSocket port.
    NotObsWebsocket,
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
                    "OBS refused the password: copy it from OBS's Tools > WebSocket Server \
                     Settings > Show Connect Info into OBS_WEBSOCKET_PASSWORD (or the config file)",
                ),
                4009 => LinkFailure::new(
                    FailureKind::AuthFailed,
                    "OBS requires a password and none is configured: copy it from OBS's Tools > \
                     WebSocket Server Settings > Show Connect Info into OBS_WEBSOCKET_PASSWORD",
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
        Error::Connect(inner) => connect_failure(inner),
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

/// What failed before any obs-websocket message: the TCP connection (an I/O error somewhere in
/// the chain) or the HTTP upgrade to WebSocket (something answered, but not a WebSocket server).
fn connect_failure(error: &(dyn std::error::Error + 'static)) -> LinkFailure {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return io_failure(io);
        }
        cause = current.source();
    }
    LinkFailure::new(
        FailureKind::NotObsWebsocket,
        format!(
            "something answered on that port, but it is not obs-websocket ({}): check the port \
             in OBS's Tools > WebSocket Server Settings",
            error_chain(error)
        ),
    )
}

/// A failed TCP connection in words, without the raw "(os error 111)".
fn io_failure(error: &std::io::Error) -> LinkFailure {
    use std::io::ErrorKind;
    const HINT: &str = "is OBS running, is its WebSocket server enabled (Tools > WebSocket \
                        Server Settings), and on this port?";
    let message = match error.kind() {
        ErrorKind::ConnectionRefused => format!("nothing listens on that port: {HINT}"),
        ErrorKind::TimedOut => format!("the connection timed out: {HINT}"),
        kind => {
            let text = error.to_string();
            let words = match text.find(" (os error ") {
                Some(end) => text[..end].to_string(),
                None if text.is_empty() => kind.to_string(),
                None => text,
            };
            format!("cannot reach OBS ({}): {HINT}", words.to_lowercase())
        }
    };
    LinkFailure::new(FailureKind::Unreachable, message)
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
    fn refused_connections_are_explained_without_os_error_numbers() {
        let refused = std::io::Error::from_raw_os_error(libc_refused());
        let failure = io_failure(&refused);
        assert_eq!(failure.kind, FailureKind::Unreachable);
        assert!(
            failure.message.starts_with("nothing listens"),
            "{}",
            failure.message
        );
        assert!(failure.message.contains("WebSocket Server Settings"));
        assert!(!failure.message.contains("os error"), "{}", failure.message);

        let other = std::io::Error::other("Host is down (os error 112)");
        let failure = io_failure(&other);
        assert_eq!(
            failure.message,
            "cannot reach OBS (host is down): is OBS running, is its WebSocket server enabled \
             (Tools > WebSocket Server Settings), and on this port?"
        );
    }

    /// ECONNREFUSED's number differs between systems; the kind is what matters.
    fn libc_refused() -> i32 {
        if cfg!(windows) {
            10061
        } else if cfg!(target_os = "macos") {
            61
        } else {
            111
        }
    }

    #[test]
    fn an_answer_that_is_not_a_websocket_upgrade_is_not_obs() {
        #[derive(Debug)]
        struct Http404;
        impl std::fmt::Display for Http404 {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("server did not switch protocols (status 404)")
            }
        }
        impl std::error::Error for Http404 {}
        let failure = connect_failure(&Http404);
        assert_eq!(failure.kind, FailureKind::NotObsWebsocket);
        assert!(failure.message.contains("404"), "{}", failure.message);
    }

    #[test]
    fn chain_includes_causes_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        assert_eq!(error_chain(&io), "connection refused");
    }
}
