//! The simulated OBS answering requests: scenes, outputs, stats, errors.

use serde_json::json;

use super::stream_record::{output_bytes, timecode};
use super::*;
use crate::{fake_obs::protocol::intent, obs_protocol::object};

fn state(now: Instant) -> ObsState {
    let names: Vec<String> = ["Scene", "Live", "BRB"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ObsState::new(&names, "30.2.3", "5.5.2", now)
}

fn request<'a>(request_type: &'a str, data: Option<&'a Map<String, Value>>) -> Request<'a> {
    Request {
        request_type,
        data,
        session_incoming: 3,
        session_outgoing: 4,
    }
}

#[test]
fn scene_list_is_bottom_first_with_index_zero_at_the_bottom() {
    let now = Instant::now();
    let mut obs = state(now);
    let list = dispatch(&mut obs, request("GetSceneList", None), now);
    let data = list.response_data.expect("data");
    assert_eq!(data["currentProgramSceneName"], "Scene");
    assert!(data["currentPreviewSceneName"].is_null());
    let scenes = data["scenes"].as_array().expect("array");
    let names: Vec<&str> = scenes
        .iter()
        .filter_map(|s| s["sceneName"].as_str())
        .collect();
    assert_eq!(names, ["BRB", "Live", "Scene"]);
    assert_eq!(scenes[0]["sceneIndex"], 0);
    assert_eq!(scenes[2]["sceneIndex"], 2);
    assert!(Uuid::parse_str(scenes[0]["sceneUuid"].as_str().expect("uuid")).is_ok());
}

#[test]
fn switching_scenes_by_name_and_uuid() {
    let now = Instant::now();
    let mut obs = state(now);
    let data = object(json!({"sceneName": "Live"}));
    let outcome = dispatch(
        &mut obs,
        request("SetCurrentProgramScene", Some(&data)),
        now,
    );
    assert_eq!(outcome.code, status::SUCCESS);
    assert_eq!(outcome.event_types(), ["CurrentProgramSceneChanged"]);
    assert_eq!(outcome.events[0].intent, intent::SCENES);
    assert_eq!(obs.program_scene().name, "Live");

    let same = dispatch(
        &mut obs,
        request("SetCurrentProgramScene", Some(&data)),
        now,
    );
    assert!(same.events.is_empty(), "no event when nothing changes");

    let brb_uuid = obs.scenes[2].uuid.to_uppercase();
    let by_uuid = object(json!({"sceneUuid": brb_uuid}));
    dispatch(
        &mut obs,
        request("SetCurrentProgramScene", Some(&by_uuid)),
        now,
    );
    assert_eq!(obs.program_scene().name, "BRB");

    let missing = object(json!({"sceneName": "Nope"}));
    let error = dispatch(
        &mut obs,
        request("SetCurrentProgramScene", Some(&missing)),
        now,
    );
    assert_eq!(error.code, status::RESOURCE_NOT_FOUND);
    assert_eq!(
        error.comment.as_deref(),
        Some("No source was found by the name of `Nope`.")
    );
    let neither = dispatch(&mut obs, request("SetCurrentProgramScene", None), now);
    assert_eq!(neither.code, status::MISSING_REQUEST_FIELD);
}

#[test]
fn create_rename_remove_emit_obs_events() {
    let now = Instant::now();
    let mut obs = state(now);
    let create = object(json!({"sceneName": "Intro"}));
    let created = dispatch(&mut obs, request("CreateScene", Some(&create)), now);
    assert_eq!(created.event_types(), ["SceneCreated", "SceneListChanged"]);
    assert_eq!(obs.scene_names(), ["Scene", "Live", "BRB", "Intro"]);
    let again = dispatch(&mut obs, request("CreateScene", Some(&create)), now);
    assert_eq!(again.code, status::RESOURCE_ALREADY_EXISTS);

    let rename = object(json!({"sceneName": "Intro", "newSceneName": "Opening"}));
    let renamed = dispatch(&mut obs, request("SetSceneName", Some(&rename)), now);
    assert_eq!(
        renamed.event_types(),
        ["SceneNameChanged", "SceneListChanged"]
    );
    assert_eq!(
        renamed.events[0].data.as_ref().expect("data")["oldSceneName"],
        "Intro"
    );

    // Removing the live scene moves the program to the scene that takes its place.
    let remove = object(json!({"sceneName": "Scene"}));
    let removed = dispatch(&mut obs, request("RemoveScene", Some(&remove)), now);
    assert_eq!(
        removed.event_types(),
        [
            "SceneRemoved",
            "CurrentProgramSceneChanged",
            "SceneListChanged"
        ]
    );
    assert_eq!(obs.program_scene().name, "Live");

    let missing_field = dispatch(
        &mut obs,
        request("CreateScene", Some(&object(json!({})))),
        now,
    );
    assert_eq!(missing_field.code, status::MISSING_REQUEST_FIELD);
    assert_eq!(
        missing_field.comment.as_deref(),
        Some("Your request is missing the `sceneName` field.")
    );
    let wrong_type = object(json!({"sceneName": 5}));
    let wrong = dispatch(&mut obs, request("CreateScene", Some(&wrong_type)), now);
    assert_eq!(wrong.code, status::INVALID_REQUEST_FIELD_TYPE);
}

#[test]
fn the_last_scene_cannot_be_removed() {
    let now = Instant::now();
    let mut obs = ObsState::new(&[], "30.2.3", "5.5.2", now);
    assert_eq!(obs.scene_names(), ["Scene"]);
    assert!(obs.remove_scene_by_name("Scene").is_none());
}

#[test]
fn stream_lifecycle_and_growing_bytes() {
    let start = Instant::now();
    let mut obs = state(start);
    let stop_idle = dispatch(&mut obs, request("StopStream", None), start);
    assert_eq!(stop_idle.code, status::OUTPUT_NOT_RUNNING);

    let started = dispatch(&mut obs, request("StartStream", None), start);
    assert_eq!(started.code, status::SUCCESS);
    assert_eq!(started.follow_up, Some(FollowUp::StreamStarted));
    assert_eq!(
        started.events[0].data.as_ref().expect("data")["outputState"],
        "OBS_WEBSOCKET_OUTPUT_STARTING"
    );
    assert!(!obs.is_streaming(), "not active until STARTED");
    // Like obs-websocket (the output is not "active" yet), a second start is accepted and
    // recorded as the overlap that crashed OBS 32.2.2.
    let overlapping = dispatch(&mut obs, request("StartStream", None), start);
    assert_eq!(overlapping.code, status::SUCCESS);
    assert_eq!(overlapping.follow_up, None);
    assert_eq!(obs.stream_start_overlaps(), 1);

    let events = obs.complete(FollowUp::StreamStarted, start);
    assert_eq!(events[0].data.as_ref().expect("data")["outputActive"], true);
    assert!(obs.is_streaming());

    let status_at = |obs: &mut ObsState, secs: u64| {
        let at = start + Duration::from_secs(secs);
        dispatch(obs, request("GetStreamStatus", None), at)
            .response_data
            .expect("data")
    };
    let ten = status_at(&mut obs, 10);
    let twenty = status_at(&mut obs, 20);
    assert_eq!(ten["outputActive"], true);
    assert_eq!(ten["outputTimecode"], "00:00:10.000");
    assert_eq!(ten["outputDuration"], 10_000);
    assert_eq!(ten["outputTotalFrames"], 300);
    let bytes_ten = ten["outputBytes"].as_u64().expect("bytes");
    let bytes_twenty = twenty["outputBytes"].as_u64().expect("bytes");
    let kbits = (bytes_twenty - bytes_ten) as f64 * 8.0 / 10.0 / 1000.0;
    assert!((5000.0..7000.0).contains(&kbits), "{kbits} kbit/s");

    let stopping = dispatch(
        &mut obs,
        request("StopStream", None),
        start + Duration::from_secs(20),
    );
    assert_eq!(stopping.follow_up, Some(FollowUp::StreamStopped));
    obs.complete(FollowUp::StreamStopped, start + Duration::from_secs(20));
    let after = status_at(&mut obs, 30);
    assert_eq!(after["outputActive"], false);
    assert_eq!(after["outputDuration"], 0);
    assert_eq!(
        after["outputBytes"].as_u64(),
        Some(bytes_twenty),
        "last totals kept"
    );
}

#[test]
fn toggles_report_the_new_state_and_refuse_half_way() {
    let now = Instant::now();
    let mut obs = state(now);
    let on = dispatch(&mut obs, request("ToggleStream", None), now);
    assert_eq!(on.response_data, Some(json!({ "outputActive": true })));
    assert_eq!(on.follow_up, Some(FollowUp::StreamStarted));
    let starting = dispatch(&mut obs, request("ToggleStream", None), now);
    assert_eq!(
        starting.response_data,
        Some(json!({ "outputActive": true }))
    );
    assert_eq!(
        obs.stream_start_overlaps(),
        1,
        "toggled while starting: starts again"
    );
    obs.complete(FollowUp::StreamStarted, now);
    obs.stop_stream();
    let stopping = dispatch(&mut obs, request("ToggleStream", None), now);
    assert_eq!(
        stopping.code,
        status::OUTPUT_RUNNING,
        "a stream stopping cannot toggle"
    );
    obs.complete(FollowUp::StreamStopped, now);
    dispatch(&mut obs, request("StartStream", None), now);
    obs.complete(FollowUp::StreamStarted, now);
    let off = dispatch(&mut obs, request("ToggleStream", None), now);
    assert_eq!(off.response_data, Some(json!({ "outputActive": false })));
    assert_eq!(off.follow_up, Some(FollowUp::StreamStopped));
}

#[test]
fn bytes_never_go_backwards() {
    let mut previous = 0;
    for tenth in 0..3000 {
        let bytes = output_bytes(STREAM_BYTES_PER_SECOND, Duration::from_millis(tenth * 100));
        assert!(bytes >= previous, "bytes went down at {tenth}");
        previous = bytes;
    }
}

#[test]
fn record_reports_its_path() {
    let now = Instant::now();
    let mut obs = state(now);
    dispatch(&mut obs, request("StartRecord", None), now);
    let started = obs.complete(FollowUp::RecordStarted, now);
    let path = started[0].data.as_ref().expect("data")["outputPath"]
        .as_str()
        .expect("path")
        .to_owned();
    assert!(
        path.starts_with("/home/x/") && path.ends_with(".mkv"),
        "{path}"
    );
    let stopped = dispatch(&mut obs, request("StopRecord", None), now);
    assert_eq!(
        stopped.response_data.expect("data")["outputPath"],
        path.as_str()
    );
    assert_eq!(
        stopped.events[0].data.as_ref().expect("data")["outputPath"],
        Value::Null
    );
}

#[test]
fn stats_move_with_time() {
    let start = Instant::now();
    let mut obs = state(start);
    let at = |obs: &mut ObsState, secs: u64| {
        dispatch(
            obs,
            request("GetStats", None),
            start + Duration::from_secs(secs),
        )
        .response_data
        .expect("data")
    };
    let a = at(&mut obs, 5);
    let b = at(&mut obs, 65);
    assert_eq!(a["renderTotalFrames"], 150);
    assert_eq!(b["renderTotalFrames"], 1950);
    assert_ne!(a["cpuUsage"], b["cpuUsage"]);
    let fps = b["activeFps"].as_f64().expect("fps");
    assert!((29.9..30.1).contains(&fps));
    assert_eq!(a["webSocketSessionIncomingMessages"], 3);
}

#[test]
fn every_advertised_request_is_handled_and_others_are_not() {
    let now = Instant::now();
    for request_type in all_requests() {
        let mut obs = state(now);
        let outcome = dispatch(&mut obs, request(request_type, None), now);
        assert_ne!(outcome.code, status::UNKNOWN_REQUEST_TYPE, "{request_type}");
    }
    let mut obs = state(now);
    let unknown = dispatch(&mut obs, request("NotARealRequest", None), now);
    assert_eq!(unknown.code, status::UNKNOWN_REQUEST_TYPE);
    assert_eq!(
        unknown.comment.as_deref(),
        Some("Your request type is not valid.")
    );
}

#[test]
fn sleep_validates_its_range() {
    let now = Instant::now();
    let mut obs = state(now);
    let ok = object(json!({"sleepMillis": 250}));
    let outcome = dispatch(&mut obs, request("Sleep", Some(&ok)), now);
    assert_eq!(outcome.delay, Some(Duration::from_millis(250)));
    let too_long = object(json!({"sleepMillis": 60_000}));
    let outcome = dispatch(&mut obs, request("Sleep", Some(&too_long)), now);
    assert_eq!(outcome.code, status::REQUEST_FIELD_OUT_OF_RANGE);
}

#[test]
fn record_pause_resume_split_and_chapter_follow_obs() {
    let now = Instant::now();
    let mut obs = state(now).with_outputs(OutputOptions {
        split_file: true,
        ..OutputOptions::default()
    });
    // obs-websocket 5.5 pauses nothing, and says success, when not recording.
    let idle = dispatch(&mut obs, request("PauseRecord", None), now);
    assert_eq!((idle.code, idle.events.len()), (status::SUCCESS, 0));
    assert_eq!(
        dispatch(&mut obs, request("SplitRecordFile", None), now).code,
        status::OUTPUT_NOT_RUNNING
    );
    dispatch(&mut obs, request("StartRecord", None), now);
    obs.complete(FollowUp::RecordStarted, now);
    let paused = dispatch(&mut obs, request("PauseRecord", None), now);
    assert_eq!(
        paused.events[0].data.as_ref().expect("data")["outputState"],
        "OBS_WEBSOCKET_OUTPUT_PAUSED"
    );
    assert_eq!(
        dispatch(&mut obs, request("PauseRecord", None), now).code,
        status::OUTPUT_PAUSED
    );
    let status_now = dispatch(&mut obs, request("GetRecordStatus", None), now);
    assert_eq!(
        status_now.response_data.expect("data")["outputPaused"],
        true
    );
    let toggled = dispatch(&mut obs, request("ToggleRecordPause", None), now);
    assert_eq!(
        toggled.response_data,
        Some(json!({ "outputPaused": false }))
    );
    assert_eq!(
        dispatch(&mut obs, request("ResumeRecord", None), now).code,
        status::OUTPUT_NOT_PAUSED
    );
    let split = dispatch(&mut obs, request("SplitRecordFile", None), now);
    assert_eq!(split.event_types(), ["RecordFileChanged"]);
    let chapter = dispatch(&mut obs, request("CreateRecordChapter", None), now);
    assert_eq!(chapter.code, status::REQUEST_PROCESSING_FAILED);
    assert_eq!(
        chapter.comment.as_deref(),
        Some("Verify that the output being used supports chapter markers.")
    );
    let bad_name = object(json!({"chapterName": 3}));
    let bad = dispatch(
        &mut obs,
        request("CreateRecordChapter", Some(&bad_name)),
        now,
    );
    assert_eq!(bad.code, status::INVALID_REQUEST_FIELD_TYPE);
    let null_name = object(json!({"chapterName": null}));
    let unnamed = dispatch(
        &mut obs,
        request("CreateRecordChapter", Some(&null_name)),
        now,
    );
    assert_eq!(
        unnamed.code,
        status::REQUEST_PROCESSING_FAILED,
        "null is no name, as in obs-websocket"
    );

    let mut without_split = state(now);
    dispatch(&mut without_split, request("StartRecord", None), now);
    without_split.complete(FollowUp::RecordStarted, now);
    let refused = dispatch(&mut without_split, request("SplitRecordFile", None), now);
    assert_eq!(refused.code, status::REQUEST_PROCESSING_FAILED);
    assert_eq!(
        refused.comment.as_deref(),
        Some("Verify that file splitting is enabled in the output settings.")
    );
}

#[test]
fn timecode_format() {
    assert_eq!(timecode(Duration::from_millis(3_723_004)), "01:02:03.004");
}
