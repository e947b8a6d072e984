//! Figure 6: what the database costs. Figures 1 (status reads) and 2 (fan-out) on two hubs side
//! by side, one with the history database on (the default) and one with it off.

use crate::{
    fig_fanout::{self, Target},
    fig_footprint::default_workers,
    fig_status::{self, hub_with_fake, url},
    report::{Figure, Row, Unit},
    stats::paired_ratios,
    wrk::{WrkRun, WrkTarget},
    ws_clients::FleetError,
    Bench,
};

const TITLE: &str = "Persistence cost: database on (default) vs off";
/// The switch, as an operator writes it: `OBS_HUB_DATABASE=none` in a config file.
const DATABASE_OFF: &str = "[database]\npath = \"none\"\n";
const PATH: &str = "/api/stream-status/";

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(6, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        // A hub built before persistence refuses the [database] key and says so.
        Err(FleetError::Failed(error)) if error.contains("unknown field `database`") => {
            Figure::not_measured_yet(
                6,
                TITLE,
                "this build of the hub has no database switch (its config refuses [database])",
            )
        }
        Err(FleetError::NoWebSocket(why)) => {
            figure
                .notes
                .push(format!("fan-out part not measured yet: {why}"));
            figure
        }
        Err(FleetError::Failed(error)) => figure.failed(error),
    }
}

fn column(runs: &[WrkRun], value: fn(&WrkRun) -> f64) -> Vec<f64> {
    runs.iter().map(value).collect()
}

/// One side of a two-hub comparison: its config file's extra lines and how rows name it.
pub struct Side<'a> {
    pub config: &'a str,
    pub label: &'a str,
}

/// Figures 1 (status reads) and 2 (fan-out) on two hubs side by side, `hub` in the "obs-hub"
/// column and `baseline` in the baseline's, paired round by round. Answers the fan-out's client
/// count, for the figure's method text.
pub async fn two_hubs(
    bench: &Bench,
    figure: &mut Figure,
    hub: Side<'_>,
    baseline: Side<'_>,
) -> Result<usize, FleetError> {
    // Part 1: status reads, the load of figure 1 on both hubs, interleaved.
    {
        let (hub_a, _fake_a) = hub_with_fake(bench, hub.config, Some(bench.workers)).await?;
        let (hub_b, _fake_b) = hub_with_fake(bench, baseline.config, Some(bench.workers)).await?;
        let load = fig_status::load(bench);
        let rounds = bench.rounds(5, 2);
        let urls = [url(hub_a.port, PATH), url(hub_b.port, PATH)].map(WrkTarget::plain);
        let results = fig_status::interleaved(load, &urls, rounds).await?;
        let (a, b) = (&results[0], &results[1]);
        let rps = |runs: &[WrkRun]| column(runs, |run| run.requests_per_second);
        let p99 = |runs: &[WrkRun]| column(runs, |run| run.p99_ms);
        figure.rows.push(
            Row::new(format!("status reads: throughput, {}", hub.label))
                .hub(&rps(a), Unit::PerSecond)
                .baseline(baseline.label, &rps(b), Unit::PerSecond)
                .ratio(&paired_ratios(&rps(a), &rps(b))),
        );
        figure.rows.push(
            Row::new(format!("status reads: p99 latency, {}", hub.label))
                .hub(&p99(a), Unit::Millis)
                .baseline(baseline.label, &p99(b), Unit::Millis)
                .ratio(&paired_ratios(&p99(a), &p99(b))),
        );
    }
    // Part 2: fan-out to the same number of clients on both hubs, events alternating.
    let clients = if bench.quick { 200 } else { 1000 };
    let events = bench.rounds(15, 5);
    let (hub_a, fake_a) = hub_with_fake(bench, hub.config, None).await?;
    let (hub_b, fake_b) = hub_with_fake(bench, baseline.config, None).await?;
    let targets = [
        Target::Hub {
            port: hub_a.port,
            fake: &fake_a,
        },
        Target::Hub {
            port: hub_b.port,
            fake: &fake_b,
        },
    ];
    let mut results = fig_fanout::fanout(&targets, clients, events)
        .await?
        .into_iter();
    let (Some(a), Some(b)) = (results.next(), results.next()) else {
        return Err("the fan-out run returned no result".to_string().into());
    };
    for (label, value) in [
        ("p50", (|e| e.p50) as fn(&fig_fanout::EventLatency) -> f64),
        ("p99", |e| e.p99),
    ] {
        let a_values = a.column(value);
        let b_values = b.column(value);
        figure.rows.push(
            Row::new(format!(
                "fan-out to {clients} clients: {label}, {}",
                hub.label
            ))
            .hub(&a_values, Unit::Millis)
            .baseline(baseline.label, &b_values, Unit::Millis)
            .ratio(&paired_ratios(&a_values, &b_values)),
        );
    }
    if a.lost + b.lost > 0 {
        figure.notes.push(format!(
            "fan-out deliveries lost or out of order: {} {}, {} {}.",
            a.lost, hub.label, b.lost, baseline.label
        ));
    }
    Ok(clients)
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), FleetError> {
    let on = Side {
        config: "",
        label: "database on",
    };
    let off = Side {
        config: DATABASE_OFF,
        label: "database off",
    };
    let clients = two_hubs(bench, figure, on, off).await?;
    let workers = default_workers();
    let events = bench.rounds(15, 5);
    figure.method = format!(
        "Two hubs run side by side, each `obs-hub serve` with its own simulated OBS and its own \
         scratch directory: one with the defaults (history database on, a SQLite file), one \
         with `[database] path = \"none\"` (the config-file form of `OBS_HUB_DATABASE=none`). \
         Status reads: the load of figure 1 (same wrk command, {rounds} interleaved rounds, \
         `http_workers = {w1}` on both). Fan-out: {clients} WebSocket clients on each hub \
         (default settings, {workers} HTTP workers), {events} scene switches emitted on each in \
         turn, measured as in figure 2. The \"obs-hub\" column is the hub with the database, \
         the baseline the same hub without it; a ratio of 1.00 means the database costs \
         nothing on that path.",
        rounds = bench.rounds(5, 2),
        w1 = bench.workers,
    );
    Ok(())
}
