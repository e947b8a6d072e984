//! Webhook endpoints: where deliveries go, what they want, and the checks on what people send.
//!
//! Endpoints come from three places, recorded as their `source`: the config file
//! (`[[webhooks]]`), `OBS_CALLBACK_BASE_URL` (one endpoint per seed callback route), and the API.
//! The first two are declared: they are brought in line with the configuration at every start.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{EventType, Filter};
use crate::config::{is_instance_name, split_authority};
/// A secret someone gave: Standard Webhooks form, long enough (the error never repeats it).
pub use crate::secret::check_webhook_secret as check_secret;
use crate::secret::Secret;

const MAX_URL_LENGTH: usize = 2048;

/// Where an endpoint comes from: `config` (`[[webhooks]]`), `callback` (the callback base URL)
/// or `api`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointSource {
    Config,
    Callback,
    Api,
}

impl EndpointSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Callback => "callback",
            Self::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Config, Self::Callback, Self::Api]
            .into_iter()
            .find(|source| source.as_str() == text)
    }

    /// Declared endpoints are rewritten from the configuration at every start: the API may only
    /// switch them on and off.
    pub fn is_declared(self) -> bool {
        self != Self::Api
    }
}

#[derive(Clone, PartialEq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// None: messages go unsigned (only callback endpoints while no callback secret is set).
    pub secret: Option<Secret>,
    pub filter: Filter,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub source: EndpointSource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret is a `Secret` (prints as ***); spelled out to keep it that way.
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("signed", &self.secret.is_some())
            .field("filter", &self.filter)
            .field("enabled", &self.enabled)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What the API shows of an endpoint: everything but the secret.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub instance: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub source: EndpointSource,
    /// False for a callback endpoint while no callback secret is configured.
    pub signed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Endpoint> for EndpointView {
    fn from(endpoint: &Endpoint) -> Self {
        Self {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            event_types: endpoint.filter.event_types.clone(),
            instance: endpoint.filter.instance.clone(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            source: endpoint.source,
            signed: endpoint.secret.is_some(),
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
        }
    }
}

/// An endpoint the configuration asks for (config file or callback base URL).
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredEndpoint {
    pub url: String,
    pub secret: Option<Secret>,
    pub filter: Filter,
    pub source: EndpointSource,
}

impl DeclaredEndpoint {
    /// An endpoint as `[[webhooks]]` declares it: every change but the stats, every instance
    /// (the benchmark starts a dispatcher with one of these).
    pub fn receiver(url: impl Into<String>, secret: Secret) -> Self {
        Self {
            url: url.into(),
            secret: Some(secret),
            filter: Filter {
                event_types: EventType::defaults(),
                instance: None,
            },
            source: EndpointSource::Config,
        }
    }
}

/// A new endpoint from the API, checked.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    pub url: String,
    pub secret: Secret,
    pub filter: Filter,
    pub enabled: bool,
}

/// Changes to an endpoint from the API, checked. `instance: Some(None)` clears the filter.
#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub secret: Option<Secret>,
    pub event_types: Option<Vec<EventType>>,
    pub instance: Option<Option<String>>,
    pub enabled: Option<bool>,
}

impl EndpointPatch {
    /// Whether the patch touches more than `enabled` (refused on declared endpoints).
    pub fn changes_definition(&self) -> bool {
        self.url.is_some()
            || self.secret.is_some()
            || self.event_types.is_some()
            || self.instance.is_some()
    }
}

/// The endpoint after a (checked) patch. Declared endpoints may only be switched on and off:
/// their definition is the configuration's. Enabling clears the reason it was disabled for.
pub fn apply_patch(
    current: &Endpoint,
    patch: EndpointPatch,
    now: DateTime<Utc>,
) -> Result<Endpoint, String> {
    if current.source.is_declared() && patch.changes_definition() {
        return Err(format!(
            "webhook endpoint `{}` comes from the {}; change it there (only `enabled` can be \
             changed here)",
            current.id,
            match current.source {
                EndpointSource::Callback => "callback base URL (OBS_CALLBACK_BASE_URL)",
                _ => "config file ([[webhooks]])",
            }
        ));
    }
    let mut updated = current.clone();
    if let Some(url) = patch.url {
        updated.url = url;
    }
    if let Some(secret) = patch.secret {
        updated.secret = Some(secret);
    }
    if let Some(event_types) = patch.event_types {
        updated.filter.event_types = event_types;
    }
    if let Some(instance) = patch.instance {
        updated.filter.instance = instance;
    }
    match patch.enabled {
        Some(true) => {
            updated.enabled = true;
            updated.disabled_reason = None;
        }
        Some(false) if current.enabled => {
            updated.enabled = false;
            updated.disabled_reason = Some("disabled through the API".to_string());
        }
        _ => {}
    }
    updated.updated_at = now;
    Ok(updated)
}

pub fn new_endpoint_id() -> String {
    format!("ep_{}", uuid::Uuid::new_v4().simple())
}

/// A `webhook-id`: unique per message, kept across retries.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// An http(s) URL with a host, as given (trimmed). Errors say what is wrong, without the field
/// name (callers add it).
pub fn check_url(url: &str) -> Result<String, String> {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("`{url}` must start with http:// or https://"));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(format!("`{url}` must start with http:// or https://"));
    }
    if url.len() > MAX_URL_LENGTH {
        return Err(format!("longer than {MAX_URL_LENGTH} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".to_string());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if split_authority(authority).is_none() {
        return Err(format!(
            "`{url}` has no valid host[:port] (user info is not accepted either)"
        ));
    }
    // awc must accept it too; this also catches what the checks above let through.
    url.parse::<awc::http::Uri>()
        .map_err(|error| format!("`{url}` is not a valid URL: {error}"))?;
    Ok(url.to_string())
}

/// Event type names as given; an empty list is refused (an endpoint that wants nothing is a
/// disabled one).
pub fn check_event_types(names: &[String]) -> Result<Vec<EventType>, String> {
    if names.is_empty() {
        return Err(format!(
            "must name at least one of: {} (leave it out for all but stats_updated)",
            EventType::names()
        ));
    }
    let mut kinds = Vec::new();
    for name in names {
        let kind: EventType = name.trim().parse()?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds.sort();
    Ok(kinds)
}

/// Instance filters use the instance-name rules of the config file.
pub fn check_instance(name: &str) -> Result<(), String> {
    if is_instance_name(name) {
        Ok(())
    } else {
        Err(format!("`{name}` must be 1-64 letters, digits, '-' or '_'"))
    }
}

/// The seed's callback routes, and the change each one is told about (the kinds whose callback
/// rule names a flat route).
pub fn callback_routes() -> impl Iterator<Item = (&'static str, EventType)> {
    EventType::all().filter_map(|kind| {
        let route = kind.descriptor().callback.as_ref()?.route?;
        Some((route, kind))
    })
}

/// `OBS_CALLBACK_BASE_URL` as endpoints: `{base}/api/callback/scene-change/` for scene changes,
/// and so on, for every instance.
pub fn callback_endpoints(base: &str, secret: Option<&Secret>) -> Vec<DeclaredEndpoint> {
    let base = base.trim().trim_end_matches('/');
    callback_routes()
        .map(|(route, kind)| DeclaredEndpoint {
            url: format!("{base}/api/callback/{route}/"),
            secret: secret.cloned(),
            filter: Filter {
                event_types: vec![kind],
                instance: None,
            },
            source: EndpointSource::Callback,
        })
        .collect()
}

/// An enabled endpoint made through the API, with a fresh secret and the given event types:
/// the fixture the webhook tests start from.
#[cfg(test)]
pub(crate) fn api_endpoint(url: &str, event_types: Vec<EventType>) -> Endpoint {
    Endpoint {
        id: new_endpoint_id(),
        url: url.into(),
        secret: Some(super::signing::generate_secret()),
        filter: Filter {
            event_types,
            instance: None,
        },
        enabled: true,
        disabled_reason: None,
        source: EndpointSource::Api,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str) -> EventType {
        EventType::named(name).unwrap()
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert_eq!(
            check_url(" https://example.com/hook?x=1 ").as_deref(),
            Ok("https://example.com/hook?x=1")
        );
        assert!(check_url("http://127.0.0.1:9000/").is_ok());
        assert!(check_url("http://[::1]:9000/in").is_ok());
        for bad in [
            "example.com/hook",
            "ftp://example.com/",
            "http://",
            "http:///path",
            "http://user:pw@example.com/",
            "http://example.com:99999/",
            "http://exa mple.com/",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_types_come_from_the_list() {
        let kinds = check_event_types(&["streaming_changed".into(), "scene_changed".into()]);
        assert_eq!(
            kinds,
            Ok(vec![kind("scene_changed"), kind("streaming_changed")])
        );
        assert!(check_event_types(&[]).is_err());
        let error = check_event_types(&["scene_change".into()]).unwrap_err();
        assert!(error.contains("`scene_change`"), "{error}");
    }

    #[test]
    fn the_callback_base_url_gives_the_seed_routes() {
        let declared = callback_endpoints("http://hub-b:8000/", None);
        let urls: Vec<_> = declared.iter().map(|d| d.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://hub-b:8000/api/callback/scene-change/",
                "http://hub-b:8000/api/callback/streaming-change/",
                "http://hub-b:8000/api/callback/connection-change/",
            ]
        );
        assert_eq!(declared[1].filter.event_types, [kind("streaming_changed")]);
        assert!(declared
            .iter()
            .all(|d| d.source == EndpointSource::Callback));
    }

    #[test]
    fn patches_change_api_endpoints_and_only_switch_declared_ones() {
        let mut endpoint = sample();
        let patched = apply_patch(
            &endpoint,
            EndpointPatch {
                event_types: Some(vec![kind("stats_updated")]),
                instance: Some(Some("booth".into())),
                enabled: Some(false),
                ..EndpointPatch::default()
            },
            Utc::now(),
        )
        .unwrap();
        assert_eq!(patched.filter.event_types, [kind("stats_updated")]);
        assert_eq!(patched.filter.instance.as_deref(), Some("booth"));
        assert!(!patched.enabled && patched.disabled_reason.is_some());
        assert_eq!(patched.secret, endpoint.secret, "the secret is kept");
        let enabled = apply_patch(
            &patched,
            EndpointPatch {
                enabled: Some(true),
                instance: Some(None),
                ..EndpointPatch::default()
            },
            Utc::now(),
        )
        .unwrap();
        assert!(enabled.enabled && enabled.disabled_reason.is_none());
        assert_eq!(enabled.filter.instance, None);

        endpoint.source = EndpointSource::Callback;
        let refused = apply_patch(
            &endpoint,
            EndpointPatch {
                url: Some("http://elsewhere/".into()),
                ..EndpointPatch::default()
            },
            Utc::now(),
        )
        .unwrap_err();
        assert!(refused.contains("OBS_CALLBACK_BASE_URL"), "{refused}");
        let switched = EndpointPatch {
            enabled: Some(false),
            ..EndpointPatch::default()
        };
        assert!(apply_patch(&endpoint, switched, Utc::now()).is_ok());
    }

    fn sample() -> Endpoint {
        api_endpoint("http://x/", vec![kind("scene_changed")])
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let endpoint = sample();
        let secret = endpoint
            .secret
            .clone()
            .expect("sample endpoints are signed");
        assert!(!format!("{endpoint:?}").contains(secret.expose()));
        let view = serde_json::to_string(&EndpointView::from(&endpoint)).unwrap();
        assert!(!view.contains(secret.expose()));
        assert!(new_message_id().starts_with("msg_"));
    }
}
