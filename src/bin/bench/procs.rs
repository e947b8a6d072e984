//! Child processes: the hub (`obs-hub serve --config`, the real binary) and the baselines (this
//! binary re-executed in a serving mode), and what /proc says about them.
//!
//! The hub runs in its own process so that its memory and CPU can be read from /proc/PID
//! without the simulated OBS instances, the load clients and the bench's bookkeeping mixed in.

use std::{
    fmt::Write as _,
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::http::HttpClient;

/// Where the bench keeps configs and child logs; removed at the end of a successful run.
pub struct Workspace {
    pub dir: PathBuf,
    counter: std::cell::Cell<u32>,
}

impl Workspace {
    pub fn create() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("obs-hub-bench-{}", std::process::id()));
        fs::create_dir_all(&dir)
            .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
        Ok(Self {
            dir,
            counter: std::cell::Cell::new(0),
        })
    }

    /// A fresh file name in the workspace (`hub-3.toml`, `hub-3.log`...).
    pub fn file(&self, stem: &str, extension: &str) -> PathBuf {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        self.dir.join(format!("{stem}-{n}.{extension}"))
    }

    pub fn remove(&self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago. The hub is given a fixed port in its config (rather than
/// port 0) so the bench knows where to find it without parsing its log.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|error| format!("cannot find a free port: {error}"))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|error| format!("cannot read the free port: {error}"))
}

/// The binaries next to this one (`cargo build --release` puts them in the same directory).
pub fn sibling_binary(name: &str) -> Result<PathBuf, String> {
    let me =
        std::env::current_exe().map_err(|error| format!("cannot find this executable: {error}"))?;
    let path = me
        .parent()
        .ok_or("this executable has no directory")?
        .join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first (`cargo build --release --bins`; scripts/bench.sh does)",
            path.display()
        ))
    }
}

/// A running child, killed when dropped (also when the bench fails halfway).
pub struct Process {
    pub name: String,
    pub port: u16,
    pub log: PathBuf,
    child: Child,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the child's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(15);
        lines[start..].join("\n")
    }

    /// Fails with the log tail if the child has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "{} exited ({status}); its log {} ends with:\n{}",
                self.name,
                self.log.display(),
                self.log_tail()
            )),
            Ok(None) => Ok(()),
            Err(error) => Err(format!("cannot check on {}: {error}", self.name)),
        }
    }

    /// Polls `path` until it answers 200 (the child is serving), for up to 15 s.
    pub async fn wait_serving(&mut self, path: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut client = HttpClient::new(self.port);
        loop {
            self.check_alive()?;
            let last = match client.get(path).await {
                Ok(reply) if reply.status == 200 => return Ok(()),
                Ok(reply) => format!("answered {}", reply.status),
                Err(error) => error,
            };
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not serve {path} within 15 s (last: {last}); log {}:\n{}",
                    self.name,
                    self.log.display(),
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the child accepts TCP connections (for servers that speak no plain HTTP).
    pub async fn wait_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.check_alive()?;
            match tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() > deadline => {
                    return Err(format!(
                        "{} does not accept connections on port {} after 15 s: {error}",
                        self.name, self.port
                    ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    pub fn rss_kib(&self) -> Result<f64, String> {
        rss_kib(self.pid())
    }

    pub fn cpu_seconds(&self) -> Result<f64, String> {
        cpu_seconds(self.pid())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(name: &str, port: u16, log: PathBuf, command: &mut Command) -> Result<Process, String> {
    let log_file = fs::File::create(&log)
        .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
    let stderr = log_file
        .try_clone()
        .map_err(|error| format!("cannot reopen {}: {error}", log.display()))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(stderr)
        .spawn()
        .map_err(|error| format!("cannot start {name}: {error}"))?;
    Ok(Process {
        name: name.to_string(),
        port,
        log,
        child,
    })
}

/// What the hub child is configured with.
pub struct HubSpec {
    /// `http_workers`; `None` leaves the hub's default (cores, at most 4).
    pub workers: Option<usize>,
    /// `(name, port)` of each simulated OBS, no password.
    pub instances: Vec<(String, u16)>,
    /// Extra top-level TOML (e.g. the database switch once persistence exists).
    pub extra_toml: String,
}

/// Starts `obs-hub serve --config <generated>`, with the default timing, and waits for /healthz.
pub async fn start_hub(workspace: &Workspace, spec: &HubSpec) -> Result<Process, String> {
    let port = free_port()?;
    let mut config = format!("# generated by obs-hub-bench\nbind = \"127.0.0.1:{port}\"\n");
    if let Some(workers) = spec.workers {
        let _ = writeln!(config, "http_workers = {workers}");
    }
    config.push_str(&spec.extra_toml);
    config.push('\n');
    for (name, obs_port) in &spec.instances {
        let _ = write!(
            config,
            "\n[[obs]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {obs_port}\n"
        );
    }
    let config_path = workspace.file("hub", "toml");
    fs::write(&config_path, config)
        .map_err(|error| format!("cannot write {}: {error}", config_path.display()))?;
    let binary = sibling_binary("obs-hub")?;
    let log = config_path.with_extension("log");
    // Each hub runs in a directory of its own: files it creates with relative default paths
    // (the history database, obs-hub.db) stay out of the repository and are not shared between
    // two hubs running side by side.
    let home = config_path.with_extension("d");
    fs::create_dir_all(&home)
        .map_err(|error| format!("cannot create {}: {error}", home.display()))?;
    let mut command = Command::new(binary);
    command
        .current_dir(&home)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        // As deployed: info level, here into a file rather than the journal.
        .env("RUST_LOG", "info");
    for (variable, _) in std::env::vars_os() {
        // The operator's own settings (OBS_HUB_*, OBS_WEBSOCKET_*, OBS_CALLBACK_*) must not leak
        // into the measured configuration.
        if variable.to_string_lossy().starts_with("OBS_") {
            command.env_remove(variable);
        }
    }
    let mut hub = spawn("obs-hub", port, log, &mut command)?;
    hub.wait_serving("/healthz").await?;
    Ok(hub)
}

/// Starts this binary as a baseline server (`mode` is a hidden subcommand), waiting until
/// `ready_path` answers 200 or, without one, until the port accepts connections.
pub async fn start_self(
    workspace: &Workspace,
    name: &str,
    mode: &str,
    args: &[String],
    ready_path: Option<&str>,
) -> Result<Process, String> {
    let port = free_port()?;
    let me =
        std::env::current_exe().map_err(|error| format!("cannot find this executable: {error}"))?;
    let log = workspace.file(mode, "log");
    let mut command = Command::new(me);
    command
        .arg(mode)
        .arg("--port")
        .arg(port.to_string())
        .args(args);
    let mut process = spawn(name, port, log, &mut command)?;
    match ready_path {
        Some(path) => process.wait_serving(path).await?,
        None => process.wait_listening().await?,
    }
    Ok(process)
}

/// Starts the bare actix-web baseline (`serve-bare-http`) with `workers` threads, answering
/// `body` (kept in the workspace as `name`.json), once `ready_path` answers.
pub async fn start_bare_server(
    workspace: &Workspace,
    name: &str,
    body: &[u8],
    workers: usize,
    ready_path: &str,
) -> Result<Process, String> {
    let body_file = workspace.file(name, "json");
    std::fs::write(&body_file, body)
        .map_err(|error| format!("cannot write {}: {error}", body_file.display()))?;
    start_self(
        workspace,
        "bare actix-web server",
        "serve-bare-http",
        &[
            "--workers".to_string(),
            workers.to_string(),
            "--body".to_string(),
            body_file.display().to_string(),
        ],
        Some(ready_path),
    )
    .await
}

/// Resident memory of a process, from /proc/PID/status (VmRSS, in KiB).
pub fn rss_kib(pid: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).map_err(|error| format!("cannot read {path}: {error}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no VmRSS in {path}"))
}

/// CPU time a process has used so far, in seconds: the sum over its threads of the time on CPU
/// from /proc/PID/task/TID/schedstat (nanoseconds). /proc/PID/stat's utime + stime count in
/// 10 ms ticks, too coarse for an idle process over a 10 s window; schedstat misses only threads
/// that have exited, and the hub's threads live as long as it does.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let tasks = format!("/proc/{pid}/task");
    let entries = fs::read_dir(&tasks).map_err(|error| format!("cannot list {tasks}: {error}"))?;
    let mut nanoseconds: u64 = 0;
    for entry in entries.flatten() {
        let path = entry.path().join("schedstat");
        // A thread may end between the listing and the read: it simply no longer counts.
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let on_cpu = text
            .split_whitespace()
            .next()
            .and_then(|value| value.parse::<u64>().ok())
            .ok_or_else(|| format!("malformed {}", path.display()))?;
        nanoseconds += on_cpu;
    }
    Ok(nanoseconds as f64 / 1e9)
}

/// The soft limit on open files of this process (children inherit it), from /proc/self/limits.
pub fn open_files_limit() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    let line = text
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Reads a text file, for the machine description.
pub fn read_text(path: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(path).ok()
}
