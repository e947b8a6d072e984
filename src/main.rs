use std::process::ExitCode;

use clap::Parser;
use obs_hub::{
    app::Application,
    cli::{Cli, Command, MigrateArgs},
    config::Settings,
    demo,
    open_files::Outcome,
};

/// Exit code for bad configuration, as clap uses for bad arguments.
const EXIT_BAD_CONFIG: u8 = 2;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            // One line naming the key and the problem, not clap's multi-line essay.
            let rendered = error.to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("obs-hub: {}", first.trim_start_matches("error: "));
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    match cli.command {
        Command::Serve(args) => {
            let settings =
                match obs_hub::app::load_settings(args.config.as_deref(), args.overrides()) {
                    Ok(settings) => settings,
                    Err(error) => {
                        eprintln!("obs-hub: {error}");
                        return ExitCode::from(EXIT_BAD_CONFIG);
                    }
                };
            serve(settings)
        }
        Command::Demo(args) => serve_demo(args),
        Command::Migrate(args) => migrate(&args),
        Command::Doctor(args) => {
            match obs_hub::app::load_settings(args.serve.config.as_deref(), args.serve.overrides())
            {
                Ok(settings) => doctor(settings, args.require_hub),
                Err(error) => {
                    eprintln!("obs-hub: {error}");
                    ExitCode::from(EXIT_BAD_CONFIG)
                }
            }
        }
    }
}

#[actix_web::main]
async fn serve(settings: Settings) -> ExitCode {
    let bind = settings.bind;
    // Each connection is a file descriptor: a low soft limit would let a crowd of slow clients
    // lock everyone out (issue 10).
    match obs_hub::open_files::raise_soft_limit() {
        Outcome::Raised { from, to } => log::info!("open files limit raised from {from} to {to}"),
        Outcome::Failed => log::warn!("could not raise the open files limit; running with it"),
        Outcome::AlreadyAtHard(_) | Outcome::Unsupported => {}
    }
    let app = match Application::build(settings) {
        Ok(app) => app,
        // A certificate that cannot be read is a setting to fix, like a bad value.
        Err(error @ (obs_hub::app::StartError::Tls(_) | obs_hub::app::StartError::Webhooks(_))) => {
            eprintln!("obs-hub: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
        Err(error) => {
            eprintln!("obs-hub: {error}");
            return ExitCode::FAILURE;
        }
    };
    match app.tls() {
        Some(identity) => {
            log::info!("obs-hub listening on https://{}:{}", bind.ip(), app.port());
            // On stdout as well as the log: the user compares it with what the phone's browser
            // shows before trusting the certificate.
            println!(
                "obs-hub: HTTPS certificate {} SHA-256 fingerprint {}",
                identity.cert_path.display(),
                identity.fingerprint
            );
        }
        None => log::info!("obs-hub listening on http://{}:{}", bind.ip(), app.port()),
    }
    obs_hub::systemd::notify_ready();
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("obs-hub: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}

#[actix_web::main]
async fn doctor(settings: Settings, require_hub: bool) -> ExitCode {
    let checks = obs_hub::doctor::run(&settings, require_hub).await;
    for check in &checks {
        println!("{check}");
    }
    let failed = checks.iter().filter(|check| !check.ok).count();
    if failed == 0 {
        println!("\nall {} checks passed", checks.len());
        ExitCode::SUCCESS
    } else {
        println!("\n{failed} of {} checks failed", checks.len());
        ExitCode::FAILURE
    }
}

/// `obs-hub migrate`: creates or updates the history database, then exits.
fn migrate(args: &MigrateArgs) -> ExitCode {
    let settings = match obs_hub::app::load_settings(args.config.as_deref(), args.overrides()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("obs-hub: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let Some(location) = settings.database.location() else {
        eprintln!("obs-hub: OBS_HUB_DATABASE is `none`: there is no database to migrate");
        return ExitCode::from(EXIT_BAD_CONFIG);
    };
    let options = obs_hub::db::pool::ConnectionOptions {
        busy_timeout: settings.database.busy_timeout,
    };
    // `location` prints a PostgreSQL URL without its password.
    match obs_hub::db::pool::migrate(&location, options) {
        Ok(applied) if applied.is_empty() => {
            println!("database {location}: schema already up to date");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!("database {location}: applied {}", applied.join(", "));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("obs-hub: {error}");
            ExitCode::FAILURE
        }
    }
}

#[actix_web::main]
async fn serve_demo(args: obs_hub::cli::DemoArgs) -> ExitCode {
    let show = !args.no_show;
    let (fake, mut settings) = match demo::start_simulation(&args.bind).await {
        Ok(started) => started,
        Err(error) => {
            eprintln!("obs-hub: {error}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let (database, temporary) = demo::database(args.database);
    settings.database.path = Some(database.clone());
    if let Some(token) = args.api_token {
        if token.trim().len() < 16 {
            eprintln!("obs-hub: --api-token must be at least 16 characters");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
        settings.api_tokens = vec![obs_hub::config::Secret::new(token.trim())];
    }
    if let Some(rate) = args.commands_per_second {
        settings.http.commands_per_second = rate;
    }
    let bind_ip = settings.bind.ip();
    // The show's pause button exists only when there is a show to pause.
    let control = show.then(demo::ShowControl::default);
    let app = match Application::build_with_demo(settings, control.clone()) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("obs-hub: {error}");
            return ExitCode::FAILURE;
        }
    };
    // The port bound, not the one asked for (`--bind 127.0.0.1:0` picks a free one).
    let address = std::net::SocketAddr::new(bind_ip, app.port());
    log::info!("obs-hub listening on http://{address}");
    let show_text = if show {
        "Scenes switch, a stream and a recording run on their own (--no-show: only when you act)."
    } else {
        "No scripted show (--no-show): the simulated OBS changes only when you act."
    };
    println!(
        "obs-hub demo: SIMULATION. The hub is connected to a built-in simulated OBS Studio on \
         port {}, not a real one.\n{show_text}\nTry: curl http://{address}/api/stream-status/",
        fake.port()
    );
    // Without the show, the simulated OBS is kept here until the demo ends.
    let _simulation = match control {
        Some(control) => {
            actix_web::rt::spawn(demo::run_show(fake, control));
            None
        }
        None => Some(fake),
    };
    let served = app.run_until_stopped().await;
    if temporary {
        demo::remove_database(&database);
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("obs-hub: server failed: {error}");
            ExitCode::FAILURE
        }
    }
}
