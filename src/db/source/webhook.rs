//! The webhook outbox's rows (webhook_endpoints, webhook_deliveries, webhook_attempts) and the
//! items its write-behind queues hold. Plain data: what they mean to webhooks (endpoints,
//! filters, secrets, pending deliveries) is `webhooks::store`'s business.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::{webhook_attempts, webhook_deliveries, webhook_endpoints};

/// Where a delivery stands (the `status` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Given up after the last retry.
    Failed,
    /// Its endpoint was disabled (410 Gone, the API, or removed from the configuration).
    EndpointDisabled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::EndpointDisabled => "endpoint_disabled",
        }
    }
}

/// An endpoint as stored: its event types as a JSON list of names, its secret as its text.
#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug)]
#[diesel(table_name = webhook_endpoints, treat_none_as_null = true)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub secret: Option<String>,
    pub event_types: String,
    pub instance: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub source: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDeliveryRow<'a> {
    pub id: &'a str,
    pub endpoint_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub status: &'a str,
    pub attempts: i32,
    pub round_start: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub round_start: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptRow {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub delivery_id: String,
    pub n: i32,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// A message for one endpoint, to be stored before its first attempt.

#[derive(Clone, Debug)]
pub struct NewDelivery {
    pub id: Arc<str>,
    pub endpoint_id: Arc<str>,
    pub event_type: Arc<str>,
    pub body: Arc<str>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct AttemptOutcome {
    pub delivery_id: Arc<str>,
    /// The delivery's endpoint (outcomes of a deleted endpoint are dropped unwritten).
    pub endpoint_id: Arc<str>,
    /// The attempt's number (1 for the first).
    pub n: u32,
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub new_status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set on 410 Gone: the endpoint to disable, and why.
    pub disable_endpoint: Option<(Arc<str>, String)>,
}

/// A delivery as the log shows it, with its attempts (oldest first).

#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub delivery: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

/// What a redelivery request found.
#[derive(Debug, PartialEq)]
pub enum Restarted<D> {
    Pending(D),
    NotFound,
    /// The delivery's endpoint (this id) is disabled: nothing was changed.
    EndpointDisabled(String),
}
