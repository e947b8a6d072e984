//! Everything that is particular to one database engine, in one place: the connection type
//! ([`Conn`]), opening one ([`establish`]), the settings each engine keeps per connection, the
//! journal mode (SQLite), how a write transaction takes its lock, and the migrations of each.
//!
//! SQLite is always built in. PostgreSQL is the cargo feature `postgres` (it links libpq): with
//! it, [`Conn`] is an enum over both connections (diesel's `MultiConnection`), so every query in
//! [`super::queries`] is written once and runs on either. The few statements diesel cannot
//! express for both at once (`ON CONFLICT`, SQLite's pragmas) go through [`per_backend!`],
//! which runs the same code on the concrete connection. The schema keeps to column types both
//! engines map (see `schema.rs`).

use std::time::Duration;

use diesel::{
    connection::SimpleConnection, sql_query, sql_types::Text, Connection, QueryResult,
    QueryableByName, RunQueryDsl, SqliteConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseLocation;

/// SQLite's migrations (`migrations/`).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
/// PostgreSQL's twins of the same migrations (`migrations-postgres/`, same version names).
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations-postgres");

/// The connection every query runs on: SQLite only in the default build.
#[cfg(not(feature = "postgres"))]
pub type Conn = SqliteConnection;

/// The connection every query runs on: SQLite or PostgreSQL, chosen by the configured location.
#[cfg(feature = "postgres")]
#[derive(diesel::MultiConnection)]
pub enum Conn {
    Sqlite(SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection inside a [`Conn`]: for statements
/// diesel's multi-backend cannot build (`ON CONFLICT`, raw pragmas). The body is compiled once
/// per engine.
#[cfg(not(feature = "postgres"))]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {{
        let $c: &mut diesel::SqliteConnection = $conn;
        $body
    }};
}

#[cfg(feature = "postgres")]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::backend::Conn::Sqlite($c) => $body,
            $crate::db::backend::Conn::Postgres($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// Which engine a connection talks to (for the few things that differ at run time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub fn engine(conn: &Conn) -> Engine {
    #[cfg(feature = "postgres")]
    if let Conn::Postgres(_) = conn {
        return Engine::Postgres;
    }
    let _ = conn;
    Engine::Sqlite
}

/// Opens one connection to `location`. The error text never holds a PostgreSQL password:
/// libpq's messages name the host and port, not the URL.
pub fn establish(location: &DatabaseLocation) -> diesel::ConnectionResult<Conn> {
    match location {
        DatabaseLocation::Sqlite(path) => {
            let url = path.to_str().ok_or_else(|| {
                diesel::ConnectionError::InvalidConnectionUrl(
                    "the path is not valid UTF-8".to_string(),
                )
            })?;
            #[allow(clippy::useless_conversion)]
            SqliteConnection::establish(url).map(Conn::from)
        }
        #[cfg(feature = "postgres")]
        DatabaseLocation::Postgres(url) => {
            diesel::PgConnection::establish(url.expose()).map(Conn::Postgres)
        }
        #[cfg(not(feature = "postgres"))]
        DatabaseLocation::Postgres(_) => Err(diesel::ConnectionError::InvalidConnectionUrl(
            crate::config::POSTGRES_FEATURE_MISSING.to_string(),
        )),
    }
}

#[cfg(feature = "postgres")]
impl From<SqliteConnection> for Conn {
    fn from(conn: SqliteConnection) -> Self {
        Conn::Sqlite(conn)
    }
}

/// The per-connection settings, applied to every pooled connection.
pub fn configure(conn: &mut Conn, busy_timeout: Duration) -> QueryResult<()> {
    match engine(conn) {
        // synchronous=NORMAL is safe in WAL mode: a commit survives the process being killed;
        // only an OS crash or power loss can lose the last transactions, never corrupt the file.
        Engine::Sqlite => conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            busy_timeout.as_millis()
        )),
        // The same bound on waiting for a row lock held by another session (the hub's one
        // writer never waits on itself); times are written as UTC `timestamp`s, so the
        // session's time zone plays no part.
        Engine::Postgres => {
            conn.batch_execute(&format!("SET lock_timeout = {}", busy_timeout.as_millis()))
        }
    }
}

/// Asks for write-ahead logging (kept in the file itself, so once at start is enough: readers
/// then never block the writer, nor it them); answers the journal mode in force. PostgreSQL
/// has its own (always "wal").
pub fn enable_wal(conn: &mut Conn) -> QueryResult<String> {
    journal_mode(conn, "PRAGMA journal_mode = WAL")
}

/// The journal mode in force.
pub fn journal_mode_in_force(conn: &mut Conn) -> QueryResult<String> {
    journal_mode(conn, "PRAGMA journal_mode")
}

#[derive(QueryableByName)]
struct JournalMode {
    #[diesel(sql_type = Text)]
    journal_mode: String,
}

fn journal_mode(conn: &mut Conn, pragma: &str) -> QueryResult<String> {
    if engine(conn) == Engine::Postgres {
        return Ok("wal".to_string());
    }
    per_backend!(conn, |c| sql_query(pragma)
        .get_result::<JournalMode>(c)
        .map(|row| row.journal_mode))
}

/// A transaction that writes. On SQLite, IMMEDIATE takes the write lock up front: waiting for
/// it honours busy_timeout, where a deferred transaction could fail to upgrade its read lock
/// halfway through a batch. PostgreSQL's row locks need nothing of the kind.
#[cfg(not(feature = "postgres"))]
pub fn write_transaction<T, E>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.immediate_transaction(work)
}

/// A transaction that writes: as above, on the engine the connection has.
#[cfg(feature = "postgres")]
pub fn write_transaction<T, E>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <Conn as Connection>::TransactionManager;
    match conn {
        Conn::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        Conn::Postgres(_) => Manager::begin_transaction(conn)?,
    }
    // The multi-connection's manager delegates to the inner connection's, so the commit or
    // rollback below closes the transaction begun above, whichever way it was begun.
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            // As diesel's own transactions do: a rollback that fails breaks the connection
            // (r2d2 then drops it), and its error is the one worth reporting.
            match Manager::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
                Err(rollback) => Err(rollback.into()),
            }
        }
    }
}

/// The embedded migrations of the connection's engine.
#[cfg(not(feature = "postgres"))]
pub fn migrations(_conn: &Conn) -> EmbeddedMigrations {
    SQLITE_MIGRATIONS
}

/// The embedded migrations of the connection's engine.
#[cfg(feature = "postgres")]
pub fn migrations(conn: &Conn) -> EmbeddedMigrations {
    match conn {
        Conn::Sqlite(_) => SQLITE_MIGRATIONS,
        Conn::Postgres(_) => POSTGRES_MIGRATIONS,
    }
}

/// Applies every pending migration of the connection's engine; answers their versions.
pub fn run_pending_migrations(conn: &mut Conn) -> diesel::migration::Result<Vec<String>> {
    let migrations = migrations(conn);
    per_backend!(conn, |c| c
        .run_pending_migrations(migrations)
        .map(|versions| versions.iter().map(ToString::to_string).collect()))
}
