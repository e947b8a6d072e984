//! `/api/webhooks/...`: endpoints, their delivery log, test messages and redeliveries.
//!
//! Changes go through the [`WebhookDispatcher`], which owns the endpoints; the delivery log is
//! read from the database on actix's blocking threads. A secret is shown once, in the answer
//! that created it, and never again.

use actix::Addr;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

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
                .route(web::get().to(list))
                .route(web::post().to(create))
                .default_service(web::to(|request: HttpRequest| {
                    super::method_not_allowed(request, "GET, POST")
                })),
        )
        .service(super::post("/deliveries/{delivery}/redeliver", redeliver))
        .service(
            web::resource("/{id}")
                .route(web::get().to(show))
                .route(web::patch().to(update))
                .route(web::delete().to(remove))
                .default_service(web::to(|request: HttpRequest| {
                    super::method_not_allowed(request, "GET, PATCH, DELETE")
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    url: String,
    secret: Option<Secret>,
    event_types: Option<Vec<String>>,
    instance: Option<String>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    url: Option<String>,
    secret: Option<Secret>,
    event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    instance: Option<Option<String>>,
    enabled: Option<bool>,
}

fn field(name: &str) -> impl Fn(String) -> ApiError + '_ {
    move |message| ApiError::InvalidField(format!("`{name}`: {message}"))
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

async fn list(webhooks: web::Data<Webhooks>) -> Answer {
    let endpoints = dispatcher(&webhooks)?
        .send(ListEndpoints)
        .await
        .map_err(|_| not_answering())?;
    let views: Vec<EndpointView> = endpoints.iter().map(EndpointView::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "webhooks": views })))
}

async fn create(webhooks: web::Data<Webhooks>, payload: web::Payload) -> Answer {
    let body: CreateBody = body::json(payload).await?;
    let url = endpoint::check_url(&body.url).map_err(field("url"))?;
    let secret = match body.secret {
        Some(secret) => {
            endpoint::check_secret(&secret).map_err(field("secret"))?;
            secret
        }
        None => signing::generate_secret(),
    };
    let event_types = match &body.event_types {
        Some(names) => endpoint::check_event_types(names).map_err(field("event_types"))?,
        None => EventType::DEFAULT.to_vec(),
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
    let mut answer = serde_json::to_value(EndpointView::from(&created)).unwrap_or(Value::Null);
    // The one time the secret is shown: the receiver needs it to verify signatures.
    answer["secret"] = json!(secret.expose());
    Ok(HttpResponse::Created().json(answer))
}

async fn show(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let endpoint = dispatcher(&webhooks)?
        .send(GetEndpoint(id.into_inner()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::Ok().json(EndpointView::from(&endpoint)))
}

async fn update(
    webhooks: web::Data<Webhooks>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let body: PatchBody = body::json(payload).await?;
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
    if let Some(names) = &body.event_types {
        patch.event_types = Some(endpoint::check_event_types(names).map_err(field("event_types"))?);
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

async fn remove(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    dispatcher(&webhooks)?
        .send(RemoveEndpoint(id.into_inner()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::NoContent().finish())
}

async fn send_test(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let endpoint_id = id.into_inner();
    let delivery_id = dispatcher(&webhooks)?
        .send(SendTest(endpoint_id.clone()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(json!({
        "delivery_id": delivery_id,
        "endpoint_id": endpoint_id,
        "event_type": crate::webhooks::events::TEST_EVENT_TYPE,
        "status": "pending",
    })))
}

async fn redeliver(webhooks: web::Data<Webhooks>, id: web::Path<String>) -> Answer {
    let delivery_id = id.into_inner();
    let endpoint_id = dispatcher(&webhooks)?
        .send(Redeliver(delivery_id.clone()))
        .await
        .map_err(|_| not_answering())?
        .map_err(api_error)?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(json!({
        "delivery_id": delivery_id,
        "endpoint_id": endpoint_id,
        "status": "pending",
    })))
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

fn delivery_json(log: store::DeliveryLog) -> Value {
    let delivery = log.delivery;
    let attempts: Vec<Value> = log
        .attempts
        .into_iter()
        .map(|attempt| {
            json!({
                "n": attempt.n,
                "at": utc(attempt.attempted_at),
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "error": attempt.error,
            })
        })
        .collect();
    json!({
        "id": delivery.id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.map(utc),
        "created_at": utc(delivery.created_at),
        "delivered_at": delivery.delivered_at.map(utc),
        // Stored exactly as sent: parsed back for reading; the raw text if it somehow isn't JSON.
        "payload": serde_json::from_str::<Value>(&delivery.payload)
            .unwrap_or(Value::String(delivery.payload)),
        "attempt_log": attempts,
    })
}

async fn deliveries(
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
    let deliveries: Vec<Value> = logs.into_iter().map(delivery_json).collect();
    Ok(HttpResponse::Ok().json(json!({
        "endpoint_id": endpoint_id,
        "deliveries": deliveries,
        "next_cursor": next_cursor,
    })))
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
