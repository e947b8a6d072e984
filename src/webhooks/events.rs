//! What a webhook says: event types (the filters), and the Standard Webhooks body
//! `{"type", "timestamp", "data"}` made from a status change.
//!
//! The body is built once per change and stored as sent; every endpoint that gets the change
//! gets the same bytes (and its own signature over them).

use std::{
    cmp::Ordering,
    fmt,
    hash::{Hash, Hasher},
    str::FromStr,
    sync::LazyLock,
};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};
use utoipa::{
    openapi::{schema::Type, ObjectBuilder, RefOr, Schema},
    PartialSchema, ToSchema,
};

use crate::status::{
    kinds::{self, ChangeKind},
    Change, ChangeEvent,
};

/// The kinds of change an endpoint can ask for (the names of [`Change::kind`]): one per
/// descriptor in `status::kinds`, so this file names no kind itself.
#[derive(Clone, Copy)]
pub struct EventType(&'static ChangeKind);

/// Every kind's name, in the descriptors' order (serde's "expected one of" lists them).
static NAMES: LazyLock<Vec<&'static str>> =
    LazyLock::new(|| kinds::ALL.iter().map(|kind| kind.name).collect());

impl EventType {
    /// Every kind, in the descriptors' order.
    pub fn all() -> impl Iterator<Item = EventType> {
        kinds::ALL.iter().map(|kind| EventType(kind))
    }

    /// What an endpoint gets when it names no event types (the descriptors' webhook default:
    /// every change but the stats and the kinds newer than the endpoints that exist).
    pub fn defaults() -> Vec<EventType> {
        Self::all().filter(|kind| kind.0.webhook_default).collect()
    }

    /// The kind named `name`, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        kinds::named(name).map(Self)
    }

    pub fn as_str(self) -> &'static str {
        self.0.name
    }

    pub fn descriptor(self) -> &'static ChangeKind {
        self.0
    }

    pub fn of(change: &Change) -> Self {
        Self(change.descriptor())
    }

    /// The names, for error messages.
    pub fn names() -> String {
        NAMES.join(", ")
    }

    fn position(self) -> usize {
        NAMES
            .iter()
            .position(|name| *name == self.0.name)
            .unwrap_or(usize::MAX)
    }
}

impl PartialEq for EventType {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for EventType {}

impl Hash for EventType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl PartialOrd for EventType {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// In the descriptors' order (how endpoints list their types).
impl Ord for EventType {
    fn cmp(&self, other: &Self) -> Ordering {
        self.position().cmp(&other.position())
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::named(&name).ok_or_else(|| de::Error::unknown_variant(&name, &NAMES))
    }
}

impl PartialSchema for EventType {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "The kinds of change an endpoint can ask for (the names of [`Change::kind`]).",
            ))
            .enum_values(Some(NAMES.iter().copied()))
            .into()
    }
}

impl ToSchema for EventType {}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::named(text)
            .ok_or_else(|| format!("unknown event type `{text}`; known: {}", Self::names()))
    }
}

/// The type of the message `POST /api/webhooks/{id}/test/` sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// A message ready to be stored and sent: its type and the exact body.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingMessage {
    pub event_type: String,
    pub body: String,
}

/// The Standard Webhooks body for one change. `timestamp` is when the change happened (the same
/// on every retry, unlike the `webhook-timestamp` header): receivers can order by it.
pub fn message_for(event: &ChangeEvent) -> OutgoingMessage {
    let kind = EventType::of(&event.change);
    envelope(kind.as_str(), event.at, data_for(event))
}

/// The `webhook.test` message for an endpoint.
pub fn test_message(endpoint_id: &str, now: DateTime<Utc>) -> OutgoingMessage {
    envelope(
        TEST_EVENT_TYPE,
        now,
        json!({
            "endpoint_id": endpoint_id,
            "message": "a test message from obs-hub: this endpoint receives and verifies webhooks",
        }),
    )
}

fn envelope(event_type: &str, at: DateTime<Utc>, data: Value) -> OutgoingMessage {
    let body = json!({
        "type": event_type,
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    OutgoingMessage {
        event_type: event_type.to_string(),
        body: body.to_string(),
    }
}

/// `data` carries the instance, the change (its kind's payload: in the field names the callback
/// endpoints accept, so one hub's webhooks can feed another hub's callbacks) and where it came
/// from.
pub fn data_for(event: &ChangeEvent) -> Value {
    let mut data = (event.change.descriptor().payload)(&event.change);
    if let Value::Object(fields) = &mut data {
        fields.insert("instance".into(), json!(event.instance));
        fields.insert("seq".into(), json!(event.seq));
        fields.insert("source".into(), json!(event.source));
    }
    data
}

/// Which changes an endpoint wants: event types, and one instance or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub event_types: Vec<EventType>,
    pub instance: Option<String>,
}

impl Filter {
    pub fn matches(&self, kind: EventType, instance: &str) -> bool {
        self.event_types.contains(&kind) && self.instance.as_deref().is_none_or(|i| i == instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{update::Source, ConnectionState};

    fn kind(name: &str) -> EventType {
        EventType::named(name).unwrap()
    }

    fn event(change: Change) -> ChangeEvent {
        ChangeEvent {
            cluster: None,
            seq: 7,
            instance: "studio".into(),
            at: DateTime::parse_from_rfc3339("2026-11-23T22:00:00.123Z")
                .unwrap()
                .with_timezone(&Utc),
            source: Source::ObsEvent,
            change,
        }
    }

    #[test]
    fn a_scene_change_carries_what_a_callback_endpoint_accepts() {
        let message = message_for(&event(Change::SceneChanged {
            scene: "Live".into(),
            previous: Some("BRB".into()),
        }));
        assert_eq!(message.event_type, "scene_changed");
        let body: Value = serde_json::from_str(&message.body).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "scene_changed",
                "timestamp": "2026-11-23T22:00:00.123Z",
                "data": {
                    "instance": "studio",
                    "scene_name": "Live",
                    "previous_scene": "BRB",
                    "seq": 7,
                    "source": "obs_event",
                }
            })
        );
    }

    #[test]
    fn every_kind_has_its_fields() {
        let streaming = data_for(&event(Change::StreamingChanged {
            is_streaming: true,
            state: "started".into(),
        }));
        assert_eq!(streaming["is_streaming"], true);
        assert_eq!(streaming["state"], "started");
        let connection = data_for(&event(Change::ConnectionChanged {
            state: ConnectionState::Reconnecting,
            connected: false,
            error: Some("refused".into()),
        }));
        assert_eq!(connection["connected"], false);
        assert_eq!(connection["state"], "reconnecting");
        assert_eq!(connection["error"], "refused");
        let recording = data_for(&event(Change::RecordingChanged {
            is_recording: false,
            state: "stopped".into(),
            output_path: Some("/rec/a.mkv".into()),
        }));
        assert_eq!(recording["output_path"], "/rec/a.mkv");
        let list = data_for(&event(Change::SceneListChanged {
            scenes: vec!["A".into(), "B".into()],
            scene_details: vec![crate::status::model::SceneInfo {
                name: "A".into(),
                uuid: Some("u-a".into()),
            }],
        }));
        assert_eq!(list["scenes"], json!(["A", "B"]));
        assert_eq!(list["scene_details"], json!([{"name": "A", "uuid": "u-a"}]));
        assert_eq!(list["instance"], "studio");
    }

    #[test]
    fn filters_match_types_and_instances() {
        let all_instances = Filter {
            event_types: EventType::defaults(),
            instance: None,
        };
        assert!(all_instances.matches(kind("scene_changed"), "a"));
        assert!(!all_instances.matches(kind("stats_updated"), "a"));
        let one = Filter {
            event_types: vec![kind("streaming_changed")],
            instance: Some("booth".into()),
        };
        assert!(one.matches(kind("streaming_changed"), "booth"));
        assert!(!one.matches(kind("streaming_changed"), "studio"));
        assert!(!one.matches(kind("scene_changed"), "booth"));
    }

    #[test]
    fn type_names_round_trip_and_unknown_ones_are_named() {
        for kind in EventType::all() {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
            assert_eq!(
                serde_json::from_value::<EventType>(json!(kind.as_str())).unwrap(),
                kind
            );
        }
        let error = "scene_change".parse::<EventType>().unwrap_err();
        assert!(error.contains("scene_change") && error.contains("scene_changed"));
    }

    #[test]
    fn endpoints_that_name_no_types_get_the_five_older_kinds() {
        let names: Vec<_> = EventType::defaults()
            .into_iter()
            .map(EventType::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "scene_changed",
                "streaming_changed",
                "recording_changed",
                "connection_changed",
                "scene_list_changed"
            ]
        );
        let routes: Vec<_> = super::super::endpoint::callback_routes()
            .map(|(route, kind)| (route, kind.as_str()))
            .collect();
        assert_eq!(
            routes,
            [
                ("scene-change", "scene_changed"),
                ("streaming-change", "streaming_changed"),
                ("connection-change", "connection_changed")
            ]
        );
        for (route, kind) in super::super::endpoint::callback_routes() {
            assert_eq!(
                super::super::callbacks::CallbackRoute::flat(route),
                super::super::callbacks::CallbackRoute::Only(kind)
            );
        }
    }

    #[test]
    fn the_kind_names_are_the_status_managers() {
        let change = Change::SceneListChanged {
            scenes: vec![],
            scene_details: vec![],
        };
        assert_eq!(EventType::of(&change).as_str(), change.kind());
    }
}
