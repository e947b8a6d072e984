//! The audit trail on SIGTERM (issue 19): every command the hub answered is in the database
//! after a graceful stop that comes right after the last answer, while entries may still be
//! buffered in the write-behind.

use crate::common;

use std::{process::Command, time::Duration};

use common::{
    binary::{obs_hub, HubProcess},
    start_fake, PASSWORD,
};
use diesel::{dsl::count_star, prelude::*};
use obs_hub::db::schema::audit_entries;

const TOKEN: &str = "crash-audit-admin-token-0123456789";
const COMMANDS: usize = 300;

#[actix_web::test]
async fn every_answered_command_is_in_the_audit_after_sigterm() {
    let fake = start_fake().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join("audit.db");
    let mut command = obs_hub();
    command
        .arg("serve")
        .env("OBS_HUB_BIND", "127.0.0.1:0")
        .env("OBS_WEBSOCKET_PORT", fake.port().to_string())
        .env("OBS_WEBSOCKET_PASSWORD", PASSWORD)
        .env("OBS_HUB_DATABASE", &database)
        .env("OBS_HUB_API_TOKEN", TOKEN)
        .env("RUST_LOG", "warn,obs_hub=info");
    let mut hub = HubProcess::spawn(&mut command);
    let port = hub.port().await;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let base = format!("http://127.0.0.1:{port}");
    common::eventually("connected", || async {
        let Ok(mut response) = client
            .get(format!("{base}/api/stream-status/"))
            .bearer_auth(TOKEN)
            .send()
            .await
        else {
            return false;
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        body["connected"] == true
    })
    .await;

    let mut answered = 0;
    for index in 0..COMMANDS {
        let scene = if index % 2 == 0 { "BRB" } else { "Live" };
        let response = client
            .post(format!("{base}/api/switch-scene/"))
            .bearer_auth(TOKEN)
            .send_json(&serde_json::json!({ "scene_name": scene }))
            .await
            .expect("the hub answers");
        assert_eq!(response.status().as_u16(), 200);
        answered += 1;
    }
    // Stopped right after the last answer: its entry may still wait in the write-behind.
    let terminated = Command::new("kill")
        .args(["-TERM", &hub.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let exit = hub.wait();
    assert!(exit.success(), "{exit:?}");

    let mut conn =
        SqliteConnection::establish(database.to_str().expect("utf-8 path")).expect("opens");
    let recorded: i64 = audit_entries::table
        .filter(audit_entries::actor.eq("token:configured-1"))
        .filter(audit_entries::route.eq("/api/switch-scene"))
        .filter(audit_entries::status.eq(200))
        .select(count_star())
        .first(&mut conn)
        .expect("counted");
    assert_eq!(recorded, answered as i64, "every answered command audited");
}
