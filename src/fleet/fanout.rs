//! Group commands: `/api/instance-groups/{group}/<route>` runs `/api/instances/{member}/<route>`
//! for every member at once and answers one result per member.
//!
//! Generic by construction: each member's request is the group request with its path rewritten,
//! handed to a second copy of the hub's own app ([`MemberDispatch`], one per HTTP worker, built
//! from the same routes and middleware by `app`). So every per-instance route exists for groups
//! without a line of its own, and each member's request passes the same token, scope, instance
//! allow-list, rate limit, audit and command discipline (output lanes) as if it had been sent
//! alone. The members' requests run concurrently on the worker that took the group request.
//!
//! The pure part, [`GroupAnswer::collect`], turns the members' answers into the group's: one
//! result per member in the group's order, counts of successes and failures, and the spread
//! between the first and the last member's acknowledgement.

use std::{cell::RefCell, rc::Rc, time::Instant};

use actix_service::IntoServiceFactory;
use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{AppConfig, Service, ServiceFactory, ServiceRequest, ServiceResponse},
    http::{header, StatusCode},
    web, App, HttpRequest,
};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiError;

/// One request into the member app.
type MemberCall = Rc<
    dyn Fn(
        actix_http::Request,
    ) -> LocalBoxFuture<'static, Result<ServiceResponse<BoxBody>, actix_web::Error>>,
>;

type Starter = Box<dyn FnOnce() -> LocalBoxFuture<'static, Result<MemberCall, ()>>>;

/// The hub's app once more, for the members' requests of group commands: built by `app` with
/// the same routes and middleware as the served one and registered on it as app data. Started
/// on the first group command of each worker.
pub struct MemberDispatch {
    starter: RefCell<Option<Starter>>,
    service: tokio::sync::OnceCell<Option<MemberCall>>,
}

impl MemberDispatch {
    pub fn new<T, B>(app: App<T>) -> Self
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let starter: Starter = Box::new(move || {
            Box::pin(async move {
                let service = app.into_factory().new_service(AppConfig::default()).await?;
                let service = Rc::new(service);
                let call: MemberCall = Rc::new(move |request| {
                    let service = Rc::clone(&service);
                    Box::pin(async move {
                        service
                            .call(request)
                            .await
                            .map(ServiceResponse::map_into_boxed_body)
                    })
                });
                Ok(call)
            })
        });
        Self {
            starter: RefCell::new(Some(starter)),
            service: tokio::sync::OnceCell::new(),
        }
    }

    async fn call(&self) -> Result<MemberCall, ApiError> {
        let service = self
            .service
            .get_or_init(|| async {
                let starter = self.starter.borrow_mut().take()?;
                starter().await.ok()
            })
            .await;
        service
            .clone()
            .ok_or_else(|| ApiError::Unavailable("group commands could not be set up".into()))
    }
}

/// What one member answered.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct MemberResult {
    #[schema(example = "booth-a")]
    pub instance: String,
    /// The HTTP status the member's own route answered.
    #[schema(example = 200)]
    pub status: u16,
    /// Whether that status is a success (2xx).
    pub ok: bool,
    /// The member's JSON answer (an error body on failure); null for an empty or non-JSON one.
    #[schema(value_type = Object)]
    pub body: Value,
    /// The answer's type when it is not JSON (a picture), with its size in `bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<usize>,
}

/// The answer of a group command.
#[derive(Debug, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "group": "booths", "succeeded": 2, "failed": 1, "spread_ms": 3.4,
    "results": [
        {"instance": "booth-a", "status": 200, "ok": true, "body": {"ok": true, "scene": "Live"}},
        {"instance": "booth-b", "status": 200, "ok": true, "body": {"ok": true, "scene": "Live"}},
        {"instance": "booth-c", "status": 503, "ok": false, "body": {"error": "obs_not_connected", "message": "OBS instance `booth-c` is not connected (reconnecting)", "instance": "booth-c", "connection_state": "reconnecting"}}
    ]}))]
pub struct GroupAnswer {
    pub group: String,
    /// Members whose route answered 2xx.
    pub succeeded: usize,
    /// Members whose route answered anything else.
    pub failed: usize,
    /// Milliseconds between the first and the last member's answer.
    pub spread_ms: f64,
    /// One per member, in the group's order.
    pub results: Vec<MemberResult>,
}

impl GroupAnswer {
    /// The group's answer from each member's result and when it came.
    pub fn collect(group: &str, answers: Vec<(MemberResult, Instant)>) -> Self {
        let first = answers.iter().map(|(_, at)| *at).min();
        let last = answers.iter().map(|(_, at)| *at).max();
        let spread_ms = match (first, last) {
            (Some(first), Some(last)) => last.duration_since(first).as_secs_f64() * 1000.0,
            _ => 0.0,
        };
        let results: Vec<MemberResult> = answers.into_iter().map(|(result, _)| result).collect();
        let succeeded = results.iter().filter(|result| result.ok).count();
        Self {
            group: group.to_string(),
            succeeded,
            failed: results.len() - succeeded,
            spread_ms,
            results,
        }
    }
}

/// The member's result from its status, content type and body.
pub fn member_result(
    instance: &str,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> MemberResult {
    let json = content_type.is_some_and(|kind| kind.starts_with("application/json"));
    let parsed = json.then(|| serde_json::from_slice(body).ok()).flatten();
    let opaque = !json && !body.is_empty();
    MemberResult {
        instance: instance.to_string(),
        status: status.as_u16(),
        ok: status.is_success(),
        body: parsed.unwrap_or(Value::Null),
        content_type: opaque.then(|| content_type.unwrap_or_default().to_string()),
        bytes: opaque.then_some(body.len()),
    }
}

/// Runs `route` (the path after the group, with the query string) on every member at once.
pub async fn run(
    request: &HttpRequest,
    group: &str,
    members: &[String],
    route: &str,
    body: web::Bytes,
) -> Result<GroupAnswer, ApiError> {
    let dispatch = request
        .app_data::<MemberDispatch>()
        .ok_or_else(|| ApiError::Unavailable("group commands are not set up".into()))?;
    let call = dispatch.call().await?;
    let query = match request.query_string() {
        "" => String::new(),
        query => format!("?{query}"),
    };
    let answers = members.iter().map(|member| {
        let call = Rc::clone(&call);
        let uri = format!("/api/instances/{member}/{route}{query}");
        let member_request = member_request(request, &uri, body.clone());
        async move {
            let result = match member_request {
                Ok(member_request) => answer_of(member, call(member_request).await).await,
                Err(error) => error_result(member, &error),
            };
            (result, Instant::now())
        }
    });
    let answers = futures_util::future::join_all(answers).await;
    Ok(GroupAnswer::collect(group, answers))
}

/// The group request, addressed to one member: same method, headers (token, origin, type) and
/// body, and the same peer (audit).
fn member_request(
    request: &HttpRequest,
    uri: &str,
    body: web::Bytes,
) -> Result<actix_http::Request, ApiError> {
    let length = body.len();
    let mut member = actix_http::Request::with_payload(actix_http::Payload::from(body));
    let head = member.head_mut();
    head.method = request.method().clone();
    head.version = request.version();
    head.uri = uri
        .parse()
        .map_err(|_| ApiError::InvalidField(format!("`{uri}` is not a valid path")))?;
    head.peer_addr = request.peer_addr();
    head.headers = request.headers().clone();
    // The body is whole already: its length is known, and nothing is to be continued.
    head.headers.remove(header::TRANSFER_ENCODING);
    head.headers.remove(header::EXPECT);
    head.headers.remove(header::CONTENT_LENGTH);
    if length > 0 {
        head.headers
            .insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    }
    Ok(member)
}

async fn answer_of(
    member: &str,
    answered: Result<ServiceResponse<BoxBody>, actix_web::Error>,
) -> MemberResult {
    let response = match answered {
        Ok(response) => response.into_parts().1,
        Err(error) => error.error_response(),
    };
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    match actix_web::body::to_bytes(response.into_body()).await {
        Ok(bytes) => member_result(member, status, content_type.as_deref(), &bytes),
        Err(_) => error_result(
            member,
            &ApiError::Unavailable("the member's answer could not be read".into()),
        ),
    }
}

fn error_result(member: &str, error: &ApiError) -> MemberResult {
    use actix_web::ResponseError;
    MemberResult {
        instance: member.to_string(),
        status: error.status_code().as_u16(),
        ok: false,
        body: serde_json::to_value(error.body()).unwrap_or(Value::Null),
        content_type: None,
        bytes: None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn one_result_per_member_in_order_with_the_spread_of_their_answers() {
        let start = Instant::now();
        let ok = |name: &str| {
            member_result(
                name,
                StatusCode::OK,
                Some("application/json"),
                br#"{"ok":true}"#,
            )
        };
        let down = member_result(
            "c",
            StatusCode::SERVICE_UNAVAILABLE,
            Some("application/json"),
            br#"{"error":"obs_not_connected"}"#,
        );
        let answer = GroupAnswer::collect(
            "g",
            vec![
                (ok("a"), start + Duration::from_millis(5)),
                (ok("b"), start),
                (down, start + Duration::from_millis(12)),
            ],
        );
        let names: Vec<&str> = answer.results.iter().map(|r| r.instance.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!((answer.succeeded, answer.failed), (2, 1));
        assert!(
            (answer.spread_ms - 12.0).abs() < 1e-9,
            "{}",
            answer.spread_ms
        );
        assert_eq!(answer.results[2].body["error"], "obs_not_connected");
        assert!(!answer.results[2].ok);
        assert_eq!(GroupAnswer::collect("g", Vec::new()).spread_ms, 0.0);
    }

    #[test]
    fn a_picture_is_described_not_embedded() {
        let picture = member_result("a", StatusCode::OK, Some("image/png"), &[0u8; 42]);
        assert_eq!(picture.body, Value::Null);
        assert_eq!(picture.content_type.as_deref(), Some("image/png"));
        assert_eq!(picture.bytes, Some(42));
        let empty = member_result("a", StatusCode::NO_CONTENT, None, &[]);
        assert_eq!((empty.content_type, empty.bytes), (None, None));
    }
}
