//! The pictures' REST routes, registered under `/api/` and `/api/instances/{name}/`:
//!
//! - `GET screenshot/program`: what is on air;
//! - `GET screenshot/preview`: what is on preview (409 `studio_mode_off` outside studio mode);
//! - `GET sources/{source}/screenshot`: one scene or input.
//!
//! Query: `format` (`jpeg`, the default, or `png`), `width` and `height` (8..=4096), `quality`
//! (0..=100); anything else is a 400 naming it. Answers carry an ETag (a request whose
//! `If-None-Match` matches gets 304) and `Cache-Control: private, no-cache`, so a browser
//! revalidates instead of showing a stale picture. Program and preview are resolved to their
//! scene from the cache first: a scene switch starts a new picture at once, and a viewer of the
//! program and one of that scene by name share one capture.

use actix_web::{
    dev::Payload,
    http::header::{self, HeaderValue},
    web, FromRequest, HttpRequest, HttpResponse,
};
use obws::responses::StatusCode as ObsStatus;
use serde::Deserialize;

use super::{
    cache::{Captures, Picture},
    capture::{Format, Screenshot, QUALITY_RANGE, SIDE_RANGE},
};
use crate::{
    error::ApiError,
    http::{get, target::Target, AppState},
    obs::{CommandError, CommandOutcome, ObsCommand, Route},
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get("/screenshot/program", program))
        .service(get("/screenshot/preview", preview))
        .service(get("/sources/{source}/screenshot", source));
}

/// A picture's query, checked: the typed extractor of the three routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PictureQuery {
    pub format: Format,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub quality: Option<i32>,
}

impl PictureQuery {
    /// Checks the query's pairs; the error names the first bad parameter.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut query = Self {
            format: Format::Jpeg,
            width: None,
            height: None,
            quality: None,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "format" => {
                    query.format = match value.to_ascii_lowercase().as_str() {
                        "jpeg" | "jpg" => Format::Jpeg,
                        "png" => Format::Png,
                        _ => {
                            return Err(ApiError::InvalidField(format!(
                                "`format` must be `jpeg` or `png` (it was `{value}`)"
                            )))
                        }
                    }
                }
                "width" => query.width = Some(side("width", value)?),
                "height" => query.height = Some(side("height", value)?),
                "quality" => {
                    query.quality = Some(
                        value
                            .parse::<i32>()
                            .ok()
                            .filter(|quality| QUALITY_RANGE.contains(quality))
                            .ok_or_else(|| out_of_range("quality", value, &QUALITY_RANGE))?,
                    )
                }
                other => {
                    return Err(ApiError::InvalidField(format!(
                        "unknown query parameter `{other}`: a picture takes `format`, `width`, \
                         `height` and `quality`"
                    )))
                }
            }
        }
        Ok(query)
    }

    fn screenshot(self, source: String) -> Screenshot {
        Screenshot {
            source,
            format: self.format,
            width: self.width,
            height: self.height,
            quality: self.quality,
        }
    }
}

fn out_of_range<T: std::fmt::Display>(
    field: &str,
    value: &str,
    range: &std::ops::RangeInclusive<T>,
) -> ApiError {
    ApiError::InvalidField(format!(
        "`{field}` must be a whole number from {} to {} (it was `{value}`)",
        range.start(),
        range.end()
    ))
}

fn side(field: &str, value: &str) -> Result<u32, ApiError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|side| SIDE_RANGE.contains(side))
        .ok_or_else(|| out_of_range(field, value, &SIDE_RANGE))
}

impl FromRequest for PictureQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
            .map(web::Query::into_inner)
            .map_err(|error| ApiError::InvalidField(format!("unreadable query string: {error}")));
        std::future::ready(pairs.and_then(|pairs| Self::parse(&pairs)))
    }
}

/// The scene on program or preview, from the cache.
fn scene_of(state: &AppState, target: &Target, preview: bool) -> Result<String, ApiError> {
    let snapshot = state.board.current();
    let status = snapshot
        .instance(&target.name)
        .ok_or_else(|| ApiError::unknown_instance(&target.name, &[]))?;
    let not_connected = || {
        ApiError::from_command(
            &target.name,
            CommandError::NotConnected {
                state: status.connection.state,
                reason: status.connection.last_error.clone(),
            },
            "",
        )
    };
    if !status.is_connected() {
        return Err(not_connected());
    }
    if !preview {
        return status.current_scene.clone().ok_or_else(not_connected);
    }
    match (&status.studio.studio_mode, &status.studio.preview_scene) {
        (Some(true), Some(scene)) => Ok(scene.clone()),
        _ => Err(ApiError::StudioModeOff(format!(
            "OBS instance `{}` is not in studio mode, so it has no preview: enable it first \
             (PUT /api/studio-mode with {{\"enabled\": true}})",
            target.name
        ))),
    }
}

async fn capture(
    state: &AppState,
    instance: &str,
    screenshot: Screenshot,
) -> Result<Vec<u8>, CommandError> {
    let outcome = state
        .supervisor
        .send(Route {
            instance: instance.to_string(),
            command: ObsCommand::Screenshot(screenshot),
        })
        .await
        .unwrap_or_else(|_| Err(CommandError::Unavailable(instance.to_string())))?;
    match outcome {
        CommandOutcome::Picture(bytes) => Ok(bytes),
        _ => Err(CommandError::Unavailable(instance.to_string())),
    }
}

async fn serve(
    state: &AppState,
    captures: &Captures,
    target: &Target,
    request: &HttpRequest,
    screenshot: Screenshot,
) -> Answer {
    let format = screenshot.format;
    let source = screenshot.source.clone();
    let key = (target.name.clone(), screenshot.clone());
    let picture = captures
        .get(key, || capture(state, &target.name, screenshot))
        .await
        .map_err(|error| refusal(&target.name, &source, error))?;
    Ok(answer(request, &picture, format))
}

/// 200 with the image, or 304 when the client has these bytes already.
fn answer(request: &HttpRequest, picture: &Picture, format: Format) -> HttpResponse {
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == picture.etag || tag == "*")
        });
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, picture.etag.as_str()))
        .insert_header((
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        ));
    if matches {
        return response.finish();
    }
    response
        .content_type(format.content_type())
        .body(picture.bytes.as_ref().clone())
}

/// OBS's refusals in words that say what to do.
fn refusal(instance: &str, source: &str, error: CommandError) -> ApiError {
    match error {
        CommandError::Rejected {
            code: ObsStatus::ResourceNotFound,
            ..
        } => ApiError::UnknownSource(format!(
            "OBS instance `{instance}` has no scene or input named `{source}`"
        )),
        CommandError::Rejected {
            code: ObsStatus::InvalidResourceType,
            message,
        } => ApiError::UnknownSource(format!(
            "`{source}` in OBS instance `{instance}` has no picture (not a scene or a video \
             input); OBS said: {message}"
        )),
        other => ApiError::from_command(instance, other, ""),
    }
}

#[derive(Deserialize)]
pub struct SourcePath {
    pub source: String,
}

#[utoipa::path(
    get,
    path = "/api/screenshot/program",
    tag = "instance",
    summary = "A picture of what is on air (program), captured at most N times a second for all viewers",
    params(
        ("format" = Option<String>, Query, description = "`jpeg` (default) or `png`"),
        ("width" = Option<u32>, Query, description = "8 to 4096; OBS keeps the aspect ratio"),
        ("height" = Option<u32>, Query, description = "8 to 4096; OBS keeps the aspect ratio"),
        ("quality" = Option<i32>, Query, description = "0 to 100; OBS's default when absent")
    ),
    responses(
        (status = 200, description = "The image; ETag and Cache-Control: private, no-cache",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "If-None-Match matched the current picture's ETag"),
        (status = 400, description = "A bad query parameter (invalid_field names it)", body = crate::error::ErrorBody,
         example = json!({"error": "invalid_field", "message": "`width` must be a whole number from 8 to 4096 (it was `5000`)"})),
        (status = 404, description = "No such instance", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 502, description = "OBS refused", body = crate::error::ErrorBody),
        (status = 503, description = "OBS is not connected", body = crate::error::ErrorBody),
        (status = 504, description = "OBS did not answer in time", body = crate::error::ErrorBody)
    )
)]
pub async fn program(
    state: web::Data<AppState>,
    captures: web::Data<Captures>,
    target: Target,
    query: PictureQuery,
    request: HttpRequest,
) -> Answer {
    let scene = scene_of(&state, &target, false)?;
    serve(
        &state,
        &captures,
        &target,
        &request,
        query.screenshot(scene),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/screenshot/preview",
    tag = "instance",
    summary = "A picture of what is on preview (studio mode), shared like the program picture",
    params(
        ("format" = Option<String>, Query, description = "`jpeg` (default) or `png`"),
        ("width" = Option<u32>, Query, description = "8 to 4096"),
        ("height" = Option<u32>, Query, description = "8 to 4096"),
        ("quality" = Option<i32>, Query, description = "0 to 100")
    ),
    responses(
        (status = 200, description = "The image; ETag and Cache-Control: private, no-cache",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "If-None-Match matched the current picture's ETag"),
        (status = 400, description = "A bad query parameter (invalid_field names it)", body = crate::error::ErrorBody),
        (status = 404, description = "No such instance", body = crate::error::ErrorBody),
        (status = 409, description = "OBS is not in studio mode (studio_mode_off)", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 502, description = "OBS refused", body = crate::error::ErrorBody),
        (status = 503, description = "OBS is not connected", body = crate::error::ErrorBody),
        (status = 504, description = "OBS did not answer in time", body = crate::error::ErrorBody)
    )
)]
pub async fn preview(
    state: web::Data<AppState>,
    captures: web::Data<Captures>,
    target: Target,
    query: PictureQuery,
    request: HttpRequest,
) -> Answer {
    let scene = scene_of(&state, &target, true)?;
    serve(
        &state,
        &captures,
        &target,
        &request,
        query.screenshot(scene),
    )
    .await
}

#[utoipa::path(
    get,
    path = "/api/sources/{source}/screenshot",
    tag = "instance",
    summary = "A picture of one scene or input, shared like the program picture",
    params(
        ("source" = String, Path, description = "A scene or an input, by name"),
        ("format" = Option<String>, Query, description = "`jpeg` (default) or `png`"),
        ("width" = Option<u32>, Query, description = "8 to 4096"),
        ("height" = Option<u32>, Query, description = "8 to 4096"),
        ("quality" = Option<i32>, Query, description = "0 to 100")
    ),
    responses(
        (status = 200, description = "The image; ETag and Cache-Control: private, no-cache",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "If-None-Match matched the current picture's ETag"),
        (status = 400, description = "A bad query parameter (invalid_field names it)", body = crate::error::ErrorBody),
        (status = 404, description = "No such instance, or no such scene or input (unknown_source)", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody),
        (status = 502, description = "OBS refused", body = crate::error::ErrorBody),
        (status = 503, description = "OBS is not connected", body = crate::error::ErrorBody),
        (status = 504, description = "OBS did not answer in time", body = crate::error::ErrorBody)
    )
)]
pub async fn source(
    state: web::Data<AppState>,
    captures: web::Data<Captures>,
    target: Target,
    path: web::Path<SourcePath>,
    query: PictureQuery,
    request: HttpRequest,
) -> Answer {
    let source = path.into_inner().source;
    if source.trim().is_empty() {
        return Err(ApiError::InvalidField(
            "`source` must not be empty".to_string(),
        ));
    }
    serve(
        &state,
        &captures,
        &target,
        &request,
        query.screenshot(source),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn message(query: &[(&str, &str)]) -> String {
        match PictureQuery::parse(&pairs(query)) {
            Err(ApiError::InvalidField(message)) => message,
            other => panic!("expected invalid_field for {query:?}, got {other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_jpeg_at_obs_size_and_quality() {
        assert_eq!(
            PictureQuery::parse(&[]).unwrap(),
            PictureQuery {
                format: Format::Jpeg,
                width: None,
                height: None,
                quality: None
            }
        );
        let query = PictureQuery::parse(&pairs(&[
            ("format", "png"),
            ("width", "320"),
            ("quality", "0"),
        ]))
        .unwrap();
        assert_eq!(query.format, Format::Png);
        assert_eq!(query.width, Some(320));
        assert_eq!(query.quality, Some(0));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        assert!(message(&[("format", "gif")]).contains("`format`"));
        assert!(message(&[("width", "7")]).contains("`width`"));
        assert!(message(&[("height", "4097")]).contains("`height`"));
        assert!(message(&[("height", "-1")]).contains("`height`"));
        assert!(message(&[("quality", "101")]).contains("`quality`"));
        assert!(message(&[("quality", "high")]).contains("`quality`"));
        assert!(message(&[("size", "1")]).contains("`size`"));
    }
}
