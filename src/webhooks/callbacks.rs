//! Callbacks in: what `/api/callback/...` accepts, who may call it, and the memory that keeps a
//! replayed or outdated message from being applied.
//!
//! Two body shapes are accepted on every route: the seed's flat one (`{"scene_name": "Live",
//! "instance": "studio"}`) and the Standard Webhooks envelope another hub's dispatcher sends
//! (`{"type": "scene_changed", "timestamp": ..., "data": {...}}`), so that hub A's
//! `OBS_CALLBACK_BASE_URL` can point at hub B.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{events::EventType, signing};
use crate::{
    error::ApiError,
    secret::{token_matches, Secret},
    status::{
        kinds::{read_fields, CallbackReading, CallbackRule},
        update::ObsUpdate,
    },
};

/// How long a `webhook-id` is remembered: twice the timestamp tolerance, so a message cannot be
/// replayed while its timestamp would still be accepted.
pub const REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(10);
/// Ids remembered at most (the oldest are forgotten first).
pub const REPLAY_CAPACITY: usize = 100_000;

/// What a callback route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackRoute {
    /// `/api/callback/scene-change/` and its siblings: one kind each.
    Only(EventType),
    /// `/api/callback/`: any envelope the dispatcher sends (so a hub can be a plain webhook
    /// endpoint of another, with every event type).
    Any,
}

impl CallbackRoute {
    /// The seed's flat route `/api/callback/{path}/`: the kind whose callback rule names `path`
    /// (every such path is mounted; the test below checks they all resolve).
    pub fn flat(path: &str) -> Self {
        super::endpoint::callback_routes()
            .find(|(route, _)| *route == path)
            .map_or(Self::Any, |(_, kind)| Self::Only(kind))
    }
}

/// A callback, understood.
#[derive(Clone, Debug, PartialEq)]
pub struct CallbackMessage {
    /// None: the default instance.
    pub instance: Option<String>,
    /// None for a `webhook.test` message (acknowledged, nothing to apply).
    pub update: Option<(EventType, ObsUpdate)>,
    /// When the change happened (the envelope's `timestamp`); None for flat bodies.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The Standard Webhooks envelope the dispatcher sends.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "type": "scene_changed",
    "timestamp": "2026-01-31T20:15:00Z",
    "data": {"instance": "default", "scene_name": "Live"}
}))]
pub struct Envelope {
    /// `scene_changed`, `streaming_changed`, `recording_changed`, `connection_changed`,
    /// `scene_list_changed` or `webhook.test`.
    #[serde(rename = "type")]
    kind: String,
    /// When the change happened (RFC 3339).
    timestamp: DateTime<Utc>,
    /// The fields of the flat body of that type, and more (`seq`, `source` ...).
    data: Value,
}

/// Parses a callback body for `route`. Errors name the field, as everywhere in the API.
pub fn parse(route: CallbackRoute, body: &[u8]) -> Result<CallbackMessage, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidJson(
            "a JSON body is required; see the README for the callback routes".to_string(),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::InvalidJson(format!("the request body is not valid JSON: {error}"))
    })?;
    let Value::Object(fields) = &value else {
        return Err(ApiError::InvalidField(
            "the body must be a JSON object".to_string(),
        ));
    };
    if fields.contains_key("type") || fields.contains_key("data") {
        let envelope: Envelope = deserialize(value, "")?;
        if envelope.kind == super::events::TEST_EVENT_TYPE {
            return Ok(CallbackMessage {
                instance: None,
                update: None,
                occurred_at: Some(envelope.timestamp),
            });
        }
        let kind = envelope_kind(route, &envelope.kind)?;
        let (instance, update) = update_from(kind, envelope.data, "data.")?;
        return Ok(CallbackMessage {
            instance,
            update: Some((kind, update)),
            occurred_at: Some(envelope.timestamp),
        });
    }
    let CallbackRoute::Only(kind) = route else {
        return Err(ApiError::InvalidField(
            "`type`: missing; /api/callback/ takes the Standard Webhooks envelope \
             {\"type\", \"timestamp\", \"data\"} (the flat bodies go to \
             /api/callback/scene-change/ and its siblings)"
                .to_string(),
        ));
    };
    let allowed = callback_rule(kind)?.fields;
    if let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(ApiError::InvalidField(format!(
            "unknown field `{unknown}`; this route takes: {}",
            allowed.join(", ")
        )));
    }
    let (instance, update) = update_from(kind, value, "")?;
    Ok(CallbackMessage {
        instance,
        update: Some((kind, update)),
        occurred_at: None,
    })
}

fn envelope_kind(route: CallbackRoute, name: &str) -> Result<EventType, ApiError> {
    let accepted = |kind: EventType| match route {
        CallbackRoute::Only(only) => kind == only,
        CallbackRoute::Any => kind.descriptor().callback.is_some(),
    };
    match EventType::named(name) {
        Some(kind) if accepted(kind) => Ok(kind),
        _ => Err(ApiError::InvalidField(match route {
            CallbackRoute::Only(only) => format!(
                "`type`: this route takes `{only}` (or `webhook.test`), not `{name}`; \
                 POST /api/callback/ takes every type"
            ),
            CallbackRoute::Any => format!(
                "`type`: `{name}` is not accepted; known: {}, {}",
                callback_kinds().join(", "),
                super::events::TEST_EVENT_TYPE
            ),
        })),
    }
}

/// The names of the kinds callbacks may carry, in the descriptors' order.
pub fn callback_kinds() -> Vec<&'static str> {
    EventType::all()
        .filter(|kind| kind.descriptor().callback.is_some())
        .map(EventType::as_str)
        .collect()
}

fn callback_rule(kind: EventType) -> Result<&'static CallbackRule, ApiError> {
    kind.descriptor().callback.as_ref().ok_or_else(|| {
        ApiError::InvalidField(format!("`type`: {kind} is not accepted as a callback"))
    })
}

/// The update a callback of `kind` asks for, read by the kind's own rule.
fn update_from(kind: EventType, data: Value, prefix: &str) -> Result<CallbackReading, ApiError> {
    (callback_rule(kind)?.read)(data, prefix).map_err(ApiError::InvalidField)
}

fn deserialize<T: DeserializeOwned>(value: Value, prefix: &str) -> Result<T, ApiError> {
    read_fields(value, prefix).map_err(ApiError::InvalidField)
}

/// How a callback was let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A valid Standard Webhooks signature with the callback secret.
    Signature,
    /// A valid API token (scripts; the token already allows everything else).
    Token,
    /// Neither a callback secret nor API tokens are configured (loopback-only hub).
    Open,
}

/// The headers that matter for admission, as received.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallbackHeaders<'a> {
    pub bearer_token: Option<&'a str>,
    pub webhook_id: Option<&'a str>,
    pub webhook_timestamp: Option<&'a str>,
    pub webhook_signature: Option<&'a str>,
}

/// What the headers alone decide about a callback, before its body is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precheck {
    /// Let in whatever the body says: a valid API token, or a hub with neither a callback secret
    /// nor tokens.
    Admitted(Admission),
    /// Signature headers present, well formed and fresh: the signature itself covers the body,
    /// so [`admit`] decides once the body is in.
    SignatureToVerify,
}

/// Who may post a callback, as far as the headers tell: with a callback secret configured, a
/// valid API token or well-formed, fresh signature headers; without one, what the rest of
/// `/api` asks (a token when tokens are configured). Everything refused here is refused before
/// its body is read. The error is the 401 message: it names what is missing or wrong, never a
/// secret.
pub fn precheck(
    callback_secret: Option<&Secret>,
    api_tokens: &[Secret],
    headers: CallbackHeaders<'_>,
    now: i64,
) -> Result<Precheck, String> {
    if let Some(token) = headers.bearer_token {
        if !api_tokens.is_empty() && token_matches(token, api_tokens) {
            return Ok(Precheck::Admitted(Admission::Token));
        }
    }
    if callback_secret.is_some() {
        return signing::check_headers(
            headers.webhook_id,
            headers.webhook_timestamp,
            headers.webhook_signature,
            now,
        )
        .map(|_| Precheck::SignatureToVerify)
        .map_err(signed_only);
    }
    if api_tokens.is_empty() {
        return Ok(Precheck::Admitted(Admission::Open));
    }
    Err(match headers.bearer_token {
        Some(_) => "the API token is not valid".to_string(),
        None => "this hub requires an API token: send `Authorization: Bearer <token>`, or set \
                 the same OBS_HUB_CALLBACK_SECRET on both hubs so callbacks are signed"
            .to_string(),
    })
}

fn signed_only(error: signing::SignatureError) -> String {
    format!(
        "this hub takes signed callbacks only (Standard Webhooks, signed with its \
         OBS_HUB_CALLBACK_SECRET): {error}"
    )
}

/// Who may post a callback: [`precheck`], then, for a signed one, a signature made with the
/// callback secret over this body.
pub fn admit(
    callback_secret: Option<&Secret>,
    api_tokens: &[Secret],
    headers: CallbackHeaders<'_>,
    body: &[u8],
    now: i64,
) -> Result<Admission, String> {
    match precheck(callback_secret, api_tokens, headers, now)? {
        Precheck::Admitted(admission) => Ok(admission),
        Precheck::SignatureToVerify => {
            let Some(secret) = callback_secret else {
                return Err("the hub has no callback secret to check the signature".to_string());
            };
            let key = signing::key_bytes(secret)
                .map_err(|_| "the hub's callback secret is malformed".to_string())?;
            signing::verify(
                &key,
                headers.webhook_id,
                headers.webhook_timestamp,
                headers.webhook_signature,
                body,
                now,
            )
            .map(|()| Admission::Signature)
            .map_err(signed_only)
        }
    }
}

/// Remembers recently seen `webhook-id`s (replays) and the newest change applied per instance
/// and kind (retries that arrive after a newer change). In memory: a restart forgets them, which
/// only matters for a message replayed within the 5 minutes its timestamp stays valid.
pub struct CallbackMemory {
    seen: HashMap<String, DateTime<Utc>>,
    order: VecDeque<(DateTime<Utc>, String)>,
    newest: HashMap<(String, EventType), DateTime<Utc>>,
    window: chrono::Duration,
    capacity: usize,
}

impl Default for CallbackMemory {
    fn default() -> Self {
        Self::new(REPLAY_WINDOW, REPLAY_CAPACITY)
    }
}

impl CallbackMemory {
    pub fn new(window: chrono::Duration, capacity: usize) -> Self {
        Self {
            seen: HashMap::new(),
            order: VecDeque::new(),
            newest: HashMap::new(),
            window,
            capacity: capacity.max(1),
        }
    }

    /// True the first time `id` is seen within the window; remembers it.
    pub fn first_sight(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now - *at <= self.window && self.order.len() < self.capacity {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains_key(id) {
            return false;
        }
        self.seen.insert(id.to_string(), now);
        self.order.push_back((now, id.to_string()));
        true
    }

    /// True (and remembered) unless a change of this kind for this instance that happened later
    /// was applied already: a retried old message must not undo a newer one.
    pub fn is_newest(&mut self, instance: &str, kind: EventType, at: DateTime<Utc>) -> bool {
        let key = (instance.to_string(), kind);
        match self.newest.get(&key) {
            Some(newest) if *newest > at => false,
            _ => {
                self.newest.insert(key, at);
                true
            }
        }
    }

    pub fn remembered_ids(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ConnectionState;

    fn kind(name: &str) -> EventType {
        EventType::named(name).unwrap()
    }

    fn scene_route() -> CallbackRoute {
        CallbackRoute::Only(kind("scene_changed"))
    }

    #[test]
    fn flat_bodies_of_the_seed_are_accepted() {
        let message = parse(scene_route(), br#"{"scene_name": "Live"}"#).unwrap();
        assert_eq!(message.instance, None);
        assert_eq!(
            message.update,
            Some((
                kind("scene_changed"),
                ObsUpdate::ProgramScene("Live".into())
            ))
        );
        let streaming = parse(
            CallbackRoute::Only(kind("streaming_changed")),
            br#"{"is_streaming": true, "instance": "booth"}"#,
        )
        .unwrap();
        assert_eq!(streaming.instance.as_deref(), Some("booth"));
        assert_eq!(
            streaming.update.unwrap().1,
            ObsUpdate::StreamState {
                active: true,
                state: "started".into()
            }
        );
        let connection = parse(
            CallbackRoute::Only(kind("connection_changed")),
            br#"{"connected": false, "error": "refused"}"#,
        )
        .unwrap();
        let Some((_, ObsUpdate::Connection(report))) = connection.update else {
            panic!("a connection report");
        };
        assert_eq!(report.state, ConnectionState::Reconnecting);
        assert_eq!(report.error.as_deref(), Some("refused"));
    }

    #[test]
    fn the_dispatchers_envelope_is_accepted() {
        let body = br#"{"type": "scene_changed", "timestamp": "2026-11-23T22:00:00.123Z",
            "data": {"instance": "studio", "scene_name": "BRB", "previous_scene": "Live",
                     "seq": 9, "source": "obs_event"}}"#;
        let message = parse(scene_route(), body).unwrap();
        assert_eq!(message.instance.as_deref(), Some("studio"));
        assert_eq!(message.occurred_at.unwrap().timestamp_subsec_millis(), 123);
        assert_eq!(
            message.update.unwrap().1,
            ObsUpdate::ProgramScene("BRB".into())
        );
        let any = parse(
            CallbackRoute::Any,
            br#"{"type": "recording_changed", "timestamp": "2026-11-23T22:00:00Z",
                "data": {"instance": "a", "is_recording": false, "state": "stopped",
                         "output_path": "/r.mkv"}}"#,
        )
        .unwrap();
        let (any_kind, any_update) = any.update.unwrap();
        assert_eq!(any_kind, kind("recording_changed"));
        assert!(matches!(
            any_update,
            ObsUpdate::RecordState { active: false, .. }
        ));
        let test = parse(
            scene_route(),
            br#"{"type": "webhook.test", "timestamp": "2026-11-23T22:00:00Z", "data": {}}"#,
        )
        .unwrap();
        assert_eq!(test.update, None);
    }

    #[test]
    fn the_dispatchers_own_messages_parse_back() {
        use crate::status::{update::Source, Change, ChangeEvent};
        let event = ChangeEvent {
            cluster: None,
            seq: 3,
            instance: "studio".into(),
            at: Utc::now(),
            source: Source::Poll,
            change: Change::ConnectionChanged {
                state: ConnectionState::AuthFailed,
                connected: false,
                error: Some("wrong password".into()),
            },
        };
        let sent = super::super::events::message_for(&event);
        let received = parse(CallbackRoute::Any, sent.body.as_bytes()).unwrap();
        let Some((received_kind, ObsUpdate::Connection(report))) = received.update else {
            panic!("a connection change");
        };
        assert_eq!(received_kind, kind("connection_changed"));
        assert_eq!(report.state, ConnectionState::AuthFailed);
        assert_eq!(received.instance.as_deref(), Some("studio"));
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let cases: [(CallbackRoute, &[u8], &str, &str); 11] = [
            (scene_route(), b"{}", "invalid_field", "scene_name"),
            (scene_route(), br#"{"scene_name": "A\u0000"}"#, "invalid_field", "`scene_name` must not contain control"),
            (
                CallbackRoute::Any,
                br#"{"type": "scene_list_changed", "timestamp": "2026-11-23T22:00:00Z", "data": {"scenes": ["A", "B\u007f"]}}"#,
                "invalid_field",
                "`data.scenes[1]` must not contain control",
            ),
            (scene_route(), br#"{"scene_name": 5}"#, "invalid_field", "scene_name"),
            (scene_route(), br#"{"scene_name": ""}"#, "invalid_field", "scene_name"),
            (scene_route(), br#"{"scene": "A"}"#, "invalid_field", "`scene`"),
            (scene_route(), b"{\"scene_name\": ", "invalid_json", "JSON"),
            (scene_route(), b"", "invalid_json", "required"),
            (
                scene_route(),
                br#"{"type": "streaming_changed", "timestamp": "2026-11-23T22:00:00Z", "data": {}}"#,
                "invalid_field",
                "`type`",
            ),
            (
                scene_route(),
                br#"{"type": "scene_changed", "timestamp": "2026-11-23T22:00:00Z", "data": {"scene_name": 1}}"#,
                "invalid_field",
                "data.scene_name",
            ),
            (
                CallbackRoute::Only(kind("connection_changed")),
                br#"{"connected": true, "state": "reconnecting"}"#,
                "invalid_field",
                "contradicts",
            ),
        ];
        for (route, body, code, mentions) in cases {
            let error = parse(route, body).unwrap_err();
            let text = String::from_utf8_lossy(body);
            assert_eq!(error.code(), code, "{text}: {error}");
            assert!(error.to_string().contains(mentions), "{text}: {error}");
        }
        let envelope_without_time = parse(
            scene_route(),
            br#"{"type": "scene_changed", "data": {"scene_name": "A"}}"#,
        )
        .unwrap_err();
        assert!(envelope_without_time.to_string().contains("timestamp"));
    }

    /// The three signature headers of a signed callback, no bearer token.
    fn signed_headers<'a>(
        id: &'a str,
        timestamp: &'a str,
        signature: &'a str,
    ) -> CallbackHeaders<'a> {
        CallbackHeaders {
            webhook_id: Some(id),
            webhook_timestamp: Some(timestamp),
            webhook_signature: Some(signature),
            ..CallbackHeaders::default()
        }
    }

    #[test]
    fn admission_follows_the_configuration() {
        let secret = signing::generate_secret();
        let key = signing::key_bytes(&secret).unwrap();
        let tokens = [Secret::new("0123456789abcdef-token")];
        let body = br#"{"scene_name": "A"}"#;
        let now = 1_800_000_000;
        let signature = signing::sign(&key, "msg_1", now, body);
        let timestamp = now.to_string();
        let signed = signed_headers("msg_1", &timestamp, &signature);
        assert_eq!(
            admit(Some(&secret), &[], signed, body, now),
            Ok(Admission::Signature)
        );
        assert_eq!(
            admit(Some(&secret), &tokens, signed, body, now),
            Ok(Admission::Signature)
        );
        // Wrong body, stale, missing: refused with the reason, never the secret.
        let tampered = admit(Some(&secret), &[], signed, b"{}", now).unwrap_err();
        assert!(
            tampered.contains("no `webhook-signature` entry matches"),
            "{tampered}"
        );
        assert!(!tampered.contains(secret.expose()));
        let stale = admit(Some(&secret), &[], signed, body, now + 301).unwrap_err();
        assert!(stale.contains("5 minutes"), "{stale}");
        let missing = admit(Some(&secret), &[], CallbackHeaders::default(), body, now);
        assert!(missing.unwrap_err().contains("webhook-id"));
        // A valid API token is let in too; a wrong one is not enough.
        let with_token = CallbackHeaders {
            bearer_token: Some("0123456789abcdef-token"),
            ..CallbackHeaders::default()
        };
        assert_eq!(
            admit(Some(&secret), &tokens, with_token, body, now),
            Ok(Admission::Token)
        );
        let wrong_token = CallbackHeaders {
            bearer_token: Some("nope"),
            ..CallbackHeaders::default()
        };
        assert!(admit(Some(&secret), &tokens, wrong_token, body, now).is_err());
        // No secret: what /api asks.
        assert_eq!(
            admit(None, &[], CallbackHeaders::default(), body, now),
            Ok(Admission::Open)
        );
        assert!(admit(None, &tokens, CallbackHeaders::default(), body, now)
            .unwrap_err()
            .contains("OBS_HUB_CALLBACK_SECRET"));
        assert_eq!(
            admit(None, &tokens, with_token, body, now),
            Ok(Admission::Token)
        );
    }

    #[test]
    fn the_headers_decide_what_is_refused_before_the_body() {
        let secret = signing::generate_secret();
        let tokens = [Secret::new("0123456789abcdef-token")];
        let now = 1_800_000_000;
        let timestamp = now.to_string();
        // Well formed: a signature the body will decide on (any 32 bytes look alike here).
        let signature = signing::sign(b"any key", "msg_1", now, b"");
        let signed = signed_headers("msg_1", &timestamp, &signature);
        assert_eq!(
            precheck(Some(&secret), &tokens, signed, now),
            Ok(Precheck::SignatureToVerify)
        );
        let with_token = CallbackHeaders {
            bearer_token: Some("0123456789abcdef-token"),
            ..CallbackHeaders::default()
        };
        assert_eq!(
            precheck(Some(&secret), &tokens, with_token, now),
            Ok(Precheck::Admitted(Admission::Token))
        );
        assert_eq!(
            precheck(None, &[], CallbackHeaders::default(), now),
            Ok(Precheck::Admitted(Admission::Open))
        );
        let stale_timestamp = (now - 301).to_string();
        let refused = [
            (Some(&secret), CallbackHeaders::default(), "webhook-id"),
            (
                Some(&secret),
                CallbackHeaders {
                    webhook_timestamp: Some(&stale_timestamp),
                    ..signed
                },
                "5 minutes",
            ),
            (
                Some(&secret),
                CallbackHeaders {
                    webhook_signature: Some("v1,short"),
                    ..signed
                },
                "v1,",
            ),
            (None, CallbackHeaders::default(), "API token"),
            (None, signed, "API token"),
        ];
        for (secret, headers, reason) in refused {
            let error = precheck(secret, &tokens, headers, now).unwrap_err();
            assert!(error.contains(reason), "{reason}: {error}");
        }
    }

    #[test]
    fn replays_are_recognised_within_the_window_and_memory_is_bounded() {
        let start = Utc::now();
        let mut memory = CallbackMemory::new(chrono::Duration::minutes(10), 3);
        assert!(memory.first_sight("a", start));
        assert!(!memory.first_sight("a", start + chrono::Duration::minutes(9)));
        assert!(memory.first_sight("b", start));
        assert!(memory.first_sight("c", start));
        // Full: the oldest is forgotten to make room.
        assert!(memory.first_sight("d", start));
        assert_eq!(memory.remembered_ids(), 3);
        assert!(memory.first_sight("a", start));
        // Past the window everything is forgotten.
        let later = start + chrono::Duration::minutes(11);
        assert!(memory.first_sight("z", later));
        assert_eq!(memory.remembered_ids(), 1);
    }

    #[test]
    fn an_older_change_does_not_undo_a_newer_one() {
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(1);
        let mut memory = CallbackMemory::default();
        assert!(memory.is_newest("studio", kind("scene_changed"), t1));
        assert!(!memory.is_newest("studio", kind("scene_changed"), t0));
        assert!(memory.is_newest("studio", kind("streaming_changed"), t0));
        assert!(memory.is_newest("booth", kind("scene_changed"), t0));
        assert!(memory.is_newest("studio", kind("scene_changed"), t1));
    }
}
