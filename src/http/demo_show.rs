//! `GET/POST /api/demo/show`: pause or resume the scripted show of `obs-hub demo` (the
//! dashboard's button). Only the demo with its show takes the POST: any other hub answers it
//! 404, as for a route it does not have. GET answers everywhere (`available: false` outside the
//! demo), so that the page can ask without a failed request in the browser's console.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body;
use crate::error::ApiError;

/// Whether the scripted show is paused: set by the dashboard's button (`POST /api/demo/show`),
/// read by `demo::run_show` before each step. Shared between the two, so cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct ShowControl {
    paused: Arc<AtomicBool>,
}

impl ShowControl {
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"paused": true}))]
pub struct ShowState {
    /// Whether the scripted show is paused.
    pub paused: bool,
}

fn control(request: &HttpRequest) -> Result<&ShowControl, ApiError> {
    request
        .app_data::<web::Data<ShowControl>>()
        .map(|control| control.get_ref())
        .ok_or_else(|| {
            ApiError::RouteNotFound(format!(
                "{} exists only under `obs-hub demo` with its show",
                request.path()
            ))
        })
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"available": true, "paused": false}))]
pub struct ShowAvailability {
    /// Whether this hub plays the demo's scripted show (only `obs-hub demo` does).
    pub available: bool,
    pub paused: bool,
}

#[utoipa::path(get, path = "/api/demo/show", tag = "dashboard",
    summary = "Whether this hub plays the demo's scripted show, and whether it is paused",
    responses(
        (status = 200, description = "The show's state", body = ShowAvailability),
    ))]
pub async fn show_state(request: HttpRequest) -> HttpResponse {
    let control = request.app_data::<web::Data<ShowControl>>();
    HttpResponse::Ok().json(ShowAvailability {
        available: control.is_some(),
        paused: control.is_some_and(|control| control.paused()),
    })
}

#[utoipa::path(post, path = "/api/demo/show", tag = "dashboard",
    summary = "Pause or resume the demo's scripted show (obs-hub demo only)",
    request_body = ShowState,
    responses(
        (status = 200, description = "The show's state afterwards", body = ShowState),
        (status = 400, description = "`paused` missing or not a boolean", body = crate::error::ErrorBody),
        (status = 404, description = "Not a demo with a show", body = crate::error::ErrorBody),
    ))]
pub async fn set_show(
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Checked before the body is read: a hub without a show has no such route at all.
    let control = control(&request)?.clone();
    let ShowState { paused } = body::json(&request, payload).await?;
    control.set_paused(paused);
    Ok(HttpResponse::Ok().json(ShowState {
        paused: control.paused(),
    }))
}
