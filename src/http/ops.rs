//! Operational routes, open without a token: liveness, readiness, metrics; and the middleware
//! that counts every HTTP request.

use std::{cell::RefCell, collections::HashMap, time::Duration};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, StatusCode},
    middleware::Next,
    web, HttpResponse,
};
use prometheus::{IntCounter, IntCounterVec};
use serde_json::json;

use super::AppState;
use crate::{
    db::health::PersistenceState,
    metrics::metrics,
    status::{ownership::Ownership, Ping},
};

/// How long an actor may take to answer a readiness ping before the hub is reported not ready.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is alive and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "Liveness (open without a token)",
    responses((status = 200, description = "Alive", body = serde_json::Value)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the actors answer (503 otherwise), and how the history is doing.
///
/// Degraded persistence (writes failing, events waiting in memory) is reported but keeps the
/// answer 200 with `status: "degraded"`: live status, commands, the WebSocket and webhooks from
/// memory all still work, so a load balancer must not take the hub out of rotation (and cut every
/// client off) because the history lags; a monitor alerts on the field instead.
#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "Readiness (open without a token)",
    responses(
        (status = 200, description = "Ready (`status: ready`), or serving with its history lagging behind (`status: degraded`, see `persistence`); a cluster node adds `cluster`: `{node, leases, read_at}` (its id and the leases it holds)", body = serde_json::Value),
        (status = 503, description = "A part of the hub is not answering", body = serde_json::Value)
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let manager = matches!(
        tokio::time::timeout(READY_TIMEOUT, state.manager.send(Ping)).await,
        Ok(Ok(()))
    );
    let supervisor = matches!(
        tokio::time::timeout(READY_TIMEOUT, state.supervisor.send(Ping)).await,
        Ok(Ok(()))
    );
    let history = state.persistence.report();
    let checks = json!({
        "status_manager": manager,
        "supervisor": supervisor,
        "persistence": history.state,
    });
    // Counts only: the error text stays behind the token, in /api/obs-manager/status/.
    let persistence = json!({
        "state": history.state,
        "pending_events": history.pending_events,
        "dropped_events": history.dropped_events,
        "last_error_at": history.last_error_at,
    });
    if !(manager && supervisor) {
        let mut body = json!({
            "status": "not_ready",
            "error": "not_ready",
            "message": "a part of the hub is not answering",
            "checks": checks,
            "persistence": persistence,
        });
        add_cluster(&mut body, &state.ownership);
        return HttpResponse::ServiceUnavailable().json(body);
    }
    let status = if history.state == PersistenceState::Degraded {
        "degraded"
    } else {
        "ready"
    };
    let mut body = json!({ "status": status, "checks": checks, "persistence": persistence });
    add_cluster(&mut body, &state.ownership);
    HttpResponse::Ok().json(body)
}

/// A cluster node's readiness names the node and the leases it holds (instances and duties),
/// and when it last read the cluster; alone, nothing is added.
fn add_cluster(body: &mut serde_json::Value, ownership: &Ownership) {
    let Some(view) = ownership.view() else {
        return;
    };
    let held: Vec<&String> = view
        .leases
        .iter()
        .filter(|(_, lease)| lease.owner.as_deref() == Some(view.me.as_str()))
        .map(|(name, _)| name)
        .collect();
    body["cluster"] = json!({ "node": view.me, "leases": held, "read_at": view.read_at });
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics (open without a token)",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub async fn prometheus() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics().render())
}

/// Counts requests by route pattern (not raw path: bounded label values), method and status.
pub async fn count_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = request.method().clone();
    let response = next.call(request).await;
    let counter = match &response {
        Ok(response) => {
            let request = response.request();
            route_counter(request.path(), &method, response.status(), || {
                request.match_pattern()
            })
        }
        Err(error) => metrics().http_requests.with_label_values(&[
            UNMATCHED,
            method.as_str(),
            error.as_response_error().status_code().as_str(),
        ]),
    };
    counter.inc();
    response
}

const UNMATCHED: &str = "unmatched";

/// The request counter of a request to `path` (normalised) answered with `status`, `pattern`
/// being its route's pattern, found once per worker (see [`RouteCounters`]).
pub(crate) fn route_counter(
    path: &str,
    method: &Method,
    status: StatusCode,
    pattern: impl FnOnce() -> Option<String>,
) -> IntCounter {
    ROUTE_COUNTERS.with(|counters| {
        counters
            .borrow_mut()
            .counter(&metrics().http_requests, path, method, status, pattern)
    })
}

thread_local! {
    /// Per HTTP worker (each runs on its own thread): no lock between workers.
    static ROUTE_COUNTERS: RefCell<RouteCounters> = RefCell::new(RouteCounters::default());
}

/// The request counter of each path, method and status already seen, resolved once.
///
/// Why: finding a request's route pattern builds a string, and a labelled counter is found by
/// hashing its three labels under a lock; on a status read that was a tenth of the request's
/// cost (issue 23). A path always resolves to the same route (resources have no guards of their
/// own, only their routes do), so the counter found once for a path, method and status is the
/// one every later such request would find. Paths come from clients, so the memory is bounded:
/// past [`MAX_PATHS`] paths (or [`MAX_PER_PATH`] method and status pairs of one path) counters
/// are looked up as before, and paths that match no route are never kept.
#[derive(Default)]
struct RouteCounters {
    by_path: HashMap<String, Vec<(Method, StatusCode, IntCounter)>>,
}

const MAX_PATHS: usize = 512;
const MAX_PER_PATH: usize = 16;

impl RouteCounters {
    fn counter(
        &mut self,
        counters: &IntCounterVec,
        path: &str,
        method: &Method,
        status: StatusCode,
        pattern: impl FnOnce() -> Option<String>,
    ) -> IntCounter {
        if let Some(known) = self.by_path.get(path) {
            if let Some((_, _, counter)) =
                known.iter().find(|(m, s, _)| m == method && *s == status)
            {
                return counter.clone();
            }
        }
        let pattern = pattern();
        let counter = counters.with_label_values(&[
            pattern.as_deref().unwrap_or(UNMATCHED),
            method.as_str(),
            status.as_str(),
        ]);
        if pattern.is_some() && (self.by_path.contains_key(path) || self.by_path.len() < MAX_PATHS)
        {
            let known = self.by_path.entry(path.to_string()).or_default();
            if known.len() < MAX_PER_PATH {
                known.push((method.clone(), status, counter.clone()));
            }
        }
        counter
    }
}

#[cfg(test)]
mod route_counter_tests {
    use prometheus::Opts;

    use super::*;

    fn vec() -> IntCounterVec {
        IntCounterVec::new(Opts::new("t", "t"), &["route", "method", "status"]).expect("valid")
    }

    #[test]
    fn a_known_path_counts_on_the_counter_of_its_pattern_method_and_status() {
        let counters = vec();
        let mut cache = RouteCounters::default();
        let mut resolved = 0;
        for _ in 0..3 {
            cache
                .counter(&counters, "/api/x", &Method::GET, StatusCode::OK, || {
                    resolved += 1;
                    Some("/api/x".to_string())
                })
                .inc();
        }
        cache
            .counter(&counters, "/api/x", &Method::HEAD, StatusCode::OK, || {
                Some("/api/x".to_string())
            })
            .inc();
        cache
            .counter(
                &counters,
                "/nowhere",
                &Method::GET,
                StatusCode::NOT_FOUND,
                || None,
            )
            .inc();
        assert_eq!(
            resolved, 1,
            "the pattern is resolved once per path, method and status"
        );
        let value = |labels: &[&str]| counters.with_label_values(labels).get();
        assert_eq!(value(&["/api/x", "GET", "200"]), 3);
        assert_eq!(value(&["/api/x", "HEAD", "200"]), 1);
        assert_eq!(value(&[UNMATCHED, "GET", "404"]), 1);
        assert!(!cache.by_path.contains_key("/nowhere"));
    }

    #[test]
    fn paths_past_the_bound_are_counted_but_not_kept() {
        let counters = vec();
        let mut cache = RouteCounters::default();
        for i in 0..MAX_PATHS + 10 {
            let path = format!("/api/instances/n{i}/stream-status");
            cache
                .counter(&counters, &path, &Method::GET, StatusCode::OK, || {
                    Some("/api/instances/{instance}/stream-status".to_string())
                })
                .inc();
        }
        assert_eq!(cache.by_path.len(), MAX_PATHS);
        let counted = counters
            .with_label_values(&["/api/instances/{instance}/stream-status", "GET", "200"])
            .get();
        assert_eq!(counted, (MAX_PATHS + 10) as u64);
    }
}
