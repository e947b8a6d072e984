//! Opening the database: one checked connection first (clear error, WAL, migrations), then the
//! r2d2 pool whose every connection gets the same per-connection settings.

use std::{
    fs::OpenOptions,
    io::ErrorKind,
    path::{Path, PathBuf},
    time::Duration,
};

use diesel::{
    r2d2::{ConnectionManager, CustomizeConnection},
    Connection, SqliteConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{backend, DbError};

pub type Pool = r2d2::Pool<ConnectionManager<SqliteConnection>>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// One writer (the DB actor) plus concurrent history reads (WAL lets readers run beside it).
const POOL_SIZE: u32 = 4;
/// A history read waits this long for a free connection, then answers 503 instead of hanging.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings SQLite keeps per connection, applied to every pooled one.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionOptions {
    /// How long a statement waits for a lock held by another connection or process.
    pub busy_timeout: Duration,
}

impl ConnectionOptions {
    fn apply(&self, conn: &mut SqliteConnection) -> diesel::QueryResult<()> {
        backend::configure(conn, self.busy_timeout)
    }
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for ConnectionOptions {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Opens (creating if needed) and migrates the database, then builds the pool. Every error
/// names the file.
pub fn open(path: &Path, options: ConnectionOptions) -> Result<Pool, DbError> {
    let url = database_url(path)?;
    let mut conn = establish(path, &url, options)?;
    run_migrations(path, &mut conn)?;
    drop(conn);
    r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        .connection_customizer(Box::new(options))
        // r2d2 would log every failed attempt to refill the pool; the recorder reports
        // failures itself, once per change of state.
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(ConnectionManager::new(url))
        .map_err(|error| DbError::Open {
            path: path.display().to_string(),
            message: error.to_string(),
        })
}

/// `obs-hub migrate`: applies pending migrations and returns their versions.
pub fn migrate(path: &Path, options: ConnectionOptions) -> Result<Vec<String>, DbError> {
    let url = database_url(path)?;
    let mut conn = establish(path, &url, options)?;
    run_migrations(path, &mut conn)
}

fn database_url(path: &Path) -> Result<String, DbError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| DbError::Open {
            path: path.display().to_string(),
            message: "the path is not valid UTF-8".to_string(),
        })
}

fn establish(
    path: &Path,
    url: &str,
    options: ConnectionOptions,
) -> Result<SqliteConnection, DbError> {
    let open_error = |message: String| DbError::Open {
        path: path.display().to_string(),
        message,
    };
    check_wal_files(path).map_err(open_error)?;
    let mut conn = SqliteConnection::establish(url).map_err(|error| {
        open_error(format!(
            "{error} (does the directory exist, and may the hub write there?)"
        ))
    })?;
    options
        .apply(&mut conn)
        .map_err(|error| open_error(error.to_string()))?;
    let mode = backend::enable_wal(&mut conn).map_err(|error| open_error(error.to_string()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        log::warn!(
            "database {}: journal mode is {mode}, not wal (a filesystem without shared memory?); \
             history reads may wait for writes",
            path.display()
        );
    }
    Ok(conn)
}

/// WAL mode appends to `<db>-wal` and maps `<db>-shm` into memory, shared by every connection.
/// One that exists but cannot be written (immutable, on a read-only mount, a directory in its
/// place) would otherwise surface as "attempt to write a readonly database" from a migration or
/// the first write, naming neither. Checked before opening (opening for writing neither creates
/// nor truncates), so the operator is told which file. (A -shm truncated later, under the running
/// hub, is [`super::sigbus`]'s business.)
fn check_wal_files(path: &Path) -> Result<(), String> {
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

fn run_migrations(path: &Path, conn: &mut SqliteConnection) -> Result<Vec<String>, DbError> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|error| DbError::Migration {
            path: path.display().to_string(),
            message: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use diesel::migration::MigrationSource;
    use diesel::sqlite::Sqlite;
    use diesel::{sql_query, sql_types::Text, QueryableByName, RunQueryDsl};

    use super::*;

    #[derive(QueryableByName)]
    struct TableName {
        #[diesel(sql_type = Text)]
        name: String,
    }

    fn tables(conn: &mut SqliteConnection) -> Vec<String> {
        sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%' ORDER BY name",
        )
        .load::<TableName>(conn)
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

    #[test]
    fn migrations_apply_to_an_empty_database_and_again_change_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fresh.db");
        let applied = migrate(&path, options()).expect("applies");
        let all = MigrationSource::<Sqlite>::migrations(&MIGRATIONS).expect("embedded");
        assert_eq!(applied.len(), all.len());
        assert!(migrate(&path, options()).expect("no-op").is_empty());
        let pool = open(&path, options()).expect("the pool opens a migrated database");
        let mut conn = pool.get().expect("a connection");
        let created = tables(&mut conn);
        for table in ["events", "instances", "output_sessions", "scenes"] {
            assert!(
                created.iter().any(|name| name == table),
                "{table} in {created:?}"
            );
        }
        assert_eq!(backend::journal_mode_in_force(&mut conn).unwrap(), "wal");
    }

    /// Each migration is applied over the schema of the ones before it, reverted, and applied
    /// again; then everything goes down and up. A future migration is covered as it is added.
    #[test]
    fn every_migration_goes_down_and_up_over_the_previous_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = dir.path().join("steps.db");
        let mut conn = SqliteConnection::establish(url.to_str().expect("utf-8")).expect("opens");
        loop {
            let pending = conn.pending_migrations(MIGRATIONS).expect("pending");
            let Some(next) = pending.first() else { break };
            let before = tables(&mut conn);
            conn.run_migration(next.as_ref()).expect("up");
            conn.revert_last_migration(MIGRATIONS).expect("down");
            assert_eq!(tables(&mut conn), before, "down undoes up exactly");
            conn.run_migration(next.as_ref()).expect("up again");
        }
        let complete = tables(&mut conn);
        conn.revert_all_migrations(MIGRATIONS).expect("all down");
        assert!(tables(&mut conn).is_empty());
        conn.run_pending_migrations(MIGRATIONS).expect("all up");
        assert_eq!(tables(&mut conn), complete);
    }

    fn failure(path: &Path) -> String {
        match open(path, options()) {
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
            migrate(&path, options()).expect("a sound database");
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
