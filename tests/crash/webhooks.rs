//! The webhook outbox survives SIGKILL: the real binary stores deliveries for a receiver that
//! is down, is killed, and delivers them (same ids, signed) after it starts again on the same
//! database.

use crate::common;

use std::{path::Path, time::Duration};

use common::{
    binary::{obs_hub, HubProcess},
    eventually,
    receiver::Receiver,
    start_fake, PASSWORD,
};
use obs_hub::webhooks::signing;
use serde_json::Value;

/// The hub on the configuration `config` (which binds port 0), and the base URL it listens on.
async fn start_hub(config: &Path) -> (HubProcess, String) {
    let hub = HubProcess::spawn(
        obs_hub()
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env_remove("OBS_HUB_DATABASE")
            // Warnings, and the line that says where it listens.
            .env("RUST_LOG", "warn,obs_hub=info"),
    );
    let base = format!("http://127.0.0.1:{}", hub.port().await);
    (hub, base)
}

async fn get(client: &awc::Client, url: &str) -> Option<Value> {
    let mut response = client.get(url).send().await.ok()?;
    let body = response.body().limit(1 << 22).await.ok()?;
    serde_json::from_slice(&body).ok()
}

#[actix_web::test]
async fn pending_deliveries_survive_sigkill_and_are_delivered_after_restart() {
    let fake = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::new();
    let secret = signing::generate_secret();
    receiver.set_secret(secret.expose());
    let config = dir.path().join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:0\"\n\
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

    let (mut hub, base) = start_hub(&config).await;
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
    hub.kill();

    receiver.start();
    let (_restarted, base) = start_hub(&config).await;
    let log_url = format!("{base}/api/webhooks/{endpoint}/deliveries/");
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
