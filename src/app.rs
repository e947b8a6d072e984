//! Start-up: builds the actors and the HTTP server from [`Settings`].

use std::{
    net::{SocketAddr, TcpListener},
    path::Path,
    sync::Arc,
    time::Duration,
};

use actix::{Actor, Addr};
use actix_web::{
    body::MessageBody,
    dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse},
    web, App, HttpServer,
};

use crate::{
    config::{ConfigError, InstanceConfig, Overrides, Settings},
    db::{recording::HistoryHooks, DbError, Persistence},
    fleet::{fanout::MemberDispatch, groups::InstanceGroups, instances::ManagedInstances},
    http::{self, live_feed::LiveFeed, AppState},
    obs::{ConnectionSupervisor, Translators},
    outputs::stats_history::{StatsHistory, StatsRecorder},
    pictures::notices::PictureNotices,
    rules::{
        actions::{GroupResolver, Runner},
        engine::{Origin, RuleEngine},
        routes::RulesApi,
    },
    status::{lossy::LossyHub, ownership::Ownership, StatusBoard, StatusManager, Subscribe},
    webhooks::Webhooks,
};

/// How long in-flight HTTP requests get to finish after a stop signal (browser sockets are
/// closed at once by the live feed).
const HTTP_SHUTDOWN_TIMEOUT_SECS: u64 = 2;

/// How long shutdown waits for the OBS connections to close.
const DISCONNECT_ON_SHUTDOWN: Duration = Duration::from_secs(2);

/// How long shutdown waits for the last buffered events to reach the database.
const DRAIN_ON_SHUTDOWN: Duration = Duration::from_secs(5);

/// Why the hub could not start (one line each, for the operator).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A `[[webhooks]]` table the webhooks module refuses (a setting to fix, like a bad value).
    #[error("{0}")]
    Webhooks(String),
    /// A `[[rules]]` table that does not validate.
    #[error("{0}")]
    Rules(String),
}

/// [`Settings::load`], then the checks that need the layers above the settings (each
/// `[[webhooks]]` table's URL, event types and instance), so that every mistake in the file
/// stops start-up the same way: one line naming the key, exit 2.
pub fn load_settings(
    config_path: Option<&Path>,
    overrides: Overrides,
) -> Result<Settings, ConfigError> {
    let settings = Settings::load(config_path, overrides)?;
    let file_error = |message| ConfigError::File {
        path: config_path
            .map(|path| path.display().to_string())
            .unwrap_or_default(),
        message,
    };
    crate::webhooks::settings::declared_endpoints(&settings.webhooks).map_err(file_error)?;
    let groups = InstanceGroups::new(&settings.instance_groups, Vec::new());
    declared_rules(&settings, group_resolver(&groups)).map_err(file_error)?;
    Ok(settings)
}

/// How rules resolve an instance group to its members: through the hub's one group table, so
/// that a group changed through the API is resolved anew at the next firing.
fn group_resolver(groups: &InstanceGroups) -> GroupResolver {
    let groups = groups.clone();
    Arc::new(move |name| groups.members(name))
}

/// The config file's `[[rules]]`, checked against its instances and the groups known.
fn declared_rules(
    settings: &Settings,
    groups: GroupResolver,
) -> Result<Vec<crate::rules::model::Rule>, String> {
    let instances: Vec<String> = settings.instances.iter().map(|i| i.name.clone()).collect();
    let group = move |name: &str| groups(name);
    crate::rules::declared(
        &settings.rules,
        &crate::rules::model::Known {
            instances: &instances,
            group: &group,
        },
    )
}

/// The capabilities' REST routes: one line per capability.
const CAPABILITY_ROUTES: [http::CapabilityRoutes; 6] = [
    crate::scenes::routes::routes,
    crate::outputs::routes::routes,
    crate::sources::routes::routes,
    crate::studio::routes::routes,
    crate::pictures::routes::routes,
    crate::audio::routes::routes,
];

/// The capabilities' routes about the hub as a whole (mounted once, in `/api`).
const HUB_ROUTES: [http::CapabilityRoutes; 3] = [
    crate::fleet::routes::routes,
    crate::rules::routes::routes,
    crate::cluster::routes::routes,
];

/// How OBS events reach the capabilities: one line per capability (the connection translates
/// scenes, stream and record state itself).
pub fn translators() -> Translators {
    Translators::new(vec![
        crate::outputs::events::TRANSLATOR,
        crate::sources::events::TRANSLATOR,
        crate::studio::events::TRANSLATOR,
        crate::audio::events::TRANSLATOR,
        crate::audio::events::NEW_INPUTS,
    ])
}

/// What each capability writes to the history beyond event rows: one line per capability.
fn history_hooks() -> HistoryHooks {
    HistoryHooks::default()
        .with(crate::outputs::history::hook)
        .with(crate::scenes::history::hook)
}

/// What every HTTP worker's app shares (each worker builds its own app from it).
#[derive(Clone)]
struct SharedData {
    show: Option<web::Data<crate::http::demo_show::ShowControl>>,
    state: web::Data<AppState>,
    pairings: web::Data<http::pairing::Pairings>,
    api_document: web::Data<http::docs::ApiDocument>,
    captures: web::Data<crate::pictures::cache::Captures>,
    webhooks: web::Data<Webhooks>,
    stats: web::Data<StatsHistory>,
    groups: web::Data<InstanceGroups>,
    managed: web::Data<ManagedInstances>,
    rules: web::Data<crate::rules::routes::RulesApi>,
    /// Requests about instances other nodes own go to them (a cluster node only).
    forward: crate::cluster::forward::Forward,
    cluster: web::Data<crate::cluster::routes::ClusterInfo>,
}

impl SharedData {
    /// The hub's app: its data, middleware and routes.
    fn app(
        &self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let app = App::new();
        let app = match &self.show {
            Some(show) => app.app_data(show.clone()),
            None => app,
        };
        app.app_data(self.state.clone())
            .app_data(self.pairings.clone())
            .app_data(self.api_document.clone())
            .app_data(self.captures.clone())
            .app_data(self.webhooks.clone())
            .app_data(self.stats.clone())
            .app_data(self.groups.clone())
            .app_data(self.managed.clone())
            .app_data(self.rules.clone())
            .wrap(actix_web::middleware::Condition::new(
                self.forward.is_cluster(),
                self.forward.clone(),
            ))
            .app_data(self.cluster.clone())
            .wrap(actix_web::middleware::from_fn(http::site_guard))
            .wrap(http::normalize::NormalizeSlashes)
            .wrap(actix_web::middleware::from_fn(http::body_guard::deadline))
            .wrap(actix_web::middleware::from_fn(http::count_requests))
            // Outermost: a cached status read it can answer meets nothing else.
            .wrap(http::status_lane::CachedStatusLane)
            .configure(|config| http::routes(config, &CAPABILITY_ROUTES, &HUB_ROUTES))
    }
}

/// A built hub: actors started, port bound, not yet serving until awaited.
pub struct Application {
    port: u16,
    server: Server,
    board: StatusBoard,
    manager: Addr<StatusManager>,
    supervisor: Addr<ConnectionSupervisor>,
    rules: Addr<RuleEngine>,
    persistence: Persistence,
    webhooks: Webhooks,
    /// Every instance group (config and API), as the routes and the rules resolve them.
    instance_groups: InstanceGroups,
    /// The certificate served, when HTTPS is on.
    tls: Option<crate::tls::Identity>,
    url_signer: Arc<http::signed_url::UrlSigner>,
    /// Who owns which instance and duty (alone: everything is this hub's).
    ownership: Ownership,
    /// A cluster node's lease keeper (None alone).
    keeper: Option<actix::Recipient<crate::cluster::Halt>>,
}

impl Application {
    /// Must run inside an actix `System` (`#[actix_web::main]` / `#[actix_web::test]`).
    pub fn build(settings: Settings) -> Result<Self, StartError> {
        Self::build_with_demo(settings, None)
    }

    /// [`build`](Self::build), with the demo's show control when `obs-hub demo` plays its show:
    /// only then does `/api/demo/show` exist (404 otherwise).
    pub fn build_with_demo(
        settings: Settings,
        show: Option<crate::http::demo_show::ShowControl>,
    ) -> Result<Self, StartError> {
        let declared = crate::webhooks::settings::declared_endpoints(&settings.webhooks)
            .map_err(StartError::Webhooks)?;
        let address = settings.bind;
        let listen_error = |source| StartError::Listen { address, source };
        let listener = TcpListener::bind(address).map_err(listen_error)?;
        let listening = listener.local_addr().map_err(listen_error)?;
        let port = listening.port();
        // Before anything starts: a bad certificate stops start-up naming its file.
        let tls = crate::tls::Identity::load(&settings.tls)?;
        let tls_config = tls
            .as_ref()
            .map(|identity| identity.server_config())
            .transpose()?;
        let persistence =
            Persistence::start(&settings.database, &settings.instances, history_hooks())?;
        // The instances and groups made through the API, next to the config file's (whose
        // names win: a stored instance named like a configured one is left out).
        let stored = crate::fleet::store::load(persistence.pool())?;
        let stored_instances: Vec<InstanceConfig> = stored
            .instances
            .into_iter()
            .filter(|instance| {
                let declared = settings.instance(&instance.name).is_some();
                if declared {
                    log::warn!(
                        "instance `{}` made through the API is also in the config file: the \
                         file's is used",
                        instance.name
                    );
                }
                !declared
            })
            .collect();
        let all_instances: Vec<InstanceConfig> = settings
            .instances
            .iter()
            .chain(&stored_instances)
            .cloned()
            .collect();
        let instances: Vec<(&str, &str, u16)> = all_instances
            .iter()
            .map(|i| (i.name.as_str(), i.host.as_str(), i.port))
            .collect();
        // Who owns which instance and duty: the lease keeper fills it in a cluster; alone,
        // everything is this hub's.
        let ownership = match &settings.cluster {
            Some(cluster) => Ownership::node(&cluster.node_id),
            None => Ownership::alone(),
        };
        let manager_actor = StatusManager::new(&instances);
        let board = manager_actor.board();
        let manager = manager_actor.start();
        let webhooks = Webhooks::start(&settings, declared, persistence.pool().cloned(), listening);
        let instance_groups = InstanceGroups::new(&settings.instance_groups, stored.groups);
        let managed = ManagedInstances::new(stored_instances, Some(listening));
        let declared_rules = declared_rules(&settings, group_resolver(&instance_groups))
            .map_err(StartError::Rules)?;
        let webhooks_data = web::Data::new(webhooks.clone());
        let live = LiveFeed::new(board.clone()).start();
        let stats_history = StatsHistory::default();
        let stats_recorder = StatsRecorder::new(stats_history.clone()).start();
        start_relay(&settings, &persistence, &board, &manager, &ownership)?;
        // Every subscriber of the change stream, wired here and only here, before the
        // connections start and before the server takes a request: the history, the webhooks
        // and the WebSocket miss no change, from the very first.
        let subscribers = [
            persistence
                .recorder()
                .map(|recorder| recorder.clone().recipient()),
            webhooks
                .dispatcher()
                .map(|dispatcher| dispatcher.clone().recipient()),
            Some(live.clone().recipient()),
            Some(stats_recorder.recipient()),
        ];
        for subscriber in subscribers.into_iter().flatten() {
            manager.do_send(Subscribe(subscriber));
        }
        let lossy = LossyHub::default().start();
        // The meters' producer: its tap subscribes an instance's own session to OBS's meters
        // while someone watches them.
        let meters = crate::audio::meters::start(lossy.clone());
        let supervisor = ConnectionSupervisor::new(
            all_instances.clone(),
            settings.timing.clone(),
            manager.clone(),
            translators().with_tap(meters),
        );
        // A cluster node connects only to the instances whose lease it holds.
        let supervisor = match settings.cluster {
            Some(_) => supervisor.gated(),
            None => supervisor,
        }
        .start();

        let cluster_info = crate::cluster::routes::ClusterInfo {
            ownership: ownership.clone(),
            lease: settings.cluster.as_ref().map(|cluster| cluster.lease),
            starts: Default::default(),
        };
        let keeper = start_keeper(
            &settings,
            all_instances,
            &manager,
            &supervisor,
            &cluster_info,
            &managed,
        );
        let (rules, rules_api) = start_rules(
            &settings,
            declared_rules,
            group_resolver(&instance_groups),
            &board,
            &manager,
            &supervisor,
            &persistence,
        );
        // The rules engine hears every change too; subscribed before any connection has
        // reported (the connections start on the supervisor's first turn).
        manager.do_send(Subscribe(rules.clone().recipient()));
        let rules_data = web::Data::new(rules_api);
        let stats_data = web::Data::new(stats_history);
        let show_data = show.map(web::Data::new);
        let pairings = web::Data::new(http::pairing::Pairings::default());
        let api_document = web::Data::new(http::docs::ApiDocument(crate::api_document::document()));
        let workers = settings.http_workers;
        let unauthenticated =
            http::body_guard::UnauthenticatedSlots::new(settings.http.max_unauthenticated);
        // The pictures' shared captures, for the pictures' routes and notices.
        let captures = web::Data::new(crate::pictures::cache::Captures::new(
            settings.pictures.max_captures_per_second,
        ));
        let url_signer = Arc::new(http::signed_url::UrlSigner::new(
            crate::pictures::names::is_picture_path,
        ));
        let tokens = http::tokens::Tokens::load(&settings.api_tokens, persistence.pool().cloned());
        let rate_limits = Arc::new(http::rate_limit::RateLimits::new(
            settings.http.commands_per_second,
            settings.http.command_burst,
        ));
        let state = web::Data::new(AppState {
            board: board.clone(),
            manager: manager.clone(),
            supervisor: supervisor.clone(),
            settings: Arc::new(settings),
            live,
            persistence: persistence.clone(),
            status_json: http::views::StatusJsonCache::default(),
            unauthenticated,
            lossy: lossy.clone(),
            url_signer: url_signer.clone(),
            tokens,
            rate_limits,
            ownership: ownership.clone(),
        });
        // Lossy-channel producers, one per family of topics.
        PictureNotices::new(state.clone(), captures.clone(), lossy).start();
        let forward = crate::cluster::forward::Forward::new(ownership.clone(), &state.settings);
        let shared = SharedData {
            show: show_data,
            state,
            pairings,
            api_document,
            captures,
            webhooks: webhooks_data,
            stats: stats_data,
            groups: web::Data::new(instance_groups.clone()),
            managed: web::Data::new(managed),
            rules: rules_data,
            forward,
            cluster: web::Data::new(cluster_info),
        };
        let server = HttpServer::new(move || {
            // Group commands run each member's request through a second copy of this very app.
            let members = MemberDispatch::new(shared.app());
            shared.app().app_data(members)
        })
        .workers(workers)
        // Our own signal handling (crate::shutdown): actix-server's would stop the System.
        .disable_signals()
        .shutdown_timeout(HTTP_SHUTDOWN_TIMEOUT_SECS);
        let server = match tls_config {
            Some(config) => server.listen_rustls_0_23(listener, config),
            None => server.listen(listener),
        }
        .map_err(listen_error)?
        .run();
        Ok(Self {
            port,
            server,
            board,
            manager,
            supervisor,
            rules,
            persistence,
            webhooks,
            instance_groups,
            tls,
            url_signer,
            ownership,
            keeper,
        })
    }

    /// Who owns which instance and duty: a cluster node's view, published by its lease keeper
    /// at every heartbeat (alone: everything is this hub's).
    pub fn ownership(&self) -> Ownership {
        self.ownership.clone()
    }

    /// A cluster node's lease keeper (None alone): send it [`crate::cluster::Halt`] to stop it.
    pub fn keeper(&self) -> Option<actix::Recipient<crate::cluster::Halt>> {
        self.keeper.clone()
    }

    /// The signer of picture URLs (tests mint URLs that have expired with it).
    pub fn url_signer(&self) -> Arc<http::signed_url::UrlSigner> {
        self.url_signer.clone()
    }

    /// The certificate served over HTTPS (None: plain HTTP).
    pub fn tls(&self) -> Option<&crate::tls::Identity> {
        self.tls.as_ref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cached status, as the REST handlers read it.
    pub fn board(&self) -> StatusBoard {
        self.board.clone()
    }

    pub fn manager(&self) -> Addr<StatusManager> {
        self.manager.clone()
    }

    pub fn supervisor(&self) -> Addr<ConnectionSupervisor> {
        self.supervisor.clone()
    }

    /// The rules engine (tests send it `Tick`s after moving their clock).
    pub fn rules(&self) -> Addr<RuleEngine> {
        self.rules.clone()
    }

    /// The history database's pool and health (None pool when persistence is disabled).
    pub fn persistence(&self) -> Persistence {
        self.persistence.clone()
    }

    /// Every instance group: resolve a group to its members with
    /// [`InstanceGroups::members`] (a clone sees every later change).
    pub fn instance_groups(&self) -> InstanceGroups {
        self.instance_groups.clone()
    }

    /// The webhook dispatcher (None without a database) and the callback memory.
    pub fn webhooks(&self) -> Webhooks {
        self.webhooks.clone()
    }

    /// Serves until SIGINT/SIGTERM (see `crate::shutdown`), leaves OBS, then writes the
    /// events and webhook deliveries still buffered.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        actix_web::rt::spawn(async move {
            crate::shutdown::stop_requested().await;
            log::info!("stop requested: finishing requests, then leaving OBS and draining");
            handle.stop(true).await;
        });
        let served = self.server.await;
        // A cluster node hands its instances over first: the others take them at once rather
        // than a lease later.
        if let Some(keeper) = &self.keeper {
            let leave = keeper.send(crate::cluster::Halt { leave: true });
            if tokio::time::timeout(DISCONNECT_ON_SHUTDOWN, leave)
                .await
                .is_err()
            {
                log::warn!("the cluster's leases were not released within 2 s; they expire");
            }
        }
        // Leave OBS before draining, so that the instances' `stopped` states reach the history
        // and the webhooks too.
        let stop = self.supervisor.send(crate::obs::StopManager);
        if tokio::time::timeout(DISCONNECT_ON_SHUTDOWN, stop)
            .await
            .is_err()
        {
            log::warn!("the OBS connections did not stop within 2 s; exiting anyway");
        }
        self.webhooks.drain(DRAIN_ON_SHUTDOWN).await;
        self.persistence.drain(DRAIN_ON_SHUTDOWN).await;
        served
    }
}

/// A cluster node's lease keeper (None alone; a cluster needs the `postgres` feature, without
/// which start-up refuses one).
#[cfg(feature = "postgres")]
fn start_keeper(
    settings: &Settings,
    known: Vec<InstanceConfig>,
    manager: &Addr<StatusManager>,
    supervisor: &Addr<ConnectionSupervisor>,
    cluster: &crate::cluster::routes::ClusterInfo,
    managed: &ManagedInstances,
) -> Option<actix::Recipient<crate::cluster::Halt>> {
    use crate::cluster::keeper::{KeeperParts, LeaseKeeper};
    let settings_cluster = settings.cluster.clone()?;
    let location = settings.database.location()?;
    let keeper = LeaseKeeper::new(KeeperParts {
        cluster: settings_cluster,
        location,
        options: crate::db::pool::ConnectionOptions {
            busy_timeout: settings.database.busy_timeout,
        },
        configured: settings.instances.clone(),
        known,
        manager: manager.clone(),
        supervisor: supervisor.clone(),
        ownership: cluster.ownership.clone(),
        starts: cluster.starts.clone(),
        managed: managed.clone(),
    })
    .start();
    Some(keeper.recipient())
}

#[cfg(not(feature = "postgres"))]
fn start_keeper(
    _: &Settings,
    _: Vec<InstanceConfig>,
    _: &Addr<StatusManager>,
    _: &Addr<ConnectionSupervisor>,
    _: &crate::cluster::routes::ClusterInfo,
    _: &ManagedInstances,
) -> Option<actix::Recipient<crate::cluster::Halt>> {
    None
}

/// A cluster node's change relay (nothing alone): the recorder writes this node's stamped
/// changes fenced and relays them; the feed shows the other nodes' changes (`cluster::feed`).
/// Called before the recorder is subscribed to the status manager.
fn start_relay(
    settings: &Settings,
    persistence: &Persistence,
    board: &StatusBoard,
    manager: &Addr<StatusManager>,
    ownership: &Ownership,
) -> Result<(), StartError> {
    let Some(cluster) = &settings.cluster else {
        return Ok(());
    };
    persistence.relay_as(&cluster.node_id, board.clone());
    #[cfg(feature = "postgres")]
    if let Some(url) = &settings.database.postgres {
        crate::cluster::feed::start(url.clone(), manager.clone(), ownership.clone()).map_err(
            |error| {
                StartError::Database(DbError::Open {
                    path: url.redacted(),
                    message: format!("cannot start the cluster's change feed: {error}"),
                })
            },
        )?;
    }
    let _ = (manager, ownership);
    Ok(())
}

/// Starts the rules engine with the config file's rules and the stored ones; answers it and
/// what its routes work with.
fn start_rules(
    settings: &Settings,
    declared: Vec<crate::rules::model::Rule>,
    groups: GroupResolver,
    board: &StatusBoard,
    manager: &Addr<StatusManager>,
    supervisor: &Addr<ConnectionSupervisor>,
    persistence: &Persistence,
) -> (Addr<RuleEngine>, RulesApi) {
    let pool = persistence.pool().cloned();
    let configured: std::collections::BTreeSet<String> =
        declared.iter().map(|rule| rule.spec.name.clone()).collect();
    let mut rules: Vec<_> = declared
        .into_iter()
        .map(|rule| (rule, Origin::Config))
        .collect();
    if let Some(pool) = &pool {
        let instances: Vec<String> = settings.instances.iter().map(|i| i.name.clone()).collect();
        let resolver = groups.clone();
        let group = move |name: &str| resolver(name);
        let known = crate::rules::model::Known {
            instances: &instances,
            group: &group,
        };
        rules.extend(
            crate::rules::stored(pool, &known, &configured)
                .into_iter()
                .map(|rule| (rule, Origin::Api)),
        );
    }
    let runner = Runner {
        supervisor: supervisor.clone(),
        board: board.clone(),
        clock: settings.clock.clone(),
        chains: crate::rules::engine::new_chains(),
        memory: Default::default(),
        groups: groups.clone(),
        audit: persistence.audit().cloned(),
    };
    let engine = RuleEngine::new(runner, manager.clone(), pool.clone(), rules).start();
    let api = RulesApi {
        engine: engine.clone(),
        board: board.clone(),
        groups,
        pool,
        configured: Arc::new(configured),
    };
    (engine, api)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `[[rules]]` are read in the API's format and checked at start: a good one loads, a bad
    /// one stops start-up naming its table and the JSON path of the mistake.
    #[test]
    fn config_rules_are_checked_at_start_naming_the_table_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        let studio = "[[obs]]\nname = \"studio\"\n[[obs]]\nname = \"booth\"\n";
        let good = "[[rules]]\nname = \"studio-live-mirror\"\n\
            trigger = { type = \"change\", kind = \"scene_changed\", instance = \"studio\", where = { scene = \"Live\" } }\n\
            actions = [{ type = \"switch_scene\", scene = \"Live\", instances = [\"booth\"] }]\n";
        std::fs::write(&path, format!("{studio}{good}")).unwrap();
        let settings = load_settings(Some(&path), Overrides::default()).unwrap();
        assert_eq!(settings.rules.len(), 1);
        let bad = "[[rules]]\nname = \"bad\"\n\
            trigger = { type = \"change\", kind = \"scene_changed\" }\n\
            conditions = { field = \"current_scene\", op = \"gt\", value = \"Live\" }\n\
            actions = [{ type = \"switch_scene\", scene = \"BRB\" }]\n";
        std::fs::write(&path, format!("{studio}{good}{bad}")).unwrap();
        let error = load_settings(Some(&path), Overrides::default()).unwrap_err();
        let line = error.to_string();
        assert!(line.contains("hub.toml"), "{line}");
        assert!(line.contains("[[rules]] #2 `conditions.op`"), "{line}");
    }

    /// A `[[webhooks]]` table the webhooks module refuses stops start-up like any bad setting:
    /// one line naming the file, the table and the key.
    #[test]
    fn a_webhook_table_with_an_unknown_event_type_is_a_bad_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.toml");
        std::fs::write(
            &path,
            "[[webhooks]]\nurl = \"http://127.0.0.1:9/in\"\n\
             secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevent_types = [\"scene\"]\n",
        )
        .unwrap();
        let error = load_settings(Some(&path), Overrides::default()).unwrap_err();
        let line = error.to_string();
        assert!(matches!(error, ConfigError::File { .. }), "{error:?}");
        assert!(line.contains("hub.toml"), "{line}");
        assert!(line.contains("[[webhooks]] #1 event_types"), "{line}");
        assert!(!line.contains("whsec_"), "{line}");
    }
}
