//! Test support (unit tests only): a migrated database on either engine, and
//! [`on_both_backends!`], which turns one test body into a test per engine. The PostgreSQL
//! server is the hub tests' harness (`tests/common/postgres.rs`), included here.

use super::{backend::Conn, pool};
use crate::config::{DatabaseLocation, PostgresUrl};

#[path = "../../tests/common/postgres.rs"]
pub mod postgres;

/// The engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A test's database: its location, and the temporary directory of an SQLite file.
pub struct TestDb {
    pub location: DatabaseLocation,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty database (not migrated).
    pub fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                Self {
                    location: DatabaseLocation::Sqlite(dir.path().join("test.db")),
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let database = postgres::fresh_database();
                Self {
                    location: DatabaseLocation::Postgres(
                        PostgresUrl::parse(&database.url).expect("a postgres URL"),
                    ),
                    _dir: None,
                }
            }
        }
    }

    /// Another connection to it, as a second process would open one.
    pub fn connect(&self) -> Conn {
        super::backend::establish(&self.location).expect("opens")
    }
}

/// A migrated database on `backend` and a connection to it (the guard keeps it).
pub fn test_db_on(backend: Backend) -> (TestDb, Conn) {
    let db = TestDb::empty(backend);
    let options = pool::ConnectionOptions {
        busy_timeout: std::time::Duration::from_secs(5),
    };
    pool::migrate(&db.location, options).expect("migrations apply to an empty database");
    let conn = db.connect();
    (db, conn)
}

/// `on_both_backends! { fn name(backend) { ... } }`: a module `name` with the tests `sqlite`
/// and `postgres`, each running the body on its engine. The PostgreSQL one is ignored where
/// it cannot run (no `postgres` feature, or no PostgreSQL binaries on the machine).
macro_rules! on_both_backends {
    ($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::db::testing::Backend;

            fn body($backend: Backend) $body

            #[test]
            fn sqlite() {
                body(Backend::Sqlite)
            }

            #[test]
            #[cfg_attr(
                any(not(feature = "postgres"), postgres_missing),
                ignore = "needs PostgreSQL (run by .ci/run: cargo test --features postgres postgres)"
            )]
            fn postgres() {
                body(Backend::Postgres)
            }
        }
    };
}
pub(crate) use on_both_backends;
