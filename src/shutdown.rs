//! Stopping on SIGINT/SIGTERM without losing anything.
//!
//! actix-server's own signal handling stops the whole actix System, which would end the
//! database recorder's and the webhook dispatcher's threads before they have written what they
//! hold. So the hub watches the signals itself: the HTTP server is stopped gracefully, browsers
//! are closed with 1001, the OBS connections are closed, then the buffers are drained (see
//! `Application::run_until_stopped`).

/// Resolves when the process is asked to stop (SIGINT or SIGTERM). Never resolves if the
/// signals cannot be watched. Every part that must act on shutdown awaits its own copy.
pub async fn stop_requested() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    () = interrupt => {}
                }
            }
            Err(error) => {
                log::warn!("cannot watch SIGTERM ({error}); only Ctrl-C stops the hub gracefully");
                interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}
