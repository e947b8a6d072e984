//! Start-up: builds the actors and the HTTP server from [`Settings`].

use std::{net::TcpListener, sync::Arc};

use actix::{Actor, Addr};
use actix_web::{dev::Server, middleware::NormalizePath, web, App, HttpServer};

use crate::{
    config::Settings,
    http::{self, AppState},
    obs::ConnectionSupervisor,
    status::{StatusBoard, StatusManager},
};

/// A built hub: actors started, port bound, not yet serving until awaited.
pub struct Application {
    port: u16,
    server: Server,
    board: StatusBoard,
    manager: Addr<StatusManager>,
    supervisor: Addr<ConnectionSupervisor>,
}

impl Application {
    /// Must run inside an actix `System` (`#[actix_web::main]` / `#[actix_web::test]`).
    pub fn build(settings: Settings) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let instances: Vec<(&str, &str, u16)> = settings
            .instances
            .iter()
            .map(|i| (i.name.as_str(), i.host.as_str(), i.port))
            .collect();
        let manager_actor = StatusManager::new(&instances);
        let board = manager_actor.board();
        let manager = manager_actor.start();
        let supervisor = ConnectionSupervisor::new(
            settings.instances.clone(),
            settings.timing.clone(),
            manager.clone(),
        )
        .start();
        let workers = settings.http_workers;
        let state = web::Data::new(AppState {
            board: board.clone(),
            manager: manager.clone(),
            supervisor: supervisor.clone(),
            settings: Arc::new(settings),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(NormalizePath::trim())
                .wrap(actix_web::middleware::from_fn(http::count_requests))
                .configure(http::routes)
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            board,
            manager,
            supervisor,
        })
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

    /// Serves until SIGINT/SIGTERM (actix-web stops gracefully on both).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
