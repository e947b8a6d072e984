use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{instance_groups, managed_instances};

/// An instance group made through the API.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = instance_groups, check_for_backend(diesel::sqlite::Sqlite))]
pub struct GroupRow {
    pub name: String,
    /// JSON array of instance names.
    pub instances: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An OBS instance added through the API. No `Debug`: it holds the password.
#[derive(Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = managed_instances, check_for_backend(diesel::sqlite::Sqlite))]
#[diesel(treat_none_as_null = true)]
pub struct ManagedInstanceRow {
    pub name: String,
    pub host: String,
    pub port: i32,
    pub password: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
