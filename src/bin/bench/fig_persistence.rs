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

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), FleetError> {
    const OFF: &str = "database off";
    // Part 1: status reads, the load of figure 1 on both hubs, interleaved.
    {
        let (hub_on, _fake_on) = hub_with_fake(bench, "", Some(bench.workers)).await?;
        let (hub_off, _fake_off) = hub_with_fake(bench, DATABASE_OFF, Some(bench.workers)).await?;
        let load = fig_status::load(bench);
        let rounds = bench.rounds(5, 2);
        let urls = [url(hub_on.port, PATH), url(hub_off.port, PATH)].map(WrkTarget::plain);
        let results = fig_status::interleaved(load, &urls, rounds).await?;
        let (on, off) = (&results[0], &results[1]);
        let rps = |runs: &[WrkRun]| column(runs, |run| run.requests_per_second);
        let p99 = |runs: &[WrkRun]| column(runs, |run| run.p99_ms);
        figure.rows.push(
            Row::new("status reads: throughput, database on")
                .hub(&rps(on), Unit::PerSecond)
                .baseline(OFF, &rps(off), Unit::PerSecond)
                .ratio(&paired_ratios(&rps(on), &rps(off))),
        );
        figure.rows.push(
            Row::new("status reads: p99 latency, database on")
                .hub(&p99(on), Unit::Millis)
                .baseline(OFF, &p99(off), Unit::Millis)
                .ratio(&paired_ratios(&p99(on), &p99(off))),
        );
    }
    // Part 2: fan-out to the same number of clients on both hubs, events alternating.
    let clients = if bench.quick { 200 } else { 1000 };
    let events = bench.rounds(15, 5);
    let workers = default_workers();
    let (hub_on, fake_on) = hub_with_fake(bench, "", None).await?;
    let (hub_off, fake_off) = hub_with_fake(bench, DATABASE_OFF, None).await?;
    let targets = [
        Target::Hub {
            port: hub_on.port,
            fake: &fake_on,
        },
        Target::Hub {
            port: hub_off.port,
            fake: &fake_off,
        },
    ];
    let mut results = fig_fanout::fanout(&targets, clients, events)
        .await?
        .into_iter();
    let (Some(on), Some(off)) = (results.next(), results.next()) else {
        return Err("the fan-out run returned no result".to_string().into());
    };
    let p50 = |e: &fig_fanout::EventLatency| e.p50;
    let p99 = |e: &fig_fanout::EventLatency| e.p99;
    for (label, value) in [
        ("p50", p50 as fn(&fig_fanout::EventLatency) -> f64),
        ("p99", p99),
    ] {
        let on_values = on.column(value);
        let off_values = off.column(value);
        figure.rows.push(
            Row::new(format!(
                "fan-out to {clients} clients: {label}, database on"
            ))
            .hub(&on_values, Unit::Millis)
            .baseline(OFF, &off_values, Unit::Millis)
            .ratio(&paired_ratios(&on_values, &off_values)),
        );
    }
    if on.lost + off.lost > 0 {
        figure.notes.push(format!(
            "fan-out deliveries lost or out of order: {} with the database, {} without.",
            on.lost, off.lost
        ));
    }
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
