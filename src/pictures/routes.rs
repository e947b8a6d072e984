//! The pictures' REST routes, registered under `/api/` and `/api/instances/{name}/`:
//!
//! - `GET screenshot/program`: what is on air;
//! - `GET screenshot/preview`: what is on preview (409 `studio_mode_off` outside studio mode);
//! - `GET sources/{source}/screenshot`: one scene or input.
//!
//! Query: `format` (`jpeg`, the default, or `png`), `width` and `height` (8..=4096), `quality`
//! (0..=100); anything else is a 400 naming it (see `http::query`). Answers carry an ETag (a
//! request whose `If-None-Match` matches gets 304) and `Cache-Control: private, no-cache`, so a
//! browser revalidates instead of showing a stale picture. Program and preview are resolved to
//! their scene from the cache first: a scene switch starts a new picture at once, and a viewer of
//! the program and one of that scene by name share one capture.

use std::ops::RangeInclusive;

use actix_web::{
    http::header::{self, HeaderValue},
    web, HttpRequest, HttpResponse,
};
use obws::responses::StatusCode as ObsStatus;
use serde::{de, Deserialize, Deserializer};

use super::{
    cache::Picture,
    capture::{Format, Screenshot, QUALITY_RANGE, SIDE_RANGE},
};
use crate::{
    error::ApiError,
    http::{ask::route, get, query::Query, responses::PictureErrors, target::Target, AppState},
    obs::{CommandError, CommandOutcome, ObsCommand},
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get("/screenshot/program", program))
        .service(get("/screenshot/preview", preview))
        .service(get("/sources/{source}/screenshot", source));
}

/// A picture's query string, the same on the three routes (read by [`Query`], which names a
/// bad or unknown parameter in its 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PictureQuery {
    /// `jpeg` (default) or `png`
    #[serde(default = "jpeg", deserialize_with = "format")]
    #[param(value_type = Option<String>)]
    pub format: Format,
    /// 8 to 4096; OBS keeps the aspect ratio
    #[serde(default, deserialize_with = "side")]
    pub width: Option<u32>,
    /// 8 to 4096; OBS keeps the aspect ratio
    #[serde(default, deserialize_with = "side")]
    pub height: Option<u32>,
    /// 0 to 100; OBS's default when absent
    #[serde(default, deserialize_with = "quality")]
    pub quality: Option<i32>,
}

impl PictureQuery {
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

fn jpeg() -> Format {
    Format::Jpeg
}

fn format<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Format, D::Error> {
    let value = String::deserialize(deserializer)?;
    match value.to_ascii_lowercase().as_str() {
        "jpeg" | "jpg" => Ok(Format::Jpeg),
        "png" => Ok(Format::Png),
        _ => Err(de::Error::custom(format!(
            "must be `jpeg` or `png` (it was `{value}`)"
        ))),
    }
}

/// A whole number in `range`, or an error that reads on from the parameter's name.
fn in_range<'de, D, T>(deserializer: D, range: &RangeInclusive<T>) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let value = String::deserialize(deserializer)?;
    match value.parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(Some(number)),
        _ => Err(de::Error::custom(format!(
            "must be a whole number from {} to {} (it was `{value}`)",
            range.start(),
            range.end()
        ))),
    }
}

fn side<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    in_range(deserializer, &SIDE_RANGE)
}

fn quality<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i32>, D::Error> {
    in_range(deserializer, &QUALITY_RANGE)
}

/// The scene on program or preview, from the cache.
fn scene_of(state: &AppState, target: &Target, preview: bool) -> Result<String, ApiError> {
    let status = target.status(state)?;
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
    let outcome = route(
        &state.supervisor,
        instance,
        ObsCommand::Screenshot(screenshot),
    )
    .await?;
    match outcome {
        CommandOutcome::Picture(bytes) => Ok(bytes),
        _ => Err(CommandError::Unavailable(instance.to_string())),
    }
}

async fn serve(
    state: &AppState,
    target: &Target,
    request: &HttpRequest,
    screenshot: Screenshot,
) -> Answer {
    let format = screenshot.format;
    let source = screenshot.source.clone();
    let key = (target.name.clone(), screenshot.clone());
    let picture = state
        .pictures
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
    params(PictureQuery),
    responses(
        (status = 200, description = "The image; ETag and Cache-Control: private, no-cache",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "If-None-Match matched the current picture's ETag"),
        PictureErrors
    )
)]
pub async fn program(
    state: web::Data<AppState>,
    target: Target,
    Query(query): Query<PictureQuery>,
    request: HttpRequest,
) -> Answer {
    let scene = scene_of(&state, &target, false)?;
    serve(&state, &target, &request, query.screenshot(scene)).await
}

#[utoipa::path(
    get,
    path = "/api/screenshot/preview",
    tag = "instance",
    summary = "A picture of what is on preview (studio mode), shared like the program picture",
    params(PictureQuery),
    responses(
        (status = 200, description = "The image; ETag and Cache-Control: private, no-cache",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "If-None-Match matched the current picture's ETag"),
        (status = 409, description = "OBS is not in studio mode (studio_mode_off)", body = crate::error::ErrorBody),
        PictureErrors
    )
)]
pub async fn preview(
    state: web::Data<AppState>,
    target: Target,
    Query(query): Query<PictureQuery>,
    request: HttpRequest,
) -> Answer {
    let scene = scene_of(&state, &target, true)?;
    serve(&state, &target, &request, query.screenshot(scene)).await
}

#[utoipa::path(
    get,
    path = "/api/sources/{source}/screenshot",
    tag = "instance",
    summary = "A picture of one scene or input, shared like the program picture",
    params(("source" = String, Path, description = "A scene or an input, by name"), PictureQuery),
    responses(
        (status = 200, description = "The image; ETag and Cache-Control: private, no-cache",
         content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))),
        (status = 304, description = "If-None-Match matched the current picture's ETag"),
        PictureErrors,
        (status = 404, description = "No such instance, or no such scene or input (unknown_source)", body = crate::error::ErrorBody)
    )
)]
pub async fn source(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<SourcePath>,
    Query(query): Query<PictureQuery>,
    request: HttpRequest,
) -> Answer {
    let source = path.into_inner().source;
    if source.trim().is_empty() {
        return Err(ApiError::InvalidField(
            "`source` must not be empty".to_string(),
        ));
    }
    serve(&state, &target, &request, query.screenshot(source)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<PictureQuery, ApiError> {
        crate::http::query::parse(query)
    }

    fn message(query: &str) -> String {
        match parse(query) {
            Err(ApiError::InvalidField(message)) => message,
            other => panic!("expected invalid_field for {query:?}, got {other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_jpeg_at_obs_size_and_quality() {
        assert_eq!(
            parse("").unwrap(),
            PictureQuery {
                format: Format::Jpeg,
                width: None,
                height: None,
                quality: None
            }
        );
        let query = parse("format=PNG&width=320&quality=0").unwrap();
        assert_eq!(query.format, Format::Png);
        assert_eq!(query.width, Some(320));
        assert_eq!(query.quality, Some(0));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (query, named) in [
            (
                "format=gif",
                "`format` must be `jpeg` or `png` (it was `gif`)",
            ),
            (
                "width=7",
                "`width` must be a whole number from 8 to 4096 (it was `7`)",
            ),
            ("height=4097", "`height`"),
            ("height=-1", "`height`"),
            (
                "quality=101",
                "`quality` must be a whole number from 0 to 100",
            ),
            ("quality=high", "`quality`"),
            ("size=1", "`size`"),
            ("width=8&width=9", "`width`"),
        ] {
            let message = message(query);
            assert!(message.contains(named), "{query}: {message}");
        }
    }
}
