//! Change kinds as descriptors: what history, webhooks and the WebSocket need to know about each
//! kind of numbered change, so that none of them holds code for a particular kind.
//!
//! Each descriptor sits next to the slice whose changes it describes (`scene_status`,
//! `output_status`, `source_status`, `studio_status`, `audio_status`; `connection_changed`, the
//! hub's own, is here) and says: its name, whether the history keeps it, whether webhook endpoints that
//! name no event types get it, its webhook payload, and how a callback of that kind becomes an
//! update if callbacks may carry it. [`ALL`] lists them, in the order the API has always listed
//! the kinds; a new capability adds its descriptors there (one line each). The WebSocket sends
//! [`Change`] as it serialises, so it needs nothing from here.

use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{
    audio_status,
    model::ConnectionState,
    output_status, rule_firing, scene_status, source_status, studio_status,
    update::{Change, ConnectionReport, ObsUpdate},
};

/// One kind of numbered change.
#[derive(Debug)]
pub struct ChangeKind {
    /// Stable name: the `type` on the WebSocket and in webhooks, the history's `kind`.
    pub name: &'static str,
    /// Whether the history keeps changes of this kind as event rows.
    pub recorded: bool,
    /// Whether webhook endpoints that name no event types get it.
    pub webhook_default: bool,
    /// The webhook `data` of a change of this kind (webhooks add `instance`, `seq`, `source`).
    /// Called only with changes of this kind.
    pub payload: fn(&Change) -> Value,
    /// How a callback of this kind is read; None: callbacks may not carry it.
    pub callback: Option<CallbackRule>,
}

/// What a callback says: the instance it names (None: the default one) and the update.
pub type CallbackReading = (Option<String>, ObsUpdate);

/// How a callback body of one kind becomes an update.
#[derive(Debug)]
pub struct CallbackRule {
    /// The fields a flat body may have (an envelope's `data` may carry more).
    pub fields: &'static [&'static str],
    /// The seed's flat route for this kind (`/api/callback/{route}/`), if it has one: the hub's
    /// callback base URL sends this kind there.
    pub route: Option<&'static str>,
    /// Reads the body: the instance named (None: the default one) and the update. `prefix`
    /// is where the fields sit (`data.` in an envelope), for error messages naming the field.
    pub read: fn(Value, &str) -> Result<CallbackReading, String>,
}

/// Every kind of numbered change.
pub static ALL: [&ChangeKind; 12] = [
    &scene_status::SCENE_CHANGED,
    &output_status::STREAMING_CHANGED,
    &output_status::RECORDING_CHANGED,
    &CONNECTION_CHANGED,
    &scene_status::SCENE_LIST_CHANGED,
    &output_status::STATS_UPDATED,
    &output_status::OUTPUT_CHANGED,
    &source_status::SOURCE_CHANGED,
    &studio_status::STUDIO_CHANGED,
    &audio_status::AUDIO_CHANGED,
    &super::fleet_status::INSTANCE_CHANGED,
    &rule_firing::RULE_FIRED,
];

/// The descriptor named `name`, if any.
pub fn named(name: &str) -> Option<&'static ChangeKind> {
    ALL.iter().copied().find(|kind| kind.name == name)
}

/// Names of the kinds the history keeps.
pub fn recorded_names() -> Vec<&'static str> {
    ALL.iter()
        .filter(|kind| kind.recorded)
        .map(|kind| kind.name)
        .collect()
}

/// Reads a callback's fields, naming the field that is wrong (`data.scene_name`: ...).
pub fn read_fields<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if path == "." {
            format!(
                "invalid {}: {inner}",
                if prefix.is_empty() { "body" } else { "`data`" }
            )
        } else {
            format!("`{prefix}{path}`: {inner}")
        }
    })
}

/// The link to an instance came up, dropped or failed.
pub static CONNECTION_CHANGED: ChangeKind = ChangeKind {
    name: "connection_changed",
    recorded: true,
    webhook_default: true,
    payload: |change| match change {
        Change::ConnectionChanged {
            state,
            connected,
            error,
        } => json!({ "connected": connected, "state": state, "error": error }),
        _ => Value::Null,
    },
    callback: Some(CallbackRule {
        fields: &["connected", "state", "error", "instance"],
        route: Some("connection-change"),
        read: read_connection,
    }),
};

/// `connection-change`: the seed's body (the envelope is accepted too).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"connected": false, "state": "reconnecting", "error": "OBS closed the connection", "instance": "default"}))]
pub struct ConnectionFields {
    connected: bool,
    /// Must agree with `connected`; default from it.
    state: Option<ConnectionState>,
    error: Option<String>,
    instance: Option<String>,
}

fn read_connection(data: Value, prefix: &str) -> Result<CallbackReading, String> {
    let fields: ConnectionFields = read_fields(data, prefix)?;
    let state = match fields.state {
        Some(state) if (state == ConnectionState::Connected) != fields.connected => {
            return Err(format!(
                "`{prefix}state`: `{}` contradicts `connected: {}`",
                state.as_str(),
                fields.connected
            ))
        }
        Some(state) => state,
        None if fields.connected => ConnectionState::Connected,
        None => ConnectionState::Reconnecting,
    };
    Ok((
        fields.instance,
        ObsUpdate::Connection(ConnectionReport {
            state,
            error: fields.error,
            attempts: 0,
            next_attempt_at: None,
            versions: None,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_change_has_its_descriptor() {
        let mut names: Vec<_> = ALL.iter().map(|kind| kind.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        let change = Change::SceneListChanged {
            scenes: vec![],
            scene_details: vec![],
        };
        assert_eq!(change.descriptor().name, "scene_list_changed");
        assert!(std::ptr::eq(
            named("scene_list_changed").unwrap(),
            change.descriptor()
        ));
        assert!(!recorded_names().contains(&"stats_updated"));
    }
}
