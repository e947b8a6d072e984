use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::events;

/// One status change the hub observed.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = events, check_for_backend(diesel::sqlite::Sqlite))]
pub struct Event {
    pub id: i64,
    pub instance_id: i32,
    pub seq: i64,
    pub kind: String,
    pub source: String,
    /// The change as JSON.
    pub payload: String,
    pub happened_at: NaiveDateTime,
}

#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = events)]
pub struct EventForm {
    pub instance_id: i32,
    pub seq: i64,
    pub kind: &'static str,
    pub source: &'static str,
    pub payload: String,
    pub happened_at: NaiveDateTime,
    /// In a cluster, the change's per-instance sequence number.
    pub instance_seq: Option<i64>,
}
