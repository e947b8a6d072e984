use crate::db::backend::{per_backend, Conn};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{
    schema::api_tokens,
    source::token::{TokenForm, TokenRow},
};

pub fn all(conn: &mut Conn) -> QueryResult<Vec<TokenRow>> {
    api_tokens::table
        .select(TokenRow::as_select())
        .order(api_tokens::id.asc())
        .load(conn)
}

pub fn insert(conn: &mut Conn, form: &TokenForm) -> QueryResult<TokenRow> {
    // RETURNING is each engine's own (diesel's multi-backend cannot build it).
    per_backend!(conn, |c| diesel::insert_into(api_tokens::table)
        .values(form)
        .returning(TokenRow::as_returning())
        .get_result(c))
}

/// Answers whether a row went.
pub fn delete(conn: &mut Conn, id: i32) -> QueryResult<bool> {
    diesel::delete(api_tokens::table.find(id))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn touch(conn: &mut Conn, id: i32, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(at))
        .execute(conn)
}
