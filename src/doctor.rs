//! `obs-hub doctor`: the seed's troubleshooting list, automated. Each check prints ✓ or ✗ and,
//! for ✗, what to do, in words a streamer understands. Checks that depend on a failed one are
//! not run (a wrong password says nothing about events).

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use obws::{client::ConnectConfig, events::Event, Client};

use rustls::pki_types::{pem::PemObject, CertificateDer};

use crate::{
    config::{InstanceConfig, Settings},
    obs::failure::{classify, error_chain, FailureKind},
    tls::TlsSettings,
};

const STEP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// Information rather than a verdict (printed with `–`, never a failure): a hub not running
    /// yet is expected when doctor is the first thing run.
    pub note: bool,
    pub detail: String,
    /// What to do about a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            note: false,
            detail: detail.into(),
            fix: None,
        }
    }

    fn note(name: impl Into<String>, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            note: true,
            detail: detail.into(),
            fix: Some(hint.into()),
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: false,
            note: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mark, lead) = match (self.ok, self.note) {
            (false, _) => ('✗', "fix"),
            (true, true) => ('–', "to"),
            (true, false) => ('✓', "fix"),
        };
        write!(f, "{mark} {}: {}", self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    {lead}: {fix}")?;
        }
        Ok(())
    }
}

/// Runs every check; the hub's own settings say what to check. A hub that does not answer is a
/// failure only when `require_hub` (`--require-hub`) asks for one: doctor is naturally run before
/// `serve`.
pub async fn run(settings: &Settings, require_hub: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    for instance in &settings.instances {
        check_instance(instance, &mut checks).await;
    }
    if let Some(url) = &settings.callback_base_url {
        checks.push(check_callback_url(url).await);
    }
    checks.push(check_running_hub(settings, require_hub).await);
    checks
}

async fn check_instance(instance: &InstanceConfig, checks: &mut Vec<Check>) {
    let label = |what: &str| format!("[{}] {what}", instance.name);
    let address = format!("{}:{}", instance.host, instance.port);

    let tcp = tokio::time::timeout(
        STEP_TIMEOUT,
        tokio::net::TcpStream::connect((instance.host.as_str(), instance.port)),
    )
    .await;
    match tcp {
        Ok(Ok(_)) => checks.push(Check::pass(
            label("OBS reachable"),
            format!("something listens on {address}"),
        )),
        Ok(Err(error)) => {
            checks.push(Check::fail(
                label("OBS reachable"),
                format!("nothing answers on {address} ({error})"),
                format!(
                    "start OBS Studio, then in OBS open Tools > WebSocket Server Settings, tick \
                     \"Enable WebSocket server\" and check the port is {}; OBS_WEBSOCKET_HOST and \
                     OBS_WEBSOCKET_PORT must point at that machine and port",
                    instance.port
                ),
            ));
            return;
        }
        Err(_) => {
            checks.push(Check::fail(
                label("OBS reachable"),
                format!(
                    "no answer from {address} within {} s",
                    STEP_TIMEOUT.as_secs()
                ),
                "check the host address, and that no firewall blocks the port between this \
                 machine and the OBS machine",
            ));
            return;
        }
    }

    let has_password = instance.password.is_some();
    let connected = Client::connect_with_config(ConnectConfig {
        host: instance.host.as_str(),
        port: instance.port,
        password: instance.password.as_ref().map(|secret| secret.expose()),
        event_subscriptions: None,
        broadcast_capacity: 64,
        connect_timeout: STEP_TIMEOUT,
        dangerous: None,
    })
    .await;
    let client = match connected {
        Ok(client) => client,
        Err(error) => {
            let failure = classify(&error, has_password);
            let greeted = || {
                Check::pass(
                    label("WebSocket server answering"),
                    "obs-websocket greeted the hub",
                )
            };
            match failure.kind {
                FailureKind::AuthFailed => checks.extend([
                    greeted(),
                    Check::fail(
                        label("password"),
                        failure.message,
                        "in OBS open Tools > WebSocket Server Settings > Show Connect Info, and \
                         copy the password into OBS_WEBSOCKET_PASSWORD (or the [[obs]] password)",
                    ),
                ]),
                FailureKind::Incompatible => checks.extend([
                    greeted(),
                    Check::pass(label("password"), "accepted"),
                    Check::fail(
                        label("OBS version"),
                        failure.message,
                        "update OBS Studio to 30.2 or newer (obs-websocket 5.5 comes with it)",
                    ),
                ]),
                FailureKind::Timeout | FailureKind::Unreachable | FailureKind::NotObsWebsocket => {
                    checks.push(Check::fail(
                        label("WebSocket server answering"),
                        failure.message,
                        format!(
                            "something listens on {address} but does not speak obs-websocket v5: \
                         check the port in OBS's Tools > WebSocket Server Settings"
                        ),
                    ))
                }
            }
            return;
        }
    };
    checks.push(Check::pass(
        label("WebSocket server answering"),
        "obs-websocket greeted the hub",
    ));
    checks.push(Check::pass(
        label("password"),
        if has_password {
            "accepted"
        } else {
            "none needed"
        },
    ));
    match client.general().version().await {
        Ok(version) => checks.push(Check::pass(
            label("OBS version"),
            format!(
                "OBS Studio {} with obs-websocket {} (supported)",
                version.obs_studio_version, version.obs_web_socket_version
            ),
        )),
        Err(error) => checks.push(Check::fail(
            label("OBS version"),
            error_chain(&error),
            "OBS answered the handshake but not GetVersion: restart OBS and run doctor again",
        )),
    }
    let events = match check_events(&client).await {
        Ok(detail) => Check::pass(label("events arrive"), detail),
        Err(detail) => Check::fail(
            label("events arrive"),
            detail,
            "OBS accepts requests but sends no events: restart OBS; if it persists, update OBS",
        ),
    };
    checks.push(events);
}

/// Sends a custom event through OBS and waits for it to come back: the round trip every status
/// push depends on.
async fn check_events(client: &Client) -> Result<String, String> {
    let mut events = client.events().map_err(|error| error_chain(&error))?;
    let marker = format!("obs-hub-doctor-{}", uuid::Uuid::new_v4());
    let started = Instant::now();
    client
        .general()
        .broadcast_custom_event(&serde_json::json!({ "obs_hub_doctor": marker }))
        .await
        .map_err(|error| format!("BroadcastCustomEvent failed: {}", error_chain(&error)))?;
    let arrived = tokio::time::timeout(STEP_TIMEOUT, async {
        while let Some(event) = events.next().await {
            if let Event::CustomEvent(data) = event {
                if data["obs_hub_doctor"] == marker.as_str() {
                    return true;
                }
            }
        }
        false
    })
    .await;
    match arrived {
        Ok(true) => Ok(format!(
            "a test event came back in {} ms",
            started.elapsed().as_millis()
        )),
        Ok(false) => Err("the event stream ended before the test event came back".to_string()),
        Err(_) => Err(format!(
            "the test event did not come back within {} s",
            STEP_TIMEOUT.as_secs()
        )),
    }
}

async fn check_callback_url(url: &str) -> Check {
    let client = awc::Client::builder().timeout(STEP_TIMEOUT).finish();
    match client.get(url).send().await {
        Ok(response) => Check::pass(
            "callback base URL reachable",
            format!("{url} answered HTTP {}", response.status().as_u16()),
        ),
        Err(error) => Check::fail(
            "callback base URL reachable",
            format!("{url}: {error}"),
            "check OBS_CALLBACK_BASE_URL and that the receiving server is running and reachable \
             from this machine",
        ),
    }
}

async fn check_running_hub(settings: &Settings, require_hub: bool) -> Check {
    let host = if settings.bind.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        settings.bind.ip().to_string()
    };
    let (scheme, client) = match hub_client(&settings.tls) {
        Ok(found) => found,
        Err(detail) => return hub_not_answering(detail, require_hub),
    };
    let url = format!("{scheme}://{host}:{}/healthz", settings.bind.port());
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            Check::pass("hub running", format!("a hub answers at {}", settings.bind))
        }
        Ok(response) => Check::fail(
            "hub running",
            format!("{url} answered HTTP {}", response.status().as_u16()),
            "something else listens on the hub's address: change OBS_HUB_BIND",
        ),
        Err(error) => hub_not_answering(
            format!("no hub answers at {} ({error})", settings.bind),
            require_hub,
        ),
    }
}

/// A client for the hub's own listener: over HTTPS it trusts exactly the hub's certificate (a
/// self-signed one is in no trust store), so it needs the file; `serve` makes a self-signed one
/// on first start.
fn hub_client(tls: &TlsSettings) -> Result<(&'static str, awc::Client), String> {
    let builder = awc::Client::builder().timeout(STEP_TIMEOUT);
    let cert = match tls {
        TlsSettings::Off => return Ok(("http", builder.finish())),
        TlsSettings::Files { cert, .. } => cert.clone(),
        TlsSettings::SelfSigned { dir, .. } => dir.join(crate::tls::SELF_SIGNED_CERT),
    };
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).map_err(|error| {
        format!(
            "HTTPS is on but {} cannot be read ({error})",
            cert.display()
        )
    })?;
    for der in CertificateDer::pem_slice_iter(&pem).flatten() {
        // A chain's intermediates are not anchors: ignoring the ones refused loses nothing.
        let _ = roots.add(der);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|error| error.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = awc::Connector::new().rustls_0_23(Arc::new(config));
    Ok(("https", builder.connector(connector).finish()))
}

/// No hub at the address: information before `serve` has run, a failure when one is required.
fn hub_not_answering(detail: String, require_hub: bool) -> Check {
    const START: &str = "start it with `obs-hub serve` (or `systemctl start obs-hub`)";
    if require_hub {
        Check::fail("hub running", detail, START)
    } else {
        Check::note("hub running", detail, START)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_print_their_fix() {
        let check = Check::fail("[default] password", "OBS refused the password", "copy it");
        assert_eq!(
            check.to_string(),
            "✗ [default] password: OBS refused the password\n    fix: copy it"
        );
        assert_eq!(
            Check::pass("hub running", "ok").to_string(),
            "✓ hub running: ok"
        );
    }

    #[test]
    fn a_missing_hub_fails_only_when_required() {
        let expected = hub_not_answering("no hub answers".into(), false);
        assert!(expected.ok, "a hub not started yet is information");
        assert_eq!(
            expected.to_string(),
            "– hub running: no hub answers\n    to: start it with `obs-hub serve` (or `systemctl \
             start obs-hub`)"
        );
        assert!(!hub_not_answering("no hub answers".into(), true).ok);
    }
}
