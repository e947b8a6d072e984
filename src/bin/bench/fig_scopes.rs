//! Figure 10: what scoped tokens and the audit trail cost (issue 19), gathered by running the
//! issue's own measurement, `scripts/measure-scopes.py`, against the release binary: a hub
//! without a token against one where a managed `control` token sends every request (its
//! commands audited), same binary, phases alternating. Bounded: the script's requests and
//! rounds are fixed here and it is stopped after [`LIMIT`].

use std::{
    process::Stdio,
    time::{Duration, Instant},
};

use crate::{
    procs,
    report::{Figure, Row, Unit},
    Bench,
};

const TITLE: &str = "Scoped tokens and the audit trail (scripts/measure-scopes.py)";
const SCRIPT: &str = "scripts/measure-scopes.py";
const LIMIT: Duration = Duration::from_secs(180);

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(10, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

/// One ratio line of the script: the route's label and its throughput and CPU ratios.
#[derive(Debug, PartialEq)]
pub struct RatioLine {
    pub route: String,
    pub throughput: f64,
    pub cpu_per_request: f64,
}

/// Parses `  GET /api/stream-status/  ratio scoped/no token (median of rounds): throughput
/// 0.981, CPU per request 1.020`.
pub fn parse(output: &str) -> Vec<RatioLine> {
    output
        .lines()
        .filter_map(|line| {
            let (route, rest) = line.split_once("ratio scoped/no token")?;
            let number = |label: &str| -> Option<f64> {
                let after = rest.split_once(label)?.1.trim_start();
                after
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .next()?
                    .parse()
                    .ok()
            };
            Some(RatioLine {
                route: route.trim().to_string(),
                throughput: number("throughput")?,
                cpu_per_request: number("CPU per request")?,
            })
        })
        .collect()
}

/// One phase line of the script: `GET /api/stream-status/    no token    11360 req/s  hub CPU
/// 10.0 us/request`, as (route, scoped, requests per second, hub CPU in ms per request).
pub fn parse_phases(output: &str) -> Vec<(String, bool, f64, f64)> {
    output
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let route = format!("{} {}", words.first()?, words.get(1)?);
            let before = |unit: &str| -> Option<f64> {
                let at = words.iter().position(|word| *word == unit)?;
                words.get(at.checked_sub(1)?)?.parse().ok()
            };
            let scoped = if line.contains("no token") {
                false
            } else if line.contains("scoped") {
                true
            } else {
                return None;
            };
            Some((
                route,
                scoped,
                before("req/s")?,
                before("us/request")? / 1000.0,
            ))
        })
        .collect()
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let binary = procs::sibling_binary("obs-hub")?;
    let (requests, rounds) = if bench.quick { (500, 2) } else { (2000, 5) };
    let started = Instant::now();
    let child = tokio::process::Command::new("python3")
        .arg(SCRIPT)
        .arg(&binary)
        .arg(requests.to_string())
        .arg(rounds.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run python3 {SCRIPT}: {error}"))?;
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .map_err(|_| format!("{SCRIPT} did not finish within {LIMIT:?}"))?
        .map_err(|error| format!("{SCRIPT}: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "{SCRIPT} failed ({}): {text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let lines = parse(&text);
    if lines.is_empty() {
        return Err(format!("{SCRIPT} printed no ratio: {text}"));
    }
    let phases = parse_phases(&text);
    let phase = |route: &str, scoped: bool| {
        phases
            .iter()
            .find(|(r, s, _, _)| r == route && *s == scoped)
            .map(|(_, _, rps, cpu)| (*rps, *cpu))
    };
    const NO_TOKEN: &str = "no token";
    for line in &lines {
        let mut throughput = Row::new(format!("{}: throughput, scoped token + audit", line.route));
        let mut cpu = Row::new(format!(
            "{}: hub CPU per request, scoped token + audit",
            line.route
        ));
        if let (Some(scoped), Some(plain)) = (phase(&line.route, true), phase(&line.route, false)) {
            throughput = throughput.hub(&[scoped.0], Unit::PerSecond).baseline(
                NO_TOKEN,
                &[plain.0],
                Unit::PerSecond,
            );
            cpu = cpu
                .hub(&[scoped.1], Unit::Millis)
                .baseline(NO_TOKEN, &[plain.1], Unit::Millis);
        }
        figure.rows.push(throughput.ratio(&[line.throughput]));
        figure.rows.push(cpu.ratio(&[line.cpu_per_request]));
    }
    for line in text.lines().filter(|line| line.contains("req/s")) {
        figure.notes.push(line.trim().to_string());
    }
    figure.method = format!(
        "`python3 {SCRIPT} target/release/obs-hub {requests} {rounds}` (issue 19's measurement, \
         run as it is): two demo hubs from the same binary, one without a token and one where a \
         managed `control` token limited to the scenes sends every request (commands \
         rate-checked and audited); {requests} requests per phase on one keep-alive connection \
         from Python's http.client, {rounds} rounds, phases alternating between the hubs. The \
         ratios are medians of the per-round ratios (scoped / no token); the hubs' CPU is \
         from /proc/PID/stat. The client is slow (Python), so throughput ratios say little \
         about the hub's own path; CPU per request does (figure 1 measures the read path with \
         wrk). It took {:.0} s here.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_ratio_lines() {
        let output = "2000 requests per phase, 5 rounds, medians; binary x
  GET /api/stream-status/    no token                  2500 req/s  hub CPU    80.0 us/request
  GET /api/stream-status/    ratio scoped/no token (median of rounds): throughput 0.981, CPU per request 1.020
  POST /api/switch-scene/    ratio scoped/no token (median of rounds): throughput 0.900, CPU per request 1.300
";
        assert_eq!(
            parse(output),
            vec![
                RatioLine {
                    route: "GET /api/stream-status/".to_string(),
                    throughput: 0.981,
                    cpu_per_request: 1.020
                },
                RatioLine {
                    route: "POST /api/switch-scene/".to_string(),
                    throughput: 0.9,
                    cpu_per_request: 1.3
                },
            ]
        );
    }

    #[test]
    fn reads_the_scripts_phase_lines() {
        let output = "  GET /api/stream-status/    no token                  11360 req/s  hub CPU    10.0 us/request
  GET /api/stream-status/    scoped token + audit      18290 req/s  hub CPU    12.5 us/request
  GET /api/stream-status/    ratio scoped/no token (median of rounds): throughput 1.53, CPU per request 1.00
";
        assert_eq!(
            parse_phases(output),
            vec![
                ("GET /api/stream-status/".to_string(), false, 11360.0, 0.01),
                ("GET /api/stream-status/".to_string(), true, 18290.0, 0.0125),
            ]
        );
    }
}
