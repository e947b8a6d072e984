//! Cluster nodes and their leases (issue 22): two in-process nodes on one PostgreSQL database
//! share 30 simulated OBS instances, each owned and connected exactly once; a node joining
//! takes its share over from the other; a node dying has its instances taken over once its
//! leases expire. Needs PostgreSQL (ignored without the feature or the server's binaries).

use std::time::{Duration, Instant};

use obs_hub::{
    cluster::Halt,
    config::{ClusterSettings, DatabaseLocation, InstanceConfig, PostgresUrl},
    fake_obs::FakeObs,
    status::ownership::SCHEDULES_DUTY,
};

use crate::common::{
    self, instance, postgres, spawn_hub_configured, start_fake, TestHub, PASSWORD,
};

/// The shortest lease the settings allow: a takeover within a test's patience.
const LEASE: Duration = Duration::from_millis(1_500);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A cluster node `id` on `location`, declaring `instances`.
fn node(id: &str, instances: Vec<InstanceConfig>, location: &DatabaseLocation) -> TestHub {
    let port = free_port();
    spawn_hub_configured(instances, |settings| {
        settings.bind = ([127, 0, 0, 1], port).into();
        settings.cluster = Some(ClusterSettings {
            node_id: id.to_string(),
            address: format!("http://127.0.0.1:{port}"),
            lease: LEASE,
        });
        common::use_database(settings, location);
    })
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
