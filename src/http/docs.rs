//! The API reference: `GET /api/openapi.json` serves the document `app` hands in (assembled
//! above every capability), and `GET /docs` the Swagger UI over it, vendored under
//! static/vendor/ (no network access needed).

use actix_web::{web, HttpResponse};

/// The OpenAPI document, as JSON.
#[derive(Clone, Copy, Debug)]
pub struct ApiDocument(pub &'static str);

/// `GET /api/openapi.json`.
pub async fn document(document: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0)
}

/// `GET /docs`: Swagger UI over the document, with no network access needed (vendored).
pub async fn reference_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("../../static/docs/index.html"))
}

pub async fn swagger_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(&include_bytes!("../../static/vendor/swagger-ui/swagger-ui-bundle.js")[..])
}

pub async fn swagger_styles() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(&include_bytes!("../../static/vendor/swagger-ui/swagger-ui.css")[..])
}
