//! Which instance a request is about: `{instance}` from the path, or the default one.

use std::{
    future::{ready, Ready},
    sync::Arc,
};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::Deserialize;

use super::AppState;
use crate::{config::DEFAULT_INSTANCE, error::ApiError, status::InstanceStatus};

pub struct Target {
    pub name: String,
    /// True when the path named the instance (`/api/instances/{instance}/...`).
    pub explicit: bool,
}

impl Target {
    /// The instance's cached status (a reference-counted snapshot: never waits on OBS).
    pub fn status(&self, state: &AppState) -> Result<Arc<InstanceStatus>, ApiError> {
        state
            .board
            .current()
            .instance(&self.name)
            .cloned()
            .ok_or_else(|| ApiError::unknown_instance(&self.name, &[]))
    }
}

impl FromRequest for Target {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(resolve(request))
    }
}

fn resolve(request: &HttpRequest) -> Result<Target, ApiError> {
    let Some(state) = request.app_data::<web::Data<AppState>>() else {
        return Err(ApiError::Unavailable("the hub is not set up".to_string()));
    };
    // Every REST call passes here: the names are only collected for an error message.
    let configured = &state.settings.instances;
    let is_configured = |name: &str| configured.iter().any(|i| i.name == name);
    let names = || state.settings.instance_names();
    if let Some(name) = request.match_info().get("instance") {
        // Configured instances, and those known from callbacks only (hub chaining).
        let known = is_configured(name) || state.board.current().instance(name).is_some();
        return if known {
            Ok(Target {
                name: name.to_string(),
                explicit: true,
            })
        } else {
            Err(ApiError::unknown_instance(name, &names()))
        };
    }
    let name = if is_configured(DEFAULT_INSTANCE) {
        DEFAULT_INSTANCE.to_string()
    } else if let [only] = configured.as_slice() {
        only.name.clone()
    } else {
        return default_instance(&names()).map(|name| Target {
            name,
            explicit: false,
        });
    };
    Ok(Target {
        name,
        explicit: false,
    })
}

/// The instance a request that names none is about: the one named `default`, or the only one.
pub fn default_instance(names: &[String]) -> Result<String, ApiError> {
    let default = if names.iter().any(|n| n == DEFAULT_INSTANCE) {
        Some(DEFAULT_INSTANCE.to_string())
    } else if names.len() == 1 {
        names.first().cloned()
    } else {
        None
    };
    default.ok_or_else(|| ApiError::UnknownInstance {
        name: DEFAULT_INSTANCE.to_string(),
        message: format!(
            "several OBS instances are configured ({}) and none is named `default`: \
                 use /api/instances/{{name}}/...",
            names.join(", ")
        ),
    })
}

/// `{input}` of the routes of one OBS input (sources, audio); the instance, if any, is the
/// [`Target`]'s.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct InputPath {
    /// Input name
    pub input: String,
}

impl InputPath {
    /// The input's name, refused (400 naming the field) when blank: OBS would answer a blank
    /// name with a misleading "not found".
    pub fn non_empty(self) -> Result<String, ApiError> {
        if self.input.trim().is_empty() {
            return Err(ApiError::InvalidField("`input` must not be empty".into()));
        }
        Ok(self.input)
    }
}
