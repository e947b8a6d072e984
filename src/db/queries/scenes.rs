use crate::db::backend::Conn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::{
    db::{
        scene_sync::{self, SceneDiff},
        schema::{instances, scenes},
        source::scene::{Scene, SceneForm},
    },
    status::model::SceneInfo,
};

/// Makes the instance's scenes follow the list OBS reports (top of OBS's dock first).
pub fn sync(
    conn: &mut Conn,
    instance_id: i32,
    current: &[SceneInfo],
    now: NaiveDateTime,
) -> QueryResult<SceneDiff> {
    let live: Vec<Scene> = scenes::table
        .filter(scenes::instance_id.eq(instance_id))
        .filter(scenes::removed_at.is_null())
        .order(scenes::position.asc())
        .select(Scene::as_select())
        .load(conn)?;
    let known: Vec<SceneInfo> = live
        .iter()
        .map(|scene| SceneInfo {
            name: scene.name.clone(),
            uuid: scene.uuid.clone(),
        })
        .collect();
    let diff = scene_sync::diff(&known, current);

    let mut still_there = vec![false; live.len()];
    for known_index in diff.matches.iter().flatten() {
        still_there[*known_index] = true;
    }
    for (scene, _) in live.iter().zip(&still_there).filter(|(_, kept)| !**kept) {
        diesel::update(scenes::table.find(scene.id))
            .set(scenes::removed_at.eq(now))
            .execute(conn)?;
    }
    for (position, (scene, matched)) in current.iter().zip(&diff.matches).enumerate() {
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        let row = match matched {
            Some(known_index) => Some(live[*known_index].id),
            // The same scene coming back (an undone removal) gets its old row again.
            None => match &scene.uuid {
                Some(uuid) => scenes::table
                    .filter(scenes::instance_id.eq(instance_id))
                    .filter(scenes::uuid.eq(uuid))
                    .filter(scenes::removed_at.is_not_null())
                    .order(scenes::id.desc())
                    .select(scenes::id)
                    .first(conn)
                    .optional()?,
                None => None,
            },
        };
        match row {
            Some(id) => {
                diesel::update(scenes::table.find(id))
                    .set((
                        scenes::name.eq(&scene.name),
                        scenes::position.eq(position),
                        scenes::last_seen.eq(now),
                        scenes::removed_at.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)?;
                if scene.uuid.is_some() {
                    diesel::update(scenes::table.find(id))
                        .set(scenes::uuid.eq(&scene.uuid))
                        .execute(conn)?;
                }
            }
            None => {
                diesel::insert_into(scenes::table)
                    .values(SceneForm {
                        instance_id,
                        name: &scene.name,
                        uuid: scene.uuid.as_deref(),
                        position,
                        first_seen: now,
                        last_seen: now,
                    })
                    .execute(conn)?;
            }
        }
    }
    Ok(diff)
}

/// Every scene the database knows, with its instance's name: by instance, OBS's order, then
/// the removed ones (most recently removed first).
pub fn list(conn: &mut Conn, instance_id: Option<i32>) -> QueryResult<Vec<(Scene, String)>> {
    let mut query = scenes::table
        .inner_join(instances::table)
        .select((Scene::as_select(), instances::name))
        .into_boxed();
    if let Some(id) = instance_id {
        query = query.filter(scenes::instance_id.eq(id));
    }
    query
        .order((
            instances::name.asc(),
            scenes::removed_at.is_not_null().asc(),
            scenes::removed_at.desc(),
            scenes::position.asc(),
        ))
        .load(conn)
}
