//! The failover rule, ready-made (`POST /api/rules/templates/failover`): when the stream's
//! bitrate stays below a threshold, or the output stays reconnecting, switch to a chosen scene
//! (remembering the one on program); once the stream has been healthy for a while, switch back.

use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// The template's parameters.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"instance": "main", "bitrate_kbps": 800, "seconds": 5,
    "reconnecting_seconds": 3, "brb_scene": "BRB", "recovery_seconds": 10}))]
pub struct FailoverParams {
    /// Default `failover-{instance}`.
    #[serde(default)]
    pub name: Option<String>,
    pub instance: String,
    /// Below this (kbit/s) while streaming counts as a drop.
    pub bitrate_kbps: f64,
    /// How long the bitrate must stay low.
    pub seconds: u64,
    /// How long the output must stay reconnecting (default: `seconds`).
    #[serde(default)]
    pub reconnecting_seconds: Option<u64>,
    pub brb_scene: String,
    /// How long the stream must be healthy again before switching back.
    pub recovery_seconds: u64,
}

/// The rule the template makes (validated like any other afterwards).
pub fn failover(params: &FailoverParams) -> Value {
    let threshold = params.bitrate_kbps;
    json!({
        "name": params.name.clone().unwrap_or_else(|| format!("failover-{}", params.instance)),
        "trigger": {
            "type": "held",
            "instance": params.instance,
            "when": [
                {"condition": {"all": [
                    {"field": "stream.active", "op": "eq", "value": true},
                    {"field": "stream.kbits_per_sec", "op": "lt", "value": threshold}
                ]}, "for_secs": params.seconds},
                {"condition": {"any": [
                    {"field": "stream.reconnecting", "op": "eq", "value": true},
                    {"field": "stream.state", "op": "eq", "value": "reconnecting"}
                ]}, "for_secs": params.reconnecting_seconds.unwrap_or(params.seconds)}
            ],
            "recover": {"condition": {"all": [
                {"field": "stream.active", "op": "eq", "value": true},
                {"field": "stream.reconnecting", "op": "eq", "value": false},
                {"field": "stream.state", "op": "ne", "value": "reconnecting"},
                {"field": "stream.kbits_per_sec", "op": "ge", "value": threshold}
            ]}, "for_secs": params.recovery_seconds}
        },
        "actions": [
            {"type": "remember_scene"},
            {"type": "switch_scene", "scene": params.brb_scene}
        ],
        "recovery_actions": [
            {"type": "switch_to_remembered"}
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::model::{read_spec, Known, Trigger};

    #[test]
    fn the_template_is_a_valid_held_rule() {
        let params: FailoverParams = serde_json::from_value(json!({"instance": "main",
            "bitrate_kbps": 800, "seconds": 5, "brb_scene": "BRB", "recovery_seconds": 10}))
        .unwrap();
        let instances = vec!["main".to_string()];
        let known = Known {
            instances: &instances,
            group: &|_| None,
        };
        let rule = read_spec(failover(&params))
            .unwrap()
            .compile(&known)
            .unwrap();
        assert_eq!(rule.spec.name, "failover-main");
        let Trigger::Held { when, recover, .. } = rule.trigger else {
            panic!("a held trigger");
        };
        assert_eq!(
            when.iter().map(|(_, secs)| *secs).collect::<Vec<_>>(),
            [5, 5]
        );
        assert_eq!(recover.1, 10);
        assert_eq!(rule.recovery_actions.len(), 1);
    }
}
