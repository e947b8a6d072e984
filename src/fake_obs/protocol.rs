//! The server side of obs-websocket v5 as the fake speaks it: the messages a server sends and
//! the pure checks on `Identify`/`Reidentify`. The vocabulary it shares with the hub's own client
//! session (op, close and status codes, intents, the authentication hash) is `crate::obs_protocol`. Close reasons and comments are obs-websocket's own
//! wording, because clients match on them (Companion, for one, uses a regex on the auth reasons).

use serde_json::{json, Map, Value};

pub use crate::obs_protocol::{
    close, expected_authentication, intent, message, op, random_token, status, AuthChallenge,
    RPC_VERSION,
};

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
    use crate::obs_protocol::object;

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
