//! The cached status read's own lane (issue 23): `GET`/`HEAD /api/stream-status` and
//! `/api/instances/{name}/stream-status`, the hub's most frequent request, answered before
//! routing when it is going to succeed, after the very checks the general path makes.
//!
//! Why: the answer itself is prepared once per change (`views::StatusJsonCache`), so what a read
//! cost was the way to it: four middlewares each boxing a future, slash normalisation, the
//! router trying each pattern of the `/api` scope in turn (regular expressions for the dynamic
//! ones), the token middleware's route-table scan, and the extractors. A profile under load
//! put that at three quarters of the hub's own work per read (BENCHMARKS.md, figure 1).
//!
//! What the lane checks, with the same functions as the general path: the site guard's
//! `refusal`, no request body, the token (`auth::identify`, then `auth::permit` with the route's
//! requirement from `scopes`, looked up once, and the instance the general path would name),
//! and the instance (the default one as `target` resolves it, or a named one on the board).
//! Whatever it would not answer 200 (no or a bad token, a refused scope, an unknown instance, a
//! body, a query string, another spelling of the path) goes on along the general path
//! untouched, which answers it as before: refusals, errors and audit stay where they are. The
//! request is counted in the Prometheus request counter under the route pattern the general
//! path gives it.

use std::{
    future::{ready, Ready},
    sync::{Arc, LazyLock},
};

use actix_web::{
    body::EitherBody,
    dev::{Service, ServiceRequest, ServiceResponse, Transform},
    http::{Method, StatusCode},
    web, Error, HttpResponse,
};
use futures_util::future::{Either, FutureExt, Map};

use super::{auth, body_guard, scopes, site_guard, AppState};
use crate::{config::DEFAULT_INSTANCE, status::InstanceStatus};

/// The route patterns of the two paths, as the router names them (the request counter's label).
const DEFAULT_PATTERN: &str = "/api/stream-status";
const NAMED_PATTERN: &str = "/api/instances/{instance}/stream-status";

/// What the route needs of a token (the one scope table, read once).
static REQUIRED: LazyLock<scopes::Required> =
    LazyLock::new(|| scopes::required("GET", "/stream-status"));

/// Which instance a path asks the cached status of: `Some(None)` for the default one,
/// `Some(Some(name))` for a named one, `None` for any other path. Only the plain spellings are
/// taken (one optional trailing slash, names of unreserved characters): the rest, percent
/// signs included, is left to the router, which decodes them.
pub fn status_path(path: &str) -> Option<Option<&str>> {
    let rest = path.strip_prefix("/api")?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest == "/stream-status" {
        return Some(None);
    }
    let name = rest
        .strip_prefix("/instances/")?
        .strip_suffix("/stream-status")?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    (!name.is_empty() && name.bytes().all(plain)).then_some(Some(name))
}

/// The answer when the lane can give it (see the module doc); `None`: the general path decides.
fn answer(request: &ServiceRequest) -> Option<(HttpResponse, &'static str)> {
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let named = status_path(request.path())?;
    if !request.query_string().is_empty() || body_guard::announces_body(request.headers()) {
        return None;
    }
    let state = request.app_data::<web::Data<AppState>>()?;
    site_guard::refusal(request, &state.settings).ok()?;
    let name = match named {
        Some(name) => name,
        None => default_instance(state)?,
    };
    if let auth::Caller::Token(grant) =
        auth::identify(state, auth::bearer_token(request.request()).as_deref()).ok()?
    {
        let route = || format!("{method} {}", request.path());
        auth::permit(state, &grant, route, *REQUIRED, Some(name)).ok()?;
    }
    let status: Arc<InstanceStatus> = state.board.current().instance(name)?.clone();
    let response = HttpResponse::Ok()
        .content_type("application/json")
        .body(state.status_json.render(&status));
    Some((
        response,
        if named.is_some() {
            NAMED_PATTERN
        } else {
            DEFAULT_PATTERN
        },
    ))
}

/// The instance a path without one is about, as `target` resolves it: the one named `default`,
/// or the only one configured (else the general path explains).
fn default_instance(state: &AppState) -> Option<&str> {
    let instances = &state.settings.instances;
    if instances.iter().any(|i| i.name == DEFAULT_INSTANCE) {
        return Some(DEFAULT_INSTANCE);
    }
    match instances.as_slice() {
        [only] => Some(&only.name),
        _ => None,
    }
}

/// The middleware: wrap it on the `App` outermost, so that a read it answers meets nothing else.
pub struct CachedStatusLane;

impl<S, B> Transform<S, ServiceRequest> for CachedStatusLane
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = CachedStatusLaneService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(CachedStatusLaneService { service }))
    }
}

pub struct CachedStatusLaneService<S> {
    service: S,
}

type Generally<F, B> =
    Map<F, fn(Result<ServiceResponse<B>, Error>) -> Result<ServiceResponse<EitherBody<B>>, Error>>;

impl<S, B> Service<ServiceRequest> for CachedStatusLaneService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Either<Ready<Result<Self::Response, Error>>, Generally<S::Future, B>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        match answer(&request) {
            Some((response, pattern)) => {
                let path = request.path();
                let key = path.strip_suffix('/').unwrap_or(path);
                super::ops::route_counter(key, request.method(), StatusCode::OK, || {
                    Some(pattern.to_string())
                })
                .inc();
                Either::Left(ready(Ok(request
                    .into_response(response)
                    .map_into_right_body())))
            }
            None => Either::Right(self.service.call(request).map(
                (|result: Result<ServiceResponse<B>, Error>| {
                    result.map(ServiceResponse::map_into_left_body)
                }) as fn(_) -> _,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_plain_spellings_of_the_status_path_are_taken() {
        assert_eq!(status_path("/api/stream-status"), Some(None));
        assert_eq!(status_path("/api/stream-status/"), Some(None));
        assert_eq!(
            status_path("/api/instances/obs-2.main/stream-status/"),
            Some(Some("obs-2.main"))
        );
        for other in [
            "/api/stream-status//",
            "/api//stream-status",
            "/api/instances//stream-status",
            "/api/instances/a/b/stream-status",
            "/api/instances/caf%C3%A9/stream-status",
            "/api/instances/a/stream-status/x",
            "/apis/stream-status",
            "/api/stream-statuses",
            "/stream-status",
        ] {
            assert_eq!(status_path(other), None, "{other}");
        }
    }
}
