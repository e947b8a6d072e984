//! The settings resolved from files, flags and the environment: defaults, precedence, and the
//! one-line errors that stop start-up.

use super::*;

fn resolve(text: &str, overrides: Overrides) -> Result<Settings, ConfigError> {
    Settings::resolve(Some(("hub.toml", text)), overrides)
}

#[test]
fn defaults_give_one_default_instance_on_loopback() {
    let settings = Settings::resolve(None, Overrides::default()).unwrap();
    assert_eq!(settings.bind, "127.0.0.1:8000".parse().unwrap());
    assert_eq!(settings.instances.len(), 1);
    assert_eq!(settings.instances[0].name, "default");
    assert_eq!(settings.instances[0].port, 4455);
    assert_eq!(settings.instances[0].password, None);
    assert_eq!(settings.timing, Timing::default());
}

#[test]
fn file_instances_replace_the_default_unless_the_environment_names_one() {
    let text = "[[obs]]\nname = \"studio\"\nport = 4460\n[[obs]]\nname = \"booth\"\n";
    let only_file = resolve(text, Overrides::default()).unwrap();
    let names: Vec<_> = only_file
        .instances
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["studio", "booth"]);

    let with_env = resolve(
        text,
        Overrides {
            obs_port: Some(4999),
            ..Overrides::default()
        },
    )
    .unwrap();
    let names: Vec<_> = with_env.instances.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["default", "studio", "booth"]);
    assert_eq!(with_env.instance("default").unwrap().port, 4999);
}

#[test]
fn flags_and_environment_win_over_the_file() {
    let text = "bind = \"127.0.0.1:9000\"\n[[obs]]\nname = \"default\"\nhost = \"10.0.0.5\"\nport = 4460\npassword = \"from-file\"\n";
    let settings = resolve(
        text,
        Overrides {
            bind: Some("127.0.0.1:9100".into()),
            obs_password: Some(Secret::new("from-env")),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(settings.bind.port(), 9100);
    let default = settings.instance("default").unwrap();
    assert_eq!(default.host, "10.0.0.5");
    assert_eq!(default.port, 4460);
    assert_eq!(default.password.as_ref().unwrap().expose(), "from-env");
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let error = resolve(
        "bind = \"127.0.0.1:1\"\npoll_interval = 5\n",
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(error.contains("poll_interval"), "{error}");
    assert!(!error.contains('\n'), "one line: {error}");
}

#[test]
fn mistyped_port_is_named() {
    let error = resolve(
        "[[obs]]\nname = \"a\"\nport = \"abc\"\n",
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("port = \"abc\""), "{error}");
}

#[test]
fn duplicate_instance_names_are_refused() {
    let error = resolve(
        "[[obs]]\nname = \"a\"\n[[obs]]\nname = \"a\"\n",
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("`a` is declared twice"), "{error}");
}

#[test]
fn bad_values_name_their_key() {
    let bad_bind = Settings::resolve(
        None,
        Overrides {
            bind: Some("localhost".into()),
            ..Overrides::default()
        },
    )
    .unwrap_err();
    assert!(bad_bind.to_string().starts_with("OBS_HUB_BIND:"));
    let bad_backoff = resolve(
        "[timing]\nbackoff_min_ms = 9000\nbackoff_max_ms = 1000\n",
        Overrides::default(),
    )
    .unwrap_err();
    assert!(bad_backoff.to_string().contains("backoff_min_ms"));
    let bad_name = resolve("[[obs]]\nname = \"a b\"\n", Overrides::default()).unwrap_err();
    assert!(bad_name.to_string().contains("`a b`"));
}

#[test]
fn a_public_bind_needs_a_token() {
    let public = Overrides {
        bind: Some("0.0.0.0:8000".into()),
        ..Overrides::default()
    };
    let error = Settings::resolve(None, public.clone())
        .unwrap_err()
        .to_string();
    assert!(error.contains("OBS_HUB_API_TOKEN"), "{error}");
    let with_token = Overrides {
        api_tokens: Some(vec![Secret::new("0123456789abcdef0123")]),
        ..public
    };
    assert_eq!(
        Settings::resolve(None, with_token)
            .unwrap()
            .api_tokens
            .len(),
        1
    );
    let short = Overrides {
        api_tokens: Some(vec![Secret::new("short")]),
        ..Overrides::default()
    };
    assert!(Settings::resolve(None, short).is_err());
    let from_file = resolve(
        "bind = \"0.0.0.0:8000\"\napi_tokens = [\"0123456789abcdef0123\"]\n",
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(from_file.api_tokens[0].expose(), "0123456789abcdef0123");
}

#[test]
fn the_database_is_a_file_in_the_working_directory_unless_told_otherwise() {
    let defaults = Settings::resolve(None, Overrides::default()).unwrap();
    assert_eq!(defaults.database, DatabaseSettings::default());
    assert_eq!(
        defaults.database.path.as_deref(),
        Some(Path::new("obs-hub.db"))
    );
    let text = "[database]\npath = \"/var/lib/hub.db\"\nretention_days = 7\n";
    let from_file = resolve(text, Overrides::default()).unwrap();
    assert_eq!(
        from_file.database.path.as_deref(),
        Some(Path::new("/var/lib/hub.db"))
    );
    assert_eq!(
        from_file.database.retention,
        Duration::from_secs(7 * 86_400)
    );
    let env = |value: &str| Overrides {
        database: Some(value.into()),
        ..Overrides::default()
    };
    let from_env = resolve(text, env("/tmp/other.db")).unwrap();
    assert_eq!(
        from_env.database.path.as_deref(),
        Some(Path::new("/tmp/other.db"))
    );
    assert_eq!(resolve(text, env("none")).unwrap().database.path, None);
    // An empty variable is as good as unset.
    assert_eq!(
        resolve(text, env("")).unwrap().database.path.as_deref(),
        Some(Path::new("/var/lib/hub.db"))
    );
    for (text, mentions) in [
        ("[database]\nretention_days = 0\n", "retention_days"),
        ("[database]\nbusy_timeout_ms = 0\n", "busy_timeout_ms"),
        ("[database]\npath = \"\"\n", "path"),
        ("[database]\nretention = 3\n", "retention"),
    ] {
        let error = resolve(text, Overrides::default()).unwrap_err().to_string();
        assert!(error.contains(mentions), "{text}: {error}");
        assert!(!error.contains('\n'), "one line: {error}");
    }
}

/// Issue 21: a `postgres://` URL (variable, `--database` or `[database] url`) names a
/// PostgreSQL database, in a build with the `postgres` feature; without it, start-up stops with
/// one line naming the key and the feature. The password never shows in the error.
#[test]
fn a_postgres_url_picks_postgresql_where_the_feature_is_built() {
    let url = "postgres://hub:s3cret@127.0.0.1:5432/obs";
    let env = Overrides {
        database: Some(url.into()),
        ..Overrides::default()
    };
    let from_file = format!("[database]\nurl = \"{url}\"\n");
    for (result, key) in [
        (Settings::resolve(None, env), "OBS_HUB_DATABASE"),
        (resolve(&from_file, Overrides::default()), "[database] url"),
    ] {
        if cfg!(feature = "postgres") {
            let database = result.unwrap().database;
            assert_eq!(database.path, None);
            assert_eq!(
                database.location(),
                Some(DatabaseLocation::Postgres(PostgresUrl::parse(url).unwrap()))
            );
        } else {
            let error = result.unwrap_err().to_string();
            assert!(error.starts_with(key), "{error}");
            assert!(error.contains("`postgres` cargo feature"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
    for (text, mentions) in [
        (
            "[database]\npath = \"a.db\"\nurl = \"postgres://h/db\"\n",
            "not both",
        ),
        ("[database]\nurl = \"a.db\"\n", "postgres://"),
        ("[database]\nurl = \"\"\n", "url must not be empty"),
    ] {
        let error = resolve(text, Overrides::default()).unwrap_err().to_string();
        assert!(error.contains(mentions), "{text}: {error}");
    }
}

#[test]
fn origins_are_normalised_and_checked() {
    assert_eq!(
        normalize_origin("HTTPS://Dash.Example.com:443/").as_deref(),
        Some("https://dash.example.com")
    );
    assert_eq!(
        normalize_origin("http://127.0.0.1:8000").as_deref(),
        Some("http://127.0.0.1:8000")
    );
    assert_eq!(
        normalize_origin("http://[::1]:80").as_deref(),
        Some("http://[::1]")
    );
    for bad in [
        "dash.example.com",
        "ftp://dash.example.com",
        "https://dash.example.com/path",
        "https://user@dash.example.com",
        "https://dash.example.com:0",
        "https://dash.example.com:99999",
        "https://",
        "null",
    ] {
        assert_eq!(normalize_origin(bad), None, "{bad}");
    }

    let from_env = Settings::resolve(
        None,
        Overrides {
            allowed_origins: Some(vec![
                "https://Dash.Example.com".into(),
                " ".into(),
                "http://studio.lan:8080/".into(),
            ]),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(
        from_env.allowed_origins,
        ["https://dash.example.com", "http://studio.lan:8080"]
    );
    let from_file = resolve(
        "allowed_origins = [\"https://a.example\"]\n",
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(from_file.allowed_origins, ["https://a.example"]);
    let error = resolve(
        "allowed_origins = [\"a.example/x\"]\n",
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(error.starts_with("OBS_HUB_ALLOWED_ORIGINS:"), "{error}");
    assert!(error.contains("a.example/x"), "{error}");
}

#[test]
fn allowed_hosts_are_lower_case_names_from_env_or_file() {
    assert!(Settings::resolve(None, Overrides::default())
        .unwrap()
        .allowed_hosts
        .is_empty());
    let from_env = resolve(
        "allowed_hosts = [\"file.example\"]\n",
        Overrides {
            allowed_hosts: Some(vec![
                "Hub.Example.com".into(),
                " ".into(),
                "[fd00::1]".into(),
            ]),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(from_env.allowed_hosts, ["hub.example.com", "[fd00::1]"]);
    let from_file = resolve("allowed_hosts = [\"studio.lan\"]\n", Overrides::default()).unwrap();
    assert_eq!(from_file.allowed_hosts, ["studio.lan"]);
    for bad in [
        "http://hub.example.com",
        "hub.example.com:8000",
        "hub.example.com/",
        "fd00::1",
        "hub.example.com.",
    ] {
        let error = Settings::resolve(
            None,
            Overrides {
                allowed_hosts: Some(vec![bad.into()]),
                ..Overrides::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("OBS_HUB_ALLOWED_HOSTS:"), "{error}");
        assert!(error.contains(bad), "{error}");
    }
}

#[test]
fn websocket_limits_have_defaults_and_are_checked() {
    let defaults = Settings::resolve(None, Overrides::default()).unwrap();
    assert_eq!(defaults.websocket, WebSocketSettings::default());
    assert!(defaults.allowed_origins.is_empty());
    let tuned = resolve(
        "[websocket]\nping_interval_ms = 100\nclient_timeout_ms = 400\nmax_backlog = 8\n",
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        tuned.websocket,
        WebSocketSettings {
            ping_interval: Duration::from_millis(100),
            client_timeout: Duration::from_millis(400),
            max_backlog: 8,
        }
    );
    for (text, mentions) in [
        ("[websocket]\nmax_backlog = 0\n", "max_backlog"),
        ("[websocket]\nping_interval_ms = 0\n", "ping_interval_ms"),
        (
            "[websocket]\nping_interval_ms = 500\nclient_timeout_ms = 500\n",
            "client_timeout_ms",
        ),
        ("[websocket]\nping = 5\n", "ping"),
    ] {
        let error = resolve(text, Overrides::default()).unwrap_err().to_string();
        assert!(error.contains(mentions), "{text}: {error}");
    }
}

#[test]
fn http_limits_have_defaults_and_are_checked() {
    let defaults = Settings::resolve(None, Overrides::default()).unwrap();
    assert_eq!(defaults.http, HttpSettings::default());
    let tuned = resolve(
        "[http]\nbody_timeout_ms = 750\ncallback_body_limit_bytes = 2048\n\
         max_unauthenticated = 3\ncommands_per_second = 0\ncommand_burst = 5\n",
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        tuned.http,
        HttpSettings {
            body_timeout: Duration::from_millis(750),
            callback_body_limit: 2048,
            max_unauthenticated: 3,
            commands_per_second: 0,
            command_burst: 5,
        }
    );
    for (text, mentions) in [
        ("[http]\nbody_timeout_ms = 0\n", "body_timeout_ms"),
        ("[http]\nmax_unauthenticated = 0\n", "max_unauthenticated"),
        ("[http]\ncommand_burst = 0\n", "command_burst"),
        (
            "[http]\ncallback_body_limit_bytes = 0\n",
            "callback_body_limit_bytes",
        ),
        ("[http]\nbody_timeout = 5\n", "body_timeout"),
    ] {
        let error = resolve(text, Overrides::default()).unwrap_err().to_string();
        assert!(error.contains(mentions), "{text}: {error}");
    }
}

#[test]
fn the_picture_rate_has_a_default_and_is_checked() {
    let defaults = Settings::resolve(None, Overrides::default()).unwrap();
    assert_eq!(defaults.pictures.max_captures_per_second, 2);
    let tuned = resolve(
        "[pictures]\nmax_captures_per_second = 5\n",
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(tuned.pictures.max_captures_per_second, 5);
    for text in [
        "[pictures]\nmax_captures_per_second = 0\n",
        "[pictures]\nmax_captures_per_second = 31\n",
    ] {
        let error = resolve(text, Overrides::default()).unwrap_err().to_string();
        assert!(error.contains("max_captures_per_second"), "{text}: {error}");
    }
}

#[test]
fn webhooks_come_from_the_file_and_need_the_database() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let text = format!(
        "callback_secret = \"{secret}\"\n[[webhooks]]\nurl = \"http://127.0.0.1:9/in\"\n\
         secret = \"{secret}\"\n[webhook_delivery]\nconcurrency = 2\n"
    );
    let settings = resolve(&text, Overrides::default()).unwrap();
    assert_eq!(settings.webhooks.endpoints.len(), 1);
    assert_eq!(settings.webhooks.delivery.concurrency, 2);
    assert!(settings.callback_secret.is_some());
    assert!(
        !format!("{settings:?}").contains(secret),
        "secrets do not print"
    );

    let without_database = Overrides {
        database: Some(NO_DATABASE.into()),
        ..Overrides::default()
    };
    let error = resolve(&text, without_database.clone())
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("OBS_HUB_DATABASE:"), "{error}");
    let callbacks_only = Overrides {
        callback_base_url: Some("http://hub-b:8000".into()),
        ..without_database
    };
    assert!(Settings::resolve(None, callbacks_only).is_err());

    let bad_secret = Overrides {
        callback_secret: Some(Secret::new("not base64!")),
        ..Overrides::default()
    };
    let error = Settings::resolve(None, bad_secret).unwrap_err().to_string();
    assert!(error.starts_with("OBS_HUB_CALLBACK_SECRET:"), "{error}");
    assert!(!error.contains("not base64!"), "{error}");
}

#[test]
fn secrets_do_not_print() {
    let settings = Settings::resolve(
        None,
        Overrides {
            obs_password: Some(Secret::new("hunter2")),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
}

#[test]
fn instance_groups_name_configured_instances_once_each() {
    let instances = "[[obs]]\nname = \"a\"\n[[obs]]\nname = \"b\"\nport = 4460\n";
    let settings = resolve(
        &format!("{instances}[[instance_groups]]\nname = \"booths\"\ninstances = [\"b\", \"a\"]\n"),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        settings.instance_groups,
        [InstanceGroupConfig {
            name: "booths".into(),
            instances: vec!["b".into(), "a".into()],
        }]
    );
    let refused = |groups: &str| {
        resolve(&format!("{instances}{groups}"), Overrides::default())
            .unwrap_err()
            .to_string()
    };
    let unknown = refused("[[instance_groups]]\nname = \"g\"\ninstances = [\"a\", \"zz\"]\n");
    assert!(
        unknown.contains("[[instance_groups]] `g` instances: `zz` is not an [[obs]] instance"),
        "{unknown}"
    );
    let twice = refused(
        "[[instance_groups]]\nname = \"g\"\ninstances = [\"a\"]\n\
         [[instance_groups]]\nname = \"g\"\ninstances = [\"b\"]\n",
    );
    assert!(
        twice.contains("[[instance_groups]] name `g` is declared twice"),
        "{twice}"
    );
    let repeated = refused("[[instance_groups]]\nname = \"g\"\ninstances = [\"a\", \"a\"]\n");
    assert!(repeated.contains("`a` is named twice"), "{repeated}");
    let empty = refused("[[instance_groups]]\nname = \"g\"\ninstances = []\n");
    assert!(
        empty.contains("`g` instances: must name at least one"),
        "{empty}"
    );
    let bad_name = refused("[[instance_groups]]\nname = \"a b\"\ninstances = [\"a\"]\n");
    assert!(bad_name.contains("name `a b` must be"), "{bad_name}");
    let unknown_key =
        refused("[[instance_groups]]\nname = \"g\"\ninstances = [\"a\"]\ncolour = \"red\"\n");
    assert!(unknown_key.contains("colour"), "{unknown_key}");
}
