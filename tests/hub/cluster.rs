//! The cluster of hubs (issue 22), as its "Done when" says: three `obs-hub` node PROCESSES on
//! one real PostgreSQL database (`common::postgres`), 30 simulated OBS instances and a webhook
//! receiver in this process, a WebSocket client on node 1. Every instance is owned exactly once
//! (every node's `GET /api/cluster/` agrees, and every simulated OBS has exactly one session);
//! the client on node 1 sees every change of every instance in order, `instance_seq` without a
//! gap, while scenes switch in the simulated OBS; node 2 is SIGKILLed and its instances are
//! taken over by nodes 1 and 3 (the time is printed, never asserted); node 2 starts again and
//! the leases go back where rendezvous hashing puts them; a command sent to node 1 for an
//! instance node 3 owns is run by node 3 (its answer names it); history (`events` with their
//! `instance_seq`) holds each change the client saw exactly once, and the receiver got each
//! `scene_changed` under one webhook-id, none missing. The nodes run through
//! `common::cluster`, which the bench's section 14 shares.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use obs_hub::{fake_obs::FakeObs, webhooks::signing};
use serde_json::Value;

use crate::common::{
    cluster::{
        self, get_json, instance_sequences, owned_by, settled_owners, wait_takeover, wait_until,
        ClusterSpec, Node, Watcher,
    },
    postgres,
    receiver::Receiver,
    start_fake, PASSWORD,
};

const INSTANCES: usize = 30;
/// The shortest lease the config allows is 1.5 s; a little more keeps a loaded CI machine's
/// renewals comfortably inside it.
const LEASE_MS: u64 = 3_000;
/// Deadlines, never measures: debug builds of three hubs on a loaded two-core machine.
const SETTLE: Duration = Duration::from_secs(180);
const TAKEOVER: Duration = Duration::from_secs(120);
const SEEN: Duration = Duration::from_secs(60);
/// The scenes the rounds switch between (never the first scene, so each switch is a change).
const SCENES: [&str; 2] = ["Live", "BRB"];

/// Fails with `error`, node 1's view of the cluster (if it answers) and every node's log tail.
async fn fail(nodes: &[Node], error: String) -> ! {
    let view = match nodes.first() {
        Some(node) => get_json(node.port, "/api/cluster/").await,
        None => Err("no node".to_string()),
    };
    let logs = cluster::logs(nodes, 40);
    panic!("{error}\nnode 1's GET /api/cluster/: {view:?}{logs}");
}

/// One round: every simulated OBS switches to the round's scene, then waits until the
/// WebSocket client on node 1 has seen each instance's switch (its latest `scene_changed`).
async fn switch_round(
    round: usize,
    fakes: &[(String, FakeObs)],
    watcher: &Watcher,
) -> Result<(), String> {
    let scene = SCENES[round % 2];
    for (_, fake) in fakes {
        assert!(fake.switch_scene_from_obs(scene).await, "{scene} exists");
    }
    wait_until(
        &format!("round {round} ({scene}) seen on node 1"),
        SEEN,
        || async {
            let mut latest: BTreeMap<String, String> = BTreeMap::new();
            for message in watcher.messages() {
                if message["type"] == "scene_changed" {
                    if let (Some(instance), Some(scene)) =
                        (message["instance"].as_str(), message["scene"].as_str())
                    {
                        latest.insert(instance.to_string(), scene.to_string());
                    }
                }
            }
            fakes
                .iter()
                .all(|(name, _)| latest.get(name).map(String::as_str) == Some(scene))
                .then_some(())
        },
    )
    .await
}

/// The hub-wide `seq` a client of one node sees: the snapshot's, then one more per change.
fn check_node_sequence(messages: &[Value]) -> Result<(), String> {
    let mut expected: Option<i64> = None;
    for message in messages {
        let Some(seq) = message["seq"].as_i64() else {
            continue;
        };
        if message["type"] == "snapshot" {
            expected = Some(seq + 1);
            continue;
        }
        if message.get("instance").is_none() {
            continue;
        }
        if expected.is_some_and(|expected| expected != seq) {
            return Err(format!(
                "node 1's seq {seq}, expected {expected:?}: {message}"
            ));
        }
        expected = Some(seq + 1);
    }
    Ok(())
}

/// `(instance, instance_seq, kind)` of every row of the history, from the database itself.
fn history(database: &str) -> Vec<(String, Option<i64>, String)> {
    postgres::query(
        database,
        "SELECT i.name, coalesce(e.instance_seq::text, ''), e.kind \
         FROM events e JOIN instances i ON i.id = e.instance_id ORDER BY e.id",
    )
    .lines()
    .filter_map(|line| {
        let mut fields = line.split('|');
        let name = fields.next()?.to_string();
        let seq = fields.next()?.parse().ok();
        Some((name, seq, fields.next()?.to_string()))
    })
    .collect()
}

/// History against what the client on node 1 saw: every `scene_changed` it saw is in
/// `events` exactly once (by instance and `instance_seq`), no row lacks its `instance_seq`,
/// and every row numbered within what the client watched was seen by it, as the same type.
fn check_history(database: &str, messages: &[Value]) -> Result<usize, String> {
    let rows = history(database);
    let mut stored: BTreeMap<(String, i64), String> = BTreeMap::new();
    for (instance, seq, kind) in &rows {
        let Some(seq) = seq else {
            return Err(format!(
                "a history row of {instance} ({kind}) without instance_seq"
            ));
        };
        if let Some(other) = stored.insert((instance.clone(), *seq), kind.clone()) {
            return Err(format!(
                "instance {instance}: instance_seq {seq} twice in history ({other}, {kind})"
            ));
        }
    }
    let mut seen: BTreeMap<(String, i64), String> = BTreeMap::new();
    for message in messages {
        if let (Some(instance), Some(seq), Some(kind)) = (
            message["instance"].as_str(),
            message["instance_seq"].as_i64(),
            message["type"].as_str(),
        ) {
            seen.insert((instance.to_string(), seq), kind.to_string());
        }
    }
    for ((instance, seq), kind) in &seen {
        if kind == "scene_changed" && stored.get(&(instance.clone(), *seq)) != Some(kind) {
            return Err(format!(
                "instance {instance}: scene_changed #{seq} seen on node 1, missing from history"
            ));
        }
    }
    // The window each instance was watched in: its first to its last change seen.
    let mut window: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (instance, seq) in seen.keys() {
        let entry = window.entry(instance.as_str()).or_insert((*seq, *seq));
        entry.0 = entry.0.min(*seq);
        entry.1 = entry.1.max(*seq);
    }
    for ((instance, seq), kind) in &stored {
        let watched = window
            .get(instance.as_str())
            .is_some_and(|(first, last)| first <= seq && seq <= last);
        if watched && seen.get(&(instance.clone(), *seq)) != Some(kind) {
            return Err(format!(
                "instance {instance}: history's {kind} #{seq} never reached node 1's client \
                 (it got {:?})",
                seen.get(&(instance.clone(), *seq))
            ));
        }
    }
    Ok(rows.len())
}

/// Scene switches made in OBS (`scene_changed` rows from `obs_event`) per instance in history:
/// each one a webhook delivery.
fn scene_switches_in_history(database: &str) -> BTreeMap<String, usize> {
    postgres::query(
        database,
        "SELECT i.name, count(*) FROM events e JOIN instances i ON i.id = e.instance_id \
         WHERE e.kind = 'scene_changed' AND e.source = 'obs_event' GROUP BY i.name",
    )
    .lines()
    .filter_map(|line| {
        let (name, count) = line.split_once('|')?;
        Some((name.to_string(), count.parse().ok()?))
    })
    .collect()
}

/// What identifies one change in a delivery, whatever its webhook-id: the instance, and its
/// per-instance number where the body carries one, else its time and scenes.
fn change_key(body: &Value) -> String {
    let data = &body["data"];
    match data["instance_seq"].as_i64() {
        Some(seq) => format!("{}#{seq}", data["instance"]),
        None => format!(
            "{}@{}:{}<-{}",
            data["instance"], body["timestamp"], data["scene_name"], data["previous_scene"]
        ),
    }
}

/// Per instance, the distinct webhook-ids of its deliveries of scene switches made in OBS; fails
/// when one change came under two ids.
fn deliveries_per_instance(receiver: &Receiver) -> Result<BTreeMap<String, usize>, String> {
    let mut ids_of_change: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ids_of_instance: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for delivery in receiver.of_type("scene_changed") {
        if delivery.body["data"]["source"] != "obs_event" {
            continue;
        }
        ids_of_change
            .entry(change_key(&delivery.body))
            .or_default()
            .insert(delivery.id.clone());
        let instance = delivery.body["data"]["instance"]
            .as_str()
            .unwrap_or("")
            .to_string();
        ids_of_instance
            .entry(instance)
            .or_default()
            .insert(delivery.id);
    }
    if let Some((change, ids)) = ids_of_change.iter().find(|(_, ids)| ids.len() > 1) {
        return Err(format!(
            "one change delivered under {} ids: {change} {ids:?}",
            ids.len()
        ));
    }
    Ok(ids_of_instance
        .into_iter()
        .map(|(instance, ids)| (instance, ids.len()))
        .collect())
}

#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_three_nodes_own_each_instance_once_relay_in_order_and_take_over_a_killed_node() {
    let _ = env_logger::builder().is_test(true).try_init();
    let database = postgres::fresh_database();
    let mut fakes = Vec::new();
    for n in 1..=INSTANCES {
        fakes.push((format!("obs-{n:02}"), start_fake().await));
    }
    let names: Vec<String> = fakes.iter().map(|(name, _)| name.clone()).collect();
    let just_fakes: Vec<FakeObs> = fakes.iter().map(|(_, fake)| fake.clone()).collect();
    let receiver = Receiver::new();
    let secret = signing::generate_secret();
    receiver.set_secret(secret.expose());
    receiver.start();
    let dir = tempfile::tempdir().expect("a directory for the nodes");
    let spec = ClusterSpec {
        binary: env!("CARGO_BIN_EXE_obs-hub").into(),
        dir: dir.path().to_path_buf(),
        database_url: database.url.clone(),
        instances: fakes
            .iter()
            .map(|(name, fake)| (name.clone(), fake.port()))
            .collect(),
        password: Some(PASSWORD.to_string()),
        lease_ms: LEASE_MS,
        extra_toml: format!(
            "[timing]\nbackoff_min_ms = 100\nbackoff_max_ms = 1000\n\n\
             [[webhooks]]\nurl = \"{url}\"\nsecret = \"{secret}\"\nevent_types = [\"scene_changed\"]\n\n\
             [webhook_delivery]\nretry_delays_ms = [{delays}]\n",
            url = receiver.url(),
            secret = secret.expose(),
            delays = vec!["250"; 100].join(", "),
        ),
    };
    let (mut nodes, initial) =
        match cluster::start_cluster(&spec, 3, &names, &just_fakes, SETTLE).await {
            Ok(started) => started,
            Err(error) => panic!("{error}"),
        };
    let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
    let all = ["n1", "n2", "n3"];
    // Every instance owned exactly once (every simulated OBS has one session), every node
    // saying the same, each node its own answerer.
    for node in &nodes {
        let view = cluster::cluster_view(node.port)
            .await
            .expect("GET /api/cluster/");
        assert_eq!(view["answered_by"], node.id.as_str(), "{view:#}");
        assert_eq!(view["node"], node.id.as_str(), "{view:#}");
    }
    for id in all {
        assert!(
            !owned_by(&initial, id).is_empty(),
            "{id} owns nothing: {initial:?}"
        );
    }

    // Changes a node numbered but could not write while leases moved at start-up (their
    // handover to the node that joined later): printed, for the note, not asserted.
    let mut fenced = Vec::new();
    for node in &nodes {
        fenced.push(cluster::metric(node.port, "obs_hub_cluster_fenced_changes_total").await);
    }
    println!("cluster: changes fenced off during the start-up handovers, per node: {fenced:?}");
    let watcher = Watcher::connect(nodes[0].port)
        .await
        .expect("a client on node 1");
    let mut round = 0;
    for _ in 0..3 {
        if let Err(error) = switch_round(round, &fakes, &watcher).await {
            fail(&nodes, error).await;
        }
        round += 1;
    }
    if let Err(error) = instance_sequences(&watcher.messages()) {
        fail(&nodes, error).await;
    }

    // SIGKILL node 2 while its deliveries wait on the receiver: nodes 1 and 3 take its
    // instances (and its deliveries, under the same ids).
    let victim: BTreeMap<String, i64> = initial
        .iter()
        .filter(|(_, (owner, _))| owner.as_deref() == Some("n2"))
        .map(|(name, (_, epoch))| (name.clone(), *epoch))
        .collect();
    receiver.hold();
    if let Err(error) = switch_round(round, &fakes, &watcher).await {
        fail(&nodes, error).await;
    }
    round += 1;
    common_wait_held(&receiver).await;
    let killed_at = Instant::now();
    nodes[1].kill();
    receiver.release();
    let by_name: BTreeMap<String, FakeObs> = fakes.iter().cloned().collect();
    let took =
        match wait_takeover(nodes[0].port, "n2", &victim, &by_name, killed_at, TAKEOVER).await {
            Ok(took) => took,
            Err(error) => fail(&nodes, error).await,
        };
    println!(
        "cluster: {} instances of the killed node taken over in {:.2} s (lease {LEASE_MS} ms)",
        victim.len(),
        took.as_secs_f64()
    );
    let survivors = [ports[0], ports[2]];
    let after_kill = match wait_until("n1 and n3 agree on every owner", SETTLE, || {
        settled_owners(&survivors, &["n1", "n3"], &names, &just_fakes)
    })
    .await
    {
        Ok(owners) => owners,
        Err(error) => fail(&nodes, error).await,
    };
    for name in victim.keys() {
        assert_ne!(after_kill[name].0.as_deref(), Some("n2"));
    }
    for _ in 0..2 {
        if let Err(error) = switch_round(round, &fakes, &watcher).await {
            fail(&nodes, error).await;
        }
        round += 1;
    }

    // Node 2 back: the leases go back where they were (rendezvous over the same three nodes),
    // handed over without a gap in any instance's numbers.
    nodes[1].start().expect("node 2 starts again");
    if let Err(error) = nodes[1].wait_serving(SETTLE).await {
        fail(&nodes, error).await;
    }
    let rebalanced = match wait_until("the leases rebalanced over 3 nodes", SETTLE, || async {
        let owners = settled_owners(&ports, &all, &names, &just_fakes).await?;
        let same = owners
            .iter()
            .all(|(name, (owner, _))| initial.get(name).map(|(first, _)| first) == Some(owner));
        same.then_some(owners)
    })
    .await
    {
        Ok(owners) => owners,
        Err(error) => fail(&nodes, error).await,
    };
    for (name, (_, epoch)) in &rebalanced {
        assert!(
            *epoch > initial[name].1 || !victim.contains_key(name),
            "{name}: {rebalanced:?}"
        );
    }
    for _ in 0..2 {
        if let Err(error) = switch_round(round, &fakes, &watcher).await {
            fail(&nodes, error).await;
        }
        round += 1;
    }

    // Node 2 frozen (SIGSTOP: its sockets open, nothing renewed), as a stalled or cut-off node:
    // its instances move on, and once it goes on again the events OBS queued for it meanwhile
    // must not reach history or node 1 a second time (its writes are fenced by the epoch), it
    // stops talking to those OBS, and the leases come back to it without a gap.
    #[cfg(unix)]
    {
        let frozen: BTreeMap<String, i64> = rebalanced
            .iter()
            .filter(|(_, (owner, _))| owner.as_deref() == Some("n2"))
            .map(|(name, (_, epoch))| (name.clone(), *epoch))
            .collect();
        nodes[1].pause();
        let moved = wait_until(
            "node 2's instances moved while it is frozen",
            TAKEOVER,
            || async {
                let owners = cluster::owners(&cluster::cluster_view(ports[0]).await.ok()?);
                frozen
                    .iter()
                    .all(|(name, epoch)| {
                        owners.get(name).is_some_and(|(owner, now)| {
                            owner.as_deref().is_some_and(|owner| owner != "n2") && now > epoch
                        })
                    })
                    .then_some(())
            },
        )
        .await;
        if let Err(error) = moved {
            nodes[1].resume();
            fail(&nodes, error).await;
        }
        let switched = switch_round(round, &fakes, &watcher).await;
        round += 1;
        nodes[1].resume();
        if let Err(error) = switched {
            fail(&nodes, error).await;
        }
        let back = wait_until(
            "the leases back with node 2 after its freeze",
            SETTLE,
            || async {
                let owners = settled_owners(&ports, &all, &names, &just_fakes).await?;
                let same = owners.iter().all(|(name, (owner, _))| {
                    initial.get(name).map(|(first, _)| first) == Some(owner)
                });
                same.then_some(())
            },
        )
        .await;
        if let Err(error) = back {
            let why = cluster::why_unsettled(&ports, &names, &just_fakes).await;
            fail(&nodes, format!("{error}: {why}")).await;
        }
        if let Err(error) = switch_round(round, &fakes, &watcher).await {
            fail(&nodes, error).await;
        }
        round += 1;
        // How many of node 2's changes its epoch fenced off after the freeze (it depends on
        // what it read before noticing: printed, not asserted).
        println!(
            "cluster: node 2 frozen and continued; its fenced-off changes: {:?}",
            cluster::metric(ports[1], "obs_hub_cluster_fenced_changes_total").await
        );
    }

    // A command sent to node 1 for an instance node 3 owns: run by node 3 on its OBS, its
    // answer returned, naming node 3; node 1's client sees the switch like any other.
    let commanded = owned_by(&rebalanced, "n3")
        .into_iter()
        .next()
        .expect("n3 owns an instance");
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .finish();
    let mut answer = client
        .post(format!(
            "{}/api/instances/{commanded}/switch-scene",
            nodes[0].base()
        ))
        .insert_header(("content-type", "application/json"))
        .send_body(r#"{"scene_name": "Ending"}"#)
        .await
        .expect("node 1 answers");
    let body = answer.body().await.unwrap_or_default();
    assert_eq!(answer.status(), 200, "{}", String::from_utf8_lossy(&body));
    let answered_by = answer
        .headers()
        .get("x-obs-hub-node")
        .and_then(|value| value.to_str().ok());
    assert_eq!(answered_by, Some("n3"));
    let commanded_fake = &fakes.iter().find(|(name, _)| *name == commanded).unwrap().1;
    assert_eq!(commanded_fake.current_scene(), "Ending");
    let seen = wait_until("the commanded switch seen on node 1", SEEN, || async {
        watcher
            .messages()
            .iter()
            .any(|m| {
                m["type"] == "scene_changed"
                    && m["instance"] == commanded.as_str()
                    && m["scene"] == "Ending"
            })
            .then_some(())
    })
    .await;
    if let Err(error) = seen {
        fail(&nodes, error).await;
    }

    // Everything the client on node 1 saw: in order per instance and hub-wide, once.
    let messages = watcher.messages();
    assert!(watcher.is_open(), "node 1 closed its WebSocket");
    let seen = match instance_sequences(&messages) {
        Ok(seen) => seen,
        Err(error) => fail(&nodes, error).await,
    };
    assert_eq!(
        seen.len(),
        INSTANCES,
        "changes of every instance seen: {seen:?}"
    );
    if let Err(error) = check_node_sequence(&messages) {
        fail(&nodes, error).await;
    }
    // History: once each, none missing (the last round's rows may still be on their way).
    let rows = match wait_until("history holds what node 1 saw", SEEN, || async {
        check_history(&database.name, &messages).ok()
    })
    .await
    {
        Ok(rows) => rows,
        Err(_) => {
            let error = check_history(&database.name, &messages).unwrap_err();
            fail(&nodes, error).await
        }
    };
    // Webhooks: every scene switch in history delivered, each under one id.
    let expected = scene_switches_in_history(&database.name);
    let delivered = wait_until("every scene change delivered", TAKEOVER, || async {
        let got = deliveries_per_instance(&receiver).ok()?;
        (got == expected).then_some(got)
    })
    .await;
    if let Err(error) = delivered {
        let got = deliveries_per_instance(&receiver);
        fail(
            &nodes,
            format!("{error}: history's scene changes {expected:?}, delivered {got:?}"),
        )
        .await;
    }
    println!(
        "cluster: {round} rounds of {INSTANCES} switches, {rows} history rows, {} deliveries \
         received",
        receiver.received().len()
    );
    assert_eq!(receiver.bad_signatures(), 0);
    // Every node answers every instance's status with its last scene, whoever owns it.
    let last_scene = |name: &str| {
        if name == commanded {
            "Ending"
        } else {
            SCENES[(round - 1) % 2]
        }
    };
    for node in &nodes {
        let read = wait_until(
            &format!("{} reads every last scene", node.id),
            SEEN,
            || async {
                for name in &names {
                    let path = format!("/api/instances/{name}/stream-status/");
                    match get_json(node.port, &path).await {
                        Ok((200, body)) if body["current_scene"] == last_scene(name) => {}
                        _ => return None,
                    }
                }
                Some(())
            },
        )
        .await;
        if let Err(error) = read {
            fail(&nodes, error).await;
        }
    }
}

/// Waits until at least one delivery waits on the held receiver (so a node is killed with
/// deliveries under way, not only stored).
async fn common_wait_held(receiver: &Receiver) {
    let held = wait_until("a delivery held at the receiver", SEEN, || async {
        (receiver.held() > 0).then_some(())
    })
    .await;
    held.expect("deliveries reach the receiver");
}
