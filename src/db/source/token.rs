use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::api_tokens;

/// A token made through `POST /api/tokens/`: its name, powers and the hash of its secret.
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::sqlite::Sqlite))]
pub struct TokenRow {
    pub id: i32,
    pub name: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// `read`, `control` or `admin`.
    pub scope: String,
    /// JSON array of instance names; None: every instance.
    pub instances: Option<String>,
    /// JSON array of `control` capabilities; None: all of them.
    pub capabilities: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Clone, Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct TokenForm {
    pub name: String,
    pub secret_hash: String,
    pub scope: String,
    pub instances: Option<String>,
    pub capabilities: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}
