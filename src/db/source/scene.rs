use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::scenes;

/// A scene as the database remembers it; `removed_at` is set once OBS no longer has it.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = scenes, check_for_backend(diesel::sqlite::Sqlite))]
pub struct Scene {
    pub id: i32,
    pub instance_id: i32,
    pub name: String,
    pub uuid: Option<String>,
    pub position: i32,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
    pub removed_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = scenes)]
pub struct SceneForm<'a> {
    pub instance_id: i32,
    pub name: &'a str,
    pub uuid: Option<&'a str>,
    pub position: i32,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
}
