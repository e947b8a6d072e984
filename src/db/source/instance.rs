use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::instances;

#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = instances, check_for_backend(diesel::sqlite::Sqlite))]
pub struct Instance {
    pub id: i32,
    pub name: String,
    pub host: String,
    pub port: i32,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = instances)]
pub struct InstanceForm<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub port: i32,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
}
