//! PostgreSQL as the hub's database (issue 21), beyond the tests every persistence module runs on
//! both engines (`common::on_both_backends!`): a server stopped under load and started again,
//! `obs-hub migrate` on a server, the URL's password kept out of every output, and a build
//! without the feature refusing a PostgreSQL URL. The tests that need a server are ignored where
//! there is none (or no `postgres` feature); `.ci/run` runs them.

use std::sync::{
    atomic::{AtomicBool, AtomicUsize, Ordering},
    Arc, Mutex,
};

use obs_hub::config::{DatabaseLocation, PostgresUrl};

use crate::common::{
    self,
    binary::{obs_hub, run},
    instance,
    postgres::Server,
    spawn_hub_configured, start_fake, PASSWORD,
};

/// Switches scenes in OBS `n` times (alternating, so each is a change) and waits for the
/// hub's live status to follow each one; answers `n`.
async fn switch_scenes(
    hub: &common::TestHub,
    fake: &obs_hub::fake_obs::FakeObs,
    done: usize,
    n: usize,
) -> usize {
    for i in done..done + n {
        let scene = ["Live", "BRB"][i % 2];
        fake.switch_scene_from_obs(scene).await;
        // Live status follows, whatever the database does.
        hub.wait_for(scene, |s| s["current_scene"] == scene).await;
    }
    n
}

fn scene_changes(server: &Server, database: &str) -> usize {
    server
        .query(
            database,
            "SELECT count(*) FROM events WHERE kind = 'scene_changed'",
        )
        .parse()
        .expect("a count")
}

/// The server goes away while events flow and status is read all along: live status never
/// fails, persistence reports `degraded` with the events waiting, and once the server is back
/// every accepted event is in the database, none dropped, without anything done to the hub.
#[actix_web::test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
async fn postgres_stopped_under_load_loses_nothing_and_status_never_fails() {
    let server = Arc::new(Server::dedicated());
    let database = server.fresh_database();
    let location = DatabaseLocation::Postgres(PostgresUrl::parse(&database.url).unwrap());
    let fake = start_fake().await;
    let hub = spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |settings| {
        settings.timing = common::fast_timing();
        common::use_database(settings, &location);
    });
    hub.wait_for("connected", |s| {
        s["connected"] == true && s["stale"] == false
    })
    .await;
    common::eventually("the first scene recorded", || async {
        scene_changes(&server, &database.name) > 0
    })
    .await;
    let before = scene_changes(&server, &database.name);

    // Status reads all along, from a task of their own: not one may fail.
    let stop_reading = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (stop, reads, failures) = (stop_reading.clone(), reads.clone(), failures.clone());
        let (client, url) = (
            hub.client.clone(),
            format!("{}/api/stream-status/", hub.base),
        );
        actix_web::rt::spawn(async move {
            // Bounded: the test ends it long before.
            for _ in 0..200_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match client.get(&url).send().await {
                    Ok(response) if response.status().is_success() => {}
                    Ok(response) => failures
                        .lock()
                        .unwrap()
                        .push(format!("HTTP {}", response.status())),
                    Err(error) => failures.lock().unwrap().push(error.to_string()),
                }
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Writes flowing: scene switches in OBS, each followed by the hub's live status.
    let mut switches = 0;
    switches += switch_scenes(&hub, &fake, switches, 10).await;
    let stopping = server.clone();
    actix_web::rt::task::spawn_blocking(move || stopping.stop())
        .await
        .expect("stops");
    switches += switch_scenes(&hub, &fake, switches, 10).await;
    let degraded = hub
        .wait_for_path("/api/obs-manager/status/", "persistence degraded", |s| {
            s["persistence"]["state"] == "degraded"
                && s["persistence"]["pending_events"].as_u64() > Some(0)
        })
        .await;
    assert!(
        degraded["persistence"]["failed_writes"].as_u64() > Some(0),
        "{degraded:#}"
    );
    let ready = hub.get("/readyz").await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["checks"]["persistence"], "degraded");
    // The error says what failed, never the URL's password.
    assert!(
        !degraded.to_string().contains(&database.url),
        "{degraded:#}"
    );

    let starting = server.clone();
    actix_web::rt::task::spawn_blocking(move || starting.restart())
        .await
        .expect("starts");
    switches += switch_scenes(&hub, &fake, switches, 10).await;
    hub.wait_for_path("/api/obs-manager/status/", "persistence recovered", |s| {
        s["persistence"]["state"] == "ok" && s["persistence"]["pending_events"] == 0
    })
    .await;
    stop_reading.store(true, Ordering::Relaxed);
    reader.await.expect("the reader ends");

    assert_eq!(scene_changes(&server, &database.name), before + switches);
    let status = hub.get("/api/obs-manager/status/").await.body;
    assert_eq!(status["persistence"]["dropped_events"], 0, "{status:#}");
    assert!(reads.load(Ordering::Relaxed) > 0);
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "status reads failed: {failures:?}");
    // And the history reads from the server again.
    let events = hub.get("/api/events/?kind=scene_changed&limit=1").await;
    assert_eq!(events.status, 200, "{:?}", events.body);
}

/// `obs-hub migrate` on a server: applies every migration, then has nothing to do; the password
/// in the URL is in neither output, nor in the error of a wrong one.
#[test]
#[cfg_attr(
    any(not(feature = "postgres"), postgres_missing),
    ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
)]
fn migrate_on_postgres_applies_then_changes_nothing_and_never_prints_the_password() {
    let database = common::postgres::fresh_database();
    let password = database
        .url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(user, _)| user.split_once(':'))
        .map(|(_, password)| password.to_string())
        .expect("a password in the URL");
    let (code, text) = run(obs_hub()
        .arg("migrate")
        .env("OBS_HUB_DATABASE", &database.url));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("applied"), "{text}");
    assert!(text.contains(":***@127.0.0.1"), "{text}");
    assert!(!text.contains(&password), "{text}");
    let tables = common::postgres::query(
        &database.name,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'events'",
    );
    assert_eq!(tables, "1");

    let (code, text) = run(obs_hub().args(["migrate", "--database"]).arg(&database.url));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("already up to date"), "{text}");

    let wrong = database.url.replace(&password, "not-the-password");
    let (code, text) = run(obs_hub().arg("migrate").env("OBS_HUB_DATABASE", &wrong));
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
}

/// A build without the feature refuses a PostgreSQL URL at start-up: one line naming the key
/// and the feature, exit 2 (and the URL's password is not in it).
#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_url_without_the_feature_stops_start_up_naming_the_key_and_the_feature() {
    for command in ["serve", "migrate"] {
        let (code, text) = run(obs_hub().args([command]).env(
            "OBS_HUB_DATABASE",
            "postgres://hub:s3cret-pw@127.0.0.1:1/obs",
        ));
        assert_eq!(code, 2, "{text}");
        assert_eq!(text.trim().lines().count(), 1, "{text}");
        assert!(text.contains("OBS_HUB_DATABASE"), "{text}");
        assert!(text.contains("`postgres` cargo feature"), "{text}");
        assert!(!text.contains("s3cret-pw"), "{text}");
    }
}
