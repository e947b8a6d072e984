//! The dashboard's state module (`static/js/state.js`) applies the WebSocket's changes to a
//! snapshot with rules of its own; the hub applies OBS's updates with `status::update::apply`.
//! `tests/fixtures/dashboard/status-rules.json` ties the two: a snapshot, then for each step of a
//! scripted run of updates the changes the hub makes (every kind) and the status it then holds.
//! This test checks that the hub still makes exactly those changes and statuses; `node --test
//! static/js/` checks that the page, fed the same changes, holds the same status after every step
//! (but for the fields no change carries, `UNCARRIED` in state.js). A rule changed on one side
//! only fails one of the two. `OBS_HUB_WRITE_FIXTURES=1` rewrites the file from the hub.

use chrono::{DateTime, TimeZone, Utc};
use obs_hub::status::{
    audio_status::{AudioInput, AudioUpdate},
    manager::ChangeEvent,
    model::{ObsStats, SceneInfo},
    output_status::{Output, OutputUpdate, SideReading},
    source_status::{SceneItem, SourceUpdate},
    studio_status::{StudioReading, StudioUpdate},
    update::{apply, ConnectionReport, PollReading, RecordReading, StreamReading},
    ConnectionState, InstanceStatus, ObsUpdate, Source,
};
use serde_json::{json, Value};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/dashboard/status-rules.json"
);

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, second).unwrap()
}

fn connection(state: ConnectionState, error: Option<&str>) -> ObsUpdate {
    ObsUpdate::Connection(ConnectionReport {
        state,
        error: error.map(str::to_string),
        attempts: 0,
        next_attempt_at: None,
        versions: Some(("30.2.3".into(), "5.5.2".into())),
    })
}

fn scenes(names: &[&str]) -> Vec<SceneInfo> {
    names
        .iter()
        .map(|name| SceneInfo {
            name: name.to_string(),
            uuid: Some(format!("uuid-{name}")),
        })
        .collect()
}

fn item(id: i64, source_name: &str, kind: &str, index: u32) -> SceneItem {
    SceneItem {
        id,
        source_name: source_name.into(),
        kind: kind.into(),
        enabled: true,
        locked: false,
        index,
    }
}

fn audio_input(name: &str, muted: bool, volume_db: f64) -> AudioInput {
    AudioInput {
        name: name.into(),
        uuid: Some(format!("uuid-{name}")),
        kind: "ffmpeg_source".into(),
        muted,
        volume_db,
        volume_mul: 10f64.powf(volume_db / 20.0),
        balance: 0.5,
        sync_offset_ms: 0,
        monitor_type: "none".into(),
        tracks: vec![1],
        announced_volume_db: None,
        in_program: None,
        in_preview: None,
    }
}

fn reading(scene: &str, streaming: bool, bytes: u64, studio_mode: bool) -> PollReading {
    PollReading {
        current_scene: Some(scene.into()),
        scene_items: Vec::new(),
        stream: StreamReading {
            active: streaming,
            timecode: "00:00:10.000".into(),
            duration_ms: if streaming { 10_000 } else { 0 },
            bytes,
            skipped_frames: 3,
            total_frames: 300,
            congestion: 0.1,
            ..StreamReading::default()
        },
        record: RecordReading::default(),
        side: SideReading {
            replay_buffer: Some(false),
            virtual_cam: Some(false),
        },
        studio: StudioReading {
            studio_mode,
            preview_scene: studio_mode.then(|| "BRB".into()),
            current_transition: Some("Fade".into()),
            transition_duration_ms: Some(300),
        },
        stats: ObsStats {
            cpu_usage: 3.5,
            memory_usage_mb: 400.0,
            available_disk_space_mb: 51_200.0,
            active_fps: 30.0,
            average_frame_render_time_ms: 1.25,
            render_skipped_frames: 0,
            render_total_frames: 900 + bytes as u32 % 7,
            output_skipped_frames: 0,
            output_total_frames: 900,
        },
        audio: None,
    }
}

/// The status the page gets in its snapshot: connected, read once, with items and inputs.
fn snapshot_status() -> InstanceStatus {
    let mut status = InstanceStatus::new("studio", "127.0.0.1", 4455, at(0));
    apply(
        &mut status,
        connection(ConnectionState::Connected, None),
        at(0),
    );
    let mut first = reading("Scene", false, 0, false);
    first.audio = Some(vec![
        audio_input("Mic/Aux", false, 0.0),
        audio_input("Intro clip", false, -6.0),
        audio_input("Music", true, -20.0),
    ]);
    apply(
        &mut status,
        ObsUpdate::Snapshot {
            scenes: scenes(&["Scene", "Live", "BRB"]),
            reading: first,
        },
        at(0),
    );
    apply(
        &mut status,
        ObsUpdate::Source(SourceUpdate::Items(vec![
            (
                "Live".into(),
                vec![
                    item(1, "Camera", "v4l2_input", 0),
                    item(2, "Title", "text_ft2_source_v2", 1),
                    item(3, "Lower third", "group", 2),
                ],
            ),
            (
                "Lower third".into(),
                vec![item(4, "Intro clip", "ffmpeg_source", 0)],
            ),
        ])),
        at(0),
    );
    status
}

/// A show in updates: every kind of change the WebSocket carries, in a plausible order.
fn script() -> Vec<ObsUpdate> {
    use ConnectionState::*;
    vec![
        ObsUpdate::ProgramScene("Live".into()),
        ObsUpdate::SceneCreated(SceneInfo {
            name: "Ending".into(),
            uuid: Some("uuid-Ending".into()),
        }),
        ObsUpdate::StreamState {
            active: true,
            state: "starting".into(),
        },
        ObsUpdate::StreamState {
            active: true,
            state: "started".into(),
        },
        ObsUpdate::Poll(reading("Live", true, 7_500_000, false)),
        ObsUpdate::RecordState {
            active: true,
            state: "started".into(),
            output_path: None,
        },
        ObsUpdate::RecordState {
            active: true,
            state: "paused".into(),
            output_path: None,
        },
        ObsUpdate::RecordState {
            active: true,
            state: "resumed".into(),
            output_path: None,
        },
        ObsUpdate::Output(OutputUpdate::RecordFileChanged("/rec/part2.mkv".into())),
        ObsUpdate::RecordState {
            active: false,
            state: "stopped".into(),
            output_path: Some("/rec/part2.mkv".into()),
        },
        ObsUpdate::Output(OutputUpdate::State {
            output: Output::ReplayBuffer,
            active: true,
            state: "started".into(),
        }),
        ObsUpdate::Output(OutputUpdate::ReplaySaved("/rec/replay-1.mkv".into())),
        ObsUpdate::Output(OutputUpdate::State {
            output: Output::VirtualCam,
            active: true,
            state: "started".into(),
        }),
        ObsUpdate::Studio(StudioUpdate::StudioMode(true)),
        ObsUpdate::Studio(StudioUpdate::PreviewScene("BRB".into())),
        ObsUpdate::Studio(StudioUpdate::TransitionDuration(750)),
        ObsUpdate::Studio(StudioUpdate::TransitionStarted),
        ObsUpdate::ProgramScene("BRB".into()),
        ObsUpdate::Studio(StudioUpdate::TransitionEnded),
        ObsUpdate::Studio(StudioUpdate::PreviewScene("Live".into())),
        ObsUpdate::SceneRenamed {
            old: "Live".into(),
            new: "Live 2".into(),
        },
        ObsUpdate::Source(SourceUpdate::ItemEnabled {
            scene: "Live 2".into(),
            id: 2,
            enabled: false,
        }),
        ObsUpdate::Source(SourceUpdate::ItemEnabled {
            scene: "Lower third".into(),
            id: 4,
            enabled: false,
        }),
        ObsUpdate::Source(SourceUpdate::ItemLocked {
            scene: "Lower third".into(),
            id: 4,
            locked: true,
        }),
        ObsUpdate::Source(SourceUpdate::MediaState {
            input: "Intro clip".into(),
            state: "playing".into(),
        }),
        ObsUpdate::Source(SourceUpdate::Filter {
            source: "Camera".into(),
            filter: "Blur".into(),
            enabled: true,
        }),
        ObsUpdate::Source(SourceUpdate::Profile("Show".into())),
        ObsUpdate::Audio(AudioUpdate::Muted {
            input: "Mic/Aux".into(),
            muted: true,
        }),
        ObsUpdate::Audio(AudioUpdate::Volume {
            input: "Intro clip".into(),
            db: -10.0,
            mul: 0.316,
        }),
        ObsUpdate::Audio(AudioUpdate::Volume {
            input: "Intro clip".into(),
            db: -12.0,
            mul: 0.251,
        }),
        ObsUpdate::Audio(AudioUpdate::VolumeSettled("Intro clip".into())),
        ObsUpdate::Audio(AudioUpdate::Balance {
            input: "Music".into(),
            balance: 0.25,
        }),
        ObsUpdate::Audio(AudioUpdate::Renamed {
            old: "Music".into(),
            new: "Music bed".into(),
        }),
        ObsUpdate::Audio(AudioUpdate::Removed("Mic/Aux".into())),
        ObsUpdate::StreamState {
            active: false,
            state: "stopped".into(),
        },
        connection(Reconnecting, Some("cannot reach OBS: Connection refused")),
        connection(Connected, None),
        ObsUpdate::Snapshot {
            scenes: scenes(&["Scene", "Live 2", "BRB", "Ending"]),
            reading: reading("BRB", false, 0, true),
        },
        ObsUpdate::Source(SourceUpdate::CollectionChanging("Show".into())),
        ObsUpdate::Source(SourceUpdate::Collection("Show".into())),
    ]
}

/// The hub's side of the fixture: the snapshot, the changes as the WebSocket sends them, and
/// the status the hub ends with.
fn hub_fixture() -> Value {
    let mut status = snapshot_status();
    let snapshot = serde_json::to_value(&status).unwrap();
    let mut seq = 0;
    let mut steps = Vec::new();
    for (step, update) in script().into_iter().enumerate() {
        let now = at(1 + step as u32);
        let changes: Vec<Value> = apply(&mut status, update, now)
            .into_iter()
            .map(|change| {
                seq += 1;
                let event = ChangeEvent {
                    cluster: None,
                    seq,
                    instance: status.name.clone(),
                    at: now,
                    source: Source::ObsEvent,
                    change,
                };
                serde_json::to_value(&event).unwrap()
            })
            .collect();
        // An update that changes nothing the page could see is no step of the page's.
        if !changes.is_empty() {
            steps.push(json!({"changes": changes, "status": status}));
        }
    }
    json!({
        "about": "Written by tests/hub/dashboard_state.rs (OBS_HUB_WRITE_FIXTURES=1) from \
                  status::update::apply; read by static/js/state.test.js. A snapshot, then per \
                  step the changes the hub pushes and the status the hub holds after them.",
        "snapshot": snapshot,
        "steps": steps,
    })
}

#[test]
fn the_dashboard_fixture_is_what_the_hub_makes() {
    let made = hub_fixture();
    if std::env::var_os("OBS_HUB_WRITE_FIXTURES").is_some() {
        let text = serde_json::to_string_pretty(&made).unwrap() + "\n";
        std::fs::create_dir_all(std::path::Path::new(FIXTURE).parent().unwrap()).unwrap();
        std::fs::write(FIXTURE, text).unwrap();
    }
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).expect("the fixture exists"))
            .expect("the fixture is JSON");
    // Every kind of change the page must apply is in the script.
    let kinds: std::collections::BTreeSet<&str> = made["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|step| step["changes"].as_array().unwrap())
        .filter_map(|change| change["type"].as_str())
        .collect();
    for kind in [
        "scene_changed",
        "scene_list_changed",
        "streaming_changed",
        "recording_changed",
        "connection_changed",
        "stats_updated",
        "output_changed",
        "source_changed",
        "studio_changed",
        "audio_changed",
    ] {
        assert!(kinds.contains(kind), "the script makes no {kind}");
    }
    assert_eq!(made["snapshot"], kept["snapshot"]);
    assert_eq!(
        made["steps"], kept["steps"],
        "the hub now makes other changes or statuses than the fixture holds: rewrite it with \
         OBS_HUB_WRITE_FIXTURES=1 and make static/js/state.js follow (node --test static/js/)"
    );
}
