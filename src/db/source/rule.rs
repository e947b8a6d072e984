use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::rules;

/// A rule made through `POST /api/rules/`: its name and definition (the rule's JSON).
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = rules, check_for_backend(diesel::sqlite::Sqlite))]
pub struct RuleRow {
    pub id: i32,
    pub name: String,
    pub definition: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = rules)]
pub struct RuleForm {
    pub name: String,
    pub definition: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
