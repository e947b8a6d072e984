//! What gets written for each change the status manager pushes: a plain function from a
//! change (and what the recorder remembers of its instance) to write operations.
//!
//! - A change of a kind whose descriptor says `recorded` (`status::kinds`) becomes an event row.
//!   (Stats change with every poll of every instance: their kind is not recorded; they feed the
//!   session figures instead of filling the history.)
//! - Everything else a capability keeps (the scenes table, stream and record sessions) comes from
//!   the [`HistoryHook`]s the capabilities register in `app`, one per capability: this file has
//!   no code for any one kind of change.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{sessions::Observation, source::session::Output};
use crate::status::{model::SceneInfo, update::Source, ChangeEvent, InstanceStatus};

#[derive(Clone, Debug)]
pub enum WriteOp {
    Event(Arc<ChangeEvent>),
    SyncScenes {
        instance: String,
        scenes: Vec<SceneInfo>,
        at: DateTime<Utc>,
    },
    Output {
        instance: String,
        output: Output,
        observation: Observation,
        at: DateTime<Utc>,
    },
    Relay(Arc<Relayed>),
}

impl WriteOp {
    /// Whether the op writes an event row.
    pub fn is_event(&self) -> bool {
        match self {
            Self::Event(_) => true,
            Self::Relay(relayed) => relayed.event.change.descriptor().recorded,
            _ => false,
        }
    }
}

/// In a cluster, a change stamped by the node owning its instance: written in one fenced step
/// (its event row if its kind is recorded, its relay row, the instance's status), only while
/// `node` still holds the lease under the stamp's epoch (see `db::queries::relay`).
#[derive(Clone, Debug)]
pub struct Relayed {
    pub event: Arc<ChangeEvent>,
    /// The instance's status on the board once the change was published (at least that new).
    pub status: Option<Arc<InstanceStatus>>,
    /// This node's id.
    pub node: Arc<str>,
}

/// A stamped change's ops: its [`WriteOp::Event`] (if any) becomes one [`WriteOp::Relay`],
/// first; the capabilities' other ops follow as they are.
pub fn relay_ops(ops: Vec<WriteOp>, relayed: Relayed) -> Vec<WriteOp> {
    std::iter::once(WriteOp::Relay(Arc::new(relayed)))
        .chain(
            ops.into_iter()
                .filter(|op| !matches!(op, WriteOp::Event(_))),
        )
        .collect()
}

/// What a capability writes to the history beyond the event rows. One hook per instance (made
/// by the capability's [`HookMaker`]), so it may remember what it needs between changes (a
/// bitrate window, for example). A hook sees only the change: every change carries what its
/// consumers need, so no hook reads the status board behind it.
pub trait HistoryHook: Send {
    /// The writes one change asks for.
    fn ops(&mut self, event: &ChangeEvent) -> Vec<WriteOp>;
}

/// Makes a capability's hook for one instance.
pub type HookMaker = fn() -> Box<dyn HistoryHook>;

/// The hooks the capabilities registered (in `app`).
#[derive(Clone, Default)]
pub struct HistoryHooks(Vec<HookMaker>);

impl HistoryHooks {
    pub fn with(mut self, maker: HookMaker) -> Self {
        self.0.push(maker);
        self
    }
}

/// What the recorder remembers of one instance between changes: each capability's hook.
pub struct InstanceTracker {
    hooks: Vec<Box<dyn HistoryHook>>,
}

impl InstanceTracker {
    pub fn new(hooks: &HistoryHooks) -> Self {
        Self {
            hooks: hooks.0.iter().map(|make| make()).collect(),
        }
    }
}

/// The write operations for one change.
pub fn ops_for(event: &Arc<ChangeEvent>, tracker: &mut InstanceTracker) -> Vec<WriteOp> {
    let mut ops = Vec::new();
    if event.change.descriptor().recorded {
        ops.push(WriteOp::Event(Arc::clone(event)));
    }
    for hook in &mut tracker.hooks {
        ops.extend(hook.ops(event));
    }
    ops
}

/// How a [`Source`] is stored.
pub fn source_name(source: Source) -> &'static str {
    match source {
        Source::ObsEvent => "obs_event",
        Source::Poll => "poll",
        Source::Connection => "connection",
        Source::Api => "api",
        Source::Callback => "callback",
        Source::Rule => "rule",
    }
}

/// What the history tests of every capability share: fixtures, and the recording API they
/// drive (so that `use test_support::*` is all a hook's tests import from here).
#[cfg(test)]
pub mod test_support {
    use std::sync::Arc;

    use chrono::Utc;

    use super::WriteOp;
    pub use super::{ops_for, HistoryHooks, InstanceTracker};
    use crate::status::{update::Source, Change, ChangeEvent};

    /// A change as OBS reported it on the `default` instance, numbered 1, now.
    pub fn obs_event(change: Change) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            cluster: None,
            seq: 1,
            instance: "default".into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change,
        })
    }

    /// What kind each write operation is, in order.
    pub fn op_kinds(ops: &[WriteOp]) -> Vec<&'static str> {
        ops.iter()
            .map(|op| match op {
                WriteOp::Event(_) => "event",
                WriteOp::SyncScenes { .. } => "sync",
                WriteOp::Output { .. } => "output",
                WriteOp::Relay(_) => "relay",
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{kinds, Change};

    #[test]
    fn recorded_kinds_become_event_rows_and_others_do_not() {
        let event = test_support::obs_event;
        let mut tracker = InstanceTracker::new(&HistoryHooks::default());
        let scene = event(Change::SceneChanged {
            scene: "A".into(),
            previous: None,
        });
        assert!(matches!(
            ops_for(&scene, &mut tracker).as_slice(),
            [WriteOp::Event(_)]
        ));
        let stats = event(Change::StatsUpdated {
            stats: None,
            stream: Default::default(),
            record: Default::default(),
        });
        assert!(ops_for(&stats, &mut tracker).is_empty());
        assert_eq!(
            kinds::recorded_names(),
            [
                "scene_changed",
                "streaming_changed",
                "recording_changed",
                "connection_changed",
                "scene_list_changed",
                "output_changed",
                "source_changed",
                "studio_changed",
                "audio_changed",
                "instance_changed",
                "rule_fired",
            ]
        );
    }
}
