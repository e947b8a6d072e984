//! Request bodies: size-limited, parsed by hand so that every problem becomes an [`ApiError`]
//! naming what was wrong (actix's own extractors answer some of these in plain text).

use actix_web::web;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted (413 past it).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The raw body, size-limited (callbacks verify signatures over the exact bytes).
pub(super) async fn read(payload: web::Payload) -> Result<web::Bytes, ApiError> {
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

/// A required JSON body.
pub async fn json<T: DeserializeOwned>(payload: web::Payload) -> Result<T, ApiError> {
    let bytes = read(payload).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson(
            "a JSON body is required; see the README for this route".to_string(),
        ));
    }
    parse(&bytes)
}

/// An optional JSON body: an empty body means "use the defaults".
pub async fn optional_json<T: DeserializeOwned>(
    payload: web::Payload,
) -> Result<Option<T>, ApiError> {
    let bytes = read(payload).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse(&bytes).map(Some)
}

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
