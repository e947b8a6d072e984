//! The crash reproduction with the old behaviour: racing StartStream requests sent straight to
//! OBS with obws, as the hub used to forward them. OBS 32.2.2 dies of a segmentation fault.
//!
//! It kills OBS, so neither CI nor scripts/e2e-real-obs.sh runs it (the script skips it); run it
//! on purpose, against OBS 32.2 (Debian sid):
//!
//! ```sh
//! OBS_E2E_CRASH=1 OBS_E2E_SUITES=sid bash scripts/e2e-real-obs.sh crash_reproduction
//! ```
//!
//! A module of `obs` (tests/real_obs/obs.rs).

use std::time::Duration;

use super::e2e;

#[tokio::test]
#[ignore = "kills OBS: OBS_E2E_CRASH=1 OBS_E2E_SUITES=sid bash scripts/e2e-real-obs.sh crash_reproduction"]
async fn crash_reproduction_racing_start_streams_sent_straight_to_obs() {
    assert!(
        std::env::var("OBS_E2E_CRASH").is_ok_and(|v| v == "1"),
        "this test crashes OBS on purpose: set OBS_E2E_CRASH=1"
    );
    let _serial = e2e::serial().await;
    let _restart = e2e::RestartObsOnDrop;
    let obs = e2e::connect().await;
    obs.config()
        .set_stream_service_settings(
            "rtmp_custom",
            &serde_json::json!({ "server": e2e::rtmp_server(), "key": "crash" }),
        )
        .await
        .unwrap();
    // Two clients, as two operators (or a double press on two decks) would be.
    let other = e2e::connect().await;
    for round in 0..8 {
        // The report's four requests, forwarded at once as the hub used to.
        let (recording, streaming) = (obs.recording(), obs.streaming());
        let other_streaming = other.streaming();
        let (record, first, second, stop) = tokio::join!(
            recording.start(),
            streaming.start(),
            other_streaming.start(),
            other_streaming.stop(),
        );
        eprintln!(
            "round {round}: StartRecord {:?}, StartStream {:?} / {:?}, StopStream {:?}",
            record.is_ok(),
            first.is_ok(),
            second.is_ok(),
            stop.is_ok()
        );
        // Give OBS the moment it takes to fall over, then look.
        tokio::time::sleep(Duration::from_secs(2)).await;
        if !e2e::port_open() {
            eprintln!("OBS crashed in round {round}, as reported with OBS 32.2.2");
            return;
        }
        let _ = obs.streaming().stop().await;
        let _ = obs.recording().stop().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    panic!("OBS survived 8 rounds of racing StartStreams: the crash did not reproduce");
}
