//! Figure 7: shared pictures (issue 13). Viewers poll `GET /api/screenshot/program` back to
//! back, 1 and then 100 of them: how many GetSourceScreenshot requests reach the simulated OBS
//! per second (the same for both: one capture per window, 2 a second by default), how many
//! pictures the hub delivers, and the hub's CPU per delivered picture. Then one WebSocket
//! client subscribed to `picture:program` while the scene changes 4 times a second: notices and
//! bytes per second it receives.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use obs_hub::fake_obs::FakeObs;
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::{
    fig_status::hub_with_fake,
    http::HttpClient,
    procs::Process,
    report::{Figure, Row, Unit},
    Bench,
};

const TITLE: &str = "Shared pictures: OBS captures, hub CPU per picture, notices";
const PICTURE: &str = "/api/screenshot/program?width=320";
const SCENES: [&str; 3] = ["BRB", "Live", "Ending"];
/// Scene switches per second during the notice measurement (above the capture rate).
const SWITCHES_PER_SECOND: u64 = 4;

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(7, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        Err(error) => figure.failed(error),
    }
}

/// What `viewers` back-to-back pollers of one picture cost over `window`.
struct Viewing {
    obs_requests_per_s: f64,
    delivered_per_s: f64,
    cpu_ms_per_picture: f64,
}

async fn view(
    hub: &Process,
    fake: &FakeObs,
    viewers: usize,
    window: Duration,
) -> Result<Viewing, String> {
    let asked_before = fake.request_count("GetSourceScreenshot");
    let cpu_before = hub.cpu_seconds()?;
    let started = Instant::now();
    let deadline = started + window;
    let pollers = (0..viewers).map(|_| {
        let port = hub.port;
        tokio::spawn(async move {
            let mut client = HttpClient::new(port);
            let mut delivered = 0usize;
            while Instant::now() < deadline {
                let reply = client.get(PICTURE).await?;
                if reply.status != 200 {
                    return Err(format!("{PICTURE} answered {}", reply.status));
                }
                delivered += 1;
            }
            Ok::<usize, String>(delivered)
        })
    });
    let mut delivered = 0usize;
    for poller in futures_util::future::join_all(pollers).await {
        delivered += poller.map_err(|error| format!("a viewer failed: {error}"))??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = hub.cpu_seconds()? - cpu_before;
    let asked = fake.request_count("GetSourceScreenshot") - asked_before;
    Ok(Viewing {
        obs_requests_per_s: asked as f64 / elapsed,
        delivered_per_s: delivered as f64 / elapsed,
        cpu_ms_per_picture: cpu * 1000.0 / delivered.max(1) as f64,
    })
}

/// Notices and bytes per second to one subscriber, and OBS's captures meanwhile.
async fn notices(hub: &Process, fake: &FakeObs, window: Duration) -> Result<[f64; 3], String> {
    let (mut socket, _) = connect_async(format!("ws://127.0.0.1:{}/ws", hub.port))
        .await
        .map_err(|error| format!("cannot open /ws: {error}"))?;
    socket
        .send(Message::Text(
            r#"{"type":"subscribe","instance":"default","topics":["picture:program?width=320"]}"#
                .into(),
        ))
        .await
        .map_err(|error| format!("cannot subscribe: {error}"))?;
    let asked_before = fake.request_count("GetSourceScreenshot");
    let started = Instant::now();
    let deadline = started + window;
    let reader = tokio::spawn(async move {
        let (mut count, mut bytes) = (0usize, 0usize);
        while let Ok(Some(frame)) = tokio::time::timeout_at(deadline.into(), socket.next()).await {
            if let Ok(Message::Text(text)) = frame {
                if text.contains(r#""type":"notice""#) {
                    count += 1;
                    bytes += text.len();
                }
            }
        }
        (count, bytes)
    });
    let mut next = 0;
    while Instant::now() < deadline {
        fake.switch_scene_from_obs(SCENES[next % SCENES.len()])
            .await;
        next += 1;
        tokio::time::sleep(Duration::from_millis(1000 / SWITCHES_PER_SECOND)).await;
    }
    let (count, bytes) = reader
        .await
        .map_err(|error| format!("the subscriber failed: {error}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let asked = fake.request_count("GetSourceScreenshot") - asked_before;
    Ok([
        count as f64 / elapsed,
        bytes as f64 / elapsed,
        asked as f64 / elapsed,
    ])
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    // 5 s: ten captures at the 2-a-second cap, thousands of pictures; longer adds no figure.
    let window = Duration::from_secs(if bench.quick { 3 } else { 5 });
    let (hub, fake) = hub_with_fake(bench, "", None).await?;
    let one = view(&hub, &fake, 1, window).await?;
    let hundred = view(&hub, &fake, 100, window).await?;
    let [notices_per_s, bytes_per_s, captures_per_s] = notices(&hub, &fake, window).await?;
    figure.method = format!(
        "One hub (`obs-hub serve`, default `[pictures] max_captures_per_second = 2`) and one \
         simulated OBS. Viewers poll `GET {PICTURE}` back to back on keep-alive connections for \
         {} s, first 1, then 100; GetSourceScreenshot is counted by the simulated OBS, CPU read \
         from /proc/PID/stat of the hub. Then one WebSocket client subscribes to \
         `picture:program?width=320` while the program scene changes {SWITCHES_PER_SECOND} times \
         a second for {} s.",
        window.as_secs(),
        window.as_secs()
    );
    // The 100-viewer figures against the same figures with 1 viewer (same hub, same run): a
    // shared capture keeps OBS's captures per second flat as viewers are added.
    let by_viewers = [
        (
            "OBS captures per second (GetSourceScreenshot)",
            one.obs_requests_per_s,
            hundred.obs_requests_per_s,
            Unit::PerSecond,
        ),
        (
            "pictures delivered",
            one.delivered_per_s,
            hundred.delivered_per_s,
            Unit::PerSecond,
        ),
        (
            "hub CPU per picture",
            one.cpu_ms_per_picture,
            hundred.cpu_ms_per_picture,
            Unit::Millis,
        ),
    ];
    for (measure, with_one, with_hundred, unit) in by_viewers {
        figure
            .rows
            .push(Row::new(format!("{measure}, 1 viewer")).hub(&[with_one], unit));
        let ratio = if with_one > 0.0 {
            vec![with_hundred / with_one]
        } else {
            Vec::new()
        };
        figure.rows.push(
            Row::new(format!("{measure}, 100 viewers"))
                .hub(&[with_hundred], unit)
                .baseline("1 viewer", &[with_one], unit)
                .ratio(&ratio),
        );
    }
    let rows = [
        (
            "notices to one subscriber (scene 4/s)",
            notices_per_s,
            Unit::PerSecond,
        ),
        (
            "notice bytes to one subscriber",
            bytes_per_s,
            Unit::BytesPerSecond,
        ),
        (
            "OBS captures per second while subscribed",
            captures_per_s,
            Unit::PerSecond,
        ),
    ];
    for (measure, value, unit) in rows {
        figure.rows.push(Row::new(measure).hub(&[value], unit));
    }
    figure.notes.push(format!(
        "OBS screenshot requests per second: {:.2} with 1 viewer, {:.2} with 100 (both at most \
         the configured 2 a second)",
        one.obs_requests_per_s, hundred.obs_requests_per_s
    ));
    Ok(())
}
