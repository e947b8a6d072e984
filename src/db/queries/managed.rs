//! Instance groups and instances made through the API (the fleet capability above keeps them
//! in memory).

use diesel::prelude::*;

use crate::db::backend::{per_backend, Conn};
use crate::db::{
    schema::{instance_groups, managed_instances},
    source::managed::{GroupRow, ManagedInstanceRow},
};

pub fn groups(conn: &mut Conn) -> QueryResult<Vec<GroupRow>> {
    instance_groups::table
        .select(GroupRow::as_select())
        .order(instance_groups::name.asc())
        .load(conn)
}

/// Creates the group, or replaces its members (keeping when it was created).
pub fn put_group(conn: &mut Conn, row: &GroupRow) -> QueryResult<usize> {
    let upsert = diesel::insert_into(instance_groups::table)
        .values(row)
        .on_conflict(instance_groups::name)
        .do_update()
        .set((
            instance_groups::instances.eq(&row.instances),
            instance_groups::updated_at.eq(row.updated_at),
        ));
    // ON CONFLICT is each engine's own (diesel's multi-backend cannot build it).
    per_backend!(conn, |c| upsert.execute(c))
}

/// Answers whether a row went.
pub fn delete_group(conn: &mut Conn, name: &str) -> QueryResult<bool> {
    diesel::delete(instance_groups::table.find(name))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn instances(conn: &mut Conn) -> QueryResult<Vec<ManagedInstanceRow>> {
    managed_instances::table
        .select(ManagedInstanceRow::as_select())
        .order(managed_instances::name.asc())
        .load(conn)
}

pub fn insert_instance(conn: &mut Conn, row: &ManagedInstanceRow) -> QueryResult<usize> {
    diesel::insert_into(managed_instances::table)
        .values(row)
        .execute(conn)
}

/// Replaces address and password (keeping when it was created); answers whether a row changed.
pub fn update_instance(conn: &mut Conn, row: &ManagedInstanceRow) -> QueryResult<bool> {
    diesel::update(managed_instances::table.find(&row.name))
        .set((
            managed_instances::host.eq(&row.host),
            managed_instances::port.eq(row.port),
            managed_instances::password.eq(&row.password),
            managed_instances::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(|n| n > 0)
}

/// Answers whether a row went. The instance's history (events, sessions) stays.
pub fn delete_instance(conn: &mut Conn, name: &str) -> QueryResult<bool> {
    diesel::delete(managed_instances::table.find(name))
        .execute(conn)
        .map(|n| n > 0)
}
