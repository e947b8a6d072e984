//! Operational routes, open without a token: liveness, readiness, metrics; and the middleware
//! that counts every HTTP request.

use std::time::Duration;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web, HttpResponse,
};
use serde_json::json;

use super::AppState;
use crate::{db::health::PersistenceState, metrics::metrics, status::Ping};

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
        (status = 200, description = "Ready (`status: ready`), or serving with its history lagging behind (`status: degraded`, see `persistence`)", body = serde_json::Value),
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
        return HttpResponse::ServiceUnavailable().json(json!({
            "status": "not_ready",
            "error": "not_ready",
            "message": "a part of the hub is not answering",
            "checks": checks,
            "persistence": persistence,
        }));
    }
    let status = if history.state == PersistenceState::Degraded {
        "degraded"
    } else {
        "ready"
    };
    HttpResponse::Ok()
        .json(json!({ "status": status, "checks": checks, "persistence": persistence }))
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
    let (route, status) = match &response {
        Ok(response) => (
            response
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_string()),
            response.status(),
        ),
        Err(error) => (
            "unmatched".to_string(),
            error.as_response_error().status_code(),
        ),
    };
    metrics()
        .http_requests
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .inc();
    response
}
