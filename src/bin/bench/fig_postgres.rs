//! Figure 8 (issue 21): the hub on PostgreSQL against the hub on SQLite. Figures 1 (status
//! reads) and 2 (fan-out) on two hubs side by side, one keeping its state in a PostgreSQL
//! database, the other in the default SQLite file. Measured only when `scripts/bench.sh
//! --postgres` has started a server and named it in `OBS_HUB_BENCH_POSTGRES_URL` (the hub must
//! be built with the `postgres` feature).

use crate::{
    fig_footprint::default_workers,
    fig_persistence::{self, Side},
    report::{Figure, Row, Unit},
    stats::paired_ratios,
    ws_clients::FleetError,
    Bench,
};

const TITLE: &str = "PostgreSQL vs SQLite (the hub's database)";
/// Names the server (a database the bench may fill) for this figure.
pub const URL_VARIABLE: &str = "OBS_HUB_BENCH_POSTGRES_URL";
/// A second, empty database on that server for the history writes.
const HISTORY_URL_VARIABLE: &str = "OBS_HUB_BENCH_HISTORY_URL";

pub async fn figure(bench: &Bench) -> Figure {
    let Ok(url) = std::env::var(URL_VARIABLE) else {
        return Figure::skipped(
            13,
            TITLE,
            "no PostgreSQL (scripts/bench.sh starts one where Debian's postgresql and libpq-dev \
             are installed)",
        );
    };
    let mut figure = Figure::new(13, TITLE);
    match measure(bench, &url, &mut figure).await {
        Ok(()) => figure,
        Err(FleetError::NoWebSocket(why)) => {
            figure
                .notes
                .push(format!("fan-out part not measured yet: {why}"));
            figure
        }
        Err(FleetError::Failed(error)) => figure.failed(error),
    }
}

async fn measure(bench: &Bench, url: &str, figure: &mut Figure) -> Result<(), FleetError> {
    let on_postgres = format!("[database]\nurl = \"{url}\"\n");
    let postgres = Side {
        config: &on_postgres,
        label: "on PostgreSQL",
    };
    let sqlite = Side {
        config: "",
        label: "SQLite",
    };
    let clients = fig_persistence::two_hubs(bench, figure, postgres, sqlite).await?;
    let workers = default_workers();
    let events = bench.rounds(15, 5);
    history_writes(bench, figure).await?;
    figure.method = format!(
        "Two hubs run side by side, each `obs-hub serve` (built with `--features postgres`) with \
         its own simulated OBS: one with `[database] url` naming a database on a PostgreSQL \
         server that `scripts/bench.sh --postgres` starts on loopback (Debian's package, a \
         temporary data directory, default settings), one with the default SQLite file. Status \
         reads: the load of figure 1 (same wrk command, {rounds} interleaved rounds, \
         `http_workers = {w1}` on both). Fan-out: {clients} WebSocket clients on each hub \
         (default settings, {workers} HTTP workers), {events} scene switches emitted on each in \
         turn, measured as in figure 2 (every switch is also written to each hub's history). \
         The \"obs-hub\" column is the hub on PostgreSQL, the baseline the hub on SQLite. \
         History writes: `examples/history_throughput.rs` (built by the script with the \
         feature) hands {events_h} `scene_changed` changes at once to the recorder of each \
         engine (a second database on the same server; an SQLite file in the scratch \
         directory) and times them until the write-behind reports every one committed; \
         {rounds_h} round(s), engines alternating.",
        events_h = history_events(bench),
        rounds_h = bench.rounds(3, 1),
        rounds = bench.rounds(5, 2),
        w1 = bench.workers,
    );
    Ok(())
}

fn history_events(bench: &Bench) -> u64 {
    if bench.quick {
        5_000
    } else {
        20_000
    }
}

/// History events written per second through the write-behind, on PostgreSQL against SQLite:
/// `examples/history_throughput.rs` run in turn on each.
async fn history_writes(bench: &Bench, figure: &mut Figure) -> Result<(), FleetError> {
    let Ok(pg_url) = std::env::var(HISTORY_URL_VARIABLE) else {
        figure.notes.push(format!(
            "history writes not measured: no {HISTORY_URL_VARIABLE}"
        ));
        return Ok(());
    };
    let example = crate::procs::sibling_binary("examples/history_throughput")?;
    let sqlite = bench.workspace.file("history", "db");
    let events = history_events(bench).to_string();
    let (mut on_pg, mut on_sqlite) = (Vec::new(), Vec::new());
    for round in 0..bench.rounds(3, 1) {
        let order = if round % 2 == 0 {
            [pg_url.clone(), sqlite.display().to_string()]
        } else {
            [sqlite.display().to_string(), pg_url.clone()]
        };
        for database in order {
            let rate = run_history(&example, &events, &database).await?;
            if database == pg_url {
                on_pg.push(rate);
            } else {
                on_sqlite.push(rate);
            }
        }
    }
    figure.rows.push(
        Row::new("history writes (write-behind), on PostgreSQL")
            .hub(&on_pg, Unit::PerSecond)
            .baseline("SQLite", &on_sqlite, Unit::PerSecond)
            .ratio(&paired_ratios(&on_pg, &on_sqlite)),
    );
    Ok(())
}

/// One run of the example: its `... = N events/s` line.
async fn run_history(
    example: &std::path::Path,
    events: &str,
    database: &str,
) -> Result<f64, String> {
    let output = tokio::process::Command::new(example)
        .args([events, database])
        .output()
        .await
        .map_err(|error| format!("cannot run {}: {error}", example.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "history_throughput failed: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    text.split(" = ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|rate| rate.parse().ok())
        .ok_or_else(|| format!("cannot read the rate in history_throughput's output: {text}"))
}
