//! Figure 9: the scale of one hub (issue 23). 500 simulated OBS instances on one hub against a
//! hub with one, side by side: memory, idle CPU, status-read throughput; then a reconnect storm,
//! every simulated OBS quitting and coming back at once, with the backoff's jitter spreading the
//! hub's attempts.

use std::{
    fs,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use obs_hub::fake_obs::FakeObs;
use serde_json::Value;

use crate::{
    fig_footprint::start_fakes,
    fig_status::{interleaved, load, url},
    http::HttpClient,
    procs::{self, HubSpec, Process},
    report::{Figure, Row, Unit},
    stats::{paired_ratios, percentile},
    wrk::WrkTarget,
    Bench,
};

const TITLE: &str = "Scale of one hub: 500 simulated OBS instances";
/// How long the simulated OBS instances stay away in the storm: long enough for the backoff
/// to climb several steps (250 ms doubling), as after a real network cut.
const OUTAGE: Duration = Duration::from_secs(3);
/// The storm is bounded by the backoff's cap (5 s) plus a second for 500 handshakes and reads.
const STORM_BOUND_MS: f64 = 6_000.0;
/// Width of a bucket of the attempt histogram.
const BUCKET_MS: i64 = 100;

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(9, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

/// Instances to run: 500, or fewer when the open-files limit cannot hold them (each is a
/// listener and two sessions here and two sessions in the hub, all inheriting this limit).
fn instance_count(bench: &Bench) -> (usize, Option<String>) {
    let wanted = if bench.quick { 100 } else { 500 };
    let limit = procs::open_files_limit().unwrap_or(1024) as usize;
    let fits = (limit.saturating_sub(300)) / 4;
    if fits >= wanted {
        (wanted, None)
    } else {
        (
            fits,
            Some(format!(
                "only {fits} instances instead of {wanted}: the open-files limit is {limit}; \
                 run through scripts/bench.sh, which raises it"
            )),
        )
    }
}

fn name(i: usize) -> String {
    format!("obs{i:03}")
}

async fn start_hub(bench: &Bench, fakes: &[FakeObs]) -> Result<Process, String> {
    let instances = fakes
        .iter()
        .enumerate()
        .map(|(i, fake)| (name(i), fake.port()))
        .collect();
    let hub = procs::start_hub(
        &bench.workspace,
        &HubSpec {
            workers: Some(bench.workers),
            instances,
            extra_toml: String::new(),
        },
    )
    .await?;
    Ok(hub)
}

/// Every instance's view (connection state, `next_attempt_at`, `connected_since`), from
/// `GET /api/instances/`.
async fn manager_instances(client: &mut HttpClient) -> Result<Vec<Value>, String> {
    let list = client.get_json("/api/instances/").await?;
    list["instances"]
        .as_array()
        .cloned()
        .ok_or_else(|| "no instances in /api/instances/".to_string())
}

/// Polls until `check` holds for every instance (or `limit` passes); returns their views.
async fn until_all(
    port: u16,
    count: usize,
    limit: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Result<Vec<Value>, String> {
    let deadline = Instant::now() + limit;
    let mut client = HttpClient::new(port);
    loop {
        let instances = manager_instances(&mut client).await?;
        let holding = instances.iter().filter(|i| check(i)).count();
        if instances.len() == count && holding == count {
            return Ok(instances);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "gave up after {limit:?} waiting for {what}: {holding} of {count}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn connected(instance: &Value) -> bool {
    instance["connected"] == true
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    value
        .as_str()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&Utc))
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0
}

/// Open file descriptors of a process (/proc/PID/fd).
fn open_files(pid: u32) -> Option<usize> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|entries| entries.count())
}

/// The soft open-files limit of a process (/proc/PID/limits).
fn open_files_limit_of(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Counts per bucket of [`BUCKET_MS`], from 0 to the last non-empty bucket, as
/// `0.0 s: 3 · 0.1 s: 12 · ...`.
pub fn histogram(values_ms: &[f64]) -> String {
    let buckets: Vec<i64> = values_ms
        .iter()
        .map(|ms| (*ms as i64).max(0) / BUCKET_MS)
        .collect();
    let Some(last) = buckets.iter().max().copied() else {
        return "(none)".to_string();
    };
    (0..=last)
        .map(|bucket| {
            let count = buckets.iter().filter(|b| **b == bucket).count();
            format!("{:.1} s: {count}", (bucket * BUCKET_MS) as f64 / 1000.0)
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let (count, note) = instance_count(bench);
    if let Some(note) = note {
        figure.notes.push(note);
    }
    let one_fake = start_fakes(1).await?;
    let hub_one = start_hub(bench, &one_fake).await?;
    let fakes = start_fakes(count).await?;
    let started = Instant::now();
    let hub_many = start_hub(bench, &fakes).await?;
    until_all(
        hub_one.port,
        1,
        Duration::from_secs(30),
        "1 instance",
        connected,
    )
    .await?;
    until_all(
        hub_many.port,
        count,
        Duration::from_secs(120),
        "every instance connected",
        connected,
    )
    .await?;
    let first_connect = started.elapsed();

    // Idle: both hubs over the same windows, after the first polls have gone by.
    tokio::time::sleep(Duration::from_secs(if bench.quick { 1 } else { 5 })).await;
    let window = Duration::from_secs(if bench.quick { 3 } else { 10 });
    let rounds = bench.rounds(3, 1);
    let hubs = [&hub_many, &hub_one];
    let mut rss = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        let before = [hub_many.cpu_seconds()?, hub_one.cpu_seconds()?];
        let at = Instant::now();
        tokio::time::sleep(window).await;
        let elapsed = at.elapsed().as_secs_f64();
        for (i, hub) in hubs.iter().enumerate() {
            cpu[i].push((hub.cpu_seconds()? - before[i]) / elapsed * 100.0);
            rss[i].push(hub.rss_kib()?);
        }
    }
    figure.rows.push(
        Row::new(format!("RSS, {count} instances connected, idle"))
            .hub(&rss[0], Unit::KiB)
            .baseline("hub, 1 instance", &rss[1], Unit::KiB)
            .ratio(&paired_ratios(&rss[0], &rss[1])),
    );
    figure.rows.push(
        Row::new(format!("CPU idle, {count} instances (polls, heartbeats)"))
            .hub(&cpu[0], Unit::CpuPercent)
            .baseline("hub, 1 instance", &cpu[1], Unit::CpuPercent)
            .ratio(&paired_ratios(&cpu[0], &cpu[1])),
    );

    // Status reads of one instance among many against the only one: the instance lookup.
    let path = |i: usize| format!("/api/instances/{}/stream-status/", name(i));
    let targets = [
        WrkTarget::plain(url(hub_many.port, &path(count / 2))),
        WrkTarget::plain(url(hub_one.port, &path(0))),
    ];
    let load = load(bench);
    let results = interleaved(load, &targets, bench.rounds(3, 1)).await?;
    let rps = |runs: &[crate::wrk::WrkRun]| {
        runs.iter()
            .map(|run| run.requests_per_second)
            .collect::<Vec<_>>()
    };
    let (many_rps, one_rps) = (rps(&results[0]), rps(&results[1]));
    figure.rows.push(
        Row::new(format!(
            "status reads of one of {count} instances: throughput"
        ))
        .hub(&many_rps, Unit::PerSecond)
        .baseline("hub, 1 instance", &one_rps, Unit::PerSecond)
        .ratio(&paired_ratios(&many_rps, &one_rps)),
    );

    // The storm.
    let storms = bench.rounds(2, 1);
    let pid = hub_many.pid();
    let files_before = open_files(pid).unwrap_or(0);
    let mut files_peak = files_before;
    let mut reconnect_ms: Vec<f64> = Vec::new();
    let mut scheduled_ms: Vec<f64> = Vec::new();
    let mut all_back_ms: Vec<f64> = Vec::new();
    let mut median_ms: Vec<f64> = Vec::new();
    for _ in 0..storms {
        futures_util::future::join_all(fakes.iter().map(FakeObs::stop)).await;
        until_all(
            hub_many.port,
            count,
            Duration::from_secs(30),
            "every instance to notice OBS quit",
            |i| !connected(i),
        )
        .await?;
        tokio::time::sleep(OUTAGE).await;
        for fake in &fakes {
            fake.restart()
                .await
                .map_err(|error| format!("a simulated OBS could not listen again: {error}"))?;
        }
        let back: DateTime<Utc> = Utc::now();
        let back_instant = Instant::now();
        // Where each instance stands in its backoff right now: its next attempt.
        let mut client = HttpClient::new(hub_many.port);
        for instance in manager_instances(&mut client).await? {
            if let Some(next) = timestamp(&instance["next_attempt_at"]) {
                scheduled_ms.push(ms_between(back, next).max(0.0));
            }
        }
        // Wait for all, watching the descriptors (bounded: the storm must not leak sockets).
        let deadline = back_instant + Duration::from_secs(60);
        let instances = loop {
            files_peak = files_peak.max(open_files(pid).unwrap_or(0));
            let instances = manager_instances(&mut client).await?;
            if instances.iter().filter(|i| connected(i)).count() == count {
                break instances;
            }
            if Instant::now() > deadline {
                return Err("the storm: not every instance was back within 60 s".to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut this_storm: Vec<f64> = instances
            .iter()
            .filter_map(|i| timestamp(&i["connected_since"]))
            .map(|at| ms_between(back, at).max(0.0))
            .collect();
        if this_storm.len() != count {
            return Err("the storm: an instance has no connected_since".to_string());
        }
        all_back_ms.push(percentile(&mut this_storm.clone(), 100.0).unwrap_or(0.0));
        median_ms.push(percentile(&mut this_storm.clone(), 50.0).unwrap_or(0.0));
        reconnect_ms.append(&mut this_storm);
    }
    let files_after = open_files(pid).unwrap_or(0);
    figure.rows.push(
        Row::new(format!(
            "reconnect storm ({count} back at once after {} s away): median instance",
            OUTAGE.as_secs()
        ))
        .hub(&median_ms, Unit::Millis),
    );
    figure.rows.push(
        Row::new("reconnect storm: last instance (all connected)")
            .hub(&all_back_ms, Unit::Millis)
            .target(
                "≤ 6 s (the 5 s backoff cap + 1 s)",
                Some(all_back_ms.iter().all(|ms| *ms <= STORM_BOUND_MS)),
            ),
    );
    figure.notes.push(format!(
        "Reconnect storm, all {storms} storm(s) pooled ({} reconnections): when each instance was \
         connected again, counted per {BUCKET_MS} ms after the simulated OBS instances came \
         back: {}.",
        reconnect_ms.len(),
        histogram(&reconnect_ms)
    ));
    figure.notes.push(format!(
        "The hub's scheduled next attempts (`next_attempt_at`) read right after they came back, \
         per {BUCKET_MS} ms: {}. The jitter (each delay drawn from the upper half of its step) \
         spreads the attempts instead of 500 at one instant.",
        histogram(&scheduled_ms)
    ));
    figure.notes.push(format!(
        "Open files of the {count}-instance hub: {files_before} before the storms, at most \
         {files_peak} during them (sampled every 100 ms), {files_after} after; its soft limit \
         is {} (raised at start by src/open_files.rs). All {count} first connected {:.1} s \
         after the hub started.",
        open_files_limit_of(pid).map_or("unknown".to_string(), |l| l.to_string()),
        first_connect.as_secs_f64()
    ));
    figure.method = format!(
        "Two `obs-hub serve` side by side, both `http_workers = {workers}` and default timing \
         (poll every 5 s, heartbeat every 2 s, backoff 250 ms doubling to 5 s, each delay drawn \
         from the upper half of its step): one with {count} simulated OBS instances (all in the \
         bench process, on loopback), one with a single instance. No token (a plain hub; figure \
         1 measures the token path). Memory is VmRSS; CPU is schedstat time over {rounds} \
         window(s) of {window:?}, both hubs over the same windows, in percent of one core. \
         Throughput: the load of figure 1 (`{command}`) on \
         `/api/instances/{{name}}/stream-status/` of the middle instance of the big hub and of \
         the only instance of the small one, interleaved. Reconnect storm ({storms} time(s)): \
         every simulated OBS quits at once (close 1001, stops listening); once the hub shows \
         all {count} disconnected they stay away {outage} s, then all listen again; the times \
         are each instance's `connected_since` (from `GET /api/instances/`, polled \
         every 100 ms until all are connected) minus the instant they came back.",
        workers = bench.workers,
        command = load.command_line("URL"),
        outage = OUTAGE.as_secs(),
    );
    drop(hub_many);
    drop(hub_one);
    for fake in fakes.iter().chain(&one_fake) {
        fake.stop().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_bucket_up_to_the_last() {
        assert_eq!(
            histogram(&[5.0, 99.0, 250.0]),
            "0.0 s: 2 · 0.1 s: 0 · 0.2 s: 1"
        );
        assert_eq!(histogram(&[]), "(none)");
    }
}
