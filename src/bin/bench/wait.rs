//! Waiting for the hub to reach a state, read over its REST API.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::HttpClient;

/// Polls `GET path` every 20 ms until `check` holds, for up to `limit`; the error names `what`
/// and shows the last answer.
pub async fn until(
    port: u16,
    path: &str,
    what: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Result<Value, String> {
    until_with(HttpClient::new(port), path, what, limit, check).await
}

/// [`until`] through `client` (e.g. one that sends a token).
pub async fn until_with(
    mut client: HttpClient,
    path: &str,
    what: &str,
    limit: Duration,
    check: impl Fn(&Value) -> bool,
) -> Result<Value, String> {
    let deadline = Instant::now() + limit;
    loop {
        let last = match client.get_json(path).await {
            Ok(value) if check(&value) => return Ok(value),
            Ok(value) => value.to_string(),
            Err(error) => error,
        };
        if Instant::now() > deadline {
            return Err(format!(
                "gave up after {limit:?} waiting for {what}; last GET {path}: {last}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The single/default instance is connected and its state was read after connecting.
pub fn connected_and_fresh(status: &Value) -> bool {
    status["connected"] == true && status["stale"] == false
}

/// Every instance listed by `GET /api/instances/` is connected.
pub async fn all_connected(port: u16, count: usize) -> Result<(), String> {
    until(
        port,
        "/api/instances/",
        &format!("all {count} instances connected"),
        Duration::from_secs(30),
        |value| {
            value["instances"].as_array().is_some_and(|instances| {
                instances.len() == count
                    && instances
                        .iter()
                        .all(|instance| instance["connected"] == true)
            })
        },
    )
    .await
    .map(|_| ())
}
