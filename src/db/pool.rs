//! Opening the database: one checked connection first (clear error, WAL on SQLite, migrations),
//! then the r2d2 pool whose every connection gets the same per-connection settings. The same
//! for both engines: [`backend::establish`] picks SQLite or PostgreSQL by the location.

use std::{fs::OpenOptions, io::ErrorKind, path::PathBuf, time::Duration};

use diesel::r2d2::{CustomizeConnection, R2D2Connection};

use super::{
    backend::{self, Conn},
    DbError,
};
use crate::config::DatabaseLocation;

pub type Pool = r2d2::Pool<Manager>;

/// SQLite's migrations (PostgreSQL's are [`backend::POSTGRES_MIGRATIONS`]).
pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations = backend::SQLITE_MIGRATIONS;

/// One writer (the DB actor) plus concurrent history reads (WAL lets readers run beside it).
const POOL_SIZE: u32 = 4;
/// A history read waits this long for a free connection, then answers 503 instead of hanging.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings each connection keeps, applied to every pooled one.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionOptions {
    /// How long a statement waits for a lock held by another connection or process.
    pub busy_timeout: Duration,
}

impl ConnectionOptions {
    fn apply(&self, conn: &mut Conn) -> diesel::QueryResult<()> {
        backend::configure(conn, self.busy_timeout)
    }
}

impl CustomizeConnection<Conn, diesel::r2d2::Error> for ConnectionOptions {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// r2d2's side of a location: opens connections of the right engine (diesel's own manager
/// would try every engine on every URL, and hide why a server refused).
#[derive(Debug)]
pub struct Manager {
    location: DatabaseLocation,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        backend::establish(&self.location).map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    /// A connection whose server went away, or left inside a broken transaction, is dropped
    /// rather than returned to the pool.
    fn has_broken(&self, conn: &mut Conn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Opens (creating the file if needed) and migrates the database, then builds the pool. Every
/// error names the file, or the server's URL without its password.
pub fn open(location: &DatabaseLocation, options: ConnectionOptions) -> Result<Pool, DbError> {
    let mut conn = establish(location, options)?;
    run_migrations(location, &mut conn)?;
    drop(conn);
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        .connection_customizer(Box::new(options))
        // r2d2 would log every failed attempt to refill the pool; the recorder reports
        // failures itself, once per change of state.
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(Manager {
            location: location.clone(),
        })
        .map_err(|error| DbError::Open {
            path: location.to_string(),
            message: error.to_string(),
        })
}

/// `obs-hub migrate`: applies pending migrations and returns their versions.
pub fn migrate(
    location: &DatabaseLocation,
    options: ConnectionOptions,
) -> Result<Vec<String>, DbError> {
    let mut conn = establish(location, options)?;
    run_migrations(location, &mut conn)
}

/// One connection, checked: every failure names the database and says what to look at.
pub fn establish(location: &DatabaseLocation, options: ConnectionOptions) -> Result<Conn, DbError> {
    let open_error = |message: String| DbError::Open {
        path: location.to_string(),
        message,
    };
    if let DatabaseLocation::Sqlite(path) = location {
        check_wal_files(path).map_err(open_error)?;
    }
    let mut conn = backend::establish(location).map_err(|error| {
        open_error(match location {
            DatabaseLocation::Sqlite(_) => {
                format!("{error} (does the directory exist, and may the hub write there?)")
            }
            DatabaseLocation::Postgres(_) => format!(
                "{} (is the server running, does the database exist, may this user use it?)",
                error.to_string().trim_end()
            ),
        })
    })?;
    options
        .apply(&mut conn)
        .map_err(|error| open_error(error.to_string()))?;
    if let DatabaseLocation::Sqlite(path) = location {
        let mode = backend::enable_wal(&mut conn).map_err(|error| open_error(error.to_string()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!(
                "database {}: journal mode is {mode}, not wal (a filesystem without shared memory?); \
                 history reads may wait for writes",
                path.display()
            );
        }
    }
    Ok(conn)
}

/// WAL mode appends to `<db>-wal` and maps `<db>-shm` into memory, shared by every connection.
/// One that exists but cannot be written (immutable, on a read-only mount, a directory in its
/// place) would otherwise surface as "attempt to write a readonly database" from a migration or
/// the first write, naming neither. Checked before opening (opening for writing neither creates
/// nor truncates), so the operator is told which file. (A -shm truncated later, under the running
/// hub, is [`super::sigbus`]'s business.)
fn check_wal_files(path: &std::path::Path) -> Result<(), String> {
    for (suffix, what) in [("-wal", "write-ahead log"), ("-shm", "shared-memory file")] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        match OpenOptions::new().write(true).open(&file) {
            Err(error) if error.kind() != ErrorKind::NotFound => {
                return Err(format!(
                    "its {what} {} cannot be written ({error}); make it writable (chattr -i, \
                     chmod, a writable mount) or, while no program uses the database, remove it",
                    file.display()
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

fn run_migrations(location: &DatabaseLocation, conn: &mut Conn) -> Result<Vec<String>, DbError> {
    backend::run_pending_migrations(conn).map_err(|error| DbError::Migration {
        path: location.to_string(),
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use diesel::migration::MigrationSource;
    use diesel::{sql_query, sql_types::Text, QueryableByName, RunQueryDsl};
    use diesel_migrations::MigrationHarness;

    use super::*;
    use crate::db::{
        backend::{engine, migrations, per_backend, Engine},
        testing::{on_both_backends, TestDb},
    };

    #[derive(QueryableByName)]
    struct TableName {
        #[diesel(sql_type = Text)]
        name: String,
    }

    /// The hub's tables (not the engine's own, nor diesel's bookkeeping).
    fn tables(conn: &mut Conn) -> Vec<String> {
        let sql = match engine(conn) {
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%' ORDER BY name"
            }
            Engine::Postgres => {
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' \
                 AND tablename NOT LIKE '__diesel%' ORDER BY tablename"
            }
        };
        per_backend!(conn, |c| sql_query(sql).load::<TableName>(c))
            .expect("lists tables")
            .into_iter()
            .map(|table| table.name)
            .collect()
    }

    fn options() -> ConnectionOptions {
        ConnectionOptions {
            busy_timeout: Duration::from_secs(5),
        }
    }

    on_both_backends! {
        fn migrations_apply_to_an_empty_database_and_again_change_nothing(backend) {
            let db = TestDb::empty(backend);
            let applied = migrate(&db.location, options()).expect("applies");
            let pool = open(&db.location, options()).expect("the pool opens a migrated database");
            let mut conn = pool.get().expect("a connection");
            // Every migration of this engine's set (the backend parameter only types the call).
            let all = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&migrations(&conn))
                .expect("embedded");
            assert_eq!(applied.len(), all.len());
            assert!(migrate(&db.location, options()).expect("no-op").is_empty());
            let created = tables(&mut conn);
            for table in [
                "api_tokens",
                "audit_entries",
                "events",
                "instances",
                "output_sessions",
                "scenes",
                "webhook_attempts",
                "webhook_deliveries",
                "webhook_endpoints",
            ] {
                assert!(
                    created.iter().any(|name| name == table),
                    "{table} in {created:?}"
                );
            }
            if backend == crate::db::testing::Backend::Sqlite {
                assert_eq!(backend::journal_mode_in_force(&mut conn).unwrap(), "wal");
            }
        }
    }

    on_both_backends! {
        /// Each migration is applied over the schema of the ones before it, reverted, and
        /// applied again; then everything goes down and up. A future migration is covered as
        /// it is added.
        fn every_migration_goes_down_and_up_over_the_previous_schema(backend) {
            let db = TestDb::empty(backend);
            let mut conn = db.connect();
            loop {
                let pending = conn.pending_migrations(migrations(&conn)).expect("pending");
                let Some(next) = pending.first() else { break };
                let before = tables(&mut conn);
                conn.run_migration(next.as_ref()).expect("up");
                conn.revert_last_migration(migrations(&conn)).expect("down");
                assert_eq!(tables(&mut conn), before, "down undoes up exactly");
                conn.run_migration(next.as_ref()).expect("up again");
            }
            let complete = tables(&mut conn);
            conn.revert_all_migrations(migrations(&conn)).expect("all down");
            assert!(tables(&mut conn).is_empty());
            conn.run_pending_migrations(migrations(&conn)).expect("all up");
            assert_eq!(tables(&mut conn), complete);
        }
    }

    /// Both engines have the same migrations, by version: a migration added to one and not the
    /// other fails here.
    #[cfg(feature = "postgres")]
    #[test]
    fn both_engines_have_the_same_migrations() {
        let versions = |source: diesel_migrations::EmbeddedMigrations| -> Vec<String> {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&source)
                .expect("embedded")
                .iter()
                .map(|m| m.name().version().to_string())
                .collect()
        };
        assert_eq!(
            versions(backend::SQLITE_MIGRATIONS),
            versions(backend::POSTGRES_MIGRATIONS)
        );
    }

    fn failure(path: &Path) -> String {
        match open(&DatabaseLocation::Sqlite(path.to_path_buf()), options()) {
            Ok(_) => panic!("{} opened", path.display()),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_database_that_cannot_be_opened_is_a_clear_error() {
        let error = failure(Path::new("/nonexistent/dir/hub.db"));
        assert!(error.contains("/nonexistent/dir/hub.db"), "{error}");
        assert!(error.contains("directory"), "{error}");
        let dir = tempfile::tempdir().expect("temp dir");
        let garbage = dir.path().join("not-a-db");
        std::fs::write(
            &garbage,
            "this is not SQLite, just some text long enough to matter ".repeat(100),
        )
        .expect("writes");
        let error = failure(&garbage);
        assert!(error.contains("not-a-db"), "{error}");
    }

    /// A companion file SQLite cannot write is named (a directory in its place reproduces it
    /// for any user; root ignores permission bits).
    #[test]
    fn an_unwritable_wal_or_shared_memory_file_is_named() {
        for suffix in ["-shm", "-wal"] {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("hub.db");
            migrate(&DatabaseLocation::Sqlite(path.clone()), options()).expect("a sound database");
            let companion = dir.path().join(format!("hub.db{suffix}"));
            let _ = std::fs::remove_file(&companion);
            std::fs::create_dir(&companion).expect("a directory in its place");
            let error = failure(&path);
            assert!(
                error.contains(&format!("{} cannot be written", companion.display())),
                "{error}"
            );
        }
    }
}
