//! The webhook part of the settings: `[[webhooks]]` endpoints, `[webhook_delivery]` tuning and
//! the callback secret, as plain data.
//!
//! Settings sit below the webhooks module (which reads them), so what needs webhook knowledge
//! is checked there, when the hub is built: an endpoint's URL rules, its event type names and
//! its instance filter (`declared_endpoints` in the webhooks module's settings). Here: the
//! numbers of `[webhook_delivery]` and the form of every secret.

use std::time::Duration;

use super::file::{FileDelivery, FileWebhook};
use crate::secret::{check_webhook_secret, Secret};

/// Delay before attempt N+1 after attempt N failed (attempt 1 is immediate). After the last
/// delay has been used, the delivery is given up: 7 attempts over about 1 h 42 min.
pub const RETRY_DELAYS: [Duration; 6] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
];

/// Endpoints declared in the config file and how deliveries are made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookSettings {
    /// `[[webhooks]]` (the callback base URL's endpoints are added at start).
    pub endpoints: Vec<DeclaredWebhook>,
    pub delivery: DeliverySettings,
}

/// One `[[webhooks]]` table: its secret checked, the rest checked by the webhooks module.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredWebhook {
    pub url: String,
    pub secret: Secret,
    /// None: every change but the stats.
    pub event_types: Option<Vec<String>>,
    pub instance: Option<String>,
}

impl DeclaredWebhook {
    /// An endpoint that wants every change but the stats, from every instance.
    pub fn receiver(url: impl Into<String>, secret: Secret) -> Self {
        Self {
            url: url.into(),
            secret,
            event_types: None,
            instance: None,
        }
    }
}

/// How deliveries are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    /// One attempt's limit, connection included.
    pub timeout: Duration,
    /// Attempts one endpoint may have under way at once.
    pub concurrency: usize,
    /// Where endpoints created through the API may point.
    pub destinations: DestinationRules,
    /// Endpoints that may be created through the API (declared ones do not count).
    pub max_endpoints: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            timeout: Duration::from_secs(10),
            concurrency: 4,
            destinations: DestinationRules::default(),
            max_endpoints: 100,
        }
    }
}

/// The delays between attempts: [`RETRY_DELAYS`] unless configured otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            delays: RETRY_DELAYS.to_vec(),
        }
    }
}

/// What the configuration allows beyond the public internet (`[webhook_delivery]`); applied by
/// the webhooks module's destination policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestinationRules {
    pub allow_loopback: bool,
    pub allow_private: bool,
    /// False keeps webhooks on this machine and its networks: `obs-hub demo` sets it, so that
    /// trying the demo (or fuzzing it) never posts simulated events to a real system.
    pub allow_public: bool,
}

impl Default for DestinationRules {
    fn default() -> Self {
        Self {
            allow_loopback: true,
            allow_private: false,
            allow_public: true,
        }
    }
}

/// Checks the file's webhook tables. Errors name the table and key, never a secret's value.
pub(super) fn resolve(
    hooks: Vec<FileWebhook>,
    delivery: &FileDelivery,
) -> Result<WebhookSettings, String> {
    let endpoints = hooks
        .into_iter()
        .enumerate()
        .map(|(index, hook)| declared_webhook(index, hook))
        .collect::<Result<_, _>>()?;
    Ok(WebhookSettings {
        endpoints,
        delivery: resolve_delivery(delivery)?,
    })
}

fn declared_webhook(index: usize, hook: FileWebhook) -> Result<DeclaredWebhook, String> {
    let at = format!("[[webhooks]] #{}", index + 1);
    let url = hook.url.trim();
    let Some(secret) = hook.secret else {
        return Err(format!(
            "{at} secret: required for `{url}` (`whsec_` + base64 of 32 random bytes, e.g. \
             `echo whsec_$(openssl rand -base64 32)`); the receiver verifies with it"
        ));
    };
    check_webhook_secret(&secret).map_err(|error| format!("{at} secret: {error}"))?;
    Ok(DeclaredWebhook {
        url: hook.url,
        secret,
        event_types: hook.event_types,
        instance: hook.instance,
    })
}

fn resolve_delivery(delivery: &FileDelivery) -> Result<DeliverySettings, String> {
    let defaults = DeliverySettings::default();
    let schedule = match &delivery.retry_delays_ms {
        None => defaults.schedule,
        Some(delays) if delays.contains(&0) => {
            return Err(
                "[webhook_delivery] retry_delays_ms: every delay must be greater than 0".into(),
            )
        }
        Some(delays) => RetrySchedule {
            delays: delays.iter().map(|ms| Duration::from_millis(*ms)).collect(),
        },
    };
    let timeout = match delivery.timeout_ms {
        None => defaults.timeout,
        Some(0) => return Err("[webhook_delivery] timeout_ms must be greater than 0".into()),
        Some(ms) => Duration::from_millis(ms),
    };
    let concurrency = match delivery.concurrency {
        None => defaults.concurrency,
        Some(0) => return Err("[webhook_delivery] concurrency must be at least 1".into()),
        Some(n) => n,
    };
    let destinations = DestinationRules {
        allow_loopback: delivery
            .allow_loopback
            .unwrap_or(defaults.destinations.allow_loopback),
        allow_private: delivery
            .allow_private
            .unwrap_or(defaults.destinations.allow_private),
        allow_public: delivery
            .allow_public
            .unwrap_or(defaults.destinations.allow_public),
    };
    let max_endpoints = match delivery.max_endpoints {
        None => defaults.max_endpoints,
        Some(0) => {
            return Err(
                "[webhook_delivery] max_endpoints must be at least 1 (to refuse every \
                 endpoint, give the API a token nobody has)"
                    .into(),
            )
        }
        Some(n) => n,
    };
    Ok(DeliverySettings {
        schedule,
        timeout,
        concurrency,
        destinations,
        max_endpoints,
    })
}

/// `OBS_HUB_CALLBACK_SECRET`: trimmed, empty = none, else a Standard Webhooks secret.
pub(super) fn resolve_callback_secret(secret: Option<Secret>) -> Result<Option<Secret>, String> {
    let Some(secret) = secret
        .map(|s| Secret::new(s.expose().trim()))
        .filter(|s| !s.expose().is_empty())
    else {
        return Ok(None);
    };
    check_webhook_secret(&secret)?;
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn the_callback_secret_is_checked() {
        assert_eq!(resolve_callback_secret(None), Ok(None));
        assert_eq!(resolve_callback_secret(Some(Secret::new("  "))), Ok(None));
        assert!(resolve_callback_secret(Some(Secret::new(SECRET)))
            .unwrap()
            .is_some());
        assert!(resolve_callback_secret(Some(Secret::new("short"))).is_err());
    }
}
