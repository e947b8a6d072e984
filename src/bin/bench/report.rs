//! The results: one [`Figure`] per measured figure, printed as a table and written as
//! BENCHMARKS.md with the machine description and how each figure was measured.

use std::{fmt::Write as _, process::Command};

use crate::{procs::read_text, stats::Spread};

/// How a value is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    PerSecond,
    Millis,
    KiB,
    /// Percent of one core.
    CpuPercent,
    BytesPerSecond,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::PerSecond => format!("{}/s", thousands(value)),
            Unit::BytesPerSecond => format!("{} B/s", thousands(value)),
            Unit::Millis if value < 1.0 => format!("{:.0} µs", value * 1000.0),
            Unit::Millis if value < 100.0 => format!("{value:.2} ms"),
            Unit::Millis => format!("{value:.0} ms"),
            Unit::KiB if value >= 10_240.0 => format!("{:.1} MiB", value / 1024.0),
            Unit::KiB => format!("{value:.0} KiB"),
            Unit::CpuPercent => format!("{value:.2} %"),
        }
    }
}

fn thousands(value: f64) -> String {
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(digit);
    }
    if rounded < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A value measured over rounds, with its unit.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    pub spread: Spread,
    pub unit: Unit,
}

impl Measured {
    pub fn new(values: &[f64], unit: Unit) -> Option<Self> {
        Spread::of(values).map(|spread| Measured { spread, unit })
    }

    fn render(&self) -> String {
        let s = self.spread;
        let (median, min, max) = (
            self.unit.format(s.median),
            self.unit.format(s.min),
            self.unit.format(s.max),
        );
        // Extremes equal to the median at the printed precision add nothing but width.
        if min == median && max == median {
            median
        } else {
            format!("{median} [{min} – {max}]")
        }
    }
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub measure: String,
    pub hub: Option<Measured>,
    /// Short name of the baseline and its value.
    pub baseline: Option<(String, Measured)>,
    /// Per-round `hub / baseline` ratios.
    pub ratio: Option<Spread>,
    /// A 95 % confidence interval of the ratio's median (order statistics), where the rounds
    /// are enough for one.
    pub interval: Option<(f64, f64)>,
    /// The target in words, e.g. "ratio ≥ 0.85"; empty when the figure has none.
    pub target: String,
    /// Whether the target is met; `None` without a target.
    pub met: Option<bool>,
}

impl Row {
    pub fn new(measure: impl Into<String>) -> Self {
        Row {
            measure: measure.into(),
            hub: None,
            baseline: None,
            ratio: None,
            interval: None,
            target: String::new(),
            met: None,
        }
    }

    pub fn hub(mut self, values: &[f64], unit: Unit) -> Self {
        self.hub = Measured::new(values, unit);
        self
    }

    pub fn baseline(mut self, name: &str, values: &[f64], unit: Unit) -> Self {
        self.baseline = Measured::new(values, unit).map(|m| (name.to_string(), m));
        self
    }

    pub fn ratio(mut self, ratios: &[f64]) -> Self {
        self.ratio = Spread::of(ratios);
        self
    }

    /// [`Row::ratio`] with the 95 % confidence interval of its median shown too.
    pub fn ratio_with_interval(mut self, ratios: &[f64]) -> Self {
        self.ratio = Spread::of(ratios);
        self.interval = crate::stats::median_interval_95(ratios);
        self
    }

    pub fn target(mut self, text: impl Into<String>, met: Option<bool>) -> Self {
        self.target = text.into();
        self.met = met;
        self
    }
}

/// Whether a figure could be measured.
#[derive(Clone, Debug)]
pub enum Outcome {
    Measured,
    /// The feature it needs has not landed (or is switched off): what is missing.
    NotMeasuredYet(String),
    /// Not measured in this run or build, and why (no PostgreSQL, a feature not built).
    Skipped(String),
    /// The run failed: the error, as the bench saw it.
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct Figure {
    pub number: u8,
    pub title: String,
    /// How it was measured (markdown).
    pub method: String,
    pub rows: Vec<Row>,
    /// What limits a missed target, anomalies, caveats.
    pub notes: Vec<String>,
    pub outcome: Outcome,
    /// The 1-minute load average when the figure started and ended (the machine is shared).
    pub load: Option<(String, String)>,
    /// How long the figure took, hubs' start and stop included.
    pub seconds: Option<f64>,
}

impl Figure {
    pub fn new(number: u8, title: &str) -> Self {
        Figure {
            number,
            title: title.to_string(),
            method: String::new(),
            rows: Vec::new(),
            notes: Vec::new(),
            outcome: Outcome::Measured,
            load: None,
            seconds: None,
        }
    }

    pub fn not_measured_yet(number: u8, title: &str, missing: impl Into<String>) -> Self {
        Figure {
            outcome: Outcome::NotMeasuredYet(missing.into()),
            ..Figure::new(number, title)
        }
    }

    pub fn skipped(number: u8, title: &str, why: impl Into<String>) -> Self {
        Figure {
            outcome: Outcome::Skipped(why.into()),
            ..Figure::new(number, title)
        }
    }

    pub fn failed(mut self, error: String) -> Self {
        self.outcome = Outcome::Failed(error);
        self
    }
}

fn ratio_text(ratio: &Option<Spread>) -> String {
    match ratio {
        Some(r) => {
            let (median, min, max) = (
                format!("{:.2}", r.median),
                format!("{:.2}", r.min),
                format!("{:.2}", r.max),
            );
            if min == median && max == median {
                median
            } else {
                format!("{median} [{min} – {max}]")
            }
        }
        None => "–".to_string(),
    }
}

fn result_text(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "–",
    }
}

/// The table cells of every row (figures that were not measured get one explanatory row).
fn table_rows(figures: &[Figure]) -> Vec<[String; 7]> {
    let mut rows = Vec::new();
    for figure in figures {
        let number = figure.number.to_string();
        match &figure.outcome {
            Outcome::NotMeasuredYet(_) | Outcome::Skipped(_) => rows.push([
                number,
                figure.title.clone(),
                match &figure.outcome {
                    Outcome::Skipped(why) => format!("skipped: {why}"),
                    Outcome::NotMeasuredYet(missing) => format!("not measured yet: {missing}"),
                    _ => String::new(),
                },
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
            Outcome::Failed(error) => rows.push([
                number,
                figure.title.clone(),
                format!("FAILED: {}", error.lines().next().unwrap_or("")),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
            Outcome::Measured => {
                for row in &figure.rows {
                    rows.push([
                        number.clone(),
                        row.measure.clone(),
                        row.hub.as_ref().map_or("–".into(), Measured::render),
                        row.baseline
                            .as_ref()
                            .map_or("–".into(), |(name, m)| format!("{} ({name})", m.render())),
                        match row.interval {
                            Some((low, high)) => format!(
                                "{}, 95 % CI of the median {low:.2} – {high:.2}",
                                ratio_text(&row.ratio)
                            ),
                            None => ratio_text(&row.ratio),
                        },
                        row.target.clone(),
                        result_text(row.met).to_string(),
                    ]);
                }
            }
        }
    }
    rows
}

const HEADERS: [&str; 7] = [
    "#",
    "measure",
    "obs-hub: median [min – max]",
    "baseline: median [min – max]",
    "ratio",
    "target",
    "result",
];

/// The table for the terminal, columns aligned.
pub fn terminal_table(figures: &[Figure]) -> String {
    let rows = table_rows(figures);
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (cell, width) in cells.iter().zip(widths) {
            let pad = width - cell.chars().count();
            let _ = write!(out, "{cell}{}  ", " ".repeat(pad));
        }
        out.trim_end().to_string()
    };
    let mut out = line(&HEADERS.map(String::from));
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
    out.push('\n');
    for row in &rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

fn markdown_table(figures: &[Figure]) -> String {
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADERS.len())));
    for row in table_rows(figures) {
        let cells: Vec<String> = row.iter().map(|cell| cell.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// What the numbers were taken on.
pub struct Machine {
    pub lines: Vec<(String, String)>,
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

impl Machine {
    pub fn describe() -> Machine {
        let cpuinfo = read_text("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown".to_string(), |(_, model)| model.trim().to_string());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let memory = read_text("/proc/meminfo")
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("MemTotal:"))
                    .and_then(|value| {
                        value
                            .trim()
                            .trim_end_matches("kB")
                            .trim()
                            .parse::<f64>()
                            .ok()
                    })
            })
            .map_or("unknown".to_string(), |kib| {
                format!("{:.1} GiB", kib / 1024.0 / 1024.0)
            });
        let kernel = read_text("/proc/sys/kernel/osrelease")
            .map_or("unknown".to_string(), |text| text.trim().to_string());
        // scripts/bench.sh passes the compiler it built with; otherwise ask the one on PATH.
        let rustc = std::env::var("OBS_HUB_BENCH_RUSTC")
            .ok()
            .or_else(|| command_output("rustc", &["--version"]))
            .unwrap_or_else(|| "unknown".to_string());
        let commit = command_output("git", &["rev-parse", "--short", "HEAD"]).map_or(
            "unknown (not a git checkout)".to_string(),
            |commit| {
                let dirty =
                    command_output("git", &["status", "--porcelain", "--untracked-files=no"])
                        .is_some_and(|status| !status.is_empty());
                if dirty {
                    format!("{commit} + uncommitted changes in the working tree")
                } else {
                    commit
                }
            },
        );
        let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
        Machine {
            lines: vec![
                ("CPU".into(), cpu),
                ("cores".into(), cores.to_string()),
                ("memory".into(), memory),
                ("kernel".into(), kernel),
                ("rustc".into(), rustc),
                ("date".into(), date),
                ("git commit".into(), commit),
            ],
        }
    }
}

/// The 1-minute load average, to show how busy the shared machine was.
pub fn load_average() -> String {
    read_text("/proc/loadavg")
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

pub struct RunInfo {
    pub command: String,
    pub quick: bool,
    pub load_before: String,
    pub load_after: String,
    pub duration_s: f64,
}

pub fn markdown(machine: &Machine, run: &RunInfo, figures: &[Figure]) -> String {
    let mut out = String::new();
    out.push_str("# obs-hub benchmarks\n\n");
    out.push_str(
        "Generated by `bash scripts/bench.sh` (the `obs-hub-bench` binary, `src/bin/bench.rs`). \
         Do not edit the numbers by hand: rerun the command.\n\n",
    );
    if run.quick {
        out.push_str(
            "**QUICK RUN (`--quick`): fewer rounds, clients and seconds. A smoke test of the \
             harness, not figures to quote.**\n\n",
        );
    }
    out.push_str(
        "Every figure is measured side by side with a baseline in the same run, and compared as \
         a ratio, because the machine is shared and noisy: a build starting halfway through slows \
         both sides. Values are medians over the rounds with [min – max]; ratios are medians of \
         the per-round ratios (each round paired with its own baseline round). Only the built-in \
         simulated OBS and loopback connections are used.\n\n",
    );
    out.push_str("## Machine\n\n");
    for (key, value) in &machine.lines {
        let _ = writeln!(out, "- {key}: {value}");
    }
    let _ = writeln!(
        out,
        "- load average (1 min) before / after the run: {} / {}",
        run.load_before, run.load_after
    );
    let _ = writeln!(out, "- command: `{}`", run.command);
    let _ = writeln!(out, "- run time: {:.0} s", run.duration_s);
    out.push_str("\n## Results\n\n");
    out.push_str(&markdown_table(figures));
    out.push_str("\n## How each figure was measured\n");
    for figure in figures {
        let _ = write!(out, "\n### {}. {}\n\n", figure.number, figure.title);
        match &figure.outcome {
            Outcome::NotMeasuredYet(missing) => {
                let _ = writeln!(out, "Not measured yet: {missing}.\n");
            }
            Outcome::Skipped(why) => {
                let _ = writeln!(out, "Skipped: {why}.\n");
            }
            Outcome::Failed(error) => {
                let _ = writeln!(out, "The run failed:\n\n```\n{error}\n```\n");
            }
            Outcome::Measured => {}
        }
        if !figure.method.is_empty() {
            out.push_str(figure.method.trim_end());
            out.push_str("\n\n");
        }
        if let Some((start, end)) = &figure.load {
            let took = figure
                .seconds
                .map_or(String::new(), |seconds| format!("; it took {seconds:.0} s"));
            let _ = writeln!(
                out,
                "- Load average (1 min) of the machine when this figure started / ended: \
                 {start} / {end}{took}."
            );
        }
        for note in &figure.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_table() {
        assert_eq!(Unit::PerSecond.format(12345.6), "12 346/s");
        assert_eq!(Unit::Millis.format(0.5), "500 µs");
        assert_eq!(Unit::KiB.format(20480.0), "20.0 MiB");
        let figure = Figure {
            rows: vec![Row::new("requests/s")
                .hub(&[1.0, 2.0, 3.0], Unit::PerSecond)
                .baseline("bare", &[2.0, 2.0, 2.0], Unit::PerSecond)
                .ratio(&[0.5, 1.0, 1.5])
                .target("ratio ≥ 0.85", Some(true))],
            ..Figure::new(1, "Cached status reads")
        };
        let missing = Figure::not_measured_yet(2, "Live fan-out", "no /ws");
        let skipped = Figure::skipped(13, "PostgreSQL vs SQLite", "no PostgreSQL");
        let table = terminal_table(&[figure, missing, skipped]);
        assert!(table.contains("2/s [1/s – 3/s]"), "{table}");
        assert!(table.contains("not measured yet: no /ws"), "{table}");
        assert!(table.contains("skipped: no PostgreSQL"), "{table}");
        assert_eq!(Unit::BytesPerSecond.format(4662.0), "4 662 B/s");
    }

    #[test]
    fn the_report_says_how_long_each_figure_took() {
        let figure = Figure {
            load: Some(("0.50".into(), "0.70".into())),
            seconds: Some(27.6),
            ..Figure::not_measured_yet(14, "Cluster takeover", "no cluster")
        };
        let run = RunInfo {
            command: "bash scripts/bench.sh".into(),
            quick: false,
            load_before: "0.50".into(),
            load_after: "0.70".into(),
            duration_s: 30.0,
        };
        let text = markdown(&Machine { lines: Vec::new() }, &run, &[figure]);
        assert!(
            text.contains("started / ended: 0.50 / 0.70; it took 28 s."),
            "{text}"
        );
        assert!(text.contains("Not measured yet: no cluster."), "{text}");
    }
}
