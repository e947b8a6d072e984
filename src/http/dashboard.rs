//! The browser dashboard: the files under `static/`, embedded in the binary so that
//! `obs-hub serve` serves them from any working directory.
//!
//! `/` is the page; `/static/...` its ES modules (`js/`, no build step: the browser loads them
//! as they are), styles and vendored libraries. Our own files are
//! served `no-cache` with an ETag (a browser revalidates and gets a cheap 304, so a new hub
//! version is picked up at once); vendored files carry their version in their path and are
//! cached for a year.

use std::sync::OnceLock;

use actix_web::{
    http::header::{self, HeaderValue},
    web, HttpRequest, HttpResponse,
};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

struct Asset {
    /// Path under `/static/`.
    path: &'static str,
    bytes: &'static [u8],
    content_type: &'static str,
    /// Versioned path: the content never changes under this name.
    immutable: bool,
}

macro_rules! asset {
    ($path:literal, $content_type:literal, $immutable:literal) => {
        Asset {
            path: $path,
            bytes: include_bytes!(concat!("../../static/", $path)),
            content_type: $content_type,
            immutable: $immutable,
        }
    };
}

const INDEX: &str = "index.html";

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8", false),
    // Module scripts must come with a JavaScript MIME type (browsers refuse others for them).
    asset!("js/main.js", "text/javascript; charset=utf-8", false),
    asset!("js/state.js", "text/javascript; charset=utf-8", false),
    asset!("js/api.js", "text/javascript; charset=utf-8", false),
    asset!("js/socket.js", "text/javascript; charset=utf-8", false),
    asset!("js/format.js", "text/javascript; charset=utf-8", false),
    asset!(
        "js/panels/connection.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/scenes.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/pictures.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/outputs.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/mixer.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/sources.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/charts.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!("js/panels/log.js", "text/javascript; charset=utf-8", false),
    asset!(
        "js/panels/fleet.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/extras.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!(
        "js/panels/rules.js",
        "text/javascript; charset=utf-8",
        false
    ),
    asset!("style.css", "text/css; charset=utf-8", false),
    asset!("favicon.svg", "image/svg+xml", false),
    asset!(
        "vendor/uplot-1.6.32/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        true
    ),
    asset!(
        "vendor/uplot-1.6.32/uPlot.min.css",
        "text/css; charset=utf-8",
        true
    ),
    asset!(
        "vendor/uplot-1.6.32/LICENSE",
        "text/plain; charset=utf-8",
        true
    ),
];

/// The page may only load its own files and talk to its own hub; it may not be framed (its
/// buttons start and stop streams, so clickjacking matters). uPlot sizes its canvas through
/// inline styles, hence `style-src 'unsafe-inline'`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /`.
pub async fn index(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&request, INDEX)
}

/// `GET /static/{path}`.
pub async fn static_file(
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    serve(&request, &path)
}

fn serve(request: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let Some((index, asset)) = ASSETS.iter().enumerate().find(|(_, a)| a.path == path) else {
        return Err(ApiError::RouteNotFound(format!(
            "no dashboard file `{path}`"
        )));
    };
    let etag = &etags()[index];
    let cache_control = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let revalidated = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| if_none_match_hits(value, etag));
    let mut response = if revalidated {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if asset.path == INDEX {
        response
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    }
    if revalidated {
        return Ok(response.finish());
    }
    Ok(response.content_type(asset.content_type).body(asset.bytes))
}

/// Strong ETags from the content, computed once (the files are part of the binary).
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.bytes);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// Whether an `If-None-Match` header value names `etag` (a list, `*`, or weak forms).
fn if_none_match_hits(header_value: &str, etag: &str) -> bool {
    header_value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use actix_web::{body::to_bytes, http::StatusCode, test::TestRequest};

    use super::*;

    #[test]
    fn every_asset_is_there_and_typed() {
        for asset in ASSETS {
            assert!(!asset.bytes.is_empty(), "{}", asset.path);
            let extension = asset.path.rsplit('.').next().unwrap_or_default();
            let expected = match extension {
                "html" => "text/html",
                "js" => "text/javascript",
                "css" => "text/css",
                "svg" => "image/svg+xml",
                _ => "text/plain",
            };
            assert!(asset.content_type.starts_with(expected), "{}", asset.path);
        }
        // Every served file is used: named by the page, or imported by a module it loads.
        let page = std::str::from_utf8(ASSETS[0].bytes).unwrap();
        for asset in ASSETS.iter().filter(|a| !a.path.ends_with("LICENSE")) {
            let by_page = page.contains(&format!("/static/{}", asset.path));
            let file = asset.path.rsplit('/').next().unwrap_or_default();
            let by_module = ASSETS.iter().any(|other| {
                other.path.ends_with(".js")
                    && std::str::from_utf8(other.bytes).is_ok_and(|text| {
                        text.contains(&format!("/{file}\";")) && other.path != asset.path
                    })
            });
            assert!(
                asset.path == INDEX || by_page || by_module,
                "nothing loads {}",
                asset.path
            );
        }
    }

    /// Every file of the page under `static/` is served (a module left out of `ASSETS` would be
    /// a 404 for the browser, and the page would not start); tests and other pages' files aside.
    #[test]
    fn every_page_file_is_served() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, found);
                } else {
                    found.push(path.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/static/");
        let mut files = Vec::new();
        walk(std::path::Path::new(root), &mut files);
        for file in files {
            let path = file.trim_start_matches(root);
            // /docs and its Swagger UI are served by http::docs; tests (and the package.json
            // that makes node read the modules as such) are node's.
            let elsewhere = path.starts_with("docs/") || path.starts_with("vendor/swagger-ui/");
            if elsewhere || path.ends_with(".test.js") || path.ends_with("package.json") {
                continue;
            }
            assert!(
                ASSETS.iter().any(|asset| asset.path == path),
                "static/{path} is not served"
            );
        }
    }

    #[test]
    fn if_none_match_forms() {
        assert!(if_none_match_hits("\"abc\"", "\"abc\""));
        assert!(if_none_match_hits("W/\"abc\"", "\"abc\""));
        assert!(if_none_match_hits("\"x\", \"abc\"", "\"abc\""));
        assert!(if_none_match_hits("*", "\"abc\""));
        assert!(!if_none_match_hits("\"abd\"", "\"abc\""));
    }

    #[actix_web::test]
    async fn revalidation_gets_304_and_unknown_files_404() {
        let first = serve(&TestRequest::default().to_http_request(), "js/main.js").unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(
            first.headers().get(header::CACHE_CONTROL).unwrap(),
            "no-cache"
        );
        let etag = first.headers().get(header::ETAG).unwrap().clone();
        let again = serve(
            &TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, etag))
                .to_http_request(),
            "js/main.js",
        )
        .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(to_bytes(again.into_body()).await.unwrap().is_empty());

        let vendored = serve(
            &TestRequest::default().to_http_request(),
            "vendor/uplot-1.6.32/uPlot.iife.min.js",
        )
        .unwrap();
        assert!(vendored
            .headers()
            .get(header::CACHE_CONTROL)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("immutable"));

        let page = serve(&TestRequest::default().to_http_request(), INDEX).unwrap();
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));

        for missing in ["nope.js", "../Cargo.toml", ""] {
            let error = serve(&TestRequest::default().to_http_request(), missing).unwrap_err();
            assert_eq!(error.code(), "not_found");
        }
    }
}
