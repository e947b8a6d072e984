//! Short-lived signed URLs: how a browser's `<img>`, which cannot send a header, loads a
//! picture from a hub with an API token without the long-lived token in a URL (URLs end up in
//! proxy logs, browser history and `Referer`s).
//!
//! A signed URL is `<path>?<query>&exp=<unix seconds>&sig=<base64url HMAC-SHA256>`: the MAC
//! covers the method class (GET), the path and the whole query before `sig` (so `exp` too),
//! keyed with a random key made at start-up. It lives at most [`MAX_AGE_SECS`], is let in by
//! the auth middleware (see [`admit`]) only for the paths the capability that mints it names
//! (`pictures::routes::is_picture_path`), and a restart voids every one of them. Anyone holding
//! one may load that one picture until it expires: it grants nothing else.
//!
//! The rules are plain functions over an explicit `now`, so expiry is tested without waiting.

use actix_web::HttpRequest;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::error::ApiError;

/// The longest a signed URL is valid.
pub const MAX_AGE_SECS: i64 = 300;

/// Why a signed URL was refused, in words for the 401's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The path is not one a signed URL may open.
    NotSignable,
    /// `exp` or `sig` missing or unreadable.
    Malformed(String),
    Expired {
        at: i64,
    },
    /// The MAC does not match: the path, the query, `exp` or `sig` were changed.
    BadSignature,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Self::NotSignable => {
                "signed URLs open pictures only; this route needs the API token".to_string()
            }
            Self::Malformed(what) => format!("the signed URL is malformed: {what}"),
            Self::Expired { at } => format!(
                "the signed URL expired at {} (they live {MAX_AGE_SECS} s); ask for a new one",
                chrono::DateTime::from_timestamp(*at, 0)
                    .map_or_else(|| at.to_string(), |at| at.to_rfc3339())
            ),
            Self::BadSignature => "the signed URL's signature does not match its path and \
                                   query (changed, or made by an earlier hub process)"
                .to_string(),
        }
    }
}

/// Mints and checks signed URLs with one process-wide random key.
pub struct UrlSigner {
    key: [u8; 32],
    /// Which paths a signed URL may open (given by the capability that mints them).
    signable: fn(&str) -> bool,
}

impl UrlSigner {
    /// A signer with a fresh random key.
    pub fn new(signable: fn(&str) -> bool) -> Self {
        Self::with_key(rand::random(), signable)
    }

    pub fn with_key(key: [u8; 32], signable: fn(&str) -> bool) -> Self {
        Self { key, signable }
    }

    fn mac(&self, path: &str, signed_query: &str) -> Hmac<Sha256> {
        // Any key length is valid for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"GET\n");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(signed_query.as_bytes());
        mac
    }

    /// `path?query` (the query without `exp` and `sig`, possibly empty) signed until
    /// `expires_at` (unix seconds): the URL to hand out.
    pub fn sign(&self, path: &str, query: &str, expires_at: i64) -> String {
        let signed_query = if query.is_empty() {
            format!("exp={expires_at}")
        } else {
            format!("{query}&exp={expires_at}")
        };
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.mac(path, &signed_query).finalize().into_bytes());
        format!("{path}?{signed_query}&sig={sig}")
    }

    /// Checks a request's path and raw query at `now` (unix seconds).
    pub fn check(&self, path: &str, query: &str, now: i64) -> Result<(), Refusal> {
        if !(self.signable)(path) {
            return Err(Refusal::NotSignable);
        }
        let (signed_query, sig) = split_signature(query)
            .ok_or_else(|| Refusal::Malformed("`sig` must be the last parameter".to_string()))?;
        let mut expiries = signed_query
            .split('&')
            .filter_map(|pair| pair.strip_prefix("exp="));
        let expires_at = match (expiries.next(), expiries.next()) {
            (Some(exp), None) => exp.parse::<i64>().map_err(|_| {
                Refusal::Malformed(format!("`exp` must be unix seconds (it was `{exp}`)"))
            })?,
            _ => {
                return Err(Refusal::Malformed(
                    "it needs exactly one `exp` parameter".to_string(),
                ))
            }
        };
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| Refusal::BadSignature)?;
        let expected = self.mac(path, signed_query).finalize().into_bytes();
        if !bool::from(expected.as_slice().ct_eq(&sig)) {
            return Err(Refusal::BadSignature);
        }
        // After the MAC, so that a forged `exp` is reported as a forgery.
        if expires_at <= now {
            return Err(Refusal::Expired { at: expires_at });
        }
        Ok(())
    }
}

/// The query signed and the signature of `...&sig=<sig>` (`sig` last, once).
fn split_signature(query: &str) -> Option<(&str, &str)> {
    let (signed, sig) = query.rsplit_once("&sig=")?;
    (!sig.contains('&') && !signed.split('&').any(|pair| pair.starts_with("sig=")))
        .then_some((signed, sig))
}

/// True when the request presents a signature (a `sig` parameter).
fn presents_signature(query: &str) -> bool {
    query.split('&').any(|pair| pair.starts_with("sig="))
}

/// The auth middleware's exemption: a GET or HEAD with a valid signed URL is let in without
/// a token; one with a bad or expired signature gets a 401 saying why; anything else keeps
/// `refusal`, the token check's answer.
pub fn admit(state: &AppState, request: &HttpRequest, refusal: ApiError) -> Result<(), ApiError> {
    let query = request.query_string();
    let method = request.method();
    if !presents_signature(query)
        || !(method == actix_web::http::Method::GET || method == actix_web::http::Method::HEAD)
    {
        return Err(refusal);
    }
    state
        .url_signer
        .check(request.path(), query, chrono::Utc::now().timestamp())
        .map_err(|refused| ApiError::Unauthorized(refused.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pictures_only(path: &str) -> bool {
        path.ends_with("/screenshot/program")
    }

    const PATH: &str = "/api/instances/default/screenshot/program";
    const NOW: i64 = 1_800_000_000;

    fn signer() -> UrlSigner {
        UrlSigner::with_key([7; 32], pictures_only)
    }

    fn parts(url: &str) -> (&str, &str) {
        url.split_once('?').unwrap()
    }

    #[test]
    fn a_signed_url_opens_its_picture_until_it_expires() {
        let url = signer().sign(PATH, "width=320", NOW + 60);
        assert!(url.starts_with(&format!("{PATH}?width=320&exp={}&sig=", NOW + 60)));
        let (path, query) = parts(&url);
        assert_eq!(signer().check(path, query, NOW), Ok(()));
        assert_eq!(signer().check(path, query, NOW + 59), Ok(()));
        assert_eq!(
            signer().check(path, query, NOW + 60),
            Err(Refusal::Expired { at: NOW + 60 })
        );
        let bare = signer().sign(PATH, "", NOW + 60);
        let (path, query) = parts(&bare);
        assert!(query.starts_with("exp="));
        assert_eq!(signer().check(path, query, NOW), Ok(()));
    }

    #[test]
    fn tampering_with_any_part_is_refused() {
        let url = signer().sign(PATH, "width=320", NOW + 60);
        let (path, query) = parts(&url);
        let check = |path: &str, query: &str| signer().check(path, query, NOW);
        assert_eq!(
            check("/api/instances/studio/screenshot/program", query),
            Err(Refusal::BadSignature),
            "another instance"
        );
        assert_eq!(
            check(path, &query.replace("width=320", "width=640")),
            Err(Refusal::BadSignature),
            "another size"
        );
        assert_eq!(
            check(
                path,
                &query.replace(&(NOW + 60).to_string(), &(NOW + 600).to_string())
            ),
            Err(Refusal::BadSignature),
            "a later expiry"
        );
        let (signed, sig) = query.rsplit_once("&sig=").unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        assert_eq!(
            check(path, &format!("{signed}&sig={flipped}{}", &sig[1..])),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(path, &format!("{signed}&sig=!!")),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            UrlSigner::with_key([8; 32], pictures_only).check(path, query, NOW),
            Err(Refusal::BadSignature),
            "another process's key"
        );
        assert!(matches!(
            check(path, &format!("{query}&width=640")),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check(path, "width=320&sig=abc"),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            check(path, "exp=1&exp=2&sig=abc"),
            Err(Refusal::Malformed(_))
        ));
    }

    #[test]
    fn only_signable_paths_are_opened() {
        let url = signer().sign("/api/stream-status", "", NOW + 60);
        let (path, query) = parts(&url);
        assert_eq!(signer().check(path, query, NOW), Err(Refusal::NotSignable));
    }

    #[test]
    fn refusals_say_why() {
        assert!(Refusal::Expired { at: NOW }
            .message()
            .contains("expired at 2027-01-15"));
        assert!(Refusal::BadSignature.message().contains("does not match"));
        assert!(Refusal::NotSignable.message().contains("pictures only"));
    }
}
