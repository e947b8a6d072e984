//! `/api/rules/`: list, make, read, replace, change (`PATCH`: enable, disable...), delete a
//! rule; `POST /api/rules/{rule}/test` (a dry run: what the rule would do now, doing nothing);
//! `POST /api/rules/templates/failover` (the ready-made failover rule). Rules are addressed by
//! name. Rules of the config file are listed with `origin: config` and are read-only here.
//! Writes go to the database first, then to the engine.

use std::{collections::BTreeSet, sync::Arc};

use actix::Addr;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde_json::{json, Value};

use super::{
    actions::GroupResolver,
    engine::{DryRun, ListRules, Origin, PutRule, RemoveRule, RuleEngine, RuleView},
    model::{read_spec, Known, Rule},
    template::{failover, FailoverParams},
};
use crate::{
    db::{
        pool::Pool,
        queries::{self, events::EventQuery},
        source::rule::RuleForm,
    },
    error::ApiError,
    http::{
        ask::{ask, Asked},
        body::Json,
        get, post, resource,
    },
    status::StatusBoard,
};

type Answer = Result<HttpResponse, ApiError>;

impl Asked for RuleEngine {
    const WHAT: &'static str = "the rules engine";
}

/// What the rules' routes work with (app data).
#[derive(Clone)]
pub struct RulesApi {
    pub engine: Addr<RuleEngine>,
    pub board: StatusBoard,
    pub groups: GroupResolver,
    pub pool: Option<Pool>,
    /// The names of the config file's rules (read-only here).
    pub configured: Arc<BTreeSet<String>>,
}

impl RulesApi {
    /// Validates a rule against the instances and groups the hub knows now.
    pub fn compile(&self, value: Value) -> Result<Rule, ApiError> {
        let instances: Vec<String> = self.board.current().instances.keys().cloned().collect();
        let groups = self.groups.clone();
        let group = move |name: &str| groups(name);
        let known = Known {
            instances: &instances,
            group: &group,
        };
        read_spec(value)
            .and_then(|spec| spec.compile(&known))
            .map_err(|invalid| ApiError::InvalidRule(format!("invalid rule: {invalid}")))
    }

    fn pool(&self) -> Result<Pool, ApiError> {
        self.pool.clone().ok_or_else(|| {
            ApiError::PersistenceUnavailable(
                "rules made through the API are kept in the database, and this hub has none; \
                 declare them as [[rules]] in the config file instead"
                    .into(),
            )
        })
    }

    async fn views(&self) -> Result<Vec<RuleView>, ApiError> {
        ask(&self.engine, ListRules).await
    }

    async fn view(&self, name: &str) -> Result<RuleView, ApiError> {
        self.views()
            .await?
            .into_iter()
            .find(|view| view.name == name)
            .ok_or_else(|| unknown(name))
    }

    /// The rule named `name`, if the API may change it.
    async fn writable(&self, name: &str) -> Result<RuleView, ApiError> {
        let view = self.view(name).await?;
        if view.origin == Origin::Config {
            return Err(ApiError::RuleReadOnly(format!(
                "rule `{name}` is declared in the config file ([[rules]]): change it there"
            )));
        }
        Ok(view)
    }

    async fn create(&self, value: Value) -> Answer {
        let rule = self.compile(value)?;
        let name = rule.spec.name.clone();
        if self.views().await?.iter().any(|view| view.name == name) {
            return Err(ApiError::Conflict(format!(
                "a rule named `{name}` exists; PUT /api/rules/{name} replaces it"
            )));
        }
        let now = Utc::now().naive_utc();
        let form = RuleForm {
            name: name.clone(),
            definition: definition(&rule)?,
            created_at: now,
            updated_at: now,
        };
        let pool = self.pool()?;
        web::block(move || {
            let mut conn = pool.get().map_err(database_error)?;
            queries::rules::insert(&mut conn, &form).map_err(|error| match error {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => ApiError::Conflict(format!("a rule named `{}` exists", form.name)),
                other => database_error(other),
            })
        })
        .await
        .map_err(database_error)??;
        self.put(rule, None).await?;
        Ok(HttpResponse::Created().json(self.view(&name).await?))
    }

    /// Stores `rule` in place of the rule named `old` and hands it to the engine.
    async fn replace(&self, old: &str, rule: Rule) -> Answer {
        let name = rule.spec.name.clone();
        if name != old && self.views().await?.iter().any(|view| view.name == name) {
            return Err(ApiError::Conflict(format!(
                "a rule named `{name}` exists; pick another name"
            )));
        }
        let definition = definition(&rule)?;
        let pool = self.pool()?;
        let (old_name, new_name) = (old.to_string(), name.clone());
        let found = web::block(move || {
            let mut conn = pool.get().map_err(database_error)?;
            queries::rules::update(
                &mut conn,
                &old_name,
                &new_name,
                &definition,
                Utc::now().naive_utc(),
            )
            .map_err(database_error)
        })
        .await
        .map_err(database_error)??;
        if !found {
            return Err(unknown(old));
        }
        self.put(rule, Some(old.to_string())).await?;
        Ok(HttpResponse::Ok().json(self.view(&name).await?))
    }

    async fn put(&self, rule: Rule, replaces: Option<String>) -> Result<(), ApiError> {
        ask(
            &self.engine,
            PutRule {
                rule,
                origin: Origin::Api,
                replaces,
            },
        )
        .await
    }
}

fn definition(rule: &Rule) -> Result<String, ApiError> {
    serde_json::to_string(&rule.spec).map_err(database_error)
}

fn unknown(name: &str) -> ApiError {
    ApiError::UnknownRule(format!("no rule named `{name}`; GET /api/rules lists them"))
}

fn database_error(error: impl std::fmt::Display) -> ApiError {
    ApiError::PersistenceUnavailable(format!("the rule store cannot be used right now ({error})"))
}

/// Registers the routes under `/api` (the hub's, not an instance's).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            resource("/rules", "GET, HEAD, POST")
                .route(web::get().to(list))
                .route(web::head().to(list))
                .route(web::post().to(create)),
        )
        .service(post("/rules/templates/failover", create_failover))
        .service(post("/rules/{rule}/test", test))
        .service(get("/rules/{rule}/firings", firings))
        .service(
            resource("/rules/{rule}", "GET, HEAD, PUT, PATCH, DELETE")
                .route(web::get().to(show))
                .route(web::head().to(show))
                .route(web::put().to(replace))
                .route(web::patch().to(change))
                .route(web::delete().to(remove)),
        );
}

const RULE_EXAMPLE: fn() -> Value = || {
    json!({
        "name": "mirror-live",
        "enabled": true,
        "trigger": {"type": "change", "kind": "scene_changed", "instance": "studio-a", "where": {"scene": "Live"}},
        "conditions": {"field": "stream.active", "op": "eq", "value": true},
        "actions": [{"type": "switch_scene", "scene": "Live", "instances": ["studio-b", "studio-c"]}],
        "limits": {"cooldown_secs": 5, "max_per_minute": 10}
    })
};

#[utoipa::path(get, path = "/api/rules", tag = "rules",
    summary = "Every rule, with its origin (config or api), held state, next run and last firing",
    responses(
        (status = 200, description = "The rules", body = Object, example = json!({"rules": [{
            "name": "failover-main", "origin": "api", "enabled": true, "entered": [],
            "definition": {"name": "failover-main", "enabled": true, "trigger": {"type": "held", "instance": "main", "when": [], "recover": {}}, "actions": []},
            "last_firing": {"at": "2026-11-30T19:02:11Z", "outcome": "fired"}}]})),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
    ))]
pub async fn list(api: web::Data<RulesApi>) -> Answer {
    Ok(HttpResponse::Ok().json(json!({ "rules": api.views().await? })))
}

#[utoipa::path(post, path = "/api/rules", tag = "rules",
    summary = "Make a rule (validated against the status model; stored in the database)",
    description = "Triggers: `change` (a published change: `kind`, optional `instance`, `where` \
        field values), `schedule` (`cron`, `time_zone`, `missed`: skip or run_once, \
        `grace_secs`), `held` (`when`: conditions with `for_secs`, any of which enters; \
        `recover`: a condition with `for_secs`). Conditions: `all`/`any`/`not` or \
        `field`/`op`/`value` (`op`: eq ne lt le gt ge; ordering on numeric fields only). \
        Actions: switch_scene, set_preview, transition, ensure_output, set_mute, set_volume, \
        set_source_visibility, trigger_hotkey, raw_request, delay, webhook, remember_scene, \
        switch_to_remembered; each on `instances`, a `group`, or the trigger's instance.",
    request_body(content = Object, content_type = "application/json", example = json!(RULE_EXAMPLE())),
    responses(
        (status = 201, description = "The rule as listed", body = Object),
        (status = 400, description = "`invalid_rule`: the message names the JSON path (`conditions.all[1].op`)", body = crate::error::ErrorBody,
         example = json!({"error": "invalid_rule", "message": "invalid rule: `conditions.all[1].op`: `lt` compares numbers; `current_scene` is a string (use eq or ne)"})),
        (status = 401, description = "No valid token", body = crate::error::ErrorBody),
        (status = 403, description = "Not an admin token", body = crate::error::ErrorBody),
        (status = 409, description = "A rule with this name exists", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database, or it fails", body = crate::error::ErrorBody),
    ))]
pub async fn create(api: web::Data<RulesApi>, Json(body): Json<Value>) -> Answer {
    api.create(body).await
}

#[utoipa::path(post, path = "/api/rules/templates/failover", tag = "rules",
    summary = "Make the failover rule: BRB scene when the bitrate drops or the stream reconnects, back after recovery",
    request_body(content = FailoverParams, content_type = "application/json"),
    responses(
        (status = 201, description = "The rule made, as listed", body = Object),
        (status = 400, description = "A parameter is invalid (the message names it)", body = crate::error::ErrorBody),
        (status = 409, description = "A rule with this name exists", body = crate::error::ErrorBody),
        (status = 503, description = "The hub keeps no database, or it fails", body = crate::error::ErrorBody),
    ))]
pub async fn create_failover(
    api: web::Data<RulesApi>,
    Json(params): Json<FailoverParams>,
) -> Answer {
    if params.bitrate_kbps.is_nan() || params.bitrate_kbps <= 0.0 {
        return Err(ApiError::InvalidField(
            "`bitrate_kbps` must be above 0".into(),
        ));
    }
    api.create(failover(&params)).await
}

#[utoipa::path(get, path = "/api/rules/{rule}", tag = "rules",
    summary = "One rule",
    params(("rule" = String, Path, description = "The rule's name")),
    responses(
        (status = 200, description = "The rule as listed", body = Object),
        (status = 404, description = "`unknown_rule`", body = crate::error::ErrorBody),
    ))]
pub async fn show(api: web::Data<RulesApi>, name: web::Path<String>) -> Answer {
    Ok(HttpResponse::Ok().json(api.view(&name).await?))
}

#[utoipa::path(put, path = "/api/rules/{rule}", tag = "rules",
    summary = "Replace a rule (a new `name` renames it)",
    params(("rule" = String, Path, description = "The rule's name")),
    request_body(content = Object, content_type = "application/json", example = json!(RULE_EXAMPLE())),
    responses(
        (status = 200, description = "The rule as listed", body = Object),
        (status = 400, description = "`invalid_rule`", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_rule`", body = crate::error::ErrorBody),
        (status = 409, description = "`rule_read_only` (a config rule), or the new name is taken", body = crate::error::ErrorBody),
    ))]
pub async fn replace(
    api: web::Data<RulesApi>,
    name: web::Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    api.writable(&name).await?;
    let rule = api.compile(body)?;
    api.replace(&name, rule).await
}

#[utoipa::path(patch, path = "/api/rules/{rule}", tag = "rules",
    summary = "Change some of a rule's top-level fields (`{\"enabled\": false}` disables it)",
    params(("rule" = String, Path, description = "The rule's name")),
    request_body(content = Object, content_type = "application/json", example = json!({"enabled": false})),
    responses(
        (status = 200, description = "The rule as listed", body = Object),
        (status = 400, description = "`invalid_rule`", body = crate::error::ErrorBody),
        (status = 404, description = "`unknown_rule`", body = crate::error::ErrorBody),
        (status = 409, description = "`rule_read_only` (a config rule)", body = crate::error::ErrorBody),
    ))]
pub async fn change(
    api: web::Data<RulesApi>,
    name: web::Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    let view = api.writable(&name).await?;
    let Value::Object(changes) = body else {
        return Err(ApiError::InvalidRule(
            "invalid rule: the body is an object of the fields to change".into(),
        ));
    };
    let mut definition = serde_json::to_value(&view.definition).map_err(database_error)?;
    if let Value::Object(fields) = &mut definition {
        fields.extend(changes);
    }
    let rule = api.compile(definition)?;
    api.replace(&name, rule).await
}

#[utoipa::path(delete, path = "/api/rules/{rule}", tag = "rules",
    summary = "Delete a rule (its firings stay in the history)",
    params(("rule" = String, Path, description = "The rule's name")),
    responses(
        (status = 200, description = "Deleted", body = Object, example = json!({"deleted": "failover-main"})),
        (status = 404, description = "`unknown_rule`", body = crate::error::ErrorBody),
        (status = 409, description = "`rule_read_only` (a config rule)", body = crate::error::ErrorBody),
    ))]
pub async fn remove(api: web::Data<RulesApi>, name: web::Path<String>) -> Answer {
    api.writable(&name).await?;
    let pool = api.pool()?;
    let rule = name.to_string();
    web::block(move || {
        let mut conn = pool.get().map_err(database_error)?;
        queries::rules::delete(&mut conn, &rule).map_err(database_error)
    })
    .await
    .map_err(database_error)??;
    ask(&api.engine, RemoveRule(name.to_string())).await?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": name.as_str() })))
}

#[utoipa::path(post, path = "/api/rules/{rule}/test", tag = "rules",
    summary = "Dry run: evaluate the rule against the current status and say what it would do, doing nothing",
    params(("rule" = String, Path, description = "The rule's name")),
    responses(
        (status = 200, description = "What the rule would do", body = Object, example = json!({
            "rule": "failover-main", "dry_run": true, "enabled": true,
            "trigger": {"type": "held", "entered": false, "when_holds_now": [true, false], "recover_holds_now": false},
            "conditions_hold": true, "would_fire": true,
            "evaluated": [{"instance": "main", "field": "stream.kbits_per_sec", "value": 312.5}],
            "actions": [{"action": "remember the program scene", "instances": ["main"]},
                        {"action": "switch the program scene to `BRB`", "instances": ["main"]}],
            "recovery_actions": [{"action": "switch back to the remembered scene", "instances": ["main"]}]})),
        (status = 404, description = "`unknown_rule`", body = crate::error::ErrorBody),
    ))]
pub async fn test(api: web::Data<RulesApi>, name: web::Path<String>) -> Answer {
    let plan = ask(&api.engine, DryRun(name.to_string()))
        .await?
        .ok_or_else(|| unknown(&name))?;
    Ok(HttpResponse::Ok().json(plan))
}

/// How many firings `GET /api/rules/{rule}/firings` answers at most, and how many `rule_fired`
/// rows (of every rule) it looks through for them.
const FIRINGS_MAX: usize = 200;
const FIRINGS_SCAN: i64 = 5000;

#[utoipa::path(get, path = "/api/rules/{rule}/firings", tag = "rules",
    summary = "The rule's latest firings from the history, newest first (at most 200)",
    params(("rule" = String, Path, description = "The rule's name")),
    responses(
        (status = 200, description = "The firings: each a `rule_fired` change with its instance and time", body = Object,
         example = json!({"rule": "failover-main", "firings": [{"instance": "main", "happened_at": "2026-11-30T19:02:11Z",
             "seq": 412, "outcome": "fired", "trigger": {"type": "held", "instance": "main", "condition": 0, "for_secs": 5},
             "evaluated": [{"instance": "main", "field": "stream.kbits_per_sec", "value": 312.5}],
             "actions": [{"action": "switch the program scene to `BRB`", "instance": "main", "ok": true, "duration_ms": 4}],
             "chain": 7, "duration_ms": 4.2}]})),
        (status = 503, description = "The hub keeps no database, or it fails", body = crate::error::ErrorBody),
    ))]
pub async fn firings(api: web::Data<RulesApi>, name: web::Path<String>) -> Answer {
    let pool = api.pool.clone().ok_or_else(|| {
        ApiError::PersistenceUnavailable("the hub keeps no history (no database)".into())
    })?;
    let rule = name.to_string();
    let found = web::block(move || {
        let mut conn = pool.get().map_err(database_error)?;
        let mut found = Vec::new();
        let mut before_id = None;
        let mut scanned = 0;
        while found.len() < FIRINGS_MAX && scanned < FIRINGS_SCAN {
            let query = EventQuery {
                instance_id: None,
                kinds: vec!["rule_fired".to_string()],
                since: None,
                until: None,
                before_id,
                limit: 500,
            };
            let rows = queries::events::page(&mut conn, &query).map_err(database_error)?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            before_id = Some(last.id);
            scanned += rows.len() as i64;
            for (event, instance) in rows {
                let Ok(Value::Object(mut payload)) = serde_json::from_str(&event.payload) else {
                    continue;
                };
                if payload.get("rule").and_then(Value::as_str) != Some(rule.as_str()) {
                    continue;
                }
                payload.remove("type");
                payload.insert("instance".into(), json!(instance));
                payload.insert("happened_at".into(), json!(event.happened_at.and_utc()));
                payload.insert("seq".into(), json!(event.seq));
                found.push(Value::Object(payload));
            }
        }
        found.truncate(FIRINGS_MAX);
        Ok::<_, ApiError>(found)
    })
    .await
    .map_err(database_error)??;
    Ok(HttpResponse::Ok().json(json!({ "rule": name.as_str(), "firings": found })))
}
