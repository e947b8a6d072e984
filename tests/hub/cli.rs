//! The binary: configuration errors, secrets kept out of output, `serve` and `demo` answering.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use crate::common::{
    binary::{obs_hub, run, HubProcess},
    ClosedPort,
};

#[test]
fn a_bad_port_in_the_environment_is_one_line_naming_the_key() {
    let (code, text) = run(obs_hub()
        .args(["serve"])
        .env("OBS_WEBSOCKET_PORT", "abc")
        .env("OBS_WEBSOCKET_PASSWORD", "sup3r-secret"));
    assert_eq!(code, 2, "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("OBS_WEBSOCKET_PORT"), "{text}");
    assert!(text.contains("abc"), "{text}");
    assert!(!text.contains("sup3r-secret"));
}

/// Issue 18: HTTPS settings that cannot work stop start-up naming the key or the file, exit 2.
#[test]
fn bad_https_settings_name_the_key_or_the_file() {
    let (code, text) = run(obs_hub()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("OBS_HUB_TLS_CERT", "cert.pem"));
    assert_eq!(code, 2, "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(text.contains("OBS_HUB_TLS_KEY"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let (code, text) = run(obs_hub()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("OBS_HUB_TLS_CERT", dir.path().join("missing-cert.pem"))
        .env("OBS_HUB_TLS_KEY", dir.path().join("missing-key.pem")));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("missing-cert.pem"), "{text}");
}

#[test]
fn a_public_bind_without_a_token_refuses_to_start() {
    let (code, text) = run(obs_hub().args(["serve", "--bind", "0.0.0.0:0"]));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("OBS_HUB_API_TOKEN"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
}

#[test]
fn config_file_problems_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.toml",
            "bind = \"127.0.0.1:0\"\nheartbeat = 3\n",
            "heartbeat",
        ),
        (
            "duplicate.toml",
            "[[obs]]\nname = \"a\"\npassword = \"sup3r-secret\"\n[[obs]]\nname = \"a\"\n",
            "declared twice",
        ),
        (
            "port.toml",
            "[[obs]]\nname = \"a\"\nport = \"abc\"\n",
            "port",
        ),
        (
            "group_member.toml",
            "[[obs]]\nname = \"a\"\n[[instance_groups]]\nname = \"g\"\ninstances = [\"a\", \"b\"]\n",
            "[[instance_groups]] `g` instances: `b` is not an [[obs]] instance",
        ),
        (
            "group_twice.toml",
            "[[obs]]\nname = \"a\"\n[[instance_groups]]\nname = \"g\"\ninstances = [\"a\"]\n\
             [[instance_groups]]\nname = \"g\"\ninstances = [\"a\"]\n",
            "[[instance_groups]] name `g` is declared twice",
        ),
    ];
    for (file, text, mentions) in cases {
        let path = dir.path().join(file);
        std::fs::write(&path, text).unwrap();
        let (code, output) = run(obs_hub().arg("serve").arg("--config").arg(&path));
        assert_eq!(code, 2, "{file}: {output}");
        assert_eq!(output.trim().lines().count(), 1, "{file}: {output}");
        assert!(output.contains(mentions), "{file}: {output}");
        assert!(!output.contains("sup3r-secret"));
    }
    let (code, output) = run(obs_hub().args(["serve", "--config", "/nonexistent/hub.toml"]));
    assert_eq!(code, 2);
    assert!(output.contains("/nonexistent/hub.toml"));
}

#[test]
fn serve_answers_and_never_logs_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let obs = ClosedPort::new();
    let mut hub = HubProcess::spawn(
        obs_hub()
            .arg("serve")
            .env("OBS_HUB_DATABASE", dir.path().join("hub.db"))
            .env("OBS_HUB_BIND", "127.0.0.1:0")
            .env("OBS_WEBSOCKET_PORT", obs.port.to_string())
            .env("OBS_WEBSOCKET_PASSWORD", "sup3r-secret")
            .env("RUST_LOG", "trace"),
    );
    let body = wait_for_http(hub.wait_for_port(), "/api/obs-manager/status/");
    assert!(body.contains("\"running\":true"), "{body}");
    // The unreachable OBS is logged: awaited, then everything logged up to then is read.
    hub.wait_for_line("the unreachable OBS in the log", |line| {
        line.contains("reconnecting").then_some(())
    });
    hub.kill();
    let logs = hub.output();
    assert!(
        logs.contains("reconnecting"),
        "the unreachable OBS is logged: {logs}"
    );
    assert!(!logs.contains("sup3r-secret"), "password leaked into logs");
    assert!(!body.contains("sup3r-secret"));
}

#[test]
#[cfg(target_os = "linux")]
fn serve_tells_systemd_it_is_ready_once_listening() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let obs = ClosedPort::new();
    let mut hub = HubProcess::spawn(
        obs_hub()
            .arg("serve")
            .env("OBS_HUB_BIND", "127.0.0.1:0")
            .env("OBS_WEBSOCKET_PORT", obs.port.to_string())
            .env("NOTIFY_SOCKET", &socket_path),
    );
    let mut buffer = [0u8; 64];
    let received = socket.recv(&mut buffer);
    // Ready means listening: the API must answer right away.
    let answered = std::net::TcpStream::connect(("127.0.0.1", hub.wait_for_port())).is_ok();
    hub.kill();
    let length = received.expect("READY=1 arrives");
    assert_eq!(&buffer[..length], b"READY=1\n");
    assert!(answered);
}

#[test]
fn demo_says_it_is_a_simulation_and_shows_status() {
    let demo_dir = tempfile::tempdir().unwrap();
    let mut demo = HubProcess::spawn(
        obs_hub()
            .args(["demo", "--bind", "127.0.0.1:0"])
            .arg("--database")
            .arg(demo_dir.path().join("demo.db")),
    );
    let port = demo.wait_for_port();
    let mut status = String::new();
    for _ in 0..200 {
        status = wait_for_http(port, "/api/stream-status/");
        if status.contains("\"connected\":true") && status.contains("\"stale\":false") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    demo.kill();
    let banner = demo.output();
    assert!(banner.contains("SIMULATION"), "{banner}");
    assert!(
        banner.contains(&format!("curl http://127.0.0.1:{port}/")),
        "the banner names the port it listens on: {banner}"
    );
    assert!(status.contains("\"connected\":true"), "{status}");
}

#[test]
fn a_fresh_serve_creates_its_database_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let obs = ClosedPort::new();
    let mut hub = HubProcess::spawn(
        obs_hub()
            .env_remove("OBS_HUB_DATABASE")
            .current_dir(dir.path())
            .arg("serve")
            .env("OBS_HUB_BIND", "127.0.0.1:0")
            .env("OBS_WEBSOCKET_PORT", obs.port.to_string()),
    );
    let status = wait_for_http(hub.wait_for_port(), "/api/obs-manager/status/");
    hub.kill();
    assert!(
        status.contains(r#""persistence":{"state":"ok""#),
        "{status}"
    );
    assert!(dir.path().join("obs-hub.db").exists());
}

#[test]
fn migrate_creates_the_database_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("history.db");
    let (code, text) = run(obs_hub().arg("migrate").env("OBS_HUB_DATABASE", &database));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("applied"), "{text}");
    assert!(database.exists());
    let (code, text) = run(obs_hub().args(["migrate", "--database"]).arg(&database));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("up to date"), "{text}");
}

#[test]
fn a_database_that_cannot_be_opened_stops_start_up_with_one_line() {
    let (code, text) = run(obs_hub()
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("OBS_HUB_DATABASE", "/nonexistent/dir/hub.db")
        .env("OBS_WEBSOCKET_PASSWORD", "sup3r-secret"));
    assert_eq!(code, 1, "{text}");
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("obs-hub:")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains("/nonexistent/dir/hub.db"), "{text}");
    assert!(!text.contains("sup3r-secret"));
    assert!(!text.contains("panicked"), "{text}");
}

/// A database whose WAL shared-memory file the hub cannot write: one line naming that file, the
/// start-up exit code, no crash. A directory in its place reproduces it for any user; where
/// `chattr` works (root on ext4 and the like), so does the zero-length immutable file.
#[test]
fn an_unwritable_shared_memory_file_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("hub.db");
    let (code, text) = run(obs_hub().args(["migrate", "--database"]).arg(&database));
    assert_eq!(code, 0, "{text}");
    let shm = dir.path().join("hub.db-shm");
    let _ = std::fs::remove_file(&shm);
    let start = || {
        run(obs_hub()
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("OBS_HUB_DATABASE", &database))
    };
    let check = |(code, text): (i32, String), case: &str| {
        assert_eq!(code, 1, "{case}: {text}");
        let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("obs-hub:")).collect();
        assert_eq!(errors.len(), 1, "{case}: {text}");
        assert!(
            errors[0].contains(&format!("{} cannot be written", shm.display())),
            "{case}: {text}"
        );
    };

    std::fs::create_dir(&shm).expect("a directory in its place");
    check(start(), "a directory");
    std::fs::remove_dir(&shm).expect("removed");

    std::fs::File::create(&shm).expect("an empty file");
    let immutable = Command::new("chattr")
        .arg("+i")
        .arg(&shm)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if immutable {
        let outcome = start();
        let _ = Command::new("chattr").arg("-i").arg(&shm).status();
        check(outcome, "a zero-length immutable file");
    } else {
        eprintln!("chattr +i is not available here: the immutable case is not run");
    }
}

/// Minimal HTTP/1.0 GET, retried until the server answers.
fn wait_for_http(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    for _ in 0..200 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut response = String::new();
            if stream.read_to_string(&mut response).is_ok() && response.contains("\r\n\r\n") {
                return response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no HTTP answer on port {port}");
}
