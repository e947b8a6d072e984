//! A fleet of WebSocket clients in a process of its own (issue 23): this binary re-executed as
//! `ws-clients`, so that the clients' reads are scheduled apart from the bench's bookkeeping and
//! its simulated OBS, and the hub and the clients meet only through sockets, as a browser and
//! a hub do.
//!
//! The child speaks a line protocol on its stdin/stdout:
//! - it prints `ready` once every client has its snapshot (or `error <why>`);
//! - `wait <total>`: it answers `reached <n>` once the clients together hold `total`
//!   `scene_changed` messages, or with what they hold when [`DELIVERY_LIMIT`] has passed;
//! - `stop`: it closes the clients and prints one JSON line per client, the arrival instants
//!   (nanoseconds since the Unix epoch) and scenes of its messages, then `end`.
//!
//! Instants cross the process boundary as wall-clock nanoseconds: each process pins its
//! monotonic clock to the wall clock once, at start, and converts with that one offset, so
//! the only error is the two pins' difference (microseconds; the clock is not stepped during a
//! run).

use std::{
    process::Stdio,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

use crate::ws_clients::{self, ClientLog, FleetError};

/// How long an event may take to reach everyone before the missing deliveries count as lost.
pub const DELIVERY_LIMIT: Duration = Duration::from_secs(10);

/// This process's monotonic clock pinned to the wall clock.
#[derive(Clone, Copy)]
pub struct ClockPin {
    instant: Instant,
    unix_ns: i128,
}

impl ClockPin {
    pub fn now() -> Self {
        let instant = Instant::now();
        let unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_nanos() as i128)
            .unwrap_or(0);
        Self { instant, unix_ns }
    }

    pub fn to_unix_ns(self, at: Instant) -> i128 {
        if at >= self.instant {
            self.unix_ns + (at - self.instant).as_nanos() as i128
        } else {
            self.unix_ns - (self.instant - at).as_nanos() as i128
        }
    }

    pub fn to_instant(self, unix_ns: i128) -> Instant {
        let delta = unix_ns - self.unix_ns;
        let magnitude = Duration::from_nanos(delta.unsigned_abs().min(u64::MAX as u128) as u64);
        if delta >= 0 {
            self.instant + magnitude
        } else {
            self.instant.checked_sub(magnitude).unwrap_or(self.instant)
        }
    }
}

/// The child's side: runs until stdin says `stop` (or closes).
pub fn serve(port: u16, count: usize, threads: usize) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?;
    runtime.block_on(async move {
        let pin = ClockPin::now();
        let mut stdout = tokio::io::stdout();
        let fleet = match ws_clients::connect(port, count).await {
            Ok(fleet) => fleet,
            Err(FleetError::NoWebSocket(why) | FleetError::Failed(why)) => {
                let _ = stdout
                    .write_all(&say(format!("error {}", why.replace('\n', " "))))
                    .await;
                return Err(why);
            }
        };
        write(&mut stdout, &say("ready".to_string())).await?;
        let mut commands = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(command)) = commands.next_line().await {
            if let Some(total) = command.strip_prefix("wait ") {
                let total: usize = total.trim().parse().map_err(|_| "bad wait".to_string())?;
                let deadline = Instant::now() + DELIVERY_LIMIT;
                while fleet.arrivals() < total && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                write(&mut stdout, &say(format!("reached {}", fleet.arrivals()))).await?;
            } else if command.trim() == "stop" {
                break;
            }
        }
        for log in fleet.stop().await {
            let arrivals: Vec<(String, &str)> = log
                .scene_arrivals
                .iter()
                .map(|(at, scene)| (pin.to_unix_ns(*at).to_string(), scene.as_str()))
                .collect();
            let line = serde_json::to_string(&arrivals).map_err(|error| error.to_string())?;
            write(&mut stdout, &say(line)).await?;
        }
        write(&mut stdout, &say("end".to_string())).await
    })
}

fn say(line: String) -> Vec<u8> {
    let mut bytes = line.into_bytes();
    bytes.push(b'\n');
    bytes
}

async fn write(stdout: &mut tokio::io::Stdout, bytes: &[u8]) -> Result<(), String> {
    stdout
        .write_all(bytes)
        .await
        .map_err(|error| format!("cannot write to the bench: {error}"))?;
    stdout
        .flush()
        .await
        .map_err(|error| format!("cannot write to the bench: {error}"))
}

/// The bench's side: a running client process.
pub struct RemoteFleet {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pin: ClockPin,
}

/// Threads of the client process's runtime: as many as the hub has HTTP workers, 2 here.
const CLIENT_THREADS: usize = 2;

impl RemoteFleet {
    /// Starts a client process with `count` clients on `ws://127.0.0.1:port/ws`; returns once
    /// every one has its snapshot.
    pub async fn connect(port: u16, count: usize) -> Result<Self, FleetError> {
        let me = std::env::current_exe()
            .map_err(|error| format!("cannot find this executable: {error}"))?;
        let mut child = Command::new(me)
            .arg("ws-clients")
            .arg("--port")
            .arg(port.to_string())
            .arg("--count")
            .arg(count.to_string())
            .arg("--threads")
            .arg(CLIENT_THREADS.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| format!("cannot start the client process: {error}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("the client process has no stdin or stdout"
                .to_string()
                .into());
        };
        let mut fleet = RemoteFleet {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            pin: ClockPin::now(),
        };
        let first = fleet.next_line(Duration::from_secs(120)).await?;
        match first.strip_prefix("error ") {
            Some(why) if why.contains("404") => Err(FleetError::NoWebSocket(why.to_string())),
            Some(why) => Err(FleetError::Failed(format!("client process: {why}"))),
            None if first == "ready" => Ok(fleet),
            None => Err(format!("client process said `{first}`").into()),
        }
    }

    async fn next_line(&mut self, limit: Duration) -> Result<String, String> {
        match tokio::time::timeout(limit, self.lines.next_line()).await {
            Err(_) => Err(format!("the client process said nothing for {limit:?}")),
            Ok(Err(error)) => Err(format!("cannot read the client process: {error}")),
            Ok(Ok(None)) => Err("the client process ended".to_string()),
            Ok(Ok(Some(line))) => Ok(line),
        }
    }

    async fn send(&mut self, command: &str) -> Result<(), String> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|error| format!("cannot write to the client process: {error}"))
    }

    /// Waits until the clients together hold `total` messages (or the delivery limit passed);
    /// returns how many they hold.
    pub async fn wait_for(&mut self, total: usize) -> Result<usize, String> {
        self.send(&format!("wait {total}")).await?;
        let line = self.next_line(DELIVERY_LIMIT * 2).await?;
        line.strip_prefix("reached ")
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("client process said `{line}`"))
    }

    /// Closes the clients; what each saw, its instants on this process's clock.
    pub async fn stop(mut self) -> Result<Vec<ClientLog>, String> {
        self.send("stop").await?;
        let mut logs = Vec::new();
        loop {
            let line = self.next_line(Duration::from_secs(60)).await?;
            if line == "end" {
                break;
            }
            let arrivals: Vec<(String, String)> = serde_json::from_str(&line)
                .map_err(|error| format!("client process line `{line}`: {error}"))?;
            let mut log = ClientLog::default();
            for (unix_ns, scene) in arrivals {
                let unix_ns: i128 = unix_ns
                    .parse()
                    .map_err(|_| format!("bad instant `{unix_ns}`"))?;
                log.scene_arrivals
                    .push((self.pin.to_instant(unix_ns), scene));
            }
            logs.push(log);
        }
        let _ = self.child.wait().await;
        Ok(logs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_instant_survives_the_round_trip() {
        let pin = ClockPin::now();
        let later = pin.instant + Duration::from_micros(1234);
        let back = pin.to_instant(pin.to_unix_ns(later));
        assert_eq!(back, later);
        let earlier = pin.instant - Duration::from_micros(5);
        assert_eq!(pin.to_instant(pin.to_unix_ns(earlier)), earlier);
    }
}
