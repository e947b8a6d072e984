//! The webhook part of the configuration: `[[webhooks]]` endpoints, `[webhook_delivery]` tuning
//! and the callback secret. [`crate::config`] reads the file and calls [`resolve`].

use std::time::Duration;

use serde::Deserialize;

use super::{
    destination::DestinationRules,
    dispatcher::DeliverySettings,
    endpoint::{self, DeclaredEndpoint, EndpointSource},
    events::{EventType, Filter},
    outbox::RetrySchedule,
};
use crate::config::Secret;

/// Endpoints declared in the config file and how deliveries are made.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookSettings {
    /// `[[webhooks]]` (the callback base URL's endpoints are added at start).
    pub endpoints: Vec<DeclaredEndpoint>,
    pub delivery: DeliverySettings,
}

/// One `[[webhooks]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebhook {
    url: String,
    secret: Option<Secret>,
    event_types: Option<Vec<String>>,
    instance: Option<String>,
}

/// `[webhook_delivery]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDelivery {
    retry_delays_ms: Option<Vec<u64>>,
    timeout_ms: Option<u64>,
    concurrency: Option<usize>,
    allow_loopback: Option<bool>,
    allow_private: Option<bool>,
    allow_public: Option<bool>,
    max_endpoints: Option<usize>,
}

/// Checks the file's webhook tables. Errors name the table and key, never a secret's value.
pub fn resolve(
    hooks: Vec<FileWebhook>,
    delivery: &FileDelivery,
) -> Result<WebhookSettings, String> {
    let mut endpoints: Vec<DeclaredEndpoint> = Vec::new();
    for (index, hook) in hooks.into_iter().enumerate() {
        let at = format!("[[webhooks]] #{}", index + 1);
        let url = endpoint::check_url(&hook.url).map_err(|error| format!("{at} url: {error}"))?;
        if endpoints.iter().any(|e| e.url == url) {
            return Err(format!("{at} url `{url}` is declared twice"));
        }
        let Some(secret) = hook.secret else {
            return Err(format!(
                "{at} secret: required for `{url}` (`whsec_` + base64 of 32 random bytes, e.g. \
                 `echo whsec_$(openssl rand -base64 32)`); the receiver verifies with it"
            ));
        };
        endpoint::check_secret(&secret).map_err(|error| format!("{at} secret: {error}"))?;
        let event_types = match &hook.event_types {
            None => EventType::defaults(),
            Some(names) => endpoint::check_event_types(names)
                .map_err(|error| format!("{at} event_types: {error}"))?,
        };
        if let Some(instance) = &hook.instance {
            endpoint::check_instance(instance)
                .map_err(|error| format!("{at} instance: {error}"))?;
        }
        endpoints.push(DeclaredEndpoint {
            url,
            secret: Some(secret),
            filter: Filter {
                event_types,
                instance: hook.instance,
            },
            source: EndpointSource::Config,
        });
    }
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
    Ok(WebhookSettings {
        endpoints,
        delivery: DeliverySettings {
            schedule,
            timeout,
            concurrency,
            destinations,
            max_endpoints,
        },
    })
}

/// `OBS_HUB_CALLBACK_SECRET`: trimmed, empty = none, else a Standard Webhooks secret.
pub fn resolve_callback_secret(secret: Option<Secret>) -> Result<Option<Secret>, String> {
    let Some(secret) = secret
        .map(|s| Secret::new(s.expose().trim()))
        .filter(|s| !s.expose().is_empty())
    else {
        return Ok(None);
    };
    endpoint::check_secret(&secret)?;
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        webhooks: Vec<FileWebhook>,
        #[serde(default)]
        webhook_delivery: FileDelivery,
    }

    fn resolve_text(text: &str) -> Result<WebhookSettings, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        resolve(file.webhooks, &file.webhook_delivery)
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn webhooks_from_the_file() {
        let settings = resolve_text(&format!(
            "[[webhooks]]\nurl = \"http://127.0.0.1:9000/in\"\nsecret = \"{SECRET}\"\n\
             [[webhooks]]\nurl = \"https://example.com/obs\"\nsecret = \"{SECRET}\"\n\
             event_types = [\"stats_updated\"]\ninstance = \"booth\"\n\
             [webhook_delivery]\nretry_delays_ms = [100, 200]\nconcurrency = 2\n\
             allow_loopback = false\nallow_private = true\nallow_public = false\n\
             max_endpoints = 7\n"
        ))
        .unwrap();
        assert_eq!(
            settings.delivery.destinations,
            DestinationRules {
                allow_loopback: false,
                allow_private: true,
                allow_public: false,
            }
        );
        assert_eq!(settings.delivery.max_endpoints, 7);
        let defaults = resolve_text("").unwrap().delivery;
        assert!(defaults.destinations.allow_loopback && !defaults.destinations.allow_private);
        assert!(defaults.destinations.allow_public);
        assert_eq!(defaults.max_endpoints, 100);
        assert_eq!(settings.endpoints.len(), 2);
        assert_eq!(
            settings.endpoints[0].filter.event_types,
            EventType::defaults()
        );
        assert_eq!(
            settings.endpoints[1].filter.instance.as_deref(),
            Some("booth")
        );
        assert_eq!(
            settings.delivery.schedule.delays,
            [Duration::from_millis(100), Duration::from_millis(200)]
        );
        assert_eq!(settings.delivery.concurrency, 2);
        assert_eq!(settings.delivery.timeout, Duration::from_secs(10));
    }

    #[test]
    fn mistakes_are_named_and_secrets_never_repeated() {
        for (text, mentions) in [
            (
                "[[webhooks]]\nurl = \"ftp://x/\"\nsecret = \"S\"\n",
                "#1 url",
            ),
            ("[[webhooks]]\nurl = \"http://x/\"\n", "#1 secret: required"),
            (
                "[[webhooks]]\nurl = \"http://x/\"\nsecret = \"hunter2 hunter2\"\n",
                "#1 secret",
            ),
            (
                "[[webhooks]]\nurl = \"http://x/\"\nsecret = \"S\"\nevent_types = [\"scene\"]\n",
                "event_types",
            ),
            (
                "[webhook_delivery]\nretry_delays_ms = [0]\n",
                "retry_delays_ms",
            ),
            ("[webhook_delivery]\nconcurrency = 0\n", "concurrency"),
            ("[webhook_delivery]\nmax_endpoints = 0\n", "max_endpoints"),
            (
                "[webhook_delivery]\nallow_private = \"yes\"\n",
                "allow_private",
            ),
        ] {
            let text = text.replace("\"S\"", &format!("\"{SECRET}\""));
            let error = resolve_text(&text).unwrap_err();
            assert!(error.contains(mentions), "{text}: {error}");
            assert!(
                !error.contains("hunter2") && !error.contains(SECRET),
                "{error}"
            );
        }
        let twice = format!(
            "[[webhooks]]\nurl = \"http://x/\"\nsecret = \"{SECRET}\"\n\
             [[webhooks]]\nurl = \"http://x/\"\nsecret = \"{SECRET}\"\n"
        );
        assert!(resolve_text(&twice).unwrap_err().contains("twice"));
    }

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
