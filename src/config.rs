//! Typed settings, layered: command-line flags over environment over config file over defaults.
//!
//! clap merges flags with their environment variables (flags win), so [`Overrides`] holds
//! "whatever the operator said on the command line or in the environment"; [`Settings::resolve`]
//! lays that over the optional TOML file and the defaults, and validates the result. Every problem
//! is reported as one line naming the key, because a service that refuses to start must say why.

use std::{
    collections::HashSet,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::tls::TlsSettings;
pub use crate::webhooks::settings::WebhookSettings;
use crate::webhooks::settings::{self as webhook_settings, FileDelivery, FileWebhook};

/// Name of the instance built from the `OBS_WEBSOCKET_*` variables.
pub const DEFAULT_INSTANCE: &str = "default";

/// A value that must never be printed: OBS passwords, later tokens and webhook secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value; grep for it to audit where secrets go.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// One OBS Studio instance the hub keeps a connection to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
}

/// Intervals and limits of the connection and status machinery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How often the status manager reconciles each instance with a poll of OBS.
    pub poll_interval: Duration,
    /// The same poll while an output runs: stats (bitrate, dropped frames) fresh enough to act on.
    pub active_poll_interval: Duration,
    /// How often a cheap request checks that the link is alive.
    pub heartbeat_interval: Duration,
    /// How long a heartbeat may go unanswered before the link is declared dead.
    pub heartbeat_timeout: Duration,
    /// First reconnect delay; doubles per failed attempt up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Retry interval after a wrong password or an unsupported OBS: every failed login pops an
    /// alert on the OBS machine, so these are retried slowly.
    pub auth_retry_interval: Duration,
    /// Limit for the TCP + WebSocket + obs-websocket handshake.
    pub connect_timeout: Duration,
    /// Limit for one request to OBS (commands from the API, polls).
    pub request_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(5),
            active_poll_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(2),
            heartbeat_timeout: Duration::from_secs(3),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(5),
            auth_retry_interval: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Default history database: a file in the working directory.
pub const DEFAULT_DATABASE: &str = "obs-hub.db";
/// `OBS_HUB_DATABASE=none`: keep no history.
pub const NO_DATABASE: &str = "none";
const MAX_RETENTION_DAYS: u64 = 36_500;

/// Where and how the history is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// SQLite file, created on first start; None keeps no history (`OBS_HUB_DATABASE=none`).
    pub path: Option<PathBuf>,
    /// Events older than this are pruned (at start, then hourly).
    pub retention: Duration,
    /// How long a write waits for a lock held elsewhere before it fails (it is then retried).
    pub busy_timeout: Duration,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            path: Some(PathBuf::from(DEFAULT_DATABASE)),
            retention: Duration::from_secs(30 * 86_400),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Limits of the live-update WebSocket (`/ws`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketSettings {
    /// How often the hub pings each browser.
    pub ping_interval: Duration,
    /// A browser that sends nothing (not even a pong) for this long is dropped.
    pub client_timeout: Duration,
    /// Updates a browser may have waiting before it is disconnected as too slow (it reconnects
    /// and resyncs): what bounds the memory one stuck browser can make the hub hold.
    pub max_backlog: usize,
}

impl Default for WebSocketSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(10),
            client_timeout: Duration::from_secs(30),
            max_backlog: 256,
        }
    }
}

/// What a request may cost the hub before it has shown it may be served: the defences against
/// slow or unauthenticated bodies (see `http::body_guard`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// A request body not fully received this long after its headers gets 408 and its
    /// connection is closed.
    pub body_timeout: Duration,
    /// Largest callback body (`/api/callback/...`), whose bodies are a few hundred bytes.
    pub callback_body_limit: usize,
    /// Callback bodies read at once whose signature cannot be checked before the body is in
    /// (a callback secret is configured and no valid token was given); past it, 503 at once.
    pub max_unauthenticated: usize,
    /// Commands (state-changing requests) per second each managed API token may send; 0: no
    /// limit. Reads are never limited (they are answered from the cache).
    pub commands_per_second: u32,
    /// Commands a managed token may send at once before `commands_per_second` applies.
    pub command_burst: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            body_timeout: Duration::from_secs(5),
            callback_body_limit: 8 * 1024,
            max_unauthenticated: 64,
            commands_per_second: 20,
            command_burst: 40,
        }
    }
}

/// Everything `obs-hub serve` runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: SocketAddr,
    pub callback_base_url: Option<String>,
    pub instances: Vec<InstanceConfig>,
    pub timing: Timing,
    /// HTTP worker threads.
    pub http_workers: usize,
    /// Bearer tokens accepted on `/api/` and `/ws`; empty means no authentication (loopback only).
    pub api_tokens: Vec<Secret>,
    pub database: DatabaseSettings,
    /// Web origins (`scheme://host[:port]`, normalised) whose pages may open `/ws` and send
    /// state-changing requests besides the hub's own; see [`normalize_origin`].
    pub allowed_origins: Vec<String>,
    /// Names (lower-case, no port) a hub without a token answers to besides loopback ones, in
    /// the `Host` header: a reverse proxy's public name, a hosts-file alias. See
    /// `http::site_guard` (DNS rebinding).
    pub allowed_hosts: Vec<String>,
    pub websocket: WebSocketSettings,
    /// Signs the callbacks this hub sends and is required on the ones it receives; None: sent
    /// unsigned, received as the rest of `/api` (see the README's webhook section).
    pub callback_secret: Option<Secret>,
    /// `[[webhooks]]` endpoints and delivery tuning.
    pub webhooks: WebhookSettings,
    /// Body timeout and the limits on unauthenticated requests.
    pub http: HttpSettings,
    /// HTTPS on the hub's listener (off by default); see `crate::tls`.
    pub tls: TlsSettings,
    /// Shared screenshots (`[pictures]`); see `crate::pictures`.
    pub pictures: PicturesSettings,
}

/// How often the hub may ask OBS for one picture (`[pictures]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PicturesSettings {
    /// Captures per second per (instance, picture, format, size), however many viewers ask.
    pub max_captures_per_second: u32,
}

impl Default for PicturesSettings {
    fn default() -> Self {
        Self {
            max_captures_per_second: 2,
        }
    }
}

/// Values from the command line or the environment (clap has already merged those two).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub bind: Option<String>,
    pub obs_host: Option<String>,
    pub obs_port: Option<u16>,
    pub obs_password: Option<Secret>,
    pub callback_base_url: Option<String>,
    /// From `OBS_HUB_API_TOKEN` (comma-separated); replaces the file's tokens when given.
    pub api_tokens: Option<Vec<Secret>>,
    /// From `OBS_HUB_DATABASE`: a path, or `none`.
    pub database: Option<String>,
    /// From `OBS_HUB_ALLOWED_ORIGINS` (comma-separated); replaces the file's list when given.
    pub allowed_origins: Option<Vec<String>>,
    /// From `OBS_HUB_ALLOWED_HOSTS` (comma-separated); replaces the file's list when given.
    pub allowed_hosts: Option<Vec<String>>,
    /// From `OBS_HUB_CALLBACK_SECRET`.
    pub callback_secret: Option<Secret>,
    /// From `OBS_HUB_TLS`, `OBS_HUB_TLS_CERT`, `OBS_HUB_TLS_KEY`.
    pub tls: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Overrides {
    fn names_an_instance(&self) -> bool {
        self.obs_host.is_some() || self.obs_port.is_some() || self.obs_password.is_some()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The TOML file's shape. Unknown keys are refused so that a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    callback_base_url: Option<String>,
    http_workers: Option<usize>,
    api_tokens: Option<Vec<Secret>>,
    allowed_origins: Option<Vec<String>>,
    allowed_hosts: Option<Vec<String>>,
    #[serde(default)]
    timing: FileTiming,
    #[serde(default)]
    websocket: FileWebSocket,
    #[serde(default)]
    database: FileDatabase,
    #[serde(default)]
    obs: Vec<FileInstance>,
    callback_secret: Option<Secret>,
    #[serde(default)]
    webhooks: Vec<FileWebhook>,
    #[serde(default)]
    webhook_delivery: FileDelivery,
    #[serde(default)]
    http: FileHttp,
    #[serde(default)]
    pictures: FilePictures,
    tls: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePictures {
    max_captures_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    body_timeout_ms: Option<u64>,
    callback_body_limit_bytes: Option<usize>,
    max_unauthenticated: Option<usize>,
    commands_per_second: Option<u32>,
    command_burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTiming {
    poll_interval_ms: Option<u64>,
    active_poll_interval_ms: Option<u64>,
    heartbeat_interval_ms: Option<u64>,
    heartbeat_timeout_ms: Option<u64>,
    backoff_min_ms: Option<u64>,
    backoff_max_ms: Option<u64>,
    auth_retry_interval_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    path: Option<String>,
    retention_days: Option<u64>,
    busy_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWebSocket {
    ping_interval_ms: Option<u64>,
    client_timeout_ms: Option<u64>,
    max_backlog: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileInstance {
    name: String,
    host: Option<String>,
    port: Option<u16>,
    password: Option<Secret>,
}

impl Settings {
    /// Reads the optional config file and lays the overrides over it.
    pub fn load(config_path: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let file = match config_path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::File {
                    path: path.display().to_string(),
                    message: format!("cannot be read: {error}"),
                })?;
                Some((path.display().to_string(), text))
            }
            None => None,
        };
        Self::resolve(
            file.as_ref()
                .map(|(path, text)| (path.as_str(), text.as_str())),
            overrides,
        )
    }

    /// Pure merge of `(path, toml text)` and overrides; unit-tested without touching the disk.
    pub fn resolve(file: Option<(&str, &str)>, overrides: Overrides) -> Result<Self, ConfigError> {
        let (path, file) = match file {
            Some((path, text)) => (path, parse_file(path, text)?),
            None => ("", FileConfig::default()),
        };
        let file_error = |message: String| ConfigError::File {
            path: path.to_string(),
            message,
        };

        let bind_text = overrides
            .bind
            .clone()
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8000".to_string());
        let bind = bind_text.parse::<SocketAddr>().map_err(|_| {
            ConfigError::invalid(
                "OBS_HUB_BIND",
                format!("`{bind_text}` is not an address like 127.0.0.1:8000"),
            )
        })?;

        let callback_base_url = overrides
            .callback_base_url
            .clone()
            .or(file.callback_base_url)
            .filter(|url| !url.trim().is_empty());
        if let Some(url) = &callback_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "OBS_CALLBACK_BASE_URL",
                    format!("`{url}` must start with http:// or https://"),
                ));
            }
        }

        let timing = resolve_timing(&file.timing).map_err(file_error)?;

        let mut instances = Vec::new();
        let mut seen = HashSet::new();
        for declared in file.obs {
            validate_instance_name(&declared.name).map_err(file_error)?;
            if !seen.insert(declared.name.clone()) {
                return Err(file_error(format!(
                    "[[obs]] name `{}` is declared twice",
                    declared.name
                )));
            }
            instances.push(InstanceConfig {
                host: declared.host.unwrap_or_else(|| "127.0.0.1".to_string()),
                port: declared.port.unwrap_or(4455),
                password: declared.password,
                name: declared.name,
            });
        }
        if instances.iter().all(|i| i.name != DEFAULT_INSTANCE)
            && (instances.is_empty() || overrides.names_an_instance())
        {
            instances.insert(
                0,
                InstanceConfig {
                    name: DEFAULT_INSTANCE.to_string(),
                    host: "127.0.0.1".to_string(),
                    port: 4455,
                    password: None,
                },
            );
        }
        if let Some(default) = instances.iter_mut().find(|i| i.name == DEFAULT_INSTANCE) {
            if let Some(host) = &overrides.obs_host {
                default.host = host.clone();
            }
            if let Some(port) = overrides.obs_port {
                default.port = port;
            }
            if let Some(password) = &overrides.obs_password {
                default.password = Some(password.clone());
            }
            // An empty OBS_WEBSOCKET_PASSWORD means "no authentication", as in OBS's own dialog.
            if default
                .password
                .as_ref()
                .is_some_and(|p| p.expose().is_empty())
            {
                default.password = None;
            }
        }
        for instance in &instances {
            if instance.host.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("obs `{}` host", instance.name),
                    "must not be empty",
                ));
            }
            if instance.port == 0 {
                return Err(ConfigError::invalid(
                    format!("obs `{}` port", instance.name),
                    "must be between 1 and 65535",
                ));
            }
        }

        let http_workers = match file.http_workers {
            Some(0) => return Err(file_error("http_workers must be at least 1".to_string())),
            Some(workers) => workers,
            // Two cores serve thousands of cached reads a second; more threads only cost memory.
            None => std::thread::available_parallelism().map_or(2, |n| n.get().min(4)),
        };
        let api_tokens = resolve_tokens(overrides.api_tokens.clone().or(file.api_tokens))?;
        let database =
            resolve_database(&file.database, overrides.database.as_deref()).map_err(file_error)?;
        let callback_secret = webhook_settings::resolve_callback_secret(
            overrides.callback_secret.clone().or(file.callback_secret),
        )
        .map_err(|message| ConfigError::invalid("OBS_HUB_CALLBACK_SECRET", message))?;
        let webhooks =
            webhook_settings::resolve(file.webhooks, &file.webhook_delivery).map_err(file_error)?;
        if database.path.is_none()
            && (callback_base_url.is_some() || !webhooks.endpoints.is_empty())
        {
            return Err(ConfigError::invalid(
                "OBS_HUB_DATABASE",
                "webhooks and OBS_CALLBACK_BASE_URL need the database (deliveries are stored \
                 before they are sent): set a path instead of `none`",
            ));
        }
        if api_tokens.is_empty() && !bind.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "OBS_HUB_BIND",
                format!(
                    "{bind} is reachable from other machines and no API token is set: set \
                     OBS_HUB_API_TOKEN (or api_tokens in the config file), or bind 127.0.0.1"
                ),
            ));
        }
        let allowed_origins = resolve_origins(
            overrides
                .allowed_origins
                .clone()
                .or(file.allowed_origins)
                .unwrap_or_default(),
        )?;
        let allowed_hosts = resolve_hosts(
            overrides
                .allowed_hosts
                .clone()
                .or(file.allowed_hosts)
                .unwrap_or_default(),
        )?;
        let websocket = resolve_websocket(&file.websocket).map_err(file_error)?;
        let http = resolve_http(&file.http).map_err(file_error)?;
        let pictures = resolve_pictures(&file.pictures).map_err(file_error)?;
        // The self-signed certificate is state, kept beside the history database.
        let state_dir = database
            .path
            .as_deref()
            .and_then(|path| path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let tls = TlsSettings::resolve(
            overrides.tls.as_deref().or(file.tls.as_deref()),
            overrides.tls_cert.clone().or(file.tls_cert),
            overrides.tls_key.clone().or(file.tls_key),
            state_dir,
            crate::tls::self_signed_names(bind, &allowed_hosts),
        )
        .map_err(|(key, message)| ConfigError::invalid(key, message))?;
        Ok(Self {
            bind,
            callback_base_url,
            instances,
            timing,
            http_workers,
            api_tokens,
            database,
            allowed_origins,
            allowed_hosts,
            websocket,
            callback_secret,
            webhooks,
            http,
            tls,
            pictures,
        })
    }

    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// Tokens are secrets people paste: trim them, drop empties, refuse ones too short to be secret.
fn resolve_tokens(tokens: Option<Vec<Secret>>) -> Result<Vec<Secret>, ConfigError> {
    let tokens: Vec<Secret> = tokens
        .unwrap_or_default()
        .into_iter()
        .map(|token| Secret::new(token.expose().trim()))
        .filter(|token| !token.expose().is_empty())
        .collect();
    if tokens.iter().any(|token| token.expose().len() < 16) {
        return Err(ConfigError::invalid(
            "OBS_HUB_API_TOKEN",
            "every token must be at least 16 characters (try `openssl rand -hex 24`)",
        ));
    }
    Ok(tokens)
}

fn parse_file(path: &str, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str::<FileConfig>(text).map_err(|error| {
        let location = error
            .span()
            .map(|span| {
                let line_number = text[..span.start.min(text.len())].matches('\n').count() + 1;
                let line = text.lines().nth(line_number - 1).unwrap_or("").trim();
                format!("line {line_number} (`{line}`): ")
            })
            .unwrap_or_default();
        ConfigError::File {
            path: path.to_string(),
            message: format!("{location}{}", error.message().replace('\n', " ")),
        }
    })
}

fn resolve_timing(file: &FileTiming) -> Result<Timing, String> {
    let defaults = Timing::default();
    let pick = |key: &str, value: Option<u64>, default: Duration| -> Result<Duration, String> {
        match value {
            None => Ok(default),
            Some(0) => Err(format!("[timing] {key} must be greater than 0")),
            Some(ms) => Ok(Duration::from_millis(ms)),
        }
    };
    let timing = Timing {
        poll_interval: pick(
            "poll_interval_ms",
            file.poll_interval_ms,
            defaults.poll_interval,
        )?,
        active_poll_interval: pick(
            "active_poll_interval_ms",
            file.active_poll_interval_ms,
            defaults.active_poll_interval,
        )?,
        heartbeat_interval: pick(
            "heartbeat_interval_ms",
            file.heartbeat_interval_ms,
            defaults.heartbeat_interval,
        )?,
        heartbeat_timeout: pick(
            "heartbeat_timeout_ms",
            file.heartbeat_timeout_ms,
            defaults.heartbeat_timeout,
        )?,
        backoff_min: pick("backoff_min_ms", file.backoff_min_ms, defaults.backoff_min)?,
        backoff_max: pick("backoff_max_ms", file.backoff_max_ms, defaults.backoff_max)?,
        auth_retry_interval: pick(
            "auth_retry_interval_ms",
            file.auth_retry_interval_ms,
            defaults.auth_retry_interval,
        )?,
        connect_timeout: pick(
            "connect_timeout_ms",
            file.connect_timeout_ms,
            defaults.connect_timeout,
        )?,
        request_timeout: pick(
            "request_timeout_ms",
            file.request_timeout_ms,
            defaults.request_timeout,
        )?,
    };
    if timing.backoff_min > timing.backoff_max {
        return Err("[timing] backoff_min_ms must not be greater than backoff_max_ms".to_string());
    }
    Ok(timing)
}

/// The database path: `OBS_HUB_DATABASE` / `--database` over `[database] path` over the default;
/// `none` keeps no history. Only file values can be wrong here (a path is checked on opening).
fn resolve_database(
    file: &FileDatabase,
    path_override: Option<&str>,
) -> Result<DatabaseSettings, String> {
    let defaults = DatabaseSettings::default();
    let path = match path_override.map(str::trim).filter(|path| !path.is_empty()) {
        Some(path) => Some(path),
        None => match file.path.as_deref() {
            Some(path) if path.trim().is_empty() => {
                return Err(format!(
                    "[database] path must not be empty (`{NO_DATABASE}` keeps no history)"
                ))
            }
            path => path,
        },
    };
    let path = match path {
        None => defaults.path,
        Some(path) if path.eq_ignore_ascii_case(NO_DATABASE) => None,
        Some(path) => Some(PathBuf::from(path)),
    };
    let retention = match file.retention_days {
        None => defaults.retention,
        Some(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => {
            Duration::from_secs(days * 86_400)
        }
        Some(days) => {
            return Err(format!(
                "[database] retention_days must be between 1 and {MAX_RETENTION_DAYS}, not {days}"
            ))
        }
    };
    let busy_timeout = match file.busy_timeout_ms {
        None => defaults.busy_timeout,
        Some(0) => return Err("[database] busy_timeout_ms must be greater than 0".to_string()),
        Some(ms) => Duration::from_millis(ms),
    };
    Ok(DatabaseSettings {
        path,
        retention,
        busy_timeout,
    })
}

/// Origins are compared as browsers send them: `scheme://host[:port]`, lower-case, without the
/// scheme's default port, without a path. Entries are checked at start-up so a typo (a path, a
/// missing scheme) fails loudly instead of silently never matching.
fn resolve_origins(origins: Vec<String>) -> Result<Vec<String>, ConfigError> {
    origins
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            normalize_origin(origin).ok_or_else(|| {
                ConfigError::invalid(
                    "OBS_HUB_ALLOWED_ORIGINS",
                    format!(
                        "`{origin}` is not an origin like https://dashboard.example.com:8443 \
                         (scheme http or https, a host, an optional port, no path)"
                    ),
                )
            })
        })
        .collect()
}

/// Host names are compared as `Host` carries them, lower-case and without the port (any port
/// of an allowed name is fine: the name is what a rebinding attacker cannot choose). Entries are
/// checked at start-up: a scheme, port or path means the operator meant something else.
fn resolve_hosts(hosts: Vec<String>) -> Result<Vec<String>, ConfigError> {
    hosts
        .iter()
        .map(|host| host.trim())
        .filter(|host| !host.is_empty())
        .map(|host| {
            let lower = host.to_ascii_lowercase();
            match split_authority(&lower) {
                Some((name, None)) if !name.ends_with('.') => Ok(lower),
                _ => Err(ConfigError::invalid(
                    "OBS_HUB_ALLOWED_HOSTS",
                    format!(
                        "`{host}` is not a host name like hub.example.com (no scheme, port or \
                         path; an IPv6 address in brackets)"
                    ),
                )),
            }
        })
        .collect()
}

/// The canonical form of a web origin (`http://Example.com:80/` gives `http://example.com`), or
/// `None` when `text` is not an http(s) origin. Also used on the `Origin` header of requests.
pub fn normalize_origin(text: &str) -> Option<String> {
    let (scheme, rest) = text.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => "80",
        "https" => "443",
        _ => return None,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
    let (host, port) = split_authority(&authority)?;
    match port {
        Some(port) if port != default_port => Some(format!("{scheme}://{host}:{port}")),
        _ => Some(format!("{scheme}://{host}")),
    }
}

/// `host[:port]` (host may be a bracketed IPv6 address) split in two; `None` when malformed
/// (empty host, a path, user info, a port that is not a number in 1..=65535).
pub fn split_authority(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']')?;
        let host = &authority[..inside.len() + 2];
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return None;
    }
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(number) if number > 0) {
            return None;
        }
    }
    Some((host, port))
}

fn resolve_websocket(file: &FileWebSocket) -> Result<WebSocketSettings, String> {
    let defaults = WebSocketSettings::default();
    let millis = |key: &str, value: Option<u64>, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(format!("[websocket] {key} must be greater than 0")),
        Some(ms) => Ok(Duration::from_millis(ms)),
    };
    let websocket = WebSocketSettings {
        ping_interval: millis(
            "ping_interval_ms",
            file.ping_interval_ms,
            defaults.ping_interval,
        )?,
        client_timeout: millis(
            "client_timeout_ms",
            file.client_timeout_ms,
            defaults.client_timeout,
        )?,
        max_backlog: match file.max_backlog {
            Some(0) => return Err("[websocket] max_backlog must be at least 1".to_string()),
            Some(backlog) => backlog,
            None => defaults.max_backlog,
        },
    };
    // A browser only answers pings: a timeout shorter than the ping interval drops healthy ones.
    if websocket.client_timeout <= websocket.ping_interval {
        return Err(
            "[websocket] client_timeout_ms must be greater than ping_interval_ms".to_string(),
        );
    }
    Ok(websocket)
}

/// Captures per second per picture: 1 to 30 (OBS renders 30 or 60 frames a second; more
/// captures than frames would only load it).
fn resolve_pictures(file: &FilePictures) -> Result<PicturesSettings, String> {
    match file.max_captures_per_second {
        None => Ok(PicturesSettings::default()),
        Some(rate @ 1..=30) => Ok(PicturesSettings {
            max_captures_per_second: rate,
        }),
        Some(other) => Err(format!(
            "[pictures] max_captures_per_second must be between 1 and 30 (it was {other})"
        )),
    }
}

fn resolve_http(file: &FileHttp) -> Result<HttpSettings, String> {
    let defaults = HttpSettings::default();
    let at_least_one = |key: &str, value: Option<usize>, default: usize| match value {
        None => Ok(default),
        Some(0) => Err(format!("[http] {key} must be at least 1")),
        Some(value) => Ok(value),
    };
    Ok(HttpSettings {
        body_timeout: match file.body_timeout_ms {
            None => defaults.body_timeout,
            Some(0) => return Err("[http] body_timeout_ms must be greater than 0".to_string()),
            Some(ms) => Duration::from_millis(ms),
        },
        callback_body_limit: at_least_one(
            "callback_body_limit_bytes",
            file.callback_body_limit_bytes,
            defaults.callback_body_limit,
        )?,
        max_unauthenticated: at_least_one(
            "max_unauthenticated",
            file.max_unauthenticated,
            defaults.max_unauthenticated,
        )?,
        // 0 turns the limit off.
        commands_per_second: file
            .commands_per_second
            .unwrap_or(defaults.commands_per_second),
        command_burst: match file.command_burst {
            None => defaults.command_burst,
            Some(0) => return Err("[http] command_burst must be at least 1".to_string()),
            Some(burst) => burst,
        },
    })
}

/// Instance names appear in URLs (`/api/instances/{name}/`), so they are kept to URL-safe words.
fn validate_instance_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "[[obs]] name `{name}` must be 1-64 letters, digits, '-' or '_'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str, overrides: Overrides) -> Result<Settings, ConfigError> {
        Settings::resolve(Some(("hub.toml", text)), overrides)
    }

    #[test]
    fn defaults_give_one_default_instance_on_loopback() {
        let settings = Settings::resolve(None, Overrides::default()).unwrap();
        assert_eq!(settings.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(settings.instances.len(), 1);
        assert_eq!(settings.instances[0].name, "default");
        assert_eq!(settings.instances[0].port, 4455);
        assert_eq!(settings.instances[0].password, None);
        assert_eq!(settings.timing, Timing::default());
    }

    #[test]
    fn file_instances_replace_the_default_unless_the_environment_names_one() {
        let text = "[[obs]]\nname = \"studio\"\nport = 4460\n[[obs]]\nname = \"booth\"\n";
        let only_file = resolve(text, Overrides::default()).unwrap();
        let names: Vec<_> = only_file
            .instances
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["studio", "booth"]);

        let with_env = resolve(
            text,
            Overrides {
                obs_port: Some(4999),
                ..Overrides::default()
            },
        )
        .unwrap();
        let names: Vec<_> = with_env.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["default", "studio", "booth"]);
        assert_eq!(with_env.instance("default").unwrap().port, 4999);
    }

    #[test]
    fn flags_and_environment_win_over_the_file() {
        let text = "bind = \"127.0.0.1:9000\"\n[[obs]]\nname = \"default\"\nhost = \"10.0.0.5\"\nport = 4460\npassword = \"from-file\"\n";
        let settings = resolve(
            text,
            Overrides {
                bind: Some("127.0.0.1:9100".into()),
                obs_password: Some(Secret::new("from-env")),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(settings.bind.port(), 9100);
        let default = settings.instance("default").unwrap();
        assert_eq!(default.host, "10.0.0.5");
        assert_eq!(default.port, 4460);
        assert_eq!(default.password.as_ref().unwrap().expose(), "from-env");
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let error = resolve(
            "bind = \"127.0.0.1:1\"\npoll_interval = 5\n",
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("poll_interval"), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }

    #[test]
    fn mistyped_port_is_named() {
        let error = resolve(
            "[[obs]]\nname = \"a\"\nport = \"abc\"\n",
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("port = \"abc\""), "{error}");
    }

    #[test]
    fn duplicate_instance_names_are_refused() {
        let error = resolve(
            "[[obs]]\nname = \"a\"\n[[obs]]\nname = \"a\"\n",
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("`a` is declared twice"), "{error}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad_bind = Settings::resolve(
            None,
            Overrides {
                bind: Some("localhost".into()),
                ..Overrides::default()
            },
        )
        .unwrap_err();
        assert!(bad_bind.to_string().starts_with("OBS_HUB_BIND:"));
        let bad_backoff = resolve(
            "[timing]\nbackoff_min_ms = 9000\nbackoff_max_ms = 1000\n",
            Overrides::default(),
        )
        .unwrap_err();
        assert!(bad_backoff.to_string().contains("backoff_min_ms"));
        let bad_name = resolve("[[obs]]\nname = \"a b\"\n", Overrides::default()).unwrap_err();
        assert!(bad_name.to_string().contains("`a b`"));
    }

    #[test]
    fn a_public_bind_needs_a_token() {
        let public = Overrides {
            bind: Some("0.0.0.0:8000".into()),
            ..Overrides::default()
        };
        let error = Settings::resolve(None, public.clone())
            .unwrap_err()
            .to_string();
        assert!(error.contains("OBS_HUB_API_TOKEN"), "{error}");
        let with_token = Overrides {
            api_tokens: Some(vec![Secret::new("0123456789abcdef0123")]),
            ..public
        };
        assert_eq!(
            Settings::resolve(None, with_token)
                .unwrap()
                .api_tokens
                .len(),
            1
        );
        let short = Overrides {
            api_tokens: Some(vec![Secret::new("short")]),
            ..Overrides::default()
        };
        assert!(Settings::resolve(None, short).is_err());
        let from_file = resolve(
            "bind = \"0.0.0.0:8000\"\napi_tokens = [\"0123456789abcdef0123\"]\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(from_file.api_tokens[0].expose(), "0123456789abcdef0123");
    }

    #[test]
    fn the_database_is_a_file_in_the_working_directory_unless_told_otherwise() {
        let defaults = Settings::resolve(None, Overrides::default()).unwrap();
        assert_eq!(defaults.database, DatabaseSettings::default());
        assert_eq!(
            defaults.database.path.as_deref(),
            Some(Path::new("obs-hub.db"))
        );
        let text = "[database]\npath = \"/var/lib/hub.db\"\nretention_days = 7\n";
        let from_file = resolve(text, Overrides::default()).unwrap();
        assert_eq!(
            from_file.database.path.as_deref(),
            Some(Path::new("/var/lib/hub.db"))
        );
        assert_eq!(
            from_file.database.retention,
            Duration::from_secs(7 * 86_400)
        );
        let env = |value: &str| Overrides {
            database: Some(value.into()),
            ..Overrides::default()
        };
        let from_env = resolve(text, env("/tmp/other.db")).unwrap();
        assert_eq!(
            from_env.database.path.as_deref(),
            Some(Path::new("/tmp/other.db"))
        );
        assert_eq!(resolve(text, env("none")).unwrap().database.path, None);
        // An empty variable is as good as unset.
        assert_eq!(
            resolve(text, env("")).unwrap().database.path.as_deref(),
            Some(Path::new("/var/lib/hub.db"))
        );
        for (text, mentions) in [
            ("[database]\nretention_days = 0\n", "retention_days"),
            ("[database]\nbusy_timeout_ms = 0\n", "busy_timeout_ms"),
            ("[database]\npath = \"\"\n", "path"),
            ("[database]\nretention = 3\n", "retention"),
        ] {
            let error = resolve(text, Overrides::default()).unwrap_err().to_string();
            assert!(error.contains(mentions), "{text}: {error}");
            assert!(!error.contains('\n'), "one line: {error}");
        }
    }

    #[test]
    fn origins_are_normalised_and_checked() {
        assert_eq!(
            normalize_origin("HTTPS://Dash.Example.com:443/").as_deref(),
            Some("https://dash.example.com")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8000").as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            normalize_origin("http://[::1]:80").as_deref(),
            Some("http://[::1]")
        );
        for bad in [
            "dash.example.com",
            "ftp://dash.example.com",
            "https://dash.example.com/path",
            "https://user@dash.example.com",
            "https://dash.example.com:0",
            "https://dash.example.com:99999",
            "https://",
            "null",
        ] {
            assert_eq!(normalize_origin(bad), None, "{bad}");
        }

        let from_env = Settings::resolve(
            None,
            Overrides {
                allowed_origins: Some(vec![
                    "https://Dash.Example.com".into(),
                    " ".into(),
                    "http://studio.lan:8080/".into(),
                ]),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(
            from_env.allowed_origins,
            ["https://dash.example.com", "http://studio.lan:8080"]
        );
        let from_file = resolve(
            "allowed_origins = [\"https://a.example\"]\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(from_file.allowed_origins, ["https://a.example"]);
        let error = resolve(
            "allowed_origins = [\"a.example/x\"]\n",
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("OBS_HUB_ALLOWED_ORIGINS:"), "{error}");
        assert!(error.contains("a.example/x"), "{error}");
    }

    #[test]
    fn allowed_hosts_are_lower_case_names_from_env_or_file() {
        assert!(Settings::resolve(None, Overrides::default())
            .unwrap()
            .allowed_hosts
            .is_empty());
        let from_env = resolve(
            "allowed_hosts = [\"file.example\"]\n",
            Overrides {
                allowed_hosts: Some(vec![
                    "Hub.Example.com".into(),
                    " ".into(),
                    "[fd00::1]".into(),
                ]),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(from_env.allowed_hosts, ["hub.example.com", "[fd00::1]"]);
        let from_file =
            resolve("allowed_hosts = [\"studio.lan\"]\n", Overrides::default()).unwrap();
        assert_eq!(from_file.allowed_hosts, ["studio.lan"]);
        for bad in [
            "http://hub.example.com",
            "hub.example.com:8000",
            "hub.example.com/",
            "fd00::1",
            "hub.example.com.",
        ] {
            let error = Settings::resolve(
                None,
                Overrides {
                    allowed_hosts: Some(vec![bad.into()]),
                    ..Overrides::default()
                },
            )
            .unwrap_err()
            .to_string();
            assert!(error.starts_with("OBS_HUB_ALLOWED_HOSTS:"), "{error}");
            assert!(error.contains(bad), "{error}");
        }
    }

    #[test]
    fn websocket_limits_have_defaults_and_are_checked() {
        let defaults = Settings::resolve(None, Overrides::default()).unwrap();
        assert_eq!(defaults.websocket, WebSocketSettings::default());
        assert!(defaults.allowed_origins.is_empty());
        let tuned = resolve(
            "[websocket]\nping_interval_ms = 100\nclient_timeout_ms = 400\nmax_backlog = 8\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            tuned.websocket,
            WebSocketSettings {
                ping_interval: Duration::from_millis(100),
                client_timeout: Duration::from_millis(400),
                max_backlog: 8,
            }
        );
        for (text, mentions) in [
            ("[websocket]\nmax_backlog = 0\n", "max_backlog"),
            ("[websocket]\nping_interval_ms = 0\n", "ping_interval_ms"),
            (
                "[websocket]\nping_interval_ms = 500\nclient_timeout_ms = 500\n",
                "client_timeout_ms",
            ),
            ("[websocket]\nping = 5\n", "ping"),
        ] {
            let error = resolve(text, Overrides::default()).unwrap_err().to_string();
            assert!(error.contains(mentions), "{text}: {error}");
        }
    }

    #[test]
    fn http_limits_have_defaults_and_are_checked() {
        let defaults = Settings::resolve(None, Overrides::default()).unwrap();
        assert_eq!(defaults.http, HttpSettings::default());
        let tuned = resolve(
            "[http]\nbody_timeout_ms = 750\ncallback_body_limit_bytes = 2048\n\
             max_unauthenticated = 3\ncommands_per_second = 0\ncommand_burst = 5\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            tuned.http,
            HttpSettings {
                body_timeout: Duration::from_millis(750),
                callback_body_limit: 2048,
                max_unauthenticated: 3,
                commands_per_second: 0,
                command_burst: 5,
            }
        );
        for (text, mentions) in [
            ("[http]\nbody_timeout_ms = 0\n", "body_timeout_ms"),
            ("[http]\nmax_unauthenticated = 0\n", "max_unauthenticated"),
            ("[http]\ncommand_burst = 0\n", "command_burst"),
            (
                "[http]\ncallback_body_limit_bytes = 0\n",
                "callback_body_limit_bytes",
            ),
            ("[http]\nbody_timeout = 5\n", "body_timeout"),
        ] {
            let error = resolve(text, Overrides::default()).unwrap_err().to_string();
            assert!(error.contains(mentions), "{text}: {error}");
        }
    }

    #[test]
    fn the_picture_rate_has_a_default_and_is_checked() {
        let defaults = Settings::resolve(None, Overrides::default()).unwrap();
        assert_eq!(defaults.pictures.max_captures_per_second, 2);
        let tuned = resolve(
            "[pictures]\nmax_captures_per_second = 5\n",
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(tuned.pictures.max_captures_per_second, 5);
        for text in [
            "[pictures]\nmax_captures_per_second = 0\n",
            "[pictures]\nmax_captures_per_second = 31\n",
        ] {
            let error = resolve(text, Overrides::default()).unwrap_err().to_string();
            assert!(error.contains("max_captures_per_second"), "{text}: {error}");
        }
    }

    #[test]
    fn webhooks_come_from_the_file_and_need_the_database() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let text = format!(
            "callback_secret = \"{secret}\"\n[[webhooks]]\nurl = \"http://127.0.0.1:9/in\"\n\
             secret = \"{secret}\"\n[webhook_delivery]\nconcurrency = 2\n"
        );
        let settings = resolve(&text, Overrides::default()).unwrap();
        assert_eq!(settings.webhooks.endpoints.len(), 1);
        assert_eq!(settings.webhooks.delivery.concurrency, 2);
        assert!(settings.callback_secret.is_some());
        assert!(
            !format!("{settings:?}").contains(secret),
            "secrets do not print"
        );

        let without_database = Overrides {
            database: Some(NO_DATABASE.into()),
            ..Overrides::default()
        };
        let error = resolve(&text, without_database.clone())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("OBS_HUB_DATABASE:"), "{error}");
        let callbacks_only = Overrides {
            callback_base_url: Some("http://hub-b:8000".into()),
            ..without_database
        };
        assert!(Settings::resolve(None, callbacks_only).is_err());

        let bad_secret = Overrides {
            callback_secret: Some(Secret::new("not base64!")),
            ..Overrides::default()
        };
        let error = Settings::resolve(None, bad_secret).unwrap_err().to_string();
        assert!(error.starts_with("OBS_HUB_CALLBACK_SECRET:"), "{error}");
        assert!(!error.contains("not base64!"), "{error}");
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = Settings::resolve(
            None,
            Overrides {
                obs_password: Some(Secret::new("hunter2")),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
