//! Figure 14 (issue 22): a cluster of three hubs on one PostgreSQL database. Takeover after a
//! node is SIGKILLed (10 kills), the footprint of each node with 300 simulated OBS instances
//! shared over three, and status reads on one node of the cluster against a hub alone on
//! PostgreSQL. The nodes are run by the acceptance test's harness (`tests/common/cluster.rs`,
//! included as `cluster_harness`); measured only when `scripts/bench.sh` has started a
//! PostgreSQL server and named it in `OBS_HUB_BENCH_CLUSTER_URL` (the binaries built with the
//! `postgres` feature).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use obs_hub::fake_obs::FakeObs;

use crate::{
    cluster_harness::{self as harness, ClusterSpec, Node},
    fig_footprint::start_fakes,
    fig_status::{interleaved, load},
    procs::{self, HubSpec, Process},
    report::{Figure, Row, Unit},
    stats::paired_ratios,
    wait,
    wrk::WrkTarget,
    Bench,
};

const TITLE: &str = "Cluster of hubs (3 nodes, one PostgreSQL)";
/// The server's base URL, ending in `/`: the databases below are created on it by bench.sh.
pub const URL_VARIABLE: &str = "OBS_HUB_BENCH_CLUSTER_URL";
/// One empty database per part, so no part inherits another's leases or instances.
const DATABASES: [&str; 4] = [
    "bench_cluster_takeover",
    "bench_cluster_scale",
    "bench_lone_scale",
    "bench_lone_reads",
];
/// The takeover cluster's lease (a dead node's instances wait this long, then one reconnect).
const LEASE_MS: u64 = 3_000;
/// The footprint cluster keeps the default lease, as deployed.
const DEFAULT_LEASE_MS: u64 = 10_000;
const INSTANCES: usize = 30;
const SCALE_INSTANCES: usize = 300;
/// Deadlines (a slow machine fails the figure rather than hanging the bench), never measures.
const SETTLE: Duration = Duration::from_secs(300);
const TAKEOVER: Duration = Duration::from_secs(120);

pub async fn figure(bench: &Bench) -> Figure {
    let Ok(server) = std::env::var(URL_VARIABLE) else {
        return Figure::skipped(
            14,
            TITLE,
            "no PostgreSQL (scripts/bench.sh starts one where Debian's postgresql and libpq-dev \
             are installed)",
        );
    };
    let mut figure = Figure::new(14, TITLE);
    match measure(bench, &server, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

fn spec(
    bench: &Bench,
    server: &str,
    database: &str,
    lease_ms: u64,
    fakes: &[FakeObs],
) -> Result<ClusterSpec, String> {
    Ok(ClusterSpec {
        binary: procs::sibling_binary("obs-hub")?,
        dir: bench.workspace.file(database, "d"),
        database_url: format!("{server}{database}"),
        instances: names(fakes.len())
            .into_iter()
            .zip(fakes.iter().map(FakeObs::port))
            .collect(),
        password: None,
        lease_ms,
        extra_toml: String::new(),
    })
}

fn names(count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("obs-{n:03}")).collect()
}

async fn measure(bench: &Bench, server: &str, figure: &mut Figure) -> Result<(), String> {
    let kills = bench.rounds(10, 3);
    let fakes = start_fakes(INSTANCES).await?;
    let (mut nodes, owners) = harness::start_cluster(
        &spec(bench, server, DATABASES[0], LEASE_MS, &fakes)?,
        3,
        &names(INSTANCES),
        &fakes,
        SETTLE,
    )
    .await?;
    let took = takeovers(&mut nodes, &fakes, owners, kills).await?;
    // Seconds measured, milliseconds printed; the ratio is to the lease.
    let lease = LEASE_MS as f64 / 1000.0;
    let ratios: Vec<f64> = took.iter().map(|t| t / lease).collect();
    figure.rows.push(
        Row::new(format!(
            "takeover after SIGKILL ({kills} kills, {INSTANCES} instances)"
        ))
        .hub(&to_ms(&took), Unit::Millis)
        .baseline("the lease", &to_ms(&vec![lease; took.len()]), Unit::Millis)
        .ratio(&ratios),
    );

    reads(bench, server, &nodes, &fakes, figure).await?;
    drop(nodes);
    drop(fakes);

    let scale = footprint(bench, server, figure).await?;
    figure.method = format!(
        "Three `obs-hub serve` nodes (built with `--features postgres`, `[cluster]` with node ids \
         n1–n3 and their loopback addresses, `http_workers = 1`) on one PostgreSQL database of \
         the server `scripts/bench.sh` starts on loopback; the simulated OBS instances live in \
         the bench process and are declared on every node (the nodes run through the acceptance \
         test's harness, `tests/common/cluster.rs`). **Takeover:** {INSTANCES} instances, \
         `lease_ms = {LEASE_MS}`; {kills} times in turn a node (n2, n3, n1, ...) is SIGKILLed and \
         the time is taken from the kill until the last of its instances' simulated OBS has a \
         session again (its old session seen gone first, polled every 20 ms), confirmed by a \
         survivor's `GET /api/cluster/` showing it owned by a live node at a higher epoch; the \
         node is then started again and the next kill waits until the leases are back where \
         rendezvous hashing puts them. A takeover is about the lease (the dead node's leases \
         expire one lease after their last renewal, up to a heartbeat before the kill), plus \
         up to a heartbeat for a survivor to see it, plus a reconnect. **Status reads:** `{path}` (an instance another \
         node owns: cached status reads are answered locally) on n1, against a hub alone \
         (no `[cluster]`) on a PostgreSQL database of the same server with its own \
         {INSTANCES} instances; the load of figure 1, {rounds} interleaved rounds. \
         **Footprint:** {SCALE_INSTANCES} instances over three nodes (default lease \
         {DEFAULT_LEASE_MS} ms; {scale}), each node's VmRSS and CPU time (as in figure 5) over \
         {windows} window(s) of {window} s once every instance is owned and connected; the \
         baseline is a hub alone on PostgreSQL with a third of the instances ({third}), \
         measured after the cluster is stopped.",
        path = "/api/instances/<name>/stream-status/",
        rounds = bench.rounds(5, 2),
        windows = bench.rounds(3, 1),
        window = footprint_window(bench).as_secs(),
        third = SCALE_INSTANCES / 3,
    );
    Ok(())
}

fn to_ms(seconds: &[f64]) -> Vec<f64> {
    seconds.iter().map(|s| s * 1000.0).collect()
}

/// `kills` SIGKILLs, each of another node in turn; answers each takeover time in seconds.
async fn takeovers(
    nodes: &mut [Node],
    fakes: &[FakeObs],
    mut owners: BTreeMap<String, (Option<String>, i64)>,
    kills: usize,
) -> Result<Vec<f64>, String> {
    let settled = owners.clone();
    let names = names(fakes.len());
    let by_name: BTreeMap<String, FakeObs> =
        names.iter().cloned().zip(fakes.iter().cloned()).collect();
    let ids: Vec<String> = nodes.iter().map(|node| node.id.clone()).collect();
    let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
    let mut took = Vec::new();
    for kill in 0..kills {
        let victim = (kill + 1) % nodes.len();
        let observer = (victim + 1) % nodes.len();
        let taken: BTreeMap<String, i64> = owners
            .iter()
            .filter(|(_, (owner, _))| owner.as_deref() == Some(ids[victim].as_str()))
            .map(|(name, (_, epoch))| (name.clone(), *epoch))
            .collect();
        let killed_at = Instant::now();
        nodes[victim].kill();
        let time = harness::wait_takeover(
            ports[observer],
            &ids[victim],
            &taken,
            &by_name,
            killed_at,
            TAKEOVER,
        )
        .await
        .map_err(|error| format!("{error}{}", harness::logs(nodes, 20)))?;
        took.push(time.as_secs_f64());
        nodes[victim].start()?;
        nodes[victim].wait_serving(SETTLE).await?;
        let all: Vec<&str> = ids.iter().map(String::as_str).collect();
        owners = harness::wait_until("the leases back after a restart", SETTLE, || async {
            let now = harness::settled_owners(&ports, &all, &names, fakes).await?;
            let back = now
                .iter()
                .all(|(name, (owner, _))| settled.get(name).map(|(first, _)| first) == Some(owner));
            back.then_some(now)
        })
        .await
        .map_err(|error| format!("{error}{}", harness::logs(nodes, 20)))?;
    }
    Ok(took)
}

/// Status reads per second on node 1 of the cluster (an instance another node owns) against a
/// hub alone on PostgreSQL.
async fn reads(
    bench: &Bench,
    server: &str,
    nodes: &[Node],
    fakes: &[FakeObs],
    figure: &mut Figure,
) -> Result<(), String> {
    let view = harness::cluster_view(nodes[0].port).await?;
    let remote = harness::owners(&view)
        .into_iter()
        .find(|(_, (owner, _))| owner.as_deref() != Some(nodes[0].id.as_str()))
        .map(|(name, _)| name)
        .ok_or("node 1 owns every instance: no remote one to read")?;
    let lone_fakes = start_fakes(fakes.len()).await?;
    let lone = lone_hub(bench, server, DATABASES[3], &lone_fakes).await?;
    let path = format!("/api/instances/{remote}/stream-status/");
    let targets = [
        WrkTarget::plain(crate::fig_status::url(nodes[0].port, &path)),
        WrkTarget::plain(crate::fig_status::url(lone.port, &path)),
    ];
    let runs = interleaved(load(bench), &targets, bench.rounds(5, 2)).await?;
    let rate = |i: usize| -> Vec<f64> { runs[i].iter().map(|r| r.requests_per_second).collect() };
    let (cluster, alone) = (rate(0), rate(1));
    figure.rows.push(
        Row::new("status reads, one node of the cluster")
            .hub(&cluster, Unit::PerSecond)
            .baseline("a hub alone on PostgreSQL", &alone, Unit::PerSecond)
            .ratio(&paired_ratios(&cluster, &alone)),
    );
    Ok(())
}

/// A hub alone (no `[cluster]`, `http_workers = 1` like the nodes) on `database`, every one of
/// `fakes` connected.
async fn lone_hub(
    bench: &Bench,
    server: &str,
    database: &str,
    fakes: &[FakeObs],
) -> Result<Process, String> {
    let hub = procs::start_hub(
        &bench.workspace,
        &HubSpec {
            workers: Some(1),
            instances: names(fakes.len())
                .into_iter()
                .zip(fakes.iter().map(FakeObs::port))
                .collect(),
            extra_toml: format!("[database]\nurl = \"{server}{database}\"\n"),
        },
    )
    .await?;
    wait::all_connected(hub.port, fakes.len()).await?;
    Ok(hub)
}

fn footprint_window(bench: &Bench) -> Duration {
    Duration::from_secs(if bench.quick { 3 } else { 10 })
}

/// RSS and idle CPU over `windows` windows: per window, every process's VmRSS (KiB) and CPU
/// (percent of one core).
async fn sample(
    pids: &[u32],
    windows: usize,
    window: Duration,
) -> Result<(Vec<Vec<f64>>, Vec<Vec<f64>>), String> {
    let mut rss = vec![Vec::new(); pids.len()];
    let mut cpu = vec![Vec::new(); pids.len()];
    for _ in 0..windows {
        let before: Vec<f64> = pids
            .iter()
            .map(|pid| procs::cpu_seconds(*pid))
            .collect::<Result<_, _>>()?;
        let started = Instant::now();
        tokio::time::sleep(window).await;
        let elapsed = started.elapsed().as_secs_f64();
        for (i, pid) in pids.iter().enumerate() {
            cpu[i].push((procs::cpu_seconds(*pid)? - before[i]) / elapsed * 100.0);
            rss[i].push(procs::rss_kib(*pid)?);
        }
    }
    Ok((rss, cpu))
}

fn medians(per_process: &[Vec<f64>]) -> Vec<f64> {
    per_process
        .iter()
        .filter_map(|values| crate::stats::Spread::of(values).map(|s| s.median))
        .collect()
}

/// 300 instances over three nodes: each node's RSS and idle CPU, against a hub alone with a
/// third of them. Answers how the instances were shared, for the method.
async fn footprint(bench: &Bench, server: &str, figure: &mut Figure) -> Result<String, String> {
    let fakes = start_fakes(SCALE_INSTANCES).await?;
    let (nodes, owners) = harness::start_cluster(
        &spec(bench, server, DATABASES[1], DEFAULT_LEASE_MS, &fakes)?,
        3,
        &names(SCALE_INSTANCES),
        &fakes,
        SETTLE,
    )
    .await?;
    let shares: Vec<String> = nodes
        .iter()
        .map(|node| {
            format!(
                "{} owned {}",
                node.id,
                harness::owned_by(&owners, &node.id).len()
            )
        })
        .collect();
    // The first polls and heartbeats after the connections go by.
    tokio::time::sleep(Duration::from_secs(if bench.quick { 1 } else { 3 })).await;
    let pids: Vec<u32> = nodes.iter().filter_map(Node::pid).collect();
    let (rss, cpu) = sample(&pids, bench.rounds(3, 1), footprint_window(bench)).await?;
    drop(nodes);
    drop(fakes);

    let third = start_fakes(SCALE_INSTANCES / 3).await?;
    let lone = lone_hub(bench, server, DATABASES[2], &third).await?;
    tokio::time::sleep(Duration::from_secs(if bench.quick { 1 } else { 3 })).await;
    let (lone_rss, lone_cpu) =
        sample(&[lone.pid()], bench.rounds(3, 1), footprint_window(bench)).await?;
    drop(lone);

    let (node_rss, node_cpu) = (medians(&rss), medians(&cpu));
    figure.rows.push(
        Row::new(format!(
            "RSS per node, {SCALE_INSTANCES} instances over 3 nodes"
        ))
        .hub(&node_rss, Unit::KiB)
        .baseline("a hub alone, 100 instances", &lone_rss[0], Unit::KiB)
        .ratio(&ratios_to_median(&node_rss, &lone_rss[0])),
    );
    figure.rows.push(
        Row::new(format!(
            "CPU idle per node, {SCALE_INSTANCES} instances over 3 nodes"
        ))
        .hub(&node_cpu, Unit::CpuPercent)
        .baseline("a hub alone, 100 instances", &lone_cpu[0], Unit::CpuPercent)
        .ratio(&ratios_to_median(&node_cpu, &lone_cpu[0])),
    );
    figure.notes.push(format!(
        "Per node (n1, n2, n3): RSS {} KiB, CPU {} % of a core; {}.",
        join(&node_rss, 0),
        join(&node_cpu, 2),
        shares.join(", ")
    ));
    Ok(shares.join(", "))
}

fn ratios_to_median(values: &[f64], baseline: &[f64]) -> Vec<f64> {
    let Some(base) = crate::stats::Spread::of(baseline).map(|s| s.median) else {
        return Vec::new();
    };
    if base == 0.0 {
        return Vec::new();
    }
    values.iter().map(|value| value / base).collect()
}

fn join(values: &[f64], decimals: usize) -> String {
    values
        .iter()
        .map(|value| format!("{value:.decimals$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}
