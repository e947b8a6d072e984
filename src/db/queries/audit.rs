use crate::db::backend::{per_backend, Conn};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{
    schema::audit_entries,
    source::audit::{AuditForm, AuditRow},
};

/// SQLite allows 32766 bound values per statement; 10 per row.
const ROWS_PER_INSERT: usize = 1_000;

pub fn insert(conn: &mut Conn, rows: &[AuditForm]) -> QueryResult<usize> {
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        // A multi-row INSERT is each engine's own (diesel's multi-backend cannot build it).
        written += per_backend!(conn, |c| diesel::insert_into(audit_entries::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(written)
}

/// A page of the audit trail, newest first (the filters of the history routes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    pub instance: Option<String>,
    /// `token:<name>` or `rule:<name>`.
    pub actor: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub fn page(conn: &mut Conn, query: &AuditQuery) -> QueryResult<Vec<AuditRow>> {
    let mut sql = audit_entries::table
        .select(AuditRow::as_select())
        .into_boxed();
    if let Some(instance) = &query.instance {
        sql = sql.filter(audit_entries::instance.eq(instance));
    }
    if let Some(actor) = &query.actor {
        sql = sql.filter(audit_entries::actor.eq(actor));
    }
    if let Some(since) = query.since {
        sql = sql.filter(audit_entries::happened_at.ge(since));
    }
    if let Some(until) = query.until {
        sql = sql.filter(audit_entries::happened_at.le(until));
    }
    if let Some(before) = query.before_id {
        sql = sql.filter(audit_entries::id.lt(before));
    }
    sql.order(audit_entries::id.desc())
        .limit(query.limit)
        .load(conn)
}

/// Deletes up to `chunk` entries older than `before` (pruned with the history's retention).
pub fn prune(conn: &mut Conn, before: NaiveDateTime, chunk: i64) -> QueryResult<usize> {
    let oldest: Vec<i64> = audit_entries::table
        .filter(audit_entries::happened_at.lt(before))
        .select(audit_entries::id)
        .order(audit_entries::id.asc())
        .limit(chunk)
        .load(conn)?;
    let Some(last) = oldest.last() else {
        return Ok(0);
    };
    diesel::delete(
        audit_entries::table
            .filter(audit_entries::id.le(last))
            .filter(audit_entries::happened_at.lt(before)),
    )
    .execute(conn)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::db::{
        queries::{
            tests::{on_both_backends, test_db_on},
            tokens,
        },
        source::token::TokenForm,
    };

    fn entry(actor: &str, instance: &str, at: NaiveDateTime) -> AuditForm {
        AuditForm {
            happened_at: at,
            actor: actor.into(),
            remote: Some("127.0.0.1".into()),
            method: "POST".into(),
            route: "/api/switch-scene".into(),
            instance: Some(instance.into()),
            request: Some(r#"{"scene_name":"Live"}"#.into()),
            status: 200,
            error: None,
            duration_ms: 3,
        }
    }

    on_both_backends! {
    /// schema.rs is written by hand: the row structs read every column back.
        fn tokens_and_entries_read_back_page_and_prune(backend) {
            let (_db, mut conn) = test_db_on(backend);
            // At the precision both engines keep (PostgreSQL: microseconds).
            let now = chrono::SubsecRound::trunc_subsecs(Utc::now().naive_utc(), 6);
            let form = TokenForm {
                name: "deck".into(),
                secret_hash: "ab".repeat(32),
                scope: "control".into(),
                instances: Some(r#"["main"]"#.into()),
                capabilities: Some(r#"["scenes"]"#.into()),
                created_at: now,
                expires_at: None,
            };
            let row = tokens::insert(&mut conn, &form).unwrap();
            assert_eq!(row.name, "deck");
            tokens::touch(&mut conn, row.id, now).unwrap();
            assert_eq!(tokens::all(&mut conn).unwrap()[0].last_used_at, Some(now));
            assert!(
                tokens::insert(&mut conn, &form).is_err(),
                "names are unique"
            );
            assert!(tokens::delete(&mut conn, row.id).unwrap());
            assert!(!tokens::delete(&mut conn, row.id).unwrap());

            let old = now - Duration::days(40);
            insert(
                &mut conn,
                &[
                    entry("token:deck", "main", old),
                    entry("token:deck", "main", now),
                    entry("token:ops", "backup", now),
                ],
            )
            .unwrap();
            let all = page(
                &mut conn,
                &AuditQuery {
                    limit: 10,
                    ..AuditQuery::default()
                },
            )
            .unwrap();
            assert_eq!(all.len(), 3);
            assert!(all[0].id > all[1].id, "newest first");
            let deck = page(
                &mut conn,
                &AuditQuery {
                    actor: Some("token:deck".into()),
                    since: Some(now - Duration::days(1)),
                    limit: 10,
                    ..AuditQuery::default()
                },
            )
            .unwrap();
            assert_eq!(deck.len(), 1);
            let older = page(
                &mut conn,
                &AuditQuery {
                    before_id: Some(all[0].id),
                    instance: Some("main".into()),
                    limit: 10,
                    ..AuditQuery::default()
                },
            )
            .unwrap();
            assert_eq!(older.len(), 2);
            assert_eq!(prune(&mut conn, now - Duration::days(30), 100).unwrap(), 1);
            assert_eq!(
                page(
                    &mut conn,
                    &AuditQuery {
                        limit: 10,
                        ..AuditQuery::default()
                    }
                )
                .unwrap()
                .len(),
                2
            );
        }
    }
}
