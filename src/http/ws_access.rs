//! Who may open the live WebSocket (`/ws`): a page of the hub's own origin or of an allowed one,
//! carrying the API token when one is configured.
//!
//! Browsers attach cookies and reach loopback addresses from any page, and unlike `fetch` a
//! WebSocket is not subject to CORS: without this check any site a streamer visits could open
//! `ws://127.0.0.1:8000/ws` and watch (cross-site WebSocket hijacking). Browsers always send
//! `Origin` on a WebSocket handshake and scripts cannot forge it, so checking it stops that; other
//! clients (scripts, `websocat`) send none and are let through, the token being their gate.
//!
//! "The hub's own origin" is judged from `Host`, which an attacker controls after rebinding a
//! domain of theirs to 127.0.0.1: `site_guard` has already refused such a `Host` (without a
//! token) before this runs, so an Origin equal to it is the hub's own.

use actix_web::{http::header, web, HttpRequest};
use serde::Deserialize;

use super::{auth, site_guard::same_origin, AppState};
use crate::{config::normalize_origin, error::ApiError};

/// Checks a WebSocket upgrade request before it is accepted: origin first (a foreign page gets
/// 403 whatever it presents), then the API token (401). Answers who connects.
pub fn admit(request: &HttpRequest, state: &AppState) -> Result<auth::Caller, ApiError> {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    check_origin(origin, host, &state.settings.allowed_origins)
        .map_err(ApiError::OriginNotAllowed)?;
    auth::authorized(state, socket_token(request).as_deref(), "GET", "/ws", "")
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The API token a WebSocket client presents: `Authorization: Bearer` like the REST API, or
/// `?token=` because a browser's `new WebSocket(url)` cannot set headers. The value is compared
/// by [`auth::authorized`] and never logged.
pub fn socket_token(request: &HttpRequest) -> Option<String> {
    auth::bearer_token(request).or_else(|| {
        web::Query::<TokenQuery>::from_query(request.query_string())
            .ok()
            .and_then(|query| query.into_inner().token)
    })
}

/// `Ok` when the handshake may proceed: no `Origin` (not a browser), the hub's own origin (the
/// origin's host and port are those of the `Host` header), or an origin in `allowed` (normalised
/// by [`normalize_origin`]). Otherwise the reason, in words.
pub fn check_origin(
    origin: Option<&str>,
    host: Option<&str>,
    allowed: &[String],
) -> Result<(), String> {
    let Some(origin) = origin else {
        return Ok(());
    };
    let refused = || {
        format!(
            "pages from `{origin}` may not open this hub's WebSocket; if that site is yours, add it \
             to allowed_origins in the config file or OBS_HUB_ALLOWED_ORIGINS"
        )
    };
    // "null" (sandboxed frames, file:// pages) and other non-http origins never match.
    let Some(origin) = normalize_origin(origin) else {
        return Err(refused());
    };
    if allowed.contains(&origin) || same_origin(&origin, host) {
        Ok(())
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: &[String] = &[];

    #[test]
    fn clients_without_origin_are_let_through() {
        assert!(check_origin(None, Some("127.0.0.1:8000"), NONE).is_ok());
        assert!(check_origin(None, None, NONE).is_ok());
    }

    #[test]
    fn the_hubs_own_pages_are_let_through() {
        for (origin, host) in [
            ("http://127.0.0.1:8000", "127.0.0.1:8000"),
            ("http://LOCALHOST:8000", "localhost:8000"),
            ("http://studio.lan", "studio.lan:80"),
            ("http://studio.lan:80", "studio.lan"),
            ("https://hub.example.com", "hub.example.com"),
            ("http://[::1]:8000", "[::1]:8000"),
        ] {
            assert!(
                check_origin(Some(origin), Some(host), NONE).is_ok(),
                "{origin} on {host}"
            );
        }
    }

    #[test]
    fn foreign_pages_are_refused_with_the_way_out() {
        for (origin, host) in [
            ("http://evil.example", "127.0.0.1:8000"),
            ("http://127.0.0.1:9000", "127.0.0.1:8000"),
            ("http://127.0.0.1.evil.example:8000", "127.0.0.1:8000"),
            ("https://hub.example.com", "hub.example.com:8443"),
            ("null", "127.0.0.1:8000"),
            ("file://", "127.0.0.1:8000"),
        ] {
            let reason = check_origin(Some(origin), Some(host), NONE).unwrap_err();
            assert!(reason.contains(origin), "{reason}");
            assert!(reason.contains("OBS_HUB_ALLOWED_ORIGINS"), "{reason}");
        }
        assert!(check_origin(Some("http://127.0.0.1:8000"), None, NONE).is_err());
    }

    #[test]
    fn allowed_origins_are_let_through_in_any_spelling() {
        let allowed = vec!["https://dash.example.com".to_string()];
        let host = Some("127.0.0.1:8000");
        assert!(check_origin(Some("https://dash.example.com"), host, &allowed).is_ok());
        assert!(check_origin(Some("HTTPS://Dash.Example.com:443"), host, &allowed).is_ok());
        assert!(check_origin(Some("http://dash.example.com"), host, &allowed).is_err());
        assert!(check_origin(Some("https://other.example.com"), host, &allowed).is_err());
    }
}
