//! A real PostgreSQL server for the tests on PostgreSQL: one per test process, started on first
//! use from Debian's `postgresql` binaries (`/usr/lib/postgresql/<version>/bin`) in a temporary
//! data directory, listening on a free loopback port (its unix socket in that directory too),
//! run as an unprivileged user (initdb refuses root: as root, the `postgres` user the package
//! creates). Each test gets a fresh database ([`fresh_database`]). The server stops when the
//! process exits (and, should the process be killed, a watcher stops it within a second or so).
//!
//! Shared by the hub tests (`tests/common`) and the library's unit tests (`src/db/testing.rs`
//! includes this file), so it uses std, tempfile and libc only.
#![allow(dead_code)]

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Command, Stdio},
    sync::OnceLock,
};

/// The server's superuser; its password is asked on TCP (the hub's URL carries it).
const SUPERUSER: &str = "postgres";

/// A PostgreSQL server of the tests: the process's shared one ([`fresh_database`]), or one a
/// test owns ([`Server::dedicated`]) to stop and start under load.
pub struct Server {
    bin: PathBuf,
    /// Data directory, log and socket directory; removed at exit.
    dir: PathBuf,
    port: u16,
    password: String,
    /// The unprivileged user the server runs as, when this process is root.
    run_as: Option<String>,
    /// A dedicated server is stopped and removed when dropped (the shared one at exit).
    dedicated: bool,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// A database of its own for one test: its URL (with the password) and name.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
}

/// Creates `t_<random>` on the test process's server (started on first use). Panics, saying
/// what is missing, when there is no PostgreSQL to start.
pub fn fresh_database() -> TestDatabase {
    server().fresh_database()
}

/// Runs one SQL statement in `database` of the shared server and answers psql's unaligned
/// output (for checks that read a hub's database directly).
pub fn query(database: &str, sql: &str) -> String {
    server().query(database, sql)
}

fn server() -> &'static Server {
    match SERVER.get_or_init(Server::start) {
        Ok(server) => server,
        Err(error) => panic!("cannot start a PostgreSQL server for the tests: {error}"),
    }
}

/// Debian's server binaries, the newest version installed.
pub fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded per instance from the OS: random enough for names and passwords.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(std::process::id().into());
    hasher.finish()
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free loopback port: {error}"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[cfg(unix)]
    return unsafe { libc::geteuid() } == 0;
    #[cfg(not(unix))]
    false
}

impl Server {
    /// A server of the test's own, on its own port and data directory: for a test that stops
    /// it. Panics, saying what is missing, when there is no PostgreSQL to start.
    pub fn dedicated() -> Self {
        let mut server =
            Self::start().unwrap_or_else(|error| panic!("cannot start PostgreSQL: {error}"));
        server.dedicated = true;
        server
    }

    /// Creates `t_<random>` on this server.
    pub fn fresh_database(&self) -> TestDatabase {
        let name = format!("t_{:016x}", rand_u64());
        self.psql(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("cannot create database {name}: {error}"));
        TestDatabase {
            url: self.url(&name),
            name,
        }
    }

    /// One SQL statement in `database`; psql's unaligned output.
    pub fn query(&self, database: &str, sql: &str) -> String {
        self.psql_in(database, sql)
            .unwrap_or_else(|error| panic!("psql `{sql}`: {error}"))
    }

    /// Stops the server (fast shutdown: sessions cut, everything committed kept): an outage.
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]).expect("pg_ctl stop");
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn restart(&self) {
        self.pg_ctl_start().expect("pg_ctl start");
    }

    fn start() -> Result<Self, String> {
        let bin = bin_dir()
            .ok_or("no /usr/lib/postgresql/*/bin/initdb: install Debian's `postgresql` package")?;
        let dir = tempfile::Builder::new()
            .prefix("obs-hub-pg-")
            .tempdir()
            .map_err(|error| format!("temp dir: {error}"))?
            .keep();
        let run_as = is_root().then(|| SUPERUSER.to_string());
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .args([&format!("{user}:"), dir.to_str().unwrap_or_default()])
                .status()
                .map_err(|error| format!("chown: {error}"))?;
            if !status.success() {
                return Err(format!(
                    "cannot give {} to the `{user}` user (does it exist?)",
                    dir.display()
                ));
            }
        }
        let password = format!("{:016x}{:016x}", rand_u64(), rand_u64());
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, &password).map_err(|error| format!("pwfile: {error}"))?;
        let mut server = Self {
            bin,
            dir,
            port: 0,
            password,
            run_as,
            dedicated: false,
        };
        if let Some(user) = &server.run_as {
            let _ = Command::new("chown").arg(user).arg(&pwfile).status();
        }
        server.run(
            "initdb",
            &[
                "-D",
                server.data().to_str().unwrap_or_default(),
                "-U",
                SUPERUSER,
                "--pwfile",
                pwfile.to_str().unwrap_or_default(),
                // Unix socket: the harness's psql, trusted; TCP (the hub): the password.
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        let _ = std::fs::remove_file(&pwfile);
        // A port taken between choosing it and the server binding it: choose again.
        let mut last_error = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.pg_ctl_start() {
                Ok(()) => {
                    server.watch_this_process();
                    return Ok(server);
                }
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let output = self
            .command(program)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|error| format!("{program}: {error}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stderr),
                std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
            ))
        }
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<String, String> {
        let data = self.data();
        let mut all = vec!["-D", data.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        // Loopback only; the socket beside the data; fsync off (the tests never crash the
        // machine, only stop the server); connections for many hubs of one test process.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        self.pg_ctl(&[
            "-w",
            "-t",
            "60",
            "-l",
            log.to_str().unwrap_or_default(),
            "-o",
            &options,
            "start",
        ])
        .map(drop)
    }

    fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_in(SUPERUSER, sql)
    }

    fn psql_in(&self, database: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.dir.to_str().unwrap_or_default(),
                "-p",
                &port,
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ],
        )
        .map(|out| out.trim().to_string())
    }

    /// Stops the server and removes its directory when this process ends, however it ends: a
    /// small shell that waits for this process to go (polling once a second), then cleans up.
    fn watch_this_process(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- {}", pg_ctl.display()),
            None => pg_ctl.display().to_string(),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            data = self.data().display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.dedicated {
            let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
