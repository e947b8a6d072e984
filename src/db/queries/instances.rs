use crate::db::backend::{per_backend, Conn};
use chrono::NaiveDateTime;
use diesel::{prelude::*, upsert::excluded};

use crate::db::{
    schema::instances,
    source::instance::{Instance, InstanceForm},
};

/// Records a configured instance (creating it or refreshing its address) and returns its id.
pub fn upsert(
    conn: &mut Conn,
    name: &str,
    host: &str,
    port: u16,
    now: NaiveDateTime,
) -> QueryResult<i32> {
    let upsert = diesel::insert_into(instances::table)
        .values(InstanceForm {
            name,
            host,
            port: i32::from(port),
            first_seen: now,
            last_seen: now,
        })
        .on_conflict(instances::name)
        .do_update()
        .set((
            instances::host.eq(excluded(instances::host)),
            instances::port.eq(excluded(instances::port)),
            instances::last_seen.eq(excluded(instances::last_seen)),
        ))
        .returning(instances::id);
    // ON CONFLICT is each engine's own (diesel's multi-backend cannot build it).
    per_backend!(conn, |c| upsert.get_result(c))
}

pub fn id_by_name(conn: &mut Conn, name: &str) -> QueryResult<Option<i32>> {
    instances::table
        .filter(instances::name.eq(name))
        .select(instances::id)
        .first(conn)
        .optional()
}

pub fn all(conn: &mut Conn) -> QueryResult<Vec<Instance>> {
    instances::table
        .order(instances::name.asc())
        .select(Instance::as_select())
        .load(conn)
}
