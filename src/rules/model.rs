//! A rule as clients write it ([`RuleSpec`]: JSON, also a `[[rules]]` table of the config file)
//! and as the engine runs it ([`Rule`]): [`RuleSpec::compile`] checks everything a rule can get
//! wrong (unknown keys, status fields, operators for the field's type, time zones, instances)
//! and names the JSON path of the first mistake (`conditions.all[1].op: ...`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{cron::Schedule, fields::Field, fields::FieldType};
use crate::status::{kinds, output_status::Output};

/// A rule as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: TriggerSpec,
    /// Checked when the trigger fires; the rule fires only if they hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<ConditionSpec>,
    pub actions: Vec<ActionSpec>,
    /// Held triggers only: run once the recovery condition has held for its duration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_actions: Vec<ActionSpec>,
    #[serde(default)]
    pub limits: Limits,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerSpec {
    /// A change the hub publishes (`scene_changed`, `streaming_changed`...).
    Change {
        kind: String,
        /// None: any instance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
        /// Fields of the change that must have these values (`{"scene": "Live"}`).
        #[serde(default, rename = "where", skip_serializing_if = "BTreeMap::is_empty")]
        matches: BTreeMap<String, Value>,
    },
    /// A cron expression read in a time zone.
    Schedule {
        cron: String,
        #[serde(default = "utc")]
        time_zone: String,
        /// What to do about a firing missed while the hub was down.
        #[serde(default)]
        missed: MissedPolicy,
        /// `run_once`: how late a missed firing may still run.
        #[serde(default = "default_grace")]
        grace_secs: u64,
    },
    /// A condition held for a duration; recovers when another has held for its own.
    Held {
        /// None: each instance on its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
        /// Any one of these entering fires the rule.
        when: Vec<HeldSpec>,
        recover: HeldSpec,
    },
}

fn utc() -> String {
    "UTC".to_string()
}

fn default_grace() -> u64 {
    600
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedPolicy {
    /// A firing missed while the hub was down is recorded as skipped.
    #[default]
    Skip,
    /// The last missed firing runs once at start, if it is no older than `grace_secs`.
    RunOnce,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldSpec {
    pub condition: ConditionSpec,
    pub for_secs: u64,
}

/// A condition: exactly one of `all`, `any`, `not`, or a comparison (`field`, `op`, `value`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<ConditionSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<ConditionSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<ConditionSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<Op>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Read another instance's status (default: the instance the trigger is about).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn ordering(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Seconds after a firing during which the rule does not fire again (0: none).
    #[serde(default)]
    pub cooldown_secs: u64,
    /// Firings in any 60 s (0: no limit).
    #[serde(default)]
    pub max_per_minute: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    SwitchScene,
    SetPreview,
    Transition,
    EnsureOutput,
    SetMute,
    SetVolume,
    SetSourceVisibility,
    TriggerHotkey,
    RawRequest,
    Delay,
    Webhook,
    RememberScene,
    SwitchToRemembered,
}

/// One action as written: its `type` and the fields that type takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    #[serde(rename = "type")]
    pub kind: ActionType,
    /// Where it runs: these instances, or a group's members; neither: the trigger's instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_db: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secs: Option<f64>,
    /// `webhook`: what the `rule_fired` event carries besides the firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A mistake in a rule: the JSON path and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "`{}`: {}", self.path, self.problem)
        }
    }
}

fn invalid(path: impl Into<String>, problem: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        problem: problem.into(),
    }
}

/// Reads a rule from JSON, naming the path of the first problem.
pub fn read_spec(value: Value) -> Result<RuleSpec, Invalid> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let problem = error.into_inner().to_string();
        invalid(if path == "." { String::new() } else { path }, problem)
    })
}

/// What a rule may name, checked at validation: the instances and the instance groups.
pub struct Known<'a> {
    pub instances: &'a [String],
    /// A group's members, or None if there is no such group.
    pub group: &'a dyn Fn(&str) -> Option<Vec<String>>,
}

/// A rule ready to run.
#[derive(Clone, Debug)]
pub struct Rule {
    pub spec: RuleSpec,
    pub trigger: Trigger,
    pub conditions: Option<Condition>,
    pub actions: Vec<Action>,
    pub recovery_actions: Vec<Action>,
}

#[derive(Clone, Debug)]
pub enum Trigger {
    Change {
        kind: &'static str,
        instance: Option<String>,
        matches: BTreeMap<String, Value>,
    },
    Schedule {
        schedule: Box<Schedule>,
        missed: MissedPolicy,
        grace_secs: u64,
    },
    Held {
        instance: Option<String>,
        when: Vec<(Condition, u64)>,
        recover: (Condition, u64),
    },
}

/// A condition checked against the status model.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        /// As written, for the firing's record of evaluated values.
        path: String,
        field: Field,
        op: Op,
        value: Value,
        instance: Option<String>,
    },
}

/// Where an action runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// The instance the trigger is about.
    TriggerInstance,
    Instances(Vec<String>),
    /// Resolved when the action runs, so that a group's new members are included.
    Group(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// None: the scene of the `scene_changed` change that fired the rule.
    SwitchScene(Option<String>),
    SetPreview(String),
    Transition {
        transition: Option<String>,
        duration_ms: Option<u64>,
    },
    EnsureOutput {
        output: Output,
        active: bool,
    },
    SetMute {
        input: String,
        muted: bool,
    },
    SetVolume {
        input: String,
        volume_db: f64,
    },
    SetSourceVisibility {
        scene: String,
        source: String,
        visible: bool,
    },
    TriggerHotkey(String),
    RawRequest {
        request_type: String,
        request_data: Option<Value>,
    },
    RememberScene,
    SwitchToRemembered,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Command { command: Command, targets: Targets },
    Delay(std::time::Duration),
    Webhook(Value),
}

/// The longest delay between actions.
pub const MAX_DELAY_SECS: f64 = 3600.0;
/// The most actions one rule may run on one firing.
pub const MAX_ACTIONS: usize = 50;

impl RuleSpec {
    /// Checks the rule against the status model and what the hub knows; the first mistake is
    /// named by its JSON path.
    pub fn compile(&self, known: &Known) -> Result<Rule, Invalid> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(invalid("name", "must be 1 to 100 printable characters"));
        }
        if name != self.name || name.contains('/') {
            return Err(invalid(
                "name",
                "may not start or end with spaces, nor contain `/` (it is a path segment)",
            ));
        }
        let trigger = self.compile_trigger(known)?;
        let conditions = self
            .conditions
            .as_ref()
            .map(|c| compile_condition(c, "conditions", known))
            .transpose()?;
        let scene_trigger =
            matches!(&trigger, Trigger::Change { kind, .. } if *kind == "scene_changed");
        let has_instance = !matches!(trigger, Trigger::Schedule { .. });
        let actions =
            compile_actions(&self.actions, "actions", known, scene_trigger, has_instance)?;
        if actions.is_empty() {
            return Err(invalid("actions", "a rule needs at least one action"));
        }
        let recovery_actions = compile_actions(
            &self.recovery_actions,
            "recovery_actions",
            known,
            false,
            has_instance,
        )?;
        if !recovery_actions.is_empty() && !matches!(trigger, Trigger::Held { .. }) {
            return Err(invalid(
                "recovery_actions",
                "only a `held` trigger recovers; other triggers have actions only",
            ));
        }
        Ok(Rule {
            spec: self.clone(),
            trigger,
            conditions,
            actions,
            recovery_actions,
        })
    }

    fn compile_trigger(&self, known: &Known) -> Result<Trigger, Invalid> {
        Ok(match &self.trigger {
            TriggerSpec::Change {
                kind,
                instance,
                matches,
            } => {
                let descriptor = kinds::named(kind)
                    .filter(|descriptor| descriptor.name != "rule_fired")
                    .ok_or_else(|| {
                        invalid(
                            "trigger.kind",
                            format!(
                                "unknown change kind `{kind}`; kinds: {}",
                                kinds::ALL
                                    .iter()
                                    .map(|k| k.name)
                                    .filter(|name| *name != "rule_fired")
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })?;
                check_instance(instance.as_deref(), "trigger.instance", known)?;
                for (field, value) in matches {
                    if value.is_array() || value.is_object() {
                        return Err(invalid(
                            format!("trigger.where.{field}"),
                            "compare with a string, number, boolean or null",
                        ));
                    }
                    if let Some(fields) = change_fields(descriptor.name) {
                        if !fields.contains(&field.as_str()) {
                            return Err(invalid(
                                format!("trigger.where.{field}"),
                                format!(
                                    "`{}` changes have no field `{field}`; fields: {}",
                                    descriptor.name,
                                    fields.join(", ")
                                ),
                            ));
                        }
                    }
                }
                Trigger::Change {
                    kind: descriptor.name,
                    instance: instance.clone(),
                    matches: matches.clone(),
                }
            }
            TriggerSpec::Schedule {
                cron,
                time_zone,
                missed,
                grace_secs,
            } => {
                let schedule = Schedule::parse(cron, time_zone).map_err(|problem| {
                    let path = if problem.contains("time zone") {
                        "trigger.time_zone"
                    } else {
                        "trigger.cron"
                    };
                    invalid(path, problem)
                })?;
                Trigger::Schedule {
                    schedule: Box::new(schedule),
                    missed: *missed,
                    grace_secs: *grace_secs,
                }
            }
            TriggerSpec::Held {
                instance,
                when,
                recover,
            } => {
                check_instance(instance.as_deref(), "trigger.instance", known)?;
                if when.is_empty() {
                    return Err(invalid(
                        "trigger.when",
                        "name at least one condition to hold",
                    ));
                }
                let when = when
                    .iter()
                    .enumerate()
                    .map(|(i, held)| {
                        Ok((
                            compile_condition(
                                &held.condition,
                                &format!("trigger.when[{i}].condition"),
                                known,
                            )?,
                            held.for_secs,
                        ))
                    })
                    .collect::<Result<_, Invalid>>()?;
                let recover = (
                    compile_condition(&recover.condition, "trigger.recover.condition", known)?,
                    recover.for_secs,
                );
                Trigger::Held {
                    instance: instance.clone(),
                    when,
                    recover,
                }
            }
        })
    }
}

/// The fields of the changes whose shape is fixed (others are matched as serialised).
fn change_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "scene_changed" => &["scene", "previous"],
        "streaming_changed" => &["is_streaming", "state"],
        "recording_changed" => &["is_recording", "state", "output_path"],
        "connection_changed" => &["state", "connected", "error"],
        _ => return None,
    })
}

fn check_instance(instance: Option<&str>, path: &str, known: &Known) -> Result<(), Invalid> {
    match instance {
        Some(name) if !known.instances.iter().any(|known| known == name) => Err(invalid(
            path,
            format!(
                "unknown instance `{name}`; instances: {}",
                known.instances.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

pub fn compile_condition(
    spec: &ConditionSpec,
    path: &str,
    known: &Known,
) -> Result<Condition, Invalid> {
    let forms = [
        spec.all.is_some(),
        spec.any.is_some(),
        spec.not.is_some(),
        spec.field.is_some(),
    ];
    if forms.iter().filter(|form| **form).count() != 1 {
        return Err(invalid(
            path,
            "a condition is exactly one of `all`, `any`, `not`, or a comparison (`field`, `op`, `value`)",
        ));
    }
    let list = |items: &Vec<ConditionSpec>, word: &str| {
        if items.is_empty() {
            return Err(invalid(format!("{path}.{word}"), "an empty list"));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| compile_condition(item, &format!("{path}.{word}[{i}]"), known))
            .collect::<Result<Vec<_>, _>>()
    };
    if let Some(items) = &spec.all {
        return Ok(Condition::All(list(items, "all")?));
    }
    if let Some(items) = &spec.any {
        return Ok(Condition::Any(list(items, "any")?));
    }
    if let Some(inner) = &spec.not {
        return Ok(Condition::Not(Box::new(compile_condition(
            inner,
            &format!("{path}.not"),
            known,
        )?)));
    }
    let written = spec.field.clone().unwrap_or_default();
    let (field, kind) =
        Field::parse(&written).map_err(|problem| invalid(format!("{path}.field"), problem))?;
    let op = spec
        .op
        .ok_or_else(|| invalid(format!("{path}.op"), "missing (eq, ne, lt, le, gt, ge)"))?;
    if op.ordering() && kind != FieldType::Number {
        return Err(invalid(
            format!("{path}.op"),
            format!(
                "`{}` compares numbers; `{written}` is {} (use eq or ne)",
                serde_json::to_value(op)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or_default(),
                kind.name()
            ),
        ));
    }
    let value = spec
        .value
        .clone()
        .ok_or_else(|| invalid(format!("{path}.value"), "missing"))?;
    if !kind.admits(&value) || (op.ordering() && value.is_null()) {
        return Err(invalid(
            format!("{path}.value"),
            format!("`{written}` is {}; {value} is not", kind.name()),
        ));
    }
    check_instance(spec.instance.as_deref(), &format!("{path}.instance"), known)?;
    Ok(Condition::Compare {
        path: written,
        field,
        op,
        value,
        instance: spec.instance.clone(),
    })
}

fn compile_actions(
    specs: &[ActionSpec],
    path: &str,
    known: &Known,
    scene_trigger: bool,
    has_instance: bool,
) -> Result<Vec<Action>, Invalid> {
    if specs.len() > MAX_ACTIONS {
        return Err(invalid(path, format!("at most {MAX_ACTIONS} actions")));
    }
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            compile_action(
                spec,
                &format!("{path}[{i}]"),
                known,
                scene_trigger,
                has_instance,
            )
        })
        .collect()
}

fn compile_action(
    spec: &ActionSpec,
    path: &str,
    known: &Known,
    scene_trigger: bool,
    has_instance: bool,
) -> Result<Action, Invalid> {
    let need = |value: Option<String>, field: &str| {
        value.filter(|text| !text.is_empty()).ok_or_else(|| {
            invalid(
                format!("{path}.{field}"),
                format!("required by `{}`", type_name(spec.kind)),
            )
        })
    };
    let need_bool = |value: Option<bool>, field: &str| {
        value.ok_or_else(|| {
            invalid(
                format!("{path}.{field}"),
                format!("required by `{}`", type_name(spec.kind)),
            )
        })
    };
    let command = match spec.kind {
        ActionType::Delay => {
            let secs = spec
                .secs
                .filter(|secs| (0.0..=MAX_DELAY_SECS).contains(secs))
                .ok_or_else(|| {
                    invalid(
                        format!("{path}.secs"),
                        format!("seconds from 0 to {MAX_DELAY_SECS}"),
                    )
                })?;
            return Ok(Action::Delay(std::time::Duration::from_secs_f64(secs)));
        }
        ActionType::Webhook => {
            return Ok(Action::Webhook(spec.data.clone().unwrap_or(Value::Null)));
        }
        ActionType::SwitchScene => {
            if spec.scene.is_none() && !scene_trigger {
                return Err(invalid(
                    format!("{path}.scene"),
                    "required unless the trigger is a `scene_changed` change (whose scene is then used)",
                ));
            }
            Command::SwitchScene(spec.scene.clone())
        }
        ActionType::SetPreview => Command::SetPreview(need(spec.scene.clone(), "scene")?),
        ActionType::Transition => Command::Transition {
            transition: spec.transition.clone(),
            duration_ms: spec.duration_ms,
        },
        ActionType::EnsureOutput => Command::EnsureOutput {
            output: spec.output.ok_or_else(|| {
                invalid(
                    format!("{path}.output"),
                    "required by `ensure_output` (stream, record, replay_buffer, virtual_cam)",
                )
            })?,
            active: need_bool(spec.active, "active")?,
        },
        ActionType::SetMute => Command::SetMute {
            input: need(spec.input.clone(), "input")?,
            muted: need_bool(spec.muted, "muted")?,
        },
        ActionType::SetVolume => Command::SetVolume {
            input: need(spec.input.clone(), "input")?,
            volume_db: spec
                .volume_db
                .filter(|db| (-100.0..=26.0).contains(db))
                .ok_or_else(|| invalid(format!("{path}.volume_db"), "decibels from -100 to 26"))?,
        },
        ActionType::SetSourceVisibility => Command::SetSourceVisibility {
            scene: need(spec.scene.clone(), "scene")?,
            source: need(spec.source.clone(), "source")?,
            visible: need_bool(spec.visible, "visible")?,
        },
        ActionType::TriggerHotkey => Command::TriggerHotkey(need(spec.hotkey.clone(), "hotkey")?),
        ActionType::RawRequest => {
            if spec
                .request_data
                .as_ref()
                .is_some_and(|data| !data.is_object())
            {
                return Err(invalid(format!("{path}.request_data"), "must be an object"));
            }
            Command::RawRequest {
                request_type: need(spec.request_type.clone(), "request_type")?,
                request_data: spec.request_data.clone(),
            }
        }
        ActionType::RememberScene => Command::RememberScene,
        ActionType::SwitchToRemembered => Command::SwitchToRemembered,
    };
    let targets = match (&spec.instances, &spec.group) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                format!("{path}.group"),
                "name `instances` or `group`, not both",
            ))
        }
        (Some(instances), None) => {
            if instances.is_empty() {
                return Err(invalid(format!("{path}.instances"), "an empty list"));
            }
            for (i, name) in instances.iter().enumerate() {
                check_instance(Some(name), &format!("{path}.instances[{i}]"), known)?;
            }
            Targets::Instances(instances.clone())
        }
        (None, Some(group)) => {
            if (known.group)(group).is_none() {
                return Err(invalid(
                    format!("{path}.group"),
                    format!("unknown instance group `{group}`"),
                ));
            }
            Targets::Group(group.clone())
        }
        (None, None) if has_instance => Targets::TriggerInstance,
        (None, None) => {
            return Err(invalid(
                path,
                "name `instances` or `group`: a schedule is about no instance of its own",
            ))
        }
    };
    Ok(Action::Command { command, targets })
}

fn type_name(kind: ActionType) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known_instances() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    fn compile(value: Value) -> Result<Rule, Invalid> {
        let instances = known_instances();
        let group = |name: &str| (name == "studios").then(known_instances);
        let known = Known {
            instances: &instances,
            group: &group,
        };
        read_spec(value)?.compile(&known)
    }

    fn rule_with_conditions(conditions: Value) -> Value {
        json!({
            "name": "r",
            "trigger": {"type": "change", "kind": "scene_changed", "instance": "a"},
            "conditions": conditions,
            "actions": [{"type": "switch_scene", "scene": "Live", "instances": ["b"]}]
        })
    }

    #[test]
    fn a_failover_rule_compiles() {
        let rule = compile(json!({
            "name": "failover",
            "trigger": {"type": "held", "instance": "a",
                "when": [{"condition": {"all": [
                    {"field": "stream.active", "op": "eq", "value": true},
                    {"field": "stream.kbits_per_sec", "op": "lt", "value": 800}]}, "for_secs": 5}],
                "recover": {"condition": {"field": "stream.kbits_per_sec", "op": "ge", "value": 800}, "for_secs": 10}},
            "actions": [{"type": "remember_scene"}, {"type": "switch_scene", "scene": "BRB"}],
            "recovery_actions": [{"type": "switch_to_remembered"}],
            "limits": {"cooldown_secs": 30}
        }))
        .unwrap();
        assert!(matches!(rule.trigger, Trigger::Held { .. }));
        assert_eq!(rule.actions.len(), 2);
        assert_eq!(rule.spec.limits.cooldown_secs, 30);
        assert!(rule.spec.enabled);
    }

    #[test]
    fn mistakes_name_their_json_path() {
        for (conditions, path, needle) in [
            (
                json!({"all": [{"field": "current_scene", "op": "eq", "value": "Live"},
                               {"field": "current_scene", "op": "lt", "value": "Live"}]}),
                "conditions.all[1].op",
                "compares numbers",
            ),
            (
                json!({"any": [{"field": "stream.bitrate", "op": "lt", "value": 1}]}),
                "conditions.any[0].field",
                "unknown status field",
            ),
            (
                json!({"not": {"field": "stream.active", "op": "eq", "value": "yes"}}),
                "conditions.not.value",
                "a boolean",
            ),
            (
                json!({"field": "stream.active", "op": "eq", "value": true, "instance": "z"}),
                "conditions.instance",
                "unknown instance `z`",
            ),
            (json!({"all": []}), "conditions.all", "empty"),
            (
                json!({"field": "stream.active", "all": []}),
                "conditions",
                "exactly one",
            ),
        ] {
            let error = compile(rule_with_conditions(conditions)).unwrap_err();
            assert_eq!(error.path, path, "{error}");
            assert!(error.problem.contains(needle), "{error}");
        }
        // What serde refuses is named by its path too.
        let error = compile(rule_with_conditions(
            json!({"field": "stream.active", "op": "about", "value": true}),
        ))
        .unwrap_err();
        assert_eq!(error.path, "conditions.op", "{error}");
        let error = compile(
            json!({"name": "r", "trigger": {"type": "schedule", "cron": "0 19 * * *",
            "time_zone": "Europe/Nowhere"}, "actions": [{"type": "delay", "secs": 1}]}),
        )
        .unwrap_err();
        assert_eq!(error.path, "trigger.time_zone", "{error}");
    }

    #[test]
    fn actions_are_checked_for_their_fields_and_targets() {
        let rule = |actions: Value, trigger: Value| {
            compile(json!({"name": "r", "trigger": trigger, "actions": actions}))
        };
        let on_scene = json!({"type": "change", "kind": "scene_changed", "instance": "a"});
        let schedule = json!({"type": "schedule", "cron": "0 19 * * *"});
        let error = rule(
            json!([{"type": "switch_scene", "scene": "Live"}]),
            schedule.clone(),
        )
        .unwrap_err();
        assert_eq!(error.path, "actions[0]");
        let error = rule(
            json!([{"type": "switch_scene", "instances": ["a"]}]),
            schedule,
        )
        .unwrap_err();
        assert_eq!(error.path, "actions[0].scene");
        // A scene trigger's scene is mirrored when the action names none.
        let mirrored = rule(
            json!([{"type": "switch_scene", "group": "studios"}]),
            on_scene.clone(),
        )
        .unwrap();
        assert_eq!(
            mirrored.actions[0],
            Action::Command {
                command: Command::SwitchScene(None),
                targets: Targets::Group("studios".into())
            }
        );
        let error = rule(
            json!([{"type": "switch_scene", "group": "nope"}]),
            on_scene.clone(),
        )
        .unwrap_err();
        assert_eq!(error.path, "actions[0].group");
        let error = rule(
            json!([{"type": "ensure_output", "output": "stream"}]),
            on_scene.clone(),
        )
        .unwrap_err();
        assert_eq!(error.path, "actions[0].active");
        let error = rule(
            json!([{"type": "set_volume", "input": "Mic", "volume_db": 40}]),
            on_scene.clone(),
        )
        .unwrap_err();
        assert_eq!(error.path, "actions[0].volume_db");
        let error = rule(json!([{"type": "launch_rocket"}]), on_scene.clone()).unwrap_err();
        assert_eq!(error.path, "actions[0].type");
        let error = rule(
            json!([{"type": "delay", "secs": 1, "colour": "red"}]),
            on_scene,
        )
        .unwrap_err();
        assert!(error.problem.contains("colour"), "{error}");
        let error = compile(
            json!({"name": "r", "trigger": {"type": "change", "kind": "scene_changed",
            "where": {"colour": "red"}}, "actions": [{"type": "delay", "secs": 1}]}),
        )
        .unwrap_err();
        assert_eq!(error.path, "trigger.where.colour");
        let error = compile(
            json!({"name": "r", "trigger": {"type": "change", "kind": "scene_change"},
            "actions": [{"type": "delay", "secs": 1}]}),
        )
        .unwrap_err();
        assert_eq!(error.path, "trigger.kind");
        let error = compile(
            json!({"name": "a/b", "trigger": {"type": "change", "kind": "scene_changed"},
            "actions": [{"type": "delay", "secs": 1}]}),
        )
        .unwrap_err();
        assert_eq!(error.path, "name");
    }
}
