//! What keeps a rule from firing too often: its cooldown and its maximum firings per minute.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

use super::model::Limits;

/// A rule's recent firings.
#[derive(Clone, Debug, Default)]
pub struct Firings {
    recent: VecDeque<DateTime<Utc>>,
}

impl Firings {
    /// Whether the rule may fire at `now`; if so the firing is counted. The refusal says why.
    pub fn admit(&mut self, limits: &Limits, now: DateTime<Utc>) -> Result<(), String> {
        let minute_ago = now - Duration::seconds(60);
        while self.recent.front().is_some_and(|at| *at <= minute_ago) {
            self.recent.pop_front();
        }
        if let Some(last) = self.recent.back() {
            let cooldown =
                Duration::seconds(i64::try_from(limits.cooldown_secs).unwrap_or(i64::MAX / 1000));
            if limits.cooldown_secs > 0 && now - *last < cooldown {
                return Err(format!(
                    "suppressed: cooldown ({} s after the firing at {})",
                    limits.cooldown_secs,
                    last.to_rfc3339()
                ));
            }
        }
        if limits.max_per_minute > 0 && self.recent.len() >= limits.max_per_minute as usize {
            return Err(format!(
                "suppressed: limit ({} firings a minute)",
                limits.max_per_minute
            ));
        }
        self.recent.push_back(now);
        Ok(())
    }

    /// The cooldown keeps a full minute's firings too (it needs only the last).
    pub fn last(&self) -> Option<DateTime<Utc>> {
        self.recent.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_and_rate_limit() {
        let t0 = Utc::now();
        let at = |secs: i64| t0 + Duration::seconds(secs);
        let mut firings = Firings::default();
        let cooldown = Limits {
            cooldown_secs: 30,
            max_per_minute: 0,
        };
        assert!(firings.admit(&cooldown, at(0)).is_ok());
        assert!(firings
            .admit(&cooldown, at(29))
            .unwrap_err()
            .contains("cooldown"));
        assert!(firings.admit(&cooldown, at(30)).is_ok());
        let mut firings = Firings::default();
        let two = Limits {
            cooldown_secs: 0,
            max_per_minute: 2,
        };
        assert!(firings.admit(&two, at(0)).is_ok());
        assert!(firings.admit(&two, at(1)).is_ok());
        assert!(firings
            .admit(&two, at(59))
            .unwrap_err()
            .contains("2 firings a minute"));
        assert!(
            firings.admit(&two, at(60)).is_ok(),
            "the first has left the minute"
        );
        assert_eq!(firings.last(), Some(at(60)));
    }
}
