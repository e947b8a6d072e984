//! Rules: the hub's automation. A rule has a trigger (a published change, a schedule, or a
//! condition held for a duration), conditions on the cached status, actions (the hub's typed
//! commands on instances or an instance group, delays, a webhook event, remembering the scene)
//! and limits (cooldown, firings per minute, loop protection).
//!
//! The logic is plain functions, tested without actors: [`model`] (the rule as written and its
//! validation, naming the JSON path of a mistake), [`fields`] (the status fields conditions may
//! read), [`evaluate`] (trigger matching, conditions), [`cron`] and [`schedule`] (when a
//! schedule is due, missed firings), [`held`] (the held-condition state machine), [`limits`],
//! [`chains`] (loop protection). [`engine::RuleEngine`] is the actor that receives every change
//! and the clock's ticks and fires rules; [`actions`] runs their actions through the
//! supervisor, as the routes do; [`routes`] is `/api/rules/`; [`store`] keeps rules in the
//! database; [`template`] makes the failover rule.

pub mod actions;
pub mod chains;
pub mod cron;
pub mod engine;
pub mod evaluate;
pub mod fields;
pub mod held;
pub mod limits;
pub mod model;
pub mod routes;
pub mod schedule;
pub mod template;

use std::collections::BTreeSet;

use serde_json::Value;

use self::model::{read_spec, Known, Rule};
use crate::db::{pool::Pool, queries};

/// The config file's `[[rules]]`, checked: the first mistake is named by its table and JSON
/// path (`[[rules]] #2 conditions.all[1].op: ...`), as start-up reports a bad setting.
pub fn declared(tables: &[Value], known: &Known) -> Result<Vec<Rule>, String> {
    let mut names = BTreeSet::new();
    tables
        .iter()
        .enumerate()
        .map(|(index, table)| {
            let rule = read_spec(table.clone())
                .and_then(|spec| spec.compile(known))
                .map_err(|invalid| format!("[[rules]] #{} {invalid}", index + 1))?;
            if !names.insert(rule.spec.name.clone()) {
                return Err(format!(
                    "[[rules]] #{} name: `{}` is used by another rule",
                    index + 1,
                    rule.spec.name
                ));
            }
            Ok(rule)
        })
        .collect()
}

/// The rules made through the API, from the database. One that no longer validates (it names
/// an instance since removed from the config) is left out with a warning, and stays stored.
pub fn stored(pool: &Pool, known: &Known, declared: &BTreeSet<String>) -> Vec<Rule> {
    let rows = match pool.get().map(|mut conn| queries::rules::all(&mut conn)) {
        Ok(Ok(rows)) => rows,
        Ok(Err(error)) => {
            log::warn!("the stored rules cannot be read: {error}");
            return Vec::new();
        }
        Err(error) => {
            log::warn!("the stored rules cannot be read: {error}");
            return Vec::new();
        }
    };
    rows.into_iter()
        .filter_map(|row| {
            if declared.contains(&row.name) {
                log::warn!(
                    "stored rule `{}` is shadowed by the config file's rule of that name",
                    row.name
                );
                return None;
            }
            let rule = serde_json::from_str(&row.definition)
                .map_err(|error| error.to_string())
                .and_then(|value| {
                    read_spec(value)
                        .and_then(|spec| spec.compile(known))
                        .map_err(|invalid| invalid.to_string())
                });
            match rule {
                Ok(rule) => Some(rule),
                Err(problem) => {
                    log::warn!("stored rule `{}` is left out: {problem}", row.name);
                    None
                }
            }
        })
        .collect()
}
