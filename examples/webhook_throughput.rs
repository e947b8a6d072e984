//! Signed webhook deliveries per second through the durable outbox, to a local receiver that
//! verifies every signature.
//!
//! ```sh
//! cargo run --release --example webhook_throughput -- [changes] [endpoints] [concurrency]
//! ```
//!
//! Defaults: 20 000 changes, 1 endpoint, 4 attempts in flight per endpoint (the hub's default).
//! The dispatcher runs as in the hub (its own thread, the store writer on another, a SQLite
//! database in a temporary directory); the receiver runs in the same process, so the figure is
//! what one machine does with both ends. Each change is stored (batched transactions), sent,
//! verified by the receiver, answered 204, and its attempt recorded.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use obs_hub::{
    db::pool::{self, ConnectionOptions},
    status::{Change, ChangeEvent, Source, StatusChanged},
    webhooks::{
        dispatcher::{DeliverySettings, GetStats, WebhookDispatcher},
        endpoint::DeclaredEndpoint,
        signing,
    },
};

#[derive(Default)]
struct Counts {
    verified: AtomicU64,
    refused: AtomicU64,
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    key: web::Data<Vec<u8>>,
    counts: web::Data<Counts>,
) -> HttpResponse {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let verified = signing::verify(
        &key,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        chrono::Utc::now().timestamp(),
    );
    if verified.is_ok() {
        counts.verified.fetch_add(1, Ordering::Relaxed);
        HttpResponse::NoContent().finish()
    } else {
        counts.refused.fetch_add(1, Ordering::Relaxed);
        HttpResponse::Unauthorized().finish()
    }
}

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), String> {
    let changes = arg(1, 20_000);
    let endpoints = arg(2, 1).max(1);
    let concurrency = usize::try_from(arg(3, 4)).unwrap_or(4).max(1);
    actix_web::rt::System::new().block_on(async move {
        let secret = signing::generate_secret();
        let key = web::Data::new(signing::key_bytes(&secret).map_err(|e| e.to_string())?);
        let counts = web::Data::new(Counts::default());
        let server_counts = counts.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(key.clone())
                .app_data(server_counts.clone())
                .route("/hooks/{n}", web::post().to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .map_err(|e| e.to_string())?;
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());

        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pool = pool::open(
            &obs_hub::config::DatabaseLocation::Sqlite(dir.path().join("throughput.db")),
            ConnectionOptions {
                busy_timeout: Duration::from_secs(5),
            },
        )
        .map_err(|e| e.to_string())?;
        let declared = (0..endpoints)
            .map(|n| {
                DeclaredEndpoint::receiver(
                    format!("http://127.0.0.1:{port}/hooks/{n}"),
                    secret.clone(),
                )
            })
            .collect();
        let dispatcher = WebhookDispatcher::start(
            pool,
            declared,
            DeliverySettings {
                concurrency,
                ..DeliverySettings::default()
            },
            None,
            None,
        );
        // Answered once the endpoints are loaded.
        dispatcher.send(GetStats).await.map_err(|e| e.to_string())?;

        let expected = changes * endpoints;
        let started = Instant::now();
        let at = chrono::Utc::now();
        for seq in 1..=changes {
            dispatcher.do_send(StatusChanged(Arc::new(ChangeEvent {
                cluster: None,
                seq,
                instance: "default".into(),
                at,
                source: Source::ObsEvent,
                change: Change::SceneChanged {
                    scene: format!("Scene {}", seq % 5),
                    previous: Some(format!("Scene {}", (seq + 4) % 5)),
                },
            })));
        }
        let stats = loop {
            let stats = dispatcher.send(GetStats).await.map_err(|e| e.to_string())?;
            if stats.delivered + stats.failed >= expected
                || started.elapsed() > Duration::from_secs(600)
            {
                break stats;
            }
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        };
        let elapsed = started.elapsed();
        println!(
            "{} changes x {} endpoint(s), {} in flight per endpoint: {} delivered ({} retries, {} \
             failed) in {:.2} s = {:.0} signed deliveries/s; receiver verified {}, refused {}",
            changes,
            endpoints,
            concurrency,
            stats.delivered,
            stats.retries,
            stats.failed,
            elapsed.as_secs_f64(),
            stats.delivered as f64 / elapsed.as_secs_f64(),
            counts.verified.load(Ordering::Relaxed),
            counts.refused.load(Ordering::Relaxed),
        );
        actix::System::current().stop();
        Ok(())
    })
}
