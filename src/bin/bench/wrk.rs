//! The HTTP load client: Debian's `wrk`, run with `--latency` and parsed.
//!
//! Why wrk and not a client in this binary: wrk is an event loop in C that costs a few hundred
//! nanoseconds per request, so on a 2-core machine it leaves the most CPU to the server under
//! test; its latency distribution is recorded in an HdrHistogram; and anyone can rerun the
//! exact command line printed in BENCHMARKS.md against their own hub. Both servers face the very
//! same client, so whatever wrk costs is the same on both sides of the ratio.

use std::process::Command;

/// One wrk run.
#[derive(Clone, Copy, Debug)]
pub struct WrkRun {
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Load settings, printed in the report.
#[derive(Clone, Copy, Debug)]
pub struct WrkLoad {
    pub threads: usize,
    pub connections: usize,
    pub seconds: u64,
}

impl WrkLoad {
    pub fn command_line(&self, url: &str) -> String {
        format!(
            "wrk -t{} -c{} -d{}s --latency {url}",
            self.threads, self.connections, self.seconds
        )
    }
}

/// A URL under load, with the headers every request carries (e.g. a token).
#[derive(Clone, Debug)]
pub struct WrkTarget {
    pub url: String,
    pub headers: Vec<String>,
}

impl WrkTarget {
    pub fn plain(url: String) -> Self {
        Self {
            url,
            headers: Vec::new(),
        }
    }
}

/// Runs wrk (blocking: call from a blocking thread). Errors, non-2xx answers and socket errors
/// fail the run: a benchmark of error pages would be meaningless.
pub fn run(load: WrkLoad, target: &WrkTarget) -> Result<WrkRun, String> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{}", load.threads))
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.seconds))
        .arg("--latency");
    for header in &target.headers {
        command.arg("-H").arg(header);
    }
    let output = command.arg(&target.url).output().map_err(|error| {
        format!("cannot run wrk ({error}); install it with `apt-get install -y wrk`")
    })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&text).map_err(|error| format!("{error}; wrk said:\n{text}"))
}

fn parse(text: &str) -> Result<WrkRun, String> {
    if let Some(line) = text.lines().find(|line| line.contains("Non-2xx or 3xx")) {
        return Err(format!("the server answered errors: `{}`", line.trim()));
    }
    if let Some(line) = text.lines().find(|line| line.contains("Socket errors")) {
        // Timeouts and resets mean the server fell over, not that it was slow.
        return Err(format!("socket errors: `{}`", line.trim()));
    }
    let requests_per_second = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .ok_or("no Requests/sec line")?;
    let requests = text
        .lines()
        .find(|line| line.contains("requests in"))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|value| value.parse::<u64>().ok())
        .ok_or("no `N requests in` line")?;
    if requests == 0 {
        return Err("wrk completed no request".to_string());
    }
    let percentile = |label: &str| -> Result<f64, String> {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(label))
            .and_then(|value| duration_ms(value.trim()))
            .ok_or_else(|| format!("no {label} latency line"))
    };
    Ok(WrkRun {
        requests_per_second,
        p50_ms: percentile("50%")?,
        p99_ms: percentile("99%")?,
    })
}

/// wrk prints durations as `812.00us`, `1.23ms`, `1.01s`, `2.00m`.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_latency_output() {
        let text = "Running 2s test @ http://127.0.0.1:8000/api/stream-status/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   522.25us  130.80us   4.20ms   90.12%
    Req/Sec    30.45k     1.20k   32.00k    80.00%
  Latency Distribution
     50%  501.00us
     75%  560.00us
     90%  640.00us
     99%    1.02ms
  60600 requests in 2.00s, 70.10MB read
Requests/sec:  30300.12
Transfer/sec:     35.05MB
";
        let run = parse(text).expect("parses");
        assert!((run.requests_per_second - 30300.12).abs() < 1e-9);
        assert!((run.p50_ms - 0.501).abs() < 1e-9);
        assert!((run.p99_ms - 1.02).abs() < 1e-9);
        assert!(parse(&text.replace("Transfer/sec", "Non-2xx or 3xx responses: 3\nT")).is_err());
    }
}
