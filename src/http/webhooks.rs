//! `/api/webhooks/...`: endpoints, their delivery log, test messages and redeliveries.
//!
//! Changes go through the [`WebhookDispatcher`], which owns the endpoints; the delivery log is
//! read from the database on actix's blocking threads. A secret is shown once, in the answer
//! that created it, and never again.

use actix::Addr;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::body;
use crate::{
    config::Secret,
    error::ApiError,
    webhooks::{
        dispatcher::{
            AddEndpoint, GetEndpoint, ListEndpoints, Redeliver, RemoveEndpoint, SendTest,
            UpdateEndpoint, WebhookDispatcher, WebhookError,
        },
        endpoint::{self, EndpointPatch, EndpointView, NewEndpoint},
        events::{EventType, Filter},
        signing, store, Webhooks,
    },
};

type Answer = Result<HttpResponse, ApiError>;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;
const CURSOR_PREFIX: &str = "deliveries:";

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("")
                .route(super::get_or_head().to(list))
                .route(web::post().to(create))
                .default_service(web::to(|request: HttpRequest| {
                    super::method_not_allowed(request, "GET, HEAD, POST")
                })),
        )
        .service(super::post("/deliveries/{delivery}/redeliver", redeliver))
        .service(
            web::resource("/{id}")
                .route(super::get_or_head().to(show))
                .route(web::patch().to(update))
                .route(web::delete().to(remove))
                .default_service(web::to(|request: HttpRequest| {
                    super::method_not_allowed(request, "GET, HEAD, PATCH, DELETE")
                })),
        )
        .service(super::get("/{id}/deliveries", deliveries))
        .service(super::post("/{id}/test", send_test));
}

fn dispatcher(webhooks: &Webhooks) -> Result<&Addr<WebhookDispatcher>, ApiError> {
    webhooks.dispatcher().ok_or_else(|| {
        ApiError::Unavailable(
            "webhooks are off: this hub keeps no database (OBS_HUB_DATABASE=none), and \
             deliveries are stored before they are sent"
                .to_string(),
        )
    })
}

fn api_error(error: WebhookError) -> ApiError {
    match error {
        WebhookError::NotFound(message) => ApiError::RouteNotFound(message),
        WebhookError::Conflict(message) => ApiError::Conflict(message),
        WebhookError::Invalid(message) => ApiError::InvalidField(message),
        WebhookError::DestinationRefused(message) => ApiError::DestinationNotAllowed(message),
        WebhookError::TooMany(message) => ApiError::WebhookLimitReached(message),
        WebhookError::Store(error) => ApiError::Unavailable(format!("{error}; retry in a moment")),
    }
}

fn not_answering() -> ApiError {
    ApiError::Unavailable("the webhook dispatcher is not answering; retry in a moment".into())
}

/// `"instance": null` (clear) apart from no `instance` at all (keep).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// `POST /api/webhooks/`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "http://127.0.0.1:9000/obs-events",
    "event_types": ["scene_changed", "streaming_changed"],
    "instance": "default"
}))]
pub struct CreateBody {
    /// http:// or https:// URL the deliveries are posted to.
    url: String,
    /// `whsec_` + base64 (at least 16 bytes of key); generated when left out.
    #[schema(value_type = Option<String>)]
    secret: Option<Secret>,
    /// Default: every type but `stats_updated`.
    event_types: Option<Vec<EventType>>,
    /// Only this instance's changes (default: every instance).
    instance: Option<String>,
    enabled: Option<bool>,
}

/// `PATCH /api/webhooks/{id}/`: the fields to change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct PatchBody {
    url: Option<String>,
    #[schema(value_type = Option<String>)]
    secret: Option<Secret>,
    event_types: Option<Vec<EventType>>,
    /// A name, or null for every instance; left out: unchanged.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    instance: Option<Option<String>>,
    enabled: Option<bool>,
}

/// `GET /api/webhooks/`.
#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    pub webhooks: Vec<EndpointView>,
}

/// `POST /api/webhooks/`: the endpoint, and its secret this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// Shown here only: the receiver verifies signatures with it.
    pub secret: String,
}

/// A message queued for delivery (test, redelivery).
#[derive(Serialize, ToSchema)]
pub struct Queued {
    pub delivery_id: String,
    pub endpoint_id: String,
    /// `webhook.test` for a test message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Always `pending`.
    pub status: String,
}

/// One attempt of a delivery.
#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt.
    pub n: i32,
    pub at: DateTime<Utc>,
    /// None when no answer came (refused, timed out).
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// One delivery in the log.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id`, the same on every attempt.
    pub id: String,
    pub event_type: String,
    /// `pending`, `delivered`, `failed` or `endpoint_disabled`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body as sent.
    pub payload: Value,
    /// Oldest first.
    pub attempt_log: Vec<AttemptView>,
}

/// `GET /api/webhooks/{id}/deliveries/`, newest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    pub endpoint_id: String,
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

fn field(name: &str) -> impl Fn(String) -> ApiError + '_ {
    move |message| ApiError::InvalidField(format!("`{name}`: {message}"))
}

/// Event types as given (serde has already refused unknown names); at least one.
fn check_event_types(kinds: Vec<EventType>) -> Result<Vec<EventType>, ApiError> {
    let names: Vec<String> = kinds.iter().map(|kind| kind.as_str().to_string()).collect();
    endpoint::check_event_types(&names).map_err(field("event_types"))
}

fn check_instance_filter(instance: Option<String>) -> Result<Option<String>, ApiError> {
    match instance.map(|i| i.trim().to_string()) {
        Some(name) => {
            endpoint::check_instance(&name).map_err(field("instance"))?;
            Ok(Some(name))
        }
        None => Ok(None),
    }
}

#[utoipa::path(get, path = "/api/webhooks", tag = "webhooks",
    summary = "Every webhook endpoint (from the API, the config file and the callback base URL)",
    responses(
        (status = 200, description = "The endpoints, without their secrets", body = EndpointList),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn list(webhooks: web::Data<Webhooks>) -> Answer {
    let endpoints = dispatcher(&webhooks)?
        .send(ListEndpoints)
        .await
        .map_err(|_| not_answering())?;
    let webhooks: Vec<EndpointView> = endpoints.iter().map(EndpointView::from).collect();
    Ok(HttpResponse::Ok().json(EndpointList { webhooks }))
}

#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks",
    summary = "Add an endpoint; its secret is shown in this answer only",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The endpoint, with its secret", body = CreatedEndpoint),
        (status = 400, description = "A field is invalid (the message names it), or the URL points where webhooks may not go (`destination_not_allowed`: the message names the URL and why)", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 409, description = "As many endpoints as `[webhook_delivery] max_endpoints` exist already (`webhook_limit_reached`)", body = crate::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "A body without `Content-Type: application/json`", body = crate::error::ErrorBody),
        (status = 408, description = "The body did not arrive within `[http] body_timeout_ms` (the connection is closed)", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn create(
    webhooks: web::Data<Webhooks>,
    request: HttpRequest,
    payload: web::Payload,
) -> Answer {
    let body: CreateBody = body::json(&request, payload).await?;
    let url = endpoint::check_url(&body.url).map_err(field("url"))?;
    let secret = match body.secret {
        Some(secret) => {
            endpoint::check_secret(&secret).map_err(field("secret"))?;
            secret
        }
        None => signing::generate_secret(),
    };
    let event_types = match body.event_types {
        Some(kinds) => check_event_types(kinds)?,
        None => EventType::defaults(),
    };
    let instance = check_instance_filter(body.instance)?;
    let new = NewEndpoint {
        url,
        secret: secret.clone(),
        filter: Filter {
            event_types,
            instance,
        },
        enabled: body.enabled.unwrap_or(true),
    };
    let created = dispatcher(&webhooks)?
        .send(AddEndpoint(new))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    // The one time the secret is shown: the receiver needs it to verify signatures.
    Ok(HttpResponse::Created().json(CreatedEndpoint {
        endpoint: EndpointView::from(&created),
        secret: secret.expose().to_string(),
    }))
}

#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "webhooks",
    summary = "One endpoint, without its secret",
    params(("id" = String, Path, description = "Endpoint id (`ep_...`)")),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn show(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let endpoint = dispatcher(&webhooks)?
        .send(GetEndpoint(id.into_inner()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

#[utoipa::path(patch, path = "/api/webhooks/{id}", tag = "webhooks",
    summary = "Change an endpoint (declared ones: only `enabled`)",
    params(("id" = String, Path, description = "Endpoint id (`ep_...`)")),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The endpoint as changed", body = EndpointView),
        (status = 400, description = "A field is invalid (the message names it), or the URL points where webhooks may not go (`destination_not_allowed`)", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 409, description = "The endpoint comes from the configuration: only `enabled` can change", body = crate::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "A body without `Content-Type: application/json`", body = crate::error::ErrorBody),
        (status = 408, description = "The body did not arrive within `[http] body_timeout_ms` (the connection is closed)", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn update(
    webhooks: web::Data<Webhooks>,
    id: web::Path<String>,
    request: HttpRequest,
    payload: web::Payload,
) -> Answer {
    let body: PatchBody = body::json(&request, payload).await?;
    let mut patch = EndpointPatch {
        enabled: body.enabled,
        ..EndpointPatch::default()
    };
    if let Some(url) = body.url {
        patch.url = Some(endpoint::check_url(&url).map_err(field("url"))?);
    }
    if let Some(secret) = body.secret {
        endpoint::check_secret(&secret).map_err(field("secret"))?;
        patch.secret = Some(secret);
    }
    if let Some(kinds) = body.event_types {
        patch.event_types = Some(check_event_types(kinds)?);
    }
    if let Some(instance) = body.instance {
        patch.instance = Some(check_instance_filter(instance)?);
    }
    let endpoint = dispatcher(&webhooks)?
        .send(UpdateEndpoint {
            id: id.into_inner(),
            patch,
        })
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "webhooks",
    summary = "Delete an endpoint with its delivery log",
    params(("id" = String, Path, description = "Endpoint id (`ep_...`)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn remove(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    dispatcher(&webhooks)?
        .send(RemoveEndpoint(id.into_inner()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/webhooks/{id}/test", tag = "webhooks",
    summary = "Send a `webhook.test` message through the outbox",
    params(("id" = String, Path, description = "Endpoint id (`ep_...`)")),
    responses(
        (status = 202, description = "Stored, being sent", body = Queued),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn send_test(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let endpoint_id = id.into_inner();
    let delivery_id = dispatcher(&webhooks)?
        .send(SendTest(endpoint_id.clone()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(Queued {
        delivery_id,
        endpoint_id,
        event_type: Some(crate::webhooks::events::TEST_EVENT_TYPE.to_string()),
        status: "pending".to_string(),
    }))
}

#[utoipa::path(post, path = "/api/webhooks/deliveries/{id}/redeliver", tag = "webhooks",
    summary = "Send a delivery again now, same webhook-id, with a new round of retries",
    params(("id" = String, Path, description = "Delivery id (`msg_...`)")),
    responses(
        (status = 202, description = "Pending again", body = Queued),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 404, description = "No such delivery", body = crate::error::ErrorBody),
        (status = 409, description = "Its endpoint is disabled", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn redeliver(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let delivery_id = id.into_inner();
    let endpoint_id = dispatcher(&webhooks)?
        .send(Redeliver(delivery_id.clone()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(Queued {
        delivery_id,
        endpoint_id,
        event_type: None,
        status: "pending".to_string(),
    }))
}

/// `?limit=` and `?cursor=` of the delivery log.
#[derive(Debug, PartialEq)]
struct Page {
    limit: i64,
    before: Option<i64>,
}

fn parse_page(query: &str) -> Result<Page, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
        .map_err(|error| ApiError::InvalidField(format!("the query string is malformed: {error}")))?
        .into_inner();
    let mut page = Page {
        limit: DEFAULT_LIMIT,
        before: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => {
                page.limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::InvalidField(format!(
                            "`limit` must be a number from 1 to {MAX_LIMIT}, not `{value}`"
                        ))
                    })?
            }
            "cursor" => page.before = Some(decode_cursor(&value)?),
            other => {
                return Err(ApiError::InvalidField(format!(
                    "unknown query parameter `{other}`; this route takes: limit, cursor"
                )))
            }
        }
    }
    Ok(page)
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX)?.parse().ok())
        .ok_or_else(|| {
            ApiError::InvalidField(
                "`cursor` is not one this route gave out (pass `next_cursor` back as is)".into(),
            )
        })
}

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

fn delivery_view(log: store::DeliveryLog) -> DeliveryView {
    let delivery = log.delivery;
    let attempt_log = log
        .attempts
        .into_iter()
        .map(|attempt| AttemptView {
            n: attempt.n,
            at: utc(attempt.attempted_at),
            status_code: attempt.status_code,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
        })
        .collect();
    DeliveryView {
        // Stored exactly as sent: parsed back for reading; the raw text if it somehow isn't JSON.
        payload: serde_json::from_str::<Value>(&delivery.payload)
            .unwrap_or(Value::String(delivery.payload)),
        id: delivery.id,
        event_type: delivery.event_type,
        status: delivery.status,
        attempts: delivery.attempts,
        next_attempt_at: delivery.next_attempt_at.map(utc),
        created_at: utc(delivery.created_at),
        delivered_at: delivery.delivered_at.map(utc),
        attempt_log,
    }
}

#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", tag = "webhooks",
    summary = "The delivery log: every delivery with its attempts, newest first",
    params(
        ("id" = String, Path, description = "Endpoint id (`ep_...`)"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Page size, 1 to 500 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")
    ),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 400, description = "A query parameter is invalid (the message names it)", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 503, description = "Webhooks are off (no database) or the dispatcher is unavailable", body = crate::error::ErrorBody)
    ))]
pub async fn deliveries(
    webhooks: web::Data<Webhooks>,
    id: web::Path<String>,
    request: HttpRequest,
) -> Answer {
    let page = parse_page(request.query_string())?;
    let endpoint_id = id.into_inner();
    // 404 for an unknown endpoint rather than an empty log.
    dispatcher(&webhooks)?
        .send(GetEndpoint(endpoint_id.clone()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    let pool = webhooks.pool().cloned().ok_or_else(not_answering)?;
    let read_id = endpoint_id.clone();
    let logs = web::block(move || {
        let mut conn = pool.get().map_err(|error| error.to_string())?;
        store::deliveries_page(&mut conn, &read_id, page.before, page.limit + 1)
            .map_err(|error| error.to_string())
    })
    .await
    .map_err(|_| not_answering())?
    .map_err(|error| ApiError::Unavailable(format!("reading the delivery log failed: {error}")))?;
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let more = logs.len() > limit;
    let logs: Vec<store::DeliveryLog> = logs.into_iter().take(limit).collect();
    let next_cursor = more
        .then(|| logs.last().map(|log| encode_cursor(log.delivery.seq)))
        .flatten();
    Ok(HttpResponse::Ok().json(DeliveryPage {
        endpoint_id,
        deliveries: logs.into_iter().map(delivery_view).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_cursors() {
        assert_eq!(
            parse_page("").unwrap(),
            Page {
                limit: DEFAULT_LIMIT,
                before: None
            }
        );
        let cursor = encode_cursor(42);
        assert_eq!(
            parse_page(&format!("limit=5&cursor={cursor}")).unwrap(),
            Page {
                limit: 5,
                before: Some(42)
            }
        );
        for bad in [
            "limit=0",
            "limit=501",
            "limit=x",
            "cursor=abc",
            "status=failed",
        ] {
            assert_eq!(
                parse_page(bad).unwrap_err().code(),
                "invalid_field",
                "{bad}"
            );
        }
    }
}
