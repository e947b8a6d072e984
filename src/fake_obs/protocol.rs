//! The wire vocabulary of obs-websocket v5 (RPC version 1) as the fake server speaks it:
//! op codes, close codes, request status codes, event intents, the authentication hash, and the
//! pure checks on `Identify`/`Reidentify`. Close reasons and comments are obs-websocket's own
//! wording, because clients match on them (Companion, for one, uses a regex on the auth reasons).

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
}

/// A reason to close the WebSocket: the code and obs-websocket's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    pub code: u16,
    pub reason: String,
}

impl CloseReason {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        CloseReason {
            code,
            reason: reason.into(),
        }
    }
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

/// The Hello (op 0) sent right after the WebSocket upgrade.
pub fn hello(websocket_version: &str, auth: Option<&AuthChallenge>) -> String {
    let mut d = json!({
        "obsWebSocketVersion": websocket_version,
        "rpcVersion": RPC_VERSION,
    });
    if let Some(auth) = auth {
        d["authentication"] = json!({ "challenge": auth.challenge, "salt": auth.salt });
    }
    message(op::HELLO, d)
}

/// The Identified (op 2) answer to Identify and Reidentify.
pub fn identified() -> String {
    message(
        op::IDENTIFIED,
        json!({ "negotiatedRpcVersion": RPC_VERSION }),
    )
}

/// An event (op 5). Like obs-websocket, `eventData` is left out when there is no data object.
pub fn event(event_type: &str, event_intent: u32, event_data: Option<&Value>) -> String {
    let mut d = json!({ "eventType": event_type, "eventIntent": event_intent });
    if let Some(data) = event_data.filter(|data| data.is_object()) {
        d["eventData"] = data.clone();
    }
    message(op::EVENT, d)
}

/// The `requestStatus` object: `comment` only when there is one, as obs-websocket does.
pub fn request_status(code: u16, comment: Option<&str>) -> Value {
    let mut status = json!({ "result": code == status::SUCCESS, "code": code });
    if let Some(comment) = comment.filter(|c| !c.is_empty()) {
        status["comment"] = Value::String(comment.to_owned());
    }
    status
}

/// One request result: the `d` of a RequestResponse (op 7) or an entry of a batch's `results`.
/// `requestId` is echoed only if the client sent one (batch entries may omit it).
pub fn request_result(
    request_type: &Value,
    request_id: Option<&Value>,
    code: u16,
    comment: Option<&str>,
    response_data: Option<&Value>,
) -> Value {
    let mut d = Map::new();
    d.insert("requestType".into(), request_type.clone());
    if let Some(id) = request_id {
        d.insert("requestId".into(), id.clone());
    }
    d.insert("requestStatus".into(), request_status(code, comment));
    if let Some(data) = response_data.filter(|data| data.is_object()) {
        d.insert("responseData".into(), data.clone());
    }
    Value::Object(d)
}

/// A client message decoded far enough to dispatch on: its op code and data object.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMessage {
    pub op: u64,
    pub data: Map<String, Value>,
}

/// Decodes a text frame the way obs-websocket validates it, giving the close it would send for
/// anything malformed. `identified` decides whether non-Identify messages are allowed yet.
pub fn decode_client_message(text: &str, identified: bool) -> Result<ClientMessage, CloseReason> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        CloseReason::new(
            close::MESSAGE_DECODE_ERROR,
            format!("Unable to decode Json: {e}"),
        )
    })?;
    let Value::Object(mut message) = value else {
        return Err(CloseReason::new(
            close::MESSAGE_DECODE_ERROR,
            "You sent a non-object payload.",
        ));
    };
    if !identified && message.contains_key("request-type") {
        return Err(CloseReason::new(
            close::UNSUPPORTED_RPC_VERSION,
            "You appear to be attempting to connect with the pre-5.0.0 plugin protocol. \
             Check to make sure your client is updated.",
        ));
    }
    let op = match message.get("op") {
        None => {
            return Err(CloseReason::new(
                close::UNKNOWN_OP_CODE,
                "Your request is missing an `op`.",
            ))
        }
        Some(op) => op.as_u64().ok_or_else(|| {
            CloseReason::new(close::UNKNOWN_OP_CODE, "Your `op` is not a number.")
        })?,
    };
    let data = match message.remove("d") {
        None | Some(Value::Null) => {
            return Err(CloseReason::new(
                close::MISSING_DATA_FIELD,
                "Your payload is missing data (`d`).",
            ))
        }
        Some(Value::Object(data)) => data,
        Some(_) => {
            return Err(CloseReason::new(
                close::INVALID_DATA_FIELD_TYPE,
                "Your payload's data (`d`) is not an object.",
            ))
        }
    };
    if !identified && op != op::IDENTIFY {
        return Err(CloseReason::new(
            close::NOT_IDENTIFIED,
            "You attempted to send a non-Identify message while not identified.",
        ));
    }
    Ok(ClientMessage { op, data })
}

/// The session parameters an Identify or Reidentify sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionParameters {
    /// `None` means "leave as it was" (the default `All` at Identify time).
    pub event_subscriptions: Option<u32>,
    pub ignore_invalid_messages: Option<bool>,
}

/// Checks an Identify (op 1) payload. `auth` is the challenge sent in this session's Hello
/// together with the password it was computed for (`None` when no password was required).
pub fn check_identify(
    data: &Map<String, Value>,
    auth: Option<(&str, &AuthChallenge)>,
) -> Result<SessionParameters, CloseReason> {
    if let Some((password, challenge)) = auth {
        // obs-websocket checks key presence only: a `null` authentication fails the hash check.
        let Some(sent) = data.get("authentication") else {
            return Err(CloseReason::new(
                close::AUTHENTICATION_FAILED,
                "Your payload's data is missing an `authentication` string, however \
                 authentication is required.",
            ));
        };
        let expected = expected_authentication(password, &challenge.salt, &challenge.challenge);
        if sent.as_str() != Some(expected.as_str()) {
            return Err(CloseReason::new(
                close::AUTHENTICATION_FAILED,
                "Authentication failed.",
            ));
        }
    }
    let rpc_version = match data.get("rpcVersion") {
        None => {
            return Err(CloseReason::new(
                close::MISSING_DATA_FIELD,
                "Your payload's data is missing an `rpcVersion`.",
            ))
        }
        Some(version) => version.as_u64().ok_or_else(|| {
            CloseReason::new(
                close::INVALID_DATA_FIELD_TYPE,
                "Your `rpcVersion` is not an unsigned number.",
            )
        })?,
    };
    if rpc_version != RPC_VERSION {
        return Err(CloseReason::new(
            close::UNSUPPORTED_RPC_VERSION,
            "Your requested RPC version is not supported by this server.",
        ));
    }
    check_session_parameters(data)
}

/// Checks the optional session parameters shared by Identify and Reidentify (op 3).
pub fn check_session_parameters(
    data: &Map<String, Value>,
) -> Result<SessionParameters, CloseReason> {
    let ignore_invalid_messages = match data.get("ignoreInvalidMessages") {
        None => None,
        Some(value) => Some(value.as_bool().ok_or_else(|| {
            CloseReason::new(
                close::INVALID_DATA_FIELD_TYPE,
                "Your `ignoreInvalidMessages` is not a boolean.",
            )
        })?),
    };
    let event_subscriptions = match data.get("eventSubscriptions") {
        None => None,
        Some(value) => Some(
            value
                .as_u64()
                // Bits above 31 name no category obs-websocket 5.5 knows: drop them.
                .map(|bits| (bits & u64::from(u32::MAX)) as u32)
                .ok_or_else(|| {
                    CloseReason::new(
                        close::INVALID_DATA_FIELD_TYPE,
                        "Your `eventSubscriptions` is not an unsigned number.",
                    )
                })?,
        ),
    };
    Ok(SessionParameters {
        event_subscriptions,
        ignore_invalid_messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn authentication_matches_a_vector_computed_elsewhere() {
        // Computed with Python's hashlib/base64, not with this code.
        let salt = "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=";
        let challenge = "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=";
        assert_eq!(
            expected_authentication("supersecretpassword", salt, challenge),
            "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
        );
        assert_ne!(
            expected_authentication("supersecretpassworD", salt, challenge),
            "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
        );
    }

    #[test]
    fn identify_checks_authentication_and_rpc_version() {
        let challenge = AuthChallenge {
            salt: "salt".into(),
            challenge: "challenge".into(),
        };
        let good = expected_authentication("pw", "salt", "challenge");
        let auth = Some(("pw", &challenge));

        let ok = check_identify(
            &object(json!({"rpcVersion": 1, "authentication": good, "eventSubscriptions": 64})),
            auth,
        )
        .expect("valid identify");
        assert_eq!(ok.event_subscriptions, Some(64));

        let wrong = check_identify(
            &object(json!({"rpcVersion": 1, "authentication": "nope"})),
            auth,
        )
        .expect_err("wrong password");
        assert_eq!(wrong.code, close::AUTHENTICATION_FAILED);
        assert_eq!(wrong.reason, "Authentication failed.");

        let missing = check_identify(&object(json!({"rpcVersion": 1})), auth)
            .expect_err("missing authentication");
        assert_eq!(missing.code, close::AUTHENTICATION_FAILED);
        assert!(missing
            .reason
            .contains("missing an `authentication` string"));

        let no_password_needed =
            check_identify(&object(json!({"rpcVersion": 1})), None).expect("no auth required");
        assert_eq!(no_password_needed.event_subscriptions, None);

        let rpc = check_identify(&object(json!({"rpcVersion": 2})), None).expect_err("rpc 2");
        assert_eq!(rpc.code, close::UNSUPPORTED_RPC_VERSION);

        let bad_subs = check_identify(
            &object(json!({"rpcVersion": 1, "eventSubscriptions": "all"})),
            None,
        )
        .expect_err("string subscriptions");
        assert_eq!(bad_subs.code, close::INVALID_DATA_FIELD_TYPE);
    }

    #[test]
    fn decode_rejects_what_obs_websocket_rejects() {
        assert_eq!(
            decode_client_message("{not json", false).unwrap_err().code,
            close::MESSAGE_DECODE_ERROR
        );
        assert_eq!(
            decode_client_message("[1]", false).unwrap_err().code,
            close::MESSAGE_DECODE_ERROR
        );
        assert_eq!(
            decode_client_message(r#"{"d":{}}"#, false)
                .unwrap_err()
                .code,
            close::UNKNOWN_OP_CODE
        );
        assert_eq!(
            decode_client_message(r#"{"op":1}"#, false)
                .unwrap_err()
                .code,
            close::MISSING_DATA_FIELD
        );
        assert_eq!(
            decode_client_message(r#"{"op":6,"d":{}}"#, false)
                .unwrap_err()
                .code,
            close::NOT_IDENTIFIED
        );
        let request = decode_client_message(r#"{"op":6,"d":{"requestId":"1"}}"#, true)
            .expect("identified request");
        assert_eq!(request.op, op::REQUEST);
        assert_eq!(request.data.get("requestId"), Some(&json!("1")));
    }

    #[test]
    fn messages_leave_out_empty_optional_parts() {
        let hello: Value = serde_json::from_str(&hello("5.5.2", None)).expect("json");
        assert_eq!(hello["op"], 0);
        assert!(hello["d"].get("authentication").is_none());

        let exit: Value =
            serde_json::from_str(&event("ExitStarted", intent::GENERAL, None)).expect("json");
        assert!(exit["d"].get("eventData").is_none());
        assert_eq!(exit["d"]["eventIntent"], 1);

        let ok = request_status(status::SUCCESS, None);
        assert_eq!(ok, json!({"result": true, "code": 100}));
        assert_eq!(intent::ALL, 2047);
    }
}
