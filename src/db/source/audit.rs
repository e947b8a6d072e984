use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::audit_entries;

/// One state-changing request, as the audit trail keeps it.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = audit_entries, check_for_backend(diesel::sqlite::Sqlite))]
pub struct AuditRow {
    pub id: i64,
    pub happened_at: NaiveDateTime,
    /// `token:<name>`, `rule:<name>` or `anonymous`.
    pub actor: String,
    pub remote: Option<String>,
    pub method: String,
    pub route: String,
    pub instance: Option<String>,
    /// The JSON body, secrets redacted.
    pub request: Option<String>,
    pub status: i32,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Insertable)]
#[diesel(table_name = audit_entries)]
pub struct AuditForm {
    pub happened_at: NaiveDateTime,
    pub actor: String,
    pub remote: Option<String>,
    pub method: String,
    pub route: String,
    pub instance: Option<String>,
    pub request: Option<String>,
    pub status: i32,
    pub error: Option<String>,
    pub duration_ms: i64,
}
