//! Any node answers any request: a request about an instance that another node of the cluster
//! owns is proxied to that node and its answer returned as it came (the [`Forward`]
//! middleware, wrapped in `app.rs` only when the hub is a cluster node).
//!
//! Which instance a request is about comes from the router itself (the app's resource map,
//! before routing): `/api/instances/{instance}/...` names it, and a route that exists both as
//! `/api/<route>` and `/api/instances/{instance}/<route>` is about the default instance (as
//! `http::target` resolves it). Everything else (the hub's own routes: webhooks, tokens, rules,
//! instance groups, the fleet's instance list, `/ws`, operations) is answered here: it reads the
//! shared database or this node's board, which mirrors every instance.
//!
//! Stays local whoever owns the instance: the reads of [`LOCAL_READS`], answered from the board
//! (mirrored from the owner) or the shared history. `CachedStatusLane`, outside this middleware,
//! answers most status reads before they get here.
//!
//! A request that already came from another node (`X-Obs-Hub-Forwarded-By`) is never forwarded
//! again: if the instance is not this node's (any more) it is answered 503 `instance_moving`, so
//! that two nodes whose views disagree for a heartbeat cannot bounce a request between them.
//! Nobody owning the instance (a takeover under way) is 503 `instance_unowned` with
//! `Retry-After: 1`; an owner that does not answer (it died mid-request) is 503
//! `owner_unreachable`. Every answer that passes here carries `X-Obs-Hub-Node`: the node that
//! made it (the owner's own header comes back with a forwarded answer).

use std::{rc::Rc, sync::Arc, time::Duration};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform},
    http::header::{self, HeaderMap, HeaderName, HeaderValue},
    web, Error, HttpResponse,
};
use futures_util::future::{ready, LocalBoxFuture, Ready};

use crate::{
    config::{Settings, DEFAULT_INSTANCE},
    error::ApiError,
    status::ownership::{Ownership, Routing},
};

/// Names the node that made an answer (set on every answer that passes this middleware).
pub const NODE_HEADER: &str = "x-obs-hub-node";

/// Set on a forwarded request: the node that forwarded it.
pub const FORWARDED_BY_HEADER: &str = "x-obs-hub-forwarded-by";

/// The routes (after `/api` or `/api/instances/{instance}`, as the router names them) that
/// every node answers for every instance, from its board or the shared history: never
/// forwarded.
pub const LOCAL_READS: [&str; 6] = [
    "/stream-status",
    "/obs-manager/status",
    "/events",
    "/scenes",
    "/stream-sessions",
    "/record-sessions",
];

/// The most a forwarded answer may weigh (pictures are the largest).
const ANSWER_LIMIT: usize = 64 * 1024 * 1024;

/// How long the owner gets to answer: OBS's own time to answer a command, with room to spare.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to the owner may take before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

const PER_INSTANCE_PREFIX: &str = "/api/instances/{instance}";

/// Which instance a request is about.
#[derive(Debug, PartialEq, Eq)]
pub enum About {
    /// Named in the path (percent-decoded).
    Named(String),
    /// A plain route: the default instance.
    Default,
}

/// What a request is about, from its (normalised) `path`, `method` and the router's pattern of
/// a path (`pattern_of`, the app's resource map). None: a hub route, or a read of
/// [`LOCAL_READS`]: answered here.
pub fn about(
    path: &str,
    method: &actix_web::http::Method,
    pattern_of: impl Fn(&str) -> Option<String>,
) -> Option<About> {
    let pattern = pattern_of(path)?;
    let (route, about) = if let Some(route) = pattern
        .strip_prefix(PER_INSTANCE_PREFIX)
        .filter(|route| route.starts_with('/'))
    {
        let name = path
            .strip_prefix("/api/instances/")?
            .split('/')
            .next()
            .filter(|name| !name.is_empty())?;
        let name = percent_encoding::percent_decode_str(name)
            .decode_utf8()
            .ok()?
            .into_owned();
        (route.to_string(), About::Named(name))
    } else {
        // A plain route is about the default instance when the same route exists per instance.
        let route = pattern.strip_prefix("/api")?.to_string();
        let rest = path.strip_prefix("/api")?;
        if !route.starts_with('/') || rest.starts_with("/instances/") {
            return None;
        }
        let twin = pattern_of(&format!("/api/instances/_{rest}"))?;
        if twin != format!("{PER_INSTANCE_PREFIX}{route}") {
            return None;
        }
        (route, About::Default)
    };
    let read = method == actix_web::http::Method::GET || method == actix_web::http::Method::HEAD;
    if read && LOCAL_READS.contains(&route.as_str()) {
        return None;
    }
    Some(about)
}

/// What to do with a request about an instance.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Local,
    Forward { node: String, address: String },
    Refuse(Refusal),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Unowned,
    Moving,
}

/// Where a request about `instance` routed `routing` goes; `forwarded_by`: the node it came
/// from, when another node forwarded it.
pub fn decide(routing: Routing, forwarded_by: Option<&str>) -> Decision {
    match (routing, forwarded_by) {
        (Routing::Local, _) => Decision::Local,
        (_, Some(_)) => Decision::Refuse(Refusal::Moving),
        (Routing::Unowned, None) => Decision::Refuse(Refusal::Unowned),
        (Routing::Remote { node, address }, None) => Decision::Forward { node, address },
    }
}

impl Refusal {
    fn error(&self, instance: &str, me: &str) -> ApiError {
        match self {
            Self::Unowned => ApiError::InstanceUnowned(format!(
                "no node of the cluster owns OBS instance `{instance}` right now (a takeover is \
                 under way); retry in a second"
            )),
            Self::Moving => ApiError::InstanceMoving(format!(
                "OBS instance `{instance}` is not owned by node `{me}` any more (its lease is \
                 moving); retry in a second"
            )),
        }
    }
}

/// Headers that concern one connection, not the request (RFC 9110, 7.6.1), and those the
/// owner must see as its own (`Host`) or that the first node has already checked (`Origin`,
/// `Referer`: `site_guard`).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "expect"
    )
}

/// The request headers sent on to the owner.
pub fn forwarded_headers(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    headers.iter().filter(|(name, _)| {
        !is_hop_by_hop(name)
            && *name != header::HOST
            && *name != header::ORIGIN
            && *name != header::REFERER
            && name.as_str() != FORWARDED_BY_HEADER
    })
}

/// The instance a plain route is about, as `http::target` resolves it: `default`, or the only
/// one configured.
fn default_instance(settings: &Settings) -> Option<String> {
    let names = settings.instance_names();
    if names.iter().any(|name| name == DEFAULT_INSTANCE) {
        return Some(DEFAULT_INSTANCE.to_string());
    }
    match names.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// The middleware: wrap it on the `App` inside `site_guard` (refusals first) and inside the
/// cached status lane (status reads answered from the board).
#[derive(Clone)]
pub struct Forward {
    ownership: Ownership,
    me: Arc<str>,
    default_instance: Option<Arc<str>>,
}

impl Forward {
    pub fn new(ownership: Ownership, settings: &Settings) -> Self {
        let me = settings
            .cluster
            .as_ref()
            .map(|cluster| cluster.node_id.as_str())
            .unwrap_or_default();
        Self {
            ownership,
            me: me.into(),
            default_instance: default_instance(settings).map(Into::into),
        }
    }

    /// Whether there is anything to forward to (alone: the middleware is left out).
    pub fn is_cluster(&self) -> bool {
        self.ownership.is_cluster()
    }
}

impl<S, B> Transform<S, ServiceRequest> for Forward
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ForwardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // One client per worker thread (awc clients are not Send): its connections to the
        // other nodes are kept and reused.
        let client = awc::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .disable_redirects()
            .connector(awc::Connector::new().timeout(CONNECT_TIMEOUT))
            .finish();
        ready(Ok(ForwardService {
            service: Rc::new(service),
            forward: self.clone(),
            client,
        }))
    }
}

pub struct ForwardService<S> {
    service: Rc<S>,
    forward: Forward,
    client: awc::Client,
}

impl<S, B> Service<ServiceRequest> for ForwardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let me = Arc::clone(&self.forward.me);
        let about = about(request.path(), request.method(), |path| {
            request.request().resource_map().match_pattern(path)
        });
        let instance = match about {
            None => None,
            Some(About::Named(name)) => Some(name),
            // No default instance: the route itself explains (404 unknown_instance).
            Some(About::Default) => self.forward.default_instance.as_deref().map(String::from),
        };
        let decision = match &instance {
            None => Decision::Local,
            Some(instance) => {
                let forwarded_by = request
                    .headers()
                    .get(FORWARDED_BY_HEADER)
                    .map(|value| value.to_str().unwrap_or("?"));
                decide(self.forward.ownership.route(instance), forwarded_by)
            }
        };
        match decision {
            Decision::Local => {
                let answer = self.service.call(request);
                Box::pin(async move {
                    let mut response = answer.await?;
                    name_node(response.headers_mut(), &me);
                    Ok(response.map_into_left_body())
                })
            }
            Decision::Refuse(refusal) => {
                let error = refusal.error(instance.as_deref().unwrap_or_default(), &me);
                let mut response = request.error_response(error);
                name_node(response.headers_mut(), &me);
                Box::pin(ready(Ok(response.map_into_right_body())))
            }
            Decision::Forward { node, address } => {
                let client = self.client.clone();
                let mut request = request;
                Box::pin(async move {
                    let answer = match forward(&client, &mut request, &address, &me).await {
                        Ok(response) => request.into_response(response),
                        Err(error) => {
                            log::warn!("forward to node `{node}` failed: {error}");
                            let mut response = request.error_response(error);
                            name_node(response.headers_mut(), &me);
                            response
                        }
                    };
                    Ok(answer.map_into_right_body())
                })
            }
        }
    }
}

/// Names this node as the one that answered, unless the answer names its maker already.
fn name_node(headers: &mut HeaderMap, me: &str) {
    if headers.contains_key(NODE_HEADER) {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(me) {
        headers.insert(HeaderName::from_static(NODE_HEADER), value);
    }
}

/// Sends `request` (body included) to the node at `address` and answers what it answered.
async fn forward(
    client: &awc::Client,
    request: &mut ServiceRequest,
    address: &str,
    me: &str,
) -> Result<HttpResponse, ApiError> {
    let payload = request.extract::<web::Payload>().await.map_err(|error| {
        ApiError::InvalidJson(format!("the request body could not be read: {error}"))
    })?;
    let body = crate::http::body::read(payload).await?;
    let target = format!(
        "{}{}",
        address.trim_end_matches('/'),
        request
            .uri()
            .path_and_query()
            .map_or(request.path(), |whole| whole.as_str())
    );
    let mut outgoing = client
        .request(request.method().clone(), target)
        .no_decompress();
    for (name, value) in forwarded_headers(request.headers()) {
        outgoing = outgoing.append_header((name.clone(), value.clone()));
    }
    outgoing = outgoing.insert_header((FORWARDED_BY_HEADER, me));
    let unreachable = |why: String| {
        ApiError::OwnerUnreachable(format!(
            "the node that owns this OBS instance ({address}) did not answer: {why}; retry in a \
             second (another node takes the instance over if it is gone)"
        ))
    };
    let mut answer = match outgoing.send_body(body).await {
        Ok(answer) => answer,
        Err(error) => return Err(unreachable(error.to_string())),
    };
    let bytes = match answer.body().limit(ANSWER_LIMIT).await {
        Ok(bytes) => bytes,
        Err(error) => return Err(unreachable(error.to_string())),
    };
    let mut response = HttpResponse::build(answer.status());
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) {
            response.append_header((name.clone(), value.clone()));
        }
    }
    Ok(response.body(bytes))
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;

    use super::*;

    /// A router of a few of the hub's patterns: the per-instance scope and its plain twin, a
    /// hub route, and the fleet's own `/api/instances/{instance}`.
    fn pattern_of(path: &str) -> Option<String> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let pattern = match segments.as_slice() {
            ["api", "instances", _] => "/api/instances/{instance}".to_string(),
            ["api", "instances", _, "scenes", _] => {
                "/api/instances/{instance}/scenes/{scene}".into()
            }
            ["api", "instances", _, "stream-status"] => {
                "/api/instances/{instance}/stream-status".into()
            }
            ["api", "scenes", _] => "/api/scenes/{scene}".into(),
            ["api", "stream-status"] => "/api/stream-status".into(),
            ["api", "rules", _] => "/api/rules/{name}".into(),
            _ => return None,
        };
        Some(pattern)
    }

    #[test]
    fn a_request_is_about_the_instance_its_path_names_or_the_default_one() {
        let post = Method::POST;
        assert_eq!(
            about("/api/instances/caf%C3%A9/scenes/Live", &post, pattern_of),
            Some(About::Named("café".into()))
        );
        assert_eq!(
            about("/api/scenes/Live", &Method::PUT, pattern_of),
            Some(About::Default)
        );
        // Hub routes, the fleet's instance itself, and unknown paths: answered here.
        assert_eq!(about("/api/rules/x", &post, pattern_of), None);
        assert_eq!(
            about("/api/instances/booth", &Method::DELETE, pattern_of),
            None
        );
        assert_eq!(about("/nowhere", &Method::GET, pattern_of), None);
    }

    #[test]
    fn board_reads_stay_local_but_the_same_path_with_another_method_does_not() {
        assert_eq!(about("/api/stream-status", &Method::GET, pattern_of), None);
        assert_eq!(
            about("/api/instances/a/stream-status", &Method::HEAD, pattern_of),
            None
        );
        assert_eq!(
            about("/api/instances/a/stream-status", &Method::POST, pattern_of),
            Some(About::Named("a".into()))
        );
    }

    #[test]
    fn a_forwarded_request_is_never_forwarded_again() {
        let remote = || Routing::Remote {
            node: "n2".into(),
            address: "http://127.0.0.1:2".into(),
        };
        assert_eq!(decide(Routing::Local, Some("n2")), Decision::Local);
        assert_eq!(
            decide(remote(), None),
            Decision::Forward {
                node: "n2".into(),
                address: "http://127.0.0.1:2".into()
            }
        );
        assert_eq!(
            decide(remote(), Some("n3")),
            Decision::Refuse(Refusal::Moving)
        );
        assert_eq!(
            decide(Routing::Unowned, Some("n3")),
            Decision::Refuse(Refusal::Moving)
        );
        assert_eq!(
            decide(Routing::Unowned, None),
            Decision::Refuse(Refusal::Unowned)
        );
    }

    #[test]
    fn connection_headers_and_the_browsers_own_stay_behind() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("content-type", "application/json"),
            ("connection", "keep-alive"),
            ("host", "127.0.0.1:1"),
            ("origin", "http://127.0.0.1:1"),
            ("transfer-encoding", "chunked"),
            (FORWARDED_BY_HEADER, "spoofed"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let mut kept: Vec<&str> = forwarded_headers(&headers)
            .map(|(name, _)| name.as_str())
            .collect();
        kept.sort_unstable();
        assert_eq!(kept, ["authorization", "content-type"]);
    }
}
