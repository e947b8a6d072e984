//! Raw requests and batches passed through to OBS: what the hub checks before sending one, which
//! of them start or stop an output (they must go through the same command discipline as the
//! typed routes), which change OBS's state (the hub re-reads it afterwards), and the limits.
//! Plain functions; the connection actor and the HTTP routes use them.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{
    commands::{CommandError, CommandOutcome},
    discipline::Refusal,
    output_commands::OutputCommand,
};
use crate::{
    obs_protocol::{execution, status},
    status::output_status::Output,
};

/// Most requests in one batch (400 past it).
pub const MAX_BATCH_REQUESTS: usize = 64;
/// Most milliseconds of `Sleep` (`sleepMillis`) in one batch, summed over its requests.
pub const MAX_BATCH_SLEEP_MILLIS: u64 = 5_000;
/// Most frames of `Sleep` (`sleepFrames`, serial-frame batches) in one batch, summed.
pub const MAX_BATCH_SLEEP_FRAMES: u64 = 300;
/// Frames are counted at this rate for the total timeout (OBS's lowest common frame rate).
const SLOWEST_FRAME: Duration = Duration::from_millis(50);
/// Longest request type name accepted (OBS's longest is under 40).
const MAX_REQUEST_TYPE_LEN: usize = 64;

/// What the hub does with a raw request that drives an output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputRequest {
    /// Runs as this typed command, through the output's lane (`obs::discipline`), exactly
    /// as the `/outputs/...` routes do: no racing `StartStream` by the back door.
    Typed(OutputCommand),
    /// `StartOutput` and friends drive an output by name, which the hub cannot put in a lane:
    /// refused, with the reason.
    Refused(String),
}

/// Whether `request_type` drives an output, and what the hub does with it. The single place
/// that decides which raw requests must take the per-output command discipline instead of
/// going straight to OBS.
pub fn output_request(request_type: &str, request_data: Option<&Value>) -> Option<OutputRequest> {
    use OutputCommand::*;
    let typed = match request_type {
        "StartStream" => Start(Output::Stream),
        "StopStream" => Stop(Output::Stream),
        "ToggleStream" => Toggle(Output::Stream),
        "StartRecord" => Start(Output::Record),
        "StopRecord" => Stop(Output::Record),
        "ToggleRecord" => Toggle(Output::Record),
        "PauseRecord" => Pause,
        "ResumeRecord" => Resume,
        "ToggleRecordPause" => TogglePause,
        "SplitRecordFile" => Split,
        "CreateRecordChapter" => Chapter(
            request_data
                .and_then(|data| data.get("chapterName"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        ),
        "StartReplayBuffer" => Start(Output::ReplayBuffer),
        "StopReplayBuffer" => Stop(Output::ReplayBuffer),
        "ToggleReplayBuffer" => Toggle(Output::ReplayBuffer),
        "SaveReplayBuffer" => SaveReplay,
        "StartVirtualCam" => Start(Output::VirtualCam),
        "StopVirtualCam" => Stop(Output::VirtualCam),
        "ToggleVirtualCam" => Toggle(Output::VirtualCam),
        "StartOutput" | "StopOutput" | "ToggleOutput" => {
            return Some(OutputRequest::Refused(format!(
                "`{request_type}` drives an output by name, which the hub cannot keep from racing \
                 its own commands: use POST .../outputs/{{stream|record|replay-buffer|virtual-cam}}/\
                 {{start|stop|toggle}}, or the matching request (StartStream, ToggleRecord...)"
            )))
        }
        _ => return None,
    };
    Some(OutputRequest::Typed(typed))
}

/// Whether a request may change what the hub caches (anything but reads). Errs on the side of
/// "yes": an unneeded re-read costs a few requests, a missed one leaves the cache stale until
/// the next poll.
pub fn changes_state(request_type: &str) -> bool {
    match request_type {
        "Sleep" | "BroadcastCustomEvent" => false,
        // Hotkeys and vendor requests can do anything; only the plain reads are spared.
        _ => !request_type.starts_with("Get"),
    }
}

/// Checks a request type taken from a URL: letters and digits only, as every OBS request type.
pub fn check_request_type(request_type: &str) -> Result<(), String> {
    if request_type.is_empty()
        || request_type.len() > MAX_REQUEST_TYPE_LEN
        || !request_type
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric())
    {
        return Err(format!(
            "`RequestType`: `{}` is not an obs-websocket request type (letters and digits, at \
             most {MAX_REQUEST_TYPE_LEN})",
            request_type
                .chars()
                .take(MAX_REQUEST_TYPE_LEN)
                .collect::<String>()
        ));
    }
    Ok(())
}

/// The batch execution types by the names the API uses.
pub fn execution_type(name: &str) -> Option<i64> {
    match name {
        "serial_realtime" => Some(execution::SERIAL_REALTIME),
        "serial_frame" => Some(execution::SERIAL_FRAME),
        "parallel" => Some(execution::PARALLEL),
        _ => None,
    }
}

/// A batch that passed [`check_batch`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedBatch {
    /// The request objects as OBS will get them.
    pub requests: Vec<Value>,
    /// Whether any of them may change what the hub caches.
    pub changes_state: bool,
    /// The time the batch may take beyond one request's timeout (its `Sleep`s).
    pub sleep_allowance: Duration,
}

/// Checks a batch: its size, each entry's shape, no output commands (they take the command
/// discipline one at a time, through the raw route), and bounded `Sleep`s. Errors name the
/// offending entry as `requests[i]`.
pub fn check_batch(requests: Vec<Value>) -> Result<CheckedBatch, String> {
    if requests.is_empty() {
        return Err("`requests`: a batch needs at least one request".into());
    }
    if requests.len() > MAX_BATCH_REQUESTS {
        return Err(format!(
            "`requests`: {} requests; a batch takes at most {MAX_BATCH_REQUESTS}",
            requests.len()
        ));
    }
    let (mut sleep_millis, mut sleep_frames, mut changes) = (0u64, 0u64, false);
    for (index, request) in requests.iter().enumerate() {
        let at = |what: String| format!("`requests[{index}]`: {what}");
        let Value::Object(entry) = request else {
            return Err(at("must be an object".into()));
        };
        if let Some(key) = entry
            .keys()
            .find(|key| !matches!(key.as_str(), "requestType" | "requestId" | "requestData"))
        {
            return Err(at(format!(
                "unknown field `{key}`, expected `requestType`, `requestId` or `requestData`"
            )));
        }
        let request_type = entry
            .get("requestType")
            .and_then(Value::as_str)
            .ok_or_else(|| at("`requestType` must be a string".into()))?;
        check_request_type(request_type).map_err(at)?;
        let data = entry.get("requestData");
        if data.is_some_and(|data| !data.is_object()) {
            return Err(at("`requestData` must be an object".into()));
        }
        if output_request(request_type, data).is_some() {
            return Err(at(format!(
                "`{request_type}` drives an output: send it alone to \
                 .../obs/requests/{request_type}, where it takes the output's command discipline"
            )));
        }
        if request_type == "Sleep" {
            let number = |key: &str| data.and_then(|data| data.get(key)).and_then(Value::as_u64);
            sleep_millis = sleep_millis.saturating_add(number("sleepMillis").unwrap_or(0));
            sleep_frames = sleep_frames.saturating_add(number("sleepFrames").unwrap_or(0));
        }
        changes |= changes_state(request_type);
    }
    if sleep_millis > MAX_BATCH_SLEEP_MILLIS {
        return Err(format!(
            "`requests`: the batch sleeps {sleep_millis} ms; at most {MAX_BATCH_SLEEP_MILLIS}"
        ));
    }
    if sleep_frames > MAX_BATCH_SLEEP_FRAMES {
        return Err(format!(
            "`requests`: the batch sleeps {sleep_frames} frames; at most {MAX_BATCH_SLEEP_FRAMES}"
        ));
    }
    let frames = u32::try_from(sleep_frames).unwrap_or(u32::MAX);
    Ok(CheckedBatch {
        requests,
        changes_state: changes,
        sleep_allowance: Duration::from_millis(sleep_millis) + SLOWEST_FRAME * frames,
    })
}

/// The answer of a raw output request that ran as a typed command, in the shape OBS answers a
/// request (`requestType`, `requestStatus`, `responseData` when there is some), so that the raw
/// route answers the same whichever way the request went. `Err` for failures that are not OBS's
/// answer (not connected, timeout, link failure), which the route maps to its HTTP errors.
pub fn answer_of_typed(
    request_type: &str,
    result: Result<CommandOutcome, CommandError>,
) -> Result<Map<String, Value>, CommandError> {
    let (status, data) = match result {
        Ok(CommandOutcome::Output(answer)) => (
            json!({"result": true, "code": status::SUCCESS}),
            // OBS's own response data: the file of a stopped recording or saved replay, the
            // new state of a toggle.
            match (answer.output_path, request_type.starts_with("Toggle")) {
                (Some(path), _) => Some(json!({ "outputPath": path })),
                (None, true) if request_type != "ToggleRecordPause" => {
                    Some(json!({ "outputActive": answer.active }))
                }
                (None, _) => None,
            },
        ),
        Ok(_) => (json!({"result": true, "code": status::SUCCESS}), None),
        Err(CommandError::Rejected { code, message }) => (
            json!({"result": false, "code": u16::from(code), "comment": message}),
            None,
        ),
        // What OBS answers a pause or resume of a recording that is not running.
        Err(CommandError::OutputRefused {
            refusal: Refusal::NotRecording,
            ..
        }) => (
            json!({"result": false, "code": status::OUTPUT_NOT_RUNNING,
                   "comment": "the recording is not running"}),
            None,
        ),
        Err(other) => return Err(other),
    };
    let mut answer = Map::new();
    answer.insert("requestType".into(), json!(request_type));
    answer.insert("requestStatus".into(), status);
    if let Some(data) = data {
        answer.insert("responseData".into(), data);
    }
    Ok(answer)
}

/// Removes the hub's own `requestId` from OBS's answer to a single request: the caller did not
/// choose it. (Batch entries keep the ids the caller gave.)
pub fn without_hub_request_id(mut answer: Map<String, Value>) -> Map<String, Value> {
    answer.remove("requestId");
    answer
}

/// Runs of a job that must follow every request for it but need not run once per request (the
/// re-read after raw requests): one at a time, and at most one more owed for all the requests
/// that came while it ran.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coalesced {
    running: bool,
    owed: bool,
}

impl Coalesced {
    /// A request for the job: true if it should start now, false if one runs (it is then owed).
    pub fn begin(&mut self) -> bool {
        if self.running {
            self.owed = true;
            return false;
        }
        self.running = true;
        true
    }

    /// The running job ended: true if another is owed (the caller then calls `begin` again).
    pub fn finish(&mut self) -> bool {
        let owed = self.owed;
        *self = Coalesced::default();
        owed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::{discipline::Phase, output_commands::OutputAnswer};

    #[test]
    fn output_requests_run_as_typed_output_commands_or_are_refused() {
        let typed =
            |request_type: &str, data: Option<&Value>| match output_request(request_type, data) {
                Some(OutputRequest::Typed(command)) => command,
                other => panic!("{request_type}: {other:?}"),
            };
        assert_eq!(
            typed("StartStream", None),
            OutputCommand::Start(Output::Stream)
        );
        assert_eq!(
            typed("ToggleRecord", None),
            OutputCommand::Toggle(Output::Record)
        );
        assert_eq!(typed("ToggleRecordPause", None), OutputCommand::TogglePause);
        assert_eq!(
            typed("CreateRecordChapter", Some(&json!({"chapterName": "Q&A"}))),
            OutputCommand::Chapter(Some("Q&A".into()))
        );
        assert_eq!(typed("SaveReplayBuffer", None), OutputCommand::SaveReplay);
        assert_eq!(
            typed("StopVirtualCam", None),
            OutputCommand::Stop(Output::VirtualCam)
        );
        let named = output_request(
            "StopOutput",
            Some(&json!({"outputName": "adv_file_output"})),
        );
        assert!(
            matches!(&named, Some(OutputRequest::Refused(reason)) if reason.contains("/outputs/")),
            "{named:?}"
        );
        assert_eq!(output_request("GetStreamStatus", None), None);
        assert_eq!(output_request("SetCurrentProgramScene", None), None);
    }

    #[test]
    fn reads_do_not_change_state_and_everything_else_may() {
        assert!(!changes_state("GetVersion"));
        assert!(!changes_state("GetSceneList"));
        assert!(!changes_state("Sleep"));
        assert!(changes_state("SetCurrentProgramScene"));
        assert!(changes_state("CreateScene"));
        assert!(changes_state("TriggerHotkeyByName"));
        assert!(changes_state("SomethingNewInObs33"));
    }

    #[test]
    fn request_types_from_urls_are_plain_names() {
        assert!(check_request_type("GetVersion").is_ok());
        assert!(check_request_type("").is_err());
        assert!(check_request_type("Get Version").is_err());
        assert!(check_request_type("../etc").is_err());
        assert!(check_request_type(&"A".repeat(65)).is_err());
    }

    #[test]
    fn batches_are_bounded_and_named_entry_by_entry() {
        let get = || json!({"requestType": "GetStats"});
        let ok = check_batch(vec![get(), json!({"requestType": "GetSceneList"})]).expect("ok");
        assert!(!ok.changes_state);
        assert_eq!(ok.sleep_allowance, Duration::ZERO);

        assert!(check_batch(vec![]).unwrap_err().contains("at least one"));
        let too_many = check_batch(vec![get(); MAX_BATCH_REQUESTS + 1]).unwrap_err();
        assert!(too_many.contains("at most 64"), "{too_many}");

        let not_object = check_batch(vec![get(), json!("GetStats")]).unwrap_err();
        assert!(not_object.starts_with("`requests[1]`"), "{not_object}");
        let unknown = check_batch(vec![json!({"requestType": "GetStats", "x": 1})]).unwrap_err();
        assert!(unknown.contains("unknown field `x`"), "{unknown}");
        let bad_data =
            check_batch(vec![json!({"requestType": "GetStats", "requestData": 1})]).unwrap_err();
        assert!(bad_data.contains("requestData"), "{bad_data}");

        let output = check_batch(vec![get(), json!({"requestType": "StartStream"})]).unwrap_err();
        assert!(output.contains("drives an output"), "{output}");

        let sleep = |ms: u64| json!({"requestType": "Sleep", "requestData": {"sleepMillis": ms}});
        let slept = check_batch(vec![sleep(1000), sleep(2000)]).expect("within the bound");
        assert_eq!(slept.sleep_allowance, Duration::from_millis(3000));
        let too_long = check_batch(vec![sleep(3000), sleep(3000)]).unwrap_err();
        assert!(too_long.contains("at most 5000"), "{too_long}");
        let frames = json!({"requestType": "Sleep", "requestData": {"sleepFrames": 301}});
        assert!(check_batch(vec![frames]).is_err());

        let switch = json!({"requestType": "SetCurrentProgramScene",
                            "requestData": {"sceneName": "Live"}});
        assert!(check_batch(vec![switch]).expect("ok").changes_state);
    }

    #[test]
    fn a_burst_of_requests_costs_at_most_one_more_run() {
        let mut reread = Coalesced::default();
        assert!(reread.begin(), "idle: runs at once");
        assert!(!reread.begin(), "running: owed");
        assert!(!reread.begin(), "still one owed, not two");
        assert!(reread.finish(), "the owed run follows");
        assert!(reread.begin());
        assert!(!reread.finish(), "nothing came meanwhile");
        assert!(reread.begin(), "idle again");
    }

    #[test]
    fn typed_answers_take_obs_shape() {
        let stop = OutputCommand::Stop(Output::Record);
        let mut answer = OutputAnswer::new(&stop, Phase::Stopped, false, true);
        answer.output_path = Some("/rec/a.mkv".into());
        let stopped =
            answer_of_typed("StopRecord", Ok(CommandOutcome::Output(answer))).expect("answer");
        assert_eq!(
            Value::Object(stopped),
            json!({"requestType": "StopRecord",
                   "requestStatus": {"result": true, "code": 100},
                   "responseData": {"outputPath": "/rec/a.mkv"}})
        );
        let refused = answer_of_typed(
            "StartStream",
            Err(CommandError::Rejected {
                code: obws::responses::StatusCode::OutputRunning,
                message: "already active".into(),
            }),
        )
        .expect("OBS's answer");
        assert_eq!(refused["requestStatus"]["code"], 500);
        assert_eq!(refused["requestStatus"]["result"], false);
        assert!(answer_of_typed("StartStream", Err(CommandError::Timeout(5))).is_err());
        let toggle = OutputCommand::Toggle(Output::Stream);
        let toggled = answer_of_typed(
            "ToggleStream",
            Ok(CommandOutcome::Output(OutputAnswer::new(
                &toggle,
                Phase::Starting,
                false,
                true,
            ))),
        )
        .expect("answer");
        assert_eq!(toggled["responseData"], json!({"outputActive": true}));
        let not_recording = answer_of_typed(
            "PauseRecord",
            Err(CommandError::OutputRefused {
                output: Output::Record,
                refusal: Refusal::NotRecording,
            }),
        )
        .expect("OBS's answer");
        assert_eq!(not_recording["requestStatus"]["code"], 501);
    }
}
