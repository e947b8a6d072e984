//! One-off connection test (`POST /api/test-connection/`), apart from the persistent links.

use std::time::{Duration, Instant};

use obws::{client::ConnectConfig, requests::EventSubscription, Client};
use serde::Serialize;
use utoipa::ToSchema;

use super::failure::{classify, FailureKind};
use crate::config::Secret;

#[derive(Clone, Debug)]
pub struct ProbeTarget {
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
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
            ProbeReport::failed(failure.kind, failure.message)
        }
        Ok(Ok((version, rtt))) => ProbeReport::Reachable {
            ok: true,
            obs_version: version.obs_studio_version.to_string(),
            websocket_version: version.obs_web_socket_version.to_string(),
            rtt_ms: (rtt.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        },
    }
}
