use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::output_sessions;

/// Which OBS output a session is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    Stream,
    Record,
}

impl Output {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Record => "record",
        }
    }
}

/// One stream or recording, from start to end (`ended_at` is None while it runs).
#[derive(Clone, Debug, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = output_sessions, check_for_backend(diesel::sqlite::Sqlite))]
pub struct OutputSession {
    pub id: i64,
    pub instance_id: i32,
    pub output: String,
    pub started_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    pub end_reason: Option<String>,
    pub duration_ms: i64,
    pub bytes: i64,
    pub skipped_frames: Option<i64>,
    pub total_frames: Option<i64>,
    pub peak_kbits_per_sec: f64,
    pub output_path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Insertable)]
#[diesel(table_name = output_sessions)]
pub struct OutputSessionForm {
    pub instance_id: i32,
    pub output: &'static str,
    pub started_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub duration_ms: i64,
    pub bytes: i64,
    pub skipped_frames: Option<i64>,
    pub total_frames: Option<i64>,
    pub peak_kbits_per_sec: f64,
    pub output_path: Option<String>,
}

/// New running figures of an open session.
#[derive(Clone, Debug, PartialEq, AsChangeset)]
#[diesel(table_name = output_sessions)]
pub struct OutputFiguresForm {
    pub updated_at: NaiveDateTime,
    pub duration_ms: i64,
    pub bytes: i64,
    pub skipped_frames: Option<i64>,
    pub total_frames: Option<i64>,
    pub peak_kbits_per_sec: f64,
}

/// What closing a session writes.
#[derive(Clone, Debug, PartialEq, AsChangeset)]
#[diesel(table_name = output_sessions)]
pub struct OutputCloseForm {
    pub ended_at: Option<NaiveDateTime>,
    pub end_reason: Option<&'static str>,
    pub duration_ms: i64,
    pub output_path: Option<String>,
}
