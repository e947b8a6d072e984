use crate::db::backend::{per_backend, Conn};
use chrono::NaiveDateTime;
use diesel::{prelude::*, upsert::excluded};

use crate::db::{
    schema::{rule_schedule_marks, rules},
    source::rule::{RuleForm, RuleRow},
};

pub fn all(conn: &mut Conn) -> QueryResult<Vec<RuleRow>> {
    rules::table
        .select(RuleRow::as_select())
        .order(rules::id.asc())
        .load(conn)
}

pub fn insert(conn: &mut Conn, form: &RuleForm) -> QueryResult<RuleRow> {
    // RETURNING is each engine's own (diesel's multi-backend cannot build it).
    per_backend!(conn, |c| diesel::insert_into(rules::table)
        .values(form)
        .returning(RuleRow::as_returning())
        .get_result(c))
}

/// Replaces the definition of the rule named `name`; answers whether it exists.
pub fn update(
    conn: &mut Conn,
    name: &str,
    new_name: &str,
    definition: &str,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(rules::table.filter(rules::name.eq(name)))
        .set((
            rules::name.eq(new_name),
            rules::definition.eq(definition),
            rules::updated_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n > 0)
}

/// Deletes the rule and its schedule mark; answers whether the rule was there.
pub fn delete(conn: &mut Conn, name: &str) -> QueryResult<bool> {
    diesel::delete(rule_schedule_marks::table.filter(rule_schedule_marks::rule_name.eq(name)))
        .execute(conn)?;
    diesel::delete(rules::table.filter(rules::name.eq(name)))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn schedule_marks(conn: &mut Conn) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    rule_schedule_marks::table
        .select((
            rule_schedule_marks::rule_name,
            rule_schedule_marks::handled_until,
        ))
        .load(conn)
}

pub fn set_schedule_mark(
    conn: &mut Conn,
    rule: &str,
    handled_until: NaiveDateTime,
) -> QueryResult<usize> {
    let upsert = diesel::insert_into(rule_schedule_marks::table)
        .values((
            rule_schedule_marks::rule_name.eq(rule),
            rule_schedule_marks::handled_until.eq(handled_until),
        ))
        .on_conflict(rule_schedule_marks::rule_name)
        .do_update()
        .set(rule_schedule_marks::handled_until.eq(excluded(rule_schedule_marks::handled_until)));
    // ON CONFLICT is each engine's own.
    per_backend!(conn, |c| upsert.execute(c))
}
