//! The live-update protocol of `/ws`, as plain functions: what the hub sends, what it accepts,
//! which changes a session forwards. The README's "Live updates (WebSocket)" section documents
//! it for client authors.
//!
//! Server to client, JSON text frames, each with a `type`:
//! - `snapshot`: `{"type":"snapshot","seq":N,"running":..,"since":..,"instances":{name: status}}`,
//!   first on every connection and in answer to a resync;
//! - a change: the status manager's [`ChangeEvent`] as is, `{"seq":..,"instance":..,"at":..,
//!   "source":..,"type":"scene_changed",...}`, for every change with `seq` above the snapshot's,
//!   in order and without gaps; in a cluster of hubs also `instance_seq` (the instance's own
//!   number, gap-free across its owners; relayed changes of other nodes' instances included);
//! - `error`: `{"type":"error","error":code,"message":..}` for a client message not understood
//!   (`invalid_message`) or a subscription refused (`invalid_subscription`);
//! - `subscribed` / `unsubscribed`: `{"type":"subscribed","instance":..,"topics":[..]}`, the
//!   answer to a (un)subscription, sent before any notice of those topics;
//! - `notice`: `{"type":"notice","instance":..,"topic":..,"data":{..}}`, the lossy channel
//!   ([`crate::status::lossy`]): no `seq`, only for subscribed topics, the newest value only.
//!
//! Client to server: `{"type":"resync"}`, asking for a fresh snapshot;
//! `{"type":"subscribe","instance":..,"topics":[..]}` and `{"type":"unsubscribe",..}` for
//! notices.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::status::{ChangeEvent, HubSnapshot, InstanceStatus};

/// Close-frame reasons must fit in a control frame (125 bytes, 2 of them the code).
const MAX_CLOSE_REASON: usize = 123;

#[derive(Serialize)]
struct SnapshotMessage<'a> {
    r#type: &'static str,
    seq: u64,
    running: bool,
    since: DateTime<Utc>,
    instances: BTreeMap<&'a str, &'a InstanceStatus>,
}

/// The `snapshot` message: everything the hub knows, frozen at `snapshot.seq`.
pub fn snapshot_message(snapshot: &HubSnapshot) -> String {
    limited_snapshot_message(snapshot, &InstanceFilter::Every, snapshot.seq)
}

/// The `snapshot` message of a session that sees only `filter`'s instances, numbered `seq` in
/// its own count (see [`InstanceFilter`]).
pub fn limited_snapshot_message(
    snapshot: &HubSnapshot,
    filter: &InstanceFilter,
    seq: u64,
) -> String {
    to_json(&SnapshotMessage {
        r#type: "snapshot",
        seq,
        running: snapshot.running,
        since: snapshot.since,
        instances: snapshot
            .instances
            .iter()
            .filter(|(name, _)| filter.allows(name))
            .map(|(name, status)| (name.as_str(), &**status))
            .collect(),
    })
}

/// Which instances a session sees, decided once when it connects, from its token's instance
/// allow-list.
///
/// A limited session gets only its instances' changes, so the hub-wide `seq` would have gaps
/// (the other instances' changes), and a gap means resync to a client: it would resync after
/// nearly every change. So a limited session numbers what it sends in its own count instead,
/// gap-free from its first snapshot ([`renumbered`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum InstanceFilter {
    #[default]
    Every,
    Only(std::sync::Arc<[String]>),
}

impl InstanceFilter {
    /// From a token's allow-list (None: every instance).
    pub fn from_allow_list(instances: Option<&[String]>) -> Self {
        instances.map_or(InstanceFilter::Every, |names| {
            InstanceFilter::Only(names.into())
        })
    }

    pub fn allows(&self, instance: &str) -> bool {
        match self {
            InstanceFilter::Every => true,
            InstanceFilter::Only(names) => names.iter().any(|name| name == instance),
        }
    }

    /// Why a subscription to `instance` is refused, if it is.
    pub fn refusal(&self, instance: &str) -> Option<String> {
        match self {
            InstanceFilter::Only(names) if !self.allows(instance) => Some(format!(
                "this token may not see the instance `{instance}` (it is limited to: {})",
                names.join(", ")
            )),
            _ => None,
        }
    }
}

/// A change message with its `seq` replaced by `seq` (a limited session's own count). The
/// encoding starts with `{"seq":N,` (the field comes first in [`ChangeEvent`]), so this is a
/// splice; anything else is re-encoded.
pub fn renumbered(json: &str, seq: u64) -> String {
    let after_seq = json
        .strip_prefix("{\"seq\":")
        .and_then(|rest| {
            rest.find(|c: char| !c.is_ascii_digit())
                .map(|end| &rest[end..])
        })
        .filter(|rest| rest.starts_with(','));
    match after_seq {
        Some(rest) => format!("{{\"seq\":{seq}{rest}"),
        None => match serde_json::from_str::<serde_json::Value>(json) {
            Ok(mut value) => {
                value["seq"] = seq.into();
                value.to_string()
            }
            Err(_) => json.to_string(),
        },
    }
}

/// One change, as subscribers see it (`type` is the change kind, e.g. `scene_changed`).
pub fn change_message(event: &ChangeEvent) -> String {
    to_json(event)
}

/// An `error` message, for a client message the hub did not understand.
pub fn error_message(code: &str, message: &str) -> String {
    json!({ "type": "error", "error": code, "message": message }).to_string()
}

fn to_json(value: &impl Serialize) -> String {
    // Our types only have string map keys, so this cannot fail; should it ever, the client is
    // told in a message it understands rather than the session dying.
    serde_json::to_string(value).unwrap_or_else(|error| {
        log::error!("live update could not be serialised: {error}");
        error_message("internal", "the hub could not encode an update; resync")
    })
}

/// What a client may ask.
#[derive(Debug, PartialEq, Eq, Deserialize)]
// Extra fields are ignored: a newer client may say more (say, the last seq it holds).
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientRequest {
    /// Send a fresh snapshot: the client saw a gap in `seq` or lost track.
    Resync,
    /// Send notices of these topics of `instance` (all of them, or an error and none).
    Subscribe {
        instance: String,
        topics: Vec<String>,
    },
    /// Stop sending notices of these topics.
    Unsubscribe {
        instance: String,
        topics: Vec<String>,
    },
}

/// The answer to a subscription (`subscribed`) or an unsubscription (`unsubscribed`).
pub fn subscription_message(kind: &'static str, instance: &str, topics: &[String]) -> String {
    json!({ "type": kind, "instance": instance, "topics": topics }).to_string()
}

/// Parses a client's text frame; the error says what was wrong, for an `error` message.
pub fn parse_client_message(text: &str) -> Result<ClientRequest, String> {
    serde_json::from_str(text).map_err(|error| {
        format!(
            "not understood ({error}); send {{\"type\":\"resync\"}}, or \
             {{\"type\":\"subscribe\",\"instance\":..,\"topics\":[..]}} and \
             {{\"type\":\"unsubscribe\",..}} for notices"
        )
    })
}

/// Decides which changes a session forwards: only those newer than what the client already has.
///
/// A session subscribes before it reads the snapshot, so changes already contained in the
/// snapshot may still arrive; they are dropped here, which is what lets the client treat the
/// stream as "snapshot, then seq + 1, seq + 2, ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqGate {
    last_sent: u64,
}

impl SeqGate {
    /// After sending a snapshot taken at `seq`.
    pub fn after_snapshot(seq: u64) -> Self {
        Self { last_sent: seq }
    }

    /// A new snapshot was sent (resync). Snapshots never go back in time, but a stale one must
    /// not make the gate let old changes through twice.
    pub fn snapshot_sent(&mut self, seq: u64) {
        self.last_sent = self.last_sent.max(seq);
    }

    /// True (and remembered) when change `seq` is news to the client.
    pub fn admit(&mut self, seq: u64) -> bool {
        if seq <= self.last_sent {
            return false;
        }
        self.last_sent = seq;
        true
    }

    pub fn last_sent(&self) -> u64 {
        self.last_sent
    }
}

/// True when a client has sent nothing, not even a pong, for longer than `timeout`.
pub fn is_silent(last_heard: Instant, now: Instant, timeout: Duration) -> bool {
    now.saturating_duration_since(last_heard) > timeout
}

/// Close reason for a client that stayed silent.
pub fn silent_reason(timeout: Duration) -> String {
    close_reason(format!(
        "no answer to pings for {}; reconnect",
        human_duration(timeout)
    ))
}

/// Close reason for a client that fell too far behind (code 1013, "try again later").
pub fn too_slow_reason(max_backlog: usize) -> String {
    close_reason(format!(
        "too slow: more than {max_backlog} updates waiting; reconnect to get a fresh snapshot"
    ))
}

fn human_duration(duration: Duration) -> String {
    if duration.as_millis().is_multiple_of(1000) {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// Cuts a close reason to what a close frame can carry, on a character boundary.
pub fn close_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON {
        let mut cut = MAX_CLOSE_REASON;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use super::*;
    use crate::status::{Change, Source};

    #[test]
    fn snapshot_carries_seq_and_every_instance() {
        let now = Utc::now();
        let mut studio = InstanceStatus::new("studio", "10.0.0.5", 4455, now);
        studio.current_scene = Some("Live".into());
        let snapshot = HubSnapshot {
            running: true,
            since: now,
            seq: 41,
            instances: BTreeMap::from([
                (
                    "booth".to_string(),
                    Arc::new(InstanceStatus::new("booth", "h", 1, now)),
                ),
                ("studio".to_string(), Arc::new(studio)),
            ]),
        };
        let message: Value = serde_json::from_str(&snapshot_message(&snapshot)).unwrap();
        assert_eq!(message["type"], "snapshot");
        assert_eq!(message["seq"], 41);
        assert_eq!(message["running"], true);
        assert_eq!(message["instances"]["studio"]["current_scene"], "Live");
        assert_eq!(
            message["instances"]["booth"]["connection"]["state"],
            "connecting"
        );
    }

    #[test]
    fn a_change_is_the_change_event_itself() {
        let event = ChangeEvent {
            cluster: None,
            seq: 7,
            instance: "default".into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: "BRB".into(),
                previous: Some("Live".into()),
            },
        };
        let message: Value = serde_json::from_str(&change_message(&event)).unwrap();
        assert_eq!(message["type"], "scene_changed");
        assert_eq!(message["seq"], 7);
        assert_eq!(message["instance"], "default");
        assert_eq!(message["source"], "obs_event");
        assert_eq!(message["scene"], "BRB");
    }

    #[test]
    fn a_limited_snapshot_has_only_its_instances_and_its_own_seq() {
        let now = Utc::now();
        let snapshot = HubSnapshot {
            running: true,
            since: now,
            seq: 41,
            instances: ["booth", "studio"]
                .map(|name| {
                    let status = InstanceStatus::new(name, "h", 1, now);
                    (name.to_string(), Arc::new(status))
                })
                .into(),
        };
        let filter = InstanceFilter::from_allow_list(Some(&["studio".to_string()]));
        let message: Value =
            serde_json::from_str(&limited_snapshot_message(&snapshot, &filter, 3)).unwrap();
        assert_eq!(message["seq"], 3);
        let names: Vec<&String> = message["instances"].as_object().unwrap().keys().collect();
        assert_eq!(names, ["studio"]);
        assert!(InstanceFilter::from_allow_list(None).allows("booth"));
        assert_eq!(InstanceFilter::Every.refusal("booth"), None);
        let refusal = filter.refusal("booth").unwrap();
        assert!(
            refusal.contains("`booth`") && refusal.contains("studio"),
            "{refusal}"
        );
        assert_eq!(filter.refusal("studio"), None);
    }

    #[test]
    fn a_change_is_renumbered_for_a_limited_session() {
        let event = ChangeEvent {
            cluster: None,
            seq: 1234,
            instance: "studio".into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: "BRB".into(),
                previous: None,
            },
        };
        let original: Value = serde_json::from_str(&change_message(&event)).unwrap();
        let mut expected = original.clone();
        expected["seq"] = 5.into();
        let spliced: Value = serde_json::from_str(&renumbered(&change_message(&event), 5)).unwrap();
        assert_eq!(spliced, expected);
        // Any other field order is re-encoded.
        let reordered: Value =
            serde_json::from_str(&renumbered(r#"{"instance":"a","seq":9}"#, 2)).unwrap();
        assert_eq!(reordered, serde_json::json!({"instance": "a", "seq": 2}));
    }

    #[test]
    fn clients_may_ask_for_a_resync_and_subscribe_to_notices() {
        for good in [r#"{"type":"resync"}"#, r#"{"type":"resync","last_seq":4}"#] {
            assert_eq!(parse_client_message(good), Ok(ClientRequest::Resync));
        }
        assert_eq!(
            parse_client_message(
                r#"{"type":"subscribe","instance":"default","topics":["picture:program"]}"#
            ),
            Ok(ClientRequest::Subscribe {
                instance: "default".into(),
                topics: vec!["picture:program".into()]
            })
        );
        assert_eq!(
            parse_client_message(r#"{"type":"unsubscribe","instance":"a","topics":[]}"#),
            Ok(ClientRequest::Unsubscribe {
                instance: "a".into(),
                topics: vec![]
            })
        );
        let answer: Value = serde_json::from_str(&subscription_message(
            "subscribed",
            "default",
            &["picture:program".to_string()],
        ))
        .unwrap();
        assert_eq!(answer["type"], "subscribed");
        assert_eq!(answer["topics"][0], "picture:program");
        for bad in [
            r#"{"type":"subscribe"}"#,
            r#"{"type":"subscribe","topics":["picture:program"]}"#,
            "resync",
            "",
        ] {
            let error = parse_client_message(bad).unwrap_err();
            assert!(error.contains(r#"{"type":"resync"}"#), "{bad}: {error}");
        }
        let reply: Value =
            serde_json::from_str(&error_message("invalid_message", "not understood")).unwrap();
        assert_eq!(reply["type"], "error");
        assert_eq!(reply["error"], "invalid_message");
    }

    #[test]
    fn the_gate_drops_what_the_snapshot_already_holds_and_keeps_order() {
        let mut gate = SeqGate::after_snapshot(10);
        assert!(!gate.admit(9));
        assert!(!gate.admit(10));
        assert!(gate.admit(11));
        assert!(gate.admit(12));
        assert!(!gate.admit(12), "never twice");
        gate.snapshot_sent(20);
        assert!(!gate.admit(15));
        assert!(gate.admit(21));
        gate.snapshot_sent(5);
        assert_eq!(gate.last_sent(), 21, "a snapshot never rewinds the gate");
    }

    #[test]
    fn silence_is_measured_from_the_last_frame_heard() {
        let heard = Instant::now();
        let timeout = Duration::from_secs(30);
        assert!(!is_silent(heard, heard + Duration::from_secs(30), timeout));
        assert!(is_silent(heard, heard + Duration::from_secs(31), timeout));
        assert!(!is_silent(heard + Duration::from_secs(1), heard, timeout));
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        assert_eq!(
            silent_reason(Duration::from_secs(30)),
            "no answer to pings for 30 s; reconnect"
        );
        assert!(silent_reason(Duration::from_millis(400)).contains("400 ms"));
        assert!(too_slow_reason(256).starts_with("too slow"));
        let long = close_reason("é".repeat(100));
        assert!(long.len() <= MAX_CLOSE_REASON);
        assert!(long.chars().all(|c| c == 'é'));
    }
}
