//! Instance groups: named sets of OBS instances that commands address at once.
//!
//! [`InstanceGroups`] is the one registry of them, cheap to clone and read from any thread: the
//! groups declared in the config file (`[[instance_groups]]`, read-only) and those made through
//! the API (kept in the database by `fleet::store`). The group routes, the fan-out and the rules
//! (issue 20) resolve a group's name to its members here. [`check_group`] is the rule every
//! group made through the API passes.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
};

use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    config::{is_instance_name, InstanceGroupConfig},
    error::ApiError,
};

/// Where a group comes from: the config file's are read-only through the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupOrigin {
    Config,
    Api,
}

/// One instance group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct InstanceGroup {
    #[schema(example = "booths")]
    pub name: String,
    /// Member instance names, in the order given.
    #[schema(example = json!(["booth-a", "booth-b", "booth-c"]))]
    pub instances: Vec<String>,
    pub origin: GroupOrigin,
}

/// Every instance group, by name. Clones share one registry.
#[derive(Clone, Debug, Default)]
pub struct InstanceGroups {
    groups: Arc<RwLock<BTreeMap<String, InstanceGroup>>>,
}

impl InstanceGroups {
    /// The declared groups (already validated by `config`) and those stored through the API.
    /// A stored group named like a declared one is left out: the file wins.
    pub fn new(declared: &[InstanceGroupConfig], stored: Vec<InstanceGroup>) -> Self {
        let mut groups: BTreeMap<String, InstanceGroup> = stored
            .into_iter()
            .map(|group| (group.name.clone(), group))
            .collect();
        for group in declared {
            groups.insert(
                group.name.clone(),
                InstanceGroup {
                    name: group.name.clone(),
                    instances: group.instances.clone(),
                    origin: GroupOrigin::Config,
                },
            );
        }
        Self {
            groups: Arc::new(RwLock::new(groups)),
        }
    }

    /// The member instance names of `group`, in order; None if no such group exists.
    pub fn members(&self, group: &str) -> Option<Vec<String>> {
        self.read(|groups| groups.get(group).map(|group| group.instances.clone()))
    }

    /// Whether a group of that name exists.
    pub fn exists(&self, group: &str) -> bool {
        self.read(|groups| groups.contains_key(group))
    }

    pub fn get(&self, group: &str) -> Option<InstanceGroup> {
        self.read(|groups| groups.get(group).cloned())
    }

    /// Every group, by name.
    pub fn list(&self) -> Vec<InstanceGroup> {
        self.read(|groups| groups.values().cloned().collect())
    }

    /// The names of the groups `instance` belongs to (the fleet view shows them).
    pub fn containing(&self, instance: &str) -> Vec<String> {
        self.read(|groups| {
            groups
                .values()
                .filter(|group| group.instances.iter().any(|member| member == instance))
                .map(|group| group.name.clone())
                .collect()
        })
    }

    /// Adds or replaces a group made through the API (the caller has stored it).
    pub(crate) fn put(&self, group: InstanceGroup) {
        self.write(|groups| {
            groups.insert(group.name.clone(), group);
        });
    }

    pub(crate) fn remove(&self, group: &str) {
        self.write(|groups| {
            groups.remove(group);
        });
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<String, InstanceGroup>) -> T) -> T {
        // A poisoned lock only means a writer panicked between two whole-value updates.
        match self.groups.read() {
            Ok(guard) => f(&guard),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write(&self, f: impl FnOnce(&mut BTreeMap<String, InstanceGroup>)) {
        match self.groups.write() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }
}

/// The rule for a group made through the API: a URL-safe name, at least one member, every
/// member a known instance (`is_known`), none twice. The message names the field.
pub fn check_group(
    name: &str,
    instances: &[String],
    is_known: impl Fn(&str) -> bool,
) -> Result<(), ApiError> {
    if !is_instance_name(name) {
        return Err(ApiError::InvalidField(format!(
            "`name`: `{name}` must be 1-64 letters, digits, '-' or '_'"
        )));
    }
    if instances.is_empty() {
        return Err(ApiError::InvalidField(
            "`instances` must name at least one instance".to_string(),
        ));
    }
    for (index, member) in instances.iter().enumerate() {
        if !is_known(member) {
            return Err(ApiError::InvalidField(format!(
                "`instances[{index}]`: no instance named `{member}`"
            )));
        }
        if instances[..index].contains(member) {
            return Err(ApiError::InvalidField(format!(
                "`instances[{index}]`: `{member}` is named twice"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn declared_groups_win_over_stored_ones_of_the_same_name() {
        let declared = [InstanceGroupConfig {
            name: "all".into(),
            instances: names(&["a", "b"]),
        }];
        let stored = vec![
            InstanceGroup {
                name: "all".into(),
                instances: names(&["c"]),
                origin: GroupOrigin::Api,
            },
            InstanceGroup {
                name: "pair".into(),
                instances: names(&["b", "c"]),
                origin: GroupOrigin::Api,
            },
        ];
        let groups = InstanceGroups::new(&declared, stored);
        assert_eq!(groups.members("all"), Some(names(&["a", "b"])));
        assert_eq!(groups.get("all").unwrap().origin, GroupOrigin::Config);
        assert_eq!(groups.members("pair"), Some(names(&["b", "c"])));
        assert_eq!(groups.members("none"), None);
        assert!(groups.exists("pair") && !groups.exists("none"));
        assert_eq!(groups.containing("b"), names(&["all", "pair"]));

        // Clones share the registry: what the routes change, the rules see.
        let seen_by_rules = groups.clone();
        groups.remove("pair");
        assert!(!seen_by_rules.exists("pair"));
        groups.put(InstanceGroup {
            name: "solo".into(),
            instances: names(&["c"]),
            origin: GroupOrigin::Api,
        });
        assert_eq!(seen_by_rules.members("solo"), Some(names(&["c"])));
    }

    #[test]
    fn a_group_names_known_instances_once_each() {
        let known = |name: &str| ["a", "b"].contains(&name);
        assert!(check_group("g", &names(&["a", "b"]), known).is_ok());
        let message = |name: &str, members: &[&str]| {
            check_group(name, &names(members), known)
                .unwrap_err()
                .to_string()
        };
        assert!(message("g", &["a", "x"]).contains("`instances[1]`: no instance named `x`"));
        assert!(message("g", &["a", "a"]).contains("`instances[1]`: `a` is named twice"));
        assert!(message("g", &[]).contains("`instances` must name at least one"));
        assert!(message("a/b", &["a"]).contains("`name`"));
    }
}
