//! The webhook endpoints the configuration declares, made into [`DeclaredEndpoint`]s when the
//! hub is built. [`crate::config::webhook_settings`] holds the settings as plain data and checks what
//! needs no webhook knowledge; here: each `[[webhooks]]` URL, event type names and instance
//! filter. A mistake stops start-up like any bad setting (exit 2, one line naming the key).

use super::{
    endpoint::{self, DeclaredEndpoint, EndpointSource},
    events::{EventType, Filter},
};
use crate::config::webhook_settings::{DeclaredWebhook, WebhookSettings};

/// The `[[webhooks]]` endpoints, checked. Errors name the table and key, never a secret's value.
pub fn declared_endpoints(settings: &WebhookSettings) -> Result<Vec<DeclaredEndpoint>, String> {
    let mut endpoints: Vec<DeclaredEndpoint> = Vec::new();
    for (index, hook) in settings.endpoints.iter().enumerate() {
        let endpoint = declared_endpoint(&format!("[[webhooks]] #{}", index + 1), hook)?;
        if endpoints.iter().any(|e| e.url == endpoint.url) {
            return Err(format!(
                "[[webhooks]] #{} url `{}` is declared twice",
                index + 1,
                endpoint.url
            ));
        }
        endpoints.push(endpoint);
    }
    Ok(endpoints)
}

fn declared_endpoint(at: &str, hook: &DeclaredWebhook) -> Result<DeclaredEndpoint, String> {
    let url = endpoint::check_url(&hook.url).map_err(|error| format!("{at} url: {error}"))?;
    let event_types = match &hook.event_types {
        None => EventType::defaults(),
        Some(names) => endpoint::check_event_types(names)
            .map_err(|error| format!("{at} event_types: {error}"))?,
    };
    if let Some(instance) = &hook.instance {
        endpoint::check_instance(instance).map_err(|error| format!("{at} instance: {error}"))?;
    }
    Ok(DeclaredEndpoint {
        url,
        secret: Some(hook.secret.clone()),
        filter: Filter {
            event_types,
            instance: hook.instance.clone(),
        },
        source: EndpointSource::Config,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{
        webhook_settings::{DeliverySettings, DestinationRules},
        Overrides, Settings,
    };

    /// What the hub makes of a config file's webhook tables.
    #[derive(Debug)]
    struct Resolved {
        endpoints: Vec<DeclaredEndpoint>,
        delivery: DeliverySettings,
    }

    fn resolve_text(text: &str) -> Result<Resolved, String> {
        let settings = Settings::resolve(Some(("hub.toml", text)), Overrides::default())
            .map_err(|e| e.to_string())?;
        Ok(Resolved {
            endpoints: declared_endpoints(&settings.webhooks)?,
            delivery: settings.webhooks.delivery,
        })
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
}
