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
    hub_with_fake, instance, spawn_hub, PASSWORD,
};
use obs_hub::{
    config::InstanceGroupConfig,
    fake_obs::{FakeObs, FakeObsConfig},
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
    // Two animation frames: the page has been laid out and painted at the new size.
    browser
        .run_async(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));",
            json!([]),
        )
        .await;
    let phone = artifacts_dir().join("dashboard-phone.png");
    browser.screenshot(&phone).await;
    println!("screenshot: {}", phone.display());
    browser.quit().await;
}

/// Run in the page before its own scripts: keeps every uPlot chart the dashboard makes in
/// `window.plots`, so the test can read the points a chart draws. uPlot's script declares a
/// global `var uPlot`, whose assignment goes through this setter.
const KEEP_PLOTS: &str = r#"
window.plots = [];
let realUPlot;
Object.defineProperty(window, "uPlot", {
    configurable: true,
    get: () => realUPlot,
    set: (uPlot) => {
        realUPlot = new Proxy(uPlot, {
            construct(target, args) {
                const plot = Reflect.construct(target, args);
                window.plots.push(plot);
                return plot;
            },
        });
    },
});
"#;

/// The points of the dropped-frames chart now on the page: `[times, network, rendering]`.
const DROPPED_POINTS: &str = r#"
const done = arguments[0];
const chart = document.getElementById("chart-dropped");
const plot = window.plots.filter((plot) => chart.contains(plot.root)).pop();
done(plot ? plot.data : null);
"#;

/// Issue 18: OBS's dropped-frame figures are lifetime counters, and the chart shows frames dropped
/// since the previous point. The first point has no previous one: it is 0, not the counter,
/// whether it comes from the hub's stats history (loaded as the page opens) or from the first
/// live update. The simulated OBS has been running for an hour, so its counter of skipped render
/// frames is 4 from the start and stays so for the test: every point is 0.
#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_dropped_frames_chart_starts_at_zero_not_at_obs_lifetime_counters() {
    let (driver, chromium) = find_browser();
    let fake = FakeObs::start(FakeObsConfig {
        password: Some(PASSWORD.to_string()),
        // Past 4 x 15 minutes (a render frame skipped each), well before the fifth.
        uptime: Duration::from_secs(3_660),
        ..FakeObsConfig::default()
    })
    .await
    .expect("fake OBS starts");
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    // Polled before the page opens: the page gets these from the stats history.
    hub.wait_for_path(
        "/api/stats/history",
        "two samples with OBS's skipped render frames",
        |history| {
            let samples = history["samples"].as_array().cloned().unwrap_or_default();
            samples.len() >= 2 && samples[0]["render_skipped_frames"] == 4
        },
    )
    .await;

    let browser = Browser::launch(&driver, &chromium).await;
    browser.on_new_document(KEEP_PLOTS).await;
    browser.goto(&format!("{}/", hub.base)).await;
    // Past the history and two live updates of its own.
    let history = hub.get("/api/stats/history").await.body["samples"]
        .as_array()
        .map_or(0, Vec::len);
    let points = until("the page's own points after the history", || async {
        let points = browser.run_async(DROPPED_POINTS, json!([])).await;
        let times = points[0].as_array().map_or(0, Vec::len);
        (times >= history + 2).then_some(points)
    })
    .await;
    let rendering: Vec<&Value> = points[2].as_array().unwrap().iter().collect();
    assert_eq!(
        rendering[0], 0,
        "the first point is 0, not OBS's counter: {points}"
    );
    assert!(
        rendering.iter().all(|point| *point == 0),
        "no frame was skipped while the page watched, so every point is 0: {points}"
    );
    let status = hub.get("/api/stream-status/").await.body;
    assert_eq!(status["stats"]["render_skipped_frames"], 4, "{status}");
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

/// Issues 19 and 17: the dashboard asks what its token may do. With a scenes-only token the scene
/// buttons work, and the output controls are hidden, the panel saying why (the capability);
/// OBS does not start streaming.
#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_dashboard_hides_what_its_token_may_not_do() {
    const ADMIN: &str = "browser-admin-token-0123456789";
    let (driver, chromium) = find_browser();
    let fake = common::start_fake().await;
    let hub = common::spawn_hub_configured(
        vec![common::instance("default", &fake, common::PASSWORD)],
        |settings| settings.api_tokens = vec![obs_hub::config::Secret::new(ADMIN)],
    );
    let mut made = hub
        .client
        .post(format!("{}/api/tokens/", hub.base))
        .insert_header(("authorization", format!("Bearer {ADMIN}")))
        .send_json(&json!({"name": "deck", "scopes": ["control"], "capabilities": ["scenes"]}))
        .await
        .expect("the hub answers");
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.expect("the new token");
    let token = made["token"].as_str().expect("its secret").to_string();

    let browser = Browser::launch(&driver, &chromium).await;
    browser.goto(&format!("{}/", hub.base)).await;
    browser
        .run_async(
            "localStorage.setItem('obs-hub-token', arguments[0]); arguments[1](true);",
            json!([token]),
        )
        .await;
    browser.goto(&format!("{}/", hub.base)).await;
    browser.severe_logs().await; // the 401s of the first visit, without a token
    until("the stream button hidden", || async {
        browser.exists("#stream-button.refused").await.then_some(())
    })
    .await;
    assert!(
        !browser.exists("#scene-grid button.refused").await,
        "scene buttons are the token's to use"
    );
    let why = browser.text("#outputs-refusal").await.unwrap_or_default();
    assert!(why.contains("outputs") && why.contains("deck"), "{why}");
    let shown = browser
        .run_async(
            "arguments[0](document.getElementById('stream-button').offsetParent !== null);",
            json!([]),
        )
        .await;
    assert_eq!(shown, false, "the stream button is not on the page");
    assert!(!fake.is_streaming());
    let errors = browser.severe_logs().await;
    assert!(
        errors.is_empty(),
        "the page asks only for what the token may do: {errors:?}"
    );
    browser
        .click("#scene-grid button[data-scene=\"BRB\"]")
        .await;
    until("OBS switched by the scenes-only token", || async {
        (fake.current_scene() == "BRB").then_some(())
    })
    .await;
    browser.quit().await;
}

/// Run in the page before its own scripts: keeps the browser's API token for the hub's origin
/// (the page then never meets a 401, which the console would log), and counts what the page
/// receives on its WebSocket (bytes) and the animation frames it draws, for the measurements.
fn page_probe(token: &str) -> String {
    format!(
        r#"
try {{ if (location.protocol.startsWith("http")) localStorage.setItem("obs-hub-token", {token:?}); }} catch (_) {{}}
window.probe = {{ socketBytes: 0, frames: 0 }};
const RealSocket = window.WebSocket;
window.WebSocket = class extends RealSocket {{
    constructor(...args) {{
        super(...args);
        this.addEventListener("message", (event) => {{
            window.probe.socketBytes += typeof event.data === "string" ? new Blob([event.data]).size : 0;
        }});
    }}
}};
const count = () => {{ window.probe.frames += 1; requestAnimationFrame(count); }};
requestAnimationFrame(count);
"#
    )
}

/// Bytes the page has loaded (the page, its modules, styles, pictures), as the browser counts
/// them: `[transferred, decoded]`.
const PAGE_BYTES: &str = r#"
const done = arguments[0];
const entries = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"));
const pictures = entries.filter((e) => e.name.includes("/screenshot/"));
done([entries.reduce((sum, e) => sum + (e.transferSize || 0), 0),
      entries.reduce((sum, e) => sum + (e.decodedBodySize || 0), 0),
      pictures.length,
      pictures.reduce((sum, e) => sum + (e.transferSize || 0), 0)]);
"#;

/// Frames drawn and WebSocket and picture bytes received over `arguments[0]` ms of the page's
/// own life (a measurement; nothing is asserted about it).
const MEASURE: &str = r#"
const [ms, done] = arguments;
const pictures = () => performance.getEntriesByType("resource")
    .filter((e) => e.name.includes("/screenshot/"))
    .reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0);
const start = { frames: window.probe.frames, socket: window.probe.socketBytes, pictures: pictures(), at: performance.now() };
setTimeout(() => {
    const seconds = (performance.now() - start.at) / 1000;
    done({ seconds,
           fps: (window.probe.frames - start.frames) / seconds,
           socket_bytes_per_s: (window.probe.socketBytes - start.socket) / seconds,
           picture_bytes_per_s: (pictures() - start.pictures) / seconds });
}, ms);
"#;

/// Makes the page believe it was hidden or shown again (a tab switched away and back), as the
/// browser says it with `visibilitychange`.
const VISIBILITY: &str = r#"
const [state, done] = arguments;
Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
document.dispatchEvent(new Event("visibilitychange"));
done(true);
"#;

/// Scrolls to the top of the page and waits for it to be painted there (before screenshots).
const TO_TOP: &str = r#"
const done = arguments[0];
window.scrollTo(0, 0);
requestAnimationFrame(() => requestAnimationFrame(done));
"#;

/// The attribute `name` of the first element matching `css`.
const ATTRIBUTE: &str = r#"
const [css, name, done] = arguments;
const element = document.querySelector(css);
done(element ? element.getAttribute(name) : null);
"#;

async fn attribute(browser: &Browser, css: &str, name: &str) -> Option<String> {
    browser
        .run_async(ATTRIBUTE, json!([css, name]))
        .await
        .as_str()
        .map(str::to_string)
}

/// Issue 17: the operator console runs a show against the simulated OBS, with an API token (so
/// pictures must come through signed URLs): the program picture changes after a scene switch, a
/// source toggle hides the item in OBS, mute from the page mutes OBS and a mute in OBS shows on
/// the page, the meter moves while the input plays (levels asked for only while the page is
/// visible), the fader moves from the keyboard, studio mode's preview then Transition puts the
/// scene on program, and the replay buffer's Save shows the saved file. No console error, and
/// the page stays under 2 MB. Screenshots at desktop and phone size in artifacts/.
#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_console_runs_a_show() {
    const TOKEN: &str = "console-admin-token-0123456789";
    let (driver, chromium) = find_browser();
    let fake = common::start_fake_with(obs_hub::fake_obs::OutputOptions {
        replay_buffer: true,
        ..Default::default()
    })
    .await;
    let hub = common::spawn_hub_configured(
        vec![common::instance("default", &fake, common::PASSWORD)],
        |settings| settings.api_tokens = vec![obs_hub::config::Secret::new(TOKEN)],
    );
    let browser = Browser::launch(&driver, &chromium).await;
    browser.on_new_document(&page_probe(TOKEN)).await;
    browser.goto(&format!("{}/", hub.base)).await;
    until("the page connected", || async {
        let badge = browser.text("#conn-badge").await?;
        badge.eq_ignore_ascii_case("connected").then_some(())
    })
    .await;

    // The program picture, through a signed URL that does not carry the token.
    let first_picture = until("the program picture", || async {
        let src = attribute(&browser, "#program-picture", "src").await?;
        let etag = attribute(&browser, "#program-picture", "data-etag").await?;
        src.contains("sig=").then_some((src, etag))
    })
    .await;
    assert!(!first_picture.0.contains(TOKEN), "{first_picture:?}");
    assert_eq!(fake.current_scene(), "Scene");

    // A scene switch from the page changes OBS's program, and the picture follows.
    browser
        .click("#scene-grid button[data-scene=\"Live\"]")
        .await;
    until("OBS on Live", || async {
        (fake.current_scene() == "Live").then_some(())
    })
    .await;
    until("the program picture of Live", || async {
        let etag = attribute(&browser, "#program-picture", "data-etag").await?;
        (etag != first_picture.1).then_some(())
    })
    .await;
    let marker = browser
        .text("#scene-grid button[data-scene=\"Live\"] .marker")
        .await;
    assert_eq!(marker.as_deref(), Some("PGM"));

    // Live's sources: hiding the title from the page hides it in OBS.
    let title = "#sources li[data-source=\"Title\"] .visibility";
    until("the sources of Live", || async {
        browser.exists(title).await.then_some(())
    })
    .await;
    assert_eq!(fake.scene_item_enabled("Live", 2), Some(true));
    browser.click(title).await;
    until("the title hidden in OBS", || async {
        (fake.scene_item_enabled("Live", 2) == Some(false)).then_some(())
    })
    .await;
    until("the title shown hidden", || async {
        let pressed = attribute(&browser, title, "aria-pressed").await?;
        (pressed == "false").then_some(())
    })
    .await;
    assert!(
        browser
            .exists("#sources li[data-source=\"Lower third\"] details")
            .await,
        "the group can be expanded"
    );

    // The mixer: "Intro clip" plays in Live, so its strip is on air; mute both ways.
    let strip = ".strip[data-input=\"Intro clip\"]";
    until("the on-air strip", || async {
        let class = attribute(&browser, strip, "class").await?;
        class.contains("on-air").then_some(())
    })
    .await;
    browser.click(&format!("{strip} .mute")).await;
    until("the input muted in OBS", || async {
        fake.input_audio("Intro clip")?.0.then_some(())
    })
    .await;
    until("the strip shown muted", || async {
        let text = browser.text(&format!("{strip} .mute")).await?;
        (text == "MUTED").then_some(())
    })
    .await;
    assert!(fake.set_input_muted_from_obs("Intro clip", false).await);
    until("OBS's unmute on the page", || async {
        let pressed = attribute(&browser, &format!("{strip} .mute"), "aria-pressed").await?;
        (pressed == "false").then_some(())
    })
    .await;
    // The meter moves while the input plays (the simulated levels follow a wave), and the page
    // asks for levels only while it is visible: hidden, OBS stops sending them to the hub.
    let first_level = until("a level on the meter", || async {
        attribute(&browser, strip, "data-level")
            .await
            .filter(|level| level.parse::<f64>().is_ok_and(|db| db > -60.0))
    })
    .await;
    until("the meter moving", || async {
        let level = attribute(&browser, strip, "data-level").await?;
        (level != first_level).then_some(())
    })
    .await;
    assert!(fake.meter_subscribers() > 0, "the hub asked OBS for levels");
    browser.run_async(VISIBILITY, json!(["hidden"])).await;
    until("no levels asked for while hidden", || async {
        (fake.meter_subscribers() == 0).then_some(())
    })
    .await;
    browser.run_async(VISIBILITY, json!(["visible"])).await;
    until("levels asked for again once visible", || async {
        (fake.meter_subscribers() > 0).then_some(())
    })
    .await;

    // The fader from the keyboard: two steps down from 0 dB.
    browser
        .send_keys(&format!("{strip} .fader"), "\u{E012}\u{E012}")
        .await;
    until("the volume lowered in OBS", || async {
        let (_, mul, _) = fake.input_audio("Intro clip")?;
        (mul < 0.99).then_some(())
    })
    .await;

    // Studio mode: a click puts a scene on preview, Transition takes it to program.
    browser.click("#studio-toggle").await;
    until("OBS in studio mode", || async {
        fake.is_studio_mode().then_some(())
    })
    .await;
    until("the scene grid in studio mode", || async {
        let hint = browser.text("#scenes-hint").await?;
        hint.contains("preview").then_some(())
    })
    .await;
    browser
        .click("#scene-grid button[data-scene=\"BRB\"]")
        .await;
    until("BRB on preview in OBS", || async {
        (fake.preview_scene().as_deref() == Some("BRB")).then_some(())
    })
    .await;
    until("BRB marked as preview", || async {
        let marker = browser
            .text("#scene-grid button[data-scene=\"BRB\"] .marker")
            .await?;
        (marker == "PVW").then_some(())
    })
    .await;
    until("the preview picture", || async {
        let src = attribute(&browser, "#preview-picture", "src").await?;
        src.contains("sig=").then_some(())
    })
    .await;
    assert_eq!(fake.current_scene(), "Live", "a preview is not a take");
    until("the Transition button ready", || async {
        let disabled = attribute(&browser, "#transition-button", "disabled").await;
        disabled.is_none().then_some(())
    })
    .await;
    browser.click("#transition-button").await;
    until("BRB taken to program", || async {
        (fake.current_scene() == "BRB").then_some(())
    })
    .await;
    until("BRB on air on the page", || async {
        (browser.text("#current-scene").await.as_deref() == Some("BRB")).then_some(())
    })
    .await;

    // The replay buffer: start it, save, and the saved file shows.
    browser.click("#replay-button").await;
    until("the replay buffer running in OBS", || async {
        fake.is_replay_buffer_active().then_some(())
    })
    .await;
    until("Save enabled", || async {
        let disabled = attribute(&browser, "#replay-save", "disabled").await;
        disabled.is_none().then_some(())
    })
    .await;
    browser.click("#replay-save").await;
    let saved = until("the replay saved in OBS", || async { fake.last_replay() }).await;
    until("the saved path on the page", || async {
        let text = browser.text("#replay-saved").await?;
        text.contains(&saved).then_some(())
    })
    .await;

    let errors = browser.severe_logs().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let bytes = browser.run_async(PAGE_BYTES, json!([])).await;
    println!("page bytes [transferred, decoded, pictures loaded, their bytes]: {bytes}");
    let decoded = bytes[1].as_f64().unwrap_or(f64::MAX);
    assert!(decoded < 2_000_000.0, "the page loaded {bytes} bytes");

    // One page's traffic while it watches (program and preview pictures, live changes).
    let measured = browser.run_async(MEASURE, json!([5000])).await;
    println!("one console page: {measured}");

    browser.run_async(TO_TOP, json!([])).await;
    let desktop = artifacts_dir().join("console.png");
    browser.screenshot(&desktop).await;
    browser.resize(390, 844).await;
    browser.run_async(TO_TOP, json!([])).await;
    // On a phone nothing is wider than the screen (no sideways scrolling while running a show).
    let widths = browser
        .run_async(
            "const root = document.documentElement; arguments[0]([root.scrollWidth, root.clientWidth]);",
            json!([]),
        )
        .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "[page, screen]: {widths}"
    );
    let phone = artifacts_dir().join("console-phone.png");
    browser.screenshot(&phone).await;
    println!("screenshots: {} {}", desktop.display(), phone.display());
    browser.quit().await;
}

/// Issue 17: thirty instances in the fleet view, one of them down and that one first. Also
/// measures (printed, not asserted) the frames per second the page holds and the bytes per
/// second it receives while thirty instances report every 300 ms and the open instance's meters
/// arrive 20 times a second.
#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_fleet_view_puts_the_instance_that_is_down_first() {
    const COUNT: usize = 30;
    let (driver, chromium) = find_browser();
    let mut fakes = Vec::new();
    for _ in 0..COUNT {
        fakes.push(common::start_fake().await);
    }
    let instances = fakes
        .iter()
        .enumerate()
        .map(|(index, fake)| common::instance(&format!("obs-{index:02}"), fake, common::PASSWORD))
        .collect();
    // Issue 20's groups show on the tiles: obs-03 is in two, obs-04 in one.
    let hub = common::spawn_hub_configured(instances, |settings| {
        settings.instance_groups = vec![
            InstanceGroupConfig {
                name: "stage".into(),
                instances: vec!["obs-03".into(), "obs-04".into()],
            },
            InstanceGroupConfig {
                name: "casters".into(),
                instances: vec!["obs-03".into()],
            },
        ];
    });
    hub.wait_for_path("/api/instances/", "every instance connected", |list| {
        let connected = list["instances"].as_array().map_or(0, |all| {
            all.iter()
                .filter(|i| i["connection_state"] == "connected")
                .count()
        });
        connected == COUNT
    })
    .await;
    let down = "obs-17";
    fakes[17].stop().await;

    let browser = Browser::launch(&driver, &chromium).await;
    browser.on_new_document(&page_probe("")).await;
    browser.goto(&format!("{}/", hub.base)).await;
    until("thirty tiles, the one down first", || async {
        if browser.count("#fleet .tile").await != COUNT {
            return None;
        }
        let first = attribute(&browser, "#fleet .tile", "data-instance").await?;
        let level = attribute(&browser, "#fleet .tile", "data-level").await?;
        (first == down && level == "3").then_some(())
    })
    .await;
    let summary = browser.text("#fleet-summary").await.unwrap_or_default();
    assert!(summary.contains("1 not connected"), "{summary}");
    until("each tile names its groups", || async {
        let both = browser
            .text("#fleet .tile[data-instance=\"obs-03\"] .tile-groups")
            .await?;
        let one = browser
            .text("#fleet .tile[data-instance=\"obs-04\"] .tile-groups")
            .await?;
        let none = browser
            .text("#fleet .tile[data-instance=\"obs-05\"] .tile-groups")
            .await
            .unwrap_or_default();
        (both == "casters, stage" && one == "stage" && none.is_empty()).then_some(())
    })
    .await;

    // A click on a tile opens that instance in the console.
    browser
        .click("#fleet .tile[data-instance=\"obs-03\"]")
        .await;
    until("obs-03 in the console", || async {
        let name = browser.text("#conn-name").await?;
        name.starts_with("obs-03").then_some(())
    })
    .await;

    until("obs-03's meters on the page", || async {
        attribute(&browser, ".strip[data-input=\"Intro clip\"]", "data-level")
            .await
            .filter(|level| !level.is_empty())
    })
    .await;
    let measured = browser.run_async(MEASURE, json!([5000])).await;
    println!("fleet of {COUNT}, meters on: {measured}");
    let errors = browser.severe_logs().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.run_async(TO_TOP, json!([])).await;
    let fleet = artifacts_dir().join("fleet.png");
    browser.screenshot(&fleet).await;
    println!("screenshot: {}", fleet.display());
    browser.quit().await;
}

/// Issue 17 with helper R's rules: the rules panel lists a rule, dry-runs it, switches it off and
/// on (the hub's rule follows), and shows its last firing once it has fired.
#[actix_web::test]
#[ignore = "needs Chromium: cargo test --test dashboard_browser -- --ignored"]
async fn the_rules_panel_lists_tries_and_switches_rules() {
    let (driver, chromium) = find_browser();
    let (hub, fake) = hub_with_fake().await;
    let rule = json!({"name": "ending-to-brb",
        "trigger": {"type": "change", "kind": "scene_changed", "where": {"scene": "Ending"}},
        "actions": [{"type": "switch_scene", "scene": "BRB"}]});
    let made = hub.post("/api/rules", &rule.to_string()).await;
    assert_eq!(made.status, 201, "{:?}", made.body);

    let browser = Browser::launch(&driver, &chromium).await;
    browser.goto(&format!("{}/", hub.base)).await;
    let item = "#rules li[data-rule=\"ending-to-brb\"]";
    until("the rule listed", || async {
        let facts = browser.text(&format!("{item} .rule-facts")).await?;
        facts.contains("never fired").then_some(())
    })
    .await;

    browser.click(&format!("{item} .rule-dry-run")).await;
    until("the dry run's answer", || async {
        let result = browser.text(&format!("{item} .rule-result")).await?;
        result.contains("fire").then_some(())
    })
    .await;

    browser.click(&format!("{item} .rule-toggle")).await;
    until("the rule off in the hub", || async {
        let view = hub.get("/api/rules/ending-to-brb").await.body;
        (view["enabled"] == false).then_some(())
    })
    .await;
    until("the Enable button", || async {
        let text = browser.text(&format!("{item} .rule-toggle")).await?;
        (text == "Enable").then_some(())
    })
    .await;
    browser.click(&format!("{item} .rule-toggle")).await;
    until("the rule on again in the hub", || async {
        let view = hub.get("/api/rules/ending-to-brb").await.body;
        (view["enabled"] == true).then_some(())
    })
    .await;

    assert!(fake.switch_scene_from_obs("Ending").await);
    until("the rule's switch in OBS", || async {
        (fake.current_scene() == "BRB").then_some(())
    })
    .await;
    until("the firing on the page", || async {
        let facts = browser.text(&format!("{item} .rule-facts")).await?;
        facts.contains("fired at").then_some(())
    })
    .await;
    let errors = browser.severe_logs().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
    browser.quit().await;
}
