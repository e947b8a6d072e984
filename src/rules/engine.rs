//! `RuleEngine`: the actor that runs the rules. It receives every published change (subscribed
//! in `app.rs` like the history and the WebSocket) and a tick each second from the hub's clock
//! (tests send [`Tick`] themselves after moving a manual clock). The decisions are the plain
//! functions of the sibling modules; this shell keeps the per-rule state (held machines,
//! recent firings, schedule marks), starts each firing's actions on a task of its own, and
//! publishes each firing as a `rule_fired` change.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    actions::{describe, resolve, FiringContext, Runner},
    chains::{ChainId, Chains},
    evaluate::{change_matches, holds, holds_quietly, Evaluated},
    held::{HeldState, HeldStep},
    limits::Firings,
    model::{Action, Rule, RuleSpec, Trigger},
    schedule::{due, Due},
};
use crate::{
    db::{pool::Pool, queries},
    status::{
        ownership::{Ownership, SCHEDULES_DUTY},
        rule_firing::RuleFiring,
        update::Source,
        Announce, Change, ChangeEvent, HubSnapshot, StatusChanged, StatusManager,
    },
};

/// How often the engine looks at its clock (schedules, held conditions between changes).
pub const TICK: Duration = Duration::from_secs(1);

/// Where a rule was declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A `[[rules]]` table of the config file: read-only through the API.
    Config,
    /// Made through `/api/rules/`, stored in the database.
    Api,
}

/// The last firing of a rule, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct LastFiring {
    pub at: DateTime<Utc>,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A rule as `/api/rules/` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleView {
    pub name: String,
    pub origin: Origin,
    pub enabled: bool,
    pub definition: RuleSpec,
    /// Held triggers: the instances whose condition has entered (awaiting recovery).
    pub entered: Vec<String>,
    /// Schedules: the next firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<DateTime<Utc>>,
    pub last_firing: Option<LastFiring>,
}

struct Loaded {
    rule: Rule,
    origin: Origin,
    firings: Firings,
    /// Per instance.
    held: BTreeMap<String, HeldState>,
    /// Schedules: handled up to this moment.
    mark: Option<DateTime<Utc>>,
    last: Option<LastFiring>,
}

impl Loaded {
    fn new(rule: Rule, origin: Origin, mark: Option<DateTime<Utc>>) -> Self {
        Self {
            rule,
            origin,
            firings: Firings::default(),
            held: BTreeMap::new(),
            mark,
            last: None,
        }
    }

    fn view(&self, now: DateTime<Utc>) -> RuleView {
        RuleView {
            name: self.rule.spec.name.clone(),
            origin: self.origin,
            enabled: self.rule.spec.enabled,
            definition: self.rule.spec.clone(),
            entered: self
                .held
                .iter()
                .filter(|(_, state)| state.entered)
                .map(|(instance, _)| instance.clone())
                .collect(),
            next_run: match &self.rule.trigger {
                Trigger::Schedule { schedule, .. } => schedule.next_after(now),
                _ => None,
            },
            last_firing: self.last.clone(),
        }
    }
}

pub struct RuleEngine {
    runner: Runner,
    manager: Addr<StatusManager>,
    pool: Option<Pool>,
    rules: BTreeMap<String, Loaded>,
    /// Schedule marks read from the database at start, for rules not loaded yet.
    marks: BTreeMap<String, DateTime<Utc>>,
    /// In a cluster: what this node's part is (None alone: every duty is this hub's).
    cluster: Option<ClusterPart>,
}

/// The stored rules, read anew (a cluster node's reload; runs on a blocking thread).
pub type StoredRules = Arc<dyn Fn() -> Vec<Rule> + Send + Sync>;

/// A cluster node's rules: change-triggered and held rules run on the node that owns the
/// instance (mirrored changes are the owner's to act on), schedules on the node holding
/// [`SCHEDULES_DUTY`], and rules made through another node are picked up every heartbeat.
pub struct ClusterDuties {
    pub ownership: Ownership,
    pub heartbeat: Duration,
    pub stored: StoredRules,
}

struct ClusterPart {
    duties: ClusterDuties,
    schedules: ScheduleDuty,
    /// Counts the rule changes asked of this engine: a reload read before one is stale.
    rule_changes: u64,
}

/// Where this node stands with the schedules duty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScheduleDuty {
    NotHeld,
    /// Just taken: the marks the previous holder stored are being read.
    Taking,
    Held,
}

/// Looks at the clock now (the engine does so every [`TICK`] by itself).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Tick;

/// Adds or replaces a rule (by name; `replaces`: the name it had before a rename).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PutRule {
    pub rule: Rule,
    pub origin: Origin,
    pub replaces: Option<String>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveRule(pub String);

#[derive(Message)]
#[rtype(result = "Vec<RuleView>")]
pub struct ListRules;

/// What the rule would do now, doing nothing (None: no such rule).
#[derive(Message)]
#[rtype(result = "Option<Value>")]
pub struct DryRun(pub String);

/// A firing's actions are done.
#[derive(Message)]
#[rtype(result = "()")]
struct Finished {
    instance: String,
    firing: RuleFiring,
}

/// What fired a rule, for its record.
struct Cause {
    context: FiringContext,
    trigger: Value,
    evaluated: Vec<Evaluated>,
    /// When the trigger happened, on the wall clock (for the firing's duration).
    at: DateTime<Utc>,
}

impl RuleEngine {
    pub fn new(
        runner: Runner,
        manager: Addr<StatusManager>,
        pool: Option<Pool>,
        rules: Vec<(Rule, Origin)>,
    ) -> Self {
        let marks = pool
            .as_ref()
            .and_then(|pool| {
                let mut conn = pool.get().ok()?;
                queries::rules::schedule_marks(&mut conn).ok()
            })
            .unwrap_or_default()
            .into_iter()
            .map(|(name, at)| (name, at.and_utc()))
            .collect();
        let mut engine = Self {
            runner,
            manager,
            pool,
            rules: BTreeMap::new(),
            marks,
            cluster: None,
        };
        for (rule, origin) in rules {
            engine.put(rule, origin);
        }
        engine
    }

    /// This engine as a cluster node's (see [`ClusterDuties`]).
    pub fn in_cluster(mut self, duties: ClusterDuties) -> Self {
        self.cluster = Some(ClusterPart {
            duties,
            schedules: ScheduleDuty::NotHeld,
            rule_changes: 0,
        });
        self
    }

    /// Whether this node fires the schedules now (alone: always).
    fn fires_schedules(&self) -> bool {
        self.cluster
            .as_ref()
            .is_none_or(|part| part.schedules == ScheduleDuty::Held)
    }

    /// Whether this node runs the rules of `instance` (alone: every instance's).
    fn runs_rules_of(&self, instance: &str) -> bool {
        self.cluster
            .as_ref()
            .is_none_or(|part| part.duties.ownership.holds(instance))
    }

    /// Follows the schedules duty: on taking it, the marks the previous holder stored are read
    /// first, so that a firing it made is not made again and one missed meanwhile follows the
    /// rule's missed policy.
    fn follow_schedules_duty(&mut self, ctx: &mut Context<Self>) {
        let Some(part) = &mut self.cluster else {
            return;
        };
        let holds = part.duties.ownership.holds(SCHEDULES_DUTY);
        match (holds, part.schedules) {
            (false, _) => part.schedules = ScheduleDuty::NotHeld,
            (true, ScheduleDuty::NotHeld) => {
                part.schedules = ScheduleDuty::Taking;
                let pool = self.pool.clone();
                let read = actix_web::rt::task::spawn_blocking(move || {
                    let mut conn = pool?.get().ok()?;
                    queries::rules::schedule_marks(&mut conn).ok()
                });
                ctx.spawn(
                    actix::fut::wrap_future(read).map(|read, engine: &mut Self, _| {
                        let marks = read.ok().flatten().unwrap_or_default();
                        for (name, at) in marks {
                            let at = at.and_utc();
                            engine.marks.insert(name.clone(), at);
                            if let Some(loaded) = engine.rules.get_mut(&name) {
                                loaded.mark = Some(at);
                            }
                        }
                        if let Some(part) = &mut engine.cluster {
                            if part.schedules == ScheduleDuty::Taking {
                                part.schedules = ScheduleDuty::Held;
                            }
                        }
                    }),
                );
            }
            (true, _) => {}
        }
    }

    /// A cluster node reads the stored rules again (made, changed or deleted through another
    /// node) and applies the difference.
    fn reload_stored(&mut self, ctx: &mut Context<Self>) {
        let Some(part) = &self.cluster else {
            return;
        };
        let stored = Arc::clone(&part.duties.stored);
        let changes = part.rule_changes;
        let read = actix_web::rt::task::spawn_blocking(move || stored());
        ctx.spawn(
            actix::fut::wrap_future(read).map(move |read, engine: &mut Self, _| {
                let current = engine.cluster.as_ref().map(|part| part.rule_changes);
                if let (Ok(stored), Some(current)) = (read, current) {
                    if current == changes {
                        engine.apply_stored(stored);
                    }
                }
            }),
        );
    }

    /// Makes the engine's API rules those of `stored` (the config file's are left alone).
    fn apply_stored(&mut self, stored: Vec<Rule>) {
        let names: std::collections::BTreeSet<String> =
            stored.iter().map(|rule| rule.spec.name.clone()).collect();
        let gone: Vec<String> = self
            .rules
            .iter()
            .filter(|(name, loaded)| loaded.origin == Origin::Api && !names.contains(*name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            self.rules.remove(&name);
            self.marks.remove(&name);
        }
        for rule in stored {
            let same = self.rules.get(&rule.spec.name).is_some_and(|loaded| {
                loaded.origin == Origin::Config || loaded.rule.spec == rule.spec
            });
            if !same {
                let last = self
                    .rules
                    .remove(&rule.spec.name)
                    .and_then(|loaded| loaded.last);
                self.put_keeping(rule, Origin::Api, last);
            }
        }
    }

    fn put(&mut self, rule: Rule, origin: Origin) {
        self.put_keeping(rule, origin, None);
    }

    /// Adds `rule`; `last`: the last firing of the rule it replaces, still its last.
    fn put_keeping(&mut self, rule: Rule, origin: Origin, last: Option<LastFiring>) {
        let name = rule.spec.name.clone();
        let mut mark = self.marks.get(&name).copied();
        if mark.is_none() && matches!(rule.trigger, Trigger::Schedule { .. }) {
            // A new schedule is handled up to the moment it was made: nothing before is missed.
            let now = self.now();
            mark = Some(now);
            self.marks.insert(name.clone(), now);
            // Only the node firing the schedules writes their marks.
            if self.fires_schedules() {
                self.store_mark(&name, now);
            }
        }
        let mut loaded = Loaded::new(rule, origin, mark);
        loaded.last = last;
        self.rules.insert(name, loaded);
    }

    fn now(&self) -> DateTime<Utc> {
        self.runner.clock.now()
    }

    fn chains(&self) -> std::sync::MutexGuard<'_, Chains> {
        self.runner
            .chains
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn on_change(&mut self, event: &ChangeEvent, ctx: &mut Context<Self>) {
        if matches!(event.change, Change::RuleFired(_)) {
            return;
        }
        if event.cluster.as_ref().is_some_and(|stamp| stamp.mirrored) {
            // Relayed from the node that owns the instance: that node runs its rules.
            return;
        }
        let now = self.now();
        let caused_by = self.chains().cause(&event.instance, &event.change, now);
        let snapshot = self.runner.board.current();
        let names: Vec<String> = self.rules.keys().cloned().collect();
        for name in names {
            let Some(loaded) = self.rules.get(&name) else {
                continue;
            };
            if !loaded.rule.spec.enabled {
                continue;
            }
            match &loaded.rule.trigger {
                Trigger::Change { .. } => {
                    if !change_matches(&loaded.rule.trigger, event) {
                        continue;
                    }
                    let mut evaluated = Vec::new();
                    if let Some(conditions) = &loaded.rule.conditions {
                        if !holds_quietly(conditions, &event.instance, &snapshot) {
                            continue;
                        }
                        holds(conditions, &event.instance, &snapshot, &mut evaluated);
                    }
                    let trigger_scene = match &event.change {
                        Change::SceneChanged { scene, .. } => Some(scene.clone()),
                        _ => None,
                    };
                    let cause = Cause {
                        context: FiringContext {
                            rule: name.clone(),
                            chain: 0,
                            instance: Some(event.instance.clone()),
                            trigger_scene,
                        },
                        trigger: json!({
                            "type": "change", "kind": event.change.kind(),
                            "instance": event.instance, "seq": event.seq,
                        }),
                        evaluated,
                        at: event.at,
                    };
                    self.fire(&name, cause, caused_by, false, ctx);
                }
                Trigger::Held { instance, .. } => {
                    if instance.as_ref().is_none_or(|name| *name == event.instance) {
                        self.step_held(&name, &event.instance, &snapshot, now, ctx);
                    }
                }
                Trigger::Schedule { .. } => {}
            }
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        self.follow_schedules_duty(ctx);
        let schedules = self.fires_schedules();
        let now = self.now();
        let snapshot = self.runner.board.current();
        let names: Vec<String> = self.rules.keys().cloned().collect();
        for name in names {
            let Some(loaded) = self.rules.get(&name) else {
                continue;
            };
            match &loaded.rule.trigger {
                Trigger::Held { instance, .. } if loaded.rule.spec.enabled => {
                    let instances: Vec<String> = match instance {
                        Some(instance) => vec![instance.clone()],
                        None => snapshot.instances.keys().cloned().collect(),
                    };
                    for instance in instances {
                        if self.runs_rules_of(&instance) {
                            self.step_held(&name, &instance, &snapshot, now, ctx);
                        }
                    }
                }
                Trigger::Schedule { .. } if schedules => self.tick_schedule(&name, now, ctx),
                _ => {}
            }
        }
    }

    fn step_held(
        &mut self,
        name: &str,
        instance: &str,
        snapshot: &HubSnapshot,
        now: DateTime<Utc>,
        ctx: &mut Context<Self>,
    ) {
        let Some(loaded) = self.rules.get_mut(name) else {
            return;
        };
        let Trigger::Held { when, recover, .. } = &loaded.rule.trigger else {
            return;
        };
        let when_now: Vec<(bool, u64)> = when
            .iter()
            .map(|(condition, secs)| (holds_quietly(condition, instance, snapshot), *secs))
            .collect();
        let recover_now = (holds_quietly(&recover.0, instance, snapshot), recover.1);
        if !loaded.held.contains_key(instance) {
            loaded
                .held
                .insert(instance.to_string(), HeldState::default());
        }
        let Some(state) = loaded.held.get_mut(instance) else {
            return;
        };
        let step = state.step(now, &when_now, recover_now);
        let (index, recovering) = match step {
            HeldStep::Nothing => return,
            HeldStep::Enter(index) => (index, false),
            HeldStep::Recover => (0, true),
        };
        // The record of what was read, made only now that the rule fires.
        let mut evaluated = Vec::new();
        let read = if recovering {
            &recover.0
        } else {
            &when[index].0
        };
        holds(read, instance, snapshot, &mut evaluated);
        if !recovering {
            if let Some(conditions) = &loaded.rule.conditions {
                if !holds(conditions, instance, snapshot, &mut evaluated) {
                    return;
                }
            }
        }
        let trigger = if recovering {
            json!({"type": "held", "instance": instance, "recovered": true, "for_secs": recover.1})
        } else {
            json!({"type": "held", "instance": instance, "condition": index, "for_secs": when[index].1})
        };
        let cause = Cause {
            context: FiringContext {
                rule: name.to_string(),
                chain: 0,
                instance: Some(instance.to_string()),
                trigger_scene: None,
            },
            trigger,
            evaluated,
            at: Utc::now(),
        };
        self.fire(name, cause, None, recovering, ctx);
    }

    fn tick_schedule(&mut self, name: &str, now: DateTime<Utc>, ctx: &mut Context<Self>) {
        let Some(loaded) = self.rules.get_mut(name) else {
            return;
        };
        let Trigger::Schedule {
            schedule,
            missed,
            grace_secs,
        } = &loaded.rule.trigger
        else {
            return;
        };
        let Some(mark) = loaded.mark else {
            return;
        };
        let decision = due(schedule, mark, now, *missed, *grace_secs);
        if decision == Due::Nothing {
            return;
        }
        loaded.mark = Some(now);
        let enabled = loaded.rule.spec.enabled;
        self.marks.insert(name.to_string(), now);
        self.store_mark(name, now);
        if !enabled {
            return;
        }
        let context = FiringContext {
            rule: name.to_string(),
            ..FiringContext::default()
        };
        match decision {
            Due::Nothing => {}
            Due::Fire(at) => {
                let cause = Cause {
                    context,
                    trigger: json!({"type": "schedule", "scheduled": at}),
                    evaluated: Vec::new(),
                    at: Utc::now(),
                };
                self.fire_checked(name, cause, ctx);
            }
            Due::RunMissed { scheduled, missed } => {
                let cause = Cause {
                    context,
                    trigger: json!({"type": "schedule", "scheduled": scheduled, "missed": missed, "run_late": true}),
                    evaluated: Vec::new(),
                    at: Utc::now(),
                };
                self.fire_checked(name, cause, ctx);
            }
            Due::SkipMissed { scheduled, missed } => {
                let chain = self.chains().start(now);
                let firing = RuleFiring {
                    rule: name.to_string(),
                    outcome: "skipped".into(),
                    reason: Some(format!(
                        "missed while the hub was down ({missed} firing(s), the latest scheduled at {}); the rule skips missed firings",
                        scheduled.to_rfc3339()
                    )),
                    trigger: json!({"type": "schedule", "scheduled": scheduled, "missed": missed}),
                    evaluated: Vec::new(),
                    actions: Vec::new(),
                    chain,
                    duration_ms: None,
                    data: None,
                };
                let instance = self.instance_of(name, &context);
                self.publish(instance, firing);
            }
        }
    }

    /// A schedule's firing: its conditions are checked against the first target's status.
    fn fire_checked(&mut self, name: &str, mut cause: Cause, ctx: &mut Context<Self>) {
        let Some(loaded) = self.rules.get(name) else {
            return;
        };
        if let Some(conditions) = &loaded.rule.conditions {
            let instance = self.instance_of(name, &cause.context);
            let snapshot = self.runner.board.current();
            if !holds(conditions, &instance, &snapshot, &mut cause.evaluated) {
                return;
            }
        }
        self.fire(name, cause, None, false, ctx);
    }

    /// Fires `name` (its actions, or its recovery actions), unless loop protection or its
    /// limits keep it from it; either way the firing is published.
    fn fire(
        &mut self,
        name: &str,
        mut cause: Cause,
        caused_by: Option<ChainId>,
        recovering: bool,
        ctx: &mut Context<Self>,
    ) {
        let now = self.now();
        let chain = caused_by.unwrap_or_else(|| self.chains().start(now));
        cause.context.chain = chain;
        let fresh = self.chains().enter(chain, name, now);
        let Some(loaded) = self.rules.get_mut(name) else {
            return;
        };
        let refusal = if !fresh {
            Some("suppressed: loop (the rule's own action caused this change)".to_string())
        } else if recovering {
            None
        } else {
            loaded.firings.admit(&loaded.rule.spec.limits, now).err()
        };
        let actions = if recovering {
            loaded.rule.recovery_actions.clone()
        } else {
            loaded.rule.actions.clone()
        };
        let instance = self.instance_of(name, &cause.context);
        let mut firing = RuleFiring {
            rule: name.to_string(),
            outcome: if recovering { "recovered" } else { "fired" }.into(),
            reason: None,
            trigger: cause.trigger,
            evaluated: cause.evaluated.iter().map(|value| json!(value)).collect(),
            actions: Vec::new(),
            chain,
            duration_ms: None,
            data: None,
        };
        if let Some(reason) = refusal {
            firing.outcome = "suppressed".into();
            firing.reason = Some(reason);
            self.publish(instance, firing);
            return;
        }
        let runner = self.runner.clone();
        let engine = ctx.address();
        let context = cause.context;
        let started = cause.at;
        actix::spawn(async move {
            let ran = runner.run(&context, &actions).await;
            firing.actions = ran.actions;
            firing.data = ran.data;
            if let Some(failure) = ran.failed {
                firing.outcome = "failed".into();
                firing.reason = Some(failure);
            }
            firing.duration_ms = (Utc::now() - started)
                .num_microseconds()
                .map(|micros| micros as f64 / 1000.0);
            engine.do_send(Finished { instance, firing });
        });
    }

    /// The instance a firing is published under: the trigger's, or the first target's.
    fn instance_of(&self, name: &str, context: &FiringContext) -> String {
        if let Some(instance) = &context.instance {
            return instance.clone();
        }
        let first_target = self.rules.get(name).and_then(|loaded| {
            loaded.rule.actions.iter().find_map(|action| match action {
                Action::Command { targets, .. } => resolve(targets, context, &self.runner.groups)
                    .ok()
                    .and_then(|instances| instances.into_iter().next()),
                _ => None,
            })
        });
        first_target
            .or_else(|| self.runner.board.current().instances.keys().next().cloned())
            .unwrap_or_default()
    }

    fn publish(&mut self, instance: String, firing: RuleFiring) {
        if let Some(loaded) = self.rules.get_mut(&firing.rule) {
            loaded.last = Some(LastFiring {
                at: Utc::now(),
                outcome: firing.outcome.clone(),
                reason: firing.reason.clone(),
            });
        }
        log::info!(
            "rule `{}` {}{}",
            firing.rule,
            firing.outcome,
            firing
                .reason
                .as_deref()
                .map(|reason| format!(": {reason}"))
                .unwrap_or_default()
        );
        self.manager.do_send(Announce {
            instance,
            source: Source::Rule,
            change: Change::RuleFired(firing),
        });
    }

    fn store_mark(&self, name: &str, at: DateTime<Utc>) {
        let Some(pool) = self.pool.clone() else {
            return;
        };
        let name = name.to_string();
        actix_web::rt::task::spawn_blocking(move || {
            let stored = pool
                .get()
                .map_err(|error| error.to_string())
                .and_then(|mut conn| {
                    queries::rules::set_schedule_mark(&mut conn, &name, at.naive_utc())
                        .map_err(|error| error.to_string())
                });
            if let Err(error) = stored {
                log::warn!("could not store the schedule mark of rule `{name}`: {error}");
            }
        });
    }

    /// What the rule would do now against the current status, doing nothing.
    fn dry_run(&self, name: &str) -> Option<Value> {
        let loaded = self.rules.get(name)?;
        let rule = &loaded.rule;
        let snapshot = self.runner.board.current();
        let now = self.now();
        let mut evaluated = Vec::new();
        let (instance, trigger, would_fire) = match &rule.trigger {
            Trigger::Change { kind, instance, .. } => (
                instance.clone(),
                json!({"type": "change", "kind": kind, "note": "fires on the next matching change; conditions are checked against the current status"}),
                true,
            ),
            Trigger::Schedule { schedule, .. } => (
                None,
                json!({"type": "schedule", "next_run": schedule.next_after(now)}),
                true,
            ),
            Trigger::Held {
                instance,
                when,
                recover,
            } => {
                let target = instance
                    .clone()
                    .or_else(|| snapshot.instances.keys().next().cloned());
                let name = target.clone().unwrap_or_default();
                let entered = loaded.held.get(&name).is_some_and(|state| state.entered);
                let holding: Vec<bool> = when
                    .iter()
                    .map(|(condition, _)| holds(condition, &name, &snapshot, &mut evaluated))
                    .collect();
                let recovered = holds(&recover.0, &name, &snapshot, &mut evaluated);
                (
                    target,
                    json!({"type": "held", "entered": entered, "when_holds_now": holding, "recover_holds_now": recovered}),
                    if entered {
                        recovered
                    } else {
                        holding.contains(&true)
                    },
                )
            }
        };
        let context = FiringContext {
            rule: name.to_string(),
            chain: 0,
            instance: instance.clone(),
            trigger_scene: None,
        };
        let conditions_hold = rule.conditions.as_ref().is_none_or(|conditions| {
            holds(
                conditions,
                &self.instance_of(name, &context),
                &snapshot,
                &mut evaluated,
            )
        });
        let plan = |actions: &[Action]| -> Vec<Value> {
            actions
                .iter()
                .map(|action| match action {
                    Action::Delay(wait) => json!({"type": "delay", "secs": wait.as_secs_f64()}),
                    Action::Webhook(data) => json!({"type": "webhook", "data": data}),
                    Action::Command { command, targets } => {
                        match resolve(targets, &context, &self.runner.groups) {
                            Ok(instances) => json!({"action": describe(command, &context), "instances": instances}),
                            Err(problem) => json!({"action": describe(command, &context), "error": problem}),
                        }
                    }
                })
                .collect()
        };
        Some(json!({
            "rule": name,
            "dry_run": true,
            "enabled": rule.spec.enabled,
            "trigger": trigger,
            "conditions_hold": conditions_hold,
            "would_fire": rule.spec.enabled && would_fire && conditions_hold,
            "evaluated": evaluated,
            "actions": plan(&rule.actions),
            "recovery_actions": plan(&rule.recovery_actions),
        }))
    }
}

impl Actor for RuleEngine {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Every change of every instance comes here: a roomy mailbox, like the manager's.
        ctx.set_mailbox_capacity(4096);
        ctx.run_interval(TICK, |engine, ctx| engine.tick(ctx));
        if let Some(part) = &self.cluster {
            ctx.run_interval(part.duties.heartbeat, |engine, ctx| {
                engine.reload_stored(ctx)
            });
        }
    }
}

impl Handler<StatusChanged> for RuleEngine {
    type Result = ();

    fn handle(&mut self, event: StatusChanged, ctx: &mut Context<Self>) {
        self.on_change(&event, ctx);
    }
}

impl Handler<Tick> for RuleEngine {
    type Result = ();

    fn handle(&mut self, _: Tick, ctx: &mut Context<Self>) {
        self.tick(ctx);
    }
}

impl Handler<PutRule> for RuleEngine {
    type Result = ();

    fn handle(&mut self, put: PutRule, _: &mut Context<Self>) {
        if let Some(part) = &mut self.cluster {
            part.rule_changes += 1;
        }
        let old = put.replaces.unwrap_or_else(|| put.rule.spec.name.clone());
        // A rule changed (or enabled, or disabled) starts afresh, but its last firing stays.
        let last = self.rules.remove(&old).and_then(|loaded| loaded.last);
        self.put_keeping(put.rule, put.origin, last);
    }
}

impl Handler<RemoveRule> for RuleEngine {
    type Result = ();

    fn handle(&mut self, RemoveRule(name): RemoveRule, _: &mut Context<Self>) {
        if let Some(part) = &mut self.cluster {
            part.rule_changes += 1;
        }
        self.rules.remove(&name);
        self.marks.remove(&name);
    }
}

impl Handler<ListRules> for RuleEngine {
    type Result = MessageResult<ListRules>;

    fn handle(&mut self, _: ListRules, _: &mut Context<Self>) -> Self::Result {
        let now = self.now();
        MessageResult(self.rules.values().map(|loaded| loaded.view(now)).collect())
    }
}

impl Handler<DryRun> for RuleEngine {
    type Result = Option<Value>;

    fn handle(&mut self, DryRun(name): DryRun, _: &mut Context<Self>) -> Option<Value> {
        self.dry_run(&name)
    }
}

impl Handler<Finished> for RuleEngine {
    type Result = ();

    fn handle(&mut self, finished: Finished, _: &mut Context<Self>) {
        self.publish(finished.instance, finished.firing);
    }
}

/// A fresh chain table, for a [`Runner`].
pub fn new_chains() -> Arc<Mutex<Chains>> {
    Arc::new(Mutex::new(Chains::default()))
}
