//! Helpers for tests against a real OBS (started by scripts/real-obs.sh).
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use obws::Client;

/// Deadline for every wait in these tests: far above what OBS needs, so slow CI machines pass.
pub const WAIT: Duration = Duration::from_secs(20);

/// Whether a real, disposable OBS is there for these tests (`OBS_E2E=1`): they stop and kill it.
pub fn enabled() -> bool {
    std::env::var("OBS_E2E").is_ok_and(|v| v == "1")
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

pub fn host() -> String {
    var("OBS_E2E_HOST", "127.0.0.1")
}

pub fn port() -> u16 {
    var("OBS_E2E_PORT", "4455")
        .parse()
        .expect("OBS_E2E_PORT must be a port number")
}

pub fn password() -> String {
    var("OBS_E2E_PASSWORD", "obs-hub-e2e-secret")
}

/// The nginx-rtmp application OBS streams to (`OBS_E2E_RTMP_PORT`, default 1935).
pub fn rtmp_server() -> String {
    format!("rtmp://127.0.0.1:{}/live", var("OBS_E2E_RTMP_PORT", "1935"))
}

/// Path of the control script (`scripts/real-obs.sh`).
pub fn ctl_path() -> PathBuf {
    std::env::var_os("OBS_E2E_CTL")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/real-obs.sh"))
}

/// The root directory OBS runs in (chroot): prefix OBS's paths with it to see its files.
pub fn root() -> PathBuf {
    PathBuf::from(var("OBS_E2E_ROOT", "/var/cache/obs-hub/trixie-root"))
}

/// A path as OBS reports it (inside the chroot), seen from the host.
pub fn host_path(obs_path: &str) -> PathBuf {
    root().join(obs_path.trim_start_matches('/'))
}

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Take this first in every test: tests share one OBS and must not overlap. Not poisoned by
/// a failed test. Panics unless [`enabled`]: a real-OBS test run without its OBS fails, it does
/// not pass.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    assert!(
        enabled(),
        "OBS_E2E=1 is not set: these tests need a real OBS they may stop and kill; \
         run them with `bash scripts/e2e-real-obs.sh`"
    );
    SERIAL.lock().await
}

/// The OBS version the root's package says (`OBS_E2E_OBS_VERSION`, e.g. `32.2.2+ds-1+b2` gives
/// `32.2.2`), when the control script exported it.
pub fn packaged_obs_version() -> Option<String> {
    let package = std::env::var("OBS_E2E_OBS_VERSION").ok()?;
    let upstream = package.split(['+', '-', '~']).next()?;
    // an epoch ("1:30.2.3") is not part of what OBS reports
    let upstream = upstream.rsplit(':').next()?;
    (!upstream.is_empty() && upstream != "unknown").then(|| upstream.to_owned())
}

/// Connect once with the given password, giving up after 5 s. (`Client::connect` rather than
/// a `ConnectConfig` literal, whose fields depend on obws features.)
pub async fn connect_with(password: Option<&str>) -> obws::error::Result<Client> {
    tokio::time::timeout(
        Duration::from_secs(5),
        Client::connect(host(), port(), password),
    )
    .await
    .unwrap_or(Err(obws::error::Error::Timeout))
}

/// Connect with the configured password, retrying until [`WAIT`] (OBS may just be starting),
/// then wait until OBS answers requests (it can answer 207 NotReady right after start).
pub async fn connect() -> Client {
    let deadline = Instant::now() + WAIT;
    let client = loop {
        match connect_with(Some(&password())).await {
            Ok(client) => break client,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect to {}:{} failed ({e}), retrying", host(), port());
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("cannot connect to OBS at {}:{}: {e:?}", host(), port()),
        }
    };
    wait_for("OBS to answer GetSceneList", || async {
        client.scenes().list().await.ok()
    })
    .await;
    client
}

/// Poll `check` every 200 ms until it returns `Some`, panicking after [`WAIT`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether something accepts TCP on the OBS WebSocket port.
pub fn port_open() -> bool {
    use std::net::ToSocketAddrs;
    let Ok(mut addrs) = (host(), port()).to_socket_addrs() else {
        return false;
    };
    addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// Hold one of these in a test that stops or kills OBS: if the test fails before it started
/// OBS again, dropping the guard runs `real-obs.sh start-obs` so later tests still find OBS.
/// Declare it after the [`serial`] guard (drops first, while the lock is still held).
pub struct RestartObsOnDrop;

impl Drop for RestartObsOnDrop {
    fn drop(&mut self) {
        if !port_open() {
            eprintln!("OBS is down after the test: running start-obs");
            let _ = std::process::Command::new("bash")
                .arg(ctl_path())
                .arg("start-obs")
                .stdin(std::process::Stdio::null())
                .status();
        }
    }
}

/// Run `real-obs.sh <subcommand>` (start-obs, stop-obs, kill-obs, restart-obs, status, ...),
/// wait for it, echo its output, and panic if it fails.
pub async fn ctl(subcommand: &str) -> String {
    let path = ctl_path();
    let started = Instant::now();
    let out = tokio::process::Command::new("bash")
        .arg(&path)
        .arg(subcommand)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprint!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "`{} {subcommand}` failed ({}) after {:?}",
        path.display(),
        out.status,
        started.elapsed()
    );
    stdout
}
