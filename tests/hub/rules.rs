//! Rules (issue 20): triggers, held conditions, schedules and loop protection against the
//! simulated OBS, with the rules engine on a hand-driven clock (`Settings::clock`): a test
//! moves the clock and sends the engine a `Tick`, and waits for the effect in the simulated
//! OBS. No test waits on the wall clock for a rule, nor asserts timing.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use obs_hub::{
    clock::{ManualClock, SharedClock},
    config::InstanceConfig,
    fake_obs::FakeObs,
    rules::engine::Tick,
};
use serde_json::{json, Value};

use crate::common::{eventually, instance, spawn_hub_configured, start_fake, TestHub, PASSWORD};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A hub on `clock` for these instances, connected to all of them.
async fn hub_on(clock: &Arc<ManualClock>, instances: Vec<InstanceConfig>) -> TestHub {
    hub_on_database(clock, instances, None).await
}

async fn hub_on_database(
    clock: &Arc<ManualClock>,
    instances: Vec<InstanceConfig>,
    database: Option<std::path::PathBuf>,
) -> TestHub {
    hub_on_configured(clock, instances, move |settings| {
        if let Some(path) = database {
            settings.database.path = Some(path);
        }
    })
    .await
}

async fn hub_on_configured(
    clock: &Arc<ManualClock>,
    instances: Vec<InstanceConfig>,
    configure: impl FnOnce(&mut obs_hub::config::Settings),
) -> TestHub {
    let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let clock = SharedClock::manual(clock.clone());
    let hub = spawn_hub_configured(instances, move |settings| {
        settings.clock = clock;
        configure(settings);
    });
    for name in names {
        let board = hub.board.clone();
        eventually(&format!("{name} connected with a fresh state"), || {
            let board = board.clone();
            let name = name.clone();
            async move {
                board
                    .current()
                    .instance(&name)
                    .is_some_and(|status| status.is_connected() && !status.stale)
            }
        })
        .await;
    }
    hub
}

async fn tick(hub: &TestHub) {
    hub.rules
        .send(Tick)
        .await
        .expect("the rules engine answers");
}

async fn scene_is(fake: &FakeObs, scene: &str) {
    eventually(&format!("OBS on {scene}"), || async move {
        fake.current_scene() == scene
    })
    .await;
}

/// The `rule_fired` records of `rule` in the history (`/api/rules/{rule}/firings`), oldest
/// first.
async fn firings(hub: &TestHub, rule: &str) -> Vec<Value> {
    let reply = hub.get(&format!("/api/rules/{rule}/firings")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let mut records = reply.body["firings"].as_array().expect("firings").clone();
    records.reverse();
    records
}

/// Waits until `rule` has `count` firings in the history, and answers them.
async fn wait_for_firings(hub: &TestHub, rule: &str, count: usize) -> Vec<Value> {
    for _ in 0..400 {
        let found = firings(hub, rule).await;
        if found.len() >= count {
            return found;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "rule `{rule}` never reached {count} firings: {:#?}",
        firings(hub, rule).await
    );
}

async fn rule_view(hub: &TestHub, name: &str) -> Value {
    let reply = hub.get(&format!("/api/rules/{name}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

async fn kbps_reaches(hub: &TestHub, what: &str, check: impl Fn(f64) -> bool) {
    let board = hub.board.clone();
    let check = &check;
    eventually(what, || {
        let board = board.clone();
        async move {
            board
                .current()
                .instance("default")
                .is_some_and(|status| status.stream.active && check(status.stream.kbits_per_sec))
        }
    })
    .await;
}

#[actix_web::test]
async fn a_bitrate_drop_switches_to_brb_after_its_duration_and_back_after_recovery() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z")));
    let fake = start_fake().await;
    let hub = hub_on(&clock, vec![instance("default", &fake, PASSWORD)]).await;
    assert!(fake.switch_scene_from_obs("Live").await);
    let made = hub
        .post(
            "/api/rules/templates/failover",
            r#"{"instance": "default", "bitrate_kbps": 800, "seconds": 5, "brb_scene": "BRB", "recovery_seconds": 10}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(made.body["name"], "failover-default");
    let ensured = hub
        .post("/api/outputs/stream/ensure", r#"{"active": true}"#)
        .await;
    assert_eq!(ensured.status, 200, "{:?}", ensured.body);
    kbps_reaches(&hub, "a healthy stream", |kbps| kbps >= 800.0).await;
    scene_is(&fake, "Live").await;

    fake.set_stream_bitrate(200.0);
    kbps_reaches(&hub, "the bitrate to drop", |kbps| kbps < 800.0).await;
    tick(&hub).await;
    clock.advance(Duration::from_secs(4));
    tick(&hub).await;
    assert_eq!(
        rule_view(&hub, "failover-default").await["entered"],
        json!([])
    );
    assert_eq!(fake.current_scene(), "Live", "4 s of 5: not yet");
    clock.advance(Duration::from_secs(1));
    tick(&hub).await;
    assert_eq!(
        rule_view(&hub, "failover-default").await["entered"],
        json!(["default"])
    );
    scene_is(&fake, "BRB").await;

    fake.set_stream_bitrate(3000.0);
    kbps_reaches(&hub, "the bitrate to recover", |kbps| kbps >= 800.0).await;
    tick(&hub).await;
    clock.advance(Duration::from_secs(9));
    tick(&hub).await;
    assert_eq!(fake.current_scene(), "BRB", "9 s of 10: not yet");
    clock.advance(Duration::from_secs(1));
    tick(&hub).await;
    scene_is(&fake, "Live").await;

    let records = wait_for_firings(&hub, "failover-default", 2).await;
    assert_eq!(records[0]["outcome"], "fired", "{records:#?}");
    assert_eq!(
        records[0]["trigger"]["condition"], 0,
        "the bitrate condition"
    );
    assert!(records[0]["evaluated"]
        .as_array()
        .unwrap()
        .iter()
        .any(|value| value["field"] == "stream.kbits_per_sec"
            && value["value"].as_f64() < Some(800.0)));
    assert!(records[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|action| action["ok"] == true));
    assert_eq!(records[1]["outcome"], "recovered", "{records:#?}");
    let last = rule_view(&hub, "failover-default").await;
    assert_eq!(last["last_firing"]["outcome"], "recovered");
}

#[actix_web::test]
async fn a_scheduled_rule_fires_at_its_minute() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T17:59:30Z")));
    let fake = start_fake().await;
    let hub = hub_on(&clock, vec![instance("default", &fake, PASSWORD)]).await;
    let made = hub
        .post(
            "/api/rules",
            r#"{"name": "evening", "trigger": {"type": "schedule", "cron": "0 19 * * MON-FRI", "time_zone": "Europe/Berlin"},
                "actions": [{"type": "switch_scene", "scene": "Starting Soon", "instances": ["default"]}]}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    // 19:00 in Berlin on Monday 30 November is 18:00 UTC.
    assert_eq!(made.body["next_run"], "2026-11-30T18:00:00Z");
    tick(&hub).await;
    clock.advance(Duration::from_secs(29));
    tick(&hub).await;
    assert_eq!(rule_view(&hub, "evening").await["last_firing"], Value::Null);
    assert_eq!(fake.current_scene(), "Scene");
    clock.advance(Duration::from_secs(1));
    tick(&hub).await;
    scene_is(&fake, "Starting Soon").await;
    let records = wait_for_firings(&hub, "evening", 1).await;
    assert_eq!(records[0]["outcome"], "fired");
    assert_eq!(records[0]["trigger"]["scheduled"], "2026-11-30T18:00:00Z");
    assert_eq!(records[0]["actions"][0]["instance"], "default");
    assert_eq!(
        rule_view(&hub, "evening").await["next_run"],
        "2026-12-01T18:00:00Z"
    );
}

#[actix_web::test]
async fn a_missed_schedule_follows_its_policy_after_a_restart() {
    let fake = start_fake().await;
    let database_dir = tempfile::tempdir().unwrap();
    let database = database_dir.path().join("hub.db");
    // The first run: both rules made at 18:50, due at 19:00.
    let first_clock = Arc::new(ManualClock::new(at("2026-11-30T18:50:00Z")));
    let first = hub_on_database(
        &first_clock,
        vec![instance("default", &fake, PASSWORD)],
        Some(database.clone()),
    )
    .await;
    for (name, policy, scene) in [("late", "run_once", "BRB"), ("skipped", "skip", "Ending")] {
        let rule = json!({"name": name, "trigger": {"type": "schedule", "cron": "0 19 * * *",
            "missed": policy, "grace_secs": 1800},
            "actions": [{"type": "switch_scene", "scene": scene, "instances": ["default"]}]});
        let made = first.post("/api/rules", &rule.to_string()).await;
        assert_eq!(made.status, 201, "{:?}", made.body);
    }
    tick(&first).await;
    // The hub is "down" across 19:00: the second run starts at 18:55 on its own clock (its
    // own ticks find nothing due), then its clock shows 19:10, as after a restart at 19:10.
    let clock = Arc::new(ManualClock::new(at("2026-11-30T18:55:00Z")));
    let second = hub_on_database(
        &clock,
        vec![instance("default", &fake, PASSWORD)],
        Some(database),
    )
    .await;
    let listed = second.get("/api/rules").await;
    assert_eq!(
        listed.body["rules"].as_array().map(Vec::len),
        Some(2),
        "{:?}",
        listed.body
    );
    clock.set(at("2026-11-30T19:10:00Z"));
    tick(&second).await;
    scene_is(&fake, "BRB").await;
    let late = wait_for_firings(&second, "late", 1).await;
    assert_eq!(late[0]["outcome"], "fired", "{late:#?}");
    assert_eq!(late[0]["trigger"]["run_late"], true);
    assert_eq!(late[0]["trigger"]["scheduled"], "2026-11-30T19:00:00Z");
    let skipped = wait_for_firings(&second, "skipped", 1).await;
    assert_eq!(skipped[0]["outcome"], "skipped", "{skipped:#?}");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("missed"));
    assert_eq!(skipped[0]["actions"], json!([]));
    assert_eq!(
        fake.current_scene(),
        "BRB",
        "the skipped rule switched nothing"
    );
}

#[actix_web::test]
async fn a_change_rule_mirrors_a_scene_across_a_group_of_three_instances() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z")));
    let (a, b, c) = (start_fake().await, start_fake().await, start_fake().await);
    let hub = hub_on_configured(
        &clock,
        vec![
            instance("a", &a, PASSWORD),
            instance("b", &b, PASSWORD),
            instance("c", &c, PASSWORD),
        ],
        |settings| {
            settings.instance_groups = vec![obs_hub::config::InstanceGroupConfig {
                name: "studios".into(),
                instances: vec!["a".into(), "b".into(), "c".into()],
            }]
        },
    )
    .await;
    // Whatever a switches to, the group follows (the action names no scene: the trigger's).
    let made = hub
        .post(
            "/api/rules",
            r#"{"name": "mirror", "trigger": {"type": "change", "kind": "scene_changed", "instance": "a"},
                "actions": [{"type": "switch_scene", "group": "studios"}]}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert!(a.switch_scene_from_obs("Live").await);
    scene_is(&b, "Live").await;
    scene_is(&c, "Live").await;
    let records = wait_for_firings(&hub, "mirror", 1).await;
    let instances: Vec<&Value> = records[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|action| &action["instance"])
        .collect();
    assert_eq!(instances, [&json!("a"), &json!("b"), &json!("c")]);
    assert_eq!(records[0]["outcome"], "fired");
    // The audit trail has each switch under the rule's name, as the API request it stands for.
    eventually("the rule's audit entries", || async {
        let page = hub.get("/api/audit?actor=rule:mirror").await;
        page.body["entries"].as_array().map_or(0, Vec::len) >= 3
    })
    .await;
    let page = hub.get("/api/audit?actor=rule:mirror").await;
    let entry = page.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["instance"] == "b")
        .cloned()
        .expect("b's entry");
    assert_eq!(entry["route"], "/api/instances/b/switch-scene");
    assert_eq!(entry["request"], json!({"scene_name": "Live"}));
    assert_eq!(entry["status"], 200);
    assert!(a.switch_scene_from_obs("BRB").await);
    scene_is(&b, "BRB").await;
    scene_is(&c, "BRB").await;
}

#[actix_web::test]
async fn a_looping_rule_is_stopped_and_the_history_says_so() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z")));
    let fake = start_fake().await;
    let hub = hub_on(&clock, vec![instance("default", &fake, PASSWORD)]).await;
    // Live -> BRB -> Live -> ... were nothing to stop it.
    for (name, from, to) in [("ping", "Live", "BRB"), ("pong", "BRB", "Live")] {
        let rule = json!({"name": name,
            "trigger": {"type": "change", "kind": "scene_changed", "where": {"scene": from}},
            "actions": [{"type": "switch_scene", "scene": to}]});
        let made = hub.post("/api/rules", &rule.to_string()).await;
        assert_eq!(made.status, 201, "{:?}", made.body);
    }
    assert!(fake.switch_scene_from_obs("Live").await);
    let ping = wait_for_firings(&hub, "ping", 2).await;
    assert_eq!(ping[0]["outcome"], "fired", "{ping:#?}");
    assert_eq!(ping[1]["outcome"], "suppressed", "{ping:#?}");
    assert!(
        ping[1]["reason"].as_str().unwrap().contains("loop"),
        "{ping:#?}"
    );
    assert_eq!(ping[1]["chain"], ping[0]["chain"]);
    let pong = wait_for_firings(&hub, "pong", 1).await;
    assert_eq!(pong[0]["outcome"], "fired");
    assert_eq!(pong[0]["chain"], ping[0]["chain"]);
    // The loop stopped where the suppressed firing would have gone on: on Live.
    scene_is(&fake, "Live").await;
    assert_eq!(fake.request_count("SetCurrentProgramScene"), 2);
    // An operator's next switch is a chain of its own: the rule fires again.
    assert!(fake.switch_scene_from_obs("Scene").await);
    assert!(fake.switch_scene_from_obs("Live").await);
    let ping = wait_for_firings(&hub, "ping", 3).await;
    assert_eq!(ping[2]["outcome"], "fired", "{ping:#?}");
    assert_ne!(ping[2]["chain"], ping[0]["chain"]);
}

#[actix_web::test]
async fn an_invalid_rule_gets_a_400_naming_the_field_path_and_is_not_kept() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z")));
    let fake = start_fake().await;
    let hub = hub_on(&clock, vec![instance("default", &fake, PASSWORD)]).await;
    let reply = hub
        .post(
            "/api/rules",
            r#"{"name": "bad", "trigger": {"type": "change", "kind": "scene_changed"},
                "conditions": {"all": [{"field": "stream.active", "op": "eq", "value": true},
                                       {"field": "current_scene", "op": "lt", "value": "Live"}]},
                "actions": [{"type": "switch_scene", "scene": "BRB"}]}"#,
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["error"], "invalid_rule");
    let message = reply.body["message"].as_str().unwrap();
    assert!(message.contains("`conditions.all[1].op`"), "{message}");
    let reply = hub
        .post(
            "/api/rules",
            r#"{"name": "bad", "trigger": {"type": "change", "kind": "scene_changed", "instance": "elsewhere"},
                "actions": [{"type": "switch_scene", "scene": "BRB"}]}"#,
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(reply.body["message"]
        .as_str()
        .unwrap()
        .contains("`trigger.instance`"));
    assert_eq!(hub.get("/api/rules").await.body["rules"], json!([]));
    assert_eq!(
        hub.get("/api/rules/bad").await.body["error"],
        "unknown_rule"
    );
}

#[actix_web::test]
async fn a_dry_run_says_what_would_be_done_and_does_nothing() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z")));
    let fake = start_fake().await;
    let hub = hub_on(&clock, vec![instance("default", &fake, PASSWORD)]).await;
    let made = hub
        .post(
            "/api/rules",
            r#"{"name": "brb-when-idle", "trigger": {"type": "change", "kind": "streaming_changed"},
                "conditions": {"field": "stream.active", "op": "eq", "value": false},
                "actions": [{"type": "switch_scene", "scene": "BRB", "instances": ["default"]}]}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let switches = fake.request_count("SetCurrentProgramScene");
    let plan = hub.post("/api/rules/brb-when-idle/test", "").await;
    assert_eq!(plan.status, 200, "{:?}", plan.body);
    assert_eq!(plan.body["would_fire"], true);
    assert_eq!(plan.body["evaluated"][0]["field"], "stream.active");
    assert_eq!(plan.body["evaluated"][0]["value"], false);
    assert_eq!(plan.body["actions"][0]["instances"], json!(["default"]));
    assert!(plan.body["actions"][0]["action"]
        .as_str()
        .unwrap()
        .contains("BRB"));
    // Disabled through PATCH: the dry run says it would not fire.
    let patched = hub
        .send("PATCH", "/api/rules/brb-when-idle", r#"{"enabled": false}"#)
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["enabled"], false);
    assert_eq!(
        hub.post("/api/rules/brb-when-idle/test", "").await.body["would_fire"],
        false
    );
    assert_eq!(fake.request_count("SetCurrentProgramScene"), switches);
    assert_eq!(fake.current_scene(), "Scene");
    assert_eq!(firings(&hub, "brb-when-idle").await, Vec::<Value>::new());
    let deleted = hub.send("DELETE", "/api/rules/brb-when-idle", "").await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(hub.get("/api/rules").await.body["rules"], json!([]));
}

#[actix_web::test]
async fn config_rules_run_and_are_read_only_through_the_api() {
    let fake = start_fake().await;
    let clock = SharedClock::manual(Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z"))));
    let hub = spawn_hub_configured(
        vec![instance("default", &fake, PASSWORD)],
        move |settings| {
            settings.clock = clock;
            settings.rules = vec![json!({"name": "live-to-brb",
            "trigger": {"type": "change", "kind": "scene_changed", "where": {"scene": "Live"}},
            "actions": [{"type": "switch_scene", "scene": "BRB"}]})];
        },
    );
    hub.wait_for("connected", |status| {
        status["connected"] == true && status["stale"] == false
    })
    .await;
    let listed = hub.get("/api/rules/live-to-brb").await;
    assert_eq!(listed.body["origin"], "config", "{:?}", listed.body);
    let refused = hub
        .send("PATCH", "/api/rules/live-to-brb", r#"{"enabled": false}"#)
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "rule_read_only");
    assert!(fake.switch_scene_from_obs("Live").await);
    scene_is(&fake, "BRB").await;
}

/// The measurements of issue 20, run on request (they assert no timing):
/// `cargo test --release --test hub rules::measure -- --ignored --nocapture --test-threads 1`
mod measure {
    use std::{collections::BTreeMap, sync::Arc, time::Instant};

    use actix::Actor;
    use chrono::Utc;
    use obs_hub::{
        config::Timing,
        obs::{ConnectionSupervisor, Translators},
        rules::{
            actions::Runner,
            engine::{new_chains, Origin, RuleEngine, Tick},
            model::{read_spec, Known},
        },
        status::{
            update::Source, Change, ChangeEvent, HubSnapshot, InstanceStatus, StatusBoard,
            StatusChanged, StatusManager,
        },
    };
    use serde_json::{json, Value};

    use super::*;
    use crate::common::spawn_hub;

    fn percentile(sorted: &[f64], p: f64) -> f64 {
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index]
    }

    fn summary(mut values: Vec<f64>) -> String {
        values.sort_by(|a, b| a.total_cmp(b));
        format!(
            "n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
            values.len(),
            percentile(&values, 0.5),
            percentile(&values, 0.99),
            values[values.len() - 1]
        )
    }

    /// Every `rule_fired` record of `rule`, read page by page.
    async fn all_firings(hub: &TestHub, rule: &str) -> Vec<Value> {
        let mut records = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = hub
                .get(&format!("/api/events?kind=rule_fired&limit=500{cursor}"))
                .await;
            let events = page.body["events"].as_array().cloned().unwrap_or_default();
            records.extend(
                events
                    .iter()
                    .map(|event| event["payload"].clone())
                    .filter(|payload| payload["rule"] == rule),
            );
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return records,
            }
        }
    }

    #[actix_web::test]
    #[ignore = "a measurement: see the module's doc"]
    async fn trigger_to_action_latency_over_1000_firings() {
        let fake = start_fake().await;
        let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
        hub.wait_for("connected", |s| {
            s["connected"] == true && s["stale"] == false
        })
        .await;
        let made = hub
            .post(
                "/api/rules",
                r#"{"name": "to-brb", "trigger": {"type": "change", "kind": "scene_changed", "where": {"scene": "Live"}},
                    "actions": [{"type": "switch_scene", "scene": "BRB"}]}"#,
            )
            .await;
        assert_eq!(made.status, 201, "{:?}", made.body);
        let mut end_to_end = Vec::new();
        for round in 0..1000 {
            let started = Instant::now();
            assert!(fake.switch_scene_from_obs("Live").await);
            while fake.current_scene() != "BRB" {
                assert!(started.elapsed().as_secs() < 10, "round {round}: no firing");
                actix_web::rt::time::sleep(Duration::from_micros(100)).await;
            }
            end_to_end.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let mut records = Vec::new();
        for _ in 0..100 {
            records = all_firings(&hub, "to-brb").await;
            if records.len() >= 1000 {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let hub_side: Vec<f64> = records
            .iter()
            .filter_map(|record| record["duration_ms"].as_f64())
            .collect();
        println!("rule firings recorded: {}", records.len());
        println!(
            "trigger published -> action acknowledged (the hub's own figure): {}",
            summary(hub_side)
        );
        println!(
            "OBS event sent -> OBS switched by the rule (seen by the test): {}",
            summary(end_to_end)
        );
    }

    /// CPU time of this process (every thread), from getrusage.
    #[cfg(unix)]
    fn cpu_seconds() -> f64 {
        // SAFETY: getrusage writes the struct it is given and nothing else.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    #[cfg(not(unix))]
    fn cpu_seconds() -> f64 {
        0.0
    }

    #[actix_web::test]
    #[ignore = "a measurement: see the module's doc"]
    async fn cpu_of_1000_rules_evaluated_on_every_change_at_30_instances() {
        let names: Vec<String> = (0..30).map(|i| format!("studio-{i:02}")).collect();
        let now = Utc::now();
        let instances: BTreeMap<String, Arc<InstanceStatus>> = names
            .iter()
            .map(|name| {
                let mut status = InstanceStatus::new(name, "127.0.0.1", 4455, now);
                status.stream.active = true;
                status.stream.state = "started".into();
                status.stream.kbits_per_sec = 2500.0;
                status.current_scene = Some("Live".into());
                (name.clone(), Arc::new(status))
            })
            .collect();
        let board = StatusBoard::new(HubSnapshot {
            running: true,
            since: now,
            seq: 0,
            instances,
        });
        let manager = StatusManager::new(&[]).start();
        let supervisor = ConnectionSupervisor::new(
            vec![],
            Timing::default(),
            manager.clone(),
            Translators::new(vec![]),
        )
        .start();
        let known = Known {
            instances: &names,
            group: &|_| None,
        };
        // 500 failover-like held rules and 500 change rules: all of them concern every change
        // (held rules name no instance; change rules wait for any stats_updated), none fires.
        let rules = (0..1000)
            .map(|i| {
                let spec = if i % 2 == 0 {
                    json!({"name": format!("held-{i}"), "trigger": {"type": "held",
                        "when": [{"condition": {"all": [
                            {"field": "stream.active", "op": "eq", "value": true},
                            {"field": "stream.kbits_per_sec", "op": "lt", "value": 800}]}, "for_secs": 5},
                            {"condition": {"field": "stream.state", "op": "eq", "value": "reconnecting"}, "for_secs": 3}],
                        "recover": {"condition": {"field": "stream.kbits_per_sec", "op": "ge", "value": 800}, "for_secs": 10}},
                        "actions": [{"type": "switch_scene", "scene": "BRB"}]})
                } else {
                    json!({"name": format!("change-{i}"), "trigger": {"type": "change", "kind": "stats_updated"},
                        "conditions": {"any": [{"field": "stream.congestion", "op": "gt", "value": 0.5},
                            {"field": "current_scene", "op": "eq", "value": "Ending"}]},
                        "actions": [{"type": "switch_scene", "scene": "BRB"}]})
                };
                (read_spec(spec).unwrap().compile(&known).unwrap(), Origin::Api)
            })
            .collect();
        let runner = Runner {
            supervisor,
            board: board.clone(),
            clock: Default::default(),
            chains: new_chains(),
            memory: Default::default(),
            groups: Arc::new(|_| None),
            audit: None,
        };
        let engine = RuleEngine::new(runner, manager, None, rules).start();
        let snapshot = board.current();
        let stats = |seq: u64, instance: &str| {
            let status = snapshot.instance(instance).unwrap();
            StatusChanged(Arc::new(ChangeEvent {
                cluster: None,
                seq,
                instance: instance.to_string(),
                at: Utc::now(),
                source: Source::Poll,
                change: Change::StatsUpdated {
                    stats: status.stats.clone(),
                    stream: status.stream.clone(),
                    record: status.record.clone(),
                },
            }))
        };
        let rounds = 100;
        let cpu = cpu_seconds();
        let wall = Instant::now();
        let mut seq = 0;
        for _ in 0..rounds {
            for name in &names {
                seq += 1;
                engine.do_send(stats(seq, name));
            }
        }
        // The mailbox is first in, first out: the answer to this comes after every change.
        engine.send(Tick).await.unwrap();
        let changes = rounds * names.len();
        let cpu_changes = cpu_seconds() - cpu;
        let wall_changes = wall.elapsed().as_secs_f64();
        let cpu = cpu_seconds();
        for _ in 0..rounds {
            engine.send(Tick).await.unwrap();
        }
        let cpu_ticks = cpu_seconds() - cpu;
        println!(
            "{changes} changes x 1,000 rules: CPU {:.3} s ({:.1} us per change, {:.3} us per rule evaluation), wall {:.3} s",
            cpu_changes,
            cpu_changes / changes as f64 * 1e6,
            cpu_changes / changes as f64 / 1000.0 * 1e6,
            wall_changes
        );
        println!(
            "{rounds} ticks (500 held rules x 30 instances each): CPU {:.3} s ({:.2} ms per tick)",
            cpu_ticks,
            cpu_ticks / rounds as f64 * 1e3
        );
        println!(
            "at 30 instances polled once a second (30 stats changes/s) plus a tick a second: {:.1}% of one core",
            (cpu_changes / changes as f64 * 30.0 + cpu_ticks / rounds as f64) * 100.0
        );
    }
}

#[actix_web::test]
async fn a_delay_between_actions_waits_on_the_hub_clock() {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T19:00:00Z")));
    let fake = start_fake().await;
    let hub = hub_on(&clock, vec![instance("default", &fake, PASSWORD)]).await;
    let made = hub
        .post(
            "/api/rules",
            r#"{"name": "intro-then-live", "trigger": {"type": "change", "kind": "scene_changed", "where": {"scene": "Starting Soon"}},
                "actions": [{"type": "switch_scene", "scene": "BRB"}, {"type": "delay", "secs": 30},
                            {"type": "switch_scene", "scene": "Live"}]}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert!(fake.switch_scene_from_obs("Starting Soon").await);
    scene_is(&fake, "BRB").await;
    // The delay waits for the hub's clock, not the wall's: nothing more until it moves.
    clock.advance(Duration::from_secs(29));
    assert_eq!(firings(&hub, "intro-then-live").await, Vec::<Value>::new());
    assert_eq!(fake.current_scene(), "BRB");
    clock.advance(Duration::from_secs(1));
    scene_is(&fake, "Live").await;
    let records = wait_for_firings(&hub, "intro-then-live", 1).await;
    assert_eq!(records[0]["actions"][1]["type"], "delay");
    assert_eq!(records[0]["outcome"], "fired");
}
