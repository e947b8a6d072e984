//! The webhook outbox survives SIGKILL: the real binary stores deliveries for a receiver that
//! is down, is killed, and delivers them (same ids, signed) after it starts again on the same
//! database.

mod common;

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::{
    eventually,
    receiver::{reserve_port, Receiver},
    start_fake, PASSWORD,
};
use obs_hub::webhooks::signing;
use serde_json::Value;

fn start_hub(config: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_obs-hub"));
    for key in [
        "OBS_WEBSOCKET_HOST",
        "OBS_WEBSOCKET_PORT",
        "OBS_WEBSOCKET_PASSWORD",
        "OBS_CALLBACK_BASE_URL",
        "OBS_HUB_BIND",
        "OBS_HUB_API_TOKEN",
        "OBS_HUB_ALLOWED_ORIGINS",
        "OBS_HUB_DATABASE",
        "OBS_HUB_CALLBACK_SECRET",
    ] {
        command.env_remove(key);
    }
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("obs-hub starts")
}

async fn get(client: &awc::Client, url: &str) -> Option<Value> {
    let mut response = client.get(url).send().await.ok()?;
    let body = response.body().limit(1 << 22).await.ok()?;
    serde_json::from_slice(&body).ok()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn pending_deliveries_survive_sigkill_and_are_delivered_after_restart() {
    let fake = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let http_port = reserve_port();
    let receiver = Receiver::on_port(reserve_port());
    let secret = signing::generate_secret();
    receiver.set_secret(secret.expose());
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:{http_port}\"\n\
             [[obs]]\nname = \"default\"\nport = {obs}\npassword = \"{PASSWORD}\"\n\
             [database]\npath = \"{db}\"\n\
             [[webhooks]]\nurl = \"{url}\"\nsecret = \"{secret}\"\nevent_types = [\"scene_changed\"]\n\
             [webhook_delivery]\nretry_delays_ms = [{delays}]\n",
            obs = fake.port(),
            db = dir.path().join("hub.db").display(),
            url = receiver.url(),
            secret = secret.expose(),
            delays = vec!["250"; 200].join(", "),
        ),
    )
    .unwrap();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(5))
        .finish();
    let base = format!("http://127.0.0.1:{http_port}");

    let mut hub = KillOnDrop(start_hub(&config));
    eventually("the hub connected to OBS", || async {
        get(&client, &format!("{base}/api/stream-status/"))
            .await
            .is_some_and(|s| s["connected"] == true && s["stale"] == false)
    })
    .await;
    let endpoints = get(&client, &format!("{base}/api/webhooks/"))
        .await
        .unwrap();
    let endpoint = endpoints["webhooks"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(endpoints["webhooks"][0]["source"], "config");
    let log_url = format!("{base}/api/webhooks/{endpoint}/deliveries/");

    for scene in ["Live", "BRB", "Ending"] {
        assert!(fake.switch_scene_from_obs(scene).await);
    }
    // Stored, tried and failed (the receiver is down): what a kill must not lose.
    let mut pending: Vec<String> = Vec::new();
    eventually("the three switches stored and retried", || async {
        let Some(log) = get(&client, &log_url).await else {
            return false;
        };
        let deliveries = log["deliveries"].as_array().cloned().unwrap_or_default();
        let switched: Vec<&Value> = deliveries
            .iter()
            .filter(|d| {
                ["Live", "BRB", "Ending"]
                    .contains(&d["payload"]["data"]["scene_name"].as_str().unwrap_or(""))
            })
            .collect();
        switched.len() == 3
            && switched
                .iter()
                .all(|d| d["status"] == "pending" && d["attempts"].as_u64() >= Some(1))
    })
    .await;
    let log = get(&client, &log_url).await.unwrap();
    for delivery in log["deliveries"].as_array().unwrap() {
        assert_eq!(delivery["status"], "pending");
        pending.push(delivery["id"].as_str().unwrap().to_string());
    }
    assert!(pending.len() >= 3);

    // SIGKILL: no shutdown, no flush.
    hub.0.kill().unwrap();
    hub.0.wait().unwrap();

    receiver.start();
    let _restarted = KillOnDrop(start_hub(&config));
    eventually("every delivery pending at the kill arrived", || async {
        let ids: Vec<String> = receiver.received().into_iter().map(|r| r.id).collect();
        pending.iter().all(|id| ids.contains(id))
    })
    .await;
    assert_eq!(receiver.bad_signatures(), 0);
    let received = receiver.received();
    for id in &pending {
        assert_eq!(
            received.iter().filter(|r| &r.id == id).count(),
            1,
            "{id} delivered once"
        );
    }
    let scenes: Vec<&str> = received
        .iter()
        .filter(|r| pending.contains(&r.id))
        .filter_map(|r| r.body["data"]["scene_name"].as_str())
        .collect();
    for scene in ["Live", "BRB", "Ending"] {
        assert!(scenes.contains(&scene), "{scene} in {scenes:?}");
    }
    eventually("the log shows them delivered after the restart", || async {
        let Some(log) = get(&client, &log_url).await else {
            return false;
        };
        log["deliveries"].as_array().is_some_and(|all| {
            all.iter()
                .filter(|d| pending.contains(&d["id"].as_str().unwrap_or("").to_string()))
                .all(|d| d["status"] == "delivered")
        })
    })
    .await;
    receiver.stop().await;
}
