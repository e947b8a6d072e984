//! One-off connection test (`POST /api/test-connection/`), apart from the persistent links.
//!
//! The configured password is a secret shared with one OBS: it answers only the challenge of the
//! configured host and port ([`ProbeTarget::resolve`]). Answering any other server's challenge
//! would hand it `base64(sha256(base64(sha256(password + salt)) + challenge))`, which it can
//! check password guesses against offline.

use std::time::{Duration, Instant};

use obws::{client::ConnectConfig, requests::EventSubscription, Client};
use serde::Serialize;
use utoipa::ToSchema;

use super::failure::{classify, FailureKind};
use crate::config::{InstanceConfig, Secret};

/// Where a probe goes, and with which password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeTarget {
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
    /// The configured password was withheld because the target is not the configured one.
    pub password_withheld: bool,
}

impl ProbeTarget {
    /// The configured instance with the request's overrides. The configured password goes only
    /// to the configured host and port; elsewhere only a password given in the request is sent.
    /// An empty requested password means "none".
    pub fn resolve(
        configured: &InstanceConfig,
        host: Option<String>,
        port: Option<u16>,
        password: Option<Secret>,
    ) -> Self {
        let host = host.unwrap_or_else(|| configured.host.clone());
        let port = port.unwrap_or(configured.port);
        // DNS names are case-insensitive; anything else must match byte for byte.
        let same_server = host.eq_ignore_ascii_case(&configured.host) && port == configured.port;
        let (password, password_withheld) = match (password, same_server) {
            (Some(password), _) if password.expose().is_empty() => (None, false),
            (Some(password), _) => (Some(password), false),
            (None, true) => (configured.password.clone(), false),
            (None, false) => (None, configured.password.is_some()),
        };
        Self {
            host,
            port,
            password,
            password_withheld,
        }
    }
}

/// Answer of `POST /api/test-connection/`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProbeReport {
    Reachable {
        ok: bool,
        obs_version: String,
        websocket_version: String,
        rtt_ms: f64,
    },
    Failed {
        ok: bool,
        error: FailureKind,
        message: String,
    },
}

impl ProbeReport {
    fn failed(error: FailureKind, message: String) -> Self {
        Self::Failed {
            ok: false,
            error,
            message,
        }
    }
}

/// Connects, times one GetVersion round trip, and disconnects. Never subscribes to events.
pub async fn probe(target: &ProbeTarget, limit: Duration) -> ProbeReport {
    let has_password = target.password.is_some();
    let attempt = async {
        let mut client = Client::connect_with_config(ConnectConfig {
            host: target.host.as_str(),
            port: target.port,
            password: target.password.as_ref().map(Secret::expose),
            event_subscriptions: Some(EventSubscription::NONE),
            broadcast_capacity: 1,
            connect_timeout: limit,
            dangerous: None,
        })
        .await?;
        let started = Instant::now();
        let version = client.general().version().await?;
        let rtt = started.elapsed();
        client.disconnect().await;
        Ok::<_, obws::error::Error>((version, rtt))
    };
    match tokio::time::timeout(limit, attempt).await {
        Err(_) => ProbeReport::failed(
            FailureKind::Timeout,
            format!(
                "no answer from {}:{} within {} ms",
                target.host,
                target.port,
                limit.as_millis()
            ),
        ),
        Ok(Err(error)) => {
            let failure = classify(&error, has_password);
            let message = if failure.kind == FailureKind::AuthFailed && target.password_withheld {
                format!(
                    "OBS at {}:{} asks for a password: give it as `password` in the request \
                     (the configured password is sent only to the configured host and port)",
                    target.host, target.port
                )
            } else {
                failure.message
            };
            ProbeReport::failed(failure.kind, message)
        }
        Ok(Ok((version, rtt))) => ProbeReport::Reachable {
            ok: true,
            obs_version: version.obs_studio_version.to_string(),
            websocket_version: version.obs_web_socket_version.to_string(),
            rtt_ms: (rtt.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn studio() -> InstanceConfig {
        InstanceConfig {
            name: "studio".into(),
            host: "obs.example".into(),
            port: 4455,
            password: Some(Secret::new("stored")),
        }
    }

    #[test]
    fn the_stored_password_goes_only_to_the_configured_server() {
        let same = ProbeTarget::resolve(&studio(), None, None, None);
        assert_eq!(same.password, Some(Secret::new("stored")));
        let spelled = ProbeTarget::resolve(&studio(), Some("OBS.example".into()), Some(4455), None);
        assert_eq!(spelled.password, Some(Secret::new("stored")));

        let other_port = ProbeTarget::resolve(&studio(), None, Some(4456), None);
        assert_eq!(
            (other_port.password, other_port.password_withheld),
            (None, true)
        );
        let other_host = ProbeTarget::resolve(&studio(), Some("127.0.0.1".into()), None, None);
        assert_eq!(
            (other_host.password, other_host.password_withheld),
            (None, true)
        );
        assert_eq!(
            (other_host.host.as_str(), other_host.port),
            ("127.0.0.1", 4455)
        );
    }

    #[test]
    fn a_requested_password_is_used_anywhere_and_empty_means_none() {
        let given = Some(Secret::new("given"));
        let elsewhere = ProbeTarget::resolve(&studio(), None, Some(4456), given.clone());
        assert_eq!(
            (elsewhere.password, elsewhere.password_withheld),
            (given, false)
        );
        let none = ProbeTarget::resolve(&studio(), None, None, Some(Secret::new("")));
        assert_eq!((none.password, none.password_withheld), (None, false));
        let unconfigured = InstanceConfig {
            password: None,
            ..studio()
        };
        let open = ProbeTarget::resolve(&unconfigured, None, Some(4456), None);
        assert!(!open.password_withheld, "nothing was withheld");
    }
}
