use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{
    schema::audit_entries,
    source::audit::{AuditForm, AuditRow},
};

/// SQLite allows 32766 bound values per statement; 10 per row.
const ROWS_PER_INSERT: usize = 1_000;

pub fn insert(conn: &mut SqliteConnection, rows: &[AuditForm]) -> QueryResult<usize> {
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        written += diesel::insert_into(audit_entries::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(written)
}

/// A page of the audit trail, newest first (the filters of the history routes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    pub instance: Option<String>,
    /// `token:<name>` or `rule:<name>`.
    pub actor: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub fn page(conn: &mut SqliteConnection, query: &AuditQuery) -> QueryResult<Vec<AuditRow>> {
    let mut sql = audit_entries::table
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(instance) = &query.instance {
        sql = sql.filter(audit_entries::instance.eq(instance));
    }
    if let Some(actor) = &query.actor {
        sql = sql.filter(audit_entries::actor.eq(actor));
    }
    if let Some(since) = query.since {
        sql = sql.filter(audit_entries::happened_at.ge(since));
    }
    if let Some(until) = query.until {
        sql = sql.filter(audit_entries::happened_at.le(until));
    }
    if let Some(before) = query.before_id {
        sql = sql.filter(audit_entries::id.lt(before));
    }
    sql.order(audit_entries::id.desc())
        .limit(query.limit)
        .load(conn)
}

/// Deletes up to `chunk` entries older than `before` (pruned with the history's retention).
pub fn prune(conn: &mut SqliteConnection, before: NaiveDateTime, chunk: i64) -> QueryResult<usize> {
    let oldest: Vec<i64> = audit_entries::table
        .filter(audit_entries::happened_at.lt(before))
        .select(audit_entries::id)
        .order(audit_entries::id.asc())
        .limit(chunk)
        .load(conn)?;
    let Some(last) = oldest.last() else {
        return Ok(0);
    };
    diesel::delete(
        audit_entries::table
            .filter(audit_entries::id.le(last))
            .filter(audit_entries::happened_at.lt(before)),
    )
    .execute(conn)
}
