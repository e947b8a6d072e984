//! Figure 5: footprint. Resident memory of the hub process idle, with 1000 WebSocket clients and
//! with 30 OBS instances; CPU while idle with 30 instances being polled.

use std::time::{Duration, Instant};

use obs_hub::{
    config::Timing,
    fake_obs::{FakeObs, FakeObsConfig},
};

use crate::{
    procs::{self, HubSpec, Process},
    report::{Figure, Row, Unit},
    stats::paired_ratios,
    wait,
    ws_clients::{self, FleetError},
    Bench,
};

const TITLE: &str = "Footprint (hub process, from /proc/PID)";
const INSTANCES: usize = 30;

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(5, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

/// The hub's default worker count (`http_workers` unset: the cores, at most 4), given explicitly
/// to the bare baseline so both run the same number of threads.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(4))
}

/// `count` simulated OBS instances on loopback, with default settings.
pub(crate) async fn start_fakes(count: usize) -> Result<Vec<FakeObs>, String> {
    let mut fakes = Vec::with_capacity(count);
    for _ in 0..count {
        fakes.push(
            FakeObs::start(FakeObsConfig::default())
                .await
                .map_err(|error| format!("cannot start a simulated OBS: {error}"))?,
        );
    }
    Ok(fakes)
}

async fn start_hub(bench: &Bench, fakes: &[FakeObs]) -> Result<Process, String> {
    let instances = fakes
        .iter()
        .enumerate()
        .map(|(i, fake)| {
            let name = if fakes.len() == 1 {
                "default".to_string()
            } else {
                format!("obs{:02}", i + 1)
            };
            (name, fake.port())
        })
        .collect();
    let hub = procs::start_hub(
        &bench.workspace,
        &HubSpec {
            workers: None,
            instances,
            extra_toml: String::new(),
        },
    )
    .await?;
    wait::all_connected(hub.port, fakes.len()).await?;
    Ok(hub)
}

/// CPU use in percent of one core over a window.
fn cpu_percent(seconds: f64, window: Duration) -> f64 {
    seconds / window.as_secs_f64() * 100.0
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let workers = default_workers();
    let bare = procs::start_bare_server(
        &bench.workspace,
        "footprint-body",
        br#"{"idle":true}"#,
        workers,
        "/api/stream-status/",
    )
    .await?;
    let one_fake = start_fakes(1).await?;
    let hub_one = start_hub(bench, &one_fake).await?;
    let many_fakes = start_fakes(INSTANCES).await?;
    let hub_many = start_hub(bench, &many_fakes).await?;

    // Both hubs have read their instances; let the first polls and heartbeats go by.
    let timing = Timing::default();
    tokio::time::sleep(Duration::from_secs(if bench.quick { 1 } else { 3 })).await;

    // The three processes are sampled over the same windows, so a neighbour's build slows all
    // three alike. A window covers at least one poll and several heartbeats of every instance.
    let window = if bench.quick {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(10)
    };
    let rounds = bench.rounds(3, 1);
    let processes = [&hub_one, &hub_many, &bare];
    let mut rss = [Vec::new(), Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        let mut before = [0.0; 3];
        for (i, process) in processes.iter().enumerate() {
            before[i] = process.cpu_seconds()?;
        }
        let started = Instant::now();
        tokio::time::sleep(window).await;
        let elapsed = started.elapsed();
        for (i, process) in processes.iter().enumerate() {
            let after = process.cpu_seconds()?;
            cpu[i].push(cpu_percent(after - before[i], elapsed));
            rss[i].push(process.rss_kib()?);
        }
    }
    let [rss_one, rss_many, rss_bare] = rss;
    let [cpu_one, cpu_many, cpu_bare] = cpu;
    drop(hub_many);
    drop(many_fakes);

    figure.rows.push(
        Row::new("RSS idle, 1 instance")
            .hub(&rss_one, Unit::KiB)
            .baseline("bare actix-web", &rss_bare, Unit::KiB)
            .ratio(&paired_ratios(&rss_one, &rss_bare)),
    );
    figure.rows.push(
        Row::new(format!("RSS, {INSTANCES} instances connected"))
            .hub(&rss_many, Unit::KiB)
            .baseline("hub, 1 instance", &rss_one, Unit::KiB)
            .ratio(&paired_ratios(&rss_many, &rss_one)),
    );

    // 1000 browsers on the 1-instance hub.
    let clients = if bench.quick { 100 } else { 1000 };
    let mut limit_note = None;
    if let Some(limit) = procs::open_files_limit() {
        if limit < clients as u64 + 100 {
            limit_note = Some(format!(
                "the open-files limit is {limit}; run through scripts/bench.sh (it raises it)"
            ));
        }
    }
    let ws_row = format!("RSS, {clients} WebSocket clients, 1 instance");
    match limit_note {
        Some(why) => figure
            .rows
            .push(Row::new(format!("{ws_row}: not measured ({why})"))),
        None => match ws_clients::connect(hub_one.port, clients).await {
            Ok(fleet) => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let mut with_clients = Vec::new();
                for _ in 0..rounds {
                    with_clients.push(hub_one.rss_kib()?);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let connected = fleet.len();
                fleet.stop().await;
                // Compared with the idle figure taken before the clients came: freed memory
                // mostly stays with the allocator, so "after" would not be idle any more.
                let idle = crate::stats::Spread::of(&rss_one).map_or(0.0, |s| s.median);
                let per_client: Vec<f64> = with_clients
                    .iter()
                    .map(|rss| (rss - idle) / connected as f64)
                    .collect();
                figure.rows.push(
                    Row::new(ws_row)
                        .hub(&with_clients, Unit::KiB)
                        .baseline("hub idle, no client", &rss_one, Unit::KiB)
                        .ratio(&paired_ratios(&with_clients, &rss_one)),
                );
                if let Some(per_client) = crate::stats::Spread::of(&per_client) {
                    figure.notes.push(format!(
                        "About {:.1} KiB of hub memory per connected WebSocket client.",
                        per_client.median
                    ));
                }
            }
            Err(FleetError::NoWebSocket(why)) => figure
                .rows
                .push(Row::new(format!("{ws_row}: not measured yet ({why})"))),
            Err(FleetError::Failed(error)) => return Err(error),
        },
    }

    figure.rows.push(
        Row::new(format!("CPU idle, {INSTANCES} instances polled"))
            .hub(&cpu_many, Unit::CpuPercent)
            .baseline("hub, 1 instance", &cpu_one, Unit::CpuPercent)
            .ratio(&paired_ratios(&cpu_many, &cpu_one)),
    );
    figure.rows.push(
        Row::new("CPU idle, 1 instance")
            .hub(&cpu_one, Unit::CpuPercent)
            .baseline("bare actix-web", &cpu_bare, Unit::CpuPercent)
            .ratio(&paired_ratios(&cpu_one, &cpu_bare)),
    );
    figure.method = format!(
        "Three processes run side by side: the hub (`obs-hub serve`, default settings: \
         {workers} HTTP workers, poll every {poll} s, heartbeat every {hb} s) with one \
         simulated OBS, the hub with {INSTANCES} simulated OBS instances (all connected), and a \
         bare actix-web server with the same {workers} workers. The simulated OBS instances and \
         the WebSocket clients live in the bench process, so they are not counted. Resident \
         memory is VmRSS from /proc/PID/status; CPU is the time on CPU of all the process's threads \
         (/proc/PID/task/*/schedstat, in nanoseconds: /proc/PID/stat's 10 ms ticks are too coarse \
         for an idle process) over {rounds} window(s) of {window} s, all three processes read over the same windows, in \
         percent of one core. Then {clients} WebSocket clients (tokio-tungstenite, in the bench \
         process) connect to the 1-instance hub's `/ws`, each receives its snapshot, and the \
         hub's RSS is read again {rounds} time(s) 0.5 s apart, against the idle figure. No \
         target: the issue asks for the figures.",
        poll = timing.poll_interval.as_secs(),
        hb = timing.heartbeat_interval.as_secs(),
        window = window.as_secs(),
    );
    drop(hub_one);
    drop(bare);
    Ok(())
}
