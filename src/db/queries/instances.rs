use chrono::NaiveDateTime;
use diesel::{prelude::*, upsert::excluded};

use crate::db::{
    schema::instances,
    source::instance::{Instance, InstanceForm},
};

/// Records a configured instance (creating it or refreshing its address) and returns its id.
pub fn upsert(
    conn: &mut SqliteConnection,
    name: &str,
    host: &str,
    port: u16,
    now: NaiveDateTime,
) -> QueryResult<i32> {
    diesel::insert_into(instances::table)
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
        .returning(instances::id)
        .get_result(conn)
}

pub fn id_by_name(conn: &mut SqliteConnection, name: &str) -> QueryResult<Option<i32>> {
    instances::table
        .filter(instances::name.eq(name))
        .select(instances::id)
        .first(conn)
        .optional()
}

pub fn all(conn: &mut SqliteConnection) -> QueryResult<Vec<Instance>> {
    instances::table
        .order(instances::name.asc())
        .select(Instance::as_select())
        .load(conn)
}
