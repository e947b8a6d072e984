//! Two in-process cluster nodes on one PostgreSQL database (issue 22, part W): a command sent to
//! a node that does not own the instance is run by the owner and its answer comes back; nobody
//! owning it is a 503 `instance_unowned`; a webhook delivery claimed by a dead node is delivered
//! by the other under the same id, and a live claim is never taken; a schedule fires on the
//! node holding the schedules duty only. The nodes' lease keepers place the instances and the
//! duty; where a case needs a view no keeper would publish (nobody owning an instance, an owner
//! that does not answer), the test stops that node's keeper and publishes the view itself.

use std::time::Duration;

use chrono::Utc;
use obs_hub::{
    cluster::Halt,
    config::{DatabaseLocation, InstanceConfig, PostgresUrl, Settings},
    status::ownership::{ClusterView, LeaseView, NodeView, Routing, SCHEDULES_DUTY},
};
use serde_json::Value;

use crate::common::{self, instance, postgres, start_fake, TestHub, PASSWORD};

/// Short leases: a handover within a test's patience.
const LEASE: Duration = Duration::from_millis(1_500);

/// A node of a cluster named `id` on `location`, serving `instances`, at its own address.
fn spawn_node(
    id: &str,
    instances: Vec<InstanceConfig>,
    location: &DatabaseLocation,
    configure: impl FnOnce(&mut Settings),
) -> TestHub {
    common::spawn_cluster_node(id, instances, location, LEASE, configure)
}

/// The node of `nodes` holding `lease`, once exactly one does, and the other.
async fn holder_of<'a>(lease: &str, a: &'a TestHub, b: &'a TestHub) -> (&'a TestHub, &'a TestHub) {
    common::eventually(&format!("`{lease}` held by exactly one node"), || {
        let holds = (a.ownership.holds(lease), b.ownership.holds(lease));
        async move { holds.0 != holds.1 }
    })
    .await;
    if a.ownership.holds(lease) {
        (a, b)
    } else {
        (b, a)
    }
}

fn node_id(hub: &TestHub) -> String {
    hub.ownership.view().expect("a cluster node").me
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

/// A command sent to the node that does not own the instance is run by the owner: OBS switches,
/// and the answer comes back through the other node naming the owner. The plain route (the
/// default instance) goes the same way. A request already forwarded is not forwarded again;
/// without an owner, or with an owner that does not answer: 503 with the code saying which,
/// and OBS untouched.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_commands_reach_the_owner_through_any_node() {
    let (_database, location) = shared_database();
    let fake = start_fake().await;
    let studio = || vec![instance("studio", &fake, PASSWORD)];
    let a = spawn_node("node-a", studio(), &location, |_| {});
    let b = spawn_node("node-b", studio(), &location, |_| {});
    let (owner, other) = holder_of("studio", &a, &b).await;
    owner
        .wait_for_path("/api/instances/studio/stream-status", "connected", |s| {
            s["connected"] == true && s["stale"] == false
        })
        .await;
    let owner_id = node_id(owner);
    common::eventually("the other node's view names the owner", || {
        let routed = other.ownership.route("studio");
        async move { matches!(routed, Routing::Remote { .. }) }
    })
    .await;

    let named = post(
        other,
        "/api/instances/studio/switch-scene",
        r#"{"scene_name": "BRB"}"#,
        None,
    )
    .await;
    assert_eq!(named.status, 200, "{}", named.body);
    assert_eq!(
        named.node.as_deref(),
        Some(owner_id.as_str()),
        "answered by the owner"
    );
    assert_eq!(fake.current_scene(), "BRB");
    let plain = post(
        other,
        "/api/switch-scene",
        r#"{"scene_name": "Live"}"#,
        None,
    )
    .await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.node.as_deref(), Some(owner_id.as_str()));
    assert_eq!(fake.current_scene(), "Live");
    // The owner answers its own requests itself.
    let own = post(owner, "/api/switch-scene", r#"{"scene_name": "BRB"}"#, None).await;
    assert_eq!(
        (own.status, own.node.as_deref()),
        (200, Some(owner_id.as_str()))
    );
    assert_eq!(fake.current_scene(), "BRB");

    // A request forwarded to the other node by a node whose view is behind: not forwarded
    // again.
    let bounced = post(
        other,
        "/api/switch-scene",
        r#"{"scene_name": "Live"}"#,
        Some(("x-obs-hub-forwarded-by", "node-c")),
    )
    .await;
    assert_eq!(bounced.status, 503);
    assert_eq!(bounced.body["error"], "instance_moving");
    assert_eq!(bounced.node, Some(node_id(other)));

    // Views no keeper publishes here: the other node's keeper stops, the test speaks for it.
    let other_id = node_id(other);
    other
        .keeper
        .as_ref()
        .expect("a keeper")
        .send(Halt { leave: false })
        .await
        .unwrap();
    // Nobody owns it: a takeover under way.
    let nodes = [(other_id.as_str(), other.base.as_str())];
    other
        .ownership
        .publish(view(&other_id, &[("studio", None)], &nodes));
    let unowned = post(
        other,
        "/api/switch-scene",
        r#"{"scene_name": "Live"}"#,
        None,
    )
    .await;
    assert_eq!(unowned.status, 503);
    assert_eq!(unowned.body["error"], "instance_unowned");
    assert_eq!(unowned.retry_after.as_deref(), Some("1"));
    // An owner that does not answer.
    let gone = common::ClosedPort::new();
    let gone_base = format!("http://127.0.0.1:{}", gone.port);
    other.ownership.publish(view(
        &other_id,
        &[("studio", Some("node-c"))],
        &[
            (other_id.as_str(), other.base.as_str()),
            ("node-c", gone_base.as_str()),
        ],
    ));
    let unreachable = post(
        other,
        "/api/switch-scene",
        r#"{"scene_name": "Live"}"#,
        None,
    )
    .await;
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
    let a = spawn_node("node-a", studio(), &location, |_| {});
    let b = spawn_node("node-b", studio(), &location, |_| {});
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
/// holding the schedules duty only; when that node leaves, the other takes the duty and fires
/// the next one (not the one already fired). Both nodes' clocks are one hand-driven clock.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_a_schedule_fires_on_one_node_only() {
    use obs_hub::clock::{ManualClock, SharedClock};
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-30T17:59:30Z").unwrap();
    let clock = std::sync::Arc::new(ManualClock::new(start.with_timezone(&Utc)));
    let (_database, location) = shared_database();
    let fake = start_fake().await;
    let node = |id: &str| {
        let clock = SharedClock::manual(clock.clone());
        spawn_node(
            id,
            vec![instance("studio", &fake, PASSWORD)],
            &location,
            |settings| {
                settings.clock = clock;
            },
        )
    };
    let a = node("node-a");
    let b = node("node-b");
    let (owner, _) = holder_of("studio", &a, &b).await;
    owner
        .wait_for_path("/api/instances/studio/stream-status", "connected", |s| {
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
    let (holder, idle) = holder_of(SCHEDULES_DUTY, &a, &b).await;

    tick_both(&a, &b).await;
    clock.advance(Duration::from_secs(30));
    tick_both(&a, &b).await;
    common::eventually("the firing on the duty's holder", || async {
        last_firing(holder, "evening").await["outcome"] == "fired"
    })
    .await;
    tick_both(&a, &b).await;
    assert_eq!(fake.current_scene(), "Starting Soon");
    assert_eq!(fake.request_count("SetCurrentProgramScene"), 1);
    assert_eq!(last_firing(idle, "evening").await, Value::Null);

    // The holder leaves: the other node takes the duty and fires the next evening's only.
    holder
        .keeper
        .as_ref()
        .expect("a keeper")
        .send(Halt { leave: true })
        .await
        .unwrap();
    common::eventually("the duty and the instance taken over", || async {
        idle.ownership.holds(SCHEDULES_DUTY) && idle.ownership.holds("studio")
    })
    .await;
    idle.wait_for_path("/api/instances/studio/stream-status", "connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    tick_both(&a, &b).await;
    assert_eq!(
        last_firing(idle, "evening").await,
        Value::Null,
        "fired once already"
    );
    clock.advance(Duration::from_secs(24 * 3600));
    tick_both(&a, &b).await;
    common::eventually("the firing on the new holder", || async {
        !last_firing(idle, "evening").await.is_null()
    })
    .await;
    assert_eq!(
        last_firing(idle, "evening").await["outcome"],
        "fired",
        "{}",
        last_firing(idle, "evening").await
    );
    tick_both(&a, &b).await;
    assert_eq!(fake.request_count("SetCurrentProgramScene"), 2);
}

/// The latency a forward adds to a command: ~500 scene switches sent to the owner directly and
/// ~500 sent to the other node, one at a time on loopback; prints p50 and p99 of each (nothing
/// asserted). Run by hand:
/// `cargo test --features postgres --test hub postgres_cluster_forward_latency -- --ignored --nocapture`.
#[actix_web::test]
#[ignore = "a measurement, run by hand"]
async fn postgres_cluster_forward_latency() {
    const COMMANDS: usize = 500;
    let (_database, location) = shared_database();
    let fake = start_fake().await;
    let studio = || vec![instance("studio", &fake, PASSWORD)];
    let a = spawn_node("node-a", studio(), &location, |_| {});
    let b = spawn_node("node-b", studio(), &location, |_| {});
    let (owner, other) = holder_of("studio", &a, &b).await;
    owner
        .wait_for_path("/api/instances/studio/stream-status", "connected", |s| {
            s["connected"] == true && s["stale"] == false
        })
        .await;
    common::eventually("the other node's view names the owner", || {
        let routed = other.ownership.route("studio");
        async move { matches!(routed, Routing::Remote { .. }) }
    })
    .await;
    let mut report = Vec::new();
    for (label, node) in [("direct to the owner", owner), ("forwarded", other)] {
        let mut took = Vec::with_capacity(COMMANDS);
        for n in 0..COMMANDS + 20 {
            let scene = ["Live", "BRB"][n % 2];
            let started = std::time::Instant::now();
            let answer = post(
                node,
                "/api/instances/studio/switch-scene",
                &format!(r#"{{"scene_name": "{scene}"}}"#),
                None,
            )
            .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            // The first 20 warm the connections up.
            if n >= 20 {
                took.push(started.elapsed());
            }
        }
        took.sort();
        let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
        report.push(format!(
            "{label}: p50 {:.2} ms, p99 {:.2} ms over {COMMANDS} commands",
            at(0.50).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0
        ));
    }
    eprintln!("{}", report.join("\n"));
}

/// A change relayed from the node that owns its instance (stamped `mirrored`) is that node's to
/// send webhooks for and run rules on: here it stores no delivery and fires no rule, where the
/// same change unstamped does both. (The rule's action fails, a scene OBS does not have: it
/// changes nothing that would make a delivery of its own.)
#[actix_web::test]
async fn mirrored_changes_send_no_webhook_and_fire_no_rule() {
    use std::sync::Arc;

    use obs_hub::{
        rules::engine::Tick,
        status::{Change, ChangeEvent, ClusterStamp, Source, StatusChanged},
        webhooks::dispatcher::GetStats,
    };
    let (hub, _fake) = common::hub_with_fake().await;
    let receiver = common::receiver::Receiver::new();
    receiver.start();
    let body = serde_json::json!({"url": receiver.url(), "event_types": ["scene_changed"]});
    let created = hub.post("/api/webhooks/", &body.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let rule = r#"{"name": "on-live", "trigger": {"type": "change", "kind": "scene_changed", "instance": "default", "where": {"scene": "Live"}},
        "actions": [{"type": "switch_scene", "scene": "No Such Scene", "instances": ["default"]}]}"#;
    let made = hub.post("/api/rules", rule).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let dispatcher = hub.webhooks.dispatcher().expect("a dispatcher").clone();
    let stored_before = dispatcher.send(GetStats).await.unwrap().stored;
    let change = |mirrored: bool| {
        StatusChanged(Arc::new(ChangeEvent {
            seq: 1_000,
            instance: "default".into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: "Live".into(),
                previous: Some("Scene".into()),
            },
            cluster: mirrored.then_some(ClusterStamp {
                instance_seq: 7,
                epoch: 1,
                mirrored: true,
            }),
        }))
    };

    dispatcher.do_send(change(true));
    hub.rules.do_send(change(true));
    // Round trips: each actor has handled the change (and stored what it accepted) by the time
    // it answers.
    hub.webhooks.drain(Duration::from_secs(20)).await;
    assert_eq!(
        dispatcher.send(GetStats).await.unwrap().stored,
        stored_before
    );
    hub.rules.send(Tick).await.unwrap();
    let view = hub.get("/api/rules/on-live").await;
    assert_eq!(view.body["last_firing"], Value::Null, "{}", view.body);

    dispatcher.do_send(change(false));
    hub.rules.do_send(change(false));
    // Answers once what it accepted is stored.
    hub.webhooks.drain(Duration::from_secs(20)).await;
    assert_eq!(
        dispatcher.send(GetStats).await.unwrap().stored,
        stored_before + 1
    );
    common::eventually("the rule fired on the unstamped change", || async {
        !hub.get("/api/rules/on-live").await.body["last_firing"].is_null()
    })
    .await;
}

/// Nodes starting together with the same `[[webhooks]]` table store its endpoint once: each
/// change then goes out once, under one id (two rows would be two endpoints, each sent to). The
/// test makes them start together for sure: it locks the endpoints' table against writes until
/// all three nodes wait (each has read the table by then, or waits for the one that has).
#[cfg(feature = "postgres")]
#[actix_web::test]
#[cfg_attr(
    postgres_missing,
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_nodes_starting_together_declare_an_endpoint_once() {
    use diesel::{connection::SimpleConnection, Connection};
    use obs_hub::{config::Secret, webhooks::dispatcher::GetStats};
    let (database, location) = shared_database();
    let fake = start_fake().await;
    let receiver = common::receiver::Receiver::new();
    let declared = obs_hub::config::webhook_settings::DeclaredWebhook::receiver(
        receiver.url(),
        Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    );
    // A first node makes the tables (its migrations), then leaves.
    drop(spawn_node("node-0", Vec::new(), &location, |_| {}));
    let mut lock = diesel::PgConnection::establish(&database.url).expect("a connection");
    lock.batch_execute("BEGIN; LOCK TABLE webhook_endpoints IN EXCLUSIVE MODE")
        .expect("the lock");
    let nodes: Vec<TestHub> = ["node-a", "node-b", "node-c"]
        .into_iter()
        .map(|id| {
            let declared = declared.clone();
            spawn_node(
                id,
                vec![instance("studio", &fake, PASSWORD)],
                &location,
                |settings| {
                    settings.webhooks.endpoints = vec![declared];
                },
            )
        })
        .collect();
    let waiting = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event_type = 'Lock'",
        database.name
    );
    common::eventually("the three nodes waiting", || {
        let waiting = postgres::query(&database.name, &waiting);
        async move { waiting == "3" }
    })
    .await;
    lock.batch_execute("COMMIT").expect("the lock released");
    for node in &nodes {
        // Answered once its endpoints are loaded.
        let dispatcher = node.webhooks.dispatcher().expect("a dispatcher");
        dispatcher.send(GetStats).await.unwrap();
    }
    let rows = postgres::query(
        &database.name,
        &format!(
            "SELECT count(*) FROM webhook_endpoints WHERE url = '{}'",
            receiver.url()
        ),
    );
    assert_eq!(rows, "1");
}
