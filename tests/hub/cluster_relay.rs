//! The cluster's change relay (issue 22): two in-process nodes on one PostgreSQL database. The
//! node owning an instance writes its changes, fenced by its lease; a WebSocket client of the
//! other node sees them in order with a gap-free `instance_seq`; history has each change once;
//! a write under an epoch that is no longer the lease's is refused.

use std::time::Duration;

use awc::ws::Frame;
use futures_util::StreamExt;
use obs_hub::{
    config::{ClusterSettings, DatabaseLocation, PostgresUrl},
    status::ClaimInstance,
};
use serde_json::Value;

use crate::common::{
    self, eventually, instance, postgres, spawn_hub_configured, start_fake, TestHub, PASSWORD,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn node(id: &str) -> ClusterSettings {
    ClusterSettings {
        node_id: id.to_string(),
        address: "http://127.0.0.1:9".to_string(),
        lease: Duration::from_secs(10),
    }
}

fn cluster_node(
    id: &str,
    location: &DatabaseLocation,
    instances: Vec<obs_hub::config::InstanceConfig>,
) -> TestHub {
    spawn_hub_configured(instances, |settings| {
        common::use_database(settings, location);
        settings.cluster = Some(node(id));
    })
}

/// The next JSON text frame (pings aside); panics at the deadline.
async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Frame, awc::error::WsProtocolError>> + Unpin,
{
    loop {
        let frame = actix_web::rt::time::timeout(DEADLINE, socket.next())
            .await
            .expect("a message before the deadline")
            .expect("the socket stays open")
            .expect("a valid frame");
        match frame {
            Frame::Text(text) => return serde_json::from_slice(&text).expect("JSON"),
            Frame::Ping(_) | Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn metric(hub: &TestHub, name: &str) -> f64 {
    let mut response = hub
        .client
        .get(format!("{}/metrics", hub.base))
        .send()
        .await
        .expect("metrics");
    let body = response.body().limit(1 << 22).await.expect("body");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn count(database: &str, sql: &str) -> i64 {
    postgres::query(database, sql)
        .trim()
        .parse()
        .expect("a count")
}

#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_cluster_a_client_of_another_node_sees_the_owners_changes_in_order_once() {
    let database = postgres::fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let fake = start_fake().await;
    // Node b first: it makes the tables. It has no link to the instance: it only mirrors.
    let b = cluster_node("b", &location, Vec::new());
    postgres::query(
        &database.name,
        "INSERT INTO cluster_leases (name, owner, epoch, expires_at) \
         VALUES ('studio', 'a', 1, now() + interval '1 hour')",
    );
    let a = cluster_node("a", &location, vec![instance("studio", &fake, PASSWORD)]);
    // As the lease keeper does on acquiring, before the connection's first report.
    a.app_manager.do_send(ClaimInstance {
        instance: "studio".into(),
        epoch: 1,
        next_seq: 1,
    });
    let ws = format!("{}/ws", b.base.replacen("http://", "ws://", 1));
    let (_, mut socket) = b.client.ws(ws).connect().await.expect("WebSocket opens");
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");
    let mut seq = snapshot["seq"].as_u64().unwrap();
    eventually("node a connected to the instance", || async {
        a.board
            .current()
            .instance("studio")
            .is_some_and(|status| status.is_connected() && !status.stale)
    })
    .await;

    let scenes: Vec<&str> = (0..20).map(|i| ["Live", "BRB"][i % 2]).collect();
    for scene in &scenes {
        fake.switch_scene_from_obs(scene).await;
        eventually("node a follows OBS", || async {
            a.board.current().instances["studio"]
                .current_scene
                .as_deref()
                == Some(*scene)
        })
        .await;
    }

    // Node b's client: every change of the instance, in order, gap-free in both numberings,
    // up to the owner's last one.
    let owners_last = a.board.current().instances["studio"]
        .instance_seq
        .expect("the owner numbers the instance's changes");
    let mut instance_seq: Option<u64> = None;
    let mut seen_scenes = Vec::new();
    while instance_seq != Some(owners_last) {
        let change = next_json(&mut socket).await;
        assert_eq!(
            change["seq"].as_u64(),
            Some(seq + 1),
            "node b's own numbering: {change}"
        );
        seq += 1;
        assert_eq!(change["instance"], "studio");
        let numbered = change["instance_seq"]
            .as_u64()
            .expect("instance_seq in a cluster");
        if let Some(last) = instance_seq {
            assert_eq!(numbered, last + 1, "gap-free per instance: {change}");
        }
        instance_seq = Some(numbered);
        if change["type"] == "scene_changed" {
            seen_scenes.push(change["scene"].as_str().unwrap().to_string());
        }
    }
    // The first switch may find OBS on that scene already; every later one is a change.
    assert!(seen_scenes.len() >= scenes.len() - 1, "{seen_scenes:?}");
    assert_eq!(
        seen_scenes.last().map(String::as_str),
        scenes.last().copied()
    );
    assert_eq!(
        b.board.current().instances["studio"]
            .current_scene
            .as_deref(),
        scenes.last().copied(),
        "node b's board follows the owner's status"
    );
    let last = instance_seq.unwrap();

    // History: each change once, all numbered by their instance (b recorded none of them).
    let events = "SELECT count(*) FROM events";
    assert_eq!(
        count(
            &database.name,
            "SELECT count(*) FROM events WHERE instance_seq IS NULL"
        ),
        0
    );
    assert_eq!(
        count(
            &database.name,
            "SELECT count(DISTINCT instance_seq) FROM events"
        ),
        count(&database.name, events)
    );
    assert!(
        count(
            &database.name,
            "SELECT count(*) FROM events WHERE kind = 'scene_changed'"
        ) >= scenes.len() as i64
    );
    let recorded = count(&database.name, events);

    // The lease moved on (node a has not heard yet): its late change is refused, not written.
    let fenced = metric(&a, "obs_hub_cluster_fenced_changes_total").await;
    postgres::query(
        &database.name,
        "UPDATE cluster_leases SET owner = 'b', epoch = 2 WHERE name = 'studio'",
    );
    fake.switch_scene_from_obs("Live").await;
    eventually("node a's late change refused", || async {
        metric(&a, "obs_hub_cluster_fenced_changes_total").await > fenced
    })
    .await;
    assert_eq!(count(&database.name, events), recorded);
    assert_eq!(
        count(
            &database.name,
            &format!("SELECT count(*) FROM cluster_changes WHERE seq > {last}")
        ),
        0
    );
}
