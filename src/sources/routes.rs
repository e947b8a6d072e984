//! The sources' REST routes, registered under `/api/` and `/api/instances/{name}/`:
//!
//! - `GET scenes/{scene}/items`; `POST scenes/{scene}/items/{item}/show | hide | toggle | lock |
//!   unlock` (`{item}` is the numeric id or the source name);
//! - `PUT inputs/{input}/text`; `GET | PATCH inputs/{input}/settings`;
//! - `GET inputs/{input}/media`; `POST inputs/{input}/media/play | pause | stop | restart`;
//!   `PUT inputs/{input}/media/cursor`;
//! - `GET sources/{source}/filters`; `POST sources/{source}/filters/{filter}/enable | disable`;
//! - `GET profiles`, `PUT profiles/current`, `GET scene-collections`,
//!   `PUT scene-collections/current`;
//! - `GET hotkeys`, `POST hotkeys/{name}/trigger`.
//!
//! What the hub can tell is wrong (an unknown scene, item, input, filter, profile, collection or
//! hotkey, a text for a non-text input) is answered before any change reaches OBS: the handler
//! reads what it needs first, from the cache or from OBS. Nothing here talks to OBS directly:
//! every request goes through the instance's connection.

use actix_web::{web, HttpRequest, HttpResponse};
use obws::responses::StatusCode as ObsStatus;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    commands::{FilterInfo, InputInfo, Media, NamedList, SourceCommand, SourceOutcome},
    status::{
        apply, find_item, is_known_group, tree, ItemLookup, MediaPlayback, SceneItem,
        SceneItemTree, SourceUpdate, SourcesStatus,
    },
};
use crate::{
    error::ApiError,
    http::{
        ask,
        body::Json,
        get, post, resource,
        target::{InputPath, Target},
        AppState,
    },
    obs::{CommandError, CommandOutcome, ObsCommand},
    status::InstanceStatus,
};

type Answer = Result<HttpResponse, ApiError>;

/// Registers the routes (called once for `/api` and once per `/api/instances/{instance}`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(get("/scenes/{scene}/items", scene_items))
        .service(post("/scenes/{scene}/items/{item}/{action}", item_action))
        .service(resource("/inputs/{input}/text", "PUT").route(web::put().to(set_text)))
        .service(
            resource("/inputs/{input}/settings", "GET, PATCH")
                .route(web::get().to(input_settings))
                .route(web::patch().to(patch_settings)),
        )
        .service(get("/inputs/{input}/media", media_status))
        .service(resource("/inputs/{input}/media/cursor", "PUT").route(web::put().to(media_cursor)))
        .service(post("/inputs/{input}/media/{action}", media_action))
        .service(get("/sources/{source}/filters", filters))
        .service(post(
            "/sources/{source}/filters/{filter}/{action}",
            filter_action,
        ))
        .service(get("/profiles", profiles))
        .service(resource("/profiles/current", "PUT").route(web::put().to(set_profile)))
        .service(get("/scene-collections", collections))
        .service(resource("/scene-collections/current", "PUT").route(web::put().to(set_collection)))
        .service(get("/hotkeys", hotkeys))
        .service(post("/hotkeys/{name}/trigger", trigger_hotkey));
}

/// The errors the sources' routes answer, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // a description for the document; never built
pub enum SourceErrors {
    /// Malformed body, or a field with a wrong value (the message names it)
    #[response(status = 400)]
    InvalidBody(crate::error::ErrorBody),
    /// An API token is configured and was not given
    #[response(status = 401)]
    Unauthorized(crate::error::ErrorBody),
    /// No such instance, scene, item, input, filter, profile, scene collection or hotkey (`unknown_scene`, `unknown_source`: the message names it)
    #[response(status = 404)]
    Unknown(crate::error::ErrorBody),
    /// Not possible on this source (`conflict`: a text for an input that is not a text source, a media action on a non-media input)
    #[response(status = 409)]
    Conflict(crate::error::ErrorBody),
    /// Body over 64 KiB
    #[response(status = 413)]
    TooLarge(crate::error::ErrorBody),
    /// A body sent without `Content-Type: application/json`
    #[response(status = 415)]
    UnsupportedMediaType(crate::error::ErrorBody),
    /// OBS refused for another reason (its words in the message)
    #[response(status = 502)]
    Refused(crate::error::ErrorBody),
    /// OBS is not connected, or switching scene collections (`collection_changing`, with a Retry-After header)
    #[response(status = 503)]
    Unavailable(crate::error::ErrorBody),
    /// OBS did not answer in time
    #[response(status = 504)]
    Timeout(crate::error::ErrorBody),
}

fn path_part(request: &HttpRequest, name: &str) -> String {
    request
        .match_info()
        .get(name)
        .unwrap_or_default()
        .to_string()
}

/// Sends one command through the instance's connection. OBS's "not found" becomes a 404 that
/// says what was looked for.
async fn ask(
    state: &AppState,
    target: &Target,
    command: SourceCommand,
    looked_for: &str,
) -> Result<SourceOutcome, ApiError> {
    let refused = |error| match error {
        CommandError::Rejected {
            code: ObsStatus::ResourceNotFound | ObsStatus::InvalidResourceType,
            message,
        } => ApiError::UnknownSource(format!(
            "OBS instance `{}` has no {looked_for}; OBS said: {message}",
            target.name
        )),
        error => ApiError::from_command(&target.name, error, ""),
    };
    ask::command(
        &state.supervisor,
        &target.name,
        ObsCommand::capability(command),
        CommandOutcome::into_capability,
        refused,
    )
    .await
}

fn unexpected() -> ApiError {
    ApiError::Unavailable("OBS answered with something unexpected; retry".to_string())
}

/// The items of a scene or group: from the cache when OBS's events keep it, read otherwise.
/// Answers the sources' slice with them (the manager learns the read on its own).
async fn read_scene(
    state: &AppState,
    target: &Target,
    scene: &str,
) -> Result<SourcesStatus, ApiError> {
    let status = target.status(state)?;
    let mut sources = status.sources.clone();
    if sources.scene_items.contains_key(scene) {
        return Ok(sources);
    }
    let in_list = status.scenes.iter().any(|known| known.name == scene);
    if !in_list && !status.scenes.is_empty() && !is_known_group(&sources, scene) {
        // Not a scene: maybe a group inside one that was never read. Ask OBS, as a group.
        let read = ask(
            state,
            target,
            SourceCommand::ReadItems {
                scene: scene.to_string(),
                group: true,
            },
            "scene",
        )
        .await
        .map_err(|error| match error {
            ApiError::UnknownSource(_) => unknown_scene(scene, &status),
            other => other,
        })?;
        learn(&mut sources, read)?;
        return Ok(sources);
    }
    let group = !in_list && is_known_group(&sources, scene);
    let read = ask(
        state,
        target,
        SourceCommand::ReadItems {
            scene: scene.to_string(),
            group,
        },
        &format!("scene or group named `{scene}`"),
    )
    .await?;
    learn(&mut sources, read)?;
    Ok(sources)
}

fn learn(sources: &mut SourcesStatus, read: SourceOutcome) -> Result<(), ApiError> {
    let SourceOutcome::Items(containers) = read else {
        return Err(unexpected());
    };
    apply(sources, SourceUpdate::Items(containers));
    Ok(())
}

fn unknown_scene(scene: &str, status: &InstanceStatus) -> ApiError {
    ApiError::UnknownScene(format!(
        "OBS instance `{}` has no scene or group named `{scene}`; scenes: {}",
        status.name,
        status.scene_names().join(", ")
    ))
}

/// `GET .../scenes/{scene}/items`.
#[derive(Serialize, ToSchema)]
pub struct SceneItemsView {
    pub instance: String,
    pub scene: String,
    /// Bottom first, as OBS indexes them; groups and nested scenes hold their items in `children`.
    pub items: Vec<SceneItemTree>,
    /// True while OBS switches scene collections: these are the old collection's items.
    pub collection_changing: bool,
}

#[utoipa::path(
    get,
    path = "/api/scenes/{scene}/items",
    tag = "instance",
    summary = "A scene's items (id, source, kind, shown, locked, index), groups and nested scenes resolved as children",
    params(("scene" = String, Path, description = "Scene or group name")),
    responses(
        (status = 200, description = "Items", body = SceneItemsView,
         example = json!({"instance": "default", "scene": "Live", "collection_changing": false, "items": [
             {"id": 1, "source_name": "Background", "kind": "color_source_v3", "enabled": true, "locked": false, "index": 0, "children": []},
             {"id": 2, "source_name": "Lower third", "kind": "group", "enabled": true, "locked": false, "index": 1, "children": [
                 {"id": 3, "source_name": "Title", "kind": "text_ft2_source_v2", "enabled": true, "locked": false, "index": 0, "children": []}]}]})),
        SourceErrors
    )
)]
pub async fn scene_items(
    state: web::Data<AppState>,
    target: Target,
    request: HttpRequest,
) -> Answer {
    let scene = path_part(&request, "scene");
    let sources = read_scene(&state, &target, &scene).await?;
    Ok(HttpResponse::Ok().json(SceneItemsView {
        items: tree(&sources, &scene).unwrap_or_default(),
        collection_changing: sources.collection_changing,
        instance: target.name,
        scene,
    }))
}

/// The answer to an item command: the item after it.
#[derive(Serialize, ToSchema)]
pub struct ItemAnswer {
    pub ok: bool,
    pub instance: String,
    pub scene: String,
    pub item: SceneItem,
}

#[utoipa::path(
    post,
    path = "/api/scenes/{scene}/items/{item}/{action}",
    tag = "instance",
    summary = "Show, hide, toggle, lock or unlock a scene item",
    params(
        ("scene" = String, Path, description = "Scene or group name"),
        ("item" = String, Path, description = "Numeric scene item id, or the name of the source it shows (404 when several or none match)"),
        ("action" = String, Path, description = "show, hide, toggle, lock or unlock")
    ),
    responses(
        (status = 200, description = "The item after the change", body = ItemAnswer,
         example = json!({"ok": true, "instance": "default", "scene": "Live", "item":
             {"id": 3, "source_name": "Title", "kind": "text_ft2_source_v2", "enabled": false, "locked": false, "index": 0}})),
        SourceErrors
    )
)]
pub async fn item_action(
    state: web::Data<AppState>,
    target: Target,
    request: HttpRequest,
) -> Answer {
    let scene = path_part(&request, "scene");
    let key = path_part(&request, "item");
    let action = path_part(&request, "action");
    if !["show", "hide", "toggle", "lock", "unlock"].contains(&action.as_str()) {
        return Err(ApiError::RouteNotFound(format!(
            "no scene item action `{action}`; actions: show, hide, toggle, lock, unlock"
        )));
    }
    let sources = read_scene(&state, &target, &scene).await?;
    let items = sources
        .scene_items
        .get(&scene)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut item = match find_item(items, &key) {
        Ok(item) => item.clone(),
        Err(ItemLookup::None) => {
            return Err(ApiError::UnknownSource(format!(
                "scene `{scene}` has no item `{key}` (by id or source name); items: {}",
                items
                    .iter()
                    .map(|item| format!("{} ({})", item.source_name, item.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        Err(ItemLookup::Several(ids)) => {
            return Err(ApiError::UnknownSource(format!(
                "scene `{scene}` shows source `{key}` in several items ({}): name one by its id",
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let command = match action.as_str() {
        "lock" | "unlock" => {
            item.locked = action == "lock";
            SourceCommand::SetItemLocked {
                scene: scene.clone(),
                id: item.id,
                locked: item.locked,
            }
        }
        _ => {
            item.enabled = match action.as_str() {
                "show" => true,
                "hide" => false,
                _ => !item.enabled,
            };
            SourceCommand::SetItemEnabled {
                scene: scene.clone(),
                id: item.id,
                enabled: item.enabled,
            }
        }
    };
    ask(
        &state,
        &target,
        command,
        &format!("scene or group `{scene}`"),
    )
    .await?;
    Ok(HttpResponse::Ok().json(ItemAnswer {
        ok: true,
        instance: target.name,
        scene,
        item,
    }))
}

/// Reads the input list and finds `input` in it (404 naming it otherwise).
async fn find_input(state: &AppState, target: &Target, input: &str) -> Result<InputInfo, ApiError> {
    let SourceOutcome::Inputs(inputs) =
        ask(state, target, SourceCommand::ReadInputs, "inputs").await?
    else {
        return Err(unexpected());
    };
    inputs
        .into_iter()
        .find(|known| known.name == input)
        .ok_or_else(|| {
            ApiError::UnknownSource(format!(
                "OBS instance `{}` has no input named `{input}`",
                target.name
            ))
        })
}

/// Body of `PUT .../inputs/{input}/text`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    pub text: String,
}

/// What an input's settings are after a change, or when read.
#[derive(Serialize, ToSchema)]
pub struct InputSettingsView {
    pub instance: String,
    pub input: String,
    pub kind: String,
    /// OBS's settings object for the input (only the values set; defaults are left out by OBS).
    #[schema(value_type = Object)]
    pub settings: Value,
}

#[utoipa::path(
    put,
    path = "/api/inputs/{input}/text",
    tag = "instance",
    summary = "Change a text source's text",
    params(InputPath),
    request_body(content = TextBody, content_type = "application/json", example = json!({"text": "Back in 5 minutes"})),
    responses(
        (status = 200, description = "The input's settings, read back from OBS", body = InputSettingsView,
         example = json!({"instance": "default", "input": "Title", "kind": "text_ft2_source_v2", "settings": {"text": "Back in 5 minutes"}})),
        SourceErrors
    )
)]
pub async fn set_text(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<InputPath>,
    Json(TextBody { text }): Json<TextBody>,
) -> Answer {
    let input = path.into_inner().input;
    let info = find_input(&state, &target, &input).await?;
    // text_ft2_source (Linux, macOS) and text_gdiplus (Windows), whatever their version.
    if !info.kind.starts_with("text_") {
        return Err(ApiError::Conflict(format!(
            "input `{input}` is a `{}`, not a text source: it has no text to change",
            info.kind
        )));
    }
    write_settings(&state, &target, &input, serde_json::json!({ "text": text })).await
}

/// Merges `settings` into the input's, then answers them read back from OBS.
async fn write_settings(state: &AppState, target: &Target, input: &str, settings: Value) -> Answer {
    ask(
        state,
        target,
        SourceCommand::SetInputSettings {
            input: input.to_string(),
            settings,
        },
        &format!("input named `{input}`"),
    )
    .await?;
    read_settings(state, target, input).await
}

async fn read_settings(state: &AppState, target: &Target, input: &str) -> Answer {
    let SourceOutcome::Settings { kind, settings } = ask(
        state,
        target,
        SourceCommand::ReadInputSettings(input.to_string()),
        &format!("input named `{input}`"),
    )
    .await?
    else {
        return Err(unexpected());
    };
    Ok(HttpResponse::Ok().json(InputSettingsView {
        instance: target.name.clone(),
        input: input.to_string(),
        kind,
        settings,
    }))
}

#[utoipa::path(
    get,
    path = "/api/inputs/{input}/settings",
    tag = "instance",
    summary = "An input's settings, as OBS holds them",
    params(InputPath),
    responses(
        (status = 200, description = "Settings", body = InputSettingsView,
         example = json!({"instance": "default", "input": "Background", "kind": "color_source_v3", "settings": {"color": 4278190335_u64}})),
        SourceErrors
    )
)]
pub async fn input_settings(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<InputPath>,
) -> Answer {
    read_settings(&state, &target, &path.input).await
}

#[utoipa::path(
    patch,
    path = "/api/inputs/{input}/settings",
    tag = "instance",
    summary = "Merge a JSON object into an input's settings (settings can name files: admin-only once token scopes exist)",
    params(InputPath),
    request_body(content = Object, content_type = "application/json", example = json!({"color": 4278255360_u64})),
    responses(
        (status = 200, description = "The settings after the merge, read back from OBS", body = InputSettingsView),
        SourceErrors
    )
)]
pub async fn patch_settings(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<InputPath>,
    Json(settings): Json<Value>,
) -> Answer {
    let input = path.into_inner().input;
    if !settings.is_object() {
        return Err(ApiError::InvalidField(
            "the body must be a JSON object of settings to merge into the input's".to_string(),
        ));
    }
    find_input(&state, &target, &input).await?;
    write_settings(&state, &target, &input, settings).await
}

/// A media input's playback.
#[derive(Serialize, ToSchema)]
pub struct MediaView {
    pub instance: String,
    pub input: String,
    #[serde(flatten)]
    pub playback: MediaPlayback,
}

/// Media inputs: the media source and the VLC source.
const MEDIA_KINDS: [&str; 2] = ["ffmpeg_source", "vlc_source"];

async fn find_media_input(state: &AppState, target: &Target, input: &str) -> Result<(), ApiError> {
    let info = find_input(state, target, input).await?;
    if !MEDIA_KINDS.contains(&info.kind.as_str()) {
        return Err(ApiError::Conflict(format!(
            "input `{input}` is a `{}`, not a media source ({})",
            info.kind,
            MEDIA_KINDS.join(", ")
        )));
    }
    Ok(())
}

async fn read_media(state: &AppState, target: &Target, input: &str) -> Answer {
    let SourceOutcome::Media(playback) = ask(
        state,
        target,
        SourceCommand::ReadMedia(input.to_string()),
        &format!("input named `{input}`"),
    )
    .await?
    else {
        return Err(unexpected());
    };
    Ok(HttpResponse::Ok().json(MediaView {
        instance: target.name.clone(),
        input: input.to_string(),
        playback,
    }))
}

#[utoipa::path(
    get,
    path = "/api/inputs/{input}/media",
    tag = "instance",
    summary = "A media input's state, cursor and duration",
    params(InputPath),
    responses(
        (status = 200, description = "Playback", body = MediaView,
         example = json!({"instance": "default", "input": "Intro clip", "state": "playing", "cursor_ms": 1200, "duration_ms": 5000})),
        SourceErrors
    )
)]
pub async fn media_status(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<InputPath>,
) -> Answer {
    let input = path.into_inner().input;
    find_media_input(&state, &target, &input).await?;
    read_media(&state, &target, &input).await
}

#[utoipa::path(
    post,
    path = "/api/inputs/{input}/media/{action}",
    tag = "instance",
    summary = "Play, pause, stop or restart a media input; answers its playback after",
    params(
        InputPath,
        ("action" = String, Path, description = "play, pause, stop or restart")
    ),
    responses(
        (status = 200, description = "Playback after the action", body = MediaView,
         example = json!({"instance": "default", "input": "Intro clip", "state": "playing", "cursor_ms": 0, "duration_ms": 5000})),
        SourceErrors
    )
)]
pub async fn media_action(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<InputPath>,
    request: HttpRequest,
) -> Answer {
    let input = path.into_inner().input;
    let name = path_part(&request, "action");
    let action = Media::from_path(&name).ok_or_else(|| {
        ApiError::RouteNotFound(format!(
            "no media action `{name}`; actions: play, pause, stop, restart"
        ))
    })?;
    find_media_input(&state, &target, &input).await?;
    let command = SourceCommand::MediaAction {
        input: input.clone(),
        action,
    };
    ask(&state, &target, command, &format!("input named `{input}`")).await?;
    read_media(&state, &target, &input).await
}

/// Body of `PUT .../inputs/{input}/media/cursor`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CursorBody {
    /// Position in milliseconds from the start.
    pub ms: u64,
}

#[utoipa::path(
    put,
    path = "/api/inputs/{input}/media/cursor",
    tag = "instance",
    summary = "Move a media input's cursor",
    params(InputPath),
    request_body(content = CursorBody, content_type = "application/json", example = json!({"ms": 1500})),
    responses(
        (status = 200, description = "Playback after the move", body = MediaView),
        SourceErrors
    )
)]
pub async fn media_cursor(
    state: web::Data<AppState>,
    target: Target,
    path: web::Path<InputPath>,
    Json(CursorBody { ms }): Json<CursorBody>,
) -> Answer {
    let input = path.into_inner().input;
    find_media_input(&state, &target, &input).await?;
    let command = SourceCommand::SetMediaCursor {
        input: input.clone(),
        ms,
    };
    ask(&state, &target, command, &format!("input named `{input}`")).await?;
    read_media(&state, &target, &input).await
}

/// A source's filters.
#[derive(Serialize, ToSchema)]
pub struct FiltersView {
    pub instance: String,
    pub source: String,
    pub filters: Vec<FilterInfo>,
}

async fn read_filters(
    state: &AppState,
    target: &Target,
    source: &str,
) -> Result<Vec<FilterInfo>, ApiError> {
    let SourceOutcome::Filters(filters) = ask(
        state,
        target,
        SourceCommand::ReadFilters(source.to_string()),
        &format!("source named `{source}`"),
    )
    .await?
    else {
        return Err(unexpected());
    };
    Ok(filters)
}

#[utoipa::path(
    get,
    path = "/api/sources/{source}/filters",
    tag = "instance",
    summary = "A source's filters (a source is an input or a scene)",
    params(("source" = String, Path, description = "Source name")),
    responses(
        (status = 200, description = "Filters, in order", body = FiltersView,
         example = json!({"instance": "default", "source": "Camera", "filters": [{"name": "Blur", "kind": "color_filter_v2", "enabled": false, "index": 0}]})),
        SourceErrors
    )
)]
pub async fn filters(state: web::Data<AppState>, target: Target, request: HttpRequest) -> Answer {
    let source = path_part(&request, "source");
    let filters = read_filters(&state, &target, &source).await?;
    Ok(HttpResponse::Ok().json(FiltersView {
        instance: target.name,
        source,
        filters,
    }))
}

#[utoipa::path(
    post,
    path = "/api/sources/{source}/filters/{filter}/{action}",
    tag = "instance",
    summary = "Enable or disable a filter",
    params(
        ("source" = String, Path, description = "Source name"),
        ("filter" = String, Path, description = "Filter name"),
        ("action" = String, Path, description = "enable or disable")
    ),
    responses(
        (status = 200, description = "The filter after the change", body = FiltersView,
         example = json!({"instance": "default", "source": "Camera", "filters": [{"name": "Blur", "kind": "color_filter_v2", "enabled": true, "index": 0}]})),
        SourceErrors
    )
)]
pub async fn filter_action(
    state: web::Data<AppState>,
    target: Target,
    request: HttpRequest,
) -> Answer {
    let source = path_part(&request, "source");
    let name = path_part(&request, "filter");
    let enabled = match path_part(&request, "action").as_str() {
        "enable" => true,
        "disable" => false,
        other => {
            return Err(ApiError::RouteNotFound(format!(
                "no filter action `{other}`; actions: enable, disable"
            )))
        }
    };
    let known = read_filters(&state, &target, &source).await?;
    let Some(mut filter) = known.iter().find(|filter| filter.name == name).cloned() else {
        return Err(ApiError::UnknownSource(format!(
            "source `{source}` has no filter named `{name}`; filters: {}",
            known
                .iter()
                .map(|filter| filter.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let command = SourceCommand::SetFilterEnabled {
        source: source.clone(),
        filter: name,
        enabled,
    };
    ask(
        &state,
        &target,
        command,
        &format!("source named `{source}`"),
    )
    .await?;
    filter.enabled = enabled;
    Ok(HttpResponse::Ok().json(FiltersView {
        instance: target.name,
        source,
        filters: vec![filter],
    }))
}

/// Profiles or scene collections.
#[derive(Serialize, ToSchema)]
pub struct NamedListView {
    pub instance: String,
    #[serde(flatten)]
    pub list: NamedList,
}

/// Body of `PUT .../profiles/current` and `PUT .../scene-collections/current`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    pub name: String,
}

async fn read_list(
    state: &AppState,
    target: &Target,
    profiles: bool,
) -> Result<NamedList, ApiError> {
    let (command, what) = if profiles {
        (SourceCommand::ReadProfiles, "profiles")
    } else {
        (SourceCommand::ReadCollections, "scene collections")
    };
    match ask(state, target, command, what).await? {
        SourceOutcome::Profiles(list) | SourceOutcome::Collections(list) => Ok(list),
        _ => Err(unexpected()),
    }
}

/// Switches to `name` after checking OBS has it.
async fn switch_to(state: &AppState, target: &Target, name: String, profiles: bool) -> Answer {
    let what = if profiles {
        "profile"
    } else {
        "scene collection"
    };
    if name.trim().is_empty() {
        return Err(ApiError::InvalidField(format!(
            "`name`: the {what} name is empty"
        )));
    }
    let mut list = read_list(state, target, profiles).await?;
    if !list.names.contains(&name) {
        return Err(ApiError::UnknownSource(format!(
            "OBS instance `{}` has no {what} named `{name}`; {what}s: {}",
            target.name,
            list.names.join(", ")
        )));
    }
    let command = if profiles {
        SourceCommand::SetProfile(name.clone())
    } else {
        SourceCommand::SetCollection(name.clone())
    };
    ask(state, target, command, what).await?;
    list.current = name;
    Ok(list_answer(target, list))
}

fn list_answer(target: &Target, list: NamedList) -> HttpResponse {
    HttpResponse::Ok().json(NamedListView {
        instance: target.name.clone(),
        list,
    })
}

#[utoipa::path(
    get,
    path = "/api/profiles",
    tag = "instance",
    summary = "OBS's profiles and the current one",
    responses(
        (status = 200, description = "Profiles", body = NamedListView,
         example = json!({"instance": "default", "current": "Untitled", "names": ["Untitled", "Show"]})),
        SourceErrors
    )
)]
pub async fn profiles(state: web::Data<AppState>, target: Target) -> Answer {
    let list = read_list(&state, &target, true).await?;
    Ok(list_answer(&target, list))
}

#[utoipa::path(
    put,
    path = "/api/profiles/current",
    tag = "instance",
    summary = "Switch OBS to another profile (not while an output runs: OBS refuses then)",
    request_body(content = NameBody, content_type = "application/json", example = json!({"name": "Show"})),
    responses(
        (status = 200, description = "Switched", body = NamedListView,
         example = json!({"instance": "default", "current": "Show", "names": ["Untitled", "Show"]})),
        SourceErrors
    )
)]
pub async fn set_profile(
    state: web::Data<AppState>,
    target: Target,
    Json(NameBody { name }): Json<NameBody>,
) -> Answer {
    switch_to(&state, &target, name, true).await
}

#[utoipa::path(
    get,
    path = "/api/scene-collections",
    tag = "instance",
    summary = "OBS's scene collections and the current one",
    responses(
        (status = 200, description = "Scene collections", body = NamedListView,
         example = json!({"instance": "default", "current": "Untitled", "names": ["Untitled", "Show"]})),
        SourceErrors
    )
)]
pub async fn collections(state: web::Data<AppState>, target: Target) -> Answer {
    let list = read_list(&state, &target, false).await?;
    Ok(list_answer(&target, list))
}

#[utoipa::path(
    put,
    path = "/api/scene-collections/current",
    tag = "instance",
    summary = "Switch OBS to another scene collection; until the switch ends, commands get a 503 collection_changing and status reads answer from the cache",
    request_body(content = NameBody, content_type = "application/json", example = json!({"name": "Show"})),
    responses(
        (status = 200, description = "Switch started", body = NamedListView,
         example = json!({"instance": "default", "current": "Show", "names": ["Untitled", "Show"]})),
        SourceErrors
    )
)]
pub async fn set_collection(
    state: web::Data<AppState>,
    target: Target,
    Json(NameBody { name }): Json<NameBody>,
) -> Answer {
    switch_to(&state, &target, name, false).await
}

/// OBS's hotkeys.
#[derive(Serialize, ToSchema)]
pub struct HotkeysView {
    pub instance: String,
    /// Hotkey names, as OBS names them (`OBSBasic.StartStreaming`, `libobs.show_scene_item.1`...).
    pub hotkeys: Vec<String>,
}

async fn read_hotkeys(state: &AppState, target: &Target) -> Result<Vec<String>, ApiError> {
    match ask(state, target, SourceCommand::ReadHotkeys, "hotkeys").await? {
        SourceOutcome::Hotkeys(names) => Ok(names),
        _ => Err(unexpected()),
    }
}

#[utoipa::path(
    get,
    path = "/api/hotkeys",
    tag = "instance",
    summary = "The names of OBS's hotkeys",
    responses(
        (status = 200, description = "Hotkeys", body = HotkeysView,
         example = json!({"instance": "default", "hotkeys": ["OBSBasic.StartStreaming", "OBSBasic.StopStreaming"]})),
        SourceErrors
    )
)]
pub async fn hotkeys(state: web::Data<AppState>, target: Target) -> Answer {
    let hotkeys = read_hotkeys(&state, &target).await?;
    Ok(HttpResponse::Ok().json(HotkeysView {
        instance: target.name,
        hotkeys,
    }))
}

/// The answer to a hotkey trigger.
#[derive(Serialize, ToSchema)]
pub struct HotkeyAnswer {
    pub ok: bool,
    pub instance: String,
    pub hotkey: String,
}

#[utoipa::path(
    post,
    path = "/api/hotkeys/{name}/trigger",
    tag = "instance",
    summary = "Press a hotkey by name (as if its keys were pressed in OBS)",
    params(("name" = String, Path, description = "Hotkey name, from GET .../hotkeys")),
    responses(
        (status = 200, description = "Triggered", body = HotkeyAnswer,
         example = json!({"ok": true, "instance": "default", "hotkey": "OBSBasic.Screenshot"})),
        SourceErrors
    )
)]
pub async fn trigger_hotkey(
    state: web::Data<AppState>,
    target: Target,
    request: HttpRequest,
) -> Answer {
    let name = path_part(&request, "name");
    if !read_hotkeys(&state, &target).await?.contains(&name) {
        return Err(ApiError::UnknownSource(format!(
            "OBS instance `{}` has no hotkey named `{name}`; GET .../hotkeys lists them",
            target.name
        )));
    }
    ask(
        &state,
        &target,
        SourceCommand::TriggerHotkey(name.clone()),
        "hotkey",
    )
    .await?;
    Ok(HttpResponse::Ok().json(HotkeyAnswer {
        ok: true,
        instance: target.name,
        hotkey: name,
    }))
}
