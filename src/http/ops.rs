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
use crate::{metrics::metrics, status::Ping};

/// How long an actor may take to answer a readiness ping before the hub is reported not ready.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /healthz`: the process is alive and serving HTTP.
#[utoipa::path(get, path = "/healthz", tag = "operations", summary = "Liveness (open without a token)",
    responses((status = 200, description = "Alive", body = serde_json::Value)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the actors answer (and, once persistence exists, the database is usable).
#[utoipa::path(get, path = "/readyz", tag = "operations", summary = "Readiness (open without a token)",
    responses(
        (status = 200, description = "Ready", body = serde_json::Value),
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
    let checks = json!({ "status_manager": manager, "supervisor": supervisor });
    if manager && supervisor {
        HttpResponse::Ok().json(json!({ "status": "ready", "checks": checks }))
    } else {
        HttpResponse::ServiceUnavailable().json(json!({
            "status": "not_ready",
            "error": "not_ready",
            "message": "a part of the hub is not answering",
            "checks": checks,
        }))
    }
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
