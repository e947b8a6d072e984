//! The audio capability against the simulated OBS: mute, volume and balance change OBS and the
//! hub's status, a mute made in OBS is seen by the hub, a fader drag is recorded once settled,
//! and bad input is refused by name before anything reaches OBS.

use crate::common;

use common::{hub_with_fake, Reply, TestHub};
use obs_hub::obs_protocol::intent;
use serde_json::{json, Value};

async fn put(hub: &TestHub, path: &str, body: &str) -> Reply {
    let mut response = hub
        .client
        .put(format!("{}{path}", hub.base))
        .insert_header(("content-type", "application/json"))
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    let bytes = response.body().limit(1 << 20).await.expect("body");
    Reply {
        status: response.status().as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The cached "Intro clip" once `check` holds for it.
async fn clip(hub: &TestHub, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let find = |view: &Value| {
        view["inputs"]
            .as_array()
            .and_then(|inputs| inputs.iter().find(|i| i["name"] == "Intro clip"))
            .cloned()
    };
    let view = hub
        .wait_for_path("/api/audio/inputs", what, |view| {
            find(view).is_some_and(|input| check(&input))
        })
        .await;
    find(&view).unwrap()
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 0.01)
}

const CLIP: &str = "/api/audio/inputs/Intro%20clip";

#[actix_web::test]
async fn mute_volume_and_balance_change_obs_and_the_hubs_status() {
    let (hub, fake) = hub_with_fake().await;
    let first = clip(&hub, "audio read", |i| i["muted"] == false).await;
    assert_eq!(first["kind"], "ffmpeg_source");
    assert_eq!(first["tracks"], json!([1]));
    assert!(close(&first["balance"], 0.5));
    let view = hub.get("/api/audio/inputs").await.body;
    let names: Vec<_> = view["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["name"])
        .collect();
    assert_eq!(names, ["Intro clip"], "inputs without audio are left out");

    let muted = hub.post(&format!("{CLIP}/mute"), "").await;
    assert_eq!(muted.status, 200, "{:?}", muted.body);
    assert_eq!(muted.body["input"]["muted"], true);
    assert!(fake.input_audio("Intro clip").unwrap().0);
    clip(&hub, "muted in the cache", |i| i["muted"] == true).await;

    let toggled = hub
        .post(
            "/api/instances/default/audio/inputs/Intro%20clip/toggle-mute",
            "",
        )
        .await;
    assert_eq!(toggled.status, 200, "{:?}", toggled.body);
    assert_eq!(
        toggled.body["input"]["muted"], false,
        "answers the new state"
    );
    assert!(!fake.input_audio("Intro clip").unwrap().0);
    let muted = hub.post(&format!("{CLIP}/mute"), "").await;
    assert_eq!(muted.body["input"]["muted"], true);
    let unmuted = hub.post(&format!("{CLIP}/unmute"), "").await;
    assert_eq!(unmuted.body["input"]["muted"], false);
    assert!(!fake.input_audio("Intro clip").unwrap().0);

    let db = put(&hub, &format!("{CLIP}/volume"), r#"{"db": -6}"#).await;
    assert_eq!(db.status, 200, "{:?}", db.body);
    assert!(close(&db.body["input"]["volume_db"], -6.0), "{:?}", db.body);
    assert!((fake.input_audio("Intro clip").unwrap().1 - 0.501).abs() < 0.001);
    clip(&hub, "-6 dB in the cache", |i| close(&i["volume_db"], -6.0)).await;
    let mul = put(&hub, &format!("{CLIP}/volume"), r#"{"mul": 0.25}"#).await;
    assert_eq!(mul.status, 200, "{:?}", mul.body);
    assert!((fake.input_audio("Intro clip").unwrap().1 - 0.25).abs() < 1e-6);
    clip(&hub, "x0.25 in the cache", |i| {
        close(&i["volume_mul"], 0.25)
    })
    .await;

    let balance = put(&hub, &format!("{CLIP}/balance"), r#"{"balance": 0.2}"#).await;
    assert_eq!(balance.status, 200, "{:?}", balance.body);
    assert!((fake.input_audio("Intro clip").unwrap().2 - 0.2).abs() < 1e-6);
    clip(&hub, "balance in the cache", |i| close(&i["balance"], 0.2)).await;

    // The history has them as audio_changed, the volume once settled.
    hub.wait_for_path("/api/events/?kind=audio_changed", "audio history", |e| {
        e["events"].as_array().is_some_and(|events| {
            events.iter().any(|e| {
                e["payload"]["what"] == "volume"
                    && close(&e["payload"]["state"]["volume_mul"], 0.25)
            }) && events.iter().any(|e| e["payload"]["what"] == "balance")
        })
    })
    .await;
}

#[actix_web::test]
async fn a_mute_made_in_obs_is_seen_by_the_hub() {
    let (hub, fake) = hub_with_fake().await;
    clip(&hub, "audio read", |i| i["muted"] == false).await;
    assert!(fake.set_input_muted_from_obs("Intro clip", true).await);
    clip(&hub, "the mute made in OBS", |i| i["muted"] == true).await;
    assert!(fake.set_input_muted_from_obs("Intro clip", false).await);
    clip(&hub, "the unmute made in OBS", |i| i["muted"] == false).await;
}

#[actix_web::test]
async fn a_fader_drag_is_cached_and_recorded_once_settled() {
    let (hub, fake) = hub_with_fake().await;
    clip(&hub, "audio read", |i| i["muted"] == false).await;
    let steps = 20;
    for step in 1..=steps {
        let db = -f64::from(step);
        fake.emit_event(
            "InputVolumeChanged",
            intent::INPUTS,
            json!({"inputName": "Intro clip", "inputUuid": "9c3f3a7e-8b8e-4a49-9d0c-6a1b8f6c2d11",
                   "inputVolumeMul": 10f64.powf(db / 20.0), "inputVolumeDb": db}),
        )
        .await;
    }
    clip(&hub, "the last step in the cache", |i| {
        close(&i["volume_db"], -20.0)
    })
    .await;
    let history = hub
        .wait_for_path(
            "/api/events/?kind=audio_changed",
            "the settled volume",
            |e| {
                e["events"].as_array().is_some_and(|events| {
                    events
                        .iter()
                        .any(|e| close(&e["payload"]["state"]["volume_db"], -20.0))
                })
            },
        )
        .await;
    let volumes = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["payload"]["what"] == "volume")
        .count();
    assert!(
        volumes < steps as usize,
        "not every step is history: {volumes}"
    );
}

#[actix_web::test]
async fn bad_input_is_named_and_nothing_reaches_obs() {
    let (hub, fake) = hub_with_fake().await;
    clip(&hub, "audio read", |i| i["muted"] == false).await;
    let cases = [
        (
            "volume",
            r#"{"db": 40}"#,
            "`db` must be between -100 and 26",
        ),
        ("volume", r#"{"mul": -1}"#, "`mul` must be between 0 and 20"),
        ("volume", r#"{"db": -6, "mul": 1}"#, "exactly one of `db`"),
        ("volume", r#"{}"#, "exactly one of `db`"),
        ("volume", r#"{"dB": -6}"#, "dB"),
        (
            "balance",
            r#"{"balance": 1.5}"#,
            "`balance` must be between 0.0 and 1.0",
        ),
        ("balance", r#"{"balance": "left"}"#, "balance"),
    ];
    for (route, body, named) in cases {
        let reply = put(&hub, &format!("{CLIP}/{route}"), body).await;
        assert_eq!(reply.status, 400, "{route} {body}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "invalid_field", "{route} {body}");
        let message = reply.body["message"].as_str().unwrap();
        assert!(message.contains(named), "{route} {body}: {message}");
    }
    assert_eq!(fake.request_count("SetInputVolume"), 0);
    assert_eq!(fake.request_count("SetInputAudioBalance"), 0);
    assert_eq!(fake.input_audio("Intro clip"), Some((false, 1.0, 0.5)));

    let unknown = hub.post("/api/audio/inputs/Nobody/mute", "").await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    assert_eq!(unknown.body["error"], "unknown_source");
    assert!(unknown.body["message"].as_str().unwrap().contains("Nobody"));
    let silent = hub.post("/api/audio/inputs/Title/mute", "").await;
    assert_eq!(silent.status, 409, "{:?}", silent.body);
    assert!(silent.body["message"]
        .as_str()
        .unwrap()
        .contains("no audio"));
}

/// The cached input `name` once `check` holds for it (None: absent from the list).
async fn input_once(
    hub: &TestHub,
    name: &str,
    what: &str,
    check: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    let find = |view: &Value| {
        view["inputs"]
            .as_array()
            .and_then(|inputs| inputs.iter().find(|i| i["name"] == name))
            .cloned()
    };
    let view = hub
        .wait_for_path("/api/audio/inputs", what, |view| check(find(view).as_ref()))
        .await;
    find(&view)
}

#[actix_web::test]
async fn in_program_and_in_preview_follow_switches_toggles_and_studio_mode() {
    let (hub, fake) = hub_with_fake().await;
    // "Intro clip" is an item of "Live"; "Scene", the program scene at start, is empty.
    let first = clip(&hub, "placed out of program", |i| i["in_program"] == false).await;
    assert_eq!(first["in_preview"], Value::Null, "no studio mode");

    assert!(fake.switch_scene_from_obs("Live").await);
    clip(&hub, "in program", |i| i["in_program"] == true).await;
    assert!(fake.switch_scene_from_obs("Scene").await);
    clip(&hub, "out of program", |i| i["in_program"] == false).await;
    assert!(fake.switch_scene_from_obs("Live").await);
    clip(&hub, "back in program", |i| i["in_program"] == true).await;

    // Hidden items do not count, as in OBS's "active" sources.
    fake.set_scene_item_enabled_from_obs("Live", 5, false);
    clip(&hub, "hidden", |i| i["in_program"] == false).await;
    fake.set_scene_item_enabled_from_obs("Live", 5, true);
    clip(&hub, "shown", |i| i["in_program"] == true).await;

    // Studio mode: "Live" on preview, "Scene" on program.
    assert_eq!(
        put(&hub, "/api/studio-mode", r#"{"enabled": true}"#)
            .await
            .status,
        200
    );
    assert!(fake.switch_scene_from_obs("Scene").await);
    let preview = put(&hub, "/api/preview-scene", r#"{"scene_name": "Live"}"#).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    let placed = clip(&hub, "on preview only", |i| {
        i["in_program"] == false && i["in_preview"] == true
    })
    .await;
    assert_eq!(placed["name"], "Intro clip");
    let history = hub
        .wait_for_path("/api/events/?kind=audio_changed", "history", |events| {
            events.to_string().contains(r#""what":"scenes""#)
        })
        .await;
    assert!(history.to_string().contains("Intro clip"));
}

#[actix_web::test]
async fn inputs_created_and_removed_in_obs_join_and_leave_the_list() {
    let (hub, fake) = hub_with_fake().await;
    clip(&hub, "audio read", |_| true).await;
    assert!(fake.create_audio_input_from_obs("Live", "Mic").await);
    let mic = input_once(&hub, "Mic", "the new input", |mic| mic.is_some())
        .await
        .unwrap();
    assert_eq!(mic["kind"], "pulse_input_capture");
    assert_eq!(mic["muted"], false);
    // Muted from the hub like any other.
    let muted = hub.post("/api/audio/inputs/Mic/mute", "").await;
    assert_eq!(muted.status, 200, "{}", muted.body);
    assert_eq!(fake.input_audio("Mic").map(|(muted, ..)| muted), Some(true));

    assert!(fake.remove_input_from_obs("Mic").await);
    input_once(&hub, "Mic", "the input gone", |mic| mic.is_none()).await;
    clip(&hub, "the others stay", |_| true).await;
}
