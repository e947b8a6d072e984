//! The fleet's REST routes, about the hub as a whole (mounted by `app` in `/api`, before the
//! per-instance routes):
//! - `/api/instance-groups/` (GET list, POST create) and `/api/instance-groups/{group}` (GET,
//!   PUT, DELETE): groups in the database; the config file's are read-only here;
//! - `/api/instance-groups/{group}/<route>`: any per-instance route, on every member at once
//!   ([`super::fanout`]);
//! - `POST /api/instances/`, `PATCH` and `DELETE /api/instances/{name}`: instances added,
//!   changed and removed while the hub runs. Each is a message to the status manager (the
//!   board, the change stream) and to the connection supervisor (the link), in the order that
//!   loses no report: on the board before its link starts, off it once its link has stopped.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    fanout::{self, GroupAnswer},
    groups::{check_group, GroupOrigin, InstanceGroup, InstanceGroups},
    instances::{self, InstanceChanges, ManagedInstanceView, ManagedInstances, NewInstance},
    store,
};
use crate::{
    config::InstanceConfig,
    db::{pool::Pool, queries},
    error::ApiError,
    http::{
        ask::ask,
        body::{self, Json},
        get_or_head, resource, AppState,
    },
    obs::{AddConnection, RemoveConnection, ReplaceConnection},
    status::{AddInstance, MoveInstance, RemoveInstance},
};

type Answer = Result<HttpResponse, ApiError>;

/// Whether an instance's link is new, or restarted at a new address.
#[derive(Clone, Copy)]
enum Link {
    New,
    Moved,
}

/// Puts the instance on the status board (first, so that its link's first report is not
/// dropped as unknown), then starts its link, or restarts it at the new address.
async fn link(state: &AppState, instance: &InstanceConfig, how: Link) -> Result<(), ApiError> {
    let (name, host, port) = (instance.name.clone(), instance.host.clone(), instance.port);
    let done = match how {
        Link::New => {
            ask(&state.manager, AddInstance { name, host, port }).await?;
            ask(&state.supervisor, AddConnection(instance.clone())).await?;
            "added"
        }
        Link::Moved => {
            ask(&state.manager, MoveInstance { name, host, port }).await?;
            ask(&state.supervisor, ReplaceConnection(instance.clone())).await?;
            "changed"
        }
    };
    log::info!(
        "instance `{}` {done} through the API ({}:{})",
        instance.name,
        instance.host,
        instance.port
    );
    Ok(())
}

/// Mounts the fleet's routes (inside `/api`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            resource("/instance-groups", "GET, HEAD, POST")
                .route(get_or_head().to(list_groups))
                .route(web::post().to(create_group)),
        )
        .service(
            resource("/instance-groups/{group}", "GET, HEAD, PUT, DELETE")
                .route(get_or_head().to(show_group))
                .route(web::put().to(put_group))
                .route(web::delete().to(delete_group)),
        )
        .service(web::resource("/instance-groups/{group}/{route:.*}").to(group_command))
        .service(
            resource("/instances", "GET, HEAD, POST")
                .route(get_or_head().to(crate::http::handlers::list_instances))
                .route(web::post().to(add_instance)),
        )
        .service(
            resource("/instances/{instance}", "PATCH, DELETE")
                .route(web::patch().to(change_instance))
                .route(web::delete().to(remove_instance)),
        );
}

fn database_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::PersistenceUnavailable(format!(
        "the fleet's store cannot be used right now ({error})"
    ))
}

fn pool(state: &AppState) -> Result<Pool, ApiError> {
    state.persistence.pool().cloned().ok_or_else(|| {
        ApiError::PersistenceUnavailable(
            "instances and groups made through the API are kept in the database, and this hub \
             has none (OBS_HUB_DATABASE=none)"
                .to_string(),
        )
    })
}

/// Runs `write` on a pooled connection, on a blocking thread.
async fn store<T: Send + 'static>(
    state: &AppState,
    write: impl FnOnce(&mut crate::db::backend::Conn) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let pool = pool(state)?;
    web::block(move || {
        let mut conn = pool.get().map_err(database_error)?;
        write(&mut conn)
    })
    .await
    .map_err(database_error)?
}

/// An instance a group may name: one with a link of its own (configured, or made here).
fn is_linked(state: &AppState, managed: &ManagedInstances, name: &str) -> bool {
    state.settings.instance(name).is_some() || managed.contains(name)
}

/// `POST /api/instance-groups/`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "booths", "instances": ["booth-a", "booth-b", "booth-c"]}))]
pub struct NewGroup {
    /// 1-64 letters, digits, '-' or '_' (it appears in URLs).
    name: String,
    /// Instance names, each once.
    instances: Vec<String>,
}

/// `PUT /api/instance-groups/{group}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"instances": ["booth-a", "booth-b"]}))]
pub struct GroupMembers {
    instances: Vec<String>,
}

#[utoipa::path(get, path = "/api/instance-groups", tag = "fleet",
    summary = "Every instance group (from the config file and from the API)",
    responses(
        (status = 200, description = "The groups, by name", body = Vec<InstanceGroup>),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
    ))]
pub async fn list_groups(groups: web::Data<InstanceGroups>) -> HttpResponse {
    HttpResponse::Ok().json(groups.list())
}

#[utoipa::path(post, path = "/api/instance-groups", tag = "fleet",
    summary = "Make an instance group",
    request_body = NewGroup,
    responses(
        (status = 201, description = "The group", body = InstanceGroup),
        (status = 400, description = "A field is invalid (`invalid_field`; the message names it, e.g. `instances[1]`)", body = crate::error::ErrorBody),
        (status = 409, description = "A group of that name exists (`name_taken`)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database (`persistence_unavailable`)", body = crate::error::ErrorBody),
    ))]
pub async fn create_group(
    state: web::Data<AppState>,
    groups: web::Data<InstanceGroups>,
    managed: web::Data<ManagedInstances>,
    Json(body): Json<NewGroup>,
) -> Answer {
    check_group(&body.name, &body.instances, |name| {
        is_linked(&state, &managed, name)
    })?;
    if groups.exists(&body.name) {
        return Err(name_taken_group(&body.name));
    }
    let row = store::group_row(&body.name, &body.instances, Utc::now().naive_utc());
    let name = body.name.clone();
    store(&state, move |conn| {
        match queries::managed::groups(conn)
            .map_err(database_error)?
            .iter()
            .any(|stored| stored.name == row.name)
        {
            true => Err(name_taken_group(&row.name)),
            false => queries::managed::put_group(conn, &row).map_err(database_error),
        }
    })
    .await?;
    let group = InstanceGroup {
        name,
        instances: body.instances,
        origin: GroupOrigin::Api,
    };
    groups.put(group.clone());
    Ok(HttpResponse::Created().json(group))
}

fn name_taken_group(name: &str) -> ApiError {
    ApiError::NameTaken(format!(
        "an instance group named `{name}` exists; change it with PUT /api/instance-groups/{name}"
    ))
}

fn unknown_group(name: &str, groups: &InstanceGroups) -> ApiError {
    let known: Vec<String> = groups.list().into_iter().map(|group| group.name).collect();
    ApiError::UnknownInstanceGroup(if known.is_empty() {
        format!("no instance group named `{name}` (none exists)")
    } else {
        format!(
            "no instance group named `{name}`; groups: {}",
            known.join(", ")
        )
    })
}

fn declared_group(name: &str) -> ApiError {
    ApiError::DeclaredInConfig(format!(
        "the instance group `{name}` is declared in the config file ([[instance_groups]]): \
         change it there"
    ))
}

#[utoipa::path(get, path = "/api/instance-groups/{group}", tag = "fleet",
    summary = "One instance group",
    params(("group" = String, Path, description = "The group's name")),
    responses(
        (status = 200, description = "The group", body = InstanceGroup),
        (status = 404, description = "No such group (`unknown_instance_group`)", body = crate::error::ErrorBody),
    ))]
pub async fn show_group(groups: web::Data<InstanceGroups>, path: web::Path<String>) -> Answer {
    let name = path.into_inner();
    let group = groups
        .get(&name)
        .ok_or_else(|| unknown_group(&name, &groups))?;
    Ok(HttpResponse::Ok().json(group))
}

#[utoipa::path(put, path = "/api/instance-groups/{group}", tag = "fleet",
    summary = "Set an instance group's members (made if it does not exist)",
    params(("group" = String, Path, description = "The group's name")),
    request_body = GroupMembers,
    responses(
        (status = 200, description = "The group as changed", body = InstanceGroup),
        (status = 201, description = "The group, made", body = InstanceGroup),
        (status = 400, description = "A field is invalid (`invalid_field`)", body = crate::error::ErrorBody),
        (status = 409, description = "The group is declared in the config file (`declared_in_config`)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database (`persistence_unavailable`)", body = crate::error::ErrorBody),
    ))]
pub async fn put_group(
    state: web::Data<AppState>,
    groups: web::Data<InstanceGroups>,
    managed: web::Data<ManagedInstances>,
    path: web::Path<String>,
    Json(body): Json<GroupMembers>,
) -> Answer {
    let name = path.into_inner();
    let existing = groups.get(&name);
    if existing
        .as_ref()
        .is_some_and(|group| group.origin == GroupOrigin::Config)
    {
        return Err(declared_group(&name));
    }
    check_group(&name, &body.instances, |member| {
        is_linked(&state, &managed, member)
    })?;
    let row = store::group_row(&name, &body.instances, Utc::now().naive_utc());
    store(&state, move |conn| {
        queries::managed::put_group(conn, &row).map_err(database_error)
    })
    .await?;
    let group = InstanceGroup {
        name,
        instances: body.instances,
        origin: GroupOrigin::Api,
    };
    groups.put(group.clone());
    Ok(match existing {
        Some(_) => HttpResponse::Ok().json(group),
        None => HttpResponse::Created().json(group),
    })
}

#[utoipa::path(delete, path = "/api/instance-groups/{group}", tag = "fleet",
    summary = "Delete an instance group (its instances stay)",
    params(("group" = String, Path, description = "The group's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such group (`unknown_instance_group`)", body = crate::error::ErrorBody),
        (status = 409, description = "The group is declared in the config file (`declared_in_config`)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database (`persistence_unavailable`)", body = crate::error::ErrorBody),
    ))]
pub async fn delete_group(
    state: web::Data<AppState>,
    groups: web::Data<InstanceGroups>,
    path: web::Path<String>,
) -> Answer {
    let name = path.into_inner();
    let group = groups
        .get(&name)
        .ok_or_else(|| unknown_group(&name, &groups))?;
    if group.origin == GroupOrigin::Config {
        return Err(declared_group(&name));
    }
    let stored_name = name.clone();
    store(&state, move |conn| {
        queries::managed::delete_group(conn, &stored_name).map_err(database_error)
    })
    .await?;
    groups.remove(&name);
    Ok(HttpResponse::NoContent().finish())
}

/// `/api/instance-groups/{group}/<route>`: the per-instance route on every member at once.
pub async fn group_command(
    request: HttpRequest,
    groups: web::Data<InstanceGroups>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Answer {
    let (name, _) = path.into_inner();
    let members = groups
        .members(&name)
        .ok_or_else(|| unknown_group(&name, &groups))?;
    // The route as sent, still percent-encoded (the matched one is decoded: a scene name with
    // a space would not make a path again).
    let route = request
        .path()
        .strip_prefix(&format!("/api/instance-groups/{name}/"))
        .filter(|route| !route.is_empty())
        .ok_or_else(|| {
            ApiError::RouteNotFound(format!(
                "no route {} {}; the README lists the routes",
                request.method(),
                request.path()
            ))
        })?
        .to_string();
    let body = body::read(payload).await?;
    let answer: GroupAnswer = fanout::run(&request, &name, &members, &route, body).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// Documentation only (`group_command` serves every route): a scene switch on a group.
#[utoipa::path(post, path = "/api/instance-groups/{group}/switch-scene", tag = "fleet",
    summary = "Any per-instance route, on every member of a group at once (here: switch-scene)",
    description = "Every route that exists under /api/instances/{instance}/ exists under \
/api/instance-groups/{group}/, with the same method and body: it runs on every member at once \
(each member's request passes the same token checks, rate limit, audit and output lanes as if \
sent alone) and answers 200 with one result per member, in the group's order: the status and \
body the member's own route answered (a failure of one member is its result, not the group's), \
how many succeeded and failed, and `spread_ms`, the time between the first and the last \
member's answer.",
    params(("group" = String, Path, description = "The group's name")),
    request_body(content = crate::scenes::routes::SwitchSceneBody, content_type = "application/json"),
    responses(
        (status = 200, description = "One result per member", body = GroupAnswer),
        (status = 404, description = "No such group (`unknown_instance_group`)", body = crate::error::ErrorBody),
    ))]
#[allow(dead_code)]
pub(crate) fn group_switch_scene() {}

/// Documentation only (`group_command` serves every route): a read on a group.
#[utoipa::path(get, path = "/api/instance-groups/{group}/stream-status", tag = "fleet",
    summary = "Any per-instance route, on every member of a group at once (here: stream-status)",
    params(("group" = String, Path, description = "The group's name")),
    responses(
        (status = 200, description = "One result per member", body = GroupAnswer),
        (status = 404, description = "No such group (`unknown_instance_group`)", body = crate::error::ErrorBody),
    ))]
#[allow(dead_code)]
pub(crate) fn group_stream_status() {}

fn declared_instance(name: &str) -> ApiError {
    ApiError::DeclaredInConfig(format!(
        "the instance `{name}` is declared in the config file ([[obs]] or OBS_WEBSOCKET_*): \
         change it there"
    ))
}

/// The managed instance `name`, or why not: declared in the file (409), unknown (404).
fn managed_instance(
    state: &AppState,
    managed: &ManagedInstances,
    name: &str,
) -> Result<crate::config::InstanceConfig, ApiError> {
    if state.settings.instance(name).is_some() {
        return Err(declared_instance(name));
    }
    managed
        .get(name)
        .ok_or_else(|| ApiError::unknown_instance(name, &[]))
}

#[utoipa::path(post, path = "/api/instances", tag = "fleet",
    summary = "Add an OBS instance while the hub runs (kept in the database)",
    request_body = NewInstance,
    responses(
        (status = 201, description = "The instance (never its password); its link is starting", body = ManagedInstanceView),
        (status = 400, description = "A field is invalid (`invalid_field`, the message names it), or the host is where no OBS can be (`destination_not_allowed`)", body = crate::error::ErrorBody),
        (status = 409, description = "An instance of that name exists (`name_taken`)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database (`persistence_unavailable`)", body = crate::error::ErrorBody),
    ))]
pub async fn add_instance(
    state: web::Data<AppState>,
    managed: web::Data<ManagedInstances>,
    Json(body): Json<NewInstance>,
) -> Answer {
    let instance = instances::new_instance(body)?;
    instances::check_destination(&instance, managed.hub_address())?;
    let name = instance.name.clone();
    let taken = || {
        ApiError::NameTaken(format!(
            "an instance named `{name}` exists; change it with PATCH /api/instances/{name}"
        ))
    };
    if state.settings.instance(&name).is_some() || managed.contains(&name) {
        return Err(taken());
    }
    let row = store::instance_row(&instance);
    store(&state, move |conn| {
        queries::managed::insert_instance(conn, &row).map_err(|error| match error {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => ApiError::NameTaken(format!("an instance named `{}` exists", row.name)),
            other => database_error(other),
        })?;
        // The history's own row, with the address.
        let port = u16::try_from(row.port).unwrap_or_default();
        queries::instances::upsert(conn, &row.name, &row.host, port, row.created_at)
            .map_err(database_error)?;
        Ok(())
    })
    .await?;
    if !managed.insert_new(instance.clone()) {
        return Err(taken());
    }
    link(&state, &instance, Link::New).await?;
    Ok(HttpResponse::Created().json(ManagedInstanceView::new(&instance)))
}

#[utoipa::path(patch, path = "/api/instances/{instance}", tag = "fleet",
    summary = "Change an instance added through the API (it reconnects)",
    params(("instance" = String, Path, description = "The instance's name")),
    request_body = InstanceChanges,
    responses(
        (status = 200, description = "The instance as changed (never its password)", body = ManagedInstanceView),
        (status = 400, description = "A field is invalid (`invalid_field`), or the host is where no OBS can be (`destination_not_allowed`)", body = crate::error::ErrorBody),
        (status = 404, description = "No such instance (`unknown_instance`)", body = crate::error::ErrorBody),
        (status = 409, description = "The instance is declared in the config file (`declared_in_config`)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database (`persistence_unavailable`)", body = crate::error::ErrorBody),
    ))]
pub async fn change_instance(
    state: web::Data<AppState>,
    managed: web::Data<ManagedInstances>,
    path: web::Path<String>,
    Json(changes): Json<InstanceChanges>,
) -> Answer {
    let name = path.into_inner();
    let current = managed_instance(&state, &managed, &name)?;
    let instance = instances::changed_instance(current, changes)?;
    instances::check_destination(&instance, managed.hub_address())?;
    let row = store::instance_row(&instance);
    store(&state, move |conn| {
        queries::managed::update_instance(conn, &row).map_err(database_error)?;
        let port = u16::try_from(row.port).unwrap_or_default();
        queries::instances::upsert(conn, &row.name, &row.host, port, row.updated_at)
            .map_err(database_error)?;
        Ok(())
    })
    .await?;
    managed.replace(instance.clone());
    link(&state, &instance, Link::Moved).await?;
    Ok(HttpResponse::Ok().json(ManagedInstanceView::new(&instance)))
}

#[utoipa::path(delete, path = "/api/instances/{instance}", tag = "fleet",
    summary = "Remove an instance added through the API (its history stays)",
    params(("instance" = String, Path, description = "The instance's name")),
    responses(
        (status = 204, description = "Removed: its link has stopped"),
        (status = 404, description = "No such instance (`unknown_instance`)", body = crate::error::ErrorBody),
        (status = 409, description = "The instance is declared in the config file (`declared_in_config`)", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database (`persistence_unavailable`)", body = crate::error::ErrorBody),
    ))]
pub async fn remove_instance(
    state: web::Data<AppState>,
    managed: web::Data<ManagedInstances>,
    path: web::Path<String>,
) -> Answer {
    let name = path.into_inner();
    managed_instance(&state, &managed, &name)?;
    let stored_name = name.clone();
    store(&state, move |conn| {
        queries::managed::delete_instance(conn, &stored_name).map_err(database_error)
    })
    .await?;
    managed.remove(&name);
    // Off the board only once the link has stopped (and said so).
    ask(&state.supervisor, RemoveConnection(name.clone())).await?;
    ask(&state.manager, RemoveInstance { name: name.clone() }).await?;
    log::info!("instance `{name}` removed through the API; its history stays");
    Ok(HttpResponse::NoContent().finish())
}
