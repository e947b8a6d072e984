use crate::db::backend::{per_backend, Conn};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{
    schema::{events, instances},
    source::event::{Event, EventForm},
};

/// SQLite allows 32766 bound values per statement; 6 per row.
const ROWS_PER_INSERT: usize = 500;

pub fn insert(conn: &mut Conn, rows: &[EventForm]) -> QueryResult<usize> {
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        // A multi-row INSERT is each engine's own (diesel's multi-backend cannot build it).
        written += per_backend!(conn, |c| diesel::insert_into(events::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(written)
}

/// A page of the history, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventQuery {
    pub instance_id: Option<i32>,
    /// Any of these kinds (all when empty).
    pub kinds: Vec<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Only rows older than this id (the cursor).
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub fn page(conn: &mut Conn, query: &EventQuery) -> QueryResult<Vec<(Event, String)>> {
    let mut sql = events::table
        .inner_join(instances::table)
        .select((Event::as_select(), instances::name))
        .into_boxed();
    if let Some(id) = query.instance_id {
        sql = sql.filter(events::instance_id.eq(id));
    }
    if !query.kinds.is_empty() {
        sql = sql.filter(events::kind.eq_any(&query.kinds));
    }
    if let Some(since) = query.since {
        sql = sql.filter(events::happened_at.ge(since));
    }
    if let Some(until) = query.until {
        sql = sql.filter(events::happened_at.le(until));
    }
    if let Some(before) = query.before_id {
        sql = sql.filter(events::id.lt(before));
    }
    sql.order(events::id.desc()).limit(query.limit).load(conn)
}

/// Deletes up to `chunk` events older than `before`; callers repeat while a full chunk went,
/// so that pruning a large backlog never holds the write lock for long.
pub fn prune(conn: &mut Conn, before: NaiveDateTime, chunk: i64) -> QueryResult<usize> {
    let oldest: Vec<i64> = events::table
        .filter(events::happened_at.lt(before))
        .select(events::id)
        .order(events::id.asc())
        .limit(chunk)
        .load(conn)?;
    let Some(last) = oldest.last() else {
        return Ok(0);
    };
    diesel::delete(
        events::table
            .filter(events::id.le(last))
            .filter(events::happened_at.lt(before)),
    )
    .execute(conn)
}
