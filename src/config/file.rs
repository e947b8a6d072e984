//! The TOML file's format: one struct per table, every key optional, unknown keys refused (so a
//! typo is not silently ignored). [`super::Settings::resolve`] turns these into settings.

use std::path::PathBuf;

use serde::Deserialize;

use super::{ConfigError, Secret};

/// The TOML file's shape. Unknown keys are refused so that a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) bind: Option<String>,
    pub(super) callback_base_url: Option<String>,
    pub(super) http_workers: Option<usize>,
    pub(super) api_tokens: Option<Vec<Secret>>,
    pub(super) allowed_origins: Option<Vec<String>>,
    pub(super) allowed_hosts: Option<Vec<String>>,
    #[serde(default)]
    pub(super) timing: FileTiming,
    #[serde(default)]
    pub(super) websocket: FileWebSocket,
    #[serde(default)]
    pub(super) database: FileDatabase,
    #[serde(default)]
    pub(super) obs: Vec<FileInstance>,
    #[serde(default)]
    pub(super) instance_groups: Vec<FileInstanceGroup>,
    pub(super) callback_secret: Option<Secret>,
    #[serde(default)]
    pub(super) webhooks: Vec<FileWebhook>,
    /// `[[rules]]`: read as the API's JSON and checked by `crate::rules` at start.
    #[serde(default)]
    pub(super) rules: Vec<toml::Value>,
    #[serde(default)]
    pub(super) webhook_delivery: FileDelivery,
    #[serde(default)]
    pub(super) http: FileHttp,
    #[serde(default)]
    pub(super) pictures: FilePictures,
    #[serde(default)]
    pub(super) cluster: super::cluster_settings::FileCluster,
    pub(super) tls: Option<String>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePictures {
    pub(super) max_captures_per_second: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHttp {
    pub(super) body_timeout_ms: Option<u64>,
    pub(super) callback_body_limit_bytes: Option<usize>,
    pub(super) max_unauthenticated: Option<usize>,
    pub(super) commands_per_second: Option<u32>,
    pub(super) command_burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTiming {
    pub(super) poll_interval_ms: Option<u64>,
    pub(super) active_poll_interval_ms: Option<u64>,
    pub(super) heartbeat_interval_ms: Option<u64>,
    pub(super) heartbeat_timeout_ms: Option<u64>,
    pub(super) backoff_min_ms: Option<u64>,
    pub(super) backoff_max_ms: Option<u64>,
    pub(super) auth_retry_interval_ms: Option<u64>,
    pub(super) connect_timeout_ms: Option<u64>,
    pub(super) request_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDatabase {
    pub(super) path: Option<String>,
    /// A PostgreSQL URL (`postgres://...`), instead of `path`.
    pub(super) url: Option<String>,
    pub(super) retention_days: Option<u64>,
    pub(super) busy_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebSocket {
    pub(super) ping_interval_ms: Option<u64>,
    pub(super) client_timeout_ms: Option<u64>,
    pub(super) max_backlog: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileInstance {
    pub(super) name: String,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) password: Option<Secret>,
}

/// One `[[instance_groups]]` table: a name and the `[[obs]]` instances it gathers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileInstanceGroup {
    pub(super) name: String,
    pub(super) instances: Vec<String>,
}

/// One `[[webhooks]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhook {
    pub(super) url: String,
    pub(super) secret: Option<Secret>,
    pub(super) event_types: Option<Vec<String>>,
    pub(super) instance: Option<String>,
}

/// `[webhook_delivery]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDelivery {
    pub(super) retry_delays_ms: Option<Vec<u64>>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) concurrency: Option<usize>,
    pub(super) allow_loopback: Option<bool>,
    pub(super) allow_private: Option<bool>,
    pub(super) allow_public: Option<bool>,
    pub(super) max_endpoints: Option<usize>,
}

pub(super) fn parse_file(path: &str, text: &str) -> Result<FileConfig, ConfigError> {
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
