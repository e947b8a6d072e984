//! `/api/webhooks/...`: endpoints, their delivery log, test messages and redeliveries.
//!
//! Changes go through the [`WebhookDispatcher`], which owns the endpoints; the delivery log is
//! read from the database on actix's blocking threads. A secret is shown once, in the answer
//! that created it, and never again.

use actix::Addr;
use actix_web::{http::StatusCode, web, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    ask::{ask, ask_for},
    body::Json,
    query::{Limit, Query},
    responses::WebhookAdminErrors,
};
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

const CURSOR_PREFIX: &str = "deliveries:";

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            super::resource("", "GET, HEAD, POST")
                .route(super::get_or_head().to(list))
                .route(web::post().to(create)),
        )
        .service(super::post("/deliveries/{delivery}/redeliver", redeliver))
        .service(
            super::resource("/{id}", "GET, HEAD, PATCH, DELETE")
                .route(super::get_or_head().to(show))
                .route(web::patch().to(update))
                .route(web::delete().to(remove)),
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

/// Asks the dispatcher; its refusals become their API errors.
async fn ask_dispatcher<M, T>(webhooks: &Webhooks, message: M) -> Result<T, ApiError>
where
    WebhookDispatcher: actix::Handler<M>,
    M: actix::Message<Result = Result<T, WebhookError>> + Send + 'static,
    T: Send + 'static,
{
    ask_for(dispatcher(webhooks)?, message, api_error).await
}

fn not_answering() -> ApiError {
    ApiError::Unavailable("the webhook dispatcher is not answering; retry in a moment".into())
}

/// `{id}` of the routes of one endpoint.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointId {
    /// Endpoint id (`ep_...`)
    id: String,
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
        WebhookAdminErrors
    ))]
pub async fn list(webhooks: web::Data<Webhooks>) -> Answer {
    let endpoints = ask(dispatcher(&webhooks)?, ListEndpoints).await?;
    let webhooks: Vec<EndpointView> = endpoints.iter().map(EndpointView::from).collect();
    Ok(HttpResponse::Ok().json(EndpointList { webhooks }))
}

#[utoipa::path(post, path = "/api/webhooks", tag = "webhooks",
    summary = "Add an endpoint; its secret is shown in this answer only",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The endpoint, with its secret", body = CreatedEndpoint),
        (status = 400, description = "A field is invalid (the message names it), or the URL points where webhooks may not go (`destination_not_allowed`: the message names the URL and why)", body = crate::error::ErrorBody),
        (status = 409, description = "As many endpoints as `[webhook_delivery] max_endpoints` exist already (`webhook_limit_reached`)", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn create(webhooks: web::Data<Webhooks>, Json(body): Json<CreateBody>) -> Answer {
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
    let created = ask_dispatcher(&webhooks, AddEndpoint(new)).await?;
    // The one time the secret is shown: the receiver needs it to verify signatures.
    Ok(HttpResponse::Created().json(CreatedEndpoint {
        endpoint: EndpointView::from(&created),
        secret: secret.expose().to_string(),
    }))
}

#[utoipa::path(get, path = "/api/webhooks/{id}", tag = "webhooks",
    summary = "One endpoint, without its secret",
    params(EndpointId),
    responses(
        (status = 200, description = "The endpoint", body = EndpointView),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn show(webhooks: web::Data<Webhooks>, id: web::Path<EndpointId>) -> Answer {
    let endpoint = ask_dispatcher(&webhooks, GetEndpoint(id.into_inner().id)).await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

#[utoipa::path(patch, path = "/api/webhooks/{id}", tag = "webhooks",
    summary = "Change an endpoint (declared ones: only `enabled`)",
    params(EndpointId),
    request_body = PatchBody,
    responses(
        (status = 200, description = "The endpoint as changed", body = EndpointView),
        (status = 400, description = "A field is invalid (the message names it), or the URL points where webhooks may not go (`destination_not_allowed`)", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 409, description = "The endpoint comes from the configuration: only `enabled` can change", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn update(
    webhooks: web::Data<Webhooks>,
    id: web::Path<EndpointId>,
    Json(body): Json<PatchBody>,
) -> Answer {
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
    let endpoint = ask_dispatcher(
        &webhooks,
        UpdateEndpoint {
            id: id.into_inner().id,
            patch,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

#[utoipa::path(delete, path = "/api/webhooks/{id}", tag = "webhooks",
    summary = "Delete an endpoint with its delivery log",
    params(EndpointId),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn remove(webhooks: web::Data<Webhooks>, id: web::Path<EndpointId>) -> Answer {
    ask_dispatcher(&webhooks, RemoveEndpoint(id.into_inner().id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/api/webhooks/{id}/test", tag = "webhooks",
    summary = "Send a `webhook.test` message through the outbox",
    params(EndpointId),
    responses(
        (status = 202, description = "Stored, being sent", body = Queued),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        (status = 409, description = "The endpoint is disabled", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn send_test(webhooks: web::Data<Webhooks>, id: web::Path<EndpointId>) -> Answer {
    let endpoint_id = id.into_inner().id;
    let delivery_id = ask_dispatcher(&webhooks, SendTest(endpoint_id.clone())).await?;
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
        (status = 404, description = "No such delivery", body = crate::error::ErrorBody),
        (status = 409, description = "Its endpoint is disabled", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn redeliver(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let delivery_id = id.into_inner();
    let endpoint_id = ask_dispatcher(&webhooks, Redeliver(delivery_id.clone())).await?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(Queued {
        delivery_id,
        endpoint_id,
        event_type: None,
        status: "pending".to_string(),
    }))
}

/// The query string of the delivery log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Page size, 1 to 500 (default 50)
    #[param(minimum = 1, maximum = 500, value_type = Option<i64>)]
    limit: Option<Limit>,
    /// `next_cursor` of the previous page
    #[param(value_type = Option<String>)]
    cursor: Option<DeliveryCursor>,
}

/// A `next_cursor` of the delivery log: the last delivery's place in the outbox.
#[derive(Debug, PartialEq)]
struct DeliveryCursor(i64);

impl<'de> Deserialize<'de> for DeliveryCursor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        URL_SAFE_NO_PAD
            .decode(&text)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| text.strip_prefix(CURSOR_PREFIX)?.parse().ok())
            .map(Self)
            .ok_or_else(|| {
                serde::de::Error::custom(
                    "must be a `next_cursor` this route gave out, passed back as is",
                )
            })
    }
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{seq}"))
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
    params(EndpointId, DeliveriesQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = DeliveryPage),
        (status = 400, description = "A query parameter is invalid (the message names it)", body = crate::error::ErrorBody),
        (status = 404, description = "No such endpoint", body = crate::error::ErrorBody),
        WebhookAdminErrors
    ))]
pub async fn deliveries(
    webhooks: web::Data<Webhooks>,
    id: web::Path<EndpointId>,
    Query(page): Query<DeliveriesQuery>,
) -> Answer {
    let limit = Limit::or_default(page.limit);
    let before = page.cursor.map(|cursor| cursor.0);
    let endpoint_id = id.into_inner().id;
    // 404 for an unknown endpoint rather than an empty log.
    ask_dispatcher(&webhooks, GetEndpoint(endpoint_id.clone())).await?;
    let pool = webhooks.pool().cloned().ok_or_else(not_answering)?;
    let read_id = endpoint_id.clone();
    let logs = web::block(move || {
        let mut conn = pool.get().map_err(|error| error.to_string())?;
        store::deliveries_page(&mut conn, &read_id, before, limit + 1)
            .map_err(|error| error.to_string())
    })
    .await
    .map_err(|_| not_answering())?
    .map_err(|error| ApiError::Unavailable(format!("reading the delivery log failed: {error}")))?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
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
        let page = |query: &str| super::super::query::parse::<DeliveriesQuery>(query);
        let empty = page("").unwrap();
        assert_eq!((empty.limit, empty.cursor), (None, None));
        let cursor = encode_cursor(42);
        let given = page(&format!("limit=5&cursor={cursor}")).unwrap();
        assert_eq!(given.limit, Some(Limit(5)));
        assert_eq!(given.cursor, Some(DeliveryCursor(42)));
        for (bad, named) in [
            ("limit=0", "`limit`"),
            ("limit=501", "`limit`"),
            ("limit=x", "`limit`"),
            ("cursor=abc", "`cursor`"),
            ("status=failed", "`status`"),
        ] {
            let error = page(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_field", "{bad}");
            assert!(error.to_string().contains(named), "{bad}: {error}");
        }
    }
}
