//! Figure 11: live audio meters (issue 14). What a WebSocket client subscribed to `meters`
//! receives (bytes and frames per second) against what an obs-websocket client subscribed to
//! InputVolumeMeters receives straight from the simulated OBS, and what the meters cost a
//! status change reaching the same client: scene changes with its meters on against off.

use std::time::{Duration, Instant};

use futures_util::{stream::SplitSink, SinkExt, StreamExt};
use obs_hub::fake_obs::FakeObs;
use tokio::{net::TcpStream, sync::mpsc};
use tokio_tungstenite::{
    connect_async_with_config, tungstenite::Message, MaybeTlsStream, WebSocketStream,
};

use crate::{
    fig_status::hub_with_fake,
    report::{Figure, Row, Unit},
    stats::{paired_ratios, percentile, Spread},
    Bench,
};

const TITLE: &str = "Live audio meters: bytes and frames per client, status changes with meters on";
/// How long a change, a subscription or a frame may take before the figure fails.
const LIMIT: Duration = Duration::from_secs(5);
const SUBSCRIBE: &str = r#"{"type":"subscribe","instance":"default","topics":["meters"]}"#;
const UNSUBSCRIBE: &str = r#"{"type":"unsubscribe","instance":"default","topics":["meters"]}"#;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(11, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

/// A client of the hub's `/ws`, past its snapshot.
async fn hub_socket(port: u16) -> Result<Socket, String> {
    let (mut socket, _) =
        connect_async_with_config(format!("ws://127.0.0.1:{port}/ws"), None, true)
            .await
            .map_err(|error| format!("cannot connect to the hub's /ws: {error}"))?;
    let snapshot = next_text(&mut socket, "the snapshot").await?;
    if !snapshot.contains("\"snapshot\"") {
        return Err(format!("expected the snapshot, got {snapshot}"));
    }
    Ok(socket)
}

async fn next_text(socket: &mut Socket, what: &str) -> Result<String, String> {
    loop {
        match tokio::time::timeout(LIMIT, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.to_string()),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(error))) => return Err(format!("reading {what}: {error}")),
            Ok(None) => return Err(format!("the connection closed before {what}")),
            Err(_) => return Err(format!("no {what} in {LIMIT:?}")),
        }
    }
}

/// An obs-websocket 5 session on the simulated OBS subscribed to InputVolumeMeters only
/// (eventSubscriptions 1 << 16), as the hub's own session is while someone watches meters.
async fn direct_meters_socket(port: u16) -> Result<Socket, String> {
    let (mut socket, _) = connect_async_with_config(format!("ws://127.0.0.1:{port}"), None, true)
        .await
        .map_err(|error| format!("cannot connect to the simulated OBS: {error}"))?;
    let hello = next_text(&mut socket, "Hello").await?;
    if !hello.contains("\"op\":0") {
        return Err(format!("expected Hello, got {hello}"));
    }
    socket
        .send(Message::Text(
            r#"{"op":1,"d":{"rpcVersion":1,"eventSubscriptions":65536}}"#.into(),
        ))
        .await
        .map_err(|error| format!("sending Identify: {error}"))?;
    let identified = next_text(&mut socket, "Identified").await?;
    if !identified.contains("\"op\":2") {
        return Err(format!("expected Identified, got {identified}"));
    }
    Ok(socket)
}

/// Text bytes and frames containing `marker` read by `socket` until `until`.
async fn count(
    mut socket: Socket,
    marker: &'static str,
    until: tokio::time::Instant,
) -> (f64, f64) {
    let (mut bytes, mut frames) = (0usize, 0usize);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, socket.next()).await {
        if let Message::Text(text) = message {
            if text.contains(marker) {
                bytes += text.len();
                frames += 1;
            }
        }
    }
    (bytes as f64, frames as f64)
}

/// Waits until the hub's own session has (or no longer has) the meters subscription on the
/// simulated OBS: the change a subscription makes, rather than a fixed pause.
async fn until_meter_sessions(fake: &FakeObs, subscribed: bool) -> Result<(), String> {
    let started = Instant::now();
    while (fake.meter_subscribers() > 0) != subscribed {
        if started.elapsed() > LIMIT {
            return Err(format!(
                "the simulated OBS still has {} meter session(s) after {LIMIT:?}",
                fake.meter_subscribers()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let (hub, fake) = hub_with_fake(bench, "", None).await?;

    // Part 1: bytes and frames per second per subscribed client, against a direct client.
    let clients = bench.rounds(10, 3);
    // 5 s: about 100 frames per client at OBS's 20 a second.
    let seconds = if bench.quick { 3.0 } else { 5.0 };
    let mut subscribed = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut socket = hub_socket(hub.port).await?;
        socket
            .send(Message::Text(SUBSCRIBE.into()))
            .await
            .map_err(|error| format!("sending the subscription: {error}"))?;
        loop {
            let text = next_text(&mut socket, "the subscription's answer").await?;
            if text.contains("\"type\":\"subscribed\"") {
                break;
            }
            if text.contains("\"error\"") {
                return Err(format!("the hub refused the meters subscription: {text}"));
            }
        }
        subscribed.push(socket);
    }
    until_meter_sessions(&fake, true).await?;
    let direct = direct_meters_socket(fake.port()).await?;
    let until = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
    let counters: Vec<_> = subscribed
        .into_iter()
        .map(|socket| tokio::spawn(count(socket, "\"meters\"", until)))
        .collect();
    let (direct_bytes, direct_frames) = count(direct, "InputVolumeMeters", until).await;
    let mut hub_bytes = Vec::with_capacity(clients);
    let mut hub_frames = Vec::with_capacity(clients);
    for counter in counters {
        let (bytes, frames) = counter
            .await
            .map_err(|error| format!("a meters client failed: {error}"))?;
        hub_bytes.push(bytes / seconds);
        hub_frames.push(frames / seconds);
    }
    let (direct_bytes, direct_frames) = (direct_bytes / seconds, direct_frames / seconds);
    let ratio_to = |values: &[f64], baseline: f64| -> Vec<f64> {
        if baseline > 0.0 {
            values.iter().map(|value| value / baseline).collect()
        } else {
            Vec::new()
        }
    };
    const DIRECT: &str = "obs-websocket client on the simulated OBS";
    figure.rows.push(
        Row::new(format!(
            "meters: bytes/s per subscribed client ({clients} clients)"
        ))
        .hub(&hub_bytes, Unit::BytesPerSecond)
        .baseline(DIRECT, &[direct_bytes], Unit::BytesPerSecond)
        .ratio(&ratio_to(&hub_bytes, direct_bytes)),
    );
    figure.rows.push(
        Row::new("meters: frames/s per subscribed client, one instance")
            .hub(&hub_frames, Unit::PerSecond)
            .baseline(DIRECT, &[direct_frames], Unit::PerSecond)
            .ratio(&ratio_to(&hub_frames, direct_frames)),
    );
    until_meter_sessions(&fake, false).await?;

    // Part 2: scene changes to one client, blocks with its meters on and off alternating.
    let socket = hub_socket(hub.port).await?;
    let (mut sink, mut stream) = socket.split();
    let (sender, mut changes) = mpsc::unbounded_channel::<(Instant, String)>();
    tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let arrived = Instant::now();
            if let Message::Text(text) = message {
                if text.contains("\"scene_changed\"")
                    && sender.send((arrived, text.to_string())).is_err()
                {
                    return;
                }
            }
        }
    });
    let blocks = bench.rounds(6, 2);
    let per_block = bench.rounds(50, 20);
    let names = fake.scene_names();
    let mut current = fake.current_scene();
    let (mut on_p50, mut on_p99, mut off_p50, mut off_p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for block in 0..blocks * 2 {
        // on, off; off, on; ... so that neither side always comes first.
        let meters_on = (block % 2 == 0) == (block / 2 % 2 == 0);
        set_meters(&mut sink, &fake, meters_on).await?;
        // The first change after a toggle, right after the hub's session on OBS changed its
        // event subscriptions (Reidentify), takes about 40 ms whichever way the toggle went: it
        // would be the p99 of every block (the first full run's 39.86 ms against 42.21 ms).
        // One uncounted switch first, so that the blocks compare the steady states.
        switch_and_time(&fake, &names, &mut current, &mut changes).await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut ms = Vec::with_capacity(per_block);
        for _ in 0..per_block {
            ms.push(switch_and_time(&fake, &names, &mut current, &mut changes).await?);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (Some(p50), Some(p99)) = (percentile(&mut ms.clone(), 50.0), percentile(&mut ms, 99.0))
        else {
            return Err("no change measured".into());
        };
        if meters_on {
            on_p50.push(p50);
            on_p99.push(p99);
        } else {
            off_p50.push(p50);
            off_p99.push(p99);
        }
    }
    set_meters(&mut sink, &fake, false).await?;
    for (label, on, off) in [("p50", &on_p50, &off_p50), ("p99", &on_p99, &off_p99)] {
        figure.rows.push(
            Row::new(format!("status change → client, {label}, meters on"))
                .hub(on, Unit::Millis)
                .baseline("meters off", off, Unit::Millis)
                .ratio(&paired_ratios(on, off)),
        );
    }
    let per_frame: Vec<f64> = hub_bytes
        .iter()
        .zip(&hub_frames)
        .filter(|(_, frames)| **frames > 0.0)
        .map(|(bytes, frames)| bytes / frames)
        .collect();
    if let (Some(spread), true) = (Spread::of(&per_frame), direct_frames > 0.0) {
        figure.notes.push(format!(
            "About {:.0} bytes per meters frame to a hub client against {:.0} straight from the \
             simulated OBS (one stereo input): the hub sends dB rounded to 0.1 where OBS sends \
             three multipliers per channel.",
            spread.median,
            direct_bytes / direct_frames,
        ));
    }
    figure.method = format!(
        "One `obs-hub serve` (default settings) with one simulated OBS, whose one audio input \
         (stereo) gets an InputVolumeMeters frame every 50 ms while a session is subscribed, as \
         OBS does. Bytes and frames: {clients} clients (tokio-tungstenite, in the bench process) \
         connect to `/ws` and send `{SUBSCRIBE}`; once the hub's own session is subscribed on the \
         simulated OBS, each client counts the text bytes and frames of its `meters` notices for \
         {seconds:.0} s, and so does the baseline, an obs-websocket 5 session connected straight \
         to the simulated OBS with only InputVolumeMeters subscribed (what a browser talking to \
         OBS directly would get). Values are per client [min – max over the clients]; the ratio \
         is each client against the direct one. Status changes: one `/ws` client, {blocks} \
         blocks with its meters subscription on and {blocks} with it off, alternating (on, off; \
         off, on; ...; each switch waits for the hub's session to be subscribed, or not, on the \
         simulated OBS); each block is one uncounted scene switch, then {per_block} scene \
         switches 10 ms apart, timed from right before `switch_scene_from_obs` to the client \
         reading the `scene_changed` frame (meter frames read in between). Values are the \
         blocks' p50 and p99 [min – max over the blocks]; the ratio pairs each on-block with \
         the off-block next to it. The uncounted switch after each toggle is a warm-up: the \
         first change after the hub's session on OBS changed its event subscriptions \
         (Reidentify) takes about 40 ms either way (it would be every block's p99), so the rows \
         compare the steady states."
    );
    Ok(())
}

/// Switches the simulated OBS to the scene after `current` and returns the milliseconds until
/// the client read the `scene_changed` naming it.
async fn switch_and_time(
    fake: &FakeObs,
    names: &[String],
    current: &mut String,
    changes: &mut mpsc::UnboundedReceiver<(Instant, String)>,
) -> Result<f64, String> {
    let position = names.iter().position(|name| name == current).unwrap_or(0);
    *current = names[(position + 1) % names.len()].clone();
    let quoted = format!("\"{current}\"");
    let sent = Instant::now();
    if !fake.switch_scene_from_obs(current).await {
        return Err(format!("the simulated OBS has no scene `{current}`"));
    }
    loop {
        match tokio::time::timeout(LIMIT, changes.recv()).await {
            Ok(Some((at, text))) if text.contains(&quoted) => {
                return Ok(at.saturating_duration_since(sent).as_secs_f64() * 1000.0)
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err("the client lost its connection".into()),
            Err(_) => return Err(format!("no change to `{current}` in {LIMIT:?}")),
        }
    }
}

/// Subscribes the client to the meters (or unsubscribes it) and waits until the hub's own
/// session on the simulated OBS follows.
async fn set_meters(
    sink: &mut SplitSink<Socket, Message>,
    fake: &FakeObs,
    on: bool,
) -> Result<(), String> {
    let message = if on { SUBSCRIBE } else { UNSUBSCRIBE };
    sink.send(Message::Text(message.into()))
        .await
        .map_err(|error| format!("sending the meters subscription: {error}"))?;
    until_meter_sessions(fake, on).await
}
