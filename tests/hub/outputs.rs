//! The outputs capability against the simulated OBS: the command discipline (OBS never sees two
//! overlapping StartStreams, whatever the entry point), every output route, OBS's refusals in
//! words, and the stats history.

use crate::common;

use common::{eventually, instance, spawn_hub, start_fake_with, TestHub, PASSWORD};
use obs_hub::fake_obs::{FakeObs, OutputOptions};
use serde_json::Value;

async fn hub_with(options: OutputOptions) -> (TestHub, FakeObs) {
    let fake = start_fake_with(options).await;
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    hub.wait_for("connected with a fresh state", |status| {
        status["connected"] == true && status["stale"] == false
    })
    .await;
    (hub, fake)
}

fn everything() -> OutputOptions {
    OutputOptions {
        replay_buffer: true,
        virtual_cam: true,
        split_file: true,
        chapter_markers: false,
        record_shares_stream_encoder: false,
    }
}

/// The crash seen on OBS 32.2.2: four requests at once, several rounds. OBS must never receive
/// a StartStream while the stream is starting (the fake counts what real OBS would accept and
/// crash on).
#[actix_web::test]
async fn four_racing_requests_never_give_obs_two_overlapping_stream_starts() {
    let (hub, fake) = hub_with(OutputOptions::default()).await;
    for round in 0..5 {
        let (record, stream, stream_again, stop) = futures_util::join!(
            hub.post("/api/start-record/", ""),
            hub.post("/api/start-stream/", ""),
            hub.post("/api/instances/default/start-stream/", ""),
            hub.post("/api/stop-stream/", ""),
        );
        assert_eq!(record.status, 200, "round {round}: {:?}", record.body);
        // One start goes to OBS; the other is answered with its state while it starts (a 409
        // only if it came after the stream had started: ordinary, not a race; see
        // a_start_while_starting_is_answered_with_that_state_and_not_sent).
        let starts = [&stream, &stream_again];
        assert!(
            starts.iter().any(|reply| reply.status == 200)
                && starts
                    .iter()
                    .all(|reply| [200, 409].contains(&reply.status)),
            "round {round}: {:?} / {:?}",
            stream.body,
            stream_again.body
        );
        // The stop either came first (nothing to stop) or waited for the start to settle.
        assert!(
            [200, 409].contains(&stop.status),
            "round {round}: {:?}",
            stop.body
        );
        for output in ["stream", "record"] {
            let off = hub
                .post(
                    &format!("/api/outputs/{output}/ensure"),
                    r#"{"active": false}"#,
                )
                .await;
            assert_eq!(off.status, 200, "round {round}: {:?}", off.body);
        }
        eventually("both outputs stopped in OBS", || async {
            !fake.is_streaming() && !fake.is_recording()
        })
        .await;
    }
    assert_eq!(fake.overlapping_stream_starts(), 0);
    assert!(fake.request_count("StartStream") <= 10);
}

#[actix_web::test]
async fn a_start_while_starting_is_answered_with_that_state_and_not_sent() {
    let (hub, fake) = hub_with(OutputOptions::default()).await;
    fake.hold_transitions();
    let first = hub.post("/api/outputs/stream/start", "").await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["state"], "starting");
    assert_eq!(first.body["active"], true);
    assert_eq!(first.body["sent_to_obs"], true);
    let second = hub.post("/api/outputs/stream/start", "").await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["state"], "starting");
    assert_eq!(second.body["sent_to_obs"], false);
    // The seed's route and the per-instance one go through the same lane.
    let seed = hub.post("/api/instances/default/start-stream/", "").await;
    assert_eq!(seed.status, 200, "{:?}", seed.body);
    let ensured = hub
        .post("/api/outputs/stream/ensure", r#"{"active": true}"#)
        .await;
    assert_eq!(ensured.body["sent_to_obs"], false, "{:?}", ensured.body);
    assert_eq!(fake.request_count("StartStream"), 1);
    assert_eq!(fake.overlapping_stream_starts(), 0);

    // A stop now waits for STARTED, then goes to OBS (a stop while starting would be refused).
    let stop = hub.post("/api/outputs/stream/stop", "");
    let release = async {
        fake.release_transitions();
    };
    let (stop, ()) = futures_util::join!(stop, release);
    assert_eq!(stop.status, 200, "{:?}", stop.body);
    assert_eq!(fake.request_count("StopStream"), 1);
    eventually("stream stopped", || async { !fake.is_streaming() }).await;
}

#[actix_web::test]
async fn toggle_and_ensure_answer_the_new_state() {
    let (hub, fake) = hub_with(OutputOptions::default()).await;
    let on = hub.post("/api/outputs/record/toggle", "").await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert_eq!(on.body["action"], "toggle");
    assert_eq!(on.body["active"], true);
    eventually("recording", || async { fake.is_recording() }).await;
    hub.wait_for("recording seen", |s| s["record"]["state"] == "started")
        .await;
    let again = hub
        .post("/api/outputs/record/ensure", r#"{"active": true}"#)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["sent_to_obs"], false);
    assert_eq!(fake.request_count("StartRecord"), 1);
    let off = hub.post("/api/outputs/record/toggle", "").await;
    assert_eq!(off.body["active"], false, "{:?}", off.body);
    let path = off.body["output_path"].as_str().unwrap_or_default();
    assert!(path.ends_with(".mkv"), "{:?}", off.body);
    eventually("recording stopped", || async { !fake.is_recording() }).await;

    let bad = hub
        .post("/api/outputs/record/ensure", r#"{"on": true}"#)
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"], "invalid_field");
    let unknown = hub.post("/api/outputs/projector/start", "").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "unknown_output");
    assert!(unknown.body["message"]
        .as_str()
        .unwrap()
        .contains("replay-buffer"));
}

#[actix_web::test]
async fn recording_pauses_resumes_splits_and_refuses_chapters_in_obs_words() {
    let (hub, fake) = hub_with(everything()).await;
    let not_recording = hub.post("/api/outputs/record/pause", "").await;
    assert_eq!(not_recording.status, 409, "{:?}", not_recording.body);
    assert_eq!(fake.request_count("PauseRecord"), 0, "refused by the hub");

    assert_eq!(hub.post("/api/start-record/", "").await.status, 200);
    hub.wait_for("recording", |s| s["record"]["state"] == "started")
        .await;
    let paused = hub.post("/api/outputs/record/pause", "").await;
    assert_eq!(paused.status, 200, "{:?}", paused.body);
    assert!(fake.is_record_paused());
    hub.wait_for("paused in the cache", |s| s["record"]["paused"] == true)
        .await;
    let twice = hub.post("/api/outputs/record/pause", "").await;
    assert_eq!(twice.status, 409);
    assert!(twice.body["message"]
        .as_str()
        .unwrap()
        .contains("already paused"));
    let toggled = hub.post("/api/outputs/record/toggle-pause", "").await;
    assert_eq!(toggled.status, 200, "{:?}", toggled.body);
    assert!(!fake.is_record_paused());
    let resumed_twice = hub.post("/api/outputs/record/resume", "").await;
    assert_eq!(resumed_twice.status, 409);

    let split = hub.post("/api/outputs/record/split", "").await;
    assert_eq!(split.status, 200, "{:?}", split.body);
    assert_eq!(fake.request_count("SplitRecordFile"), 1);
    let chapter = hub
        .post("/api/outputs/record/chapter", r#"{"name": "Interview"}"#)
        .await;
    assert_eq!(chapter.status, 409, "{:?}", chapter.body);
    assert_eq!(chapter.body["error"], "output_unsupported");
    let message = chapter.body["message"].as_str().unwrap();
    assert!(message.contains("Hybrid MP4"), "{message}");
    assert!(
        message.contains("Verify that the output being used supports chapter markers."),
        "{message}"
    );
    let empty = hub
        .post("/api/outputs/record/chapter", r#"{"name": " "}"#)
        .await;
    assert_eq!(empty.status, 400);
    // An unnamed chapter reaches OBS as one (obws sends `chapterName: null`, which OBS reads
    // as absent): the same refusal, not OBS complaining about the field.
    for unnamed in ["", "{}", r#"{"name": null}"#] {
        let chapter = hub.post("/api/outputs/record/chapter", unnamed).await;
        assert_eq!(chapter.status, 409, "{unnamed}: {:?}", chapter.body);
        assert_eq!(chapter.body["error"], "output_unsupported");
    }
}

/// OBS answers PauseRecord with success and pauses nothing when the recording shares the
/// stream's encoder: the hub checks, and says why instead of reporting a pause.
#[actix_web::test]
async fn a_pause_obs_accepts_but_does_not_make_is_a_clear_refusal() {
    let (hub, fake) = hub_with(OutputOptions {
        record_shares_stream_encoder: true,
        ..OutputOptions::default()
    })
    .await;
    assert_eq!(hub.post("/api/start-record/", "").await.status, 200);
    hub.wait_for("recording", |s| s["record"]["state"] == "started")
        .await;
    let paused = hub.post("/api/outputs/record/pause", "").await;
    assert_eq!(paused.status, 409, "{:?}", paused.body);
    assert_eq!(paused.body["error"], "output_unsupported");
    let message = paused.body["message"].as_str().unwrap();
    assert!(message.contains("Same as stream"), "{message}");
    assert_eq!(fake.request_count("PauseRecord"), 1);
    assert!(!fake.is_record_paused());
}

#[actix_web::test]
async fn split_without_file_splitting_says_what_to_enable() {
    let (hub, fake) = hub_with(OutputOptions::default()).await;
    assert_eq!(hub.post("/api/start-record/", "").await.status, 200);
    eventually("recording", || async { fake.is_recording() }).await;
    hub.wait_for("recording", |s| s["record"]["state"] == "started")
        .await;
    let split = hub.post("/api/outputs/record/split", "").await;
    assert_eq!(split.status, 409, "{:?}", split.body);
    assert_eq!(split.body["error"], "output_unsupported");
    let message = split.body["message"].as_str().unwrap();
    assert!(message.contains("file splitting"), "{message}");
    assert!(
        message.contains("Verify that file splitting is enabled in the output settings."),
        "{message}"
    );
}

#[actix_web::test]
async fn the_replay_buffer_saves_and_answers_the_file() {
    let (hub, fake) = hub_with(everything()).await;
    let not_running = hub.post("/api/outputs/replay-buffer/save", "").await;
    assert_eq!(not_running.status, 409, "{:?}", not_running.body);
    let started = hub.post("/api/outputs/replay-buffer/start", "").await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    eventually("replay buffer active", || async {
        fake.is_replay_buffer_active()
    })
    .await;
    let saved = hub.post("/api/outputs/replay-buffer/save", "").await;
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    let path = saved.body["output_path"].as_str().unwrap().to_string();
    assert_eq!(Some(path.clone()), fake.last_replay());
    let outputs = hub
        .wait_for_path("/api/outputs", "the saved replay in the cache", |o| {
            o["replay_buffer"]["last_saved_path"] == path.as_str()
        })
        .await;
    assert_eq!(outputs["replay_buffer"]["available"], true);
    assert_eq!(outputs["replay_buffer"]["active"], true);
    let events = hub
        .wait_for_path(
            "/api/events/?kind=output_changed",
            "replay in history",
            |e| {
                e["events"]
                    .as_array()
                    .is_some_and(|events| events.iter().any(|e| e["payload"]["state"] == "saved"))
            },
        )
        .await;
    let saved_event = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["payload"]["state"] == "saved")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(saved_event["payload"]["path"], path.as_str());
    let stopped = hub
        .post("/api/outputs/replay-buffer/ensure", r#"{"active": false}"#)
        .await;
    assert_eq!(stopped.status, 200);
    eventually("replay buffer stopped", || async {
        !fake.is_replay_buffer_active()
    })
    .await;
}

#[actix_web::test]
async fn missing_replay_buffer_and_virtual_camera_are_clear_refusals() {
    let (hub, fake) = hub_with(OutputOptions::default()).await;
    let outputs = hub
        .wait_for_path("/api/outputs", "availability read", |o| {
            o["virtual_cam"]["available"] == false
        })
        .await;
    assert_eq!(outputs["replay_buffer"]["available"], false);
    for path in [
        "/api/outputs/replay-buffer/start",
        "/api/outputs/replay-buffer/save",
    ] {
        let refused = hub.post(path, "").await;
        assert_eq!(refused.status, 409, "{path}: {:?}", refused.body);
        assert_eq!(refused.body["error"], "output_unavailable");
        let message = refused.body["message"].as_str().unwrap();
        assert!(
            message.contains("Settings > Output > Replay Buffer"),
            "{message}"
        );
        assert!(
            message.contains("Replay buffer is not available."),
            "{message}"
        );
    }
    let camera = hub.post("/api/outputs/virtual-cam/start", "").await;
    assert_eq!(camera.status, 409, "{:?}", camera.body);
    assert_eq!(camera.body["error"], "output_unavailable");
    let message = camera.body["message"].as_str().unwrap();
    assert!(message.contains("v4l2loopback"), "{message}");
    assert!(
        message.contains("VirtualCam is not available."),
        "{message}"
    );
    assert!(!fake.is_virtual_cam_active());
}

#[actix_web::test]
async fn the_virtual_camera_starts_and_stops_where_there_is_one() {
    let (hub, fake) = hub_with(everything()).await;
    let on = hub
        .post("/api/outputs/virtual-cam/ensure", r#"{"active": true}"#)
        .await;
    assert_eq!(on.status, 200, "{:?}", on.body);
    assert!(fake.is_virtual_cam_active());
    hub.wait_for_path("/api/outputs", "camera on in the cache", |o| {
        o["virtual_cam"]["active"] == true
    })
    .await;
    let off = hub.post("/api/outputs/virtual-cam/toggle", "").await;
    assert_eq!(off.body["active"], false, "{:?}", off.body);
    assert!(!fake.is_virtual_cam_active());
}

#[actix_web::test]
async fn stats_history_serves_the_samples_polled_so_far() {
    let (hub, _fake) = hub_with(OutputOptions::default()).await;
    let history = hub
        .wait_for_path("/api/stats/history", "three samples", |h| {
            h["samples"].as_array().is_some_and(|s| s.len() >= 3)
        })
        .await;
    assert_eq!(history["instance"], "default");
    assert_eq!(history["window_seconds"], 600);
    let samples = history["samples"].as_array().unwrap();
    assert!(samples[0]["active_fps"].as_f64() > Some(0.0));
    let times: Vec<&str> = samples.iter().filter_map(|s| s["at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    let per_instance = hub.get("/api/instances/default/stats/history").await;
    assert_eq!(per_instance.status, 200);
    let unknown = hub.get("/api/instances/nope/stats/history").await;
    assert_eq!(unknown.status, 404);
}

#[actix_web::test]
async fn raw_stream_starts_racing_the_typed_routes_take_the_same_lane() {
    let (hub, fake) = hub_with(OutputOptions::default()).await;
    for round in 0..5 {
        let (raw, typed, raw_toggle) = futures_util::join!(
            hub.post("/api/obs/requests/StartStream", ""),
            hub.post("/api/outputs/stream/start", ""),
            hub.post("/api/instances/default/obs/requests/ToggleStream", ""),
        );
        for reply in [&raw, &typed, &raw_toggle] {
            assert_eq!(reply.status, 200, "round {round}: {:?}", reply.body);
        }
        let off = hub
            .post("/api/outputs/stream/ensure", r#"{"active": false}"#)
            .await;
        assert_eq!(off.status, 200, "round {round}: {:?}", off.body);
        eventually("the stream stopped in OBS", || async {
            !fake.is_streaming()
        })
        .await;
    }
    assert_eq!(fake.overlapping_stream_starts(), 0);
    // An output driven by name cannot be put in a lane: refused, nothing sent.
    let named = hub
        .post(
            "/api/obs/requests/StartOutput",
            r#"{"outputName": "simple_stream"}"#,
        )
        .await;
    assert_eq!(named.status, 400, "{:?}", named.body);
    assert!(named.body["message"]
        .as_str()
        .unwrap()
        .contains("/outputs/"));
    assert_eq!(fake.request_count("StartOutput"), 0);
}
