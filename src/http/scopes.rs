//! What each `/api/` route needs of a token: one table, read by the auth middleware
//! (`auth::require_token`) and by the OpenAPI document (its `Scopes` modifier), so that a route's
//! scope is written once and no handler annotation carries it (issue 19).
//!
//! Three scopes, each including those below it: `read` (every GET, the WebSocket, pictures),
//! `control` (commands an operator gives during a show: scenes, outputs, studio...), `admin`
//! (what changes the hub or reaches OBS without a guard rail: webhooks, tokens, raw requests,
//! profiles...). Within `control`, a route names its capability, so a token can be narrowed to,
//! say, scenes only. A route missing from the table needs `admin` (fail closed); a test walks
//! every path of the OpenAPI document to make sure none is missing.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A token's power. Ordered: each includes the ones before it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Control,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Control, Scope::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Control => "control",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.name() == name)
    }

    /// The scopes a token of this level holds (itself and those below).
    pub fn implied(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| *s <= self).collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The capabilities within `control` a token may be narrowed to.
pub const CAPABILITIES: &[&str] = &[
    "scenes", "studio", "outputs", "audio", "items", "text", "media", "filters", "hotkeys", "demo",
];

/// What one route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Required {
    pub scope: Scope,
    /// Within `control` only: the capability the route belongs to.
    pub capability: Option<&'static str>,
    /// Whether the route acts on one instance (the path's, or the default one): an instance
    /// allow-list applies to it.
    pub on_instance: bool,
    /// The plain history routes cover every instance unless `?instance=` names one: for them,
    /// the instance is the query's (none given: every instance, which a narrowed token may
    /// not read).
    pub instance_in_query: bool,
}

const fn read() -> Required {
    Required {
        scope: Scope::Read,
        capability: None,
        on_instance: true,
        instance_in_query: false,
    }
}

const fn control(capability: &'static str) -> Required {
    Required {
        capability: Some(capability),
        scope: Scope::Control,
        ..read()
    }
}

const fn admin() -> Required {
    Required {
        scope: Scope::Admin,
        ..read()
    }
}

/// A history read: see [`Required::instance_in_query`].
const fn history() -> Required {
    Required {
        instance_in_query: true,
        ..read()
    }
}

/// The same, for a route about the hub as a whole (no instance allow-list applies).
const fn hub(required: Required) -> Required {
    Required {
        on_instance: false,
        ..required
    }
}

/// The live-update WebSocket (`/ws`): read, about the hub (an instance-limited token may open
/// it, and its session sees only its instances: `live_protocol::InstanceFilter`).
pub const WEBSOCKET: Required = hub(read());

/// `(method, path after /api with `*` for one segment, what it needs)`. GET stands for HEAD too.
/// Per-instance forms (`/api/instances/{instance}/...`) are looked up by their rest.
const TABLE: &[(&str, &str, Required)] = &[
    // The hub.
    ("GET", "/openapi.json", hub(read())),
    ("GET", "/instances", hub(read())),
    // Instances and instance groups managed while the hub runs (issue 20).
    ("POST", "/instances", hub(admin())),
    ("PATCH", "/instances/*", hub(admin())),
    ("DELETE", "/instances/*", hub(admin())),
    ("GET", "/instance-groups", hub(read())),
    ("POST", "/instance-groups", hub(admin())),
    ("GET", "/instance-groups/*", hub(read())),
    ("PUT", "/instance-groups/*", hub(admin())),
    ("DELETE", "/instance-groups/*", hub(admin())),
    // A cluster's nodes and leases (issue 22).
    ("GET", "/cluster", hub(read())),
    ("GET", "/qr-code", hub(read())),
    // A QR code of a posted text, nothing changes.
    ("POST", "/qr-code", hub(read())),
    // Shares the caller's own token with a phone: any token may give itself away.
    ("POST", "/pairing-code", hub(read())),
    ("GET", "/demo/show", hub(read())),
    ("POST", "/demo/show", hub(control("demo"))),
    ("GET", "/tokens/self", hub(read())),
    ("GET", "/tokens", hub(admin())),
    ("POST", "/tokens", hub(admin())),
    ("DELETE", "/tokens/*", hub(admin())),
    ("GET", "/audit", hub(admin())),
    ("GET", "/webhooks", hub(admin())),
    ("POST", "/webhooks", hub(admin())),
    ("GET", "/webhooks/*", hub(admin())),
    ("PATCH", "/webhooks/*", hub(admin())),
    ("DELETE", "/webhooks/*", hub(admin())),
    ("GET", "/webhooks/*/deliveries", hub(admin())),
    ("POST", "/webhooks/*/test", hub(admin())),
    ("POST", "/webhooks/deliveries/*/redeliver", hub(admin())),
    // Rules (issue 20): admins write and dry-run them, readers list them.
    ("GET", "/rules", hub(read())),
    ("POST", "/rules", hub(admin())),
    ("POST", "/rules/templates/failover", hub(admin())),
    ("POST", "/rules/*/test", hub(admin())),
    ("GET", "/rules/*/firings", hub(read())),
    ("GET", "/rules/*", hub(read())),
    ("PUT", "/rules/*", hub(admin())),
    ("PATCH", "/rules/*", hub(admin())),
    ("DELETE", "/rules/*", hub(admin())),
    // The connection.
    ("POST", "/obs-manager/start", admin()),
    ("POST", "/obs-manager/stop", admin()),
    ("GET", "/obs-manager/status", read()),
    // Whatever its body: with a host or password it reaches any server (the brief's rule
    // needs only those, but the table decides from the route, before any body is read).
    ("POST", "/test-connection", admin()),
    ("GET", "/stream-status", read()),
    ("POST", "/obs/requests/*", admin()),
    ("POST", "/obs/batch", admin()),
    // History.
    ("GET", "/events", history()),
    ("GET", "/scenes", history()),
    ("GET", "/stream-sessions", history()),
    ("GET", "/record-sessions", history()),
    // Scenes and preview.
    ("POST", "/switch-scene", control("scenes")),
    ("POST", "/sync-scenes", control("scenes")),
    ("PUT", "/preview-scene", control("scenes")),
    // Outputs.
    ("POST", "/start-stream", control("outputs")),
    ("POST", "/stop-stream", control("outputs")),
    ("POST", "/start-record", control("outputs")),
    ("POST", "/stop-record", control("outputs")),
    ("GET", "/outputs", read()),
    ("GET", "/stats/history", read()),
    ("POST", "/outputs/record/pause", control("outputs")),
    ("POST", "/outputs/record/resume", control("outputs")),
    ("POST", "/outputs/record/toggle-pause", control("outputs")),
    ("POST", "/outputs/record/split", control("outputs")),
    ("POST", "/outputs/record/chapter", control("outputs")),
    ("POST", "/outputs/replay-buffer/save", control("outputs")),
    ("POST", "/outputs/*/start", control("outputs")),
    ("POST", "/outputs/*/stop", control("outputs")),
    ("POST", "/outputs/*/toggle", control("outputs")),
    ("POST", "/outputs/*/ensure", control("outputs")),
    // Studio mode and transitions.
    ("GET", "/studio-mode", read()),
    ("PUT", "/studio-mode", control("studio")),
    ("POST", "/studio-mode/toggle", control("studio")),
    ("POST", "/transition", control("studio")),
    ("GET", "/transitions", read()),
    ("PUT", "/transitions/current", control("studio")),
    ("PUT", "/transitions/tbar", control("studio")),
    // Audio mixer.
    ("GET", "/audio/inputs", read()),
    ("POST", "/audio/inputs/*/*", control("audio")),
    ("PUT", "/audio/inputs/*/volume", control("audio")),
    ("PUT", "/audio/inputs/*/balance", control("audio")),
    // Sources.
    ("GET", "/scenes/*/items", read()),
    ("POST", "/scenes/*/items/*/*", control("items")),
    ("PUT", "/inputs/*/text", control("text")),
    ("GET", "/inputs/*/settings", read()),
    ("PATCH", "/inputs/*/settings", admin()),
    ("GET", "/inputs/*/media", read()),
    ("POST", "/inputs/*/media/*", control("media")),
    ("PUT", "/inputs/*/media/cursor", control("media")),
    ("GET", "/sources/*/filters", read()),
    ("POST", "/sources/*/filters/*/*", control("filters")),
    ("GET", "/profiles", read()),
    ("PUT", "/profiles/current", admin()),
    ("GET", "/scene-collections", read()),
    ("PUT", "/scene-collections/current", admin()),
    ("GET", "/hotkeys", read()),
    ("POST", "/hotkeys/*/trigger", control("hotkeys")),
    // Pictures.
    ("GET", "/screenshot/program", read()),
    ("GET", "/screenshot/preview", read()),
    ("GET", "/sources/*/screenshot", read()),
    // Minting a signed picture URL changes nothing and opens only what the token may read.
    ("POST", "/pictures/urls", read()),
];

/// A request's route, split: the instance its path names (if any) and the rest after `/api`.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiPath<'a> {
    pub instance: Option<&'a str>,
    pub rest: &'a str,
}

/// Splits `/api/instances/{name}/rest...`; other `/api/...` paths name no instance. None for
/// a path outside `/api`.
pub fn split_path(path: &str) -> Option<ApiPath<'_>> {
    let rest = path.strip_prefix("/api")?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let rest = rest.trim_end_matches('/');
    if let Some(after) = rest.strip_prefix("/instances/") {
        if let Some((name, tail)) = after.split_once('/') {
            return Some(ApiPath {
                instance: Some(name),
                rest: &rest[rest.len() - tail.len() - 1..],
            });
        }
    }
    Some(ApiPath {
        instance: None,
        rest,
    })
}

/// What `method` on the route `rest` (a path after `/api`, as [`split_path`] gives) needs;
/// `None` for a route the table does not list (the caller requires `admin`).
pub fn lookup(method: &str, rest: &str) -> Option<Required> {
    let method = if method.eq_ignore_ascii_case("HEAD") {
        "GET"
    } else {
        method
    };
    if let Some(required) = group_command(method, rest) {
        return required;
    }
    TABLE
        .iter()
        .find(|(m, pattern, _)| m.eq_ignore_ascii_case(method) && matches(pattern, rest))
        .map(|(_, _, required)| *required)
}

/// A group command (`/instance-groups/{group}/<route>`) needs what `<route>` needs. Each
/// member's request is checked again as it runs (with its instance, for an instance-limited
/// token), so the group request itself names no instance.
fn group_command(method: &str, rest: &str) -> Option<Option<Required>> {
    let after = rest.strip_prefix("/instance-groups/")?;
    let (_group, route) = after.split_once('/')?;
    let route = &rest[rest.len() - route.len() - 1..];
    Some(lookup(method, route).map(|required| Required {
        on_instance: false,
        instance_in_query: false,
        ..required
    }))
}

/// [`lookup`], failing closed: an unlisted route needs `admin`.
pub fn required(method: &str, rest: &str) -> Required {
    lookup(method, rest).unwrap_or(admin())
}

/// `*` matches one non-empty segment (a concrete name, or an OpenAPI `{param}`).
fn matches(pattern: &str, path: &str) -> bool {
    let mut pattern = pattern.split('/');
    let mut path = path.split('/');
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some("*"), Some(segment)) if !segment.is_empty() => {}
            (Some(expected), Some(segment)) if expected == segment => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_instance_and_route() {
        assert_eq!(
            split_path("/api/instances/main/switch-scene/"),
            Some(ApiPath {
                instance: Some("main"),
                rest: "/switch-scene"
            })
        );
        assert_eq!(
            split_path("/api/switch-scene"),
            Some(ApiPath {
                instance: None,
                rest: "/switch-scene"
            })
        );
        assert_eq!(
            split_path("/api/instances"),
            Some(ApiPath {
                instance: None,
                rest: "/instances"
            })
        );
        assert_eq!(split_path("/apix/switch-scene"), None);
        assert_eq!(split_path("/ws"), None);
    }

    #[test]
    fn routes_need_their_scope_and_unknown_ones_need_admin() {
        assert_eq!(required("GET", "/stream-status").scope, Scope::Read);
        assert_eq!(required("HEAD", "/stream-status").scope, Scope::Read);
        assert_eq!(required("POST", "/switch-scene"), control("scenes"));
        assert_eq!(
            required("POST", "/outputs/stream/start"),
            control("outputs")
        );
        assert_eq!(
            required("POST", "/outputs/record/toggle-pause"),
            control("outputs")
        );
        assert_eq!(
            required("POST", "/obs/requests/GetVersion").scope,
            Scope::Admin
        );
        assert_eq!(
            required("GET", "/webhooks/3/deliveries").scope,
            Scope::Admin
        );
        assert!(!required("GET", "/webhooks").on_instance);
        // Not listed: admin, whatever the method.
        assert_eq!(lookup("POST", "/stream-status"), None);
        assert_eq!(required("POST", "/no-such-route").scope, Scope::Admin);
        assert_eq!(required("GET", "/future/thing").scope, Scope::Admin);
        // A wildcard is one segment, never none or two.
        assert_eq!(lookup("POST", "/outputs//start"), None);
        assert_eq!(lookup("POST", "/outputs/a/b/start"), None);
    }

    #[test]
    fn a_group_command_needs_what_its_route_needs_about_no_one_instance() {
        assert_eq!(
            required("POST", "/instance-groups/booths/switch-scene"),
            hub(control("scenes"))
        );
        assert_eq!(
            required("GET", "/instance-groups/booths/stream-status"),
            hub(read())
        );
        assert_eq!(
            required("POST", "/instance-groups/booths/outputs/stream/start"),
            hub(control("outputs"))
        );
        assert_eq!(
            required("POST", "/instance-groups/booths/obs/requests/GetVersion").scope,
            Scope::Admin
        );
        // The group itself, and instances made through the API: admin to change.
        assert_eq!(required("GET", "/instance-groups/booths"), hub(read()));
        assert_eq!(required("PUT", "/instance-groups/booths"), hub(admin()));
        assert_eq!(required("POST", "/instances"), hub(admin()));
        assert_eq!(required("PATCH", "/instances/booth-a"), hub(admin()));
        assert_eq!(required("DELETE", "/instances/booth-a"), hub(admin()));
        assert_eq!(
            lookup("POST", "/instance-groups/booths/no-such-route"),
            None
        );
    }

    #[test]
    fn scopes_include_those_below() {
        assert!(Scope::Admin > Scope::Control && Scope::Control > Scope::Read);
        assert_eq!(Scope::Control.implied(), vec![Scope::Read, Scope::Control]);
        assert_eq!(Scope::parse("control"), Some(Scope::Control));
        assert_eq!(Scope::parse("root"), None);
    }

    #[test]
    fn every_capability_named_in_the_table_is_one_a_token_may_list() {
        for (method, pattern, required) in TABLE {
            if let Some(capability) = required.capability {
                assert!(CAPABILITIES.contains(&capability), "{method} {pattern}");
                assert_eq!(required.scope, Scope::Control);
            }
        }
    }
}
