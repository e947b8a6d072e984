//! The OpenAPI 3 document (`GET /api/openapi.json`), generated from the annotations of the
//! hub's own routes (`http`) and of every capability's. It sits above both, next to `app`,
//! which hands it to `http::docs` to serve.
//!
//! Handlers are annotated once, with their `/api/...` path; routes tagged `instance` also exist
//! under `/api/instances/{instance}/...`, and [`PerInstanceRoutes`] writes those copies into the
//! document so that it lists every route the server answers.

use std::sync::LazyLock;

use utoipa::{
    openapi::{
        path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem},
        security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme},
        Required,
    },
    Modify, OpenApi,
};

use crate::audio::routes as audio;
use crate::fleet::routes as fleet;
use crate::http::{callbacks, handlers, history, ops, qr, raw, responses::error_answer, webhooks};
use crate::outputs::routes as outputs;
use crate::pictures::routes as pictures;
use crate::rules::routes as rules;
use crate::scenes::routes as scenes;
use crate::sources::routes as sources;
use crate::studio::routes as studio;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "obs-hub",
        description = "Persistent OBS Studio connections, cached status and control. Errors are \
            `{\"error\": code, \"message\": text}`. When API tokens are configured every /api/ \
            route needs `Authorization: Bearer <token>`."
    ),
    paths(
        handlers::start_manager,
        handlers::stop_manager,
        handlers::manager_status,
        handlers::list_instances,
        handlers::stream_status,
        handlers::test_connection,
        scenes::sync_scenes,
        scenes::switch_scene,
        outputs::start_stream,
        outputs::stop_stream,
        outputs::start_record,
        outputs::stop_record,
        raw::request,
        raw::batch,
        history::events,
        history::scenes,
        history::stream_sessions,
        history::record_sessions,
        ops::healthz,
        ops::readyz,
        ops::prometheus,
        webhooks::list,
        webhooks::create,
        webhooks::show,
        webhooks::update,
        webhooks::remove,
        webhooks::deliveries,
        webhooks::send_test,
        webhooks::redeliver,
        callbacks::any_change,
        callbacks::scene_change,
        callbacks::streaming_change,
        callbacks::connection_change,
        outputs::outputs,
        outputs::start,
        outputs::stop,
        outputs::toggle,
        outputs::ensure,
        outputs::pause,
        outputs::resume,
        outputs::toggle_pause,
        outputs::split,
        outputs::chapter,
        outputs::save_replay,
        outputs::stats_history,
        sources::scene_items,
        sources::item_action,
        sources::set_text,
        sources::input_settings,
        sources::patch_settings,
        sources::media_status,
        sources::media_action,
        sources::media_cursor,
        sources::filters,
        sources::filter_action,
        sources::profiles,
        sources::set_profile,
        sources::collections,
        sources::set_collection,
        sources::hotkeys,
        sources::trigger_hotkey,
        studio::studio_mode,
        studio::set_studio_mode,
        studio::toggle_studio_mode,
        studio::set_preview_scene,
        studio::take,
        studio::transitions,
        studio::set_transition,
        studio::tbar,
        audio::inputs,
        audio::mute,
        audio::unmute,
        audio::toggle_mute,
        audio::set_volume,
        audio::set_balance,
        pictures::program,
        pictures::preview,
        pictures::source,
        pictures::signed_url,
        qr::qr_code,
        qr::qr_code_of_body,
        crate::http::demo_show::show_state,
        crate::http::demo_show::set_show,
        crate::http::pairing::create_code,
        crate::http::pairing::exchange,
        crate::http::tokens::create,
        crate::http::tokens::list,
        crate::http::tokens::show_self,
        crate::http::tokens::remove,
        crate::http::audit::entries,
        fleet::list_groups,
        fleet::create_group,
        fleet::show_group,
        fleet::put_group,
        fleet::delete_group,
        fleet::group_switch_scene,
        fleet::group_stream_status,
        fleet::add_instance,
        fleet::change_instance,
        fleet::remove_instance,
        crate::cluster::routes::cluster,
        rules::list,
        rules::create,
        rules::create_failover,
        rules::show,
        rules::replace,
        rules::change,
        rules::remove,
        rules::test,
        rules::firings,
        live_socket,
    ),
    modifiers(&PerInstanceRoutes, &BearerTokens, &SiteGuardErrors, &BodyErrors, &Scopes),
    tags(
        (name = "instance", description = "Also under /api/instances/{instance}/..."),
        (name = "hub", description = "The hub as a whole"),
        (name = "dashboard", description = "Helpers of the dashboard page"),
        (name = "live", description = "The live-update WebSocket (its messages are described \
            in the operation; the README's \"Live updates (WebSocket)\" has examples)"),
        (name = "operations", description = "Open without a token"),
        (name = "webhooks", description = "Endpoints, delivery log, test messages, redeliveries"),
        (name = "fleet", description = "Instance groups (every per-instance route also exists \
            under /api/instance-groups/{group}/, run on every member at once) and instances \
            added, changed and removed while the hub runs"),
        (name = "tokens", description = "Scoped API tokens and the audit trail. Every /api/ \
            operation states the scope it needs in `x-obs-hub-scope` (read < control < admin) \
            and, within control, its capability in `x-obs-hub-capability`"),
        (name = "rules", description = "Automation: rules with a change, schedule or held \
            trigger, conditions on the status, actions on instances or groups; every firing is a \
            `rule_fired` change (history, WebSocket, opt-in webhook type)"),
        (name = "callbacks", description = "Another hub's (or anyone's) notifications. With a \
            callback secret configured: a Standard Webhooks signature (webhook-id, \
            webhook-timestamp, webhook-signature) or an API token"),
    )
)]
pub struct ApiDoc;

/// `/ws` in the document: OpenAPI cannot describe WebSocket messages, so the operation's
/// description carries the protocol (src/http/live_protocol.rs is its implementation).
#[utoipa::path(get, path = "/ws", tag = "live",
    description = "Upgrade to a WebSocket that pushes every status change. Server to client, \
JSON text frames with a `type`: first `snapshot` `{type, seq, running, since, instances: {name: \
status}}` (the status as in GET /api/stream-status); then every change with `seq` above the \
snapshot's, in order and without gaps, `{seq, instance, at, source, type: \"scene_changed\" | \
\"streaming_changed\" | \"recording_changed\" | \"connection_changed\" | \"stats_updated\" | ...}`; \
`error` `{type, error, message}` for a client message not understood. Client to server: \
`{\"type\": \"resync\"}` asks for a fresh snapshot. A gap in `seq` means changes were missed: \
resync. Lossy notices, opt-in: `{\"type\": \"subscribe\", \"instance\": name, \"topics\": \
[\"picture:program\"]}` (or `unsubscribe`) is answered `subscribed` (`unsubscribed`) or `error` \
`invalid_subscription`; then `notice` `{type, instance, topic, data}` (no `seq`, newest value only) \
whenever the topic's value changes, e.g. a picture's `{etag, url}` (a signed URL). With an API token, send it as `Authorization: Bearer` or, from a browser (which cannot \
set headers on a WebSocket), as `?token=`.",
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade", body = crate::error::ErrorBody),
        (status = 403, description = "A page of a site not allowed (Origin)", body = crate::error::ErrorBody),
    ))]
#[allow(dead_code)] // Documentation only: the route is `ws::live_socket`.
fn live_socket() {}

/// Adds `/api/instances/{instance}/<route>` for every operation tagged `instance`.
struct PerInstanceRoutes;

impl Modify for PerInstanceRoutes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let copies: Vec<(String, PathItem)> = openapi
            .paths
            .paths
            .iter()
            .filter(|(path, item)| {
                path.starts_with("/api/") && operations(item).any(tagged_instance)
            })
            .map(|(path, item)| {
                let mut item = item.clone();
                for operation in operations_mut(&mut item) {
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .insert(0, instance_parameter());
                    if let Some(id) = &mut operation.operation_id {
                        id.push_str("_for_instance");
                    }
                }
                let rest = path.trim_start_matches("/api");
                (format!("/api/instances/{{instance}}{rest}"), item)
            })
            .collect();
        openapi.paths.paths.extend(copies);
    }
}

fn tagged_instance(operation: &Operation) -> bool {
    operation
        .tags
        .as_ref()
        .is_some_and(|tags| tags.iter().any(|tag| tag == "instance"))
}

fn operations(item: &PathItem) -> impl Iterator<Item = &Operation> {
    [&item.get, &item.post, &item.put, &item.patch, &item.delete]
        .into_iter()
        .flatten()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    methods_mut(item, true)
}

/// The operations that change something (every method but GET).
fn changing_operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    methods_mut(item, false)
}

fn methods_mut(item: &mut PathItem, with_get: bool) -> impl Iterator<Item = &mut Operation> {
    let get = with_get.then_some(&mut item.get);
    get.into_iter()
        .chain([
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ])
        .flatten()
}

fn instance_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("instance")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("Name of the OBS instance, as configured"))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .pattern(Some("^[A-Za-z0-9_-]{1,64}$")),
        ))
        .build()
}

/// Declares bearer tokens and requires them on /api/ routes (not on the operations routes).
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            // `/api/pair` is how a phone without the token gets it.
            if !path.starts_with("/api/") || path == "/api/pair" {
                continue;
            }
            for operation in operations_mut(item) {
                operation.security = Some(vec![SecurityRequirement::new(
                    "api_token",
                    Vec::<String>::new(),
                )]);
            }
        }
    }
}

/// The refusals of `site_guard`, which come before any route: 421 on every route (a `Host` this
/// hub does not answer to without a token) and 403 on those that change something (a page of
/// another site). Added here rather than on each handler, as the guard is not the handler's.
struct SiteGuardErrors;

impl Modify for SiteGuardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                operation.responses.responses.insert(
                    "421".to_string(),
                    error_answer(
                        "host_not_allowed: no API token is configured and the Host header is \
                         neither a loopback name nor in allowed_hosts",
                    ),
                );
            }
            for operation in changing_operations_mut(item) {
                operation.responses.responses.insert(
                    "403".to_string(),
                    error_answer(
                        "cross_site_request: sent by a page whose origin is neither the \
                         hub's own nor in allowed_origins",
                    ),
                );
            }
        }
    }
}

/// The refusals of every route that reads a body (`body` and `body_guard`), whatever the route:
/// added here where a handler's own list does not already describe them.
struct BodyErrors;

impl Modify for BodyErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in
                operations_mut(item).filter(|operation| operation.request_body.is_some())
            {
                for (status, description) in [
                    ("408", "body_timeout: the body did not arrive within [http] body_timeout_ms (the connection is closed)"),
                    ("413", "payload_too_large: the body is over the limit"),
                    ("415", "unsupported_media_type: a body without Content-Type: application/json"),
                ] {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_answer(description));
                }
            }
        }
    }
}

/// Each operation's scope from the one table (`scopes`), as `x-obs-hub-scope` and
/// `x-obs-hub-capability`, with the 403 a token without it gets and, on commands, the 429 of
/// the rate limit. Operations outside the token's reach (`/api/pair`, callbacks, operations
/// routes) get none.
struct Scopes;

impl Modify for Scopes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(api) = crate::http::scopes::split_path(path) else {
                continue;
            };
            if path == "/api/pair" || path.starts_with("/api/callback") {
                continue;
            }
            for (method, operation) in [
                ("GET", &mut item.get),
                ("POST", &mut item.post),
                ("PUT", &mut item.put),
                ("PATCH", &mut item.patch),
                ("DELETE", &mut item.delete),
            ] {
                let Some(operation) = operation else { continue };
                let required = crate::http::scopes::required(method, api.rest);
                let extensions = operation.extensions.get_or_insert_with(Default::default);
                extensions.insert(
                    "x-obs-hub-scope".to_string(),
                    serde_json::Value::from(required.scope.name()),
                );
                let mut needs = format!("the `{}` scope", required.scope);
                if let Some(capability) = required.capability {
                    extensions.insert(
                        "x-obs-hub-capability".to_string(),
                        serde_json::Value::from(capability),
                    );
                    needs.push_str(&format!(" (capability `{capability}`)"));
                }
                let mut refusal = format!(
                    "scope_required, capability_not_allowed, instance_not_allowed: the token \
                     lacks {needs} or the instance"
                );
                if method != "GET" {
                    refusal.push_str("; cross_site_request: sent by a page of another site");
                }
                operation
                    .responses
                    .responses
                    .insert("403".to_string(), error_answer(&refusal));
                operation
                    .responses
                    .responses
                    .entry("401".to_string())
                    .or_insert_with(|| {
                        error_answer("unauthorized, token_expired: no valid API token")
                    });
                if method != "GET" {
                    operation.responses.responses.insert(
                        "429".to_string(),
                        error_answer(
                            "rate_limited: the token sent more commands than [http] \
                             commands_per_second allows (Retry-After)",
                        ),
                    );
                }
            }
        }
    }
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_string())
});

/// The document, as `GET /api/openapi.json` serves it (`app` hands it to the route).
pub fn document() -> &'static str {
    DOCUMENT.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instance_route_has_its_per_instance_copy() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let paths = document["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/stream-status"));
        assert!(paths.contains_key("/api/instances/{instance}/stream-status"));
        assert!(paths.contains_key("/api/instances/{instance}/switch-scene"));
        assert!(!paths.contains_key("/api/instances/{instance}/instances"));
        assert!(paths.contains_key("/healthz"));
        let per_instance = &paths["/api/instances/{instance}/switch-scene"]["post"];
        assert_eq!(per_instance["parameters"][0]["name"], "instance");
        assert!(per_instance["security"].is_array());
        assert!(paths["/healthz"]["get"]["security"].is_null());
    }

    /// Issue 18 item 8: the WebSocket is in the document, and Swagger's "Try it out" starts
    /// from real-looking values rather than `"string"`.
    #[test]
    fn the_websocket_and_body_examples_are_documented() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let socket = &document["paths"]["/ws"]["get"];
        assert!(socket["description"].as_str().unwrap().contains("snapshot"));
        assert!(socket["responses"]["101"].is_object());
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["SwitchSceneBody"]["properties"]["scene_name"]["example"],
            "Live"
        );
        assert_eq!(
            schemas["TestConnectionBody"]["properties"]["port"]["example"],
            4455
        );
        // The webhook and callback bodies: whole examples that the routes accept.
        for schema in [
            "CreateBody",
            "PatchBody",
            "Envelope",
            "SceneFields",
            "StreamingFields",
            "ConnectionFields",
            "ShowState",
        ] {
            let example = &schemas[schema]["example"];
            assert!(example.is_object(), "{schema} has an example: {example}");
        }
    }

    /// The examples are real bodies: each parses as its route's body.
    #[test]
    fn the_webhook_body_examples_parse_as_their_bodies() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let schemas = &document["components"]["schemas"];
        let example = |name: &str| schemas[name]["example"].clone();
        serde_json::from_value::<crate::http::webhooks::CreateBody>(example("CreateBody")).unwrap();
        serde_json::from_value::<crate::http::webhooks::PatchBody>(example("PatchBody")).unwrap();
        use crate::status::{
            kinds::ConnectionFields, output_status::StreamingFields, scene_status::SceneFields,
        };
        use crate::webhooks::callbacks::Envelope;
        serde_json::from_value::<Envelope>(example("Envelope")).unwrap();
        serde_json::from_value::<SceneFields>(example("SceneFields")).unwrap();
        serde_json::from_value::<StreamingFields>(example("StreamingFields")).unwrap();
        serde_json::from_value::<ConnectionFields>(example("ConnectionFields")).unwrap();
    }

    #[test]
    fn the_guards_refusals_are_documented() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let paths = &document["paths"];
        let switch = &paths["/api/instances/{instance}/switch-scene"]["post"]["responses"];
        for status in ["403", "415", "421"] {
            assert!(switch[status].is_object(), "switch-scene {status}");
        }
        assert!(paths["/api/stream-status"]["get"]["responses"]["421"].is_object());
        // A read answers 403 only for a token without the scope (issue 19), never as cross-site.
        let read_refusal = paths["/api/stream-status"]["get"]["responses"]["403"]["description"]
            .as_str()
            .unwrap();
        assert!(read_refusal.contains("scope_required"));
        assert!(!read_refusal.contains("cross_site_request"));
        assert!(paths["/api/callback/scene-change"]["post"]["responses"]["415"].is_object());
        assert!(paths["/api/webhooks/{id}"]["patch"]["responses"]["415"].is_object());
    }

    #[test]
    fn every_route_that_reads_a_body_documents_the_body_refusals() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let paths = document["paths"].as_object().unwrap();
        let mut checked = 0;
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                if operation["requestBody"].is_null() {
                    continue;
                }
                checked += 1;
                for status in ["408", "413", "415"] {
                    assert!(
                        operation["responses"][status].is_object(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
        }
        assert!(checked > 40, "only {checked} routes read a body");
    }

    /// Issue 19: every /api/ operation the token middleware guards is in the scope table (none
    /// falls back to admin unlisted), and the document states its scope and the 403.
    #[test]
    fn every_operation_is_in_the_scope_table_and_documents_its_scope() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let paths = document["paths"].as_object().unwrap();
        let mut checked = 0;
        for (path, item) in paths {
            let Some(api) = crate::http::scopes::split_path(path) else {
                continue;
            };
            if path == "/api/pair" || path.starts_with("/api/callback") {
                continue;
            }
            for (method, operation) in item.as_object().unwrap() {
                let method = method.to_uppercase();
                let required = crate::http::scopes::lookup(&method, api.rest);
                assert!(
                    required.is_some(),
                    "{method} {path} is not in the scope table"
                );
                let scope = operation["x-obs-hub-scope"].as_str();
                assert_eq!(scope, required.map(|r| r.scope.name()), "{method} {path}");
                assert!(operation["responses"]["403"].is_object(), "{method} {path}");
                checked += 1;
            }
        }
        assert!(checked > 120, "only {checked} operations");
        let switch = &paths["/api/instances/{instance}/switch-scene"]["post"];
        assert_eq!(switch["x-obs-hub-scope"], "control");
        assert_eq!(switch["x-obs-hub-capability"], "scenes");
        assert_eq!(paths["/api/webhooks"]["post"]["x-obs-hub-scope"], "admin");
        assert_eq!(
            paths["/api/stream-status"]["get"]["x-obs-hub-scope"],
            "read"
        );
        assert!(paths["/api/stream-status"]["get"]["responses"]["429"].is_null());
        assert!(switch["responses"]["429"].is_object());
    }
}
