//! API tokens: `Authorization: Bearer <token>` on every `/api/` route when tokens are configured
//! (or, for a picture, a short-lived signed URL: see `signed_url`).

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};

use super::AppState;
use crate::{error::ApiError, secret::token_matches};

/// The token of an `Authorization: Bearer` header, if any.
pub fn bearer_token(request: &actix_web::HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// Whether a request may proceed: always when no token is configured.
pub fn authorized(state: &AppState, presented: Option<&str>) -> Result<(), ApiError> {
    let tokens = &state.settings.api_tokens;
    if tokens.is_empty() {
        return Ok(());
    }
    match presented {
        None => Err(ApiError::Unauthorized(
            "this hub requires an API token: send `Authorization: Bearer <token>`".to_string(),
        )),
        Some(token) if token_matches(token, tokens) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized(
            "the API token is not valid".to_string(),
        )),
    }
}

/// Middleware for the `/api` scope. A refusal is answered here (not returned as an error) so
/// that it goes out while the unread body is still held (see `body_guard::deadline`) and the
/// connection is closed rather than drained.
pub async fn require_token<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    if let Some(state) = request.app_data::<web::Data<AppState>>() {
        if let Err(refusal) = authorized(state, bearer_token(request.request()).as_deref())
            .or_else(|refusal| super::signed_url::admit(state, request.request(), refusal))
        {
            return Ok(request.error_response(refusal).map_into_right_body());
        }
    }
    Ok(next.call(request).await?.map_into_left_body())
}
