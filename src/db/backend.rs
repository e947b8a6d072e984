//! Everything that is particular to SQLite, in one place: the connection type, the settings
//! SQLite keeps per connection (pragmas), the journal mode, and how a write transaction takes
//! its lock. The queries themselves are portable diesel (the schema keeps to column types both
//! SQLite and PostgreSQL map; `ON CONFLICT` is both's), so a PostgreSQL backend is this file
//! again, plus its migrations.

use std::time::Duration;

use diesel::{
    connection::SimpleConnection, sql_query, sql_types::Text, QueryResult, QueryableByName,
    RunQueryDsl, SqliteConnection,
};

/// The connection every query runs on.
pub type Conn = SqliteConnection;

/// The per-connection settings, applied to every pooled connection.
pub fn configure(conn: &mut Conn, busy_timeout: Duration) -> QueryResult<()> {
    // synchronous=NORMAL is safe in WAL mode: a commit survives the process being killed;
    // only an OS crash or power loss can lose the last transactions, never corrupt the file.
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        busy_timeout.as_millis()
    ))
}

/// Asks for write-ahead logging (kept in the file itself, so once at start is enough: readers
/// then never block the writer, nor it them); answers the journal mode in force.
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
    sql_query(pragma)
        .get_result::<JournalMode>(conn)
        .map(|row| row.journal_mode)
}

/// A transaction that writes. IMMEDIATE takes the write lock up front: waiting for it honours
/// busy_timeout, where a deferred transaction could fail to upgrade its read lock halfway
/// through a batch.
pub fn write_transaction<T, E>(
    conn: &mut Conn,
    work: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    conn.immediate_transaction(work)
}
