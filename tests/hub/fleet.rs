//! The fleet (issue 20): instance groups (config and API), group commands fanned out to every
//! member, and instances added, changed and removed through the API while the hub runs.

use crate::common;

use std::time::Duration;

use awc::ws::{Frame, Message};
use common::{eventually, instance, spawn_hub_configured, start_fake, TestHub, PASSWORD};
use futures_util::{SinkExt, StreamExt};
use obs_hub::{config::InstanceGroupConfig, fake_obs::FakeObs};
use serde_json::{json, Value};

fn group(name: &str, members: &[&str]) -> InstanceGroupConfig {
    InstanceGroupConfig {
        name: name.to_string(),
        instances: members.iter().map(|member| member.to_string()).collect(),
    }
}

/// Waits until the board shows every named instance connected with a fresh state.
async fn all_connected(hub: &TestHub, names: &[&str]) {
    eventually("every instance connected", || async {
        let snapshot = hub.board.current();
        names.iter().all(|name| {
            snapshot
                .instance(name)
                .is_some_and(|status| status.is_connected() && !status.stale)
        })
    })
    .await;
}

/// The next JSON text frame of the live socket (pings aside), within a generous deadline.
async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    loop {
        let frame = actix_web::rt::time::timeout(Duration::from_secs(20), socket.next())
            .await
            .expect("a message within the deadline")
            .expect("the socket stays open")
            .expect("a valid frame");
        match frame {
            Frame::Text(text) => return serde_json::from_slice(&text).expect("JSON"),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Reads the live socket until a message satisfies `wanted`.
async fn until<S>(socket: &mut S, what: &str, wanted: impl Fn(&Value) -> bool) -> Value
where
    S: futures_util::Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    for _ in 0..10_000 {
        let message = next_json(socket).await;
        if wanted(&message) {
            return message;
        }
    }
    panic!("never saw {what}");
}

#[actix_web::test]
async fn groups_are_made_changed_and_deleted_and_the_config_file_s_are_read_only() {
    let a = start_fake().await;
    let b = start_fake().await;
    let hub = spawn_hub_configured(
        vec![instance("a", &a, PASSWORD), instance("b", &b, PASSWORD)],
        |settings| settings.instance_groups = vec![group("all", &["a", "b"])],
    );
    let listed = hub.get("/api/instance-groups/").await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body,
        json!([{"name": "all", "instances": ["a", "b"], "origin": "config"}])
    );

    let made = hub
        .post(
            "/api/instance-groups/",
            r#"{"name": "pair", "instances": ["b", "a"]}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let shown = hub.get("/api/instance-groups/pair").await;
    assert_eq!(shown.body["instances"], json!(["b", "a"]));
    assert_eq!(shown.body["origin"], "api");

    let again = hub
        .post(
            "/api/instance-groups/",
            r#"{"name": "pair", "instances": ["a"]}"#,
        )
        .await;
    assert_eq!(
        (again.status, &again.body["error"]),
        (409, &json!("name_taken"))
    );
    let unknown_member = hub
        .post(
            "/api/instance-groups/",
            r#"{"name": "odd", "instances": ["a", "zz"]}"#,
        )
        .await;
    assert_eq!(unknown_member.status, 400);
    assert_eq!(unknown_member.body["error"], "invalid_field");
    assert!(unknown_member.body["message"]
        .as_str()
        .unwrap()
        .contains("`instances[1]`: no instance named `zz`"));
    assert_eq!(hub.get("/api/instance-groups/odd").await.status, 404);

    let changed = hub
        .send(
            "PUT",
            "/api/instance-groups/pair",
            r#"{"instances": ["b"]}"#,
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(
        hub.get("/api/instance-groups/pair").await.body["instances"],
        json!(["b"])
    );

    for (method, body) in [("PUT", r#"{"instances": ["a"]}"#), ("DELETE", "")] {
        let refused = hub.send(method, "/api/instance-groups/all", body).await;
        assert_eq!(refused.status, 409, "{method}");
        assert_eq!(refused.body["error"], "declared_in_config", "{method}");
    }
    assert_eq!(
        hub.get("/api/instance-groups/all").await.body["instances"],
        json!(["a", "b"])
    );

    // Stored: a hub started on the same database has it.
    let database = hub.database.clone();
    let restarted = spawn_hub_configured(
        vec![instance("a", &a, PASSWORD), instance("b", &b, PASSWORD)],
        |settings| settings.database.path = database,
    );
    assert_eq!(
        restarted.get("/api/instance-groups/pair").await.body["instances"],
        json!(["b"])
    );

    let deleted = hub.send("DELETE", "/api/instance-groups/pair", "").await;
    assert_eq!(deleted.status, 204);
    let gone = hub.get("/api/instance-groups/pair").await;
    assert_eq!(
        (gone.status, &gone.body["error"]),
        (404, &json!("unknown_instance_group"))
    );
    assert_eq!(
        hub.post(
            "/api/instance-groups/pair/switch-scene",
            r#"{"scene_name": "Live"}"#
        )
        .await
        .body["error"],
        "unknown_instance_group"
    );
}

#[actix_web::test]
async fn a_group_scene_switch_switches_every_member_and_shows_the_one_that_is_down() {
    let fakes: Vec<FakeObs> = vec![start_fake().await, start_fake().await, start_fake().await];
    let names = ["s1", "s2", "s3"];
    let hub = spawn_hub_configured(
        names
            .iter()
            .zip(&fakes)
            .map(|(name, fake)| instance(name, fake, PASSWORD))
            .collect(),
        |settings| settings.instance_groups = vec![group("studios", &names)],
    );
    all_connected(&hub, &names).await;

    let switched = hub
        .post(
            "/api/instance-groups/studios/switch-scene/",
            r#"{"scene_name": "Live"}"#,
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    assert_eq!(switched.body["group"], "studios");
    assert_eq!(
        (
            switched.body["succeeded"].as_u64(),
            switched.body["failed"].as_u64()
        ),
        (Some(3), Some(0))
    );
    assert!(switched.body["spread_ms"]
        .as_f64()
        .is_some_and(|ms| ms >= 0.0));
    let results = switched.body["results"].as_array().unwrap();
    let answered: Vec<&str> = results
        .iter()
        .map(|result| result["instance"].as_str().unwrap())
        .collect();
    assert_eq!(answered, names);
    for (result, fake) in results.iter().zip(&fakes) {
        assert_eq!(result["status"], 200, "{result}");
        assert_eq!(fake.current_scene(), "Live");
    }

    // A route naming something with a space in it: passed on as sent (percent-encoded).
    let soon = hub
        .post(
            "/api/instance-groups/studios/switch-scene",
            r#"{"scene_name": "Starting Soon"}"#,
        )
        .await;
    assert_eq!(soon.body["succeeded"], 3, "{}", soon.body);
    let items = hub
        .get("/api/instance-groups/studios/scenes/Starting%20Soon/items")
        .await;
    assert!(
        items.body["results"]
            .as_array()
            .is_some_and(|results| results.iter().all(|result| result["status"] == 200)),
        "{}",
        items.body
    );
    hub.post(
        "/api/instance-groups/studios/switch-scene",
        r#"{"scene_name": "Live"}"#,
    )
    .await;

    // A read fans out the same way.
    let statuses = hub.get("/api/instance-groups/studios/stream-status").await;
    assert!(statuses.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|result| result["body"]["current_scene"] == "Live"));

    // One member down: its failure is its own result; the others switch.
    fakes[2].stop().await;
    eventually("s3 seen down", || async {
        hub.board
            .current()
            .instance("s3")
            .is_some_and(|status| !status.is_connected())
    })
    .await;
    let partial = hub
        .post(
            "/api/instance-groups/studios/switch-scene",
            r#"{"scene_name": "BRB"}"#,
        )
        .await;
    assert_eq!(partial.status, 200, "{}", partial.body);
    assert_eq!(
        (
            partial.body["succeeded"].as_u64(),
            partial.body["failed"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let results = partial.body["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], 200);
    assert_eq!(results[1]["status"], 200);
    assert_eq!(results[2]["instance"], "s3");
    assert_eq!(results[2]["status"], 503);
    assert_eq!(results[2]["ok"], false);
    assert_eq!(results[2]["body"]["error"], "obs_not_connected");
    assert_eq!(fakes[0].current_scene(), "BRB");
    assert_eq!(fakes[1].current_scene(), "BRB");
    assert_eq!(fakes[2].current_scene(), "Live");
}

#[actix_web::test]
async fn an_instance_added_through_the_api_connects_moves_and_is_removed_with_its_history_kept() {
    let main = start_fake().await;
    let first = start_fake().await;
    let second = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &main, PASSWORD)], |_| {});
    all_connected(&hub, &["default"]).await;
    let (_, mut socket) = hub
        .client
        .ws(format!("{}/ws", hub.base.replacen("http://", "ws://", 1)))
        .connect()
        .await
        .expect("WebSocket opens");
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");

    let added = hub
        .post(
            "/api/instances/",
            &json!({"name": "fleet-booth", "host": "127.0.0.1", "port": first.port(), "password": PASSWORD})
                .to_string(),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["password_set"], true);
    assert!(!added.body.to_string().contains(PASSWORD), "{}", added.body);

    let announced = until(&mut socket, "booth added", |m| {
        m["type"] == "instance_changed" && m["instance"] == "fleet-booth"
    })
    .await;
    assert_eq!(announced["action"], "added");
    assert_eq!(announced["port"], first.port());
    until(&mut socket, "booth connected", |m| {
        m["type"] == "connection_changed"
            && m["instance"] == "fleet-booth"
            && m["connected"] == true
    })
    .await;
    hub.wait_for_path("/api/instances/", "booth listed as connected", |body| {
        body["instances"].as_array().is_some_and(|list| {
            list.iter()
                .any(|i| i["name"] == "fleet-booth" && i["connection_state"] == "connected")
        })
    })
    .await;
    // The password reached no answer, nor the audit trail (redacted there).
    let audit = hub
        .wait_for_path("/api/audit/", "the addition audited", |body| {
            body.to_string().contains("/api/instances")
        })
        .await;
    assert!(!audit.to_string().contains(PASSWORD), "{audit}");
    // Its link is a real one: commands reach its OBS.
    let switched = hub
        .post(
            "/api/instances/fleet-booth/switch-scene",
            r#"{"scene_name": "Live"}"#,
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    assert_eq!(first.current_scene(), "Live");
    assert_ne!(main.current_scene(), "Live");

    // Moved to another OBS: the first sees the hub go, the second sees it come.
    let moved = hub
        .send(
            "PATCH",
            "/api/instances/fleet-booth",
            &json!({"port": second.port()}).to_string(),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["port"], second.port());
    eventually("the first OBS left, the second joined", || async {
        first.connection_count() == 0 && second.connection_count() == 2
    })
    .await;
    hub.wait_for_path("/api/instances/", "booth connected to the second", |body| {
        body["instances"].as_array().is_some_and(|list| {
            list.iter().any(|i| {
                i["name"] == "fleet-booth"
                    && i["port"] == second.port()
                    && i["connection_state"] == "connected"
            })
        })
    })
    .await;

    let removed = hub.send("DELETE", "/api/instances/fleet-booth", "").await;
    assert_eq!(removed.status, 204);
    eventually("the second OBS sees the hub go", || async {
        second.connection_count() == 0
    })
    .await;
    let announced = until(&mut socket, "booth removed", |m| {
        m["type"] == "instance_changed"
            && m["instance"] == "fleet-booth"
            && m["action"] == "removed"
    })
    .await;
    assert_eq!(announced["port"], second.port());
    let listed = hub.get("/api/instances/").await.body;
    assert!(listed["instances"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["name"] != "fleet-booth"));
    assert_eq!(
        hub.get("/api/instances/fleet-booth/stream-status")
            .await
            .status,
        404
    );
    hub.wait_for_path(
        "/api/events/?instance=fleet-booth",
        "booth's history kept",
        |body| {
            body["events"].as_array().is_some_and(|events| {
                events.iter().any(|e| e["kind"] == "scene_changed")
                    && events.iter().any(|e| {
                        e["kind"] == "instance_changed" && e["payload"]["action"] == "removed"
                    })
            })
        },
    )
    .await;
    let metrics = hub
        .client
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .expect("metrics answer")
        .body()
        .await
        .expect("metrics body");
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(!metrics.contains(r#"instance="fleet-booth""#), "{metrics}");
    socket.send(Message::Close(None)).await.ok();

    // Added again under the same name: a fresh link.
    let again = hub
        .post(
            "/api/instances/",
            &json!({"name": "fleet-booth", "host": "127.0.0.1", "port": first.port(), "password": PASSWORD})
                .to_string(),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    all_connected(&hub, &["default", "fleet-booth"]).await;
}

#[actix_web::test]
async fn instances_of_the_config_file_are_read_only_and_bad_bodies_name_their_field() {
    let main = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &main, PASSWORD)], |_| {});
    for (method, body) in [("PATCH", r#"{"port": 4460}"#), ("DELETE", "")] {
        let refused = hub.send(method, "/api/instances/default", body).await;
        assert_eq!(refused.status, 409, "{method}");
        assert_eq!(refused.body["error"], "declared_in_config", "{method}");
    }
    let taken = hub
        .post(
            "/api/instances/",
            r#"{"name": "default", "host": "127.0.0.1"}"#,
        )
        .await;
    assert_eq!(
        (taken.status, &taken.body["error"]),
        (409, &json!("name_taken"))
    );
    let unknown = hub.send("DELETE", "/api/instances/nope", "").await;
    assert_eq!(
        (unknown.status, &unknown.body["error"]),
        (404, &json!("unknown_instance"))
    );

    let field = |reply: &common::Reply| {
        reply.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    for (body, named) in [
        (r#"{"name": "a b", "host": "127.0.0.1"}"#, "`name`"),
        (r#"{"name": "x", "host": "http://127.0.0.1"}"#, "`host`"),
        (r#"{"name": "x", "host": "127.0.0.1", "port": 0}"#, "`port`"),
        (
            r#"{"name": "x", "host": "127.0.0.1", "port": 70000}"#,
            "port",
        ),
        (r#"{"name": "x"}"#, "host"),
        (
            r#"{"name": "x", "host": "127.0.0.1", "colour": "red"}"#,
            "colour",
        ),
    ] {
        let refused = hub.post("/api/instances/", body).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.body);
        assert_eq!(refused.body["error"], "invalid_field", "{body}");
        assert!(field(&refused).contains(named), "{body}: {}", refused.body);
    }
    // Where no OBS can be (loopback forms only: nothing is sent anywhere).
    for host in ["0.0.0.0", "2130706433", "0x7f000001"] {
        let refused = hub
            .post(
                "/api/instances/",
                &json!({"name": "x", "host": host}).to_string(),
            )
            .await;
        assert_eq!(refused.status, 400, "{host}");
        assert_eq!(refused.body["error"], "destination_not_allowed", "{host}");
    }
    let port = hub.base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let itself = hub
        .post(
            "/api/instances/",
            &json!({"name": "x", "host": "127.0.0.1", "port": port}).to_string(),
        )
        .await;
    assert_eq!(itself.body["error"], "destination_not_allowed");
    // Nothing was added by any of these.
    assert_eq!(hub.board.current().instances.len(), 1);
}
