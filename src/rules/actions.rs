//! Runs a firing's actions: each command through the connection supervisor (`http::ask::route`,
//! as the routes send theirs, so output commands take their lane like any other), delays on the
//! hub's clock, and the rule's memory of scenes. Before a command is sent, its expected effect
//! is registered with the firing's chain (loop protection, see [`super::chains`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use actix::Addr;
use futures_util::future::join_all;
use serde_json::{json, Value};

use super::{
    chains::{ChainId, Chains, Effect},
    model::{Action, Command, Targets},
};
use crate::{
    audio::commands::AudioCommand,
    clock::SharedClock,
    db::audit::{AuditRecorder, Record},
    error::ApiError,
    http::{ask, audit::rule_action},
    obs::{
        connection::RawCall, output_commands::OutputCommand, ConnectionSupervisor, ObsCommand,
        RouteRaw,
    },
    sources::commands::{SourceCommand, SourceOutcome},
    status::{output_status::Output, StatusBoard},
    studio::commands::StudioCommand,
};

/// Resolves an instance group to its members (None: no such group).
pub type GroupResolver = Arc<dyn Fn(&str) -> Option<Vec<String>> + Send + Sync>;

/// The scenes `remember_scene` kept, per (rule, instance).
pub type SceneMemory = Arc<Mutex<HashMap<(String, String), String>>>;

/// What the actions of one firing run with.
#[derive(Clone)]
pub struct Runner {
    pub supervisor: Addr<ConnectionSupervisor>,
    pub board: StatusBoard,
    pub clock: SharedClock,
    pub chains: Arc<Mutex<Chains>>,
    pub memory: SceneMemory,
    pub groups: GroupResolver,
    /// The audit trail: each command a rule sends is recorded under `rule:<name>` like the
    /// equivalent API request (None without a database).
    pub audit: Option<Addr<AuditRecorder>>,
}

/// What the firing is about.
#[derive(Clone, Debug, Default)]
pub struct FiringContext {
    pub rule: String,
    pub chain: ChainId,
    /// The instance the trigger was about (None for a schedule).
    pub instance: Option<String>,
    /// The scene of the `scene_changed` change that fired the rule.
    pub trigger_scene: Option<String>,
}

/// The record of the actions run, and what a `webhook` action added.
#[derive(Debug, Default)]
pub struct Ran {
    pub actions: Vec<Value>,
    pub failed: Option<String>,
    pub data: Option<Value>,
}

/// The instances an action runs on, or why it cannot run.
pub fn resolve(
    targets: &Targets,
    context: &FiringContext,
    groups: &GroupResolver,
) -> Result<Vec<String>, String> {
    match targets {
        Targets::TriggerInstance => context
            .instance
            .clone()
            .map(|instance| vec![instance])
            .ok_or_else(|| "the trigger is about no instance".to_string()),
        Targets::Instances(names) => Ok(names.clone()),
        Targets::Group(group) => groups(group)
            .filter(|members| !members.is_empty())
            .ok_or_else(|| format!("instance group `{group}` is unknown or empty")),
    }
}

/// A few words on what an action does, for dry runs and the firing's record.
pub fn describe(command: &Command, context: &FiringContext) -> String {
    match command {
        Command::SwitchScene(Some(scene)) => format!("switch the program scene to `{scene}`"),
        Command::SwitchScene(None) => match &context.trigger_scene {
            Some(scene) => format!("switch the program scene to `{scene}` (the trigger's)"),
            None => "switch the program scene to the trigger's scene".to_string(),
        },
        Command::SetPreview(scene) => format!("set the preview scene to `{scene}`"),
        Command::Transition { transition, .. } => match transition {
            Some(name) => format!("transition preview to program with `{name}`"),
            None => "transition preview to program".to_string(),
        },
        Command::EnsureOutput { output, active } => format!(
            "ensure the {} output is {}",
            output.as_str(),
            if *active { "active" } else { "stopped" }
        ),
        Command::SetMute { input, muted } => {
            format!("{} `{input}`", if *muted { "mute" } else { "unmute" })
        }
        Command::SetVolume { input, volume_db } => format!("set `{input}` to {volume_db} dB"),
        Command::SetSourceVisibility {
            scene,
            source,
            visible,
        } => format!(
            "{} `{source}` in scene `{scene}`",
            if *visible { "show" } else { "hide" }
        ),
        Command::TriggerHotkey(name) => format!("trigger hotkey `{name}`"),
        Command::RawRequest { request_type, .. } => format!("send request {request_type}"),
        Command::RememberScene => "remember the program scene".to_string(),
        Command::SwitchToRemembered => "switch back to the remembered scene".to_string(),
    }
}

/// The change a command is expected to cause on its instance.
fn effect(command: &Command, scene: Option<&str>) -> Option<Effect> {
    Some(match command {
        Command::SwitchScene(_) | Command::SwitchToRemembered => match scene {
            Some(scene) => Effect::Scene(scene.to_string()),
            None => Effect::Kind("scene_changed"),
        },
        Command::SetPreview(_) => Effect::Kind("studio_changed"),
        Command::EnsureOutput { output, .. } => Effect::Kind(match output {
            Output::Stream => "streaming_changed",
            Output::Record => "recording_changed",
            _ => "output_changed",
        }),
        Command::SetMute { .. } | Command::SetVolume { .. } => Effect::Kind("audio_changed"),
        Command::SetSourceVisibility { .. } => Effect::Kind("source_changed"),
        Command::Transition { .. } | Command::TriggerHotkey(_) | Command::RawRequest { .. } => {
            Effect::Any
        }
        Command::RememberScene => return None,
    })
}

impl Runner {
    /// Runs `actions` in order (each command on its instances at once) and records each.
    pub async fn run(&self, context: &FiringContext, actions: &[Action]) -> Ran {
        let mut ran = Ran::default();
        for action in actions {
            match action {
                Action::Delay(wait) => {
                    let started = Instant::now();
                    let until = self.clock.now()
                        + chrono::Duration::from_std(*wait).unwrap_or(chrono::Duration::zero());
                    self.clock.sleep_until(until).await;
                    ran.actions.push(json!({
                        "type": "delay", "ok": true, "secs": wait.as_secs_f64(),
                        "duration_ms": started.elapsed().as_millis() as u64,
                    }));
                }
                Action::Webhook(data) => {
                    ran.data = Some(data.clone());
                    ran.actions.push(json!({"type": "webhook", "ok": true}));
                }
                Action::Command { command, targets } => {
                    let instances = match resolve(targets, context, &self.groups) {
                        Ok(instances) => instances,
                        Err(problem) => {
                            ran.failed.get_or_insert_with(|| problem.clone());
                            ran.actions.push(json!({
                                "action": describe(command, context), "ok": false, "error": problem,
                            }));
                            continue;
                        }
                    };
                    let results = join_all(
                        instances
                            .iter()
                            .map(|instance| self.on_instance(context, command, instance)),
                    )
                    .await;
                    for (instance, (result, duration_ms)) in instances.iter().zip(results) {
                        let mut record = json!({
                            "action": describe(command, context),
                            "instance": instance,
                            "ok": result.is_ok(),
                            "duration_ms": duration_ms,
                        });
                        if let Err(error) = result {
                            ran.failed
                                .get_or_insert_with(|| format!("`{instance}`: {error}"));
                            record["error"] = json!(error);
                        }
                        ran.actions.push(record);
                    }
                }
            }
        }
        ran
    }

    /// One command on one instance: its result and how long it took.
    async fn on_instance(
        &self,
        context: &FiringContext,
        command: &Command,
        instance: &str,
    ) -> (Result<(), String>, u64) {
        let started = Instant::now();
        let result = self.send(context, command, instance).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let scene = match command {
            Command::SwitchScene(scene) => scene.clone().or(context.trigger_scene.clone()),
            Command::SwitchToRemembered => lock(&self.memory)
                .get(&(context.rule.clone(), instance.to_string()))
                .cloned(),
            _ => None,
        };
        if let (Some(audit), Some((method, route, body))) =
            (&self.audit, equivalent_request(command, instance, scene))
        {
            let outcome = result.as_ref().map(|_| 200);
            audit.do_send(Record(rule_action(
                &context.rule,
                method,
                &route,
                Some(instance),
                body.as_ref(),
                outcome,
                i64::try_from(duration_ms).unwrap_or(i64::MAX),
            )));
        }
        (result.map_err(|error| error.to_string()), duration_ms)
    }

    async fn send(
        &self,
        context: &FiringContext,
        command: &Command,
        instance: &str,
    ) -> Result<(), ApiError> {
        let refused = |problem: &str| ApiError::Conflict(problem.to_string());
        let key = (context.rule.clone(), instance.to_string());
        let scene = match command {
            Command::SwitchScene(Some(scene)) => Some(scene.clone()),
            Command::SwitchScene(None) => Some(
                context
                    .trigger_scene
                    .clone()
                    .ok_or_else(|| refused("the trigger carries no scene"))?,
            ),
            Command::SwitchToRemembered => Some(
                lock(&self.memory)
                    .get(&key)
                    .cloned()
                    .ok_or_else(|| refused("no scene was remembered for this instance"))?,
            ),
            _ => None,
        };
        if let Command::RememberScene = command {
            let snapshot = self.board.current();
            let current = snapshot
                .instance(instance)
                .and_then(|status| status.current_scene.clone())
                .ok_or_else(|| refused("the program scene is not known"))?;
            lock(&self.memory).insert(key, current);
            return Ok(());
        }
        // A switch to the scene already on program changes nothing: no effect to wait for
        // (a later switch to it by someone else must not pass for this one's).
        let already_there = scene.is_some()
            && self
                .board
                .current()
                .instance(instance)
                .and_then(|status| status.current_scene.clone())
                == scene;
        if let Some(effect) = effect(command, scene.as_deref()).filter(|_| !already_there) {
            lock(&self.chains).expect(context.chain, instance, effect, self.clock.now());
        }
        let obs_command = match command {
            Command::SwitchScene(_) | Command::SwitchToRemembered => {
                ObsCommand::SwitchScene(scene.unwrap_or_default())
            }
            Command::SetPreview(scene) => {
                ObsCommand::capability(StudioCommand::SetPreview(scene.clone()))
            }
            Command::Transition {
                transition,
                duration_ms,
            } => ObsCommand::capability(StudioCommand::Take {
                transition: transition.clone(),
                duration_ms: *duration_ms,
            }),
            Command::EnsureOutput { output, active } => ObsCommand::Output(OutputCommand::Ensure {
                output: *output,
                active: *active,
            }),
            Command::SetMute { input, muted } => ObsCommand::capability(AudioCommand::SetMuted {
                input: input.clone(),
                muted: *muted,
            }),
            Command::SetVolume { input, volume_db } => {
                ObsCommand::capability(AudioCommand::VolumeDb {
                    input: input.clone(),
                    db: *volume_db,
                })
            }
            Command::SetSourceVisibility {
                scene,
                source,
                visible,
            } => {
                let id = self.item_id(instance, scene, source).await?;
                ObsCommand::capability(SourceCommand::SetItemEnabled {
                    scene: scene.clone(),
                    id,
                    enabled: *visible,
                })
            }
            Command::TriggerHotkey(name) => {
                ObsCommand::capability(SourceCommand::TriggerHotkey(name.clone()))
            }
            Command::RawRequest {
                request_type,
                request_data,
            } => {
                let call = RawCall::Request {
                    request_type: request_type.clone(),
                    request_data: request_data.clone(),
                };
                let answer = self
                    .supervisor
                    .send(RouteRaw {
                        instance: instance.to_string(),
                        call,
                    })
                    .await
                    .map_err(|_| {
                        ApiError::Unavailable("the hub's supervisor is not answering".into())
                    })?
                    .map_err(|error| ApiError::from_command(instance, error, ""))?;
                // OBS's own verdict on the request.
                let status = answer.get("requestStatus");
                if status.and_then(|s| s.get("result")) == Some(&Value::Bool(false)) {
                    return Err(ApiError::ObsRejected(format!(
                        "OBS refused {request_type}: {}",
                        status.map(Value::to_string).unwrap_or_default()
                    )));
                }
                return Ok(());
            }
            Command::RememberScene => return Ok(()),
        };
        ask::route(&self.supervisor, instance, obs_command)
            .await
            .map(drop)
            .map_err(|error| ApiError::from_command(instance, error, ""))
    }

    /// The id of the item showing `source` in `scene` (read from OBS, as the items route does).
    async fn item_id(&self, instance: &str, scene: &str, source: &str) -> Result<i64, ApiError> {
        let command = ObsCommand::capability(SourceCommand::ReadItems {
            scene: scene.to_string(),
            group: false,
        });
        let outcome = ask::route(&self.supervisor, instance, command)
            .await
            .map_err(|error| ApiError::from_command(instance, error, ""))?;
        let Some(SourceOutcome::Items(lists)) = outcome.into_capability::<SourceOutcome>() else {
            return Err(ApiError::Unavailable(
                "the connection answered with another kind of answer".into(),
            ));
        };
        lists
            .iter()
            .filter(|(name, _)| name == scene)
            .flat_map(|(_, items)| items)
            .find(|item| item.source_name == source)
            .map(|item| item.id)
            .ok_or_else(|| {
                ApiError::UnknownSource(format!("scene `{scene}` shows no source `{source}`"))
            })
    }
}

/// The API request a command stands for, for the audit trail: method, route, body (None for
/// what sends nothing to OBS).
fn equivalent_request(
    command: &Command,
    instance: &str,
    scene: Option<String>,
) -> Option<(&'static str, String, Option<Value>)> {
    let base = format!("/api/instances/{instance}");
    Some(match command {
        Command::SwitchScene(_) | Command::SwitchToRemembered => (
            "POST",
            format!("{base}/switch-scene"),
            Some(json!({ "scene_name": scene })),
        ),
        Command::SetPreview(scene) => (
            "PUT",
            format!("{base}/preview-scene"),
            Some(json!({ "scene_name": scene })),
        ),
        Command::Transition {
            transition,
            duration_ms,
        } => (
            "POST",
            format!("{base}/transition"),
            Some(json!({ "transition": transition, "duration_ms": duration_ms })),
        ),
        Command::EnsureOutput { output, active } => (
            "POST",
            format!(
                "{base}/outputs/{}/ensure",
                output.as_str().replace('_', "-")
            ),
            Some(json!({ "active": active })),
        ),
        Command::SetMute { input, muted } => (
            "POST",
            format!(
                "{base}/audio/inputs/{input}/{}",
                if *muted { "mute" } else { "unmute" }
            ),
            None,
        ),
        Command::SetVolume { input, volume_db } => (
            "PUT",
            format!("{base}/audio/inputs/{input}/volume"),
            Some(json!({ "db": volume_db })),
        ),
        Command::SetSourceVisibility {
            scene,
            source,
            visible,
        } => (
            "POST",
            format!(
                "{base}/scenes/{scene}/items/{source}/{}",
                if *visible { "show" } else { "hide" }
            ),
            None,
        ),
        Command::TriggerHotkey(name) => ("POST", format!("{base}/hotkeys/{name}/trigger"), None),
        Command::RawRequest {
            request_type,
            request_data,
        } => (
            "POST",
            format!("{base}/obs/requests/{request_type}"),
            request_data.clone(),
        ),
        Command::RememberScene => return None,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding it leaves plain data behind: still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
