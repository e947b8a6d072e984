//! The built `obs-hub` as a child process, for the tests about the binary itself (`cli`,
//! `doctor`, the crash tests, the README's first section). One way to start it for all of them:
//! a clean environment (nothing of the shell that runs `cargo test` reaches the hub: no
//! `OBS_*`/`OBS_HUB_*` setting, no `RUST_LOG`, no `NOTIFY_SOCKET`), its output kept for the
//! test to read and for failure messages, its HTTP port read from the listener it bound (its
//! "listening on" line; start it on port 0), and killed when dropped, however the test ends.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// Generous: a debug build starting on a loaded two-core CI machine. Never a measure of speed.
const DEADLINE: Duration = Duration::from_secs(60);

/// The only variables of the test's own environment the hub gets: what a process needs to run
/// at all, and what a coverage or backtrace run asks of every process.
const PASSED_ON: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "RUST_BACKTRACE",
    "LLVM_PROFILE_FILE",
];

/// `obs-hub` with a clean environment: only [`PASSED_ON`], plus `OBS_HUB_DATABASE=none` (no
/// history file left in the working directory by a test that is not about it; a test sets its
/// own or removes it). stdin is closed.
pub fn obs_hub() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_obs-hub"));
    command.env_clear();
    for name in PASSED_ON {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.env("OBS_HUB_DATABASE", "none").stdin(Stdio::null());
    command
}

/// Runs `command` to its end: its exit code (-1 if a signal ended it) and its stdout then stderr.
pub fn run(command: &mut Command) -> (i32, String) {
    let output = command.output().expect("obs-hub runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

/// What the child wrote so far (stdout and stderr, line by line as they came), and whether both
/// are closed.
#[derive(Default)]
struct Output {
    text: String,
    closed: usize,
}

#[derive(Default)]
struct Shared {
    output: Mutex<Output>,
    grown: Condvar,
}

impl Shared {
    fn wait_for_line<T>(&self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let started = Instant::now();
        let mut output = self.output.lock().unwrap();
        loop {
            if let Some(found) = output.text.lines().find_map(&find) {
                return found;
            }
            assert!(
                output.closed < 2,
                "obs-hub ended before {what}; its output:\n{}",
                output.text
            );
            let left = DEADLINE.checked_sub(started.elapsed()).unwrap_or_else(|| {
                panic!(
                    "gave up waiting for {what}; obs-hub's output:\n{}",
                    output.text
                )
            });
            output = self.grown.wait_timeout(output, left).unwrap().0;
        }
    }

    /// From its "obs-hub listening on http(s)://ADDRESS:PORT" line (logged at `info`, the
    /// default level): the port of the listener the hub bound, so a test starts it on port 0.
    fn wait_for_port(&self) -> u16 {
        self.wait_for_line("its \"listening on\" line", |line| {
            let (_, address) = line.split_once("obs-hub listening on ")?;
            address.trim().rsplit(':').next()?.parse().ok()
        })
    }
}

/// A running `obs-hub`, killed (SIGKILL) and reaped when dropped.
pub struct HubProcess {
    child: Child,
    shared: Arc<Shared>,
    readers: Vec<JoinHandle<()>>,
}

impl HubProcess {
    /// Starts `command` (from [`obs_hub`]) with its stdout and stderr captured.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("obs-hub starts");
        let shared = Arc::new(Shared::default());
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped"));
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped"));
        let readers = [stdout, stderr]
            .into_iter()
            .map(|stream| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        let mut output = shared.output.lock().unwrap();
                        output.text.push_str(&line);
                        output.text.push('\n');
                        shared.grown.notify_all();
                    }
                    shared.output.lock().unwrap().closed += 1;
                    shared.grown.notify_all();
                })
            })
            .collect();
        Self {
            child,
            shared,
            readers,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Everything the hub wrote so far.
    pub fn output(&self) -> String {
        self.shared.output.lock().unwrap().text.clone()
    }

    /// Blocks until the output holds a line for which `find` gives `Some`, and returns that.
    /// Fails with the whole output if the hub ends first or the deadline passes.
    pub fn wait_for_line<T>(&self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        self.shared.wait_for_line(what, find)
    }

    /// The port the hub listens on. Blocks: in an async test, use [`Self::port`].
    pub fn wait_for_port(&self) -> u16 {
        self.shared.wait_for_port()
    }

    /// [`Self::wait_for_port`] off the async runtime, so that what the hub talks to (a
    /// simulated OBS on the same runtime) keeps running meanwhile.
    pub async fn port(&self) -> u16 {
        let shared = Arc::clone(&self.shared);
        actix_web::rt::task::spawn_blocking(move || shared.wait_for_port())
            .await
            .expect("waits for the port")
    }

    /// SIGKILL, and waits for the hub to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        self.wait();
    }

    /// Waits for the hub to end and for its whole output to be read.
    pub fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("waits for obs-hub");
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        status
    }

    /// The exit status if the hub has ended (its whole output read by then), None if it runs.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("checks on obs-hub")?;
        Some(self.wait())
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("obs-hub's output:\n{}", self.output());
        }
    }
}
