//! A condition held for a duration: the state machine of a `held` trigger for one instance.
//! It enters when any of its conditions has held for that condition's duration, and recovers
//! when the recovery condition has held for its own; in between it fires nothing more.

use chrono::{DateTime, Duration, Utc};

/// What a step decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeldStep {
    Nothing,
    /// Condition `index` of `when` held long enough: run the actions.
    Enter(usize),
    /// The recovery condition held long enough: run the recovery actions.
    Recover,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeldState {
    pub entered: bool,
    /// Since when each `when` condition has held (None: it does not hold now).
    when_since: Vec<Option<DateTime<Utc>>>,
    recover_since: Option<DateTime<Utc>>,
}

impl HeldState {
    /// Moves the machine on: `when` is, per condition, whether it holds now and how long it
    /// must; `recover` the same for the recovery condition.
    pub fn step(
        &mut self,
        now: DateTime<Utc>,
        when: &[(bool, u64)],
        recover: (bool, u64),
    ) -> HeldStep {
        let long_enough = |since: DateTime<Utc>, secs: u64| {
            now - since >= Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
        };
        if self.entered {
            let (holds, secs) = recover;
            if !holds {
                self.recover_since = None;
                return HeldStep::Nothing;
            }
            let since = *self.recover_since.get_or_insert(now);
            if long_enough(since, secs) {
                *self = Self::default();
                return HeldStep::Recover;
            }
            return HeldStep::Nothing;
        }
        self.when_since.resize(when.len(), None);
        let mut entered = None;
        for (index, ((holds, secs), since)) in when.iter().zip(&mut self.when_since).enumerate() {
            if !holds {
                *since = None;
                continue;
            }
            let since = *since.get_or_insert(now);
            if entered.is_none() && long_enough(since, *secs) {
                entered = Some(index);
            }
        }
        match entered {
            Some(index) => {
                *self = Self {
                    entered: true,
                    ..Self::default()
                };
                HeldStep::Enter(index)
            }
            None => HeldStep::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enters_after_its_duration_and_recovers_after_its_own() {
        let t0 = Utc::now();
        let at = |secs: i64| t0 + Duration::seconds(secs);
        let mut state = HeldState::default();
        // Bitrate low (condition 0, 5 s) or reconnecting (condition 1, 3 s); recovery 10 s.
        assert_eq!(
            state.step(at(0), &[(true, 5), (false, 3)], (false, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(4), &[(true, 5), (false, 3)], (false, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(5), &[(true, 5), (false, 3)], (false, 10)),
            HeldStep::Enter(0)
        );
        // Entered: nothing more fires while the trouble lasts.
        assert_eq!(
            state.step(at(20), &[(true, 5), (false, 3)], (false, 10)),
            HeldStep::Nothing
        );
        // Recovery must hold without a break.
        assert_eq!(
            state.step(at(21), &[(false, 5), (false, 3)], (true, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(25), &[(true, 5), (false, 3)], (false, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(26), &[(false, 5), (false, 3)], (true, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(35), &[(false, 5), (false, 3)], (true, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(36), &[(false, 5), (false, 3)], (true, 10)),
            HeldStep::Recover
        );
        assert!(!state.entered);
    }

    #[test]
    fn a_break_restarts_the_wait_and_any_condition_may_enter() {
        let t0 = Utc::now();
        let at = |secs: i64| t0 + Duration::seconds(secs);
        let mut state = HeldState::default();
        state.step(at(0), &[(true, 5), (false, 3)], (false, 10));
        state.step(at(4), &[(false, 5), (false, 3)], (false, 10));
        assert_eq!(
            state.step(at(6), &[(true, 5), (false, 3)], (false, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(7), &[(true, 5), (true, 3)], (false, 10)),
            HeldStep::Nothing
        );
        assert_eq!(
            state.step(at(10), &[(true, 5), (true, 3)], (false, 10)),
            HeldStep::Enter(1)
        );
    }
}
