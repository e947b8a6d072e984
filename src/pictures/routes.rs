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
use serde::{de, Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{
    cache::{self, Captures},
    capture::{Format, Screenshot, QUALITY_RANGE, SIDE_RANGE},
    names::Picture,
};
use crate::{
    error::ApiError,
    http::{
        ask::route, body, get, post, query::Query, responses::PictureErrors,
        signed_url::MAX_AGE_SECS, target::Target, AppState,
    },
    obs::{CommandError, ObsCommand},
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get("/screenshot/program", program))
        .service(get("/screenshot/preview", preview))
        .service(get("/sources/{source}/screenshot", source))
        .service(post("/pictures/urls", signed_url));
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
    /// A signed URL's expiry, checked by the auth middleware (`http::signed_url`), not here.
    #[serde(default, rename = "exp")]
    #[param(ignore)]
    pub signed_expiry: SignedUrlPart,
    /// A signed URL's signature, checked by the auth middleware, not here.
    #[serde(default, rename = "sig")]
    #[param(ignore)]
    pub signature: SignedUrlPart,
}

/// `exp` or `sig` of a signed picture URL: the auth middleware checks them
/// (`http::signed_url`); to the picture they are nothing, so any two are equal.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct SignedUrlPart;

impl PartialEq for SignedUrlPart {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<'de> Deserialize<'de> for SignedUrlPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de::IgnoredAny::deserialize(deserializer).map(|_| SignedUrlPart)
    }
}

impl PictureQuery {
    /// Checks a picture's query given as pairs (a notice topic's, a signed URL's); the error
    /// names the first bad parameter, as the routes' extractor does.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        crate::http::query::parse(&query)
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
fn scene_of(state: &AppState, instance: &str, preview: bool) -> Result<String, ApiError> {
    let snapshot = state.board.current();
    let status = snapshot
        .instance(instance)
        .ok_or_else(|| ApiError::unknown_instance(instance, &[]))?;
    let not_connected = || {
        ApiError::from_command(
            instance,
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
            instance
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
        ObsCommand::capability(screenshot),
    )
    .await?;
    outcome
        .into_capability()
        .ok_or_else(|| CommandError::Unavailable(instance.to_string()))
}

/// The shared capture of `picture` (program and preview resolved to their scene first): what
/// the routes answer and what notices announce.
pub(crate) async fn picture_of(
    state: &AppState,
    captures: &Captures,
    instance: &str,
    picture: &Picture,
    query: PictureQuery,
) -> Result<cache::Picture, ApiError> {
    let source = match picture {
        Picture::Program => scene_of(state, instance, false)?,
        Picture::Preview => scene_of(state, instance, true)?,
        Picture::Source(source) => source.clone(),
    };
    let screenshot = query.screenshot(source.clone());
    let key = (instance.to_string(), screenshot.clone());
    captures
        .get(key, || capture(state, instance, screenshot))
        .await
        .map_err(|error| refusal(instance, &source, error))
}

/// What every picture route extracts, in this order: the app data, the instance, the query
/// and the request (for If-None-Match).
type PictureRequest = (
    web::Data<AppState>,
    web::Data<Captures>,
    Target,
    Query<PictureQuery>,
    HttpRequest,
);

async fn serve(
    (state, captures, target, Query(query), request): PictureRequest,
    picture: Picture,
) -> Answer {
    let picture = picture_of(&state, &captures, &target.name, &picture, query).await?;
    Ok(answer(&request, &picture, query.format))
}

/// 200 with the image, or 304 when the client has these bytes already.
fn answer(request: &HttpRequest, picture: &cache::Picture, format: Format) -> HttpResponse {
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
pub async fn program(request: PictureRequest) -> Answer {
    serve(request, Picture::Program).await
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
pub async fn preview(request: PictureRequest) -> Answer {
    serve(request, Picture::Preview).await
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
    captures: web::Data<Captures>,
    target: Target,
    path: web::Path<SourcePath>,
    query: Query<PictureQuery>,
    request: HttpRequest,
) -> Answer {
    let source = path.into_inner().source;
    if source.trim().is_empty() {
        return Err(ApiError::InvalidField(
            "`source` must not be empty".to_string(),
        ));
    }
    serve(
        (state, captures, target, query, request),
        Picture::Source(source),
    )
    .await
}

/// Which picture a signed URL opens.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum PictureKind {
    Program,
    Preview,
    Source,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PictureUrlBody {
    pub picture: PictureKind,
    /// The scene or input, when `picture` is `source`.
    pub source: Option<String>,
    /// `jpeg` (default) or `png`.
    pub format: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub quality: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct PictureUrlAnswer {
    pub instance: String,
    /// Path and query, to use as is (relative to the hub's address), e.g. as an `<img src>`.
    pub url: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl PictureUrlBody {
    /// The picture and its query, checked as the picture routes check theirs.
    fn picture(self) -> Result<(Picture, PictureQuery), ApiError> {
        let picture = match (self.picture, self.source) {
            (PictureKind::Program, None) => Picture::Program,
            (PictureKind::Preview, None) => Picture::Preview,
            (PictureKind::Source, Some(source)) if !source.trim().is_empty() => {
                Picture::Source(source)
            }
            (PictureKind::Source, _) => {
                return Err(ApiError::InvalidField(
                    "`source` must name a scene or input when `picture` is `source`".to_string(),
                ))
            }
            (_, Some(_)) => {
                return Err(ApiError::InvalidField(
                    "`source` is only for `picture`: `source`".to_string(),
                ))
            }
        };
        let pairs: Vec<(String, String)> = [
            ("format", self.format),
            ("width", self.width.map(|width| width.to_string())),
            ("height", self.height.map(|height| height.to_string())),
            ("quality", self.quality.map(|quality| quality.to_string())),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_string(), value?)))
        .collect();
        Ok((picture, PictureQuery::parse(&pairs)?))
    }
}

/// A signed URL of `picture` on `instance`, valid until `expires_at` (unix seconds).
pub(crate) fn sign(
    state: &AppState,
    instance: &str,
    picture: &Picture,
    query: PictureQuery,
    expires_at: i64,
) -> String {
    state
        .url_signer
        .sign(&picture.path(instance), &query.query_string(), expires_at)
}

#[utoipa::path(
    post,
    path = "/api/pictures/urls",
    tag = "instance",
    summary = "A short-lived signed URL of a picture, for an <img> that cannot send the API token",
    description = "The URL opens that one picture (same size and format) without a token, for                    5 minutes or until the hub restarts; a bad or expired signature is a 401                    saying why. It opens no other route.",
    request_body(content = PictureUrlBody, example = json!({"picture": "program", "width": 320})),
    responses(
        (status = 200, description = "The signed URL", body = PictureUrlAnswer,
         example = json!({"instance": "default",
                          "url": "/api/instances/default/screenshot/program?width=320&exp=1764500000&sig=3q2-7w",
                          "expires_at": "2025-11-30T10:53:20Z"})),
        (status = 400, description = "A bad field (invalid_field names it)", body = crate::error::ErrorBody,
         example = json!({"error": "invalid_field", "message": "`source` must name a scene or input when `picture` is `source`"})),
        (status = 404, description = "No such instance", body = crate::error::ErrorBody),
        (status = 401, description = "An API token is configured and was not given", body = crate::error::ErrorBody)
    )
)]
pub async fn signed_url(
    state: web::Data<AppState>,
    target: Target,
    request: HttpRequest,
    payload: web::Payload,
) -> Answer {
    let (picture, query) = body::json::<PictureUrlBody>(&request, payload)
        .await?
        .picture()?;
    let expires_at = chrono::Utc::now().timestamp() + MAX_AGE_SECS;
    let url = sign(&state, &target.name, &picture, query, expires_at);
    Ok(HttpResponse::Ok().json(PictureUrlAnswer {
        instance: target.name,
        url,
        expires_at: chrono::DateTime::from_timestamp(expires_at, 0).unwrap_or_default(),
    }))
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
                quality: None,
                signed_expiry: SignedUrlPart,
                signature: SignedUrlPart,
            }
        );
        let query = parse("format=PNG&width=320&quality=0").unwrap();
        assert_eq!(query.format, Format::Png);
        assert_eq!(query.width, Some(320));
        assert_eq!(query.quality, Some(0));
    }

    #[test]
    fn a_signed_urls_expiry_and_signature_are_left_to_the_auth_middleware() {
        let signed = parse("width=320&exp=1800000000&sig=abc").unwrap();
        assert_eq!(signed, parse("width=320").unwrap());
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
