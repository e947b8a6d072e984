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
