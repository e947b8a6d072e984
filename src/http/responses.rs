//! The error answers the OpenAPI document lists, as shared sets: a route names its set in its
//! `responses(..)` instead of repeating the same lines, and adds (or overrides, by listing it
//! after the set) only what is its own. They describe answers [`ApiError`] gives; nothing
//! builds them.
//!
//! The refusals that come before any handler (408, 413 and 415 on a body, 403 and 421 of the
//! site guard) are added to every route by the modifiers of `http::openapi`, with
//! [`error_answer`].
//!
//! [`ApiError`]: crate::error::ApiError

use std::collections::BTreeMap;

use utoipa::{
    openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder},
    IntoResponses,
};

/// A documented error answer: `description`, with the one error body.
pub fn error_answer(description: &str) -> RefOr<Response> {
    error_answer_with(description, None)
}

fn error_answer_with(description: &str, example: Option<serde_json::Value>) -> RefOr<Response> {
    let mut content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody")));
    if example.is_some() {
        content = content.example(example);
    }
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", content.build())
            .build(),
    )
}

type Answer = (&'static str, &'static str);

const UNAUTHORIZED: Answer = ("401", "An API token is configured and was not given");
const UNKNOWN_INSTANCE: Answer = ("404", "No such instance");
const NOT_CONNECTED: Answer = ("503", "OBS is not connected");
const TIMEOUT: Answer = ("504", "OBS did not answer in time");

fn answers(list: &[Answer]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| (status.to_string(), error_answer(description)))
        .collect()
}

/// Declares a set: a unit type whose responses are `list`.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident = [$($answer:expr),* $(,)?]) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                answers(&[$($answer),*])
            }
        }
    };
}

error_set!(
    /// A route of one instance that answers from the hub alone (the cache, the manager).
    InstanceErrors = [UNAUTHORIZED, UNKNOWN_INSTANCE]
);

error_set!(
    /// A command sent to an instance's OBS.
    CommandErrors = [
        UNAUTHORIZED,
        UNKNOWN_INSTANCE,
        ("502", "OBS refused for another reason"),
        NOT_CONNECTED,
        TIMEOUT,
    ]
);

error_set!(
    /// A route of `/api/webhooks`.
    WebhookAdminErrors = [
        UNAUTHORIZED,
        (
            "503",
            "Webhooks are off (no database) or the dispatcher is unavailable"
        ),
    ]
);

error_set!(
    /// A route of the history (`/api/events`, `/api/scenes`, the sessions).
    HistoryErrors = [
        ("400", "A query parameter is invalid (the message names it)"),
        UNAUTHORIZED,
        UNKNOWN_INSTANCE,
        (
            "503",
            "The hub keeps no history, or the database is unavailable"
        ),
    ]
);

/// A picture of program, preview or a source: its 400 shows an example.
pub struct PictureErrors;

impl IntoResponses for PictureErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut set = answers(&[
            UNAUTHORIZED,
            UNKNOWN_INSTANCE,
            ("502", "OBS refused"),
            NOT_CONNECTED,
            TIMEOUT,
        ]);
        let example = serde_json::json!({"error": "invalid_field",
            "message": "`width` must be a whole number from 8 to 4096 (it was `5000`)"});
        set.insert(
            "400".to_string(),
            error_answer_with(
                "A bad query parameter (invalid_field names it)",
                Some(example),
            ),
        );
        set
    }
}
