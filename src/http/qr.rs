//! `GET /api/qr-code?text=...`: a QR code (SVG) of the dashboard's address, for a phone to open
//! it. Generated here (no outside service sees the address). Only an http(s) address is encoded:
//! the page never puts the API token in it (the phone's user types the token once).

use actix_web::HttpResponse;
use qrcode::{render::svg, EcLevel, QrCode};
use serde::Deserialize;

use super::{body::Json, query::Query};
use crate::error::ApiError;

/// Longer than any dashboard address, short enough to stay a scannable code.
const MAX_TEXT: usize = 512;

/// The SVG of `text`'s QR code, or why it is refused.
pub fn qr_svg(text: &str) -> Result<String, String> {
    if !(text.starts_with("https://") || text.starts_with("http://")) {
        return Err("`text` must be the dashboard's http:// or https:// address".into());
    }
    if text.len() > MAX_TEXT {
        return Err(format!("`text` is longer than {MAX_TEXT} characters"));
    }
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|error| format!("`text` cannot be encoded: {error}"))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

#[utoipa::path(get, path = "/api/qr-code", tag = "dashboard",
    params(("text" = String, Query, description = "the http(s) address to encode")),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        (status = 400, description = "`text` missing, not an http(s) address, or too long", body = crate::error::ErrorBody),
    ))]
pub async fn qr_code(Query(QrBody { text }): Query<QrBody>) -> Result<HttpResponse, ApiError> {
    svg_answer(&text)
}

/// `POST /api/qr-code {"text": ...}`: the same, for an address that carries a pairing code,
/// which must not sit in a request line (logs, proxies).
#[utoipa::path(post, path = "/api/qr-code", tag = "dashboard",
    request_body(content = QrBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml", body = String),
        (status = 400, description = "`text` missing, not an http(s) address, or too long", body = crate::error::ErrorBody),
    ))]
pub async fn qr_code_of_body(
    Json(QrBody { text }): Json<QrBody>,
) -> Result<HttpResponse, ApiError> {
    svg_answer(&text)
}

// Also the query string of `GET /api/qr-code` (kept out of the doc comment, the schema's text).
/// The body of `POST /api/qr-code`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "https://192.168.1.20:8000/#pair=K7M3QX9P"}))]
pub struct QrBody {
    pub text: String,
}

fn svg_answer(text: &str) -> Result<HttpResponse, ApiError> {
    let svg = qr_svg(text).map_err(ApiError::InvalidField)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("cache-control", "no-store"))
        .body(svg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_becomes_an_svg_and_anything_else_is_refused() {
        let svg = qr_svg("https://192.168.1.20:8000/").unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        assert!(qr_svg("javascript:alert(1)").is_err());
        assert!(qr_svg(&format!("https://{}", "a".repeat(600))).is_err());
    }
}
