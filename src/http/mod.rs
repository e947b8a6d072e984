//! The REST layer. Handlers read cached status from the [`StatusBoard`] and send commands to
//! the connection supervisor; they never talk to OBS themselves.
//!
//! Every route exists twice: `/api/<route>` acts on the default instance (the one named
//! `default`, or the only one), `/api/instances/{instance}/<route>` on a named one. Trailing
//! slashes are optional (the seed's paths end in one).

pub mod ask;
pub mod audit;
pub mod auth;
pub mod body;
pub mod body_guard;
pub(crate) mod callbacks;
mod dashboard;
pub mod demo_show;
pub mod docs;
pub mod handlers;
pub(crate) mod history;
pub mod live_feed;
pub mod live_protocol;
pub mod normalize;
pub(crate) mod ops;
pub mod pairing;
pub(crate) mod qr;
pub(crate) mod query;
pub mod rate_limit;
pub(crate) mod raw;
pub(crate) mod responses;
pub mod scopes;
pub mod signed_url;
pub mod site_guard;
pub mod status_lane;
pub(crate) mod target;
pub mod tokens;
pub mod views;
pub(crate) mod webhooks;
mod ws;
pub mod ws_access;

use std::sync::Arc;

use actix::Addr;
use actix_web::{
    dev::HttpServiceFactory, guard, web, FromRequest, Handler, HttpRequest, HttpResponse,
    Responder, Route,
};

use crate::{
    config::Settings,
    db::Persistence,
    error::ApiError,
    obs::ConnectionSupervisor,
    status::{StatusBoard, StatusManager},
};

pub use body::BODY_LIMIT;
pub use ops::count_requests;
pub use site_guard::guard as site_guard;

/// What every handler can reach.
pub struct AppState {
    pub board: StatusBoard,
    pub manager: Addr<StatusManager>,
    pub supervisor: Addr<ConnectionSupervisor>,
    pub settings: Arc<Settings>,
    /// Fans status changes out to the browsers connected to `/ws`.
    pub live: Addr<live_feed::LiveFeed>,
    /// The history database (reads) and the recorder (forced scene syncs).
    pub persistence: Persistence,
    /// Serialised status answers, one per instance, until its status changes.
    pub status_json: views::StatusJsonCache,
    /// Callbacks being read before their signature can be checked (bounded).
    pub unauthenticated: body_guard::UnauthenticatedSlots,
    /// The lossy channel: notices to the `/ws` clients that subscribed to their topics.
    pub lossy: Addr<crate::status::lossy::LossyHub>,
    /// Mints and checks the short-lived signed URLs of pictures.
    pub url_signer: Arc<signed_url::UrlSigner>,
    /// Every API token and what it may do (see `tokens`).
    pub tokens: tokens::Tokens,
    /// The command rate limit of each managed token.
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// Who owns which instance and duty (a cluster node's view; alone, everything is its own).
    pub ownership: crate::status::ownership::Ownership,
}

/// Mounts one capability's per-instance routes (`outputs::routes::routes` ...).
pub type CapabilityRoutes = fn(&mut web::ServiceConfig);

/// Registers every route: the hub's own, and the capabilities' that `app` hands in (each under
/// `/api` and `/api/instances/{instance}`, behind the token check), and the capabilities'
/// routes about the hub as a whole (`hub`: mounted once in `/api`, before the per-instance
/// ones, so that they may take `/api/instances` and `/api/instances/{instance}` themselves).
pub fn routes(
    config: &mut web::ServiceConfig,
    capabilities: &'static [CapabilityRoutes],
    hub: &'static [CapabilityRoutes],
) {
    config
        .service(get("/healthz", ops::healthz))
        .service(get("/readyz", ops::readyz))
        .service(get("/metrics", ops::prometheus))
        .service(get("/docs", docs::reference_page))
        .service(get("/docs/swagger-ui-bundle.js", docs::swagger_script))
        .service(get("/docs/swagger-ui.css", docs::swagger_styles))
        .service(get("/", dashboard::index))
        .service(get("/static/{path:.*}", dashboard::static_file))
        .service(get("/ws", ws::live_socket))
        // Before `/api`: callbacks are let in by their signature (or a token), see
        // `callbacks::admit`, so that another hub can post them.
        .service(web::scope("/api/callback").configure(callbacks::routes))
        // Before `/api` too: the phone has no token yet (wrong codes are rate-limited).
        .service(post("/api/pair", pairing::exchange))
        .service(
            web::scope("/api")
                .wrap(actix_web::middleware::from_fn(auth::require_token))
                .service(web::scope("/webhooks").configure(webhooks::routes))
                .service(get("/openapi.json", docs::document))
                .service(get("/tokens/self", tokens::show_self))
                .service(
                    resource("/tokens", "GET, HEAD, POST")
                        .route(get_or_head().to(tokens::list))
                        .route(web::post().to(tokens::create)),
                )
                .service(resource("/tokens/{id}", "DELETE").route(web::delete().to(tokens::remove)))
                .service(get("/audit", audit::entries))
                .service(
                    resource("/qr-code", "GET, HEAD, POST")
                        .route(get_or_head().to(qr::qr_code))
                        .route(web::post().to(qr::qr_code_of_body)),
                )
                .service(post("/pairing-code", pairing::create_code))
                .service(
                    resource("/demo/show", "GET, HEAD, POST")
                        .route(get_or_head().to(demo_show::show_state))
                        .route(web::post().to(demo_show::set_show)),
                )
                .configure(|config| {
                    for mount in hub {
                        config.configure(mount);
                    }
                })
                .service(get("/instances", handlers::list_instances))
                .service(
                    web::scope("/instances/{instance}")
                        .configure(|config| instance_routes(config, capabilities)),
                )
                .configure(|config| instance_routes(config, capabilities)),
        )
        .default_service(web::to(not_found));
}

fn instance_routes(config: &mut web::ServiceConfig, capabilities: &[CapabilityRoutes]) {
    config
        .service(post("/obs-manager/start", handlers::start_manager))
        .service(post("/obs-manager/stop", handlers::stop_manager))
        .service(get("/obs-manager/status", handlers::manager_status))
        .service(post("/test-connection", handlers::test_connection))
        .service(get("/stream-status", handlers::stream_status))
        .service(post("/obs/requests/{request_type}", raw::request))
        .service(post("/obs/batch", raw::batch))
        .service(get("/events", history::events))
        .service(get("/scenes", history::scenes))
        .service(get("/stream-sessions", history::stream_sessions))
        .service(get("/record-sessions", history::record_sessions));
    for mount in capabilities {
        config.configure(mount);
    }
}

pub(crate) fn post<F, Args>(path: &str, handler: F) -> impl HttpServiceFactory
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource(path, "POST").route(web::post().to(handler))
}

/// A resource answering 405 (naming `allowed`) to the methods its routes do not take, for paths
/// with more than one method: add its routes with `.route(..)`.
pub(crate) fn resource(path: &str, allowed: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |request: HttpRequest| {
        method_not_allowed(request, allowed)
    }))
}

pub(crate) fn get<F, Args>(path: &str, handler: F) -> impl HttpServiceFactory
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource(path, "GET, HEAD").route(get_or_head().to(handler))
}

pub(crate) fn put<F, Args>(path: &str, handler: F) -> impl HttpServiceFactory
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    resource(path, "PUT").route(web::put().to(handler))
}

/// A resource read with GET and set with PUT.
pub(crate) fn get_and_put<G, GArgs, P, PArgs>(
    path: &str,
    read: G,
    write: P,
) -> impl HttpServiceFactory
where
    G: Handler<GArgs>,
    GArgs: FromRequest + 'static,
    G::Output: Responder + 'static,
    P: Handler<PArgs>,
    PArgs: FromRequest + 'static,
    P::Output: Responder + 'static,
{
    resource(path, "GET, HEAD, PUT")
        .route(get_or_head().to(read))
        .route(web::put().to(write))
}

/// A route for GET that answers HEAD too, as HTTP asks: the same handler runs, and actix-http
/// sends its status and headers (`Content-Length` included) without the body.
pub(crate) fn get_or_head() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn not_found(request: HttpRequest) -> HttpResponse {
    let error = ApiError::RouteNotFound(format!(
        "no route {} {}; the README lists the routes",
        request.method(),
        request.path()
    ));
    actix_web::ResponseError::error_response(&error)
}

async fn method_not_allowed(request: HttpRequest, allowed: &'static str) -> HttpResponse {
    let error = ApiError::MethodNotAllowed(format!(
        "{} does not accept {}; use {allowed}",
        request.path(),
        request.method()
    ));
    let mut response = actix_web::ResponseError::error_response(&error);
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allowed),
    );
    response
}
