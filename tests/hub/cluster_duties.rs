//! Two in-process cluster nodes on one PostgreSQL database (issue 22, part W): a command sent to
//! a node that does not own the instance is run by the owner and its answer comes back; nobody
//! owning it is a 503 `instance_unowned`; a webhook delivery claimed by a dead node is delivered
//! by the other under the same id, and a live claim is never taken; a schedule fires on one node
//! only. Ownership is published into each node by the test (the view a lease keeper would
//! publish), so each case sets exactly the ownership it is about.

use std::time::Duration;

use chrono::Utc;
use obs_hub::{
    config::{ClusterSettings, DatabaseLocation, InstanceConfig, PostgresUrl},
    status::ownership::{ClusterView, LeaseView, NodeView},
};
use serde_json::Value;

use crate::common::{self, instance, postgres, start_fake, TestHub, PASSWORD};

/// A node of a cluster named `id` on `location`, serving `instances`.
fn spawn_node(id: &str, instances: Vec<InstanceConfig>, location: &DatabaseLocation) -> TestHub {
    let id = id.to_string();
    common::spawn_hub_configured(instances, |settings| {
        common::use_database(settings, location);
        settings.cluster = Some(ClusterSettings {
            node_id: id,
            // The other nodes learn a node's address from the view the test publishes.
            address: "http://127.0.0.1:9".to_string(),
            lease: Duration::from_secs(3),
        });
    })
}

fn shared_database() -> (postgres::TestDatabase, DatabaseLocation) {
    let database = postgres::fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    (database, location)
}

/// The view of node `me`: `leases` (name, owner) over live `nodes` (id, base URL).
fn view(me: &str, leases: &[(&str, Option<&str>)], nodes: &[(&str, &str)]) -> ClusterView {
    ClusterView {
        me: me.to_string(),
        leases: leases
            .iter()
            .map(|(name, owner)| {
                let lease = LeaseView {
                    owner: owner.map(str::to_string),
                    epoch: 1,
                    expires_at: None,
                };
                (name.to_string(), lease)
            })
            .collect(),
        nodes: nodes
            .iter()
            .map(|(id, address)| {
                let node = NodeView {
                    address: address.to_string(),
                    heartbeat_at: Utc::now(),
                    live: true,
                };
                (id.to_string(), node)
            })
            .collect(),
        read_at: None,
    }
}

struct Answer {
    status: u16,
    node: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

async fn post(hub: &TestHub, path: &str, body: &str, extra: Option<(&str, &str)>) -> Answer {
    let mut request = hub
        .client
        .post(format!("{}{path}", hub.base))
        .insert_header(("content-type", "application/json"));
    if let Some(header) = extra {
        request = request.insert_header(header);
    }
    let mut response = request
        .send_body(body.to_string())
        .await
        .expect("the node answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let node = header("x-obs-hub-node");
    let retry_after = header("retry-after");
    let bytes = response.body().await.expect("a body");
    Answer {
        status: response.status().as_u16(),
        node,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A command sent to node B about an instance node A owns is run by A: OBS switches, and the
/// answer comes back through B naming A. The plain route (the default instance) goes the same
/// way. Without an owner, or a request already forwarded that B cannot serve, or an owner that
/// does not answer: 503 with the code saying which, and OBS untouched.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_commands_reach_the_owner_through_any_node() {
    let (_database, location) = shared_database();
    let fake = start_fake().await;
    let studio = || vec![instance("studio", &fake, PASSWORD)];
    let a = spawn_node("node-a", studio(), &location);
    let b = spawn_node("node-b", studio(), &location);
    a.wait_for_path("/api/instances/studio/stream-status", "A connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    let nodes = [("node-a", a.base.as_str()), ("node-b", b.base.as_str())];
    let owned_by_a = [("studio", Some("node-a"))];
    a.ownership.publish(view("node-a", &owned_by_a, &nodes));
    b.ownership.publish(view("node-b", &owned_by_a, &nodes));

    let named = post(
        &b,
        "/api/instances/studio/switch-scene",
        r#"{"scene_name": "BRB"}"#,
        None,
    )
    .await;
    assert_eq!(named.status, 200, "{}", named.body);
    assert_eq!(
        named.node.as_deref(),
        Some("node-a"),
        "answered by the owner"
    );
    assert_eq!(fake.current_scene(), "BRB");
    let plain = post(&b, "/api/switch-scene", r#"{"scene_name": "Live"}"#, None).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.node.as_deref(), Some("node-a"));
    assert_eq!(fake.current_scene(), "Live");
    // The owner answers its own requests itself.
    let own = post(&a, "/api/switch-scene", r#"{"scene_name": "BRB"}"#, None).await;
    assert_eq!((own.status, own.node.as_deref()), (200, Some("node-a")));
    assert_eq!(fake.current_scene(), "BRB");

    // A request forwarded to B by some node whose view is behind: never forwarded again.
    let bounced = post(
        &b,
        "/api/switch-scene",
        r#"{"scene_name": "Live"}"#,
        Some(("x-obs-hub-forwarded-by", "node-c")),
    )
    .await;
    assert_eq!(bounced.status, 503);
    assert_eq!(bounced.body["error"], "instance_moving");
    assert_eq!(bounced.node.as_deref(), Some("node-b"));

    // Nobody owns it: a takeover under way.
    b.ownership
        .publish(view("node-b", &[("studio", None)], &nodes));
    let unowned = post(&b, "/api/switch-scene", r#"{"scene_name": "Live"}"#, None).await;
    assert_eq!(unowned.status, 503);
    assert_eq!(unowned.body["error"], "instance_unowned");
    assert_eq!(unowned.retry_after.as_deref(), Some("1"));

    // An owner that does not answer.
    let gone = common::ClosedPort::new();
    let gone_base = format!("http://127.0.0.1:{}", gone.port);
    b.ownership.publish(view(
        "node-b",
        &[("studio", Some("node-c"))],
        &[("node-b", b.base.as_str()), ("node-c", gone_base.as_str())],
    ));
    let unreachable = post(&b, "/api/switch-scene", r#"{"scene_name": "Live"}"#, None).await;
    assert_eq!(unreachable.status, 503);
    assert_eq!(unreachable.body["error"], "owner_unreachable");
    assert_eq!(fake.current_scene(), "BRB", "none of these reached OBS");
}

/// A delivery row as a node of the cluster would have stored it, claimed by `node` until
/// `until` (an SQL expression on the database's clock).
fn store_claimed_delivery(database: &str, id: &str, endpoint: &str, node: &str, until: &str) {
    postgres::query(
        database,
        &format!(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, \
             attempts, round_start, next_attempt_at, created_at, claimed_by, claimed_until) \
             VALUES ('{id}', '{endpoint}', 'scene_changed', \
             '{{\"type\": \"scene_changed\", \"data\": {{\"n\": \"{id}\"}}}}', 'pending', 0, 0, \
             now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC', '{node}', {until})"
        ),
    );
}

/// `status|attempts|claimed_by` of a delivery.
fn delivery_row(database: &str, id: &str) -> String {
    postgres::query(
        database,
        &format!(
            "SELECT status || '|' || attempts || '|' || coalesce(claimed_by, '-') \
             FROM webhook_deliveries WHERE id = '{id}'"
        ),
    )
}

/// Deliveries whose node died (their claim expired) are taken over by a live node and reach
/// the receiver once each, under the id they were stored with; a claim that has not expired
/// (its node may still be sending) is never taken. The endpoint is made through node A: node B
/// learns it from the database.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_expired_delivery_claims_are_taken_over_and_live_ones_never() {
    let (database, location) = shared_database();
    let fake = start_fake().await;
    let studio = || vec![instance("studio", &fake, PASSWORD)];
    let a = spawn_node("node-a", studio(), &location);
    let b = spawn_node("node-b", studio(), &location);
    let receiver = common::receiver::Receiver::new();
    receiver.start();
    let created = a
        .post(
            "/api/webhooks/",
            &serde_json::json!({"url": receiver.url(), "event_types": ["scene_changed"]})
                .to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    receiver.set_secret(created.body["secret"].as_str().expect("the secret"));
    let endpoint = created.body["id"].as_str().expect("an id").to_string();
    common::eventually("node B knows the endpoint made through node A", || async {
        b.get(&format!("/api/webhooks/{endpoint}")).await.status == 200
    })
    .await;

    store_claimed_delivery(
        &database.name,
        "msg_live",
        &endpoint,
        "node-c",
        "(now() AT TIME ZONE 'UTC') + interval '1 hour'",
    );
    // One after the other: each taken over proves another sweep passed the live claim by.
    let dead: Vec<String> = (0..3).map(|n| format!("msg_dead_{n}")).collect();
    for id in &dead {
        store_claimed_delivery(
            &database.name,
            id,
            &endpoint,
            "node-gone",
            "(now() AT TIME ZONE 'UTC') - interval '1 minute'",
        );
        common::eventually(&format!("{id} delivered"), || async {
            delivery_row(&database.name, id).starts_with("delivered|")
        })
        .await;
    }
    let received: Vec<String> = receiver.received().into_iter().map(|r| r.id).collect();
    for id in &dead {
        let times = received.iter().filter(|got| *got == id).count();
        assert_eq!(times, 1, "{id} received once under its id: {received:?}");
        let row = delivery_row(&database.name, id);
        assert!(
            row == "delivered|1|node-a" || row == "delivered|1|node-b",
            "{id}: {row}"
        );
    }
    assert!(!received.contains(&"msg_live".to_string()));
    assert_eq!(delivery_row(&database.name, "msg_live"), "pending|0|node-c");
    assert_eq!(receiver.bad_signatures(), 0);
}

/// The firings of `rule` a node knows of (its own engine's).
async fn last_firing(hub: &TestHub, rule: &str) -> Value {
    let view = hub.get(&format!("/api/rules/{rule}")).await;
    assert_eq!(view.status, 200, "{}", view.body);
    view.body["last_firing"].clone()
}

async fn tick_both(a: &TestHub, b: &TestHub) {
    for hub in [a, b] {
        hub.rules
            .send(obs_hub::rules::engine::Tick)
            .await
            .expect("the rules engine answers");
    }
}

/// A schedule made through node A (node B learns it from the database) fires on the node
/// holding the schedules duty only: once, on A; when the duty moves to B, B fires the next
/// one, and A no more. Both nodes' clocks are the same hand-driven clock.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_a_schedule_fires_on_one_node_only() {
    use obs_hub::{
        clock::{ManualClock, SharedClock},
        status::ownership::SCHEDULES_DUTY,
    };
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-30T17:59:30Z").unwrap();
    let clock = std::sync::Arc::new(ManualClock::new(start.with_timezone(&Utc)));
    let (_database, location) = shared_database();
    let fake = start_fake().await;
    let node = |id: &str| {
        let clock = SharedClock::manual(clock.clone());
        let id = id.to_string();
        common::spawn_hub_configured(vec![instance("studio", &fake, PASSWORD)], |settings| {
            common::use_database(settings, &location);
            settings.clock = clock;
            settings.cluster = Some(ClusterSettings {
                node_id: id,
                address: "http://127.0.0.1:9".to_string(),
                lease: Duration::from_secs(3),
            });
        })
    };
    let a = node("node-a");
    let b = node("node-b");
    let nodes = [("node-a", a.base.as_str()), ("node-b", b.base.as_str())];
    let duty_on = |holder: &str| {
        a.ownership.publish(view(
            "node-a",
            &[("studio", Some("node-a")), (SCHEDULES_DUTY, Some(holder))],
            &nodes,
        ));
        b.ownership.publish(view(
            "node-b",
            &[("studio", Some("node-a")), (SCHEDULES_DUTY, Some(holder))],
            &nodes,
        ));
    };
    duty_on("node-a");
    a.wait_for_path("/api/instances/studio/stream-status", "A connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    let made = a
        .post(
            "/api/rules",
            r#"{"name": "evening", "trigger": {"type": "schedule", "cron": "0 19 * * *", "time_zone": "Europe/Berlin"},
                "actions": [{"type": "switch_scene", "scene": "Starting Soon", "instances": ["studio"]}]}"#,
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    common::eventually("node B knows the rule made through node A", || async {
        b.get("/api/rules/evening").await.status == 200
    })
    .await;

    tick_both(&a, &b).await;
    clock.advance(Duration::from_secs(30));
    tick_both(&a, &b).await;
    common::eventually("the firing on A", || async {
        last_firing(&a, "evening").await["outcome"] == "fired"
    })
    .await;
    tick_both(&a, &b).await;
    assert_eq!(fake.current_scene(), "Starting Soon");
    assert_eq!(fake.request_count("SetCurrentProgramScene"), 1);
    assert_eq!(last_firing(&b, "evening").await, Value::Null);
    let first_on_a = last_firing(&a, "evening").await;

    // The duty moves to B: B fires the next evening's, A does not.
    duty_on("node-b");
    tick_both(&a, &b).await;
    clock.advance(Duration::from_secs(24 * 3600));
    tick_both(&a, &b).await;
    common::eventually("the firing on B", || async {
        last_firing(&b, "evening").await["outcome"] == "fired"
    })
    .await;
    tick_both(&a, &b).await;
    assert_eq!(fake.request_count("SetCurrentProgramScene"), 2);
    assert_eq!(
        last_firing(&a, "evening").await,
        first_on_a,
        "A's last firing is still the first evening's"
    );
}
