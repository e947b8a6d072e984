//! `cluster::feed`: how a node of a cluster shows the changes of the instances other nodes own.
//!
//! The owner of an instance writes each change (and the instance's status) to the relay tables
//! in its history transaction and notifies `obs_hub_changes` (`db::queries::relay`). Here, a
//! thread of its own with a PostgreSQL connection of its own LISTENs on that channel; on a
//! notification for an instance, and for every instance whose status row is ahead of what this
//! node has shown (a sweep every second, which also catches up after the connection was lost),
//! it reads the status row, then the changes up to it, and sends the status manager a
//! [`Mirror`]. The manager numbers them, publishes and pushes them like its own: the WebSocket
//! sessions forward them; history, webhooks and rules skip them (their owner ran those).
//! At start every status row is loaded. Instances this node owns are skipped (their changes are
//! numbered here). Relayed changes older than an hour are pruned here too.
//!
//! diesel offers no way to wait on the connection's socket, so the listener looks for
//! notifications every [`LISTEN_POLL`] (a non-blocking read): that bounds the relay's added
//! latency, at a cost of a syscall per poll on an idle node.

use std::{
    collections::{BTreeSet, HashMap},
    thread,
    time::{Duration, Instant},
};

use actix::Addr;
use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde::Deserialize;

use crate::{
    backoff::Backoff,
    config::PostgresUrl,
    db::queries::relay::{self, ChangeRow, StatusRow},
    status::{
        ownership::Ownership, Change, InstanceStatus, Mirror, MirroredChange, Source, StatusManager,
    },
};

/// How often the listener looks for notifications.
pub const LISTEN_POLL: Duration = Duration::from_millis(5);
/// How often every status row is compared with what this node has shown.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// The feed's connection's `application_name`.
pub const APPLICATION_NAME: &str = "obs-hub change feed";
/// How often relayed changes older than an hour are pruned.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// Starts the feed's thread. It ends once the status manager has stopped.
pub fn start(
    url: PostgresUrl,
    manager: Addr<StatusManager>,
    ownership: Ownership,
) -> std::io::Result<()> {
    thread::Builder::new()
        .name("cluster-feed".into())
        .spawn(move || Feed::new(manager, ownership).run(&url))
        .map(drop)
}

/// What this node has shown of each instance: the `instance_seq` of the last status row it
/// took (and the changes up to it). Plain data.
#[derive(Debug, Default)]
pub struct Cursors {
    shown: HashMap<String, i64>,
}

impl Cursors {
    /// The instances whose status row (`instance`, `seq`) is ahead of what was shown.
    pub fn behind(&self, rows: &[(String, i64)]) -> Vec<String> {
        rows.iter()
            .filter(|(instance, seq)| self.shown(instance).is_none_or(|shown| *seq > shown))
            .map(|(instance, _)| instance.clone())
            .collect()
    }

    pub fn shown(&self, instance: &str) -> Option<i64> {
        self.shown.get(instance).copied()
    }

    pub fn advance(&mut self, instance: &str, seq: i64) {
        let shown = self.shown.entry(instance.to_string()).or_insert(seq);
        *shown = (*shown).max(seq);
    }
}

/// A change's body as the owner wrote it (the WebSocket's encoding); its `seq` and
/// `instance_seq` are the owner's, and are not read back from it.
#[derive(Deserialize)]
struct Body {
    at: DateTime<Utc>,
    source: Source,
    #[serde(flatten)]
    change: Change,
}

/// A relayed change as this node shows it (None, logged, if it cannot be read).
pub fn mirrored_change(row: &ChangeRow) -> Option<MirroredChange> {
    match serde_json::from_str::<Body>(&row.body) {
        Ok(body) => Some(MirroredChange {
            instance_seq: u64::try_from(row.seq).ok()?,
            epoch: u64::try_from(row.epoch).ok()?,
            at: body.at,
            source: body.source,
            change: body.change,
        }),
        Err(error) => {
            log::warn!(
                "cluster: change {} of `{}` (from node {}) cannot be read ({error}); skipped",
                row.seq,
                row.instance,
                row.node_id
            );
            None
        }
    }
}

/// An instance's status as the owner wrote it (None, logged, if it cannot be read).
pub fn mirrored_status(row: &StatusRow) -> Option<(u64, InstanceStatus)> {
    match serde_json::from_str::<InstanceStatus>(&row.status) {
        Ok(status) => Some((u64::try_from(row.seq).ok()?, status)),
        Err(error) => {
            log::warn!(
                "cluster: the status of `{}` (from node {}) cannot be read ({error})",
                row.instance,
                row.node_id
            );
            None
        }
    }
}

struct Feed {
    manager: Addr<StatusManager>,
    ownership: Ownership,
    cursors: Cursors,
    /// The start-up load is done: from then on, an instance seen for the first time is shown
    /// from its first change kept (it is new to the cluster, or to this node's clients).
    loaded: bool,
}

impl Feed {
    fn new(manager: Addr<StatusManager>, ownership: Ownership) -> Self {
        Self {
            manager,
            ownership,
            cursors: Cursors::default(),
            loaded: false,
        }
    }

    /// Connects, listens and relays until the manager stops; reconnects with backoff.
    fn run(mut self, url: &PostgresUrl) {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let mut failing = false;
        while self.manager.connected() {
            let outcome = PgConnection::establish(url.expose())
                .map_err(|error| error.to_string())
                .and_then(|mut conn| {
                    self.listen(&mut conn, &mut failing, &mut backoff)
                        .map_err(|error| error.to_string())
                });
            if let Err(error) = outcome {
                if !std::mem::replace(&mut failing, true) {
                    log::warn!(
                        "cluster: the change feed lost the database ({}); other nodes' changes \
                         show again once it is back",
                        error.trim_end()
                    );
                }
                thread::sleep(backoff.next_delay(&mut rand::thread_rng()));
            }
        }
    }

    fn listen(
        &mut self,
        conn: &mut PgConnection,
        failing: &mut bool,
        backoff: &mut Backoff,
    ) -> diesel::QueryResult<()> {
        // Named for the operator (and the tests) in pg_stat_activity.
        diesel::sql_query(format!("SET application_name = '{APPLICATION_NAME}'")).execute(conn)?;
        diesel::sql_query(format!("LISTEN {}", relay::CHANNEL)).execute(conn)?;
        if std::mem::replace(failing, false) {
            log::info!("cluster: the change feed is back; catching up");
        }
        backoff.reset();
        // A sweep first: the start-up load, or the catch-up after a reconnect.
        let mut last_sweep: Option<Instant> = None;
        let mut last_prune: Option<Instant> = None;
        while self.manager.connected() {
            let mut due = BTreeSet::new();
            for notification in conn.notifications_iter() {
                due.insert(notification?.payload);
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP_INTERVAL) {
                last_sweep = Some(Instant::now());
                // Not those this node numbers itself (a notification still brings them).
                let view = self.ownership.view();
                let behind = self.cursors.behind(&relay::status_seqs(conn)?);
                due.extend(
                    behind
                        .into_iter()
                        .filter(|instance| !view.as_ref().is_some_and(|view| view.holds(instance))),
                );
            }
            let loading = !self.loaded;
            if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_INTERVAL) {
                last_prune = Some(Instant::now());
                let pruned = relay::prune(conn)?;
                if pruned > 0 {
                    log::debug!("cluster: pruned {pruned} relayed changes older than an hour");
                }
            }
            if due.is_empty() {
                thread::sleep(LISTEN_POLL);
            }
            for instance in due {
                self.catch_up(conn, &instance)?;
            }
            self.loaded |= loading;
        }
        Ok(())
    }

    /// Reads `instance`'s status row and the changes up to it that this node has not shown,
    /// and hands them to the manager.
    fn catch_up(&mut self, conn: &mut PgConnection, instance: &str) -> diesel::QueryResult<()> {
        let Some(row) = relay::status_of(conn, instance)? else {
            return self.catch_up_removed(conn, instance);
        };
        let shown = self.cursors.shown(instance);
        if shown.is_some_and(|shown| shown >= row.seq) {
            return Ok(());
        }
        // Numbered here: nothing to show. The cursor stays: this node's view of its leases
        // lags a release by up to a heartbeat, during which the next owner may already write;
        // once the view says so, those changes are read from the cursor on (what this node
        // numbered itself among them the manager drops, being on its board already).
        if self.ownership.holds(instance) {
            return Ok(());
        }
        // At start-up, an instance takes its status alone: its past changes are history.
        let changes = match (shown, self.loaded) {
            (None, false) => Vec::new(),
            (after, _) => relay::changes_between(conn, instance, after.unwrap_or(0), row.seq)?,
        };
        self.manager.do_send(Mirror {
            instance: instance.to_string(),
            status: mirrored_status(&row),
            changes: changes.iter().filter_map(mirrored_change).collect(),
        });
        self.cursors.advance(instance, row.seq);
        Ok(())
    }

    /// An instance without a status row was removed (its row went with its removal): shows
    /// the changes up to that removal, which takes it off this node's board.
    fn catch_up_removed(
        &mut self,
        conn: &mut PgConnection,
        instance: &str,
    ) -> diesel::QueryResult<()> {
        let Some(shown) = self.cursors.shown(instance) else {
            return Ok(());
        };
        let changes = relay::changes_between(conn, instance, shown, i64::MAX)?;
        let Some(last) = changes.last().map(|change| change.seq) else {
            return Ok(());
        };
        if !self.ownership.holds(instance) {
            self.manager.do_send(Mirror {
                instance: instance.to_string(),
                status: None,
                changes: changes.iter().filter_map(mirrored_change).collect(),
            });
        }
        self.cursors.advance(instance, last);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::status::{ChangeEvent, ClusterStamp};

    #[test]
    fn instances_behind_are_those_never_shown_or_with_a_newer_status() {
        let mut cursors = Cursors::default();
        cursors.advance("a", 5);
        cursors.advance("b", 9);
        cursors.advance("b", 7);
        assert_eq!(cursors.shown("b"), Some(9), "never back");
        let rows = [
            ("a".to_string(), 6),
            ("b".to_string(), 9),
            ("c".to_string(), 1),
        ];
        assert_eq!(cursors.behind(&rows), ["a", "c"]);
    }

    #[test]
    fn a_change_reads_back_from_the_body_the_websocket_sends() {
        let changes = [
            Change::SceneChanged {
                scene: "Live".into(),
                previous: Some("BRB".into()),
            },
            Change::StudioChanged(Default::default()),
            Change::SceneListChanged {
                scenes: vec!["Live".into()],
                scene_details: Vec::new(),
            },
        ];
        for change in changes {
            let event = ChangeEvent {
                seq: 41,
                instance: "studio".into(),
                at: Utc::now(),
                source: Source::Poll,
                change: change.clone(),
                cluster: Some(ClusterStamp {
                    instance_seq: 7,
                    epoch: 3,
                    mirrored: false,
                }),
            };
            let row = ChangeRow {
                instance: "studio".into(),
                seq: 7,
                epoch: 3,
                node_id: "n1".into(),
                body: crate::http::live_protocol::change_message(&Arc::new(event.clone())),
                happened_at: event.at.naive_utc(),
            };
            let mirrored = mirrored_change(&row).expect("reads back");
            assert_eq!(mirrored.change, change);
            assert_eq!((mirrored.instance_seq, mirrored.epoch), (7, 3));
            assert_eq!((mirrored.at, mirrored.source), (event.at, Source::Poll));
        }
        let garbage = ChangeRow {
            body: "{\"type\":\"no_such_kind\"}".into(),
            ..ChangeRow {
                instance: "studio".into(),
                seq: 8,
                epoch: 3,
                node_id: "n1".into(),
                body: String::new(),
                happened_at: Utc::now().naive_utc(),
            }
        };
        assert!(mirrored_change(&garbage).is_none());
    }
}
