//! The fleet's rows: groups and instances made through the API, read at start and written by
//! the routes (on actix's blocking threads). The queries are `db::queries::managed`.

use chrono::{NaiveDateTime, Utc};

use super::groups::{GroupOrigin, InstanceGroup};
use crate::{
    config::{InstanceConfig, Secret},
    db::{
        pool::Pool,
        queries,
        source::managed::{GroupRow, ManagedInstanceRow},
        DbError,
    },
};

/// What the API made, as stored.
#[derive(Default)]
pub struct Stored {
    pub groups: Vec<InstanceGroup>,
    pub instances: Vec<InstanceConfig>,
}

/// Reads the stored groups and instances (nothing without a database). A row that cannot be
/// read (a hand-edited database) is skipped with a warning rather than stopping the hub.
pub fn load(pool: Option<&Pool>) -> Result<Stored, DbError> {
    let Some(pool) = pool else {
        return Ok(Stored::default());
    };
    let mut conn = pool.get()?;
    let groups = queries::managed::groups(&mut conn)?
        .into_iter()
        .filter_map(|row| {
            let group = group_of(&row);
            if group.is_none() {
                log::warn!(
                    "instance group `{}`: stored members unreadable; skipped",
                    row.name
                );
            }
            group
        })
        .collect();
    let instances = queries::managed::instances(&mut conn)?
        .into_iter()
        .filter_map(|row| {
            let instance = instance_of(&row);
            if instance.is_none() {
                log::warn!("instance `{}`: stored port unreadable; skipped", row.name);
            }
            instance
        })
        .collect();
    Ok(Stored { groups, instances })
}

pub fn group_of(row: &GroupRow) -> Option<InstanceGroup> {
    Some(InstanceGroup {
        name: row.name.clone(),
        instances: serde_json::from_str(&row.instances).ok()?,
        origin: GroupOrigin::Api,
    })
}

pub fn group_row(name: &str, instances: &[String], now: NaiveDateTime) -> GroupRow {
    GroupRow {
        name: name.to_string(),
        instances: serde_json::Value::from(instances.to_vec()).to_string(),
        created_at: now,
        updated_at: now,
    }
}

pub fn instance_of(row: &ManagedInstanceRow) -> Option<InstanceConfig> {
    Some(InstanceConfig {
        name: row.name.clone(),
        host: row.host.clone(),
        port: u16::try_from(row.port).ok().filter(|port| *port != 0)?,
        password: row.password.clone().map(Secret::new),
    })
}

pub fn instance_row(instance: &InstanceConfig) -> ManagedInstanceRow {
    let now = Utc::now().naive_utc();
    ManagedInstanceRow {
        name: instance.name.clone(),
        host: instance.host.clone(),
        port: i32::from(instance.port),
        password: instance
            .password
            .as_ref()
            .map(|password| password.expose().to_string()),
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_values_convert_both_ways() {
        let now = Utc::now().naive_utc();
        let members = vec!["a".to_string(), "b".to_string()];
        let group = group_of(&group_row("g", &members, now)).unwrap();
        assert_eq!(group.instances, members);
        assert_eq!(group.origin, GroupOrigin::Api);
        let mut unreadable = group_row("g", &members, now);
        unreadable.instances = "not json".into();
        assert!(group_of(&unreadable).is_none());

        let instance = InstanceConfig {
            name: "a".into(),
            host: "127.0.0.1".into(),
            port: 4460,
            password: Some(Secret::new("pw")),
        };
        assert_eq!(instance_of(&instance_row(&instance)), Some(instance));
    }
}
