//! The webhook side of the outbox's rows: endpoints and pending deliveries to and from the
//! rows of `db` ([`crate::db::source::webhook`], queried by [`crate::db::queries::webhooks`]),
//! and bringing the declared endpoints in line with the configuration. Writes run on the
//! dispatcher's writer thread; the API's reads on actix's blocking threads.

use crate::db::backend::Conn;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{
    endpoint::{DeclaredEndpoint, Endpoint, EndpointSource},
    events::{EventType, Filter},
    outbox::PendingDelivery,
};
use crate::{
    config::Secret,
    db::{
        queries::webhooks as queries,
        source::webhook::{self as rows, DeliveryRow, EndpointRow},
    },
};

pub use crate::db::{
    queries::webhooks::{
        delete_endpoint, deliveries_page, find_delivery, insert_deliveries, prune_finished,
        record_outcomes, record_outcomes_claimed,
    },
    source::webhook::{AttemptOutcome, AttemptRow, DeliveryLog, NewDelivery},
};

/// Why a declared endpoint that the configuration no longer names is disabled.
pub const RETIRED_REASON: &str = "no longer in the configuration";

/// An endpoint as stored.
pub fn endpoint_row(endpoint: &Endpoint) -> EndpointRow {
    let names: Vec<&str> = endpoint
        .filter
        .event_types
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    EndpointRow {
        id: endpoint.id.clone(),
        url: endpoint.url.clone(),
        secret: endpoint.secret.as_ref().map(|s| s.expose().to_string()),
        event_types: serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_string()),
        instance: endpoint.filter.instance.clone(),
        enabled: endpoint.enabled,
        disabled_reason: endpoint.disabled_reason.clone(),
        source: endpoint.source.as_str().to_string(),
        created_at: endpoint.created_at.naive_utc(),
        updated_at: endpoint.updated_at.naive_utc(),
    }
}

/// A stored endpoint.
pub fn endpoint_from_row(row: EndpointRow) -> Endpoint {
    let names: Vec<String> = serde_json::from_str(&row.event_types).unwrap_or_default();
    // A name a newer hub wrote and this one does not know is skipped, not fatal.
    let event_types = names
        .iter()
        .filter_map(|name| name.parse::<EventType>().ok())
        .collect();
    Endpoint {
        source: EndpointSource::parse(&row.source).unwrap_or(EndpointSource::Api),
        id: row.id,
        url: row.url,
        secret: row.secret.map(Secret::new),
        filter: Filter {
            event_types,
            instance: row.instance,
        },
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// A stored delivery still to be made.
pub fn pending_from_row(row: DeliveryRow) -> PendingDelivery {
    PendingDelivery {
        id: row.id.into(),
        endpoint_id: row.endpoint_id.into(),
        event_type: row.event_type.into(),
        body: row.payload.into(),
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        round_start: u32::try_from(row.round_start).unwrap_or(0),
        due: row.next_attempt_at.map_or_else(Utc::now, |at| at.and_utc()),
    }
}

pub fn all_endpoints(conn: &mut Conn) -> QueryResult<Vec<Endpoint>> {
    Ok(queries::all_endpoints(conn)?
        .into_iter()
        .map(endpoint_from_row)
        .collect())
}

pub fn find_endpoint(conn: &mut Conn, id: &str) -> QueryResult<Option<Endpoint>> {
    Ok(queries::find_endpoint(conn, id)?.map(endpoint_from_row))
}

pub fn insert_endpoint(conn: &mut Conn, endpoint: &Endpoint) -> QueryResult<()> {
    queries::insert_endpoint(conn, &endpoint_row(endpoint))
}

/// Writes every field of `endpoint`; when it is (now) disabled, its pending deliveries end as
/// `endpoint_disabled`.
pub fn save_endpoint(conn: &mut Conn, endpoint: &Endpoint) -> QueryResult<()> {
    queries::save_endpoint(conn, &endpoint_row(endpoint))
}

/// Every pending delivery of an enabled endpoint, oldest first: what a restart resumes.
pub fn pending_deliveries(conn: &mut Conn) -> QueryResult<Vec<PendingDelivery>> {
    Ok(queries::pending_deliveries(conn)?
        .into_iter()
        .map(pending_from_row)
        .collect())
}

/// [`pending_deliveries`] claimed by `node` (a cluster node's own, from before a restart).
pub fn pending_claimed_by(conn: &mut Conn, node: &str) -> QueryResult<Vec<PendingDelivery>> {
    Ok(queries::pending_claimed_by(conn, node)?
        .into_iter()
        .map(pending_from_row)
        .collect())
}

/// What a redelivery request found.
pub type Restarted = rows::Restarted<PendingDelivery>;

/// Makes a delivery pending again, due now, at the start of a new round of the schedule, unless
/// its endpoint is disabled.
pub fn restart_delivery(conn: &mut Conn, id: &str, now: DateTime<Utc>) -> QueryResult<Restarted> {
    Ok(match queries::restart_delivery(conn, id, now)? {
        rows::Restarted::Pending(row) => Restarted::Pending(pending_from_row(row)),
        rows::Restarted::NotFound => Restarted::NotFound,
        rows::Restarted::EndpointDisabled(endpoint) => Restarted::EndpointDisabled(endpoint),
    })
}

/// Brings the declared endpoints (config file, callback base URL) in line with `declared`:
/// same source and URL = same endpoint (its id, log and pending deliveries are kept); new ones
/// are added; ones no longer declared are disabled (their log stays until deleted).
pub fn sync_declared(
    conn: &mut Conn,
    declared: &[DeclaredEndpoint],
    now: DateTime<Utc>,
) -> QueryResult<()> {
    let existing: Vec<Endpoint> = all_endpoints(conn)?
        .into_iter()
        .filter(|endpoint| endpoint.source.is_declared())
        .collect();
    for wanted in declared {
        let found = existing
            .iter()
            .find(|e| e.source == wanted.source && e.url == wanted.url);
        match found {
            Some(current) => {
                let mut updated = current.clone();
                updated.secret = wanted.secret.clone();
                updated.filter = wanted.filter.clone();
                if current.disabled_reason.as_deref() == Some(RETIRED_REASON) {
                    updated.enabled = true;
                    updated.disabled_reason = None;
                }
                if &updated != current {
                    updated.updated_at = now;
                    save_endpoint(conn, &updated)?;
                }
            }
            None => insert_endpoint(
                conn,
                &Endpoint {
                    id: super::endpoint::new_endpoint_id(),
                    url: wanted.url.clone(),
                    secret: wanted.secret.clone(),
                    filter: wanted.filter.clone(),
                    enabled: true,
                    disabled_reason: None,
                    source: wanted.source,
                    created_at: now,
                    updated_at: now,
                },
            )?,
        }
    }
    for old in &existing {
        let still_declared = declared
            .iter()
            .any(|d| d.source == old.source && d.url == old.url);
        if !still_declared && old.enabled {
            let mut retired = old.clone();
            retired.enabled = false;
            retired.disabled_reason = Some(RETIRED_REASON.to_string());
            retired.updated_at = now;
            save_endpoint(conn, &retired)?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::db::source::webhook::DeliveryStatus;
    use crate::webhooks::endpoint::callback_endpoints;

    pub(crate) use crate::db::testing::{on_both_backends, test_db_on};

    fn api_endpoint(url: &str) -> Endpoint {
        super::super::endpoint::api_endpoint(url, EventType::defaults())
    }

    fn new_delivery(endpoint: &Endpoint, n: u32) -> NewDelivery {
        NewDelivery {
            id: format!("msg_{n}").into(),
            endpoint_id: endpoint.id.as_str().into(),
            event_type: "scene_changed".into(),
            body: format!(r#"{{"n":{n}}}"#).into(),
            created_at: Utc::now(),
        }
    }

    fn outcome(id: &str, n: u32, status: DeliveryStatus, code: Option<u16>) -> AttemptOutcome {
        AttemptOutcome {
            delivery_id: id.into(),
            endpoint_id: "ep_test".into(),
            n,
            at: Utc::now(),
            status_code: code,
            latency_ms: 12,
            error: code.is_none().then(|| "connection refused".to_string()),
            new_status: status,
            next_attempt_at: (status == DeliveryStatus::Pending).then(Utc::now),
            disable_endpoint: None,
        }
    }

    on_both_backends! {
        fn endpoints_round_trip_with_their_secret(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let endpoint = api_endpoint("http://127.0.0.1:9/hook");
            insert_endpoint(&mut conn, &endpoint).unwrap();
            let mut read = find_endpoint(&mut conn, &endpoint.id).unwrap().unwrap();
            // Timestamps lose nothing but sub-microsecond precision.
            read.created_at = endpoint.created_at;
            read.updated_at = endpoint.updated_at;
            assert_eq!(read, endpoint);
            assert_eq!(all_endpoints(&mut conn).unwrap().len(), 1);
        }
    }

    on_both_backends! {
        fn deliveries_resume_until_they_end_and_the_log_keeps_every_attempt(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let endpoint = api_endpoint("http://127.0.0.1:9/hook");
            insert_endpoint(&mut conn, &endpoint).unwrap();
            let batch: Vec<_> = (0..3).map(|n| new_delivery(&endpoint, n)).collect();
            insert_deliveries(&mut conn, &batch).unwrap();
            assert_eq!(pending_deliveries(&mut conn).unwrap().len(), 3);

            record_outcomes(
                &mut conn,
                &[
                    outcome("msg_0", 1, DeliveryStatus::Pending, None),
                    outcome("msg_1", 1, DeliveryStatus::Delivered, Some(204)),
                ],
            )
            .unwrap();
            record_outcomes(
                &mut conn,
                &[outcome("msg_0", 2, DeliveryStatus::Delivered, Some(200))],
            )
            .unwrap();
            let pending = pending_deliveries(&mut conn).unwrap();
            assert_eq!(pending.len(), 1);
            assert_eq!(&*pending[0].id, "msg_2");
            assert_eq!(&*pending[0].body, r#"{"n":2}"#);

            let page = deliveries_page(&mut conn, &endpoint.id, None, 2).unwrap();
            let ids: Vec<_> = page.iter().map(|l| l.delivery.id.as_str()).collect();
            assert_eq!(ids, ["msg_2", "msg_1"], "newest first");
            let older =
                deliveries_page(&mut conn, &endpoint.id, Some(page[1].delivery.seq), 10).unwrap();
            assert_eq!(older.len(), 1);
            let retried = &older[0];
            assert_eq!(retried.delivery.status, "delivered");
            assert_eq!(retried.delivery.attempts, 2);
            assert!(retried.delivery.delivered_at.is_some());
            let codes: Vec<_> = retried.attempts.iter().map(|a| a.status_code).collect();
            assert_eq!(codes, [None, Some(200)]);
            assert_eq!(
                retried.attempts[0].error.as_deref(),
                Some("connection refused")
            );
        }
    }

    on_both_backends! {
        fn an_attempt_that_ends_after_its_endpoint_was_deleted_is_skipped_not_fatal(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let deleted = api_endpoint("http://127.0.0.1:9/deleted");
            let kept = api_endpoint("http://127.0.0.1:9/kept");
            insert_endpoint(&mut conn, &deleted).unwrap();
            insert_endpoint(&mut conn, &kept).unwrap();
            insert_deliveries(
                &mut conn,
                &[new_delivery(&deleted, 0), new_delivery(&kept, 1)],
            )
            .unwrap();
            assert!(delete_endpoint(&mut conn, &deleted.id).unwrap());
            let skipped = crate::db::backend::write_transaction(&mut conn, |conn| {
                    record_outcomes(
                        conn,
                        &[
                            outcome("msg_0", 1, DeliveryStatus::Delivered, Some(204)),
                            outcome("msg_1", 1, DeliveryStatus::Delivered, Some(204)),
                        ],
                    )
                })
                .unwrap();
            assert_eq!(skipped, 1);
            assert_eq!(
                find_delivery(&mut conn, "msg_1").unwrap().unwrap().status,
                "delivered"
            );
            assert!(pending_deliveries(&mut conn).unwrap().is_empty());
        }
    }

    on_both_backends! {
    fn logged_error_answers_lose_the_receivers_words_on_upgrade(backend) {
        use crate::db::{backend::migrations, testing::TestDb};
        use diesel_migrations::MigrationHarness;
        const SCRUB: &str = "20261130040000";
        let db = TestDb::empty(backend);
        let mut conn = db.connect();
        // The schema as it was before the scrub.
        loop {
            let pending = conn.pending_migrations(migrations(&conn)).unwrap();
            let Some(next) = pending.first() else { break };
            if next.name().version().to_string() == SCRUB {
                break;
            }
            conn.run_migration(next.as_ref()).unwrap();
        }
        let endpoint = api_endpoint("http://127.0.0.1:9/hook");
        insert_endpoint(&mut conn, &endpoint).unwrap();
        insert_deliveries(&mut conn, &[new_delivery(&endpoint, 0)]).unwrap();
        let mut old = outcome("msg_0", 1, DeliveryStatus::Pending, Some(503));
        old.error = Some("HTTP 503: stack trace with a password".into());
        let mut moved = outcome("msg_0", 2, DeliveryStatus::Pending, Some(302));
        moved.error =
            Some("HTTP 302 (redirects are not followed: give the final URL): <html>".into());
        let refused = outcome("msg_0", 3, DeliveryStatus::Pending, None);
        record_outcomes(&mut conn, &[old, moved, refused]).unwrap();
        conn.run_pending_migrations(migrations(&conn)).unwrap();
        let log = deliveries_page(&mut conn, &endpoint.id, None, 1).unwrap();
        let errors: Vec<_> = log[0]
            .attempts
            .iter()
            .map(|a| a.error.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            errors,
            [
                "HTTP 503",
                "HTTP 302 (redirects are not followed: give the final URL)",
                "connection refused",
            ]
        );
    }
    }

    on_both_backends! {
        fn gone_disables_the_endpoint_and_ends_its_pending_deliveries(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let endpoint = api_endpoint("http://127.0.0.1:9/hook");
            insert_endpoint(&mut conn, &endpoint).unwrap();
            let batch: Vec<_> = (0..2).map(|n| new_delivery(&endpoint, n)).collect();
            insert_deliveries(&mut conn, &batch).unwrap();
            let mut gone = outcome("msg_0", 1, DeliveryStatus::EndpointDisabled, Some(410));
            gone.disable_endpoint = Some((endpoint.id.as_str().into(), "410 Gone".into()));
            record_outcomes(&mut conn, &[gone]).unwrap();
            let read = find_endpoint(&mut conn, &endpoint.id).unwrap().unwrap();
            assert!(!read.enabled);
            assert_eq!(read.disabled_reason.as_deref(), Some("410 Gone"));
            assert!(pending_deliveries(&mut conn).unwrap().is_empty());
            let other = find_delivery(&mut conn, "msg_1").unwrap().unwrap();
            assert_eq!(other.status, "endpoint_disabled");

            // No redelivery while the endpoint is disabled; once enabled, a new round.
            assert_eq!(
                restart_delivery(&mut conn, "msg_0", Utc::now()).unwrap(),
                Restarted::EndpointDisabled(endpoint.id.clone())
            );
            save_endpoint(&mut conn, &endpoint).unwrap();
            let Restarted::Pending(again) = restart_delivery(&mut conn, "msg_0", Utc::now()).unwrap()
            else {
                panic!("restarted");
            };
            assert_eq!((again.attempts, again.round_start), (1, 1));
            assert_eq!(
                find_delivery(&mut conn, "msg_0").unwrap().unwrap().status,
                "pending"
            );
            assert_eq!(
                restart_delivery(&mut conn, "msg_nope", Utc::now()).unwrap(),
                Restarted::NotFound
            );
        }
    }

    on_both_backends! {
        fn declared_endpoints_follow_the_configuration(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let first = callback_endpoints("http://hub-b:8000", None);
            sync_declared(&mut conn, &first, Utc::now()).unwrap();
            let ids: Vec<String> = all_endpoints(&mut conn)
                .unwrap()
                .into_iter()
                .map(|e| e.id)
                .collect();
            assert_eq!(ids.len(), 3);
            // Same URLs, now signed: same endpoints.
            let secret = crate::webhooks::signing::generate_secret();
            let signed = callback_endpoints("http://hub-b:8000", Some(&secret));
            sync_declared(&mut conn, &signed, Utc::now()).unwrap();
            let endpoints = all_endpoints(&mut conn).unwrap();
            assert_eq!(
                endpoints.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
                ids
            );
            assert!(endpoints.iter().all(|e| e.secret.is_some()));
            // Another base URL: the old ones are retired, not deleted.
            sync_declared(
                &mut conn,
                &callback_endpoints("http://hub-c:8000", None),
                Utc::now(),
            )
            .unwrap();
            let endpoints = all_endpoints(&mut conn).unwrap();
            assert_eq!(endpoints.len(), 6);
            let retired: Vec<_> = endpoints.iter().filter(|e| !e.enabled).collect();
            assert_eq!(retired.len(), 3);
            assert!(retired.iter().all(|e| e.url.starts_with("http://hub-b")));
            assert!(retired
                .iter()
                .all(|e| e.disabled_reason.as_deref() == Some(RETIRED_REASON)));
            // And back: re-enabled.
            sync_declared(&mut conn, &first, Utc::now()).unwrap();
            let enabled = all_endpoints(&mut conn)
                .unwrap()
                .into_iter()
                .filter(|e| e.enabled)
                .count();
            assert_eq!(enabled, 3);
        }
    }

    on_both_backends! {
        fn deleting_an_endpoint_takes_its_log_and_pruning_keeps_pending_ones(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let endpoint = api_endpoint("http://127.0.0.1:9/hook");
            insert_endpoint(&mut conn, &endpoint).unwrap();
            let batch: Vec<_> = (0..2).map(|n| new_delivery(&endpoint, n)).collect();
            insert_deliveries(&mut conn, &batch).unwrap();
            record_outcomes(
                &mut conn,
                &[outcome("msg_0", 1, DeliveryStatus::Delivered, Some(200))],
            )
            .unwrap();
            let later = Utc::now() + chrono::Duration::days(1);
            assert_eq!(prune_finished(&mut conn, later, 100).unwrap(), 1);
            assert!(find_delivery(&mut conn, "msg_1").unwrap().is_some());
            assert!(delete_endpoint(&mut conn, &endpoint.id).unwrap());
            assert!(!delete_endpoint(&mut conn, &endpoint.id).unwrap());
            assert!(find_delivery(&mut conn, "msg_1").unwrap().is_none());
        }
    }
}
