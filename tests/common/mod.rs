//! Per-test hub: its own simulated OBS instances, its own port, fast timings.
#![allow(dead_code)] // each test crate uses a different part of this

pub mod binary;
pub mod browser;
pub mod cluster;
pub mod e2e;
pub mod postgres;
pub mod receiver;

use std::{future::Future, time::Duration};

use obs_hub::{
    app::Application,
    config::{InstanceConfig, Secret, Settings, Timing},
    fake_obs::{FakeObs, FakeObsConfig},
    status::StatusBoard,
};
use serde_json::Value;

pub const PASSWORD: &str = "test-password";

/// Timings short enough that reconnects and dead-link detection happen within a test.
pub fn fast_timing() -> Timing {
    Timing {
        poll_interval: Duration::from_millis(300),
        active_poll_interval: Duration::from_millis(300),
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_millis(600),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        auth_retry_interval: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
    }
}

pub async fn start_fake() -> FakeObs {
    FakeObs::start(FakeObsConfig {
        password: Some(PASSWORD.to_string()),
        ..FakeObsConfig::default()
    })
    .await
    .expect("fake OBS starts")
}

/// A fake OBS with these optional outputs (replay buffer, virtual camera...).
pub async fn start_fake_with(outputs: obs_hub::fake_obs::OutputOptions) -> FakeObs {
    FakeObs::start(FakeObsConfig {
        password: Some(PASSWORD.to_string()),
        outputs,
        ..FakeObsConfig::default()
    })
    .await
    .expect("fake OBS starts")
}

pub fn instance(name: &str, fake: &FakeObs, password: &str) -> InstanceConfig {
    InstanceConfig {
        name: name.to_string(),
        host: "127.0.0.1".to_string(),
        port: fake.port(),
        password: Some(Secret::new(password)),
    }
}

pub struct TestHub {
    pub base: String,
    pub board: StatusBoard,
    pub client: awc::Client,
    pub app_manager: actix::Addr<obs_hub::status::StatusManager>,
    /// The rules engine: tests that drive a manual clock send it `Tick`s.
    pub rules: actix::Addr<obs_hub::rules::engine::RuleEngine>,
    /// Its webhook dispatcher (None without a database) and callback memory.
    pub webhooks: obs_hub::webhooks::Webhooks,
    /// Signs picture URLs with this hub's key (tests mint expired ones).
    pub url_signer: std::sync::Arc<obs_hub::http::signed_url::UrlSigner>,
    /// This hub's own SQLite file (None if the test disabled persistence, or on PostgreSQL).
    pub database: Option<std::path::PathBuf>,
    /// This hub's database, file or server (None if the test disabled persistence).
    pub location: Option<obs_hub::config::DatabaseLocation>,
    /// Who owns which instance (a cluster node's view; alone, everything is the hub's).
    pub ownership: obs_hub::status::ownership::Ownership,
    /// A cluster node's lease keeper (None alone): `Halt` stops it.
    pub keeper: Option<actix::Recipient<obs_hub::cluster::Halt>>,
    /// Keeps the database's directory until the test ends.
    _database_dir: tempfile::TempDir,
}

/// Starts a hub for the given instances on a free port. Must run inside `#[actix_web::test]`.
pub fn spawn_hub(instances: Vec<InstanceConfig>) -> TestHub {
    spawn_hub_with(instances, fast_timing())
}

pub fn spawn_hub_with(instances: Vec<InstanceConfig>, timing: Timing) -> TestHub {
    spawn_hub_configured(instances, |settings| settings.timing = timing)
}

/// Starts a hub with test defaults, after `configure` has adjusted its settings.
pub fn spawn_hub_configured(
    instances: Vec<InstanceConfig>,
    configure: impl FnOnce(&mut Settings),
) -> TestHub {
    spawn_hub_with_show(instances, configure, None)
}

/// [`spawn_hub_configured`], as `obs-hub demo` builds it when `show` is given.
#[allow(dead_code)] // Not every test binary starts a demo.
pub fn spawn_hub_with_show(
    instances: Vec<InstanceConfig>,
    configure: impl FnOnce(&mut Settings),
    show: Option<obs_hub::demo::ShowControl>,
) -> TestHub {
    // RUST_LOG=obs_hub=info shows the hub's own log lines in a failing test's output.
    let _ = env_logger::builder().is_test(true).try_init();
    let mut settings = Settings {
        bind: "127.0.0.1:0".parse().unwrap(),
        callback_base_url: None,
        instances,
        instance_groups: Vec::new(),
        timing: fast_timing(),
        http_workers: 1,
        api_tokens: Vec::new(),
        allowed_origins: Vec::new(),
        allowed_hosts: Vec::new(),
        websocket: Default::default(),
        database: Default::default(),
        callback_secret: None,
        webhooks: Default::default(),
        http: Default::default(),
        tls: Default::default(),
        pictures: Default::default(),
        rules: Vec::new(),
        clock: Default::default(),
        cluster: None,
    };
    // Every test its own database file (an in-memory one would differ per pooled connection),
    // or its own database on the test process's PostgreSQL server (see [`on_backend`]).
    let database_dir = tempfile::tempdir().expect("temp dir for the database");
    let location = fresh_location(&database_dir);
    use_database(&mut settings, &location);
    configure(&mut settings);
    let database = settings.database.path.clone();
    let location = settings.database.location();
    let app = Application::build_with_demo(settings, show).expect("hub starts");
    let hub = TestHub {
        base: format!("http://127.0.0.1:{}", app.port()),
        board: app.board(),
        client: awc::Client::builder()
            .timeout(Duration::from_secs(20))
            .finish(),
        app_manager: app.manager(),
        rules: app.rules(),
        webhooks: app.webhooks(),
        url_signer: app.url_signer(),
        database,
        location,
        ownership: app.ownership(),
        keeper: app.keeper(),
        _database_dir: database_dir,
    };
    actix_web::rt::spawn(app.run_until_stopped());
    hub
}

/// The engine the hubs of a test keep their state in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    // Each `#[actix_web::test]` runs on a thread of its own: the engine is the test's.
    static BACKEND: std::cell::Cell<Backend> = const { std::cell::Cell::new(Backend::Sqlite) };
}

/// Runs a test's body with every hub it spawns on `backend` (see [`on_both_backends!`]).
pub async fn on_backend<T>(backend: Backend, body: impl Future<Output = T>) -> T {
    BACKEND.with(|cell| cell.set(backend));
    body.await
}

pub fn backend() -> Backend {
    BACKEND.with(|cell| cell.get())
}

/// A new, empty database on the test's engine: a file in `dir`, or a fresh PostgreSQL database.
pub fn fresh_location(dir: &tempfile::TempDir) -> obs_hub::config::DatabaseLocation {
    use obs_hub::config::{DatabaseLocation, PostgresUrl};
    match backend() {
        Backend::Sqlite => DatabaseLocation::Sqlite(dir.path().join("hub.db")),
        Backend::Postgres => DatabaseLocation::Postgres(
            PostgresUrl::parse(&postgres::fresh_database().url).expect("a postgres URL"),
        ),
    }
}

/// A cluster node `id` in this process, on the database at `location`, declaring `instances`,
/// leasing for `lease`, at its own loopback address; `configure` may change the rest.
pub fn spawn_cluster_node(
    id: &str,
    instances: Vec<obs_hub::config::InstanceConfig>,
    location: &obs_hub::config::DatabaseLocation,
    lease: Duration,
    configure: impl FnOnce(&mut Settings),
) -> TestHub {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let id = id.to_string();
    spawn_hub_configured(instances, |settings| {
        settings.bind = ([127, 0, 0, 1], port).into();
        use_database(settings, location);
        settings.cluster = Some(obs_hub::config::ClusterSettings {
            node_id: id,
            address: format!("http://127.0.0.1:{port}"),
            lease,
        });
        configure(settings);
    })
}

/// Points a hub's settings at `location` (and only there).
pub fn use_database(settings: &mut Settings, location: &obs_hub::config::DatabaseLocation) {
    use obs_hub::config::DatabaseLocation;
    match location {
        DatabaseLocation::Sqlite(path) => {
            settings.database.path = Some(path.clone());
            settings.database.postgres = None;
        }
        DatabaseLocation::Postgres(url) => {
            settings.database.path = None;
            settings.database.postgres = Some(url.clone());
        }
    }
}

/// A hub test twice, as modules `name::sqlite` and `name::postgres`: every hub the body spawns
/// keeps its state in SQLite, then in PostgreSQL. The PostgreSQL one is ignored where it cannot
/// run (no `postgres` feature, or no PostgreSQL binaries); `.ci/run` runs it.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body() $body

            #[actix_web::test]
            async fn sqlite() {
                $crate::common::on_backend($crate::common::Backend::Sqlite, body()).await
            }

            #[actix_web::test]
            #[cfg_attr(
                any(not(feature = "postgres"), postgres_missing),
                ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
            )]
            async fn postgres() {
                $crate::common::on_backend($crate::common::Backend::Postgres, body()).await
            }
        }
    };
}

/// One fake OBS and a hub connected to it as `default`.
pub async fn hub_with_fake() -> (TestHub, FakeObs) {
    let fake = start_fake().await;
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    hub.wait_for("connected with a fresh state", |status| {
        status["connected"] == true && status["stale"] == false
    })
    .await;
    (hub, fake)
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl TestHub {
    pub async fn get(&self, path: &str) -> Reply {
        let mut response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("hub answers");
        let body = response.body().limit(1 << 20).await.expect("body");
        Reply {
            status: response.status().as_u16(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        }
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        let mut response = self
            .client
            .post(format!("{}{path}", self.base))
            .insert_header(("content-type", "application/json"))
            .send_body(body.to_string())
            .await
            .expect("hub answers");
        let bytes = response.body().limit(1 << 20).await.expect("body");
        Reply {
            status: response.status().as_u16(),
            body: serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        }
    }

    /// Any method (`PUT`, `PATCH`...) with a JSON body.
    pub async fn send(&self, method: &str, path: &str, body: &str) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .insert_header(("content-type", "application/json"))
            .send_body(body.to_string())
            .await
            .expect("hub answers");
        let bytes = response.body().limit(1 << 20).await.expect("body");
        Reply {
            status: response.status().as_u16(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Polls `GET /api/stream-status/` until `check` holds.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_path("/api/stream-status/", what, check).await
    }

    pub async fn wait_for_path(
        &self,
        path: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let mut last = Value::Null;
        for _ in 0..400 {
            let reply = self.get(path).await;
            if check(&reply.body) {
                return reply.body;
            }
            last = reply.body;
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("gave up waiting for {what}; last {path}: {last:#}");
    }
}

/// Waits (with a generous deadline, never asserting speed) until `check` holds.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}");
}

/// A loopback port held by this test and refusing connections: bound, not listening, so no other
/// test or program gets it while the test runs, and a client that connects is refused at once
/// (a closed port, OBS not started, a receiver that is down). [`ClosedPort::listen`] opens it.
pub struct ClosedPort {
    socket: tokio::net::TcpSocket,
    pub port: u16,
}

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind(([127, 0, 0, 1], 0).into())
            .expect("binds a loopback port");
        let port = socket.local_addr().expect("its address").port();
        Self { socket, port }
    }

    /// Starts listening on the held port (inside a runtime: a Tokio listener is made on the way).
    pub fn listen(self) -> std::net::TcpListener {
        self.socket
            .listen(1024)
            .and_then(|listener| listener.into_std())
            .expect("listens on the held port")
    }
}
