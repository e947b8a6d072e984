use crate::db::backend::Conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{
    schema::{instances, output_sessions},
    sessions::{self, Observation, SessionStep},
    source::session::{Output, OutputSession},
};

pub fn open(
    conn: &mut Conn,
    instance_id: i32,
    output: Output,
) -> QueryResult<Option<OutputSession>> {
    output_sessions::table
        .filter(output_sessions::instance_id.eq(instance_id))
        .filter(output_sessions::output.eq(output.as_str()))
        .filter(output_sessions::ended_at.is_null())
        .select(OutputSession::as_select())
        .first(conn)
        .optional()
}

/// Applies one observation of an output to its sessions (see `db::sessions` for the rules).
pub fn observe(
    conn: &mut Conn,
    instance_id: i32,
    output: Output,
    observation: &Observation,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let current = open(conn, instance_id, output)?;
    for step in sessions::plan(instance_id, output, current.as_ref(), observation, at) {
        match step {
            SessionStep::Open(form) => {
                diesel::insert_into(output_sessions::table)
                    .values(form)
                    .execute(conn)?;
            }
            SessionStep::Update { id, figures } => {
                diesel::update(output_sessions::table.find(id))
                    .set(figures)
                    .execute(conn)?;
            }
            SessionStep::Close { id, close } => {
                diesel::update(output_sessions::table.find(id))
                    .set(close)
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq)]
pub struct SessionQuery {
    pub output: Output,
    pub instance_id: Option<i32>,
    /// Sessions that started in this window.
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// A page of sessions, newest first.
pub fn page(conn: &mut Conn, query: &SessionQuery) -> QueryResult<Vec<(OutputSession, String)>> {
    let mut sql = output_sessions::table
        .inner_join(instances::table)
        .filter(output_sessions::output.eq(query.output.as_str()))
        .select((OutputSession::as_select(), instances::name))
        .into_boxed();
    if let Some(id) = query.instance_id {
        sql = sql.filter(output_sessions::instance_id.eq(id));
    }
    if let Some(since) = query.since {
        sql = sql.filter(output_sessions::started_at.ge(since));
    }
    if let Some(until) = query.until {
        sql = sql.filter(output_sessions::started_at.le(until));
    }
    if let Some(before) = query.before_id {
        sql = sql.filter(output_sessions::id.lt(before));
    }
    sql.order(output_sessions::id.desc())
        .limit(query.limit)
        .load(conn)
}
