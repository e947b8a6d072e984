//! `obs-hub-bench`: the benchmark harness of issue 7. `bash scripts/bench.sh` builds it in
//! release and runs it; it prints a table and writes BENCHMARKS.md.
//!
//! Each figure is one function in its own module (`bench/fig_*.rs`) and is measured against a
//! baseline in the same run, as a ratio, because the machines it runs on are shared and noisy.
//! The hub under test is the real binary, `obs-hub serve --config <generated>`, in a child
//! process; the simulated OBS instances, the load clients and the bench's bookkeeping stay in this
//! process, so /proc/PID of the child is the hub alone. Baseline servers are this binary
//! re-executed in a hidden serving mode, so they sit behind the same process boundary.
//!
//! Nothing here asserts timing in `cargo test`; its unit tests only check the parsing and the
//! arithmetic.

// The crate root sits in src/bin/, so its modules are named by path.
#[path = "bench/bare.rs"]
mod bare;
// The cluster acceptance test's harness (three node processes), shared with figure 14.
#[path = "../../tests/common/cluster.rs"]
mod cluster_harness;
#[path = "bench/fig_cluster.rs"]
mod fig_cluster;
#[path = "bench/fig_fanout.rs"]
mod fig_fanout;
#[path = "bench/fig_footprint.rs"]
mod fig_footprint;
#[path = "bench/fig_meters.rs"]
mod fig_meters;
#[path = "bench/fig_persistence.rs"]
mod fig_persistence;
#[path = "bench/fig_pictures.rs"]
mod fig_pictures;
#[path = "bench/fig_postgres.rs"]
mod fig_postgres;
#[path = "bench/fig_reconnect.rs"]
mod fig_reconnect;
#[path = "bench/fig_relay_floor.rs"]
mod fig_relay_floor;
#[path = "bench/fig_rules.rs"]
mod fig_rules;
#[path = "bench/fig_scale.rs"]
mod fig_scale;
#[path = "bench/fig_scopes.rs"]
mod fig_scopes;
#[path = "bench/fig_status.rs"]
mod fig_status;
#[path = "bench/fig_webhooks.rs"]
mod fig_webhooks;
#[path = "bench/http.rs"]
mod http;
#[path = "bench/procs.rs"]
mod procs;
#[path = "bench/remote_clients.rs"]
mod remote_clients;
#[path = "bench/report.rs"]
mod report;
#[path = "bench/stats.rs"]
mod stats;
#[path = "bench/wait.rs"]
mod wait;
#[path = "bench/wrk.rs"]
mod wrk;
#[path = "bench/ws_clients.rs"]
mod ws_clients;

use std::{path::PathBuf, process::ExitCode, time::Instant};

use clap::{Parser, Subcommand};

use crate::{
    procs::Workspace,
    report::{Figure, Machine, RunInfo},
};

#[derive(Parser, Debug)]
#[command(
    name = "obs-hub-bench",
    about = "Benchmarks obs-hub against baselines in one run; writes BENCHMARKS.md"
)]
struct Cli {
    /// Fewer rounds, clients and seconds: a smoke test of the harness (about a minute).
    #[arg(long)]
    quick: bool,
    /// Only these figures (comma-separated numbers, e.g. `1,4`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// Where to write the report. Default: BENCHMARKS.md for a full run; for --quick a file in
    /// the temporary directory, so that a smoke test never replaces the committed figures.
    #[arg(long)]
    output: Option<PathBuf>,
    /// HTTP workers of the hub and of the bare baseline in figure 1 (always the same number).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    #[command(subcommand)]
    mode: Option<Mode>,
}

/// Serving modes of the baseline child processes (not for people).
#[derive(Subcommand, Debug)]
enum Mode {
    #[command(hide = true)]
    ServeBareHttp {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        workers: usize,
        #[arg(long)]
        body: PathBuf,
    },
    #[command(hide = true)]
    ServeBareWs {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        workers: usize,
    },
    /// WebSocket clients in a process of their own (see `remote_clients`).
    #[command(hide = true)]
    WsClients {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        threads: usize,
    },
}

/// What every figure needs: the run's settings and where to keep files.
pub struct Bench {
    pub quick: bool,
    pub workers: usize,
    pub workspace: Workspace,
}

impl Bench {
    /// Rounds of a figure: fewer in a quick run.
    pub fn rounds(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(mode) = cli.mode {
        let result = match mode {
            Mode::ServeBareHttp {
                port,
                workers,
                body,
            } => bare::serve_http(port, workers, &body),
            Mode::ServeBareWs { port, workers } => bare::serve_ws(port, workers),
            Mode::WsClients {
                port,
                count,
                threads,
            } => remote_clients::serve(port, count, threads),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("obs-hub-bench: {error}");
                ExitCode::FAILURE
            }
        };
    }
    // The fakes log nothing useful at the default level; the hub's own log goes to a file.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match run_suite(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("obs-hub-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_suite(cli: &Cli) -> Result<(), String> {
    let started = Instant::now();
    let load_before = report::load_average();
    let machine = Machine::describe();
    let bench = Bench {
        quick: cli.quick,
        workers: cli.workers.max(1),
        workspace: Workspace::create()?,
    };
    // The simulated OBS instances, the WebSocket clients and the pollers share this runtime. Two
    // threads: on a 2-core machine more would only fight the hub for the same cores.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?;
    let wanted = |number: u8| cli.only.is_empty() || cli.only.contains(&number);
    let mut figures: Vec<Figure> = Vec::new();
    runtime.block_on(async {
        for (number, what) in SECTIONS {
            if !wanted(*number) {
                continue;
            }
            announce(*number, what);
            let load_before = report::load_average();
            let section_started = Instant::now();
            if let Some(mut figure) = run_section(*number, &bench).await {
                figure.load = Some((load_before, report::load_average()));
                let seconds = section_started.elapsed().as_secs_f64();
                figure.seconds = Some(seconds);
                eprintln!("[bench] figure {number} took {seconds:.0} s");
                figures.push(figure);
            }
        }
    });
    // Runtime tasks (fakes, clients) end here, before the report is written.
    drop(runtime);

    let table = report::terminal_table(&figures);
    println!("\n{table}");
    for figure in &figures {
        for note in &figure.notes {
            println!("note (figure {}): {note}", figure.number);
        }
    }
    let run = RunInfo {
        command: if cli.quick {
            "bash scripts/bench.sh --quick".to_string()
        } else {
            "bash scripts/bench.sh".to_string()
        },
        quick: cli.quick,
        load_before,
        load_after: report::load_average(),
        duration_s: started.elapsed().as_secs_f64(),
    };
    let output = match &cli.output {
        Some(path) => path.clone(),
        None if cli.quick => std::env::temp_dir().join("obs-hub-BENCHMARKS.quick.md"),
        None => PathBuf::from("BENCHMARKS.md"),
    };
    std::fs::write(&output, report::markdown(&machine, &run, &figures))
        .map_err(|error| format!("cannot write {}: {error}", output.display()))?;
    println!("\nwrote {} ({:.0} s)", output.display(), run.duration_s);
    let failed = figures
        .iter()
        .any(|figure| matches!(figure.outcome, report::Outcome::Failed(_)));
    if failed {
        // The hubs' logs and configs are what explains a failure: keep them.
        return Err(format!(
            "some figures failed; the hubs' configs and logs are in {}",
            bench.workspace.dir.display()
        ));
    }
    bench.workspace.remove();
    Ok(())
}

/// Every section of the report, in order: its number and what the progress line calls it.
///
/// Adding one: a module `bench/fig_<name>.rs` with
/// `pub async fn figure(bench: &Bench) -> Figure` measuring its figures side by side with their
/// baseline, one line here and one arm in [`run_section`].
const SECTIONS: &[(u8, &str)] = &[
    (1, "cached status reads (scoped token, metrics, audit)"),
    (2, "live fan-out (clients in their own processes)"),
    (3, "webhooks"),
    (4, "reconnect"),
    (5, "footprint"),
    (6, "persistence cost"),
    (7, "shared pictures"),
    (8, "relay floor"),
    (9, "scale: 500 instances, reconnect storm"),
    (
        10,
        "scoped tokens and the audit (scripts/measure-scopes.py)",
    ),
    (11, "live audio meters"),
    (12, "rules: trigger to action, 1,000 rules"),
    (13, "PostgreSQL vs SQLite"),
    (14, "cluster: takeover, 300 instances over 3 nodes, reads"),
];

async fn run_section(number: u8, bench: &Bench) -> Option<Figure> {
    Some(match number {
        1 => fig_status::figure(bench).await,
        2 => fig_fanout::figure(bench).await,
        3 => fig_webhooks::figure(bench).await,
        4 => fig_reconnect::figure(bench).await,
        5 => fig_footprint::figure(bench).await,
        6 => fig_persistence::figure(bench).await,
        7 => fig_pictures::figure(bench).await,
        8 => fig_relay_floor::figure(bench).await,
        9 => fig_scale::figure(bench).await,
        10 => fig_scopes::figure(bench).await,
        11 => fig_meters::figure(bench).await,
        12 => fig_rules::figure(bench).await,
        13 => fig_postgres::figure(bench).await,
        14 => fig_cluster::figure(bench).await,
        _ => return None,
    })
}

fn announce(number: u8, what: &str) {
    eprintln!("[bench] figure {number}: {what}...");
}
