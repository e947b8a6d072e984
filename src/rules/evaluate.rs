//! Whether a rule's trigger matches a published change, and whether its conditions hold
//! against the cached status, with the values read along the way (the firing's record says
//! what the rule saw).

use serde::Serialize;
use serde_json::Value;

use super::model::{Condition, Op, Trigger};
use crate::status::{ChangeEvent, HubSnapshot};

/// One status value a condition read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluated {
    pub instance: String,
    pub field: String,
    pub value: Value,
}

/// Whether `event` is the change `trigger` waits for (kind, instance, field values).
pub fn change_matches(trigger: &Trigger, event: &ChangeEvent) -> bool {
    let Trigger::Change {
        kind,
        instance,
        matches,
    } = trigger
    else {
        return false;
    };
    if event.change.kind() != *kind
        || instance
            .as_ref()
            .is_some_and(|name| *name != event.instance)
    {
        return false;
    }
    if matches.is_empty() {
        return true;
    }
    let Ok(Value::Object(fields)) = serde_json::to_value(&event.change) else {
        return false;
    };
    matches
        .iter()
        .all(|(field, wanted)| same(fields.get(field).unwrap_or(&Value::Null), wanted))
}

/// JSON equality, with numbers compared as numbers (800 == 800.0).
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// Whether `condition` holds, reading `instance`'s status unless a comparison names another.
/// Every value read is pushed to `seen`. An instance the hub does not know reads as null.
pub fn holds(
    condition: &Condition,
    instance: &str,
    snapshot: &HubSnapshot,
    seen: &mut Vec<Evaluated>,
) -> bool {
    check(condition, instance, snapshot, &mut Some(seen))
}

/// [`holds`] without the record: what the engine asks on every change, for every rule (the
/// record is made only for a rule that fires).
pub fn holds_quietly(condition: &Condition, instance: &str, snapshot: &HubSnapshot) -> bool {
    check(condition, instance, snapshot, &mut None)
}

fn check(
    condition: &Condition,
    instance: &str,
    snapshot: &HubSnapshot,
    seen: &mut Option<&mut Vec<Evaluated>>,
) -> bool {
    match condition {
        Condition::All(items) => items
            .iter()
            .all(|item| check(item, instance, snapshot, seen)),
        Condition::Any(items) => items
            .iter()
            .any(|item| check(item, instance, snapshot, seen)),
        Condition::Not(inner) => !check(inner, instance, snapshot, seen),
        Condition::Compare {
            path,
            field,
            op,
            value,
            instance: other,
        } => {
            let name = other.as_deref().unwrap_or(instance);
            let actual = snapshot
                .instance(name)
                .map(|status| field.read(status))
                .unwrap_or(Value::Null);
            let result = compare(&actual, *op, value);
            if let Some(seen) = seen {
                seen.push(Evaluated {
                    instance: name.to_string(),
                    field: path.clone(),
                    value: actual,
                });
            }
            result
        }
    }
}

fn compare(actual: &Value, op: Op, wanted: &Value) -> bool {
    match op {
        Op::Eq => same(actual, wanted),
        Op::Ne => !same(actual, wanted),
        _ => {
            let (Some(a), Some(b)) = (actual.as_f64(), wanted.as_f64()) else {
                return false;
            };
            match op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, sync::Arc};

    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::{
        rules::model::{compile_condition, read_spec, ConditionSpec, Known},
        status::{update::Source, Change, InstanceStatus},
    };

    fn snapshot(kbps: f64, scene: &str) -> HubSnapshot {
        let mut status = InstanceStatus::new("a", "127.0.0.1", 4455, Utc::now());
        status.stream.active = true;
        status.stream.kbits_per_sec = kbps;
        status.current_scene = Some(scene.into());
        HubSnapshot {
            running: true,
            since: Utc::now(),
            seq: 1,
            instances: BTreeMap::from([("a".to_string(), Arc::new(status))]),
        }
    }

    fn condition(value: serde_json::Value) -> Condition {
        let spec: ConditionSpec = serde_json::from_value(value).unwrap();
        let instances = vec!["a".to_string()];
        let known = Known {
            instances: &instances,
            group: &|_| None,
        };
        compile_condition(&spec, "c", &known).unwrap()
    }

    #[test]
    fn conditions_combine_and_say_what_they_read() {
        let low = condition(json!({"all": [
            {"field": "stream.active", "op": "eq", "value": true},
            {"not": {"field": "stream.kbits_per_sec", "op": "ge", "value": 800}}]}));
        let mut seen = Vec::new();
        assert!(holds(&low, "a", &snapshot(300.0, "Live"), &mut seen));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].field, "stream.kbits_per_sec");
        assert_eq!(seen[1].value, json!(300.0));
        assert!(!holds(
            &low,
            "a",
            &snapshot(2500.0, "Live"),
            &mut Vec::new()
        ));
        // An instance the hub does not know reads as null: no ordering holds for it.
        assert!(!holds(
            &low,
            "gone",
            &snapshot(300.0, "Live"),
            &mut Vec::new()
        ));
        let either = condition(json!({"any": [
            {"field": "current_scene", "op": "eq", "value": "BRB"},
            {"field": "current_scene", "op": "ne", "value": "Live"}]}));
        assert!(!holds(
            &either,
            "a",
            &snapshot(0.0, "Live"),
            &mut Vec::new()
        ));
        assert!(holds(&either, "a", &snapshot(0.0, "BRB"), &mut Vec::new()));
    }

    #[test]
    fn a_change_trigger_matches_kind_instance_and_fields() {
        let rule = read_spec(json!({"name": "r",
            "trigger": {"type": "change", "kind": "scene_changed", "instance": "a", "where": {"scene": "Live"}},
            "actions": [{"type": "delay", "secs": 0}]}))
        .unwrap();
        let instances = vec!["a".to_string(), "b".to_string()];
        let known = Known {
            instances: &instances,
            group: &|_| None,
        };
        let trigger = rule.compile(&known).unwrap().trigger;
        let event = |instance: &str, scene: &str| ChangeEvent {
            cluster: None,
            seq: 1,
            instance: instance.into(),
            at: Utc::now(),
            source: Source::ObsEvent,
            change: Change::SceneChanged {
                scene: scene.into(),
                previous: None,
            },
        };
        assert!(change_matches(&trigger, &event("a", "Live")));
        assert!(!change_matches(&trigger, &event("a", "BRB")));
        assert!(!change_matches(&trigger, &event("b", "Live")));
    }
}
