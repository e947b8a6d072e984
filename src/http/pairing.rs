//! Pairing a phone: a token holder asks for a short-lived code (`POST /api/pairing-code`, behind
//! the token), the dashboard shows it beside the QR code (in the address's `#pair=` fragment,
//! which a browser never sends to a server nor keeps in logs), and the phone exchanges it once
//! for the token (`POST /api/pair`, no token needed, wrong codes rate-limited).
//!
//! [`Pairings`] owns the codes and the attempt count; the handlers are thin.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::{web, HttpRequest, HttpResponse};
use rand::Rng;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{auth, body::Json, AppState};
use crate::{config::Secret, error::ApiError};

/// How long a code can be exchanged.
pub const CODE_LIFETIME: Duration = Duration::from_secs(120);
/// Wrong codes accepted per window, from anyone, before every exchange is refused until the
/// window ends: 8 characters of 32 give 2^40 codes, so guessing within a lifetime is hopeless.
pub const MAX_WRONG_ATTEMPTS: u32 = 10;
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Codes alive at once (each one holds a token).
const MAX_CODES: usize = 16;
const CODE_LENGTH: usize = 8;
/// No 0/O, 1/I/L: a code is read off one screen and typed on another.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

struct Pending {
    token: Secret,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    codes: HashMap<String, Pending>,
    window_start: Option<Instant>,
    wrong: u32,
}

/// The live pairing codes, shared by the HTTP workers.
#[derive(Default)]
pub struct Pairings {
    inner: Mutex<Inner>,
}

impl Pairings {
    /// A new code that hands out `token` once, until `now + CODE_LIFETIME`.
    pub fn create(&self, token: Secret, now: Instant) -> String {
        let mut rng = rand::thread_rng();
        let code: String = (0..CODE_LENGTH)
            .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
            .collect();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.codes.retain(|_, pending| pending.expires > now);
        if inner.codes.len() >= MAX_CODES {
            // The oldest code goes: a holder asking again has moved on from it.
            if let Some(oldest) = inner
                .codes
                .iter()
                .min_by_key(|(_, pending)| pending.expires)
                .map(|(code, _)| code.clone())
            {
                inner.codes.remove(&oldest);
            }
        }
        inner.codes.insert(
            code.clone(),
            Pending {
                token,
                expires: now + CODE_LIFETIME,
            },
        );
        code
    }

    /// The token for `code`, once; the code is gone afterwards. Typing is forgiving (case,
    /// spaces, dashes).
    pub fn exchange(&self, code: &str, now: Instant) -> Result<Secret, ApiError> {
        let code: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner
            .window_start
            .is_none_or(|start| now.duration_since(start) >= ATTEMPT_WINDOW)
        {
            inner.window_start = Some(now);
            inner.wrong = 0;
        }
        if inner.wrong >= MAX_WRONG_ATTEMPTS {
            return Err(ApiError::TooManyPairingAttempts {
                message: format!(
                    "too many wrong pairing codes; try again in {} s",
                    ATTEMPT_WINDOW.as_secs()
                ),
                retry_after_secs: ATTEMPT_WINDOW.as_secs(),
            });
        }
        match inner.codes.remove(&code) {
            Some(pending) if pending.expires > now => Ok(pending.token),
            _ => {
                inner.wrong += 1;
                Err(ApiError::PairingCodeInvalid(
                    "the pairing code is wrong, used or expired (it lasts 2 minutes): ask for \
                     a new one on the dashboard"
                        .to_string(),
                ))
            }
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"code": "K7M3QX9P", "expires_in_s": 120}))]
pub struct PairingCode {
    /// Single use; give it to the phone (typed, or in the QR code's `#pair=` fragment).
    pub code: String,
    pub expires_in_s: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "K7M3QX9P"}))]
pub struct PairBody {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct PairedToken {
    /// The API token, for `Authorization: Bearer`.
    pub token: String,
}

#[utoipa::path(post, path = "/api/pairing-code", tag = "dashboard",
    summary = "A single-use code, valid 2 minutes, that a phone exchanges for the token used here",
    responses(
        (status = 200, description = "The code", body = PairingCode),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 409, description = "This hub has no API token to pair with", body = crate::error::ErrorBody),
    ))]
pub async fn create_code(
    state: web::Data<AppState>,
    pairings: web::Data<Pairings>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    // `require_token` let the request in, so a configured token was presented.
    let token = match auth::bearer_token(&request) {
        Some(token) if !state.settings.api_tokens.is_empty() => token,
        _ => {
            return Err(ApiError::Conflict(
                "this hub has no API token (OBS_HUB_API_TOKEN): a phone needs no pairing".into(),
            ))
        }
    };
    let code = pairings.create(Secret::new(token), Instant::now());
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(PairingCode {
            code,
            expires_in_s: CODE_LIFETIME.as_secs(),
        }))
}

#[utoipa::path(post, path = "/api/pair", tag = "dashboard",
    summary = "Exchange a pairing code for the API token (no token needed)",
    request_body = PairBody,
    responses(
        (status = 200, description = "The token", body = PairedToken),
        (status = 400, description = "No body, or a body without a string `code` (the message names the field)", body = crate::error::ErrorBody),
        (status = 408, description = "The body did not arrive within `[http] body_timeout_ms` (the connection is closed)", body = crate::error::ErrorBody),
        (status = 401, description = "Wrong, used or expired code", body = crate::error::ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = crate::error::ErrorBody),
        (status = 415, description = "A body without `Content-Type: application/json`", body = crate::error::ErrorBody),
        (status = 429, description = "Too many wrong codes lately (Retry-After)", body = crate::error::ErrorBody),
    ))]
pub async fn exchange(
    pairings: web::Data<Pairings>,
    Json(PairBody { code }): Json<PairBody>,
) -> Result<HttpResponse, ApiError> {
    let token = pairings.exchange(&code, Instant::now())?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(PairedToken {
            token: token.expose().to_string(),
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(secret: &Secret) -> &str {
        secret.expose()
    }

    #[test]
    fn a_code_gives_the_token_once() {
        let pairings = Pairings::default();
        let now = Instant::now();
        let code = pairings.create(Secret::new("the-api-token-0123"), now);
        assert_eq!(code.len(), CODE_LENGTH);
        let typed = format!(" {}-{} ", &code[..4], code[4..].to_lowercase());
        let got = pairings.exchange(&typed, now).unwrap();
        assert_eq!(token(&got), "the-api-token-0123");
        assert!(matches!(
            pairings.exchange(&code, now),
            Err(ApiError::PairingCodeInvalid(_))
        ));
    }

    #[test]
    fn a_code_expires() {
        let pairings = Pairings::default();
        let now = Instant::now();
        let code = pairings.create(Secret::new("the-api-token-0123"), now);
        assert!(matches!(
            pairings.exchange(&code, now + CODE_LIFETIME),
            Err(ApiError::PairingCodeInvalid(_))
        ));
    }

    #[test]
    fn wrong_codes_are_refused_then_limited_even_for_the_right_one() {
        let pairings = Pairings::default();
        let now = Instant::now();
        let code = pairings.create(Secret::new("the-api-token-0123"), now);
        for _ in 0..MAX_WRONG_ATTEMPTS {
            assert!(matches!(
                pairings.exchange("WRONG222", now),
                Err(ApiError::PairingCodeInvalid(_))
            ));
        }
        assert!(matches!(
            pairings.exchange(&code, now),
            Err(ApiError::TooManyPairingAttempts { .. })
        ));
        // The limit is per window; the code is still unused and still alive.
        let later = now + ATTEMPT_WINDOW;
        assert_eq!(
            token(&pairings.exchange(&code, later).unwrap()),
            "the-api-token-0123"
        );
    }
}
