//! `obs-hub doctor` tells a wrong password from a closed port from an old OBS, in words.

use crate::common;

use common::{
    binary::{obs_hub, run},
    instance, spawn_hub, start_fake, ClosedPort, PASSWORD,
};

/// Runs `obs-hub doctor` with the given environment (off the async runtime: it blocks).
async fn doctor(env: Vec<(&'static str, String)>) -> (i32, String) {
    doctor_with(env, &[]).await
}

async fn doctor_with(env: Vec<(&'static str, String)>, flags: &[&str]) -> (i32, String) {
    let flags: Vec<String> = flags.iter().map(|flag| flag.to_string()).collect();
    // No OBS_HUB_DATABASE=none: a callback URL needs the database (doctor does not open it).
    let mut command = obs_hub();
    command
        .env_remove("OBS_HUB_DATABASE")
        .arg("doctor")
        .args(flags)
        .envs(env);
    actix_web::rt::task::spawn_blocking(move || run(&mut command))
        .await
        .unwrap()
}

#[actix_web::test]
async fn everything_right_passes() {
    let fake = start_fake().await;
    let hub = spawn_hub(vec![instance("default", &fake, PASSWORD)]);
    let bind = hub.base.trim_start_matches("http://").to_string();
    let (code, text) = doctor(vec![
        ("OBS_WEBSOCKET_PORT", fake.port().to_string()),
        ("OBS_WEBSOCKET_PASSWORD", PASSWORD.to_string()),
        ("OBS_HUB_BIND", bind),
        ("OBS_CALLBACK_BASE_URL", hub.base.clone()),
    ])
    .await;
    assert_eq!(code, 0, "{text}");
    for line in [
        "✓ [default] OBS reachable",
        "✓ [default] password",
        "✓ [default] OBS version",
        "✓ [default] events arrive",
        "✓ callback base URL reachable",
        "✓ hub running",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(!text.contains(PASSWORD));
}

#[actix_web::test]
async fn a_wrong_password_a_closed_port_and_an_old_obs_are_told_apart() {
    let fake = start_fake().await;
    let no_hub = ClosedPort::new();
    let (code, wrong) = doctor(vec![
        ("OBS_WEBSOCKET_PORT", fake.port().to_string()),
        ("OBS_WEBSOCKET_PASSWORD", "not-it".to_string()),
        ("OBS_HUB_BIND", format!("127.0.0.1:{}", no_hub.port)),
    ])
    .await;
    assert_eq!(code, 1, "{wrong}");
    assert!(
        wrong.contains("✗ [default] password: OBS refused the password"),
        "{wrong}"
    );
    assert!(wrong.contains("Show Connect Info"), "{wrong}");
    assert!(!wrong.contains("not-it"));

    let no_obs = ClosedPort::new();
    let (code, closed) = doctor(vec![("OBS_WEBSOCKET_PORT", no_obs.port.to_string())]).await;
    assert_eq!(code, 1);
    assert!(
        closed.contains("✗ [default] OBS reachable: nothing answers"),
        "{closed}"
    );
    assert!(closed.contains("Enable WebSocket server"), "{closed}");
    assert!(
        !closed.contains("password"),
        "later checks are not run: {closed}"
    );

    let old = start_fake().await;
    old.set_versions("29.0.2", "5.1.0");
    let (code, too_old) = doctor(vec![
        ("OBS_WEBSOCKET_PORT", old.port().to_string()),
        ("OBS_WEBSOCKET_PASSWORD", PASSWORD.to_string()),
    ])
    .await;
    assert_eq!(code, 1);
    assert!(
        too_old.contains("✗ [default] OBS version: OBS Studio 29.0.2 is too old"),
        "{too_old}"
    );
    assert!(too_old.contains("update OBS Studio to 30.2"), "{too_old}");
    assert!(too_old.contains("– hub running"), "{too_old}");
}

/// Issue 18 item 5: doctor is the natural first step, before `serve`: a missing hub is reported,
/// not failed, unless `--require-hub` asks for one.
#[actix_web::test]
async fn a_hub_not_started_yet_is_information_unless_required() {
    let fake = start_fake().await;
    let no_hub = ClosedPort::new();
    let env = vec![
        ("OBS_WEBSOCKET_PORT", fake.port().to_string()),
        ("OBS_WEBSOCKET_PASSWORD", PASSWORD.to_string()),
        ("OBS_HUB_BIND", format!("127.0.0.1:{}", no_hub.port)),
    ];
    let (code, text) = doctor(env.clone()).await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("✓ [default] events arrive"), "{text}");
    assert!(text.contains("– hub running: no hub answers"), "{text}");
    assert!(text.contains("start it with `obs-hub serve`"), "{text}");

    let (code, text) = doctor_with(env, &["--require-hub"]).await;
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("✗ hub running: no hub answers"), "{text}");
}

/// Issue 18: a hub serving HTTPS with its self-signed certificate is found by doctor, which
/// trusts exactly that certificate (from the state directory beside the database).
#[actix_web::test]
async fn a_hub_serving_https_is_found() {
    use obs_hub::tls::{self_signed_names, TlsSettings};
    let fake = start_fake().await;
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_path_buf();
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.tls = TlsSettings::SelfSigned {
            dir: state_dir,
            names: self_signed_names(s.bind, &[]),
        };
    });
    let bind = hub.base.trim_start_matches("http://").to_string();
    let (code, text) = doctor_with(
        vec![
            ("OBS_WEBSOCKET_PORT", fake.port().to_string()),
            ("OBS_WEBSOCKET_PASSWORD", PASSWORD.to_string()),
            ("OBS_HUB_BIND", bind),
            ("OBS_HUB_TLS", "self-signed".to_string()),
            (
                "OBS_HUB_DATABASE",
                state.path().join("hub.db").display().to_string(),
            ),
        ],
        &["--require-hub"],
    )
    .await;
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("✓ hub running"), "{text}");
}
