//! The command line: `obs-hub serve` and `obs-hub demo`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Overrides, Secret};

#[derive(Parser, Debug)]
#[command(
    name = "obs-hub",
    version,
    about = "Keeps OBS Studio connected, cached and controllable over REST"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the hub in the foreground until SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Run the hub against a built-in SIMULATED OBS (no OBS needed), to see every feature work.
    Demo(DemoArgs),
    /// Check OBS, the password, the OBS version, events, the callback URL and a running hub.
    Doctor(DoctorArgs),
    /// Create the history database or bring its schema up to date, then exit (`serve` does
    /// this too on start).
    Migrate(MigrateArgs),
}

/// Flags win over their environment variables (clap merges the two); both win over the file.
#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML config file (instances, timing).
    #[arg(long, env = "OBS_HUB_CONFIG", value_name = "OBS_HUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "OBS_HUB_BIND", value_name = "OBS_HUB_BIND")]
    pub bind: Option<String>,
    /// Host of the `default` OBS instance.
    #[arg(long, env = "OBS_WEBSOCKET_HOST", value_name = "OBS_WEBSOCKET_HOST")]
    pub obs_host: Option<String>,
    /// obs-websocket port of the `default` instance.
    #[arg(long, env = "OBS_WEBSOCKET_PORT", value_name = "OBS_WEBSOCKET_PORT")]
    pub obs_port: Option<u16>,
    /// obs-websocket password of the `default` instance (prefer the environment variable:
    /// command lines are visible to other users of the machine).
    #[arg(
        long,
        env = "OBS_WEBSOCKET_PASSWORD",
        value_name = "OBS_WEBSOCKET_PASSWORD",
        hide_env_values = true
    )]
    pub obs_password: Option<String>,
    /// Base URL that change notifications are posted to.
    #[arg(
        long,
        env = "OBS_CALLBACK_BASE_URL",
        value_name = "OBS_CALLBACK_BASE_URL"
    )]
    pub callback_base_url: Option<String>,
    /// API token(s), comma-separated, required on /api/ and /ws when set (prefer the variable).
    #[arg(
        long,
        env = "OBS_HUB_API_TOKEN",
        value_name = "OBS_HUB_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<String>,
    /// Web origins, comma-separated, whose pages may open the live WebSocket and send
    /// state-changing requests besides the hub's own (e.g. https://dashboard.example.com).
    #[arg(
        long,
        env = "OBS_HUB_ALLOWED_ORIGINS",
        value_name = "OBS_HUB_ALLOWED_ORIGINS"
    )]
    pub allowed_origins: Option<String>,
    /// Host names, comma-separated, that a hub without a token answers to besides 127.0.0.1,
    /// localhost and [::1] (e.g. the name a reverse proxy forwards). Others get 421: a page whose
    /// domain was re-pointed at this machine (DNS rebinding) arrives with its own name.
    #[arg(
        long,
        env = "OBS_HUB_ALLOWED_HOSTS",
        value_name = "OBS_HUB_ALLOWED_HOSTS"
    )]
    pub allowed_hosts: Option<String>,
    /// SQLite file keeping the history (created on first start), or `none` to keep none.
    /// Default: obs-hub.db in the working directory.
    #[arg(long, env = "OBS_HUB_DATABASE", value_name = "OBS_HUB_DATABASE")]
    pub database: Option<String>,
    /// Standard Webhooks secret (`whsec_...`) that signs the callbacks sent to
    /// OBS_CALLBACK_BASE_URL and is required on the callbacks received (prefer the variable).
    #[arg(
        long,
        env = "OBS_HUB_CALLBACK_SECRET",
        value_name = "OBS_HUB_CALLBACK_SECRET",
        hide_env_values = true
    )]
    pub callback_secret: Option<String>,
    /// HTTPS: `off` (default) or `self-signed` (a certificate generated on first start and kept
    /// beside the database; its fingerprint is printed at start).
    #[arg(long, env = "OBS_HUB_TLS", value_name = "OBS_HUB_TLS")]
    pub tls: Option<String>,
    /// HTTPS from this PEM certificate chain (with --tls-key).
    #[arg(long, env = "OBS_HUB_TLS_CERT", value_name = "OBS_HUB_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "OBS_HUB_TLS_KEY", value_name = "OBS_HUB_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// This hub's node id in a cluster of hubs sharing one PostgreSQL database (off when unset).
    #[arg(
        long,
        env = "OBS_HUB_CLUSTER_NODE_ID",
        value_name = "OBS_HUB_CLUSTER_NODE_ID"
    )]
    pub cluster_node_id: Option<String>,
    /// The URL the other nodes of the cluster reach this one at (e.g. http://10.0.0.2:8000).
    #[arg(
        long,
        env = "OBS_HUB_CLUSTER_ADDRESS",
        value_name = "OBS_HUB_CLUSTER_ADDRESS"
    )]
    pub cluster_address: Option<String>,
}

impl ServeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            bind: self.bind.clone(),
            obs_host: self.obs_host.clone(),
            obs_port: self.obs_port,
            obs_password: self.obs_password.clone().map(Secret::new),
            callback_base_url: self.callback_base_url.clone(),
            api_tokens: self
                .api_token
                .as_deref()
                .map(|tokens| tokens.split(',').map(Secret::new).collect()),
            allowed_origins: self
                .allowed_origins
                .as_deref()
                .map(|origins| origins.split(',').map(str::to_string).collect()),
            allowed_hosts: self
                .allowed_hosts
                .as_deref()
                .map(|hosts| hosts.split(',').map(str::to_string).collect()),
            database: self.database.clone(),
            callback_secret: self.callback_secret.clone().map(Secret::new),
            tls: self.tls.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            cluster_node_id: self.cluster_node_id.clone(),
            cluster_address: self.cluster_address.clone(),
        }
    }
}

#[derive(Args, Debug, Default)]
pub struct MigrateArgs {
    /// TOML config file (its `[database]` table).
    #[arg(long, env = "OBS_HUB_CONFIG", value_name = "OBS_HUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// SQLite file to create or migrate.
    #[arg(long, env = "OBS_HUB_DATABASE", value_name = "OBS_HUB_DATABASE")]
    pub database: Option<String>,
}

impl MigrateArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            database: self.database.clone(),
            ..Overrides::default()
        }
    }
}

/// `doctor` takes everything `serve` does, plus whether a running hub is required.
#[derive(Args, Debug, Default)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Fail (exit 1) when no hub answers at the bind address; by default that is only reported,
    /// because doctor is usually run before `serve`.
    #[arg(long)]
    pub require_hub: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "OBS_HUB_BIND",
        value_name = "OBS_HUB_BIND",
        default_value = "127.0.0.1:8000"
    )]
    pub bind: String,
    /// SQLite file for the demo's history. Deliberately not read from OBS_HUB_DATABASE, so a
    /// demo never writes simulated events into a real history. Default: a fresh file in the
    /// temporary directory, removed when the demo ends.
    #[arg(long)]
    pub database: Option<PathBuf>,
    /// Do not play the scripted show (scene switches, a stream, a recording): the simulated OBS
    /// changes only when you act, from the dashboard or the API.
    #[arg(long)]
    pub no_show: bool,
    /// An admin API token (at least 16 characters) the demo asks for, to try scoped tokens
    /// (`POST /api/tokens/`). Deliberately not read from OBS_HUB_API_TOKEN. Default: none.
    #[arg(long, value_name = "TOKEN")]
    pub api_token: Option<String>,
    /// Commands per second each managed token may send ([http] commands_per_second; 0: no
    /// limit).
    #[arg(long, value_name = "N")]
    pub commands_per_second: Option<u32>,
}
