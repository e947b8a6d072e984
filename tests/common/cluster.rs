//! A cluster of `obs-hub` node processes on one PostgreSQL database (issue 22), for the
//! three-node acceptance test (`tests/hub/cluster.rs`) and the bench's section 14
//! (`src/bin/bench/fig_cluster.rs` includes this file by path): each node is the real binary,
//! `obs-hub serve --config <generated>`, on a fixed loopback port (its `[cluster] address`, the
//! same across a restart), with its log in a file. [`Node::kill`] is a SIGKILL: no goodbye, its
//! leases expire on their own. The simulated OBS instances, the database and any receiver
//! stay with the caller, who names them in the [`ClusterSpec`].
//!
//! Shared by a test crate and a binary, so it uses std, tokio, tokio-tungstenite, serde_json
//! and the library's simulated OBS only (no awc: the bench has no actix System).
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs,
    future::Future,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use obs_hub::fake_obs::FakeObs;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sessions one hub's link to an OBS opens (obws's and the hub's own): a simulated OBS with
/// exactly this many is talked to by exactly one node.
pub const SESSIONS_PER_LINK: usize = 2;

/// What every node of the cluster is configured with (all nodes alike but for their id and port).
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// The `obs-hub` binary.
    pub binary: PathBuf,
    /// Where the configs and logs go (one `<id>.toml`, `<id>.log` and `<id>.d/` per node).
    pub dir: PathBuf,
    /// `[database] url`: the one PostgreSQL database of the cluster.
    pub database_url: String,
    /// `(name, port)` of each simulated OBS on 127.0.0.1, declared on every node.
    pub instances: Vec<(String, u16)>,
    /// The OBS password of every instance, if any.
    pub password: Option<String>,
    /// `[cluster] lease_ms`.
    pub lease_ms: u64,
    /// More TOML for every node, after the top-level keys (`[timing]`, `[[webhooks]]`...).
    pub extra_toml: String,
}

/// One node: its id, port and (while it runs) its process.
pub struct Node {
    pub id: String,
    pub port: u16,
    pub config: PathBuf,
    pub log: PathBuf,
    home: PathBuf,
    binary: PathBuf,
    child: Option<Child>,
}

/// A loopback port that was free a moment ago: a node must know its own address before it
/// starts (the others reach it there, and it keeps it across a restart), so it cannot bind 0.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free loopback port: {error}"))
}

/// The variables of this process's environment a node gets (nothing of `OBS_*`/`OBS_HUB_*`:
/// the generated config is the whole configuration).
const PASSED_ON: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "RUST_BACKTRACE",
    "LLVM_PROFILE_FILE",
];

impl ClusterSpec {
    /// The config file of node `id` listening on `port`.
    pub fn config_for(&self, id: &str, port: u16) -> String {
        let mut config = format!(
            "# generated for a cluster node\nbind = \"127.0.0.1:{port}\"\nhttp_workers = 1\n\n\
             [database]\nurl = \"{url}\"\n\n\
             [cluster]\nnode_id = \"{id}\"\naddress = \"http://127.0.0.1:{port}\"\nlease_ms = {lease}\n",
            url = self.database_url,
            lease = self.lease_ms,
        );
        config.push('\n');
        config.push_str(&self.extra_toml);
        for (name, obs_port) in &self.instances {
            let _ = write!(
                config,
                "\n[[obs]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {obs_port}\n"
            );
            if let Some(password) = &self.password {
                let _ = writeln!(config, "password = \"{password}\"");
            }
        }
        config
    }

    /// `obs-hub migrate` on the cluster's database, once before the nodes start (so that three
    /// nodes starting together do not race to create the tables).
    pub fn migrate(&self) -> Result<(), String> {
        let output = clean_command(&self.binary)
            .args(["migrate", "--database", &self.database_url])
            .output()
            .map_err(|error| format!("cannot run obs-hub migrate: {error}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "obs-hub migrate failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// Writes the configs of nodes `n1`..`n<count>` (not started).
    pub fn nodes(&self, count: usize) -> Result<Vec<Node>, String> {
        fs::create_dir_all(&self.dir)
            .map_err(|error| format!("cannot create {}: {error}", self.dir.display()))?;
        (1..=count)
            .map(|n| {
                let id = format!("n{n}");
                let port = free_port()?;
                let config = self.dir.join(format!("{id}.toml"));
                fs::write(&config, self.config_for(&id, port))
                    .map_err(|error| format!("cannot write {}: {error}", config.display()))?;
                let home = self.dir.join(format!("{id}.d"));
                fs::create_dir_all(&home)
                    .map_err(|error| format!("cannot create {}: {error}", home.display()))?;
                Ok(Node {
                    log: self.dir.join(format!("{id}.log")),
                    id,
                    port,
                    config,
                    home,
                    binary: self.binary.clone(),
                    child: None,
                })
            })
            .collect()
    }
}

fn clean_command(binary: &Path) -> Command {
    let mut command = Command::new(binary);
    command.env_clear();
    for name in PASSED_ON {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

impl Node {
    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the node (again: same config, port and id; its log is appended to).
    pub fn start(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|error| format!("cannot open {}: {error}", self.log.display()))?;
        let stderr = log
            .try_clone()
            .map_err(|error| format!("cannot reopen {}: {error}", self.log.display()))?;
        let child = clean_command(&self.binary)
            .current_dir(&self.home)
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|error| format!("cannot start node {}: {error}", self.id))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL (no shutdown, no lease released), then reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the node freezes with its sockets open (nothing read, written or renewed), as
    /// a node stalled or cut off from the others would; [`Node::resume`] lets it go on.
    #[cfg(unix)]
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT after [`Node::pause`].
    #[cfg(unix)]
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    #[cfg(unix)]
    fn signal(&self, signal: libc::c_int) {
        if let Some(pid) = self.pid().and_then(|pid| libc::pid_t::try_from(pid).ok()) {
            // SAFETY: kill(2) on our own child's pid; no memory is involved.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The last `lines` lines of its log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until it answers `GET /healthz` (it serves), failing early if it exited.
    pub async fn wait_serving(&mut self, timeout: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if !self.is_running() {
                return Err(format!(
                    "node {} is not running; its log ends with:\n{}",
                    self.id,
                    self.log_tail(30)
                ));
            }
            if let Ok((200, _)) = get_json(self.port, "/healthz").await {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "node {} does not serve after {timeout:?}; its log ends with:\n{}",
                    self.id,
                    self.log_tail(30)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET path` on 127.0.0.1:`port` (HTTP/1.1, one connection per request): the status and the
/// body as JSON (Null if it is not JSON). Ten seconds at most.
pub async fn get_json(port: u16, path: &str) -> Result<(u16, Value), String> {
    let (status, body) = get(port, path).await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A value of the node's `/metrics` (the sum of its series), None if it has none.
pub async fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, body) = get(port, "/metrics").await.ok()?;
    let mut found = None;
    for line in String::from_utf8_lossy(&body).lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            found = Some(found.unwrap_or(0.0) + value);
        }
    }
    found
}

/// `GET path`: the status and the whole body.
pub async fn get(port: u16, path: &str) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|error| format!("connect to {port}: {error}"))?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|error| format!("send to {port}: {error}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|error| format!("read from {port}: {error}"))?;
        parse_response(&raw)
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("GET {path} on port {port}: no answer in 10 s"))?
}

/// A whole HTTP/1.1 response read to its end (content-length or chunked).
fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("no end of headers in the answer")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status in {head}"))?;
    let mut body = raw[split + 4..].to_vec();
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("a bad chunk size `{size_text}`"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("a chunk cut short")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

/// `GET /api/cluster/` of the node on `port`.
pub async fn cluster_view(port: u16) -> Result<Value, String> {
    match get_json(port, "/api/cluster/").await? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("GET /api/cluster/ answered {status}: {body}")),
    }
}

/// Each instance's owner (None: unowned) and epoch, from a `GET /api/cluster/` answer.
pub fn owners(view: &Value) -> BTreeMap<String, (Option<String>, i64)> {
    view["instances"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|lease| {
                    Some((
                        lease["name"].as_str()?.to_string(),
                        (
                            lease["owner"].as_str().map(str::to_string),
                            lease["epoch"].as_i64().unwrap_or(0),
                        ),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The ids of the nodes a `GET /api/cluster/` answer says are live.
pub fn live_nodes(view: &Value) -> Vec<String> {
    view["nodes"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|node| node["live"] == true)
                .filter_map(|node| node["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `check` every 50 ms until it gives `Some`, for at most `timeout` (generous: a deadline,
/// never a measure). The error names `what`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return Ok(found);
        }
        if started.elapsed() > timeout {
            return Err(format!("gave up after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The settled ownership every node agrees on: every instance of `fakes` (named `names`)
/// owned by a live node, the same owners and epochs in every node's `GET /api/cluster/`, the
/// owners among `expected_nodes`, and every simulated OBS with exactly one link's sessions (so
/// one node, not only one row, talks to it). None while that is not so.
pub async fn settled_owners(
    ports: &[u16],
    expected_nodes: &[&str],
    names: &[String],
    fakes: &[FakeObs],
) -> Option<BTreeMap<String, (Option<String>, i64)>> {
    let mut agreed: Option<BTreeMap<String, (Option<String>, i64)>> = None;
    for port in ports {
        let view = cluster_view(*port).await.ok()?;
        let live = live_nodes(&view);
        if expected_nodes
            .iter()
            .any(|id| !live.iter().any(|l| l == id))
        {
            return None;
        }
        let owners = owners(&view);
        let all_owned = names.iter().all(|name| {
            owners
                .get(name)
                .and_then(|(owner, _)| owner.as_deref())
                .is_some_and(|owner| expected_nodes.contains(&owner))
        });
        if !all_owned {
            return None;
        }
        match &agreed {
            Some(first) if *first != owners => return None,
            Some(_) => {}
            None => agreed = Some(owners),
        }
    }
    if fakes
        .iter()
        .any(|fake| fake.connection_count() != SESSIONS_PER_LINK)
    {
        return None;
    }
    agreed
}

/// Why [`settled_owners`] says no: each node's owners where they differ from the first
/// node's, and the simulated OBS without exactly one session.
pub async fn why_unsettled(ports: &[u16], names: &[String], fakes: &[FakeObs]) -> String {
    let mut why = String::new();
    let mut first: Option<BTreeMap<String, (Option<String>, i64)>> = None;
    for port in ports {
        match cluster_view(*port).await {
            Ok(view) => {
                let owners = owners(&view);
                let _ = write!(
                    why,
                    "node on {port} ({}) sees live {:?}; ",
                    view["node"],
                    live_nodes(&view)
                );
                if let Some(first) = &first {
                    let differ: Vec<_> = owners
                        .iter()
                        .filter(|(name, lease)| first.get(*name) != Some(lease))
                        .collect();
                    if !differ.is_empty() {
                        let _ = write!(why, "it differs from the first on {differ:?}; ");
                    }
                } else {
                    let unowned: Vec<&String> = names
                        .iter()
                        .filter(|name| owners.get(*name).is_none_or(|(owner, _)| owner.is_none()))
                        .collect();
                    let _ = write!(why, "unowned {unowned:?}; ");
                    first = Some(owners);
                }
            }
            Err(error) => {
                let _ = write!(why, "node on {port}: {error}; ");
            }
        }
    }
    let sessions: Vec<(&String, usize)> = names
        .iter()
        .zip(fakes)
        .map(|(name, fake)| (name, fake.connection_count()))
        .filter(|(_, count)| *count != SESSIONS_PER_LINK)
        .collect();
    let _ = write!(
        why,
        "simulated OBS without exactly one link's sessions: {sessions:?}"
    );
    why
}

/// What a node owns in `owners`.
pub fn owned_by(owners: &BTreeMap<String, (Option<String>, i64)>, node: &str) -> Vec<String> {
    owners
        .iter()
        .filter(|(_, (owner, _))| owner.as_deref() == Some(node))
        .map(|(name, _)| name.clone())
        .collect()
}

/// After `victim` was killed: waits until each of `taken` (its instances, with the epochs it
/// held them at) has lost its link's sessions in its simulated OBS (`fakes`, by name) and got
/// them again, the new owner's, and the node on `observer` shows it owned by another live node at a
/// higher epoch. Answers when the last of those links came back, from `killed_at` (polled
/// every 20 ms; the observer's view, published once a heartbeat, only confirms).
pub async fn wait_takeover(
    observer: u16,
    victim: &str,
    taken: &BTreeMap<String, i64>,
    fakes: &BTreeMap<String, FakeObs>,
    killed_at: Instant,
    timeout: Duration,
) -> Result<Duration, String> {
    let mut dropped: BTreeSet<&str> = BTreeSet::new();
    let mut back: BTreeMap<&str, Duration> = BTreeMap::new();
    let mut last_view = Value::Null;
    loop {
        for name in taken.keys() {
            match fakes.get(name).map_or(0, FakeObs::connection_count) {
                0 => {
                    dropped.insert(name);
                }
                SESSIONS_PER_LINK if dropped.contains(name.as_str()) => {
                    back.entry(name).or_insert_with(|| killed_at.elapsed());
                }
                _ => {}
            }
        }
        if back.len() == taken.len() {
            if let Ok(view) = cluster_view(observer).await {
                let owners = owners(&view);
                let moved = taken.iter().all(|(name, old_epoch)| {
                    owners.get(name).is_some_and(|(owner, epoch)| {
                        owner.as_deref().is_some_and(|owner| owner != victim) && epoch > old_epoch
                    })
                });
                if moved {
                    return Ok(back.values().copied().max().unwrap_or_default());
                }
                last_view = view;
            }
        }
        if killed_at.elapsed() > timeout {
            return Err(format!(
                "gave up after {timeout:?} waiting for the {} instances of {victim} to be taken \
                 over: sessions dropped {}, back {}; last view {last_view}",
                taken.len(),
                dropped.len(),
                back.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every node's log tail, for a failure message.
pub fn logs(nodes: &[Node], lines: usize) -> String {
    nodes
        .iter()
        .map(|node| {
            format!(
                "\n--- {} ({}):\n{}",
                node.id,
                node.base(),
                node.log_tail(lines)
            )
        })
        .collect()
}

/// Starts `count` nodes of `spec` (after migrating its database) and waits until they serve and
/// share out `names` (with their simulated OBS `fakes`): the settled owners, or what went wrong
/// with the nodes' logs.
pub async fn start_cluster(
    spec: &ClusterSpec,
    count: usize,
    names: &[String],
    fakes: &[FakeObs],
    timeout: Duration,
) -> Result<(Vec<Node>, BTreeMap<String, (Option<String>, i64)>), String> {
    spec.migrate()?;
    let mut nodes = spec.nodes(count)?;
    for node in &mut nodes {
        node.start()?;
    }
    for node in &mut nodes {
        node.wait_serving(timeout).await?;
    }
    let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
    let ids: Vec<String> = nodes.iter().map(|node| node.id.clone()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let settled = wait_until(
        &format!("{} instances shared out by {count} nodes", names.len()),
        timeout,
        || settled_owners(&ports, &ids, names, fakes),
    )
    .await;
    match settled {
        Ok(owners) => Ok((nodes, owners)),
        Err(error) => Err(format!(
            "{error}; {}{}",
            why_unsettled(&ports, names, fakes).await,
            logs(&nodes, 30)
        )),
    }
}

/// A WebSocket client of a node's `/ws`, keeping every message it gets (parsed JSON), in a
/// task of its own.
pub struct Watcher {
    messages: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    /// Connects to `ws://127.0.0.1:<port>/ws` and starts keeping messages.
    pub async fn connect(port: u16) -> Result<Self, String> {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws"))
            .await
            .map_err(|error| format!("WebSocket to {port}: {error}"))?;
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&messages);
        let task = tokio::spawn(async move {
            let (_, mut incoming) = socket.split();
            while let Some(Ok(message)) = incoming.next().await {
                if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                    if let Ok(value) = serde_json::from_str::<Value>(&text) {
                        kept.lock().unwrap_or_else(|e| e.into_inner()).push(value);
                    }
                }
            }
        });
        Ok(Self { messages, task })
    }

    /// Every message so far, in the order received.
    pub fn messages(&self) -> Vec<Value> {
        self.messages
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the connection still runs.
    pub fn is_open(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks per-instance order in what a WebSocket client received: for each instance, the
/// `instance_seq` of its changes goes up by exactly one from change to change (from the
/// snapshot's, where the snapshot gives one). Answers each instance's seqs seen, or the first
/// gap, repeat or missing number found.
pub fn instance_sequences(messages: &[Value]) -> Result<BTreeMap<String, Vec<i64>>, String> {
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    let mut seen: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for message in messages {
        if message["type"] == "snapshot" {
            if let Some(instances) = message["instances"].as_object() {
                for (name, status) in instances {
                    if let Some(seq) = status["instance_seq"].as_i64() {
                        last.insert(name.clone(), seq);
                    }
                }
            }
            continue;
        }
        let Some(instance) = message["instance"].as_str() else {
            continue;
        };
        if message.get("seq").is_none() {
            continue; // a notice or an answer, not a change
        }
        let Some(seq) = message["instance_seq"].as_i64() else {
            return Err(format!("a change without instance_seq: {message}"));
        };
        if let Some(before) = last.get(instance) {
            if seq != before + 1 {
                return Err(format!(
                    "instance {instance}: instance_seq {seq} after {before}: {message}"
                ));
            }
        }
        last.insert(instance.to_string(), seq);
        seen.entry(instance.to_string()).or_default().push(seq);
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_chunked_answer_is_put_back_together() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).unwrap(), (200, b"{\"a\":1}".to_vec()));
        let plain = b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (404, b"{}".to_vec()));
    }

    #[test]
    fn a_gap_or_a_repeat_in_an_instance_sequence_is_found() {
        let change =
            |instance: &str, seq: i64| json!({"seq": 1, "instance": instance, "instance_seq": seq});
        let snapshot = json!({"type": "snapshot", "instances": {"a": {"instance_seq": 4}}});
        let fine = [
            snapshot.clone(),
            change("a", 5),
            change("b", 9),
            change("a", 6),
            change("b", 10),
        ];
        let seen = instance_sequences(&fine).unwrap();
        assert_eq!(seen["a"], [5, 6]);
        assert_eq!(seen["b"], [9, 10]);
        assert!(instance_sequences(&[snapshot.clone(), change("a", 6)]).is_err());
        assert!(instance_sequences(&[change("a", 6), change("a", 6)]).is_err());
        assert!(instance_sequences(&[json!({"seq": 3, "instance": "a"})]).is_err());
    }
}
