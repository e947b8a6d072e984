//! Baseline servers, run as child processes of the bench (this binary, hidden subcommands), so
//! that they are measured exactly like the hub: same process boundary, same client.

use std::path::Path;

use actix_web::{web, web::Bytes, App, HttpResponse, HttpServer};

/// The bare actix-web baseline of figure 1: the same JSON body the hub serves, with nothing
/// else. `/api/stream-status/` answers the body prepared once (the cheapest a JSON endpoint can
/// be); `/serialize/` serialises the same document from a `serde_json::Value` on every request,
/// which shows how much of any gap is the per-request encoding.
pub fn serve_http(port: u16, workers: usize, body_file: &Path) -> Result<(), String> {
    let body = std::fs::read(body_file)
        .map_err(|error| format!("cannot read {}: {error}", body_file.display()))?;
    let document: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| format!("{} is not JSON: {error}", body_file.display()))?;
    let body = Bytes::from(body);
    let document = web::Data::new(document);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let body = body.clone();
            App::new()
                .app_data(document.clone())
                .route(
                    "/api/stream-status/",
                    web::get().to(move || {
                        let body = body.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(body)
                        }
                    }),
                )
                .route(
                    "/serialize/",
                    web::get().to(|document: web::Data<serde_json::Value>| async move {
                        HttpResponse::Ok().json(&**document)
                    }),
                )
        })
        .workers(workers)
        .bind(("127.0.0.1", port))
        .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?
        .run()
        .await
        .map_err(|error| format!("bare server failed: {error}"))
    })
}

/// The bare WebSocket baseline of figure 2: tokio-tungstenite and a broadcast channel, nothing
/// else. Every client first gets a small `snapshot`; any text a client sends is relayed to every
/// client as is (the bench's publisher connection plays the simulated OBS). `workers` runtime
/// threads, like the hub's HTTP workers that carry its WebSocket sessions.
pub fn serve_ws(port: u16, workers: usize) -> Result<(), String> {
    use futures_util::{SinkExt, StreamExt};
    use std::sync::Arc;
    use tokio::sync::broadcast;
    use tokio_tungstenite::tungstenite::Message;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|error| format!("cannot listen on 127.0.0.1:{port}: {error}"))?;
        let (events, _) = broadcast::channel::<Arc<str>>(1024);
        loop {
            let (tcp, _) = listener
                .accept()
                .await
                .map_err(|error| format!("accept failed: {error}"))?;
            let _ = tcp.set_nodelay(true);
            let events = events.clone();
            tokio::spawn(async move {
                let Ok(mut socket) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let mut receiver = events.subscribe();
                let snapshot = Message::Text(r#"{"type":"snapshot","seq":0}"#.to_string());
                if socket.send(snapshot).await.is_err() {
                    return;
                }
                loop {
                    tokio::select! {
                        event = receiver.recv() => match event {
                            Ok(text) => {
                                if socket.send(Message::Text(text.to_string())).await.is_err() {
                                    return;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                        frame = socket.next() => match frame {
                            Some(Ok(Message::Text(text))) => {
                                let _ = events.send(Arc::from(text.as_str()));
                            }
                            Some(Ok(_)) => {}
                            Some(Err(_)) | None => return,
                        },
                    }
                }
            });
        }
    })
}
