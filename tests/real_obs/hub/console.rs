//! Issue 17: the operator console in a real headless Chromium against real OBS (30.2 and 32.2):
//! the mixer's meter moves for an input playing a tone, the program picture changes after a scene
//! switch made from the page, the mixer mutes OBS and shows a mute made in OBS, a source toggle
//! hides the item in OBS, and studio mode's preview then Transition puts the scene on program.
//! What the page does is read back from OBS through a separate obws client. A module of `hub`
//! (tests/real_obs/hub.rs).

use obws::requests::{
    inputs::{Create as CreateInput, InputId},
    scene_items::Id,
    scenes::SceneId,
};
use serde_json::{json, Value};

use super::{common, connected_hub, e2e, tone_settings, unique, write_tone};

/// The clip's tone, inside OBS's root (see [`write_tone`]); its own file, apart from audio.rs's.
const TONE_FILE: &str = "/tmp/hub-e2e-console-tone.wav";

/// The attribute `name` of the first element matching `css` (null when there is none).
const ATTRIBUTE: &str = r#"
const [css, name, done] = arguments;
const element = document.querySelector(css);
done(element ? element.getAttribute(name) : null);
"#;

async fn attribute(browser: &common::browser::Browser, css: &str, name: &str) -> Option<String> {
    browser
        .run_async(ATTRIBUTE, json!([css, name]))
        .await
        .as_str()
        .map(str::to_string)
}

/// Two scenes of their own colours; the first also holds an input playing a looped tone.
async fn set_up(obs: &obws::Client, clip: &str) -> Vec<String> {
    // Opaque red and opaque blue (OBS's colours are ABGR).
    let colours = [4_278_190_335_u32, 4_294_901_760_u32];
    let mut scenes = Vec::new();
    for (index, colour) in colours.into_iter().enumerate() {
        let scene = unique(&format!("console {index}"));
        if let Err(error) = obs.scenes().create(&scene).await {
            eprintln!("scene {scene}: {error}");
        }
        let input = format!("{scene} colour");
        let settings = json!({ "color": colour, "width": 1920, "height": 1080 });
        let made = obs
            .inputs()
            .create(CreateInput {
                scene: scene.as_str().into(),
                input: &input,
                kind: "color_source_v3",
                settings: Some(settings),
                enabled: Some(true),
            })
            .await;
        if let Err(error) = made {
            eprintln!("input {input}: {error}");
        }
        scenes.push(scene);
    }
    write_tone(&e2e::host_path(TONE_FILE));
    let made = obs
        .inputs()
        .create(CreateInput {
            scene: scenes[0].as_str().into(),
            input: clip,
            kind: "ffmpeg_source",
            settings: Some(tone_settings(TONE_FILE)),
            enabled: Some(true),
        })
        .await;
    if let Err(error) = made {
        eprintln!("input {clip}: {error}");
    }
    obs.inputs()
        .set_muted(InputId::Name(clip), false)
        .await
        .expect("unmuted before the test");
    obs.ui()
        .set_studio_mode_enabled(false)
        .await
        .expect("studio mode off before the test");
    obs.scenes()
        .set_current_program_scene(scenes[0].as_str())
        .await
        .expect("OBS switches");
    scenes
}

#[actix_web::test]
#[ignore = "needs a real OBS: bash scripts/e2e-real-obs.sh"]
async fn the_console_runs_real_obs() {
    let _serial = e2e::serial().await;
    let (driver, chromium) = common::browser::find_browser();
    let obs = e2e::connect().await;
    let clip = unique("console clip");
    let scenes = set_up(&obs, &clip).await;
    // Made before the hub connects: its read after connecting finds the input.
    let hub = connected_hub(&e2e::password()).await;
    hub.wait_for("the first scene on program", |status: &Value| {
        status["current_scene"] == scenes[0].as_str()
    })
    .await;
    let browser = common::browser::Browser::launch(&driver, &chromium).await;
    browser.goto(&format!("{}/", hub.base)).await;
    let scene_button = |scene: &str| format!("#scene-grid button[data-scene=\"{scene}\"]");

    // The meter: headless OBS meters the clip's tone while its scene is on program, and the
    // strip's level is a real one above the floor that moves (as against the simulated OBS in
    // tests/dashboard_browser.rs).
    let strip = format!(".strip[data-input=\"{clip}\"]");
    let first_level = e2e::wait_for("a level on the clip's meter", || async {
        attribute(&browser, &strip, "data-level")
            .await
            .filter(|level| level.parse::<f64>().is_ok_and(|db| db > -60.0))
    })
    .await;
    e2e::wait_for("the clip's meter moving", || async {
        let level = attribute(&browser, &strip, "data-level").await?;
        (level != first_level).then_some(())
    })
    .await;
    println!("the clip's meter: {first_level} dB, then moving");

    // The program picture, then a switch from the page: OBS switches and the picture follows.
    let first = e2e::wait_for("the program picture", || async {
        attribute(&browser, "#program-picture", "data-etag").await
    })
    .await;
    browser.click(&scene_button(&scenes[1])).await;
    e2e::wait_for("OBS switched by the page", || async {
        let program = obs.scenes().current_program_scene().await.ok()?;
        (program.id.name == scenes[1]).then_some(())
    })
    .await;
    e2e::wait_for("the program picture of the second scene", || async {
        let etag = attribute(&browser, "#program-picture", "data-etag").await?;
        (etag != first).then_some(())
    })
    .await;

    // The mixer: mute from the page mutes OBS; an unmute in OBS shows on the page.
    let mute = format!("{strip} .mute");
    e2e::wait_for("the clip's strip", || async {
        browser.exists(&mute).await.then_some(())
    })
    .await;
    browser.click(&mute).await;
    e2e::wait_for("the clip muted in OBS", || async {
        obs.inputs()
            .muted(InputId::Name(&clip))
            .await
            .ok()?
            .then_some(())
    })
    .await;
    obs.inputs()
        .set_muted(InputId::Name(&clip), false)
        .await
        .unwrap();
    e2e::wait_for("OBS's unmute on the page", || async {
        let pressed = attribute(&browser, &mute, "aria-pressed").await?;
        (pressed == "false").then_some(())
    })
    .await;

    // Back to the first scene; its colour source hidden from the page is hidden in OBS.
    browser.click(&scene_button(&scenes[0])).await;
    let colour = format!("{} colour", scenes[0]);
    let toggle = format!("#sources li[data-source=\"{colour}\"] .visibility");
    e2e::wait_for("the first scene's sources", || async {
        browser.exists(&toggle).await.then_some(())
    })
    .await;
    let item = obs
        .scene_items()
        .id(Id {
            scene: SceneId::Name(&scenes[0]),
            source: &colour,
            search_offset: None,
        })
        .await
        .unwrap();
    browser.click(&toggle).await;
    e2e::wait_for("the colour source hidden in OBS", || async {
        let enabled = obs
            .scene_items()
            .enabled(SceneId::Name(&scenes[0]), item)
            .await
            .ok()?;
        (!enabled).then_some(())
    })
    .await;

    // Studio mode: the second scene on preview, then Transition takes it to program.
    browser.click("#studio-toggle").await;
    e2e::wait_for("OBS in studio mode", || async {
        obs.ui().studio_mode_enabled().await.ok()?.then_some(())
    })
    .await;
    e2e::wait_for("the grid in studio mode", || async {
        let hint = browser.text("#scenes-hint").await?;
        hint.contains("preview").then_some(())
    })
    .await;
    browser.click(&scene_button(&scenes[1])).await;
    e2e::wait_for("the second scene on preview in OBS", || async {
        let preview = obs.scenes().current_preview_scene().await.ok()?;
        (preview.id.name == scenes[1]).then_some(())
    })
    .await;
    e2e::wait_for("Transition ready", || async {
        let disabled = attribute(&browser, "#transition-button", "disabled").await;
        disabled.is_none().then_some(())
    })
    .await;
    // For the log: what the hub holds of studio mode at the take (a transition OBS never said
    // ended would show here as `transition_running: true`).
    println!(
        "studio at the take: {}",
        hub.get("/api/studio-mode").await.body
    );
    browser.click("#transition-button").await;
    e2e::wait_for("the second scene taken to program", || async {
        let program = obs.scenes().current_program_scene().await.ok()?;
        (program.id.name == scenes[1]).then_some(())
    })
    .await;

    let errors = browser.severe_logs().await;
    // For the note: what real OBS's 480-pixel pictures weigh.
    let pictures = browser
        .run_async(
            "const done = arguments[0]; done(performance.getEntriesByType('resource') \
             .filter((e) => e.name.includes('/screenshot/')).map((e) => e.transferSize));",
            json!([]),
        )
        .await;
    println!("pictures loaded (bytes each): {pictures}");
    browser
        .run_async(
            "const done = arguments[0]; window.scrollTo(0, 0); \
             requestAnimationFrame(() => requestAnimationFrame(done));",
            json!([]),
        )
        .await;
    let picture = common::browser::artifacts_dir().join(format!(
        "console-real-obs-{}.png",
        e2e::packaged_obs_version().unwrap_or_else(|| "unknown".into())
    ));
    browser.screenshot(&picture).await;
    println!("screenshot: {}", picture.display());
    browser.quit().await;
    obs.ui().set_studio_mode_enabled(false).await.unwrap();
    for scene in &scenes {
        let _ = obs.scenes().remove(scene.as_str().into()).await;
    }
    let _ = obs.inputs().remove(InputId::Name(&clip)).await;
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
