//! Request bodies: size-limited, parsed by hand so that every problem becomes an [`ApiError`]
//! naming what was wrong (actix's own extractors answer some of these in plain text).
//!
//! A body that is read as JSON must say so (`Content-Type: application/json`, 415 otherwise):
//! the types a web page can send without a CORS preflight (`text/plain`, forms) are never JSON
//! here, which keeps the browser's preflight in the way of cross-site requests. An empty body
//! needs no type, so bodiless POSTs (`curl -X POST .../start-stream/`) keep working.
//!
//! Handlers take a body as an extractor, [`Json`] (required) or [`OptionalJson`] (empty means
//! the defaults); routes that need the raw bytes (callbacks: signatures) read them with [`read`].

use actix_web::{dev, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted (413 past it).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The raw body, size-limited (callbacks verify signatures over the exact bytes).
pub(crate) async fn read(payload: web::Payload) -> Result<web::Bytes, ApiError> {
    read_limited(payload, BODY_LIMIT).await
}

/// The raw body, at most `limit` bytes; a body that does not arrive in time (see
/// [`body_guard::deadline`](super::body_guard::deadline)) is a 408.
pub(super) async fn read_limited(
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    match payload.to_bytes_limited(limit).await {
        Err(_) => Err(ApiError::PayloadTooLarge { limit }),
        Ok(Err(error)) => Err(super::body_guard::timed_out(&error).unwrap_or_else(|| {
            ApiError::InvalidJson(format!("the request body could not be read: {error}"))
        })),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        use serde_json::error::Category;
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            // Well-formed JSON of the wrong shape: name the field.
            Category::Data if path != "." => ApiError::InvalidField(format!("`{path}`: {inner}")),
            Category::Data => ApiError::InvalidField(format!("invalid request body: {inner}")),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::InvalidJson(format!("the request body is not valid JSON: {inner}"))
            }
        }
    })
}

/// `Ok` when `content_type` is JSON: `application/json`, in any case, with parameters such as
/// `; charset=utf-8`. Otherwise a 415 naming the type received.
pub fn check_json_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let essence = content_type.map(|value| value.split(';').next().unwrap_or("").trim());
    match essence {
        Some(essence) if essence.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "the body must be JSON sent with `Content-Type: application/json`, not {}",
            match content_type {
                Some(received) => format!("`{received}`"),
                None => "without a Content-Type".to_string(),
            }
        ))),
    }
}

/// [`check_json_type`] for a body already read: nothing to check when it is empty.
pub(super) fn check_type_of(request: &HttpRequest, bytes: &[u8]) -> Result<(), ApiError> {
    if is_blank(bytes) {
        return Ok(());
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| value.to_str().unwrap_or("(not text)"));
    check_json_type(content_type)
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// A required JSON body.
pub async fn json<T: DeserializeOwned>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let bytes = read(payload).await?;
    if is_blank(&bytes) {
        return Err(ApiError::InvalidJson(
            "a JSON body is required; see the README for this route".to_string(),
        ));
    }
    check_type_of(request, &bytes)?;
    parse(&bytes)
}

/// An optional JSON body: an empty body means "use the defaults".
pub async fn optional_json<T: DeserializeOwned>(
    request: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<T>, ApiError> {
    let bytes = read(payload).await?;
    if is_blank(&bytes) {
        return Ok(None);
    }
    check_type_of(request, &bytes)?;
    parse(&bytes).map(Some)
}

/// A required JSON body, as an extractor (see [`json`]).
pub struct Json<T>(pub T);

/// An optional JSON body, as an extractor (see [`optional_json`]).
pub struct OptionalJson<T>(pub Option<T>);

/// Reads the body with `read` once the handler's earlier extractors have passed.
fn extract<T: 'static, F>(
    request: &HttpRequest,
    payload: &mut dev::Payload,
    read: impl FnOnce(HttpRequest, web::Payload) -> F + 'static,
) -> LocalBoxFuture<'static, Result<T, ApiError>>
where
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let request = request.clone();
    let payload = web::Payload::from_request(&request, payload);
    Box::pin(async move {
        let payload = payload.await.map_err(|error| {
            ApiError::InvalidJson(format!("the request body could not be read: {error}"))
        })?;
        read(request, payload).await
    })
}

/// `FromRequest` for an extractor whose body `read` gives (with the request and payload).
macro_rules! body_extractor {
    ($extractor:ident, $read:ident) => {
        impl<T: DeserializeOwned + 'static> FromRequest for $extractor<T> {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

            fn from_request(request: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
                extract(request, payload, |request, payload| async move {
                    $read(&request, payload).await.map($extractor)
                })
            }
        }
    };
}

body_extractor!(Json, json);
body_extractor!(OptionalJson, optional_json);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Switch {
        scene_name: String,
    }

    #[test]
    fn only_json_bodies_are_read_as_json() {
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            " application/json ",
        ] {
            assert!(check_json_type(Some(json)).is_ok(), "{json}");
        }
        for (other, named) in [
            (Some("text/plain"), "`text/plain`"),
            (
                Some("text/plain; charset=utf-8"),
                "`text/plain; charset=utf-8`",
            ),
            (
                Some("application/x-www-form-urlencoded"),
                "`application/x-www-form-urlencoded`",
            ),
            (
                Some("multipart/form-data; boundary=x"),
                "`multipart/form-data; boundary=x`",
            ),
            (Some("application/jsonp"), "`application/jsonp`"),
            (None, "without a Content-Type"),
        ] {
            let error = check_json_type(other).unwrap_err();
            assert_eq!(error.code(), "unsupported_media_type");
            assert!(error.to_string().contains(named), "{error}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let missing = parse::<Switch>(b"{}").unwrap_err();
        assert_eq!(missing.code(), "invalid_field");
        assert!(missing.to_string().contains("scene_name"));
        let mistyped = parse::<Switch>(br#"{"scene_name": 5}"#).unwrap_err();
        assert!(
            mistyped.to_string().contains("expected a string"),
            "{mistyped}"
        );
        let unknown = parse::<Switch>(br#"{"scene": "A"}"#).unwrap_err();
        assert!(unknown.to_string().contains("unknown field `scene`"));
        let broken = parse::<Switch>(b"{\"scene_name\": ").unwrap_err();
        assert_eq!(broken.code(), "invalid_json");
    }
}
