//! `rule_fired`: a rule of the hub's ran (or was kept from running) — the record the rules
//! engine (a capability above) publishes for each firing, so that history, webhooks and the
//! WebSocket carry it like any change. It changes no instance's status; the instance it is
//! published under is the one the trigger was about (or the first one the actions target).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{kinds::ChangeKind, update::Change};

/// One firing, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleFiring {
    /// The rule's name (history rows are found under it).
    pub rule: String,
    /// `fired`, `recovered` (a held trigger's recovery actions), `suppressed` (loop, cooldown,
    /// limit), `skipped` (a schedule missed while the hub was down), `failed` (an action failed).
    pub outcome: String,
    /// Why it was suppressed or skipped (`suppressed: loop`...), or which action failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What fired it: the change (kind, seq), the scheduled minute, the held condition.
    pub trigger: Value,
    /// The status values the trigger and conditions read.
    #[serde(default)]
    pub evaluated: Vec<Value>,
    /// Each action run: type, instance, ok, error, duration_ms.
    #[serde(default)]
    pub actions: Vec<Value>,
    /// Firings caused one by another share a chain (loop protection).
    pub chain: u64,
    /// From the trigger (the change's publication, the scheduled or held moment) to the last
    /// action's acknowledgement, in milliseconds (to the microsecond).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// What a `webhook` action added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A rule fired. Opt-in for webhook endpoints (they name `rule_fired`).
pub static RULE_FIRED: ChangeKind = ChangeKind {
    name: "rule_fired",
    recorded: true,
    webhook_default: false,
    payload: |change| match change {
        Change::RuleFired(firing) => json!(firing),
        _ => Value::Null,
    },
    callback: None,
};
