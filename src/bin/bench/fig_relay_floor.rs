//! Figure 8: the relay floor (issue 23). The same scene change, made on the simulated OBS,
//! reaching one client through the hub (`/ws`) and one client connected to the simulated OBS
//! directly (obs-websocket, as the hub's own session is): what the hub adds per change.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::{connect_async_with_config, tungstenite::Message};

use crate::{
    fig_status::hub_with_fake,
    report::{Figure, Row, Unit},
    stats::{median_interval_95, percentile},
    Bench,
};

const TITLE: &str = "Relay floor: one change through the hub vs straight from the simulated OBS";
/// How long a change may take before the round fails.
const LIMIT: Duration = Duration::from_secs(5);

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(8, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

/// A client that notes the arrival instant of every text frame containing `marker` (before
/// parsing anything) and hands it over.
fn watch(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    marker: &'static str,
) -> mpsc::UnboundedReceiver<(Instant, String)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let arrived = Instant::now();
            if let Message::Text(text) = message {
                if text.contains(marker) && sender.send((arrived, text)).is_err() {
                    return;
                }
            }
        }
    });
    receiver
}

/// An obs-websocket 5 session on the simulated OBS (no password), subscribed to the scene
/// events, as the hub's own session is.
pub async fn direct_client(
    port: u16,
) -> Result<mpsc::UnboundedReceiver<(Instant, String)>, String> {
    let (mut socket, _) = connect_async_with_config(format!("ws://127.0.0.1:{port}"), None, true)
        .await
        .map_err(|error| format!("cannot connect to the simulated OBS: {error}"))?;
    let hello = socket
        .next()
        .await
        .ok_or("the simulated OBS closed before Hello")?
        .map_err(|error| format!("reading Hello: {error}"))?;
    if !hello.to_text().unwrap_or("").contains("\"op\":0") {
        return Err(format!("expected Hello, got {hello}"));
    }
    // eventSubscriptions 4: the Scenes category (CurrentProgramSceneChanged).
    socket
        .send(Message::Text(
            r#"{"op":1,"d":{"rpcVersion":1,"eventSubscriptions":4}}"#.to_string(),
        ))
        .await
        .map_err(|error| format!("sending Identify: {error}"))?;
    let identified = socket
        .next()
        .await
        .ok_or("the simulated OBS closed before Identified")?
        .map_err(|error| format!("reading Identified: {error}"))?;
    if !identified.to_text().unwrap_or("").contains("\"op\":2") {
        return Err(format!("expected Identified, got {identified}"));
    }
    Ok(watch(socket, "CurrentProgramSceneChanged"))
}

pub async fn hub_client(port: u16) -> Result<mpsc::UnboundedReceiver<(Instant, String)>, String> {
    let (mut socket, _) =
        connect_async_with_config(format!("ws://127.0.0.1:{port}/ws"), None, true)
            .await
            .map_err(|error| format!("cannot connect to the hub's /ws: {error}"))?;
    let snapshot = socket
        .next()
        .await
        .ok_or("the hub closed before the snapshot")?
        .map_err(|error| format!("reading the snapshot: {error}"))?;
    if !snapshot.to_text().unwrap_or("").contains("\"snapshot\"") {
        return Err(format!("expected the snapshot, got {snapshot}"));
    }
    Ok(watch(socket, "\"scene_changed\""))
}

pub async fn next_arrival(
    receiver: &mut mpsc::UnboundedReceiver<(Instant, String)>,
    scene: &str,
    who: &str,
) -> Result<Instant, String> {
    let quoted = format!("\"{scene}\"");
    loop {
        match tokio::time::timeout(LIMIT, receiver.recv()).await {
            Ok(Some((at, text))) if text.contains(&quoted) => return Ok(at),
            Ok(Some(_)) => continue,
            Ok(None) => return Err(format!("the {who} client lost its connection")),
            Err(_) => {
                return Err(format!(
                    "the {who} client saw no change to `{scene}` in {LIMIT:?}"
                ))
            }
        }
    }
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let (hub, fake) = hub_with_fake(bench, "", None).await?;
    let mut through_hub = hub_client(hub.port).await?;
    let mut direct = direct_client(fake.port()).await?;
    let changes = bench.rounds(300, 40);
    let names = fake.scene_names();
    let mut hub_ms = Vec::with_capacity(changes);
    let mut direct_ms = Vec::with_capacity(changes);
    let mut added_ms = Vec::with_capacity(changes);
    let mut current = fake.current_scene();
    for _ in 0..changes {
        let position = names.iter().position(|name| *name == current).unwrap_or(0);
        current = names[(position + 1) % names.len()].clone();
        let sent = Instant::now();
        if !fake.switch_scene_from_obs(&current).await {
            return Err(format!("the simulated OBS has no scene `{current}`"));
        }
        let at_direct = next_arrival(&mut direct, &current, "direct").await?;
        let at_hub = next_arrival(&mut through_hub, &current, "hub").await?;
        let ms = |at: Instant| at.saturating_duration_since(sent).as_secs_f64() * 1000.0;
        hub_ms.push(ms(at_hub));
        direct_ms.push(ms(at_direct));
        added_ms.push(ms(at_hub) - ms(at_direct));
        // Spaced like scene switches, not a burst: each change meets an idle hub.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut rows = Vec::new();
    for (label, p) in [("p50", 50.0), ("p99", 99.0)] {
        let (Some(hub_p), Some(direct_p), Some(added_p)) = (
            percentile(&mut hub_ms.clone(), p),
            percentile(&mut direct_ms.clone(), p),
            percentile(&mut added_ms.clone(), p),
        ) else {
            return Err("no change measured".to_string());
        };
        rows.push(
            Row::new(format!("change → client, {label} over {changes} changes"))
                .hub(&[hub_p], Unit::Millis)
                .baseline("client on the simulated OBS", &[direct_p], Unit::Millis)
                .ratio(&[hub_p / direct_p]),
        );
        rows.push(
            Row::new(format!(
                "added by the hub (per change, hub − direct), {label}"
            ))
            .hub(&[added_p], Unit::Millis),
        );
    }
    figure.rows.extend(rows);
    if let Some((low, high)) = median_interval_95(&added_ms) {
        figure.notes.push(format!(
            "The hub's added time per change: median 95 % CI {:.0} – {:.0} µs (order statistics \
             over {changes} changes).",
            low * 1000.0,
            high * 1000.0
        ));
    }
    figure.method = format!(
        "One `obs-hub serve` (default settings) with one simulated OBS, in the bench process. \
         Two clients, both tokio-tungstenite in the bench process: one on the hub's `/ws`, one \
         connected straight to the simulated OBS as an obs-websocket 5 session (Hello, Identify \
         with the Scenes event subscription), as the hub's own session is. {changes} scene \
         switches are made on the simulated OBS, 10 ms apart; for each, the clock starts right \
         before `switch_scene_from_obs` and stops when each client has read the frame (instant \
         taken before parsing). The direct client's time is the floor: the simulated OBS's \
         event on loopback. The hub's time adds its session's read, the translation, the status \
         manager, the live feed and the `/ws` session's write: one more hop on loopback. Values \
         are percentiles over the changes; the \"added\" rows are percentiles of the per-change \
         difference."
    );
    Ok(())
}
