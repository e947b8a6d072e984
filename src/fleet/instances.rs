//! OBS instances added, changed and removed through the API while the hub runs.
//!
//! [`ManagedInstances`] remembers which instances the API made (the config file's are
//! read-only through it) and where the hub listens (an instance may not point back at it). The
//! bodies of the routes and the rules they pass are here as plain types and functions:
//! [`NewInstance`], [`InstanceChanges`], [`check_host`], [`check_destination`].

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, RwLock},
};

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::{
    config::{is_instance_name, InstanceConfig, Secret},
    error::ApiError,
    webhooks::destination::{is_local_address, DestinationPolicy, DestinationRules},
};

/// Port obs-websocket listens on unless told otherwise.
const DEFAULT_PORT: u16 = 4455;

/// The instances made through the API, by name. Clones share one registry.
#[derive(Clone, Debug, Default)]
pub struct ManagedInstances {
    instances: Arc<RwLock<BTreeMap<String, InstanceConfig>>>,
    /// Where the hub listens: an instance pointing there would be the hub talking to itself.
    hub_address: Option<SocketAddr>,
}

impl ManagedInstances {
    pub fn new(stored: Vec<InstanceConfig>, hub_address: Option<SocketAddr>) -> Self {
        Self {
            instances: Arc::new(RwLock::new(
                stored
                    .into_iter()
                    .map(|instance| (instance.name.clone(), instance))
                    .collect(),
            )),
            hub_address,
        }
    }

    pub fn get(&self, name: &str) -> Option<InstanceConfig> {
        self.read(|instances| instances.get(name).cloned())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.read(|instances| instances.contains_key(name))
    }

    /// Adds `instance` unless one of that name is managed already (answers whether it did).
    pub(crate) fn insert_new(&self, instance: InstanceConfig) -> bool {
        self.write(|instances| {
            if instances.contains_key(&instance.name) {
                return false;
            }
            instances.insert(instance.name.clone(), instance);
            true
        })
    }

    pub(crate) fn replace(&self, instance: InstanceConfig) {
        self.write(|instances| {
            instances.insert(instance.name.clone(), instance);
        });
    }

    pub(crate) fn remove(&self, name: &str) -> Option<InstanceConfig> {
        self.write(|instances| instances.remove(name))
    }

    pub fn hub_address(&self) -> Option<SocketAddr> {
        self.hub_address
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<String, InstanceConfig>) -> T) -> T {
        // A poisoned lock only means a writer panicked between two whole-value updates.
        match self.instances.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut BTreeMap<String, InstanceConfig>) -> T) -> T {
        match self.instances.write() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// `POST /api/instances/`: an OBS instance to connect to from now on.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "booth-a", "host": "127.0.0.1", "port": 4455, "password": "the password from OBS"}))]
pub struct NewInstance {
    /// 1-64 letters, digits, '-' or '_' (it appears in URLs).
    pub name: String,
    /// Host name or IP address of the OBS machine.
    pub host: String,
    /// obs-websocket's port; 4455 when left out.
    pub port: Option<u16>,
    /// obs-websocket's password; leave out when OBS asks for none. Never answered back.
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
}

/// `PATCH /api/instances/{name}`: what changes; the rest stays. `"password": null` removes the
/// password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"port": 4456}))]
pub struct InstanceChanges {
    pub host: Option<String>,
    pub port: Option<u16>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub password: Option<Option<Secret>>,
}

/// A field that is present, even as `null` (`Some(None)`), apart from one left out (`None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Secret>>, D::Error> {
    Option::<Secret>::deserialize(deserializer).map(Some)
}

/// How an instance made through the API is shown: never its password.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "booth-a", "host": "127.0.0.1", "port": 4455, "password_set": true, "origin": "api"}))]
pub struct ManagedInstanceView {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Whether a password is kept for it (the password itself is never answered).
    pub password_set: bool,
    /// Always `api`: instances of the config file cannot be made or changed here.
    pub origin: &'static str,
}

impl ManagedInstanceView {
    pub fn new(instance: &InstanceConfig) -> Self {
        Self {
            name: instance.name.clone(),
            host: instance.host.clone(),
            port: instance.port,
            password_set: instance.password.is_some(),
            origin: "api",
        }
    }
}

/// The instance a valid `POST /api/instances/` body makes; a 400 naming the field otherwise.
pub fn new_instance(body: NewInstance) -> Result<InstanceConfig, ApiError> {
    if !is_instance_name(&body.name) {
        return Err(ApiError::InvalidField(format!(
            "`name`: `{}` must be 1-64 letters, digits, '-' or '_'",
            body.name
        )));
    }
    let instance = InstanceConfig {
        name: body.name,
        host: body.host,
        port: body.port.unwrap_or(DEFAULT_PORT),
        password: body
            .password
            .filter(|password| !password.expose().is_empty()),
    };
    check_address(&instance)?;
    Ok(instance)
}

/// `instance` with `changes` applied, checked as a new one is.
pub fn changed_instance(
    mut instance: InstanceConfig,
    changes: InstanceChanges,
) -> Result<InstanceConfig, ApiError> {
    if let Some(host) = changes.host {
        instance.host = host;
    }
    if let Some(port) = changes.port {
        instance.port = port;
    }
    if let Some(password) = changes.password {
        instance.password = password.filter(|password| !password.expose().is_empty());
    }
    check_address(&instance)?;
    Ok(instance)
}

fn check_address(instance: &InstanceConfig) -> Result<(), ApiError> {
    check_host(&instance.host)
        .map_err(|problem| ApiError::InvalidField(format!("`host`: {problem}")))?;
    if instance.port == 0 {
        return Err(ApiError::InvalidField(
            "`port` must be between 1 and 65535".to_string(),
        ));
    }
    Ok(())
}

/// A host name or an IP address (IPv6 with or without brackets), nothing more: no scheme, path,
/// port, user or space.
pub fn check_host(host: &str) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.is_empty() {
        return Err("must not be empty".to_string());
    }
    if bare.len() > 253 {
        return Err("is longer than 253 characters".to_string());
    }
    if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(());
    }
    if host != bare {
        return Err(format!("`{host}` is not an IPv6 address in brackets"));
    }
    let name_like = bare.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if name_like {
        Ok(())
    } else {
        Err(format!(
            "`{host}` is not a host name or IP address (letters, digits, '-' and '.'; no scheme, \
             port or path)"
        ))
    }
}

/// Where the hub lets an instance made through the API point: the destination policy of
/// webhooks (`webhooks::destination`), with loopback, private and public addresses all allowed
/// (OBS machines sit on the studio's network), so what remains refused is what no OBS is:
/// unspecified, link-local (cloud metadata), multicast, broadcast and reserved addresses,
/// IPv4 in another form than `a.b.c.d`, and the hub's own listening address. A name is
/// checked for these forms only; it is resolved when connecting.
pub fn check_destination(
    instance: &InstanceConfig,
    hub_address: Option<SocketAddr>,
) -> Result<(), ApiError> {
    let policy = DestinationPolicy::new(
        DestinationRules {
            allow_loopback: true,
            allow_private: true,
            allow_public: true,
        },
        hub_address,
    );
    let host = instance.host.trim_start_matches('[').trim_end_matches(']');
    let authority = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    policy
        .check_url(
            &format!("http://{authority}:{}/", instance.port),
            is_local_address,
        )
        .map_err(|why| {
            ApiError::DestinationNotAllowed(format!(
                "`host`: an OBS instance may not be at {authority}:{}: {why}",
                instance.port
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> NewInstance {
        serde_json::from_str(json).unwrap()
    }

    fn refusal(json: &str) -> String {
        match new_instance(body(json)).and_then(|instance| {
            check_destination(&instance, Some("127.0.0.1:8000".parse().unwrap())).map(|()| instance)
        }) {
            Ok(_) => panic!("{json} was accepted"),
            Err(error) => format!("{}: {error}", error.code()),
        }
    }

    #[test]
    fn a_new_instance_needs_a_name_a_host_and_a_port() {
        let instance = new_instance(body(
            r#"{"name": "booth-a", "host": "127.0.0.1", "password": "pw"}"#,
        ))
        .unwrap();
        assert_eq!((instance.host.as_str(), instance.port), ("127.0.0.1", 4455));
        assert_eq!(instance.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(refusal(r#"{"name": "a b", "host": "127.0.0.1"}"#).contains("`name`"));
        assert!(refusal(r#"{"name": "a", "host": ""}"#).contains("`host`: must not be empty"));
        assert!(refusal(r#"{"name": "a", "host": "ws://127.0.0.1"}"#).contains("`host`"));
        assert!(refusal(r#"{"name": "a", "host": "127.0.0.1:4455"}"#).contains("`host`"));
        assert!(refusal(r#"{"name": "a", "host": "127.0.0.1", "port": 0}"#).contains("`port`"));
        // serde names the field itself when the type is wrong or the field unknown.
        assert!(serde_json::from_str::<NewInstance>(
            r#"{"name": "a", "host": "h", "port": 70000}"#
        )
        .is_err());
        assert!(
            serde_json::from_str::<NewInstance>(r#"{"name": "a", "host": "h", "colour": 1}"#)
                .is_err()
        );
    }

    #[test]
    fn the_destination_policy_refuses_what_no_obs_is_and_the_hub_itself() {
        for host in ["0.0.0.0", "2130706433", "0x7f000001", "127.1"] {
            let refused = refusal(&format!(r#"{{"name": "a", "host": "{host}"}}"#));
            assert!(
                refused.starts_with("destination_not_allowed"),
                "{host}: {refused}"
            );
        }
        let own = refusal(r#"{"name": "a", "host": "127.0.0.1", "port": 8000}"#);
        assert!(own.contains("this hub's own address"), "{own}");
        // Loopback in its usual forms is an OBS on this machine.
        for host in ["127.0.0.1", "localhost", "[::ffff:7f00:1]", "::1"] {
            let instance = new_instance(body(&format!(r#"{{"name": "a", "host": "{host}"}}"#)))
                .unwrap_or_else(|error| panic!("{host}: {error}"));
            check_destination(&instance, Some("127.0.0.1:8000".parse().unwrap()))
                .unwrap_or_else(|error| panic!("{host}: {error}"));
        }
    }

    #[test]
    fn changes_keep_what_they_leave_out_and_null_removes_the_password() {
        let instance = InstanceConfig {
            name: "a".into(),
            host: "127.0.0.1".into(),
            port: 4455,
            password: Some(Secret::new("pw")),
        };
        let changes = |json: &str| serde_json::from_str::<InstanceChanges>(json).unwrap();
        let moved = changed_instance(instance.clone(), changes(r#"{"port": 4460}"#)).unwrap();
        assert_eq!(moved.port, 4460);
        assert_eq!(moved.password, instance.password);
        let open = changed_instance(instance.clone(), changes(r#"{"password": null}"#)).unwrap();
        assert_eq!(open.password, None);
        assert!(changed_instance(instance, changes(r#"{"host": "a/b"}"#)).is_err());
    }

    #[test]
    fn the_view_never_shows_the_password() {
        let instance = InstanceConfig {
            name: "a".into(),
            host: "127.0.0.1".into(),
            port: 4455,
            password: Some(Secret::new("hunter2")),
        };
        let json = serde_json::to_string(&ManagedInstanceView::new(&instance)).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains(r#""password_set":true"#), "{json}");
    }
}
