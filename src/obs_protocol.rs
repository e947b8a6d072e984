//! The obs-websocket v5 (RPC version 1) message shapes, shared by the hub's own client session
//! (`obs::session`) and the simulated OBS (`fake_obs`): op codes, close codes, request status
//! codes, event intents, the authentication hash, the messages a client sends, the decoding of
//! what a server sends, and the shape comparison the conformance test uses.
//!
//! A leaf: it names nothing else in the crate. Written from the protocol document
//! (obs-websocket's `docs/generated/protocol.md`); no client library's code.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The only RPC version obs-websocket 5.x speaks.
pub const RPC_VERSION: u64 = 1;

/// Message op codes (`op` of every message).
pub mod op {
    pub const HELLO: u64 = 0;
    pub const IDENTIFY: u64 = 1;
    pub const IDENTIFIED: u64 = 2;
    pub const REIDENTIFY: u64 = 3;
    pub const EVENT: u64 = 5;
    pub const REQUEST: u64 = 6;
    pub const REQUEST_RESPONSE: u64 = 7;
    pub const REQUEST_BATCH: u64 = 8;
    pub const REQUEST_BATCH_RESPONSE: u64 = 9;
}

/// WebSocket close codes obs-websocket uses (plus the standard "going away" sent on quit).
pub mod close {
    /// OBS quit or its WebSocket server was stopped: clients should retry.
    pub const GOING_AWAY: u16 = 1001;
    /// The message was not valid JSON, not an object, or binary on a JSON session.
    pub const MESSAGE_DECODE_ERROR: u16 = 4002;
    /// A required field of the message data is missing.
    pub const MISSING_DATA_FIELD: u16 = 4003;
    /// A field of the message data has the wrong type.
    pub const INVALID_DATA_FIELD_TYPE: u16 = 4004;
    /// A field of the message data has a value the server does not accept.
    pub const INVALID_DATA_FIELD_VALUE: u16 = 4005;
    /// `op` is missing, not a number or unknown.
    pub const UNKNOWN_OP_CODE: u16 = 4006;
    /// Something other than Identify was sent before Identify.
    pub const NOT_IDENTIFIED: u16 = 4007;
    /// Identify was sent twice.
    pub const ALREADY_IDENTIFIED: u16 = 4008;
    /// Wrong or missing password.
    pub const AUTHENTICATION_FAILED: u16 = 4009;
    /// The client asked for an RPC version other than 1.
    pub const UNSUPPORTED_RPC_VERSION: u16 = 4010;
    /// The user kicked the session: clients must not reconnect automatically.
    pub const SESSION_INVALIDATED: u16 = 4011;

    /// Reason sent with [`GOING_AWAY`] when OBS quits (or its WebSocket server is stopped).
    pub const REASON_SERVER_STOPPING: &str = "Server stopping.";
    /// Reason sent with [`SESSION_INVALIDATED`] when the user presses "Kick" in OBS.
    pub const REASON_SESSION_INVALIDATED: &str = "Your session has been invalidated.";
}

/// Request status codes (`requestStatus.code`).
pub mod status {
    pub const SUCCESS: u16 = 100;
    pub const MISSING_REQUEST_TYPE: u16 = 203;
    pub const UNKNOWN_REQUEST_TYPE: u16 = 204;
    pub const MISSING_REQUEST_FIELD: u16 = 300;
    pub const MISSING_REQUEST_DATA: u16 = 301;
    pub const INVALID_REQUEST_FIELD: u16 = 400;
    pub const INVALID_REQUEST_FIELD_TYPE: u16 = 401;
    pub const REQUEST_FIELD_OUT_OF_RANGE: u16 = 402;
    pub const REQUEST_FIELD_EMPTY: u16 = 403;
    pub const TOO_MANY_REQUEST_FIELDS: u16 = 404;
    pub const OUTPUT_RUNNING: u16 = 500;
    pub const OUTPUT_NOT_RUNNING: u16 = 501;
    pub const OUTPUT_PAUSED: u16 = 502;
    pub const OUTPUT_NOT_PAUSED: u16 = 503;
    pub const STUDIO_MODE_NOT_ACTIVE: u16 = 506;
    pub const RESOURCE_NOT_FOUND: u16 = 600;
    pub const RESOURCE_ALREADY_EXISTS: u16 = 601;
    pub const INVALID_RESOURCE_TYPE: u16 = 602;
    pub const NOT_ENOUGH_RESOURCES: u16 = 603;
    pub const INVALID_RESOURCE_STATE: u16 = 604;
    pub const REQUEST_PROCESSING_FAILED: u16 = 702;
}

/// Event subscription bits (`eventIntent` of events, `eventSubscriptions` of sessions).
pub mod intent {
    /// ExitStarted, VendorEvent, CustomEvent.
    pub const GENERAL: u32 = 1 << 0;
    /// Scene collections and profiles.
    pub const CONFIG: u32 = 1 << 1;
    /// Scene created/removed/renamed, program scene and scene list changes.
    pub const SCENES: u32 = 1 << 2;
    /// Inputs (sources).
    pub const INPUTS: u32 = 1 << 3;
    /// Scene transitions.
    pub const TRANSITIONS: u32 = 1 << 4;
    /// Source filters.
    pub const FILTERS: u32 = 1 << 5;
    /// Stream, record, replay buffer and virtual camera state.
    pub const OUTPUTS: u32 = 1 << 6;
    /// Scene items.
    pub const SCENE_ITEMS: u32 = 1 << 7;
    /// Media input playback.
    pub const MEDIA_INPUTS: u32 = 1 << 8;
    /// Vendor (plugin) events.
    pub const VENDORS: u32 = 1 << 9;
    /// Studio mode and other UI events.
    pub const UI: u32 = 1 << 10;
    /// What obs-websocket 5.5 means by `All`: every low-volume category (Canvases came in 5.7).
    pub const ALL: u32 = GENERAL
        | CONFIG
        | SCENES
        | INPUTS
        | TRANSITIONS
        | FILTERS
        | OUTPUTS
        | SCENE_ITEMS
        | MEDIA_INPUTS
        | VENDORS
        | UI;
    /// InputVolumeMeters, about 20 a second: high volume, never part of `ALL`.
    pub const INPUT_VOLUME_METERS: u32 = 1 << 16;
}

/// The salt/challenge pair a session must answer when the server has a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    pub salt: String,
    pub challenge: String,
}

/// 32 random bytes in base64: what obs-websocket uses for both salt and challenge.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    BASE64.encode(bytes)
}

fn sha256_base64(first: &str, second: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(first.as_bytes());
    hasher.update(second.as_bytes());
    BASE64.encode(hasher.finalize())
}

/// The `authentication` string a client must send:
/// `base64(sha256(base64(sha256(password + salt)) + challenge))`.
pub fn expected_authentication(password: &str, salt: &str, challenge: &str) -> String {
    let secret = sha256_base64(password, salt);
    sha256_base64(&secret, challenge)
}

/// A whole protocol message `{op, d}` as text.
pub fn message(op: u64, d: Value) -> String {
    json!({ "op": op, "d": d }).to_string()
}

/// How the requests of a batch are run (`executionType` of a RequestBatch).
pub mod execution {
    /// One after the other, as fast as possible (the default).
    pub const SERIAL_REALTIME: i64 = 0;
    /// One per video frame (`Sleep` then counts frames).
    pub const SERIAL_FRAME: i64 = 1;
    /// All at once on a thread pool (no `Sleep`, no halting).
    pub const PARALLEL: i64 = 2;
}

/// What a server's Hello (op 0) tells the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub obs_websocket_version: String,
    pub rpc_version: u64,
    /// Present when the server requires a password.
    pub authentication: Option<AuthChallenge>,
}

/// Reads the `d` of a Hello. Errors name the field that is missing or mistyped.
pub fn parse_hello(d: &Map<String, Value>) -> Result<Hello, String> {
    let text = |object: &Map<String, Value>, key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("Hello has no string `{key}`"))
    };
    let authentication = match d.get("authentication") {
        None | Some(Value::Null) => None,
        Some(Value::Object(auth)) => Some(AuthChallenge {
            challenge: text(auth, "challenge")?,
            salt: text(auth, "salt")?,
        }),
        Some(_) => return Err("Hello's `authentication` is not an object".into()),
    };
    Ok(Hello {
        obs_websocket_version: text(d, "obsWebSocketVersion")?,
        rpc_version: d
            .get("rpcVersion")
            .and_then(Value::as_u64)
            .ok_or("Hello has no number `rpcVersion`")?,
        authentication,
    })
}

/// The Identify (op 1) answering `hello`; `None` when a password is required and none is given.
pub fn identify(hello: &Hello, password: Option<&str>, event_subscriptions: u32) -> Option<String> {
    let mut d = json!({ "rpcVersion": RPC_VERSION, "eventSubscriptions": event_subscriptions });
    if let Some(challenge) = &hello.authentication {
        d["authentication"] = json!(expected_authentication(
            password?,
            &challenge.salt,
            &challenge.challenge
        ));
    }
    Some(message(op::IDENTIFY, d))
}

/// A Reidentify (op 3) changing the event subscriptions of an identified session.
pub fn reidentify(event_subscriptions: u32) -> String {
    message(
        op::REIDENTIFY,
        json!({ "eventSubscriptions": event_subscriptions }),
    )
}

/// A Request (op 6). `request_data` is sent only when it is an object.
pub fn request(request_type: &str, request_id: &str, request_data: Option<&Value>) -> String {
    let mut d = json!({ "requestType": request_type, "requestId": request_id });
    if let Some(data) = request_data.filter(|data| data.is_object()) {
        d["requestData"] = data.clone();
    }
    message(op::REQUEST, d)
}

/// A RequestBatch (op 8) of already-checked request objects (`requestType`, optional
/// `requestId` and `requestData`).
pub fn request_batch(
    request_id: &str,
    halt_on_failure: bool,
    execution_type: i64,
    requests: &[Value],
) -> String {
    message(
        op::REQUEST_BATCH,
        json!({
            "requestId": request_id,
            "haltOnFailure": halt_on_failure,
            "executionType": execution_type,
            "requests": requests,
        }),
    )
}

/// A server message decoded far enough to dispatch on.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerMessage {
    pub op: u64,
    pub data: Map<String, Value>,
}

/// Decodes a text frame from the server: `{"op": number, "d": object}`.
pub fn decode_server_message(text: &str) -> Result<ServerMessage, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("not JSON from OBS: {error}"))?;
    let Value::Object(mut message) = value else {
        return Err("a message from OBS is not an object".into());
    };
    let op = message
        .get("op")
        .and_then(Value::as_u64)
        .ok_or("a message from OBS has no number `op`")?;
    match message.remove("d") {
        Some(Value::Object(data)) => Ok(ServerMessage { op, data }),
        _ => Err(format!("a message from OBS (op {op}) has no object `d`")),
    }
}

/// The shape of a JSON value: objects keep their keys with the shapes of their values, arrays
/// the shape of their first element, and every scalar becomes the name of its JSON type.
/// Two answers with equal shapes differ only in values.
pub fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("boolean"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => match items.first() {
            Some(first) => json!([shape(first)]),
            None => json!([]),
        },
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), shape(value)))
                .collect(),
        ),
    }
}

/// Where two shapes differ, as `path: what` lines (empty when they match). An empty array
/// matches any array: it shows no element to compare.
pub fn shape_differences(expected: &Value, actual: &Value) -> Vec<String> {
    let mut differences = Vec::new();
    compare_shapes("$", expected, actual, &mut differences);
    differences
}

fn compare_shapes(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, value) in left {
                match right.get(key) {
                    Some(other) => compare_shapes(&format!("{path}.{key}"), value, other, out),
                    None => out.push(format!("{path}.{key}: missing")),
                }
            }
            for key in right.keys().filter(|key| !left.contains_key(*key)) {
                out.push(format!("{path}.{key}: not expected"));
            }
        }
        (Value::Array(left), Value::Array(right)) => {
            if let (Some(left), Some(right)) = (left.first(), right.first()) {
                compare_shapes(&format!("{path}[0]"), left, right, out);
            }
        }
        _ if shape(expected) == shape(actual) => {}
        _ => out.push(format!(
            "{path}: expected {}, got {}",
            type_name(expected),
            type_name(actual)
        )),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON object from a `json!` literal: the tests here and the simulated OBS's build messages
/// with it.
#[cfg(test)]
pub(crate) fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_answers_the_challenge_of_the_hello() {
        let hello = parse_hello(&object(json!({
            "obsWebSocketVersion": "5.5.2",
            "rpcVersion": 1,
            "authentication": {"challenge": "c", "salt": "s"},
        })))
        .expect("hello");
        let sent: Value =
            serde_json::from_str(&identify(&hello, Some("pw"), intent::OUTPUTS).expect("pw"))
                .expect("json");
        assert_eq!(sent["op"], op::IDENTIFY);
        assert_eq!(sent["d"]["eventSubscriptions"], intent::OUTPUTS);
        assert_eq!(
            sent["d"]["authentication"],
            expected_authentication("pw", "s", "c")
        );
        assert_eq!(identify(&hello, None, 0), None, "a password is needed");

        let open = parse_hello(&object(
            json!({"obsWebSocketVersion": "5.5.2", "rpcVersion": 1}),
        ))
        .expect("hello");
        let sent: Value =
            serde_json::from_str(&identify(&open, None, 0).expect("no password needed"))
                .expect("json");
        assert!(sent["d"].get("authentication").is_none());

        let broken = parse_hello(&object(json!({"rpcVersion": 1}))).unwrap_err();
        assert!(broken.contains("obsWebSocketVersion"), "{broken}");
    }

    #[test]
    fn requests_carry_their_data_only_when_it_is_an_object() {
        let with: Value =
            serde_json::from_str(&request("Sleep", "7", Some(&json!({"sleepMillis": 5}))))
                .expect("json");
        assert_eq!(
            with,
            json!({"op": 6, "d": {"requestType": "Sleep", "requestId": "7",
                                  "requestData": {"sleepMillis": 5}}})
        );
        let without: Value =
            serde_json::from_str(&request("GetVersion", "8", Some(&json!(null)))).expect("json");
        assert!(without["d"].get("requestData").is_none());
    }

    #[test]
    fn server_messages_need_an_op_and_an_object() {
        let message = decode_server_message(r#"{"op":7,"d":{"requestId":"1"}}"#).expect("ok");
        assert_eq!(message.op, op::REQUEST_RESPONSE);
        assert!(decode_server_message(r#"{"op":7}"#).is_err());
        assert!(decode_server_message(r#"{"d":{}}"#).is_err());
        assert!(decode_server_message("[]").is_err());
    }

    #[test]
    fn shapes_compare_keys_and_types_not_values() {
        let real = json!({"a": 1.5, "b": ["x", "y"], "c": {"d": true}, "e": []});
        let same = json!({"a": 7, "b": ["z"], "c": {"d": false}, "e": [{"f": 1}]});
        assert_eq!(shape_differences(&real, &same), Vec::<String>::new());
        let drifted = json!({"a": "1.5", "b": [3], "c": {}, "g": null, "e": []});
        assert_eq!(
            shape_differences(&real, &drifted),
            vec![
                "$.a: expected number, got string",
                "$.b[0]: expected string, got number",
                "$.c.d: missing",
                "$.g: not expected",
            ]
        );
    }
}
