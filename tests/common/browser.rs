//! A headless Chromium for tests, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`).

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{json, Value};

pub fn find_program(variable: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(variable) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts/ can be created");
    dir
}

/// chromedriver and chromium. The browser tests are `#[ignore]`d and run only when asked
/// (`-- --ignored`, as `.ci/run` does): asked, a missing browser fails them, never skips them.
pub fn find_browser() -> (PathBuf, PathBuf) {
    let chromium = find_program("OBS_HUB_CHROMIUM", &["chromium", "chromium-browser"]);
    let driver = find_program("OBS_HUB_CHROMEDRIVER", &["chromedriver"]);
    match (driver, chromium) {
        (Some(driver), Some(chromium)) => (driver, chromium),
        _ => panic!(
            "chromium or chromedriver not found (apt-get install chromium chromium-driver, or \
             OBS_HUB_CHROMIUM and OBS_HUB_CHROMEDRIVER)"
        ),
    }
}

/// The port from chromedriver's "ChromeDriver was started successfully on port N." line; the
/// rest of its output is drained on a thread of its own, so that it never blocks on a full pipe.
fn driver_port(stdout: ChildStdout) -> u16 {
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let read = lines
            .read_line(&mut line)
            .expect("reads chromedriver's output");
        assert!(read > 0, "chromedriver ended without saying its port");
        if let Some((_, port)) = line.split_once("started successfully on port ") {
            let port = port
                .trim()
                .trim_end_matches('.')
                .parse()
                .expect("a port number");
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return port;
        }
    }
}

/// W3C's key for an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The few W3C WebDriver commands the tests need, over awc: a dependency-free client is shorter
/// than the glue a full client crate (and its TLS stack) would need here.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:{port}`, then `.../session/{id}` once the session exists.
    base: String,
    client: awc::Client,
    profile: tempfile::TempDir,
    session_open: bool,
}

impl Browser {
    /// Starts chromedriver on a free port and a fresh headless Chromium session.
    pub async fn launch(driver: &Path, chromium: &Path) -> Self {
        Self::launch_with(driver, chromium, &[]).await
    }

    /// [`launch`](Self::launch) with extra Chromium flags (e.g. `--host-resolver-rules`).
    pub async fn launch_with(driver: &Path, chromium: &Path, extra_args: &[String]) -> Self {
        // Port 0: chromedriver binds a free port itself and says which.
        let mut child = Command::new(driver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let stdout = child.stdout.take().expect("piped");
        let port = actix_web::rt::task::spawn_blocking(move || driver_port(stdout))
            .await
            .expect("reads chromedriver's port");
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut browser = Self {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish(),
            profile,
            session_open: false,
        };
        let started = Instant::now();
        while browser.call("GET", "/status", None).await.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer"
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1100",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .chain(extra_args.iter().cloned())
        .chain([format!(
            "--user-data-dir={}",
            browser.profile.path().display()
        )])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            // Keeps the page's console, for `severe_logs`.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let session = browser
            .call("POST", "/session", Some(capabilities))
            .await
            .expect("a Chromium session");
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {session}"))
            .to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser.session_open = true;
        browser
    }

    /// One WebDriver command; its `value`, or `None` if it failed (logged for the reader).
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Option<Value> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url),
        };
        let mut response = match body {
            Some(body) => request.send_json(&body).await,
            None if method == "POST" => request.send_json(&json!({})).await,
            None => request.send().await,
        }
        .ok()?;
        let answer: Value = response.json().limit(64 << 20).await.ok()?;
        if !response.status().is_success() {
            // "No such element" is what polling for an element expects to hear.
            if answer["value"]["error"] != "no such element" {
                eprintln!("webdriver {method} {path}: {}", answer["value"]["message"]);
            }
            return None;
        }
        Some(answer["value"].clone())
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })))
            .await
            .expect("the page opens");
    }

    async fn find(&self, css: &str) -> Option<String> {
        let found = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        found[ELEMENT].as_str().map(str::to_string)
    }

    /// Runs `script` in every page opened from now on, before the page's own scripts (DevTools'
    /// `Page.addScriptToEvaluateOnNewDocument`, which chromedriver passes on).
    pub async fn on_new_document(&self, script: &str) {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": {"source": script},
            })),
        )
        .await
        .expect("chromedriver runs the DevTools command");
    }

    /// Runs `script` in the current page as an async WebDriver script: it gets `args`, then the
    /// callback to call with its result, which is returned.
    pub async fn run_async(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
        .expect("the script runs and calls back")
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.find(css).await.is_some()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .and_then(|found| found.as_array().map(Vec::len))
        .unwrap_or(0)
    }

    /// The element's rendered text (as a person sees it: CSS `text-transform` applies).
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.find(css).await?;
        let text = self
            .call("GET", &format!("/element/{element}/text"), None)
            .await?;
        text.as_str().map(str::to_string)
    }

    pub async fn click(&self, css: &str) {
        let element = self
            .find(css)
            .await
            .unwrap_or_else(|| panic!("no element {css} to click"));
        self.call("POST", &format!("/element/{element}/click"), None)
            .await
            .unwrap_or_else(|| panic!("{css} could not be clicked"));
    }

    /// Types `keys` into the element (WebDriver's key codes, e.g. `\u{E012}` for the left arrow).
    pub async fn send_keys(&self, css: &str, keys: &str) {
        let element = self
            .find(css)
            .await
            .unwrap_or_else(|| panic!("no element {css} to type into"));
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": keys })),
        )
        .await
        .unwrap_or_else(|| panic!("{css} did not take the keys"));
    }

    /// The console's errors (failed loads, uncaught exceptions) since the last call: chromedriver's
    /// log endpoint, which hands each entry out once.
    pub async fn severe_logs(&self) -> Vec<String> {
        let entries = self
            .call("POST", "/se/log", Some(json!({"type": "browser"})))
            .await
            .expect("chromedriver hands out the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await
        .expect("the window resizes");
    }

    pub async fn screenshot(&self, path: &Path) {
        let encoded = self
            .call("GET", "/screenshot", None)
            .await
            .expect("a screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("base64 PNG");
        std::fs::write(path, png).expect("screenshot written");
    }

    pub async fn quit(mut self) {
        if self.call("DELETE", "", None).await.is_some() {
            self.session_open = false;
        }
    }

    /// Ends the session from a plain blocking socket: `Drop` cannot await, and killing
    /// chromedriver alone would leave its Chromium running.
    fn end_session_blocking(&self) {
        use std::io::{Read, Write};
        let Some((host, path)) = self
            .base
            .strip_prefix("http://")
            .and_then(|rest| rest.split_once('/'))
        else {
            return;
        };
        let Ok(mut stream) = std::net::TcpStream::connect(host) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for Browser {
    /// Also on a failing test: no chromedriver or Chromium is left running.
    fn drop(&mut self) {
        if self.session_open {
            self.end_session_blocking();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
