//! Cluster nodes and their leases (issue 22): two in-process nodes on one PostgreSQL database
//! share 30 simulated OBS instances, each owned and connected exactly once; a node joining
//! takes its share over from the other; a node dying has its instances taken over once its
//! leases expire. Needs PostgreSQL (ignored without the feature or the server's binaries).

use std::time::{Duration, Instant};

use obs_hub::{
    cluster::Halt,
    config::{DatabaseLocation, InstanceConfig, PostgresUrl},
    fake_obs::FakeObs,
    status::ownership::SCHEDULES_DUTY,
};

use crate::common::{self, instance, postgres, start_fake, TestHub, PASSWORD};

/// The shortest lease the settings allow: a takeover within a test's patience.
const LEASE: Duration = Duration::from_millis(1_500);

/// A cluster node `id` on `location`, declaring `instances`.
fn node(id: &str, instances: Vec<InstanceConfig>, location: &DatabaseLocation) -> TestHub {
    common::spawn_cluster_node(id, instances, location, LEASE, |_| {})
}

/// Every instance held by exactly one of `nodes`, connected on that node's board, and its OBS
/// holding exactly one hub link (one link is two sessions: obws's and the hub's own).
fn each_owned_and_connected_once(nodes: &[&TestHub], fakes: &[(String, FakeObs)]) -> bool {
    fakes.iter().all(|(name, fake)| {
        let owners: Vec<&&TestHub> = nodes
            .iter()
            .filter(|node| node.ownership.holds(name))
            .collect();
        owners.len() == 1
            && owners[0]
                .board
                .current()
                .instances
                .get(name)
                .is_some_and(|status| status.is_connected())
            && fake.connection_count() == 2
    })
}

/// Waits (generously; the time is measured, never asserted) until `check` holds.
async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn held_by(node: &TestHub, fakes: &[(String, FakeObs)]) -> usize {
    fakes
        .iter()
        .filter(|(name, _)| node.ownership.holds(name))
        .count()
}

#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_two_nodes_share_thirty_instances_hand_over_on_join_and_take_over_a_dead_one() {
    let database = postgres::fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let mut fakes = Vec::new();
    for i in 0..30 {
        fakes.push((format!("obs-{i:02}"), start_fake().await));
    }
    let instances: Vec<InstanceConfig> = fakes
        .iter()
        .map(|(name, fake)| instance(name, fake, PASSWORD))
        .collect();

    // Alone at first, node A takes everything, the schedules' duty too.
    let a = node("node-a", instances.clone(), &location);
    until("node A owns and connects all 30", || {
        each_owned_and_connected_once(&[&a], &fakes)
    })
    .await;
    assert!(a.ownership.holds(SCHEDULES_DUTY));

    // Node B joins: A hands B its share over (released, then taken), nothing twice.
    let b = node("node-b", instances.clone(), &location);
    until("the instances shared by A and B, each once", || {
        each_owned_and_connected_once(&[&a, &b], &fakes) && held_by(&b, &fakes) > 0
    })
    .await;
    let (on_a, on_b) = (held_by(&a, &fakes), held_by(&b, &fakes));
    assert_eq!(on_a + on_b, 30);
    assert!(
        on_a > 5 && on_b > 5,
        "rendezvous spreads them: {on_a} and {on_b}"
    );
    until("the schedules' duty on exactly one node", || {
        a.ownership.holds(SCHEDULES_DUTY) != b.ownership.holds(SCHEDULES_DUTY)
    })
    .await;
    let owners = postgres::query(
        &database.name,
        "SELECT owner, count(*) FROM cluster_leases WHERE name LIKE 'obs-%' \
         GROUP BY owner ORDER BY owner",
    );
    assert_eq!(owners, format!("node-a|{on_a}\nnode-b|{on_b}"));

    // Node A dies (its keeper and connections stop, its rows stay): B takes over once A's
    // leases have expired, under a newer epoch.
    let died = Instant::now();
    a.keeper
        .as_ref()
        .expect("a cluster node has a keeper")
        .send(Halt { leave: false })
        .await
        .unwrap();
    until("node B owns and connects all 30", || {
        each_owned_and_connected_once(&[&b], &fakes)
    })
    .await;
    eprintln!(
        "takeover: {} ms from node A's death to node B connected to its {on_a} instances \
         (lease {} ms)",
        died.elapsed().as_millis(),
        LEASE.as_millis()
    );
    assert!(b.ownership.holds(SCHEDULES_DUTY));
    // Each lease moved once, under epoch 2: handed over to B on its join, or taken from the
    // dead A.
    let leases = postgres::query(
        &database.name,
        "SELECT count(*) FILTER (WHERE owner = 'node-b'), min(epoch), max(epoch) \
         FROM cluster_leases WHERE name LIKE 'obs-%'",
    );
    assert_eq!(leases, "30|2|2");
}

/// The connections of `fakes` this hub node holds: 2 per instance it is linked to.
fn links(fakes: &[(String, FakeObs)]) -> usize {
    fakes.iter().map(|(_, fake)| fake.connection_count()).sum()
}

async fn three_fakes() -> (Vec<(String, FakeObs)>, Vec<InstanceConfig>) {
    let mut fakes = Vec::new();
    for name in ["studio", "booth", "stage"] {
        fakes.push((name.to_string(), start_fake().await));
    }
    let instances = fakes
        .iter()
        .map(|(name, fake)| instance(name, fake, PASSWORD))
        .collect();
    (fakes, instances)
}

/// The database goes away: the node cannot renew, so once its leases may have ended (a lease
/// minus one heartbeat after the last renewal) it stops talking to every OBS by itself, before
/// another node could take them over. The database back, it takes them again, each under a new
/// epoch.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_a_node_cut_off_from_the_database_stops_its_connections_then_takes_them_again() {
    let server = std::sync::Arc::new(postgres::Server::dedicated());
    let database = server.fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let (fakes, instances) = three_fakes().await;
    let a = node("node-a", instances, &location);
    until("node A owns and connects all three", || {
        each_owned_and_connected_once(&[&a], &fakes)
    })
    .await;

    let stopping = server.clone();
    actix_web::rt::task::spawn_blocking(move || stopping.stop())
        .await
        .unwrap();
    until("node A stopped every connection (self-fenced)", || {
        links(&fakes) == 0 && fakes.iter().all(|(name, _)| !a.ownership.holds(name))
    })
    .await;

    let starting = server.clone();
    actix_web::rt::task::spawn_blocking(move || starting.restart())
        .await
        .unwrap();
    until("node A took all three back", || {
        each_owned_and_connected_once(&[&a], &fakes)
    })
    .await;
    let epochs = server.query(
        &database.name,
        "SELECT min(epoch) FROM cluster_leases WHERE name NOT LIKE 'duty:%'",
    );
    assert_eq!(epochs, "2", "taken again under a new epoch");
}

/// A lease the database gives another owner (as after this node was partitioned away and its
/// lease taken over) is lost: the node stops that OBS at the next heartbeat, and only that one.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_a_lease_taken_over_behind_a_nodes_back_stops_that_connection_only() {
    let database = postgres::fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let (fakes, instances) = three_fakes().await;
    let a = node("node-a", instances, &location);
    until("node A owns and connects all three", || {
        each_owned_and_connected_once(&[&a], &fakes)
    })
    .await;
    postgres::query(
        &database.name,
        "UPDATE cluster_leases SET owner = 'elsewhere', epoch = epoch + 1, \
         expires_at = (now() AT TIME ZONE 'UTC') + interval '1 hour' WHERE name = 'booth'",
    );
    let booth = &fakes[1].1;
    until("node A stopped talking to booth", || {
        booth.connection_count() == 0 && !a.ownership.holds("booth")
    })
    .await;
    for (name, fake) in [&fakes[0], &fakes[2]] {
        assert_eq!(fake.connection_count(), 2, "{name} undisturbed");
        assert!(a.ownership.holds(name), "{name}");
    }
}

/// An instance added through one node is in the database: the node rendezvous picks owns and
/// connects it, whichever node was asked; `GET /api/cluster/` on either node lists it with its
/// owner; removed through the other node, its owner lets it go.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_an_instance_added_through_one_node_is_connected_once_and_listed_by_both() {
    let database = postgres::fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let (fakes, instances) = three_fakes().await;
    let a = node("node-a", instances.clone(), &location);
    let b = node("node-b", instances, &location);
    until("the three shared by A and B", || {
        each_owned_and_connected_once(&[&a, &b], &fakes)
    })
    .await;

    let added = start_fake().await;
    let body = format!(
        r#"{{"name": "extra", "host": "127.0.0.1", "port": {}, "password": "{PASSWORD}"}}"#,
        added.port()
    );
    let created = b.post("/api/instances/", &body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let all = [fakes, vec![("extra".to_string(), added)]].concat();
    until("extra owned and connected once", || {
        each_owned_and_connected_once(&[&a, &b], &all)
    })
    .await;
    let owner = if a.ownership.holds("extra") {
        "node-a"
    } else {
        "node-b"
    };

    for hub in [&a, &b] {
        // Each node's view is of its last heartbeat: the other's may not have seen the
        // lease taken yet.
        let cluster = hub
            .wait_for_path("/api/cluster/", "extra's owner listed", |cluster| {
                cluster["instances"].as_array().is_some_and(|leases| {
                    leases
                        .iter()
                        .any(|lease| lease["name"] == "extra" && lease["owner"] == owner)
                })
            })
            .await;
        let me = hub.ownership.view().unwrap().me;
        assert_eq!(cluster["node"], me.as_str());
        assert_eq!(cluster["answered_by"], me.as_str());
        assert_eq!(cluster["lease_ms"], 1_500);
        let nodes: Vec<&str> = cluster["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| node["id"].as_str().unwrap())
            .collect();
        assert_eq!(nodes, ["node-a", "node-b"]);
        assert!(cluster["nodes"][0]["started_at"].is_string());
        let extra = cluster["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|lease| lease["name"] == "extra")
            .cloned()
            .unwrap_or_else(|| panic!("extra listed: {:#}", cluster));
        assert_eq!(extra["owner"], owner, "{extra}");
        assert_eq!(extra["epoch"], 1);
        assert!(extra["lease_expires_at"].is_string());
        assert_eq!(cluster["duties"][0]["name"], SCHEDULES_DUTY);

        let ready = hub.get("/readyz").await;
        assert_eq!(
            ready.body["cluster"]["node"],
            me.as_str(),
            "{:?}",
            ready.body
        );
        let held = ready.body["cluster"]["leases"].as_array().unwrap().clone();
        assert_eq!(held.contains(&"extra".into()), owner == me, "{held:?}");
    }
    let metrics = a
        .client
        .get(format!("{}/metrics", a.base))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains(r#"obs_hub_cluster_node_info{node="node-a"} 1"#));

    // Moved to another OBS through the node that does not own it (once that node knows it:
    // a heartbeat or two): the owner reconnects there.
    let other = if owner == "node-a" { &b } else { &a };
    let moved_to = start_fake().await;
    let change = format!(r#"{{"port": {}}}"#, moved_to.port());
    let mut changed = other.send("PATCH", "/api/instances/extra", &change).await;
    for _ in 0..100 {
        if changed.status != 404 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        changed = other.send("PATCH", "/api/instances/extra", &change).await;
    }
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let extra = &all[3].1;
    until("the owner connected to the new address", || {
        moved_to.connection_count() == 2 && extra.connection_count() == 0
    })
    .await;

    // Removed through the node that does not own it.
    let removed = other.send("DELETE", "/api/instances/extra", "").await;
    assert!(removed.status < 300, "{:?}", removed.body);
    until("the owner let extra go", || {
        moved_to.connection_count() == 0
    })
    .await;
    until("extra gone from both boards", || {
        [&a, &b]
            .iter()
            .all(|hub| !hub.board.current().instances.contains_key("extra"))
    })
    .await;
}

/// A hub alone is no cluster.
#[actix_web::test]
async fn a_hub_alone_answers_not_a_cluster_and_its_readiness_is_unchanged() {
    let (hub, _fake) = common::hub_with_fake().await;
    let cluster = hub.get("/api/cluster/").await;
    assert_eq!(cluster.status, 404);
    assert_eq!(cluster.body["error"], "not_a_cluster", "{:?}", cluster.body);
    assert!(cluster.body["message"].as_str().unwrap().contains("alone"));
    let ready = hub.get("/readyz").await;
    assert!(ready.body.get("cluster").is_none(), "{:?}", ready.body);
}

/// A node that leaves (a stop signal: `Halt { leave: true }`) stops its connections, releases
/// its leases and removes its row: the other takes its instances at its next heartbeat, without
/// waiting for the leases to expire.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_a_node_leaving_releases_its_leases_and_the_other_takes_them() {
    let database = postgres::fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let (fakes, instances) = three_fakes().await;
    let a = node("node-a", instances.clone(), &location);
    until("node A owns and connects all three", || {
        each_owned_and_connected_once(&[&a], &fakes)
    })
    .await;
    let b = node("node-b", instances, &location);
    until("node B heard of", || {
        a.ownership
            .view()
            .is_some_and(|view| view.nodes.get("node-b").is_some_and(|node| node.live))
    })
    .await;

    let left = Instant::now();
    a.keeper
        .as_ref()
        .unwrap()
        .send(Halt { leave: true })
        .await
        .unwrap();
    assert_eq!(
        links(&fakes),
        0,
        "A stopped every connection before answering"
    );
    let rows = postgres::query(
        &database.name,
        "SELECT (SELECT count(*) FROM cluster_nodes WHERE node_id = 'node-a'), \
         (SELECT count(*) FROM cluster_leases WHERE owner = 'node-a')",
    );
    assert_eq!(rows, "0|0", "A's row and leases gone");
    until("node B owns and connects all three", || {
        each_owned_and_connected_once(&[&b], &fakes)
    })
    .await;
    eprintln!(
        "handover: {} ms from node A leaving to node B connected to all three (lease {} ms)",
        left.elapsed().as_millis(),
        LEASE.as_millis()
    );
}
