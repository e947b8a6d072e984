//! Typed settings, layered: command-line flags over environment over config file over defaults.
//!
//! clap merges flags with their environment variables (flags win), so [`Overrides`] holds
//! "whatever the operator said on the command line or in the environment"; [`Settings::resolve`]
//! lays that over the optional TOML file and the defaults, and validates the result. Every problem
//! is reported as one line naming the key, because a service that refuses to start must say why.

use std::{
    collections::HashSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

pub use crate::secret::Secret;
use crate::tls::TlsSettings;
pub use webhook_settings::{DeclaredWebhook, WebhookSettings};

pub mod cluster_settings;
pub mod database;
mod file;
pub mod webhook_settings;

pub use cluster_settings::ClusterSettings;
pub use database::{DatabaseLocation, PostgresUrl, POSTGRES_FEATURE_MISSING};

use file::{
    parse_file, FileConfig, FileDatabase, FileHttp, FileInstance, FileInstanceGroup, FilePictures,
    FileTiming, FileWebSocket,
};

/// Name of the instance built from the `OBS_WEBSOCKET_*` variables.
pub const DEFAULT_INSTANCE: &str = "default";

/// One OBS Studio instance the hub keeps a connection to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub password: Option<Secret>,
}

/// A named set of instances that commands address at once (`[[instance_groups]]`, issue 20).
/// Declared groups are read-only through the API; the fleet capability keeps them with the
/// ones made there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceGroupConfig {
    pub name: String,
    /// Instance names, in the order declared.
    pub instances: Vec<String>,
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
    /// SQLite file, created on first start; None keeps no history (`OBS_HUB_DATABASE=none`)
    /// or keeps it in PostgreSQL (`postgres`).
    pub path: Option<PathBuf>,
    /// A PostgreSQL database instead of the file (`OBS_HUB_DATABASE=postgres://...`); set only
    /// when `path` is None.
    pub postgres: Option<PostgresUrl>,
    /// Events older than this are pruned (at start, then hourly).
    pub retention: Duration,
    /// How long a write waits for a lock held elsewhere before it fails (it is then retried).
    pub busy_timeout: Duration,
}

impl DatabaseSettings {
    /// The database to open; None when the hub keeps no history.
    pub fn location(&self) -> Option<DatabaseLocation> {
        match (&self.postgres, &self.path) {
            (Some(url), _) => Some(DatabaseLocation::Postgres(url.clone())),
            (None, Some(path)) => Some(DatabaseLocation::Sqlite(path.clone())),
            (None, None) => None,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            path: Some(PathBuf::from(DEFAULT_DATABASE)),
            postgres: None,
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
    /// `[[instance_groups]]`: each names only instances of `instances`.
    pub instance_groups: Vec<InstanceGroupConfig>,
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
    /// `[[rules]]` tables as JSON, in the API's rule format; `app::load_settings` checks them
    /// (`crate::rules::model`), naming the table and the field.
    pub rules: Vec<serde_json::Value>,
    /// The clock rules wait on (schedules, held conditions, delays): the system's, or a
    /// test's hand-driven one.
    pub clock: crate::clock::SharedClock,
    /// `[cluster]`: this hub as one node of several on one PostgreSQL database; None alone.
    pub cluster: Option<ClusterSettings>,
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
    /// From `OBS_HUB_CLUSTER_NODE_ID` and `OBS_HUB_CLUSTER_ADDRESS`.
    pub cluster_node_id: Option<String>,
    pub cluster_address: Option<String>,
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
    /// One function per section below; the order is the order in which mistakes are reported.
    pub fn resolve(file: Option<(&str, &str)>, overrides: Overrides) -> Result<Self, ConfigError> {
        let (path, file) = match file {
            Some((path, text)) => (path, parse_file(path, text)?),
            None => ("", FileConfig::default()),
        };
        let file_error = |message: String| ConfigError::File {
            path: path.to_string(),
            message,
        };

        let bind = resolve_bind(overrides.bind.clone().or(file.bind))?;
        let callback_base_url = resolve_callback_base_url(
            overrides
                .callback_base_url
                .clone()
                .or(file.callback_base_url),
        )?;
        let timing = resolve_timing(&file.timing).map_err(file_error)?;
        let instances = resolve_instances(file.obs, &overrides, file_error)?;
        let instance_groups =
            resolve_instance_groups(file.instance_groups, &instances).map_err(file_error)?;
        let http_workers = resolve_http_workers(file.http_workers).map_err(file_error)?;
        let api_tokens = resolve_tokens(overrides.api_tokens.clone().or(file.api_tokens))?;
        let database = resolve_database(&file.database, overrides.database.as_deref()).map_err(
            |(key, message)| match key {
                Some(key) => ConfigError::invalid(key, message),
                None => file_error(message),
            },
        )?;
        let callback_secret = webhook_settings::resolve_callback_secret(
            overrides.callback_secret.clone().or(file.callback_secret),
        )
        .map_err(|message| ConfigError::invalid("OBS_HUB_CALLBACK_SECRET", message))?;
        let webhooks =
            webhook_settings::resolve(file.webhooks, &file.webhook_delivery).map_err(file_error)?;
        check_deliveries_have_a_database(&database, callback_base_url.as_deref(), &webhooks)?;
        check_exposure(bind, &api_tokens)?;
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
        let cluster = cluster_settings::resolve(
            &file.cluster,
            overrides.cluster_node_id.as_deref(),
            overrides.cluster_address.as_deref(),
        )
        .map_err(|(key, message)| ConfigError::invalid(key, message))?;
        check_cluster_has_postgres(cluster.as_ref(), &database)?;
        let rules = file
            .rules
            .into_iter()
            .enumerate()
            .map(|(index, table)| {
                serde_json::to_value(table)
                    .map_err(|error| file_error(format!("[[rules]] #{}: {error}", index + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls = TlsSettings::resolve(
            overrides.tls.as_deref().or(file.tls.as_deref()),
            overrides.tls_cert.clone().or(file.tls_cert),
            overrides.tls_key.clone().or(file.tls_key),
            tls_state_dir(&database),
            crate::tls::self_signed_names(bind, &allowed_hosts),
        )
        .map_err(|(key, message)| ConfigError::invalid(key, message))?;
        Ok(Self {
            bind,
            callback_base_url,
            instances,
            instance_groups,
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
            rules,
            clock: Default::default(),
            cluster,
        })
    }

    pub fn instance(&self, name: &str) -> Option<&InstanceConfig> {
        self.instances.iter().find(|i| i.name == name)
    }

    /// The configured instances' names, in configuration order (for error messages).
    pub fn instance_names(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.name.clone()).collect()
    }
}

/// `OBS_HUB_BIND` / `bind`, by default loopback port 8000.
fn resolve_bind(bind: Option<String>) -> Result<SocketAddr, ConfigError> {
    let bind_text = bind.unwrap_or_else(|| "127.0.0.1:8000".to_string());
    bind_text.parse::<SocketAddr>().map_err(|_| {
        ConfigError::invalid(
            "OBS_HUB_BIND",
            format!("`{bind_text}` is not an address like 127.0.0.1:8000"),
        )
    })
}

/// `OBS_CALLBACK_BASE_URL`: empty means none.
fn resolve_callback_base_url(url: Option<String>) -> Result<Option<String>, ConfigError> {
    let url = url.filter(|url| !url.trim().is_empty());
    if let Some(url) = &url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "OBS_CALLBACK_BASE_URL",
                format!("`{url}` must start with http:// or https://"),
            ));
        }
    }
    Ok(url)
}

/// The file's `[[obs]]` tables, and the `default` instance the `OBS_WEBSOCKET_*` variables name
/// (added when the file declares none, or when a variable is set).
fn resolve_instances(
    declared_instances: Vec<FileInstance>,
    overrides: &Overrides,
    file_error: impl Fn(String) -> ConfigError,
) -> Result<Vec<InstanceConfig>, ConfigError> {
    let mut instances = Vec::new();
    let mut seen = HashSet::new();
    for declared in declared_instances {
        validate_instance_name(&declared.name).map_err(&file_error)?;
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
    Ok(instances)
}

/// The file's `[[instance_groups]]`: URL-safe unique names (they appear in
/// `/api/instance-groups/{name}/`), each naming at least one instance, every one configured
/// and none twice.
fn resolve_instance_groups(
    declared: Vec<FileInstanceGroup>,
    instances: &[InstanceConfig],
) -> Result<Vec<InstanceGroupConfig>, String> {
    let mut groups: Vec<InstanceGroupConfig> = Vec::new();
    for group in declared {
        let key = format!("[[instance_groups]] `{}`", group.name);
        if !is_instance_name(&group.name) {
            return Err(format!(
                "[[instance_groups]] name `{}` must be 1-64 letters, digits, '-' or '_'",
                group.name
            ));
        }
        if groups.iter().any(|seen| seen.name == group.name) {
            return Err(format!(
                "[[instance_groups]] name `{}` is declared twice",
                group.name
            ));
        }
        if group.instances.is_empty() {
            return Err(format!("{key} instances: must name at least one instance"));
        }
        for (index, member) in group.instances.iter().enumerate() {
            if !instances.iter().any(|instance| &instance.name == member) {
                let known: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
                return Err(format!(
                    "{key} instances: `{member}` is not an [[obs]] instance (configured: {})",
                    known.join(", ")
                ));
            }
            if group.instances[..index].contains(member) {
                return Err(format!("{key} instances: `{member}` is named twice"));
            }
        }
        groups.push(InstanceGroupConfig {
            name: group.name,
            instances: group.instances,
        });
    }
    Ok(groups)
}

fn resolve_http_workers(workers: Option<usize>) -> Result<usize, String> {
    match workers {
        Some(0) => Err("http_workers must be at least 1".to_string()),
        Some(workers) => Ok(workers),
        // Two cores serve thousands of cached reads a second; more threads only cost memory.
        None => Ok(std::thread::available_parallelism().map_or(2, |n| n.get().min(4))),
    }
}

/// Deliveries are stored before they are sent: webhooks and callbacks need the database.
/// The nodes of a cluster share their instances, history and webhooks through PostgreSQL.
fn check_cluster_has_postgres(
    cluster: Option<&ClusterSettings>,
    database: &DatabaseSettings,
) -> Result<(), ConfigError> {
    if cluster.is_some() && database.postgres.is_none() {
        return Err(ConfigError::invalid(
            "OBS_HUB_DATABASE",
            "a cluster node ([cluster] node_id) needs a PostgreSQL database \
             (postgres://...), shared by every node",
        ));
    }
    Ok(())
}

fn check_deliveries_have_a_database(
    database: &DatabaseSettings,
    callback_base_url: Option<&str>,
    webhooks: &WebhookSettings,
) -> Result<(), ConfigError> {
    if database.location().is_none()
        && (callback_base_url.is_some() || !webhooks.endpoints.is_empty())
    {
        return Err(ConfigError::invalid(
            "OBS_HUB_DATABASE",
            "webhooks and OBS_CALLBACK_BASE_URL need the database (deliveries are stored \
             before they are sent): set a path instead of `none`",
        ));
    }
    Ok(())
}

/// A hub reachable from other machines must ask for a token.
fn check_exposure(bind: SocketAddr, api_tokens: &[Secret]) -> Result<(), ConfigError> {
    if api_tokens.is_empty() && !bind.ip().is_loopback() {
        return Err(ConfigError::invalid(
            "OBS_HUB_BIND",
            format!(
                "{bind} is reachable from other machines and no API token is set: set \
                 OBS_HUB_API_TOKEN (or api_tokens in the config file), or bind 127.0.0.1"
            ),
        ));
    }
    Ok(())
}

/// Where the self-signed certificate is kept: beside the history database (it is state too).
fn tls_state_dir(database: &DatabaseSettings) -> PathBuf {
    database
        .path
        .as_deref()
        .and_then(|path| path.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default()
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

/// The database: `OBS_HUB_DATABASE` / `--database` over `[database] url` or `path` over the
/// default; `none` keeps no history, a `postgres://` URL names a PostgreSQL database. Only
/// values that are wrong in themselves fail here (a path or server is checked on opening); the
/// error names the key (Some) or is the file's (None).
fn resolve_database(
    file: &FileDatabase,
    path_override: Option<&str>,
) -> Result<DatabaseSettings, (Option<&'static str>, String)> {
    let defaults = DatabaseSettings::default();
    let file_value = match (&file.path, &file.url) {
        (Some(_), Some(_)) => {
            return Err((
                None,
                "[database] takes `path` (an SQLite file) or `url`, not both".to_string(),
            ))
        }
        (Some(value), None) => Some(("path", value.as_str())),
        (None, Some(value)) => Some(("url", value.as_str())),
        (None, None) => None,
    };
    let (key, value) = match path_override.map(str::trim).filter(|path| !path.is_empty()) {
        Some(value) => ("OBS_HUB_DATABASE", Some(value)),
        None => match file_value {
            Some((key, value)) if value.trim().is_empty() => {
                return Err((
                    None,
                    format!(
                        "[database] {key} must not be empty (`{NO_DATABASE}` keeps no history)"
                    ),
                ))
            }
            Some(("url", value)) => ("[database] url", Some(value.trim())),
            Some((_, value)) => ("[database] path", Some(value)),
            None => ("[database] path", None),
        },
    };
    let (path, postgres) =
        match value {
            None => (defaults.path, None),
            Some(value) if value.eq_ignore_ascii_case(NO_DATABASE) => (None, None),
            Some(value) => match PostgresUrl::parse(value) {
                Some(_) if !cfg!(feature = "postgres") => {
                    return Err((Some(key), POSTGRES_FEATURE_MISSING.to_string()))
                }
                Some(url) => (None, Some(url)),
                None if key == "[database] url" => return Err((
                    None,
                    "[database] url must be a postgres:// or postgresql:// URL (an SQLite file \
                     is `path`)"
                        .to_string(),
                )),
                None => (Some(PathBuf::from(value)), None),
            },
        };
    let retention = match file.retention_days {
        None => defaults.retention,
        Some(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => {
            Duration::from_secs(days * 86_400)
        }
        Some(days) => {
            return Err((
                None,
                format!(
                "[database] retention_days must be between 1 and {MAX_RETENTION_DAYS}, not {days}"
            ),
            ))
        }
    };
    let busy_timeout = match file.busy_timeout_ms {
        None => defaults.busy_timeout,
        Some(0) => {
            return Err((
                None,
                "[database] busy_timeout_ms must be greater than 0".to_string(),
            ))
        }
        Some(ms) => Duration::from_millis(ms),
    };
    Ok(DatabaseSettings {
        path,
        postgres,
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

/// Instance names appear in URLs (`/api/instances/{name}/`), so they are kept to URL-safe words:
/// 1-64 ASCII letters, digits, '-' or '_'. The one rule for configured names and for the names
/// webhook filters and callbacks give.
pub fn is_instance_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_instance_name(name: &str) -> Result<(), String> {
    if is_instance_name(name) {
        Ok(())
    } else {
        Err(format!(
            "[[obs]] name `{name}` must be 1-64 letters, digits, '-' or '_'"
        ))
    }
}

#[cfg(test)]
mod tests;
