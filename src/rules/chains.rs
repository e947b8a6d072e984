//! Loop protection: which changes a rule's own actions caused.
//!
//! Every firing belongs to a chain: a new one when an outside change (or a schedule, or a held
//! condition) fires it, or the chain of the change that fired it. Before an action is sent, the
//! effect it should have (the scene switched to, a change of the output's kind...) is expected
//! on its instance for the chain; the change that meets an expectation belongs to that chain. A
//! rule that would fire again within a chain it already fired in is a loop: suppressed, and the
//! history says so.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use crate::status::Change;

pub type ChainId = u64;

/// How long an action's effect is waited for (OBS answers in milliseconds; a transition takes
/// a second or two). A change of the expected kind that is not the action's own but comes
/// within this window is taken for it: the price of not knowing OBS's causes.
const EXPECT_FOR_SECS: i64 = 10;
/// How long a chain is remembered after its last firing or expectation.
const CHAIN_LIFETIME_SECS: i64 = 120;

/// What an action is expected to cause on its instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The program scene becoming this one (met once).
    Scene(String),
    /// Any change of this kind, while expected.
    Kind(&'static str),
    /// Any change but the periodic figures and the link's state (hotkeys, raw requests,
    /// transitions: their effect is not known), while expected.
    Any,
}

impl Effect {
    fn met_by(&self, change: &Change) -> bool {
        match self {
            Effect::Scene(scene) => {
                matches!(change, Change::SceneChanged { scene: now, .. } if now == scene)
            }
            Effect::Kind(kind) => change.kind() == *kind,
            Effect::Any => !matches!(
                change,
                Change::StatsUpdated { .. } | Change::ConnectionChanged { .. }
            ),
        }
    }
}

#[derive(Debug)]
struct Expectation {
    chain: ChainId,
    instance: String,
    effect: Effect,
    until: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Chains {
    next: ChainId,
    expectations: Vec<Expectation>,
    /// Per chain: the rules that fired in it, and when it was last touched.
    fired: BTreeMap<ChainId, (BTreeSet<String>, DateTime<Utc>)>,
}

impl Chains {
    /// A chain of its own, for a firing no rule caused.
    pub fn start(&mut self, now: DateTime<Utc>) -> ChainId {
        self.next += 1;
        self.fired.insert(self.next, (BTreeSet::new(), now));
        self.next
    }

    /// The chain whose action caused this change, if any.
    pub fn cause(
        &mut self,
        instance: &str,
        change: &Change,
        now: DateTime<Utc>,
    ) -> Option<ChainId> {
        self.forget_old(now);
        let index = self
            .expectations
            .iter()
            .position(|e| e.instance == instance && e.effect.met_by(change))?;
        let chain = self.expectations[index].chain;
        if matches!(self.expectations[index].effect, Effect::Scene(_)) {
            self.expectations.remove(index);
        }
        Some(chain)
    }

    pub fn expect(&mut self, chain: ChainId, instance: &str, effect: Effect, now: DateTime<Utc>) {
        self.expectations.push(Expectation {
            chain,
            instance: instance.to_string(),
            effect,
            until: now + Duration::seconds(EXPECT_FOR_SECS),
        });
        if let Some((_, touched)) = self.fired.get_mut(&chain) {
            *touched = now;
        }
    }

    /// Records that `rule` fires in `chain`; false if it already did (a loop).
    pub fn enter(&mut self, chain: ChainId, rule: &str, now: DateTime<Utc>) -> bool {
        let (rules, touched) = self
            .fired
            .entry(chain)
            .or_insert_with(|| (BTreeSet::new(), now));
        *touched = now;
        rules.insert(rule.to_string())
    }

    fn forget_old(&mut self, now: DateTime<Utc>) {
        self.expectations.retain(|e| e.until > now);
        let horizon = now - Duration::seconds(CHAIN_LIFETIME_SECS);
        self.fired.retain(|_, (_, touched)| *touched > horizon);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(name: &str) -> Change {
        Change::SceneChanged {
            scene: name.into(),
            previous: None,
        }
    }

    #[test]
    fn a_rule_fires_once_per_chain_and_effects_are_traced_to_their_chain() {
        let now = Utc::now();
        let mut chains = Chains::default();
        // An operator's switch to Live: no chain caused it.
        assert_eq!(chains.cause("a", &scene("Live"), now), None);
        let chain = chains.start(now);
        assert!(chains.enter(chain, "ping", now));
        chains.expect(chain, "a", Effect::Scene("BRB".into()), now);
        // Another scene is not this action's effect; BRB is, once.
        assert_eq!(chains.cause("a", &scene("Intro"), now), None);
        assert_eq!(chains.cause("b", &scene("BRB"), now), None);
        assert_eq!(chains.cause("a", &scene("BRB"), now), Some(chain));
        assert_eq!(chains.cause("a", &scene("BRB"), now), None);
        // "pong" fires in the same chain, its effect fires "ping" again: a loop.
        assert!(chains.enter(chain, "pong", now));
        assert!(!chains.enter(chain, "ping", now));
    }

    #[test]
    fn expectations_lapse() {
        let now = Utc::now();
        let mut chains = Chains::default();
        let chain = chains.start(now);
        chains.expect(chain, "a", Effect::Kind("streaming_changed"), now);
        let change = Change::StreamingChanged {
            is_streaming: true,
            state: "starting".into(),
        };
        assert_eq!(chains.cause("a", &change, now), Some(chain));
        assert_eq!(
            chains.cause("a", &change, now),
            Some(chain),
            "kinds stay expected"
        );
        let later = now + Duration::seconds(EXPECT_FOR_SECS + 1);
        assert_eq!(chains.cause("a", &change, later), None);
        // What a hotkey causes is not known, but the periodic figures are never its doing.
        chains.expect(chain, "a", Effect::Any, later);
        let figures = Change::StatsUpdated {
            stats: None,
            stream: Default::default(),
            record: Default::default(),
        };
        assert_eq!(chains.cause("a", &figures, later), None);
        assert_eq!(chains.cause("a", &change, later), Some(chain));
    }
}
