//! What a webhook says: event types (the filters), and the Standard Webhooks body
//! `{"type", "timestamp", "data"}` made from a status change.
//!
//! The body is built once per change and stored as sent; every endpoint that gets the change
//! gets the same bytes (and its own signature over them).

use std::{fmt, str::FromStr};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::status::{Change, ChangeEvent};

/// The kinds of change an endpoint can ask for (the names of [`Change::kind`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    SceneChanged,
    StreamingChanged,
    RecordingChanged,
    ConnectionChanged,
    SceneListChanged,
    /// Every poll that moved a figure (several a minute per instance while streaming): sent
    /// only to endpoints that list it explicitly.
    StatsUpdated,
    /// Replay buffer and virtual camera states, replays saved, recordings split. Newer than
    /// the endpoints that exist: sent only to endpoints that list it explicitly.
    OutputChanged,
    /// Scene items shown, hidden or locked, media states, filters, profile and scene
    /// collection switches. Sent only to endpoints that list it explicitly.
    SourceChanged,
    /// Studio mode, preview scene, transition. Newer than the endpoints that exist: sent only
    /// to endpoints that list it explicitly.
    StudioChanged,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        Self::SceneChanged,
        Self::StreamingChanged,
        Self::RecordingChanged,
        Self::ConnectionChanged,
        Self::SceneListChanged,
        Self::StatsUpdated,
        Self::OutputChanged,
        Self::SourceChanged,
        Self::StudioChanged,
    ];

    /// What an endpoint gets when it names no event types: every change but the stats.
    pub const DEFAULT: [EventType; 5] = [
        Self::SceneChanged,
        Self::StreamingChanged,
        Self::RecordingChanged,
        Self::ConnectionChanged,
        Self::SceneListChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SceneChanged => "scene_changed",
            Self::StreamingChanged => "streaming_changed",
            Self::RecordingChanged => "recording_changed",
            Self::ConnectionChanged => "connection_changed",
            Self::SceneListChanged => "scene_list_changed",
            Self::StatsUpdated => "stats_updated",
            Self::OutputChanged => "output_changed",
            Self::SourceChanged => "source_changed",
            Self::StudioChanged => "studio_changed",
        }
    }

    pub fn of(change: &Change) -> Self {
        match change {
            Change::SceneChanged { .. } => Self::SceneChanged,
            Change::StreamingChanged { .. } => Self::StreamingChanged,
            Change::RecordingChanged { .. } => Self::RecordingChanged,
            Change::ConnectionChanged { .. } => Self::ConnectionChanged,
            Change::SceneListChanged { .. } => Self::SceneListChanged,
            Change::StatsUpdated { .. } => Self::StatsUpdated,
            Change::OutputChanged(_) => Self::OutputChanged,
            Change::SourceChanged(_) => Self::SourceChanged,
            Change::StudioChanged(_) => Self::StudioChanged,
        }
    }

    /// The names, for error messages.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
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

/// `data` carries the instance, the change and where it came from, in the field names the
/// callback endpoints accept (`scene_name`, `is_streaming`, `connected`), so one hub's
/// webhooks can feed another hub's callbacks.
pub fn data_for(event: &ChangeEvent) -> Value {
    let mut data = match &event.change {
        Change::SceneChanged { scene, previous } => json!({
            "scene_name": scene,
            "previous_scene": previous,
        }),
        Change::StreamingChanged {
            is_streaming,
            state,
        } => json!({ "is_streaming": is_streaming, "state": state }),
        Change::RecordingChanged {
            is_recording,
            state,
            output_path,
        } => json!({
            "is_recording": is_recording,
            "state": state,
            "output_path": output_path,
        }),
        Change::ConnectionChanged {
            state,
            connected,
            error,
        } => json!({ "connected": connected, "state": state, "error": error }),
        Change::SceneListChanged {
            scenes,
            scene_details,
        } => json!({ "scenes": scenes, "scene_details": scene_details }),
        Change::StatsUpdated {
            stats,
            stream,
            record,
        } => json!({ "stats": stats, "stream": stream, "record": record }),
        Change::OutputChanged(change) => json!(change),
        Change::SourceChanged(change) => json!(change),
        Change::StudioChanged(studio) => json!(studio),
    };
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

    fn event(change: Change) -> ChangeEvent {
        ChangeEvent {
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
            event_types: EventType::DEFAULT.to_vec(),
            instance: None,
        };
        assert!(all_instances.matches(EventType::SceneChanged, "a"));
        assert!(!all_instances.matches(EventType::StatsUpdated, "a"));
        let one = Filter {
            event_types: vec![EventType::StreamingChanged],
            instance: Some("booth".into()),
        };
        assert!(one.matches(EventType::StreamingChanged, "booth"));
        assert!(!one.matches(EventType::StreamingChanged, "studio"));
        assert!(!one.matches(EventType::SceneChanged, "booth"));
    }

    #[test]
    fn type_names_round_trip_and_unknown_ones_are_named() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
        let error = "scene_change".parse::<EventType>().unwrap_err();
        assert!(error.contains("scene_change") && error.contains("scene_changed"));
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
