//! Persistence against the simulated OBS: the history endpoints show what happened, the scenes
//! table follows OBS, sessions are recorded and recovered, and a failing database degrades
//! persistence without touching live status. Each test has its own database file.

use crate::common;

use std::{path::Path, time::Duration};

use common::{
    eventually, hub_with_fake, instance, spawn_hub_configured, start_fake, TestHub, PASSWORD,
};
use diesel::{connection::SimpleConnection, Connection, SqliteConnection};
use obs_hub::fake_obs::intent;
use serde_json::{json, Value};

fn list<'a>(body: &'a Value, key: &str) -> &'a Vec<Value> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` list in {body:#}"))
}

/// Waits until `path` answers a body for which `check` holds.
async fn wait_for_history(
    hub: &TestHub,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    hub.wait_for_path(path, what, check).await
}

fn scene_row<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    list(body, "scenes").iter().find(|row| row["name"] == name)
}

crate::on_both_backends! {
    async fn the_history_shows_scene_switches_newest_first_with_their_source() {
        let (hub, fake) = hub_with_fake().await;
        assert_eq!(
            hub.post("/api/switch-scene/", r#"{"scene_name": "Live"}"#)
                .await
                .status,
            200
        );
        fake.switch_scene_from_obs("BRB").await;
        fake.switch_scene_from_obs("Ending").await;
        let body = wait_for_history(
            &hub,
            "/api/events/?kind=scene_changed",
            "three switches",
            |body| {
                body["events"].as_array().is_some_and(|events| {
                    events
                        .first()
                        .is_some_and(|e| e["payload"]["scene"] == "Ending")
                })
            },
        )
        .await;
        let events = list(&body, "events");
        let scenes: Vec<&str> = events
            .iter()
            .map(|e| e["payload"]["scene"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(&scenes[..3], ["Ending", "BRB", "Live"], "newest first");
        assert_eq!(events[0]["source"], "obs_event");
        // The API's confirmation and OBS's own event race; whichever comes first is the change.
        assert!(
            events[2]["source"] == "api" || events[2]["source"] == "obs_event",
            "{:#}",
            events[2]
        );
        assert_eq!(events[0]["instance"], "default");
        assert_eq!(events[0]["kind"], "scene_changed");
        assert_eq!(events[0]["payload"]["previous"], "BRB");
        assert!(events[0]["happened_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')));
        assert!(events
            .windows(2)
            .all(|pair| pair[0]["id"].as_i64() > pair[1]["id"].as_i64()));

        // Every kind the hub observed since it connected, and nothing of stats.
        let all = hub.get("/api/events/").await.body;
        let kinds: Vec<&str> = list(&all, "events")
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        assert!(kinds.contains(&"connection_changed"), "{kinds:?}");
        let connection = list(&all, "events")
            .iter()
            .find(|e| e["kind"] == "connection_changed")
            .expect("a connection change");
        assert_eq!(connection["source"], "connection");
        assert_eq!(connection["payload"]["state"], "connected");
        assert!(kinds.contains(&"scene_list_changed"), "{kinds:?}");
        assert!(!kinds.contains(&"stats_updated"));

        // The same under the instance's own path, and with the filter.
        let per_instance = hub
            .get("/api/instances/default/events/?kind=scene_changed")
            .await
            .body;
        assert_eq!(list(&per_instance, "events").len(), events.len());
        let filtered = hub
            .get("/api/events/?instance=default&kind=scene_changed")
            .await
            .body;
        assert_eq!(list(&filtered, "events").len(), events.len());
    }
}

crate::on_both_backends! {
    async fn pages_follow_the_cursor_without_gaps_or_repeats() {
        let (hub, fake) = hub_with_fake().await;
        for scene in ["Live", "BRB", "Live", "BRB", "Live", "Ending", "Live"] {
            fake.switch_scene_from_obs(scene).await;
        }
        let everything = wait_for_history(
            &hub,
            "/api/events/?kind=scene_changed&limit=500",
            "seven switches",
            |body| {
                body["events"]
                    .as_array()
                    .is_some_and(|events| events.len() >= 8)
            },
        )
        .await;
        let all_ids: Vec<i64> = list(&everything, "events")
            .iter()
            .filter_map(|e| e["id"].as_i64())
            .collect();
        assert!(everything["next_cursor"].is_null());

        let mut paged = Vec::new();
        let mut path = "/api/events/?kind=scene_changed&limit=3".to_string();
        loop {
            let page = hub.get(&path).await;
            assert_eq!(page.status, 200, "{:?}", page.body);
            let events = list(&page.body, "events");
            assert!(events.len() <= 3);
            paged.extend(events.iter().filter_map(|e| e["id"].as_i64()));
            match page.body["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("/api/events/?kind=scene_changed&limit=3&cursor={cursor}")
                }
                None => break,
            }
        }
        assert_eq!(paged, all_ids);
    }
}

crate::on_both_backends! {
    async fn stream_and_record_sessions_are_recorded_with_their_figures() {
        let (hub, _fake) = hub_with_fake().await;
        assert_eq!(hub.post("/api/start-stream/", "").await.status, 200);
        assert_eq!(hub.post("/api/start-record/", "").await.status, 200);
        let open = wait_for_history(
            &hub,
            "/api/stream-sessions/",
            "an open session with bytes",
            |body| {
                body["sessions"][0]["active"] == true && body["sessions"][0]["bytes"].as_i64() > Some(0)
            },
        )
        .await;
        assert!(open["sessions"][0]["ended_at"].is_null());
        // Let a few polls measure the bitrate, and the hub see the stream last over a second (the
        // session's duration is the longest OBS reported).
        hub.wait_for("a bitrate", |s| {
            s["stream"]["kbits_per_sec"].as_f64() > Some(0.0)
        })
        .await;
        hub.wait_for("a stream over a second long", |s| {
            s["stream"]["duration_ms"].as_u64() > Some(1000)
        })
        .await;
        assert_eq!(hub.post("/api/stop-stream/", "").await.status, 200);
        let stopped = hub.post("/api/stop-record/", "").await;
        let output_path = stopped.body["output_path"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(!output_path.is_empty(), "{:?}", stopped.body);

        let streams = wait_for_history(&hub, "/api/stream-sessions/", "the stream closed", |body| {
            body["sessions"][0]["active"] == false
        })
        .await;
        let stream = &list(&streams, "sessions")[0];
        assert_eq!(stream["instance"], "default");
        assert_eq!(stream["end_reason"], "stopped");
        assert!(stream["bytes"].as_i64() > Some(0), "{stream:#}");
        assert!(stream["duration_ms"].as_i64() > Some(1000), "{stream:#}");
        // The fake streams at about 6000 kbit/s.
        let peak = stream["peak_kbits_per_sec"].as_f64().unwrap_or_default();
        assert!((3000.0..12000.0).contains(&peak), "{stream:#}");
        assert!(stream["skipped_frames"].is_i64() && stream["total_frames"].as_i64() > Some(0));

        let records = wait_for_history(
            &hub,
            "/api/record-sessions/",
            "the recording closed",
            |body| body["sessions"][0]["active"] == false,
        )
        .await;
        let record = &list(&records, "sessions")[0];
        assert_eq!(record["output_path"], output_path.as_str());
        assert!(record["bytes"].as_i64() > Some(0), "{record:#}");
        assert!(
            record["peak_kbits_per_sec"].as_f64() > Some(0.0),
            "{record:#}"
        );
        let per_instance = hub
            .get("/api/instances/default/record-sessions/")
            .await
            .body;
        assert_eq!(list(&per_instance, "sessions").len(), 1);

        let kinds = hub
            .get("/api/events/?kind=streaming_changed,recording_changed")
            .await
            .body;
        let states: Vec<String> = list(&kinds, "events")
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["kind"].as_str().unwrap_or(""),
                    e["payload"]["state"].as_str().unwrap_or("")
                )
            })
            .collect();
        for expected in [
            "streaming_changed:started",
            "streaming_changed:stopped",
            "recording_changed:stopped",
        ] {
            assert!(
                states.iter().any(|s| s == expected),
                "{expected} in {states:?}"
            );
        }
    }
}

crate::on_both_backends! {
    async fn the_scenes_table_follows_create_rename_and_remove_in_obs() {
        let (hub, fake) = hub_with_fake().await;
        let initial = wait_for_history(
            &hub,
            "/api/scenes/",
            "the scenes of the first connection",
            |body| {
                body["scenes"]
                    .as_array()
                    .is_some_and(|scenes| scenes.len() == 5)
            },
        )
        .await;
        let live = scene_row(&initial, "Live").expect("Live").clone();
        assert_eq!(live["removed"], false);
        assert!(live["uuid"].is_string());

        assert!(fake.create_scene_from_obs("Guest").await);
        let created = wait_for_history(&hub, "/api/scenes/", "Guest recorded", |body| {
            scene_row(body, "Guest").is_some()
        })
        .await;
        let guest = scene_row(&created, "Guest").expect("Guest").clone();
        // Positions follow OBS's order, as the live status lists the scenes (once the list OBS
        // sends after the creation has been read).
        eventually("positions as in OBS", || async {
            let order = hub.get("/api/stream-status/").await.body["scenes"].clone();
            let position = order
                .as_array()
                .and_then(|names| names.iter().position(|name| name == "Guest"));
            let table = hub.get("/api/scenes/").await.body;
            let row = scene_row(&table, "Guest").map(|row| row["position"].as_u64());
            position.is_some() && row == Some(position.map(|p| p as u64))
        })
        .await;

        assert!(fake.rename_scene_from_obs("Guest", "Guest 2").await);
        let renamed = wait_for_history(&hub, "/api/scenes/", "Guest renamed", |body| {
            scene_row(body, "Guest 2").is_some()
        })
        .await;
        assert_eq!(
            scene_row(&renamed, "Guest 2").expect("row")["uuid"],
            guest["uuid"],
            "same row, same uuid"
        );
        assert!(scene_row(&renamed, "Guest").is_none());

        assert!(fake.remove_scene_from_obs("Guest 2").await);
        let removed = wait_for_history(&hub, "/api/scenes/", "Guest 2 flagged removed", |body| {
            scene_row(body, "Guest 2").is_some_and(|row| row["removed"] == true)
        })
        .await;
        assert!(scene_row(&removed, "Guest 2").expect("row")["removed_at"].is_string());
        let live_rows = list(&removed, "scenes")
            .iter()
            .filter(|row| row["removed"] == false)
            .count();
        assert_eq!(live_rows, 5);
        let per_instance = hub.get("/api/instances/default/scenes/").await;
        assert_eq!(per_instance.status, 200);
        assert_eq!(list(&per_instance.body, "scenes").len(), 6);
    }
}

crate::on_both_backends! {
    async fn sync_scenes_says_what_it_added_removed_and_renamed() {
        let (hub, fake) = hub_with_fake().await;
        let first = hub.post("/api/sync-scenes/", "").await;
        assert_eq!(first.status, 200, "{:?}", first.body);
        for key in ["added", "removed", "renamed"] {
            assert_eq!(
                first.body[key],
                json!([]),
                "nothing changed: {:?}",
                first.body
            );
        }
        let uuid_of = |name: &str| {
            list(&first.body, "scene_details")
                .iter()
                .find(|scene| scene["name"] == name)
                .map(|scene| scene["uuid"].clone())
                .unwrap_or(Value::Null)
        };
        // Events that OBS did not really send mislead the hub: a forced sync must repair that.
        fake.emit_event(
            "SceneRemoved",
            intent::SCENES,
            json!({"sceneName": "BRB", "sceneUuid": uuid_of("BRB"), "isGroup": false}),
        )
        .await;
        fake.emit_event(
            "SceneNameChanged",
            intent::SCENES,
            json!({"sceneUuid": uuid_of("Live"), "oldSceneName": "Live", "sceneName": "Live X"}),
        )
        .await;
        hub.wait_for("the hub misled", |s| {
            s["scenes"].as_array().is_some_and(|scenes| {
                !scenes.contains(&json!("BRB")) && scenes.contains(&json!("Live X"))
            })
        })
        .await;
        wait_for_history(&hub, "/api/scenes/", "the table misled too", |body| {
            scene_row(body, "BRB").is_some_and(|row| row["removed"] == true)
                && scene_row(body, "Live X").is_some()
        })
        .await;

        let repaired = hub.post("/api/sync-scenes/", "").await;
        assert_eq!(repaired.status, 200);
        assert_eq!(
            repaired.body["added"],
            json!([{"name": "BRB", "uuid": uuid_of("BRB")}])
        );
        assert_eq!(
            repaired.body["renamed"],
            json!([{"uuid": uuid_of("Live"), "from": "Live X", "to": "Live"}])
        );
        assert_eq!(repaired.body["removed"], json!([]));
        assert_eq!(repaired.body["instance"], "default");
        assert!(repaired.body["current_scene"].is_string());

        let table = wait_for_history(&hub, "/api/scenes/", "the table repaired", |body| {
            scene_row(body, "BRB").is_some_and(|row| row["removed"] == false)
                && scene_row(body, "Live").is_some()
                && scene_row(body, "Live X").is_none()
        })
        .await;
        assert_eq!(
            list(&table, "scenes").len(),
            5,
            "BRB came back as the same row"
        );
    }
}

crate::on_both_backends! {
    /// The scenes table follows `scene_list_changed`, which carries the scenes with their uuids:
    /// a forced re-read that finds nothing new writes nothing more (it used to rewrite the table
    /// from the route as well as through the change).
    async fn a_sync_that_changes_nothing_leaves_the_scenes_table_alone() {
        let (hub, fake) = hub_with_fake().await;
        let before = wait_for_history(&hub, "/api/scenes/", "the scenes written", |body| {
            scene_row(body, "Live").is_some()
        })
        .await;
        let changes = hub.get("/api/events/?kind=scene_list_changed").await.body;
        let details = &list(&changes, "events")[0]["payload"]["scene_details"];
        let live = details
            .as_array()
            .and_then(|scenes| scenes.iter().find(|scene| scene["name"] == "Live"))
            .unwrap_or_else(|| panic!("no Live in the change's scene_details: {changes:#}"));
        assert_eq!(
            live["uuid"],
            scene_row(&before, "Live").expect("a row")["uuid"]
        );
        assert!(live["uuid"].is_string());

        let synced = hub.post("/api/sync-scenes/", "").await;
        assert_eq!(synced.status, 200);
        assert_eq!(synced.body["added"], json!([]));
        // A barrier: a change accepted after the sync is written after anything the sync queued.
        fake.switch_scene_from_obs("BRB").await;
        wait_for_history(
            &hub,
            "/api/events/?kind=scene_changed",
            "the switch",
            |body| body["events"][0]["payload"]["scene"] == "BRB",
        )
        .await;
        let after = hub.get("/api/scenes/").await.body;
        assert_eq!(after["scenes"], before["scenes"], "no row rewritten");
    }
}

#[actix_web::test]
async fn bad_history_parameters_get_a_400_naming_them() {
    let (hub, _fake) = hub_with_fake().await;
    for (path, names) in [
        ("/api/events/?limit=0", "limit"),
        ("/api/events/?limit=100000", "limit"),
        ("/api/events/?cursor=abc", "cursor"),
        ("/api/events/?since=yesterday", "since"),
        ("/api/events/?until=2026-02-30T00:00:00Z", "until"),
        ("/api/events/?kind=nope", "kind"),
        ("/api/events/?colour=red", "colour"),
        ("/api/stream-sessions/?kind=scene_changed", "kind"),
        ("/api/record-sessions/?limit=-1", "limit"),
        ("/api/scenes/?limit=5", "limit"),
    ] {
        let reply = hub.get(path).await;
        assert_eq!(reply.status, 400, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["error"], "invalid_field", "{path}");
        let message = reply.body["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{path}: {message}");
    }
    let unknown = hub.get("/api/events/?instance=nope").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body["error"], "unknown_instance");
    let unknown_path = hub.get("/api/instances/nope/events/").await;
    assert_eq!(unknown_path.status, 404);
    assert_eq!(hub.post("/api/events/", "").await.status, 405);
}

crate::on_both_backends! {
    async fn the_manager_status_reports_persistence() {
        let (hub, fake) = hub_with_fake().await;
        fake.switch_scene_from_obs("Live").await;
        let status = hub
            .wait_for_path("/api/obs-manager/status/", "events written", |s| {
                s["persistence"]["written_events"].as_u64() > Some(0)
            })
            .await;
        let persistence = &status["persistence"];
        assert_eq!(persistence["state"], "ok");
        assert_eq!(persistence["failed_writes"], 0);
        assert!(persistence["pending_events"].is_u64());
        assert!(persistence["last_error"].is_null());
    }
}

#[actix_web::test]
async fn without_a_database_the_hub_serves_live_status_and_says_so() {
    let fake = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |settings| {
        settings.timing = common::fast_timing();
        settings.database.path = None;
    });
    hub.wait_for("connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    let status = hub.get("/api/obs-manager/status/").await.body;
    assert_eq!(status["persistence"]["state"], "disabled");
    let events = hub.get("/api/events/").await;
    assert_eq!(events.status, 503);
    assert_eq!(events.body["error"], "persistence_unavailable");
    assert!(events.body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("none"));
    let synced = hub.post("/api/sync-scenes/", "").await;
    assert_eq!(synced.status, 200, "{:?}", synced.body);
    assert_eq!(synced.body["added"], json!([]));
}

fn count_scene_changes(path: &Path) -> usize {
    use diesel::{dsl::count_star, prelude::*};
    use obs_hub::db::schema::events;
    let mut conn = SqliteConnection::establish(path.to_str().unwrap_or_default()).expect("opens");
    conn.batch_execute("PRAGMA busy_timeout = 5000;")
        .expect("pragma");
    events::table
        .filter(events::kind.eq("scene_changed"))
        .select(count_star())
        .first::<i64>(&mut conn)
        .map(|n| n as usize)
        .expect("counts")
}

#[actix_web::test]
async fn a_locked_database_degrades_persistence_and_loses_nothing() {
    let fake = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |settings| {
        settings.timing = common::fast_timing();
        settings.database.busy_timeout = Duration::from_millis(100);
    });
    hub.wait_for("connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    let database = hub.database.clone().expect("a database");
    let recorded_before = {
        let path = database.clone();
        eventually("the first scene recorded", || {
            let path = path.clone();
            async move { count_scene_changes(&path) > 0 }
        })
        .await;
        count_scene_changes(&database)
    };

    // Another process holds the write lock.
    let mut locker =
        SqliteConnection::establish(database.to_str().unwrap_or_default()).expect("opens");
    locker.batch_execute("BEGIN EXCLUSIVE;").expect("locks");

    let switches = ["Live", "BRB", "Live", "Ending", "Live", "BRB"];
    for scene in switches {
        fake.switch_scene_from_obs(scene).await;
        // Live status keeps following while nothing can be written.
        hub.wait_for(scene, |s| s["current_scene"] == scene).await;
    }
    let degraded = hub
        .wait_for_path("/api/obs-manager/status/", "persistence degraded", |s| {
            s["persistence"]["state"] == "degraded"
                && s["persistence"]["pending_events"].as_u64() >= Some(switches.len() as u64)
        })
        .await;
    let persistence = &degraded["persistence"];
    assert!(
        persistence["failed_writes"].as_u64() > Some(0),
        "{persistence:#}"
    );
    assert!(
        persistence["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("locked"),
        "{persistence:#}"
    );
    // History reads still work (WAL readers do not wait for writers).
    assert_eq!(hub.get("/api/events/").await.status, 200);
    // Readiness says so, and stays 200: live status is served, only the history lags.
    let ready = hub.get("/readyz").await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["status"], "degraded", "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["persistence"], "degraded");
    assert!(
        ready.body["persistence"]["pending_events"].as_u64() >= Some(switches.len() as u64),
        "{:?}",
        ready.body
    );

    locker.batch_execute("ROLLBACK;").expect("unlocks");
    hub.wait_for_path("/api/obs-manager/status/", "persistence recovered", |s| {
        s["persistence"]["state"] == "ok" && s["persistence"]["pending_events"] == 0
    })
    .await;
    let ready = hub.get("/readyz").await;
    assert_eq!(ready.body["status"], "ready", "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["persistence"], "ok");
    assert_eq!(
        count_scene_changes(&database),
        recorded_before + switches.len()
    );
    let status = hub.get("/api/obs-manager/status/").await.body;
    assert_eq!(status["persistence"]["dropped_events"], 0);
}

crate::on_both_backends! {
    async fn a_session_open_when_the_hub_stops_is_closed_from_what_obs_reports_next() {
        let fake = start_fake().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let database = common::fresh_location(&dir);
        let hub_on_shared_database = || {
            let database = database.clone();
            spawn_hub_configured(
                vec![instance("default", &fake, PASSWORD)],
                move |settings| {
                    settings.timing = common::fast_timing();
                    common::use_database(settings, &database);
                },
            )
        };
        // A hub that stops watching (here: its instance is stopped) while OBS streams on.
        let first = hub_on_shared_database();
        first
            .wait_for("connected", |s| {
                s["connected"] == true && s["stale"] == false
            })
            .await;
        assert!(fake.start_stream_from_obs().await);
        let open = wait_for_history(
            &first,
            "/api/stream-sessions/",
            "an open session with bytes",
            |body| {
                body["sessions"][0]["active"] == true && body["sessions"][0]["bytes"].as_i64() > Some(0)
            },
        )
        .await;
        let session_id = open["sessions"][0]["id"].clone();
        assert_eq!(first.post("/api/obs-manager/stop/", "").await.status, 200);

        // The next hub finds OBS still streaming: the same session goes on.
        let second = hub_on_shared_database();
        second
            .wait_for("connected", |s| {
                s["connected"] == true && s["is_streaming"] == true
            })
            .await;
        let going_on = wait_for_history(
            &second,
            "/api/stream-sessions/",
            "the session updated",
            |body| body["sessions"][0]["bytes"].as_i64() > open["sessions"][0]["bytes"].as_i64(),
        )
        .await;
        assert_eq!(list(&going_on, "sessions").len(), 1);
        assert_eq!(going_on["sessions"][0]["id"], session_id);
        assert_eq!(going_on["sessions"][0]["active"], true);
        let last_bytes = going_on["sessions"][0]["bytes"].as_i64();
        assert_eq!(second.post("/api/obs-manager/stop/", "").await.status, 200);

        // OBS stops while nobody watches; the next hub closes the session with the last figures.
        assert!(fake.stop_stream_from_obs().await);
        eventually("OBS stopped", || async { !fake.is_streaming() }).await;
        let third = hub_on_shared_database();
        third
            .wait_for("connected", |s| {
                s["connected"] == true && s["stale"] == false
            })
            .await;
        let closed = wait_for_history(
            &third,
            "/api/stream-sessions/",
            "the session closed",
            |body| body["sessions"][0]["active"] == false,
        )
        .await;
        let session = &closed["sessions"][0];
        assert_eq!(session["id"], session_id);
        assert_eq!(session["end_reason"], "found_stopped");
        assert!(session["bytes"].as_i64() >= last_bytes, "{session:#}");
        assert!(session["ended_at"].is_string());
    }
}
