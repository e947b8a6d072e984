//! Queries: plain functions over a `&mut Conn`, one file per table, and
//! [`apply_batch`], which writes one batch of the recorder's operations.

pub mod audit;
pub mod events;
pub mod instances;
pub mod managed;
pub mod relay;
pub mod rules;
pub mod scenes;
pub mod sessions;
pub mod tokens;
pub mod webhooks;

use crate::db::backend::Conn;
use std::collections::HashMap;

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::{
    recording::{source_name, WriteOp},
    source::event::EventForm,
};
use crate::status::ChangeEvent;

/// Instance ids by name, as the writer caches them.
pub type InstanceIds = HashMap<String, i32>;

fn instance_id(
    conn: &mut Conn,
    ids: &mut InstanceIds,
    name: &str,
    now: NaiveDateTime,
) -> QueryResult<i32> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    // Configured instances are registered at start; this is for one that was not.
    let id = match instances::id_by_name(conn, name)? {
        Some(id) => id,
        None => instances::upsert(conn, name, "", 0, now)?,
    };
    ids.insert(name.to_string(), id);
    Ok(id)
}

/// What one batch wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Event rows stored.
    pub events: usize,
    /// Relayed changes refused because their node no longer holds the lease they were
    /// numbered under (dropped, not retried: the instance has a new owner).
    pub fenced_off: usize,
}

/// Writes one batch (the caller wraps it in a transaction) and answers what it stored. Events
/// keep their order: ids grow in the order the hub observed the changes. A relayed change
/// (cluster) is written only while its node holds its instance's lease under its epoch,
/// checked once per instance and epoch in this very transaction ([`relay::lease_held`]).
pub fn apply_batch(
    conn: &mut Conn,
    ops: &[WriteOp],
    ids: &mut InstanceIds,
) -> QueryResult<Applied> {
    let now = Utc::now().naive_utc();
    let mut rows = Vec::new();
    let mut relayed = Vec::new();
    let mut statuses: HashMap<&str, relay::StatusRow> = HashMap::new();
    let mut fences: HashMap<(&str, u64), bool> = HashMap::new();
    let mut fenced_off = 0;
    for op in ops {
        match op {
            WriteOp::Event(event) => rows.push(event_row(conn, ids, event, now)?),
            WriteOp::Relay(change) => {
                let event = &change.event;
                let Some(stamp) = event.cluster else {
                    continue;
                };
                let epoch = i64::try_from(stamp.epoch).unwrap_or(i64::MAX);
                let held = match fences.get(&(event.instance.as_str(), stamp.epoch)) {
                    Some(held) => *held,
                    None => {
                        let held = relay::lease_held(conn, &event.instance, &change.node, epoch)?;
                        fences.insert((event.instance.as_str(), stamp.epoch), held);
                        held
                    }
                };
                if !held {
                    fenced_off += 1;
                    continue;
                }
                if event.change.descriptor().recorded {
                    rows.push(event_row(conn, ids, event, now)?);
                }
                let seq = i64::try_from(stamp.instance_seq).unwrap_or(i64::MAX);
                relayed.push(relay::ChangeRow {
                    instance: event.instance.clone(),
                    seq,
                    epoch,
                    node_id: change.node.to_string(),
                    body: to_json(&**event),
                    happened_at: event.at.naive_utc(),
                });
                if let Some(status) = &change.status {
                    statuses.insert(
                        &event.instance,
                        relay::StatusRow {
                            instance: event.instance.clone(),
                            seq,
                            epoch,
                            node_id: change.node.to_string(),
                            status: to_json(&**status),
                        },
                    );
                }
            }
            WriteOp::SyncScenes {
                instance,
                scenes: list,
                at,
            } => {
                let id = instance_id(conn, ids, instance, now)?;
                let diff = scenes::sync(conn, id, list, at.naive_utc())?;
                if !diff.is_empty() {
                    log::debug!(
                        "obs `{instance}`: scenes table follows OBS ({} added, {} removed, {} renamed)",
                        diff.added.len(),
                        diff.removed.len(),
                        diff.renamed.len()
                    );
                }
            }
            WriteOp::Output {
                instance,
                output,
                observation,
                at,
            } => {
                let id = instance_id(conn, ids, instance, now)?;
                sessions::observe(conn, id, *output, observation, at.naive_utc())?;
            }
        }
    }
    let events = events::insert(conn, &rows)?;
    if !relayed.is_empty() || !statuses.is_empty() {
        let statuses: Vec<_> = statuses.into_values().collect();
        relay::write(conn, &relayed, &statuses)?;
    }
    Ok(Applied { events, fenced_off })
}

/// Plain data with derived Serialize: it cannot fail; never lose the row if it did.
fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|error| serde_json::json!({ "error": error.to_string() }).to_string())
}

fn event_row(
    conn: &mut Conn,
    ids: &mut InstanceIds,
    event: &ChangeEvent,
    now: NaiveDateTime,
) -> QueryResult<EventForm> {
    Ok(EventForm {
        instance_id: instance_id(conn, ids, &event.instance, now)?,
        seq: i64::try_from(event.seq).unwrap_or(i64::MAX),
        kind: event.change.kind(),
        source: source_name(event.source),
        payload: to_json(&event.change),
        happened_at: event.at.naive_utc(),
        instance_seq: event
            .cluster
            .map(|stamp| i64::try_from(stamp.instance_seq).unwrap_or(i64::MAX)),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use chrono::{DateTime, Duration, Utc};
    use diesel::prelude::*;

    use super::*;
    use crate::{
        db::{
            sessions::{Observation, END_FOUND_STOPPED, END_STOPPED},
            source::{
                event::Event,
                instance::Instance,
                scene::Scene,
                session::{Output, OutputSession},
            },
        },
        status::{model::SceneInfo, update::Source, Change, ChangeEvent},
    };

    pub(crate) use crate::db::testing::{on_both_backends, test_db_on};

    fn scene(name: &str, uuid: &str) -> SceneInfo {
        SceneInfo {
            name: name.into(),
            uuid: Some(uuid.into()),
        }
    }

    /// PostgreSQL keeps microseconds (SQLite's text keeps nanoseconds): times compared after a
    /// round trip are taken at the precision both keep.
    fn now() -> NaiveDateTime {
        use chrono::SubsecRound;
        Utc::now().naive_utc().trunc_subsecs(6)
    }

    fn change_event(seq: u64, instance: &str, at: DateTime<Utc>, scene: &str) -> WriteOp {
        WriteOp::Event(Arc::new(ChangeEvent {
            cluster: None,
            seq,
            instance: instance.into(),
            at,
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: scene.into(),
                previous: None,
            },
        }))
    }

    on_both_backends! {
        fn every_column_of_every_table_reads_back(backend) {
            // schema.rs is written by hand: selecting every row struct proves it matches the SQL.
            let (_db, mut conn) = test_db_on(backend);
            let id = instances::upsert(&mut conn, "default", "127.0.0.1", 4455, now()).unwrap();
            scenes::sync(&mut conn, id, &[scene("A", "1")], now()).unwrap();
            let mut ids = InstanceIds::new();
            apply_batch(
                &mut conn,
                &[change_event(1, "default", Utc::now(), "A")],
                &mut ids,
            )
            .unwrap();
            sessions::observe(&mut conn, id, Output::Record, &Observation::Started, now()).unwrap();
            use crate::db::schema;
            assert_eq!(
                schema::instances::table
                    .select(Instance::as_select())
                    .load(&mut conn)
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(
                schema::scenes::table
                    .select(Scene::as_select())
                    .load(&mut conn)
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(
                schema::events::table
                    .select(Event::as_select())
                    .load(&mut conn)
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(
                schema::output_sessions::table
                    .select(OutputSession::as_select())
                    .load(&mut conn)
                    .unwrap()
                    .len(),
                1
            );
        }
    }

    on_both_backends! {
        fn upsert_keeps_the_id_and_refreshes_the_address(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let first = instances::upsert(&mut conn, "studio", "10.0.0.1", 4455, now()).unwrap();
            let again = instances::upsert(&mut conn, "studio", "10.0.0.2", 4460, now()).unwrap();
            assert_eq!(first, again);
            let all = instances::all(&mut conn).unwrap();
            assert_eq!((all[0].host.as_str(), all[0].port), ("10.0.0.2", 4460));
            assert_eq!(instances::id_by_name(&mut conn, "nope").unwrap(), None);
        }
    }

    on_both_backends! {
        fn scenes_follow_create_rename_remove_and_return(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let id = instances::upsert(&mut conn, "default", "h", 1, now()).unwrap();
            scenes::sync(&mut conn, id, &[scene("A", "1"), scene("B", "2")], now()).unwrap();
            let created = scenes::sync(
                &mut conn,
                id,
                &[scene("C", "3"), scene("A", "1"), scene("B", "2")],
                now(),
            )
            .unwrap();
            assert_eq!(created.added, [scene("C", "3")]);
            let renamed = scenes::sync(
                &mut conn,
                id,
                &[scene("C", "3"), scene("Main", "1"), scene("B", "2")],
                now(),
            )
            .unwrap();
            assert_eq!(renamed.renamed[0].from, "A");
            assert_eq!(renamed.renamed[0].to, "Main");
            let removed =
                scenes::sync(&mut conn, id, &[scene("C", "3"), scene("Main", "1")], now()).unwrap();
            assert_eq!(removed.removed, [scene("B", "2")]);

            let rows = scenes::list(&mut conn, Some(id)).unwrap();
            let view: Vec<(&str, i32, bool)> = rows
                .iter()
                .map(|(s, _)| (s.name.as_str(), s.position, s.removed_at.is_some()))
                .collect();
            assert_eq!(view, [("C", 0, false), ("Main", 1, false), ("B", 2, true)]);
            let main = rows.iter().find(|(s, _)| s.name == "Main").unwrap();
            assert_eq!(main.0.uuid.as_deref(), Some("1"), "a rename keeps the row");

            // An undone removal brings the same row back.
            scenes::sync(
                &mut conn,
                id,
                &[scene("B", "2"), scene("C", "3"), scene("Main", "1")],
                now(),
            )
            .unwrap();
            let rows = scenes::list(&mut conn, Some(id)).unwrap();
            assert_eq!(rows.len(), 3);
            assert!(rows.iter().all(|(s, _)| s.removed_at.is_none()));
        }
    }

    on_both_backends! {
        fn event_pages_filter_and_continue_from_the_cursor(backend) {
            let (_db, mut conn) = test_db_on(backend);
            instances::upsert(&mut conn, "a", "h", 1, now()).unwrap();
            let b = instances::upsert(&mut conn, "b", "h", 1, now()).unwrap();
            let start = Utc::now() - Duration::hours(1);
            let ops: Vec<WriteOp> = (0..10)
                .map(|i| {
                    let instance = if i % 2 == 0 { "a" } else { "b" };
                    change_event(i + 1, instance, start + Duration::minutes(i as i64), "S")
                })
                .collect();
            let mut ids = InstanceIds::new();
            assert_eq!(apply_batch(&mut conn, &ops, &mut ids).unwrap().events, 10);

            // The newest `limit` rows, narrowed by the fields a query sets besides.
            let newest = |limit| events::EventQuery {
                limit,
                ..Default::default()
            };
            let first = events::page(&mut conn, &newest(4)).unwrap();
            let seqs: Vec<i64> = first.iter().map(|(e, _)| e.seq).collect();
            assert_eq!(seqs, [10, 9, 8, 7], "newest first");
            let next = events::page(
                &mut conn,
                &events::EventQuery {
                    before_id: Some(first[3].0.id),
                    ..newest(4)
                },
            )
            .unwrap();
            assert_eq!(next[0].0.seq, 6);

            let only_b = events::page(
                &mut conn,
                &events::EventQuery {
                    instance_id: Some(b),
                    since: Some((start + Duration::minutes(4)).naive_utc()),
                    until: Some((start + Duration::minutes(8)).naive_utc()),
                    ..newest(50)
                },
            )
            .unwrap();
            let seqs: Vec<i64> = only_b.iter().map(|(e, _)| e.seq).collect();
            assert_eq!(seqs, [8, 6]);
            assert!(only_b.iter().all(|(_, name)| name == "b"));
            let none = events::page(
                &mut conn,
                &events::EventQuery {
                    kinds: vec!["streaming_changed".into()],
                    ..newest(50)
                },
            )
            .unwrap();
            assert!(none.is_empty());
            let payload: serde_json::Value = serde_json::from_str(&first[0].0.payload).unwrap();
            assert_eq!(payload["type"], "scene_changed");
            assert_eq!(first[0].0.source, "obs_event");

            // Pruning goes in chunks, oldest first.
            let cutoff = (start + Duration::minutes(5)).naive_utc();
            assert_eq!(events::prune(&mut conn, cutoff, 3).unwrap(), 3);
            assert_eq!(events::prune(&mut conn, cutoff, 3).unwrap(), 2);
            assert_eq!(events::prune(&mut conn, cutoff, 3).unwrap(), 0);
            let left = events::page(&mut conn, &newest(50)).unwrap();
            assert_eq!(left.len(), 5);
        }
    }

    fn figures(active: bool, duration_ms: u64, bytes: u64) -> Observation {
        crate::db::sessions::figures_with_frames(active, duration_ms, bytes, 1, 100)
    }

    /// The ten latest sessions of one output, on every instance.
    fn latest_ten(output: Output) -> sessions::SessionQuery {
        sessions::SessionQuery {
            output,
            instance_id: None,
            since: None,
            until: None,
            before_id: None,
            limit: 10,
        }
    }

    on_both_backends! {
        fn a_stream_session_from_start_to_stop(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let id = instances::upsert(&mut conn, "default", "h", 1, now()).unwrap();
            let t0 = now();
            let at = |ms: i64| t0 + Duration::milliseconds(ms);
            let stream = Output::Stream;
            sessions::observe(&mut conn, id, stream, &Observation::Started, at(0)).unwrap();
            sessions::observe(
                &mut conn,
                id,
                stream,
                &figures(true, 2_000, 1_500_000),
                at(2_000),
            )
            .unwrap();
            sessions::observe(
                &mut conn,
                id,
                stream,
                &figures(true, 4_000, 3_500_000),
                at(4_000),
            )
            .unwrap();
            sessions::observe(
                &mut conn,
                id,
                stream,
                &Observation::Stopped { output_path: None },
                at(4_500),
            )
            .unwrap();
            assert!(sessions::open(&mut conn, id, stream).unwrap().is_none());
            let page = sessions::page(&mut conn, &latest_ten(stream)).unwrap();
            let (session, name) = &page[0];
            assert_eq!(name, "default");
            assert_eq!(session.bytes, 3_500_000);
            assert_eq!(session.duration_ms, 4_500);
            // 3 500 000 bytes in 4 s, above the first reading's 6000.
            assert_eq!(session.peak_kbits_per_sec, 7000.0);
            assert_eq!(session.end_reason.as_deref(), Some(END_STOPPED));
            assert_eq!(session.skipped_frames, Some(1));
            // Records are kept apart.
            let records = sessions::page(&mut conn, &latest_ten(Output::Record)).unwrap();
            assert!(records.is_empty());
        }
    }

    on_both_backends! {
        fn a_session_left_open_by_a_crash_is_closed_from_what_obs_reports(backend) {
            let (_db, mut conn) = test_db_on(backend);
            let id = instances::upsert(&mut conn, "default", "h", 1, now()).unwrap();
            let t0 = now();
            let record = Output::Record;
            sessions::observe(&mut conn, id, record, &Observation::Started, t0).unwrap();
            let seen = t0 + Duration::seconds(3);
            sessions::observe(&mut conn, id, record, &figures(true, 3_000, 900_000), seen).unwrap();
            // ... the hub is killed; it starts again, and OBS is no longer recording.
            let later = t0 + Duration::minutes(10);
            sessions::observe(&mut conn, id, record, &figures(false, 0, 0), later).unwrap();
            let closed = crate::db::schema::output_sessions::table
                .select(OutputSession::as_select())
                .first(&mut conn)
                .unwrap();
            assert_eq!(closed.ended_at, Some(seen));
            assert_eq!(closed.bytes, 900_000);
            assert_eq!(closed.end_reason.as_deref(), Some(END_FOUND_STOPPED));
        }
    }

    on_both_backends! {
    fn groups_and_managed_instances_are_stored_replaced_and_removed(backend) {
        use crate::db::source::managed::{GroupRow, ManagedInstanceRow};
        let (_db, mut conn) = test_db_on(backend);
        let created = now();
        let group = |members: &str| GroupRow {
            name: "booths".into(),
            instances: members.into(),
            created_at: created,
            updated_at: now(),
        };
        managed::put_group(&mut conn, &group(r#"["a"]"#)).unwrap();
        managed::put_group(&mut conn, &group(r#"["a","b"]"#)).unwrap();
        let stored = managed::groups(&mut conn).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].instances, r#"["a","b"]"#);
        assert_eq!(stored[0].created_at, created);
        assert!(managed::delete_group(&mut conn, "booths").unwrap());
        assert!(!managed::delete_group(&mut conn, "booths").unwrap());

        let mut row = ManagedInstanceRow {
            name: "booth-a".into(),
            host: "127.0.0.1".into(),
            port: 4460,
            password: Some("pw".into()),
            created_at: created,
            updated_at: now(),
        };
        managed::insert_instance(&mut conn, &row).unwrap();
        assert!(
            managed::insert_instance(&mut conn, &row).is_err(),
            "names are unique"
        );
        row.port = 4461;
        row.password = None;
        assert!(managed::update_instance(&mut conn, &row).unwrap());
        let stored = managed::instances(&mut conn).unwrap();
        assert_eq!((stored[0].port, stored[0].password.clone()), (4461, None));
        assert!(managed::delete_instance(&mut conn, "booth-a").unwrap());
        assert!(managed::instances(&mut conn).unwrap().is_empty());
    }
    }
}
