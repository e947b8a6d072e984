//! Scoped tokens, the audit trail and rate limits (issue 19): every scope boundary against the
//! simulated OBS (what changed in OBS, not only the status code), tokens made and revoked
//! through the API, and an audit that names each command's token and holds none of its secrets.

use obs_hub::{
    config::{InstanceConfig, Secret},
    db::{
        pool::{self, ConnectionOptions},
        queries,
        source::token::TokenForm,
    },
    fake_obs::FakeObs,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::{self, instance, start_fake, TestHub, PASSWORD};

/// The bootstrap (configured) admin token.
const ADMIN: &str = "bootstrap-admin-token-0123456789";

struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

async fn call(hub: &TestHub, method: &str, path: &str, token: &str, body: &str) -> Answer {
    let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = hub
        .client
        .request(method, format!("{}{path}", hub.base))
        .insert_header(("authorization", format!("Bearer {token}")));
    if !body.is_empty() {
        request = request.insert_header(("content-type", "application/json"));
    }
    let mut response = request
        .send_body(body.to_string())
        .await
        .expect("hub answers");
    let bytes = response.body().limit(1 << 20).await.expect("body");
    Answer {
        status: response.status().as_u16(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        retry_after: response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// A hub with the bootstrap admin token for `instances`, connected to all of them.
async fn hub_for(instances: Vec<InstanceConfig>) -> TestHub {
    let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let hub = common::spawn_hub_configured(instances, |settings| {
        settings.api_tokens = vec![Secret::new(ADMIN)];
    });
    wait_connected(&hub, &names).await;
    hub
}

async fn wait_connected(hub: &TestHub, names: &[String]) {
    common::eventually("every instance connected", || async {
        let board = hub.board.current();
        names.iter().all(|name| {
            board
                .instance(name)
                .is_some_and(|status| status.is_connected())
        })
    })
    .await;
}

/// Makes a token through the API; answers (id, secret).
async fn make_token(hub: &TestHub, body: Value) -> (i64, String) {
    let made = call(hub, "POST", "/api/tokens/", ADMIN, &body.to_string()).await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let secret = made.body["token"].as_str().expect("the secret, once");
    (made.body["id"].as_i64().expect("an id"), secret.to_string())
}

async fn one_fake() -> (FakeObs, TestHub) {
    let fake = start_fake().await;
    let hub = hub_for(vec![instance("default", &fake, PASSWORD)]).await;
    (fake, hub)
}

crate::on_both_backends! {
    async fn a_read_token_reads_and_gets_403_naming_the_scope_on_a_command() {
        let (fake, hub) = one_fake().await;
        let (_, read) = make_token(&hub, json!({"name": "guest-tablet", "scopes": ["read"]})).await;
        let status = call(&hub, "GET", "/api/stream-status/", &read, "").await;
        assert_eq!(status.status, 200, "{:?}", status.body);
        assert_eq!(status.body["connected"], true);
        let before = fake.current_scene();
        let refused = call(
            &hub,
            "POST",
            "/api/switch-scene/",
            &read,
            r#"{"scene_name": "BRB"}"#,
        )
        .await;
        assert_eq!(refused.status, 403, "{:?}", refused.body);
        assert_eq!(refused.body["error"], "scope_required");
        assert!(
            refused.body["message"]
                .as_str()
                .unwrap()
                .contains("`control` scope"),
            "{:?}",
            refused.body
        );
        assert_eq!(fake.current_scene(), before, "OBS was not touched");
        // The WebSocket is read: a read token may open it.
        let socket = hub
            .client
            .ws(format!(
                "{}/ws?token={read}",
                hub.base.replace("http", "ws")
            ))
            .connect()
            .await;
        assert!(socket.is_ok(), "read token opens /ws");
    }
}

#[actix_web::test]
async fn a_scenes_only_token_switches_scenes_and_gets_403_on_streaming() {
    let (fake, hub) = one_fake().await;
    let (_, deck) = make_token(
        &hub,
        json!({"name": "stream-deck", "scopes": ["control"], "capabilities": ["scenes"]}),
    )
    .await;
    let switched = call(
        &hub,
        "POST",
        "/api/switch-scene/",
        &deck,
        r#"{"scene_name": "BRB"}"#,
    )
    .await;
    assert_eq!(switched.status, 200, "{:?}", switched.body);
    assert_eq!(fake.current_scene(), "BRB");
    let stream = call(&hub, "POST", "/api/start-stream/", &deck, "").await;
    assert_eq!(stream.status, 403, "{:?}", stream.body);
    assert_eq!(stream.body["error"], "capability_not_allowed");
    let output = call(&hub, "POST", "/api/outputs/stream/start", &deck, "").await;
    assert_eq!(output.status, 403, "{:?}", output.body);
    assert!(!fake.is_streaming(), "the stream did not start");
}

#[actix_web::test]
async fn an_instance_limited_token_gets_403_on_another_instance() {
    let main = start_fake().await;
    let backup = start_fake().await;
    let hub = hub_for(vec![
        instance("main", &main, PASSWORD),
        instance("backup", &backup, PASSWORD),
    ])
    .await;
    let (_, token) = make_token(
        &hub,
        json!({"name": "main-only", "scopes": ["control"], "instances": ["main"]}),
    )
    .await;
    let body = r#"{"scene_name": "BRB"}"#;
    let ok = call(
        &hub,
        "POST",
        "/api/instances/main/switch-scene/",
        &token,
        body,
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(main.current_scene(), "BRB");
    let before = backup.current_scene();
    let refused = call(
        &hub,
        "POST",
        "/api/instances/backup/switch-scene/",
        &token,
        body,
    )
    .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "instance_not_allowed");
    assert_eq!(backup.current_scene(), before);
    let read = call(
        &hub,
        "GET",
        "/api/instances/backup/stream-status",
        &token,
        "",
    )
    .await;
    assert_eq!(read.status, 403, "reads of another instance too");
    // The plain history routes cover every instance unless `?instance=` narrows them.
    let all = call(&hub, "GET", "/api/events/", &token, "").await;
    assert_eq!(all.status, 403, "{:?}", all.body);
    assert_eq!(all.body["error"], "instance_not_allowed");
    let mine = call(&hub, "GET", "/api/events/?instance=main", &token, "").await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    let theirs = call(&hub, "GET", "/api/events/?instance=backup", &token, "").await;
    assert_eq!(theirs.status, 403);
}

crate::on_both_backends! {
    async fn an_expired_token_gets_401() {
        // The token is in the database before the hub starts (as after a restart), expired.
        let dir = tempfile::tempdir().unwrap();
        let location = common::fresh_location(&dir);
        let pool = pool::open(
            &location,
            ConnectionOptions {
                busy_timeout: std::time::Duration::from_secs(5),
            },
        )
        .unwrap();
        let secret = "ohk_expired-token-secret-for-the-test";
        let hash: String = Sha256::digest(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let now = chrono::Utc::now().naive_utc();
        for (name, hash, expires) in [
            ("old", hash, now - chrono::Duration::minutes(1)),
            (
                "fresh",
                Sha256::digest(b"ohk_fresh")
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                now + chrono::Duration::days(1),
            ),
        ] {
            queries::tokens::insert(
                &mut pool.get().unwrap(),
                &TokenForm {
                    name: name.into(),
                    secret_hash: hash,
                    scope: "admin".into(),
                    instances: None,
                    capabilities: None,
                    created_at: now,
                    expires_at: Some(expires),
                },
            )
            .unwrap();
        }
        drop(pool);
        let fake = start_fake().await;
        let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
            s.api_tokens = vec![Secret::new(ADMIN)];
            common::use_database(s, &location);
        });
        let expired = call(&hub, "GET", "/api/stream-status/", secret, "").await;
        assert_eq!(expired.status, 401, "{:?}", expired.body);
        assert_eq!(expired.body["error"], "token_expired");
        let fresh = call(&hub, "GET", "/api/stream-status/", "ohk_fresh", "").await;
        assert_eq!(
            fresh.status, 200,
            "the unexpired one loaded from the database works"
        );
        let unknown = call(&hub, "GET", "/api/stream-status/", "ohk_never-made", "").await;
        assert_eq!(unknown.status, 401);
        assert_eq!(unknown.body["error"], "unauthorized");
    }
}

#[actix_web::test]
async fn admin_routes_need_admin() {
    let (fake, hub) = one_fake().await;
    let (_, control) = make_token(&hub, json!({"name": "operator", "scopes": ["control"]})).await;
    let (_, read) = make_token(&hub, json!({"name": "viewer", "scopes": ["read"]})).await;
    let webhook = json!({"url": "http://127.0.0.1:9/hook", "event_types": ["scene_changed"]});
    let requests_before = fake.request_count("GetVersion");
    for token in [&control, &read] {
        for (method, path, body) in [
            ("POST", "/api/webhooks/", webhook.to_string()),
            ("GET", "/api/webhooks/", String::new()),
            ("GET", "/api/tokens/", String::new()),
            (
                "POST",
                "/api/tokens/",
                json!({"name": "escalated", "scopes": ["admin"]}).to_string(),
            ),
            ("GET", "/api/audit/", String::new()),
            ("POST", "/api/obs/requests/GetVersion", String::new()),
            ("POST", "/api/obs-manager/stop", String::new()),
            (
                "PUT",
                "/api/profiles/current",
                json!({"profile_name": "x"}).to_string(),
            ),
        ] {
            let refused = call(&hub, method, path, token, &body).await;
            assert_eq!(refused.status, 403, "{method} {path}: {:?}", refused.body);
            assert_eq!(refused.body["error"], "scope_required");
        }
    }
    assert_eq!(
        fake.request_count("GetVersion"),
        requests_before,
        "no raw request reached OBS"
    );
    let listed = call(&hub, "GET", "/api/webhooks/", ADMIN, "").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["webhooks"], json!([]), "none was made");
    let tokens = call(&hub, "GET", "/api/tokens/", ADMIN, "").await;
    let names: Vec<&str> = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["configured-1", "operator", "viewer"]);
    let text = tokens.body.to_string();
    assert!(!text.contains(&control) && !text.contains(&read) && !text.contains(ADMIN));
    let raw = call(&hub, "POST", "/api/obs/requests/GetVersion", ADMIN, "").await;
    assert_eq!(raw.status, 200, "{:?}", raw.body);
}

crate::on_both_backends! {
    async fn a_token_cannot_revoke_itself_by_accident_and_revocation_is_immediate() {
        let (_fake, hub) = one_fake().await;
        let (own_id, own) = make_token(&hub, json!({"name": "ops", "scopes": ["admin"]})).await;
        let (other_id, other) = make_token(&hub, json!({"name": "deck", "scopes": ["read"]})).await;
        let me = call(&hub, "GET", "/api/tokens/self", &other, "").await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["token"]["name"], "deck");
        assert_eq!(me.body["scopes"], json!(["read"]));

        let revoked = call(&hub, "DELETE", &format!("/api/tokens/{other_id}"), &own, "").await;
        assert_eq!(revoked.status, 204);
        let gone = call(&hub, "GET", "/api/stream-status/", &other, "").await;
        assert_eq!(gone.status, 401, "a revoked token is refused at once");

        let path = format!("/api/tokens/{own_id}");
        let refused = call(&hub, "DELETE", &path, &own, "").await;
        assert_eq!(refused.status, 409, "{:?}", refused.body);
        assert!(refused.body["message"]
            .as_str()
            .unwrap()
            .contains("self=true"));
        assert_eq!(
            call(&hub, "GET", "/api/tokens/", &own, "").await.status,
            200
        );
        let confirmed = call(&hub, "DELETE", &format!("{path}?self=true"), &own, "").await;
        assert_eq!(confirmed.status, 204);
        assert_eq!(
            call(&hub, "GET", "/api/tokens/", &own, "").await.status,
            401
        );
        let missing = call(&hub, "DELETE", &path, ADMIN, "").await;
        assert_eq!(missing.status, 404);
    }
}

#[actix_web::test]
async fn commands_past_the_rate_limit_get_429_with_retry_after_and_reads_go_on() {
    let fake = start_fake().await;
    let hub = common::spawn_hub_configured(vec![instance("default", &fake, PASSWORD)], |s| {
        s.api_tokens = vec![Secret::new(ADMIN)];
        s.http.commands_per_second = 1;
        s.http.command_burst = 2;
    });
    wait_connected(&hub, &["default".to_string()]).await;
    let (_, script) = make_token(&hub, json!({"name": "script", "scopes": ["control"]})).await;
    let body = r#"{"scene_name": "BRB"}"#;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..6 {
        let answer = call(&hub, "POST", "/api/switch-scene/", &script, body).await;
        statuses.push(answer.status);
        if answer.status == 429 {
            limited = Some(answer);
        }
    }
    assert_eq!(&statuses[..2], [200, 200], "the burst goes through");
    let limited = limited.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert_eq!(limited.body["error"], "rate_limited");
    let wait: u64 = limited.retry_after.expect("Retry-After").parse().unwrap();
    assert!(wait >= 1);
    let read = call(&hub, "GET", "/api/stream-status/", &script, "").await;
    assert_eq!(read.status, 200, "reads are not limited");
    // Another token has its own bucket; the bootstrap token is not limited.
    let (_, other) = make_token(&hub, json!({"name": "other", "scopes": ["control"]})).await;
    let answer = call(&hub, "POST", "/api/switch-scene/", &other, body).await;
    assert_eq!(answer.status, 200);
}

crate::on_both_backends! {
    async fn the_audit_lists_the_commands_with_their_token_names_and_no_secret() {
        let (fake, hub) = one_fake().await;
        let (_, deck) = make_token(
            &hub,
            json!({"name": "deck", "scopes": ["control"], "capabilities": ["scenes"]}),
        )
        .await;
        let (_, viewer) = make_token(&hub, json!({"name": "viewer", "scopes": ["read"]})).await;
        let obs_password = "obs-password-never-logged";
        let webhook_secret = "whsec_dGhpcyBpcyBhIHRlc3Qgc2VjcmV0IGtleSBmb3IgYXVkaXQ=";
        let stream_key = "live_1234_stream-key-never-logged";
        let switched = call(
            &hub,
            "POST",
            "/api/switch-scene/",
            &deck,
            r#"{"scene_name": "BRB"}"#,
        )
        .await;
        assert_eq!(switched.status, 200);
        let refused = call(&hub, "POST", "/api/start-stream/", &viewer, "").await;
        assert_eq!(refused.status, 403);
        let tested = call(
            &hub,
            "POST",
            "/api/test-connection/",
            ADMIN,
            &json!({"password": obs_password}).to_string(),
        )
        .await;
        assert!(tested.status < 500, "{:?}", tested.body);
        let hooked = call(
            &hub,
            "POST",
            "/api/webhooks/",
            ADMIN,
            &json!({"url": "http://127.0.0.1:9/hook", "event_types": ["scene_changed"],
                "secret": webhook_secret})
            .to_string(),
        )
        .await;
        assert_eq!(hooked.status, 201, "{:?}", hooked.body);
        let raw = call(
            &hub,
            "POST",
            "/api/obs/batch",
            ADMIN,
            &json!({"requests": [{"requestType": "SetStreamServiceSettings", "requestData": {
                "streamServiceType": "rtmp_custom",
                "streamServiceSettings": {"server": "rtmp://127.0.0.1/live", "key": stream_key}}}]})
            .to_string(),
        )
        .await;
        assert!(raw.status < 500, "{:?}", raw.body);
        let reads_before = call(&hub, "GET", "/api/stream-status/", &deck, "").await;
        assert_eq!(reads_before.status, 200);

        // Entries are written behind the requests: wait for them to be in.
        common::eventually("the audit entries", || async {
            let page = call(&hub, "GET", "/api/audit/?limit=50", ADMIN, "").await;
            page.body["entries"].as_array().map_or(0, Vec::len) >= 7
        })
        .await;
        let page = call(&hub, "GET", "/api/audit/?limit=50", ADMIN, "").await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let entries = page.body["entries"].as_array().cloned().unwrap();
        let find = |route: &str, actor: &str| {
            entries
                .iter()
                .find(|e| e["route"] == route && e["actor"] == actor)
                .unwrap_or_else(|| panic!("no {actor} entry for {route} in {entries:#?}"))
                .clone()
        };
        let switch = find("/api/switch-scene", "token:deck");
        assert_eq!(switch["token"], "deck");
        assert_eq!(switch["status"], 200);
        assert_eq!(switch["method"], "POST");
        assert_eq!(switch["instance"], "default");
        assert_eq!(switch["request"], json!({"scene_name": "BRB"}));
        assert_eq!(switch["remote"], "127.0.0.1");
        let refusal = find("/api/start-stream", "token:viewer");
        assert_eq!(refusal["status"], 403);
        assert_eq!(refusal["error"], "scope_required");
        let made = find("/api/tokens", "token:configured-1");
        assert_eq!(made["status"], 201);
        find("/api/test-connection", "token:configured-1");
        find("/api/webhooks", "token:configured-1");
        let batch = find("/api/obs/batch", "token:configured-1");
        assert_eq!(
            batch["request"]["requests"][0]["requestData"]["streamServiceSettings"]["server"],
            "rtmp://127.0.0.1/live",
            "what is not secret is kept"
        );
        // Reads are not audited.
        assert!(entries.iter().all(|e| e["method"] != "GET"));
        let by_deck = call(&hub, "GET", "/api/audit/?actor=token:deck", ADMIN, "").await;
        assert_eq!(by_deck.body["entries"].as_array().unwrap().len(), 1);

        // No secret of this test in the audit, nor in the database file itself (SQLite; on
        // PostgreSQL the audit table is read through the API above).
        let audit_text = page.body.to_string();
        let file = hub.database.clone().unwrap_or_default();
        let database = std::fs::read(&file).unwrap_or_default();
        let wal = std::fs::read(file.with_extension("db-wal")).unwrap_or_default();
        for secret in [
            ADMIN,
            deck.as_str(),
            viewer.as_str(),
            obs_password,
            webhook_secret,
            stream_key,
        ] {
            assert!(!audit_text.contains(secret), "{secret} in the audit");
            for bytes in [&database, &wal] {
                let found = bytes
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes());
                // The webhook secret is stored for signing (in webhook_endpoints): by design.
                if secret != webhook_secret {
                    assert!(!found, "{secret} in the database file");
                }
            }
        }
        drop(fake);
    }
}

/// awc's client socket, named by what the tests use of it.
trait Socket:
    futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
    + futures_util::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
    + Unpin
{
}
impl<S> Socket for S where
    S: futures_util::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
        + futures_util::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
        + Unpin
{
}

async fn open_socket(hub: &TestHub, token: &str) -> impl Socket {
    let url = format!("{}/ws?token={token}", hub.base.replacen("http", "ws", 1));
    let (_, socket) = hub.client.ws(url).connect().await.expect("/ws opens");
    socket
}

/// The next JSON text frame (pings aside), within a generous deadline.
async fn next_message(socket: &mut impl Socket) -> Value {
    use futures_util::StreamExt;
    loop {
        let frame = actix_web::rt::time::timeout(std::time::Duration::from_secs(20), socket.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a valid frame");
        match frame {
            awc::ws::Frame::Text(text) => return serde_json::from_slice(&text).expect("JSON"),
            awc::ws::Frame::Ping(_) | awc::ws::Frame::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn send(socket: &mut impl Socket, message: Value) {
    use futures_util::SinkExt;
    let text = awc::ws::Message::Text(message.to_string().into());
    socket.send(text).await.expect("sent");
}

/// Reads changes until `instance`'s scene is `scene`; answers every change read, checking that
/// their seqs follow `seq` one by one (and leaving `seq` at the last).
async fn changes_until_scene(
    socket: &mut impl Socket,
    seq: &mut u64,
    instance: &str,
    scene: &str,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let change = next_message(socket).await;
        assert_eq!(change["seq"], *seq + 1, "gap-free: {change}");
        *seq += 1;
        let done = change["instance"] == instance
            && change["type"] == "scene_changed"
            && change["scene"] == scene;
        seen.push(change);
        if done {
            return seen;
        }
    }
}

fn instance_names(snapshot: &Value) -> Vec<String> {
    let instances = snapshot["instances"].as_object().expect("instances");
    instances.keys().cloned().collect()
}

/// A hub with `default` and `backup`, and a read token limited to `default`.
async fn two_instances_and_a_limited_token() -> (FakeObs, FakeObs, TestHub, String) {
    let main = start_fake().await;
    let backup = start_fake().await;
    let hub = hub_for(vec![
        instance("default", &main, PASSWORD),
        instance("backup", &backup, PASSWORD),
    ])
    .await;
    let (_, token) = make_token(
        &hub,
        json!({"name": "default-only", "scopes": ["read"], "instances": ["default"]}),
    )
    .await;
    (main, backup, hub, token)
}

#[actix_web::test]
async fn an_instance_limited_websocket_never_sees_another_instance() {
    let (_main, _backup, hub, limited) = two_instances_and_a_limited_token().await;
    let mut mine = open_socket(&hub, &limited).await;
    let mut every = open_socket(&hub, ADMIN).await;
    let snapshot = next_message(&mut mine).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(instance_names(&snapshot), ["default"]);
    let mut my_seq = snapshot["seq"].as_u64().unwrap();
    let snapshot = next_message(&mut every).await;
    assert_eq!(instance_names(&snapshot), ["backup", "default"]);
    let mut every_seq = snapshot["seq"].as_u64().unwrap();

    // A change of backup, known to the hub before one of default: the latter is the barrier.
    let switch = |name: &str| format!("/api/instances/{name}/switch-scene/");
    let brb = r#"{"scene_name": "BRB"}"#;
    assert_eq!(
        call(&hub, "POST", &switch("backup"), ADMIN, brb)
            .await
            .status,
        200
    );
    common::eventually("backup on BRB", || async {
        let board = hub.board.current();
        board.instance("backup").unwrap().current_scene.as_deref() == Some("BRB")
    })
    .await;
    assert_eq!(
        call(&hub, "POST", &switch("default"), ADMIN, brb)
            .await
            .status,
        200
    );

    let seen = changes_until_scene(&mut every, &mut every_seq, "default", "BRB").await;
    assert!(
        seen.iter()
            .any(|c| c["instance"] == "backup" && c["scene"] == "BRB"),
        "the unrestricted socket sees backup: {seen:?}"
    );
    // Numbered in the session's own count, so that no gap makes the client resync.
    let seen = changes_until_scene(&mut mine, &mut my_seq, "default", "BRB").await;
    assert!(
        seen.iter().all(|c| c["instance"] == "default"),
        "the limited socket sees only default: {seen:?}"
    );

    send(&mut mine, json!({"type": "resync"})).await;
    let resynced = loop {
        let message = next_message(&mut mine).await;
        if message["type"] == "snapshot" {
            break message;
        }
        assert_eq!(message["instance"], "default", "{message}");
    };
    assert_eq!(instance_names(&resynced), ["default"]);
}

#[actix_web::test]
async fn an_instance_limited_websocket_may_not_subscribe_to_another_instance() {
    let (_main, _backup, hub, limited) = two_instances_and_a_limited_token().await;
    let mut socket = open_socket(&hub, &limited).await;
    assert_eq!(next_message(&mut socket).await["type"], "snapshot");
    let subscribe = |instance: &str| json!({"type": "subscribe", "instance": instance, "topics": ["picture:program"]});
    for (instance, expected) in [("backup", "error"), ("default", "subscribed")] {
        send(&mut socket, subscribe(instance)).await;
        let answer = loop {
            let message = next_message(&mut socket).await;
            if message["type"] == "subscribed" || message["type"] == "error" {
                break message;
            }
        };
        assert_eq!(answer["type"], expected, "{instance}: {answer}");
        if expected == "error" {
            assert_eq!(answer["error"], "invalid_subscription");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains("`backup`"), "{message}");
        }
    }
}

#[actix_web::test]
async fn an_instance_limited_token_lists_only_its_instances() {
    let (_main, _backup, hub, limited) = two_instances_and_a_limited_token().await;
    let names = |body: &Value| -> Vec<String> {
        let list = body["instances"].as_array().expect("instances");
        let mut names: Vec<String> = list
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    for path in ["/api/instances/", "/api/obs-manager/status/"] {
        let mine = call(&hub, "GET", path, &limited, "").await;
        assert_eq!(mine.status, 200, "{path}: {:?}", mine.body);
        assert_eq!(names(&mine.body), ["default"], "{path}");
        let every = call(&hub, "GET", path, ADMIN, "").await;
        assert_eq!(names(&every.body), ["backup", "default"], "{path}");
    }
}

/// Issue 20: a group command is each member's own request: a token limited to one instance
/// switches that one and gets `instance_not_allowed` as the other's result; the group route
/// itself needs the scope of the route it runs; instances are added by admins only.
#[actix_web::test]
async fn a_group_command_checks_each_member_as_if_sent_alone() {
    let a = start_fake().await;
    let b = start_fake().await;
    let hub = common::spawn_hub_configured(
        vec![instance("a", &a, PASSWORD), instance("b", &b, PASSWORD)],
        |settings| {
            settings.api_tokens = vec![Secret::new(ADMIN)];
            settings.instance_groups = vec![obs_hub::config::InstanceGroupConfig {
                name: "both".into(),
                instances: vec!["a".into(), "b".into()],
            }];
        },
    );
    wait_connected(&hub, &["a".to_string(), "b".to_string()]).await;
    let (_, only_a) = make_token(
        &hub,
        json!({"name": "a-only", "scopes": ["control"], "instances": ["a"]}),
    )
    .await;
    let switch = |scene: &str| json!({ "scene_name": scene }).to_string();
    let answer = call(
        &hub,
        "POST",
        "/api/instance-groups/both/switch-scene",
        &only_a,
        &switch("Live"),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let results = &answer.body["results"];
    assert_eq!(results[0]["status"], 200, "{:?}", answer.body);
    assert_eq!(results[1]["status"], 403, "{:?}", answer.body);
    assert_eq!(results[1]["body"]["error"], "instance_not_allowed");
    assert_eq!(a.current_scene(), "Live");
    assert_ne!(b.current_scene(), "Live");

    let (_, reader) = make_token(&hub, json!({"name": "reader", "scopes": ["read"]})).await;
    let refused = call(
        &hub,
        "POST",
        "/api/instance-groups/both/switch-scene",
        &reader,
        &switch("BRB"),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"], "scope_required");
    assert_eq!(a.current_scene(), "Live");
    // Reads are the reader's, on every member.
    let read = call(
        &hub,
        "GET",
        "/api/instance-groups/both/stream-status",
        &reader,
        "",
    )
    .await;
    assert_eq!(read.body["succeeded"], 2, "{:?}", read.body);

    for token in [&only_a, &reader] {
        let add = call(
            &hub,
            "POST",
            "/api/instances/",
            token,
            r#"{"name": "c", "host": "127.0.0.1", "port": 4460}"#,
        )
        .await;
        assert_eq!(add.status, 403, "{:?}", add.body);
        assert_eq!(add.body["error"], "scope_required");
    }
    assert!(hub.board.current().instance("c").is_none());
}
