//! The dashboard in a real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), against the simulated OBS: the page shows the current scene, follows a
//! switch made in OBS, switches OBS when a scene is clicked, starts a stream and asks before
//! stopping it. Screenshots are kept in `artifacts/` for people to look at. It also plays the
//! attacker: a page of another site, and a domain rebound to 127.0.0.1, try to drive the hub
//! (issue 10), and OBS and the hub must be unchanged.
//!
//! Every test is `#[ignore]`d, so a plain `cargo test` lists them as ignored (never as passed)
//! and needs no browser; `.ci/run` installs Chromium and runs them with
//! `cargo test --test dashboard_browser -- --ignored`, where a missing browser fails them. A crate
//! of its own for that reason: the one test binary that needs Chromium.

mod common;

use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use common::{
    browser::{artifacts_dir, find_browser, Browser},
    hub_with_fake,
};
use serde_json::{json, Value};

/// Generous: a cold Chromium on a loaded two-core CI machine. Never a measure of speed.
const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `check` until it gives `Some`, or fails naming `what`.
async fn until<T, F, Fut>(what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "gave up waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_dashboard_follows_and_controls_obs() {
    let (driver, chromium) = find_browser();

    let (hub, fake) = hub_with_fake().await;
    let browser = Browser::launch(&driver, &chromium).await;
    browser.goto(&format!("{}/", hub.base)).await;

    // The page loads and shows the current scene, highlighted in the grid.
    let current = fake.current_scene();
    until("the current scene on the page", || async {
        (browser.text("#current-scene").await.as_deref() == Some(current.as_str())).then_some(())
    })
    .await;
    let pressed = format!("#scene-grid button[aria-pressed=\"true\"][data-scene=\"{current}\"]");
    assert!(browser.exists(&pressed).await, "{current} highlighted");
    assert_eq!(browser.count("#scene-grid button.scene").await, 5);

    // A switch made in OBS appears on the page.
    assert!(fake.switch_scene_from_obs("BRB").await);
    until("the switch made in OBS on the page", || async {
        (browser.text("#current-scene").await.as_deref() == Some("BRB")).then_some(())
    })
    .await;

    // A click on a scene switches OBS.
    browser
        .click("#scene-grid button[data-scene=\"Live\"]")
        .await;
    until("OBS switched by the click", || async {
        (fake.current_scene() == "Live").then_some(())
    })
    .await;
    until("the page showing the clicked scene", || async {
        (browser.text("#current-scene").await.as_deref() == Some("Live")).then_some(())
    })
    .await;

    // Start a stream from the page; stopping it asks first, and "keep streaming" keeps it.
    browser.click("#stream-button").await;
    until("OBS streaming", || async {
        fake.is_streaming().then_some(())
    })
    .await;
    until("the stream shown live", || async {
        (browser.text("#stream-badge").await.as_deref() == Some("LIVE")).then_some(())
    })
    .await;
    until("the stop button", || async {
        let text = browser.text("#stream-button").await?;
        text.contains("Stop").then_some(())
    })
    .await;
    browser.click("#stream-button").await;
    until("the confirmation", || async {
        browser.exists("#confirm-stop[open]").await.then_some(())
    })
    .await;
    browser
        .click("#confirm-stop button[value=\"cancel\"]")
        .await;
    until("the confirmation closed", || async {
        (!browser.exists("#confirm-stop[open]").await).then_some(())
    })
    .await;
    assert!(
        fake.is_streaming(),
        "cancelling the confirmation keeps the stream"
    );

    // A few polls of stats, so the charts have something to draw, then the pictures.
    until("chart samples", || async {
        let hint = browser.text("#charts-hint").await?;
        let samples: u32 = hint.split(' ').next()?.parse().ok()?;
        (samples >= 10).then_some(())
    })
    .await;
    let desktop = artifacts_dir().join("dashboard.png");
    browser.screenshot(&desktop).await;
    println!("screenshot: {}", desktop.display());
    browser.resize(390, 844).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let phone = artifacts_dir().join("dashboard-phone.png");
    browser.screenshot(&phone).await;
    println!("screenshot: {}", phone.display());
    browser.quit().await;
}

/// Serves an empty page on a port of its own: a site other than the hub's, for the browser
/// to run an attacker's script in. Answers every path (the attacker's "own server").
fn start_other_site() -> u16 {
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body("<!doctype html><title>another site</title><p>nothing to see")
        }))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .expect("the other site listens");
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    port
}

/// What `fetch()` from another site can do without a preflight: POST `text/plain`. With
/// `no-cors` the answer is opaque to the page, but the request is sent and carried out: the
/// promises resolve once the hub has answered, so the checks after them see any effect.
const CROSS_SITE_ATTACKS: &str = r#"
const [hub, scene, done] = arguments;
const post = (path, body) => fetch(hub + path, {
    method: "POST", mode: "no-cors", body, headers: {"content-type": "text/plain"},
}).then(() => "answered", (error) => "failed: " + error);
Promise.all([
    post("/api/switch-scene/", JSON.stringify({scene_name: scene})),
    post("/api/stop-stream/"),
    post("/api/webhooks/", JSON.stringify({url: location.origin + "/stolen"})),
]).then(done);
"#;

/// A page of `http://attacker.test:PORT/` after attacker.test was re-pointed at 127.0.0.1: to
/// the browser the hub is now the page's own origin, so it may read answers and open /ws.
const REBOUND_ATTACKS: &str = r#"
const [scene, done] = arguments;
(async () => {
    const answer = async (response) => ({status: response.status, body: await response.text()});
    const read = await fetch("/api/stream-status/").then(answer, (e) => ({failed: String(e)}));
    const switched = await fetch("/api/switch-scene/", {
        method: "POST", headers: {"content-type": "application/json"},
        body: JSON.stringify({scene_name: scene}),
    }).then(answer, (e) => ({failed: String(e)}));
    const socket = await new Promise((resolve) => {
        const ws = new WebSocket("ws://" + location.host + "/ws");
        ws.onmessage = (message) => { resolve("snapshot: " + message.data.slice(0, 40)); ws.close(); };
        ws.onclose = () => resolve("closed without a message");
    });
    return {page: document.body.innerText, read, switched, socket};
})().then(done);
"#;

#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn pages_of_other_sites_and_rebound_domains_change_nothing() {
    let (driver, chromium) = find_browser();
    let (hub, fake) = hub_with_fake().await;
    assert!(fake.start_stream_from_obs().await);
    hub.wait_for("streaming", |s| s["is_streaming"] == true)
        .await;
    let scene = fake.current_scene();
    let target = if scene == "Live" { "BRB" } else { "Live" };
    let hub_port = hub.base.rsplit(':').next().unwrap().to_string();
    let other_port = start_other_site();
    let browser = Browser::launch_with(
        &driver,
        &chromium,
        &["--host-resolver-rules=MAP attacker.test 127.0.0.1".to_string()],
    )
    .await;

    // A page on http://localhost:PORT2, another origin than the hub's 127.0.0.1:PORT.
    browser
        .goto(&format!("http://localhost:{other_port}/"))
        .await;
    let sent = browser
        .run_async(CROSS_SITE_ATTACKS, json!([hub.base, target]))
        .await;
    assert_eq!(sent, json!(["answered", "answered", "answered"]), "{sent}");
    assert_eq!(fake.current_scene(), scene, "OBS kept its scene");
    assert!(fake.is_streaming(), "OBS kept streaming");
    let status = hub.get("/api/stream-status/").await.body;
    assert_eq!(status["current_scene"], scene.as_str());
    assert_eq!(status["is_streaming"], true);
    let webhooks = hub.get("/api/webhooks/").await.body;
    assert!(!webhooks.to_string().contains("stolen"), "{webhooks}");

    // The rebound domain: its page is the hub's refusal, and so is every answer it asks for.
    browser
        .goto(&format!("http://attacker.test:{hub_port}/"))
        .await;
    let seen = browser.run_async(REBOUND_ATTACKS, json!([target])).await;
    let field = |value: &Value, key: &str| value[key].as_str().unwrap_or_default().to_string();
    assert!(field(&seen, "page").contains("host_not_allowed"), "{seen}");
    assert_eq!(seen["read"]["status"], 421, "{seen}");
    assert!(
        field(&seen["read"], "body").contains("host_not_allowed"),
        "{seen}"
    );
    assert!(!field(&seen["read"], "body").contains(&scene), "{seen}");
    assert_eq!(seen["switched"]["status"], 421, "{seen}");
    assert_eq!(seen["socket"], "closed without a message", "{seen}");
    assert_eq!(fake.current_scene(), scene, "OBS kept its scene");
    assert!(fake.is_streaming(), "OBS kept streaming");
    browser.quit().await;
}

/// A loopback relay between the browser and the hub, which the test can cut: the page then
/// loses the hub as it would on a dropped Wi-Fi (the open WebSocket closes, reconnections are
/// refused).
struct Relay {
    port: u16,
    accepting: actix_web::rt::task::JoinHandle<()>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<actix_web::rt::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn to(target_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let list = connections.clone();
        let accepting = actix_web::rt::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let piping = actix_web::rt::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().unwrap().push(piping);
            }
        });
        Self {
            port,
            accepting,
            connections,
        }
    }

    fn cut(&self) {
        self.accepting.abort();
        for piping in self.connections.lock().unwrap().drain(..) {
            piping.abort();
        }
    }
}

/// Issue 18: the dashboard over HTTPS (the hub's self-signed certificate, trusted by its key for
/// this run only), with its favicon and no console error; when the hub is lost, every badge turns
/// a grey "unknown" instead of keeping a green "connected".
#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_dashboard_over_https_greys_out_a_lost_hub() {
    use base64::Engine;
    use obs_hub::tls::{self_signed_names, TlsSettings, SELF_SIGNED_KEY};
    use sha2::{Digest, Sha256};

    let (driver, chromium) = find_browser();
    let fake = common::start_fake().await;
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_path_buf();
    let hub = common::spawn_hub_configured(
        vec![common::instance("default", &fake, common::PASSWORD)],
        |settings| {
            settings.tls = TlsSettings::SelfSigned {
                dir: state_dir,
                names: self_signed_names(settings.bind, &[]),
            };
        },
    );
    let hub_port: u16 = hub.base.rsplit(':').next().unwrap().parse().unwrap();
    // Chromium trusts a certificate by the SHA-256 of its public key (SPKI) for this run.
    let key_pem = std::fs::read_to_string(state.path().join(SELF_SIGNED_KEY)).unwrap();
    let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    let spki =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(key.public_key_der()));
    let relay = Relay::to(hub_port).await;
    let browser = Browser::launch_with(
        &driver,
        &chromium,
        &[format!("--ignore-certificate-errors-spki-list={spki}")],
    )
    .await;
    browser
        .goto(&format!("https://127.0.0.1:{}/", relay.port))
        .await;

    until("the page connected over HTTPS", || async {
        let badge = browser.text("#conn-badge").await?;
        badge.eq_ignore_ascii_case("connected").then_some(())
    })
    .await;
    let page = browser
        .run_async(
            "const done = arguments[arguments.length - 1];
             const icon = document.querySelector('link[rel=\"icon\"]');
             if (!icon) return done({error: 'the page names no icon'});
             fetch(icon.href).then((r) => done({protocol: location.protocol, status: r.status,
                 type: r.headers.get('content-type')}), (e) => done({error: String(e)}));",
            json!([]),
        )
        .await;
    assert_eq!(page["protocol"], "https:", "{page}");
    assert_eq!(page["status"], 200, "the favicon loads: {page}");
    assert_eq!(page["type"], "image/svg+xml", "{page}");
    let errors = browser.severe_logs().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    relay.cut();
    let badges = "const done = arguments[arguments.length - 1];
        done(['conn-badge', 'stream-badge', 'record-badge'].map((id) => {
            const badge = document.getElementById(id);
            return badge.className + ' ' + badge.textContent;
        }));";
    until("every badge grey and unknown", || async {
        let shown = browser.run_async(badges, json!([])).await;
        let all_unknown = shown
            .as_array()?
            .iter()
            .all(|badge| badge == "badge unknown unknown");
        all_unknown.then_some(())
    })
    .await;
    let reason = browser.text("#conn-reason").await.unwrap_or_default();
    assert!(
        reason.starts_with("Unknown while the hub is lost"),
        "{reason}"
    );
    let lost = artifacts_dir().join("dashboard-hub-lost.png");
    browser.screenshot(&lost).await;
    println!("screenshot: {}", lost.display());
    browser.quit().await;
}
