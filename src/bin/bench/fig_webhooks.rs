//! Figure 3: webhooks. Signed deliveries per second to a local receiver with the durable outbox
//! on (the database is on by default), and the time from change to delivery.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use actix_web::{dev::ServerHandle, web, App, HttpRequest, HttpResponse, HttpServer};
use obs_hub::{
    fake_obs::FakeObs,
    webhooks::signing::{self, generate_secret, key_bytes},
};
use serde_json::Value;

use crate::{
    fig_status::hub_with_fake,
    http::HttpClient,
    report::{Figure, Row, Unit},
    stats::{paired_ratios, percentile, Spread},
    Bench,
};

pub const TITLE: &str = "Webhooks: signed deliveries with the durable outbox";
const TARGET_RATE: f64 = 2000.0;
/// Delivery concurrency of the hub's default `[webhook_delivery]`, given to the baseline too.
const CONCURRENCY: usize = 4;
const DELIVERY_LIMIT: Duration = Duration::from_secs(120);

/// How changes are offered: `burst` at a time, then a pause.
#[derive(Clone, Copy)]
struct Pace {
    burst: usize,
    pause: Duration,
}

/// Throughput phase: bursts of 50 every 5 ms (about 10 000 a second), each far below the
/// hub's 1024-event buffer between its OBS link and its actor, while the receiver holds its
/// answers; then the receiver opens and the backlog drains at full speed.
const FLOOD: Pace = Pace {
    burst: 50,
    pause: Duration::from_millis(5),
};
/// Latency phase: one change every 2 ms (at most 500 a second, a quarter of the target), so
/// what is measured is the path of one change, not a queue.
const STEADY: Pace = Pace {
    burst: 1,
    pause: Duration::from_millis(2),
};

/// One delivery as the receiver saw it.
struct Received {
    at: Instant,
    id: String,
    seq: u64,
    scene: String,
}

struct ReceiverState {
    key: Vec<u8>,
    received: Mutex<Vec<Received>>,
    /// Requests whose signature did not verify (they get 401 and count as not delivered).
    bad_signatures: AtomicUsize,
    /// While false, requests are held (not answered): the senders' backlog builds up.
    open: tokio::sync::watch::Receiver<bool>,
}

/// A receiver that verifies every signature with `obs_hub::webhooks::signing::verify`, on its
/// own thread and actix system in the bench process.
struct Receiver {
    port: u16,
    state: Arc<ReceiverState>,
    handle: ServerHandle,
    gate: tokio::sync::watch::Sender<bool>,
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let at = Instant::now();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let verified = signing::verify(
        &state.key,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        chrono::Utc::now().timestamp(),
    );
    if verified.is_err() {
        state.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return HttpResponse::Unauthorized().finish();
    }
    let mut open = state.open.clone();
    // Held until the gate opens; the delivery counts from then.
    let at = if *open.borrow() {
        at
    } else {
        let _ = open.wait_for(|open| *open).await;
        Instant::now()
    };
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let received = Received {
        at,
        id: header("webhook-id").unwrap_or_default().to_string(),
        seq: value["data"]["seq"].as_u64().unwrap_or(0),
        scene: value["data"]["scene_name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    if let Ok(mut all) = state.received.lock() {
        all.push(received);
    }
    HttpResponse::NoContent().finish()
}

impl Receiver {
    fn start(key: Vec<u8>) -> Result<Receiver, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|error| format!("webhook receiver cannot listen: {error}"))?;
        let port = listener
            .local_addr()
            .map_err(|error| format!("webhook receiver port: {error}"))?
            .port();
        let (gate, open) = tokio::sync::watch::channel(true);
        let state = Arc::new(ReceiverState {
            key,
            received: Mutex::new(Vec::new()),
            bad_signatures: AtomicUsize::new(0),
            open,
        });
        let data = web::Data::from(Arc::clone(&state));
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .route("/hook", web::post().to(receive))
                })
                .workers(1)
                .listen(listener)?
                .run();
                let _ = handle_tx.send(Ok(server.handle()));
                server.await
            });
            if let Err(error) = result {
                log::error!("webhook receiver stopped: {error}");
            }
        });
        let handle = handle_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "webhook receiver did not start".to_string())?
            .map_err(|error: std::io::Error| format!("webhook receiver: {error}"))?;
        Ok(Receiver {
            port,
            state,
            handle,
            gate,
        })
    }

    fn hold(&self) {
        let _ = self.gate.send(false);
    }

    fn release(&self) {
        let _ = self.gate.send(true);
    }

    fn count(&self) -> usize {
        self.state.received.lock().map_or(0, |all| all.len())
    }

    fn take(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|mut all| std::mem::take(&mut *all))
            .unwrap_or_default()
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// One phase's outcome.
struct BurstResult {
    /// Delivered changes per second, from the start of the phase's clock to the last delivery.
    rate: f64,
    /// Change to delivery, ms, per change delivered.
    latencies: Vec<f64>,
    /// Changes with no verified delivery (or the wrong one).
    lost: usize,
    /// Deliveries received more than once (at least once, by design: only counted).
    duplicates: usize,
}

/// Waits until `expected` more deliveries than `before` have arrived, or the limit passes.
async fn await_deliveries(receiver: &Receiver, expected: usize, first: Instant) {
    while receiver.count() < expected && first.elapsed() < DELIVERY_LIMIT {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Late duplicates, if any, show up now rather than in the next round.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// `emitted[k]`: when change k was made and its scene. Deliveries are put in `seq` order (the
/// hub numbers changes in the order it sees them; other kinds of change take numbers in
/// between, so they are not contiguous) and aligned with the changes by scene name: a change
/// whose delivery is missing is skipped over, not allowed to shift every later pairing.
fn analyse(
    emitted: &[(Instant, String)],
    mut received: Vec<Received>,
    rate_from: Instant,
) -> BurstResult {
    received.sort_by_key(|r| r.seq);
    let total = received.len();
    received.dedup_by(|a, b| a.id == b.id);
    let duplicates = total - received.len();
    let mut latencies = Vec::with_capacity(emitted.len());
    let mut lost = 0;
    let mut last: Option<Instant> = None;
    let mut next = received.iter().peekable();
    for (at, scene) in emitted {
        match next.peek() {
            Some(delivery) if delivery.scene == *scene => {
                latencies.push(delivery.at.saturating_duration_since(*at).as_secs_f64() * 1000.0);
                last = Some(last.map_or(delivery.at, |l| l.max(delivery.at)));
                next.next();
            }
            _ => lost += 1,
        }
    }
    let rate = match last {
        Some(last) => {
            latencies.len() as f64 / last.saturating_duration_since(rate_from).as_secs_f64()
        }
        None => 0.0,
    };
    BurstResult {
        rate,
        latencies,
        lost,
        duplicates,
    }
}

/// Who makes the changes and sends them.
enum Side<'a> {
    /// The simulated OBS; the hub delivers.
    Hub(&'a FakeObs),
    /// The bench's bare sender, with this signing key.
    Bare(&'a [u8]),
}

/// One phase on one side: `count` changes offered at `pace`. With `flood`, the receiver holds
/// its answers until all are offered (plus a moment for the hub to take them in), and the rate
/// counts from its release: the drain rate of a full backlog. Otherwise the rate counts from
/// the first change.
async fn phase(
    side: &Side<'_>,
    receiver: &Receiver,
    count: usize,
    pace: Pace,
    flood: bool,
) -> Result<BurstResult, String> {
    if flood {
        receiver.hold();
    }
    let (emitted, senders) = match side {
        Side::Hub(fake) => (emit_on_obs(fake, count, pace).await?, Vec::new()),
        Side::Bare(key) => emit_bare(receiver.port, key, count, pace).await?,
    };
    let rate_from = if flood {
        // Let the hub's event path catch up with the offer before the clock starts.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let released = Instant::now();
        receiver.release();
        released
    } else {
        emitted[0].0
    };
    for sender in senders {
        sender
            .await
            .map_err(|error| format!("a baseline sender failed: {error}"))??;
    }
    await_deliveries(receiver, count, emitted[0].0).await;
    Ok(analyse(&emitted, receiver.take(), rate_from))
}

async fn emit_on_obs(
    fake: &FakeObs,
    count: usize,
    pace: Pace,
) -> Result<Vec<(Instant, String)>, String> {
    let names = fake.scene_names();
    let mut current = fake.current_scene();
    let mut emitted = Vec::with_capacity(count);
    for k in 0..count {
        let position = names.iter().position(|name| *name == current).unwrap_or(0);
        current = names[(position + 1) % names.len()].clone();
        emitted.push((Instant::now(), current.clone()));
        if !fake.switch_scene_from_obs(&current).await {
            return Err(format!("the simulated OBS has no scene `{current}`"));
        }
        if (k + 1) % pace.burst == 0 {
            tokio::time::sleep(pace.pause).await;
        }
    }
    Ok(emitted)
}

type Sender = tokio::task::JoinHandle<Result<(), String>>;

/// The baseline: signed messages of the hub's shape, offered at the same pace to a queue that
/// `CONCURRENCY` senders empty over keep-alive connections, with nothing stored anywhere.
async fn emit_bare(
    port: u16,
    key: &[u8],
    count: usize,
    pace: Pace,
) -> Result<(Vec<(Instant, String)>, Vec<Sender>), String> {
    let (queue, queued) = tokio::sync::mpsc::unbounded_channel::<(usize, Vec<u8>)>();
    let queued = Arc::new(tokio::sync::Mutex::new(queued));
    let key: Arc<[u8]> = Arc::from(key);
    let mut senders = Vec::new();
    for _ in 0..CONCURRENCY {
        let queued = Arc::clone(&queued);
        let key = Arc::clone(&key);
        senders.push(tokio::spawn(async move {
            let mut client = HttpClient::new(port);
            loop {
                let next = queued.lock().await.recv().await;
                let Some((seq, body)) = next else {
                    return Ok::<(), String>(());
                };
                let id = format!("msg_bench_{seq}_{}", uuid::Uuid::new_v4().simple());
                let timestamp = chrono::Utc::now().timestamp();
                let signature = signing::sign(&key, &id, timestamp, &body);
                let timestamp = timestamp.to_string();
                let reply = client
                    .post_json(
                        "/hook",
                        &[
                            ("webhook-id", &id),
                            ("webhook-timestamp", &timestamp),
                            ("webhook-signature", &signature),
                        ],
                        &body,
                    )
                    .await?;
                if !(200..300).contains(&reply.status) {
                    return Err(format!(
                        "the receiver answered {} to the baseline",
                        reply.status
                    ));
                }
            }
        }));
    }
    let scenes = ["Scene", "Starting Soon", "Live", "BRB", "Ending"];
    let mut emitted = Vec::with_capacity(count);
    for seq in 0..count {
        let scene = scenes[seq % scenes.len()];
        let body = serde_json::json!({
            "type": "scene_changed",
            "timestamp": chrono::Utc::now(),
            "data": {
                "instance": "default",
                "scene_name": scene,
                "previous_scene": scenes[(seq + scenes.len() - 1) % scenes.len()],
                "seq": seq,
                "source": "obs_event",
            }
        })
        .to_string()
        .into_bytes();
        emitted.push((Instant::now(), scene.to_string()));
        queue
            .send((seq, body))
            .map_err(|_| "the baseline's senders stopped".to_string())?;
        if (seq + 1) % pace.burst == 0 {
            tokio::time::sleep(pace.pause).await;
        }
    }
    Ok((emitted, senders))
}

pub async fn figure(bench: &Bench) -> Figure {
    let mut figure = Figure::new(3, TITLE);
    match measure(bench, &mut figure).await {
        Ok(()) => figure,
        // A hub built before webhooks refuses the [[webhooks]] key and says so.
        Err(error) if error.contains("unknown field `webhooks`") => Figure::not_measured_yet(
            3,
            TITLE,
            "this build of the hub has no webhooks (its config refuses [[webhooks]])",
        ),
        Err(error) => figure.failed(error),
    }
}

async fn measure(bench: &Bench, figure: &mut Figure) -> Result<(), String> {
    let secret = generate_secret();
    let key = key_bytes(&secret).map_err(|error| format!("generated secret unusable: {error}"))?;
    let receiver = Receiver::start(key.clone())?;
    let webhook = format!(
        "[[webhooks]]\nurl = \"http://127.0.0.1:{}/hook\"\nsecret = \"{}\"\nevent_types = [\"scene_changed\"]\n",
        receiver.port,
        secret.expose()
    );
    let (hub, fake) = hub_with_fake(bench, &webhook, None).await?;
    // Whatever the connection itself produced (nothing with this filter) is not counted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    receiver.take();

    let flood_count = if bench.quick { 500 } else { 4000 };
    let steady_count = if bench.quick { 100 } else { 500 };
    let rounds = bench.rounds(3, 1);
    let mut hub_flood = Vec::new();
    let mut bare_flood = Vec::new();
    let mut hub_steady = Vec::new();
    let mut bare_steady = Vec::new();
    let (hub_side, bare_side) = (Side::Hub(&fake), Side::Bare(&key));
    for round in 0..rounds {
        // Alternate which side goes first: the machine drifts.
        let order = if round % 2 == 0 {
            [&hub_side, &bare_side]
        } else {
            [&bare_side, &hub_side]
        };
        for side in order {
            let flood = phase(side, &receiver, flood_count, FLOOD, true).await?;
            let steady = phase(side, &receiver, steady_count, STEADY, false).await?;
            match side {
                Side::Hub(_) => {
                    hub_flood.push(flood);
                    hub_steady.push(steady);
                }
                Side::Bare(_) => {
                    bare_flood.push(flood);
                    bare_steady.push(steady);
                }
            }
        }
    }
    let bad_signatures = receiver.state.bad_signatures.load(Ordering::Relaxed);
    receiver.stop().await;
    drop(hub);

    let rates = |results: &[BurstResult]| results.iter().map(|r| r.rate).collect::<Vec<_>>();
    let pct = |results: &[BurstResult], p: f64| {
        results
            .iter()
            .filter_map(|r| percentile(&mut r.latencies.clone(), p))
            .collect::<Vec<_>>()
    };
    let lost: usize = hub_flood.iter().chain(&hub_steady).map(|r| r.lost).sum();
    let duplicates: usize = hub_flood
        .iter()
        .chain(&hub_steady)
        .map(|r| r.duplicates)
        .sum();
    let rate = Spread::of(&rates(&hub_flood));
    const BARE: &str = "bare signed sender";
    figure.rows.push(
        Row::new("deliveries per second (backlog draining)")
            .hub(&rates(&hub_flood), Unit::PerSecond)
            .baseline(BARE, &rates(&bare_flood), Unit::PerSecond)
            .ratio(&paired_ratios(&rates(&hub_flood), &rates(&bare_flood)))
            .target(
                format!("≥ {TARGET_RATE:.0}/s, none lost"),
                rate.map(|rate| rate.median >= TARGET_RATE && lost == 0 && bad_signatures == 0),
            ),
    );
    for (label, p) in [
        ("change → delivery p50 (steady)", 50.0),
        ("change → delivery p99 (steady)", 99.0),
    ] {
        let hub_values = pct(&hub_steady, p);
        let bare_values = pct(&bare_steady, p);
        figure.rows.push(
            Row::new(label)
                .hub(&hub_values, Unit::Millis)
                .baseline(BARE, &bare_values, Unit::Millis)
                .ratio(&paired_ratios(&hub_values, &bare_values)),
        );
    }
    figure.notes.push(format!(
        "{} changes in all: {lost} without a verified delivery, {duplicates} delivered twice \
         (at-least-once; receivers deduplicate by webhook-id), {bad_signatures} signatures \
         refused by the receiver.",
        (flood_count + steady_count) * rounds
    ));
    if let Some(rate) = rate {
        if rate.median < TARGET_RATE {
            let bare_rate = Spread::of(&rates(&bare_flood)).map_or(0.0, |s| s.median);
            figure.notes.push(format!(
                "Target missed: {:.0} deliveries/s. The bare sender, with the same concurrency \
                 ({CONCURRENCY} requests in flight) and nothing stored, drains {bare_rate:.0}/s \
                 into the same receiver: {}",
                rate.median,
                if bare_rate < TARGET_RATE {
                    "the concurrency and the machine cap both sides, not the outbox alone."
                } else {
                    "the difference is the hub's durable path (each delivery stored before it is \
                     sent, each outcome stored after) and its dispatcher."
                }
            ));
        }
    }
    figure.method = format!(
        "The hub is `obs-hub serve` (default settings, so the history database and the durable \
         outbox are on; its file is in a scratch directory) with one simulated OBS and one \
         `[[webhooks]]` endpoint for `scene_changed`, pointing at a receiver in the bench process \
         (actix-web, 1 worker) that verifies every signature with \
         `obs_hub::webhooks::signing::verify` and answers 204.\n\n\
         Deliveries per second: {flood_count} scene switches are made on the simulated OBS in \
         bursts of {fb} every {fp} ms while the receiver holds its answers (the hub stores the \
         deliveries in its outbox; a burst stays far below the hub's 1024-event buffer), then \
         the receiver lets go and the clock runs from that moment to the last delivery: the \
         drain rate of a full backlog at the hub's delivery concurrency ({CONCURRENCY}). \
         Change → delivery: {steady_count} switches, one every {sp} ms (at most 500 a second, a \
         quarter of the target, so no queue builds), from the instant before the switch to the \
         receiver's handler. A round ends when everything has arrived (or after {limit} s). \
         Deliveries are matched to the changes by `seq` order and scene name; duplicates (same \
         webhook-id) count once.\n\n\
         Baseline, in alternating order: a bare sender in the bench process with the same \
         concurrency ({CONCURRENCY} keep-alive connections), posting signed messages of the \
         hub's shape, offered at the same pace to the same receiver, storing nothing. {rounds} \
         round(s) of both phases on each side.",
        fb = FLOOD.burst,
        fp = FLOOD.pause.as_millis(),
        sp = STEADY.pause.as_millis(),
        limit = DELIVERY_LIMIT.as_secs(),
    );
    Ok(())
}
