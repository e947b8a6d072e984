//! `WebhookStore`: the webhook tables' side of the dispatcher's
//! [`Writer`](crate::db::write_behind::Writer) thread, so that SQLite's blocking calls never run
//! on the dispatcher's thread, the status manager's or an HTTP worker's. One job = one
//! transaction.
//!
//! Batches (new deliveries, attempt outcomes) go through [`write_batch`]: a row the database
//! refuses for good (a constraint) is left out and reported, and the rest is written. Only
//! passing failures (a lock, a full disk) fail the whole batch, which the dispatcher retries.

use crate::db::backend::Conn;
use actix::MailboxError;
use diesel::{
    result::{DatabaseErrorKind, Error as QueryError},
    Connection, QueryResult,
};

use std::sync::Arc;

use super::{
    claims::Claims,
    store::{self, AttemptOutcome, NewDelivery},
};
use crate::db::{backend, pool::Pool};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("webhook store: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("webhook store: no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("webhook store: the writer thread stopped")]
    Stopped,
    #[error("webhook store: the database refused the row: {0}")]
    Refused(String),
}

impl From<MailboxError> for StoreError {
    fn from(_: MailboxError) -> Self {
        Self::Stopped
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The rows of a batch the database refused for good: their index in the batch, and why.
pub type Refused = Vec<(usize, String)>;

/// What the dispatcher's writer thread holds.
#[derive(Clone)]
pub struct WebhookStore {
    pool: Pool,
    /// In a cluster: this node's claims on the deliveries it stores and works on.
    claims: Option<Claims>,
}

impl WebhookStore {
    pub fn new(pool: Pool, claims: Option<Claims>) -> Self {
        Self { pool, claims }
    }

    /// Stores new deliveries (claimed by this node in a cluster) through [`write_batch`].
    pub fn write_deliveries(&self, deliveries: &[NewDelivery]) -> StoreResult<Refused> {
        let claims = self.claims.clone();
        self.write_rows(deliveries, move |conn, rows| {
            store::insert_deliveries(conn, rows)?;
            match &claims {
                Some(claims) => {
                    let ids: Vec<&str> = rows.iter().map(|row| &*row.id).collect();
                    claims.claim(conn, &ids)
                }
                None => Ok(()),
            }
        })
    }

    /// Records attempts through [`write_batch`]; in a cluster only those of deliveries this
    /// node still has claimed.
    pub fn write_outcomes(&self, outcomes: &[AttemptOutcome]) -> StoreResult<Refused> {
        let node = self.claims.as_ref().map(|claims| Arc::clone(&claims.node));
        self.write_rows(outcomes, move |conn, rows| {
            store::record_outcomes_claimed(conn, rows, node.as_deref())
        })
    }

    /// One write transaction.
    pub fn transaction<T>(&self, work: impl FnOnce(&mut Conn) -> QueryResult<T>) -> StoreResult<T> {
        let mut conn = self.pool.get()?;
        Ok(backend::write_transaction(&mut conn, work)?)
    }

    /// A batch through [`write_batch`].
    pub fn write_rows<T, R>(
        &self,
        rows: &[T],
        write: impl Fn(&mut Conn, &[T]) -> QueryResult<R>,
    ) -> StoreResult<Refused> {
        let mut conn = self.pool.get()?;
        Ok(write_batch(&mut conn, rows, write)?)
    }
}

/// Whether the database refuses this row for good: writing it again can never succeed, so
/// retrying the batch that holds it would fail forever.
fn refuses_the_row(error: &QueryError) -> bool {
    matches!(
        error,
        QueryError::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation,
            _
        )
    )
}

/// Writes `rows` with `write` in one write transaction. When the database refuses a row for
/// good, the batch is written again row by row (each in a savepoint of one transaction), leaving
/// out the refused rows, which are answered. Any other failure fails the batch as a whole.
pub fn write_batch<T, R>(
    conn: &mut Conn,
    rows: &[T],
    write: impl Fn(&mut Conn, &[T]) -> QueryResult<R>,
) -> QueryResult<Refused> {
    match backend::write_transaction(conn, |conn| write(conn, rows)) {
        Ok(_) => return Ok(Vec::new()),
        Err(error) if !refuses_the_row(&error) => return Err(error),
        Err(_) => {}
    }
    backend::write_transaction(conn, |conn| {
        let mut refused = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            // Nested: a savepoint, so a refused row leaves nothing half-written behind.
            match conn.transaction(|conn| write(conn, std::slice::from_ref(row))) {
                Ok(_) => {}
                Err(error) if refuses_the_row(&error) => refused.push((index, error.to_string())),
                Err(error) => return Err(error),
            }
        }
        Ok(refused)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::store::{
        self,
        tests::{on_both_backends, test_db_on},
        NewDelivery,
    };
    use chrono::Utc;
    use diesel::RunQueryDsl;

    fn delivery(id: &str, endpoint_id: &str) -> NewDelivery {
        NewDelivery {
            id: id.into(),
            endpoint_id: endpoint_id.into(),
            event_type: "scene_changed".into(),
            body: "{}".into(),
            created_at: Utc::now(),
        }
    }

    on_both_backends! {
        fn a_row_the_database_refuses_is_left_out_and_the_rest_written(backend) {
            let (_db, mut conn) = test_db_on(backend);
            if backend == Backend::Sqlite {
                // (PostgreSQL always checks foreign keys.)
                diesel::sql_query("PRAGMA foreign_keys = ON")
                    .execute(&mut conn)
                    .unwrap();
            }
            let endpoint = crate::webhooks::endpoint::DeclaredEndpoint::receiver(
                "http://127.0.0.1:9/in",
                crate::webhooks::signing::generate_secret(),
            );
            store::sync_declared(&mut conn, &[endpoint], Utc::now()).unwrap();
            let id = store::all_endpoints(&mut conn).unwrap()[0].id.clone();
            // The middle one names an endpoint that does not exist (deleted meanwhile).
            let batch = [
                delivery("msg_a", &id),
                delivery("msg_b", "ep_deleted"),
                delivery("msg_c", &id),
            ];
            let refused = write_batch(&mut conn, &batch, store::insert_deliveries).unwrap();
            assert_eq!(refused.len(), 1);
            assert_eq!(refused[0].0, 1);
            assert!(
                refused[0].1.to_lowercase().contains("foreign key"),
                "{}",
                refused[0].1
            );
            let pending: Vec<String> = store::pending_deliveries(&mut conn)
                .unwrap()
                .iter()
                .map(|d| d.id.to_string())
                .collect();
            assert_eq!(pending, ["msg_a", "msg_c"]);
            // Written again (a retry): refused for good, never a failed batch.
            let again = write_batch(&mut conn, &batch[..1], store::insert_deliveries).unwrap();
            assert_eq!(again.len(), 1, "the same id twice is refused too");
        }
    }
}
