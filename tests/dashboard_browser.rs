//! The dashboard in a real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), against the simulated OBS: the page shows the current scene, follows a
//! switch made in OBS, switches OBS when a scene is clicked, starts a stream and asks before
//! stopping it. Screenshots are kept in `artifacts/` for people to look at.
//!
//! Without chromium or chromedriver the test says so and skips, except under CI (`CI` set),
//! where `.ci/run` installs them and a skip would hide a missing install.

mod common;

use std::time::{Duration, Instant};

use common::{
    browser::{artifacts_dir, find_browser, Browser},
    hub_with_fake,
};

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
async fn the_dashboard_follows_and_controls_obs() {
    let Some((driver, chromium)) = find_browser("the_dashboard_follows_and_controls_obs") else {
        return;
    };

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
