//! When a scheduled rule is due: the firings between the moment its schedule was last handled
//! and now. One due within [`ON_TIME_SECS`] fires; older ones were missed (the hub was down or
//! stalled) and follow the rule's policy: skipped, or the latest run once if within its grace.

use chrono::{DateTime, Duration, Utc};

use super::{cron::Schedule, model::MissedPolicy};

/// How late a firing may be noticed and still count as on time (the engine ticks every second).
pub const ON_TIME_SECS: i64 = 60;

/// What to do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    Nothing,
    /// The firing scheduled at this moment: run it.
    Fire(DateTime<Utc>),
    /// Missed firings, the latest at `scheduled`: run it once (within the grace).
    RunMissed {
        scheduled: DateTime<Utc>,
        missed: usize,
    },
    /// Missed firings, the latest at `scheduled`: record them as skipped.
    SkipMissed {
        scheduled: DateTime<Utc>,
        missed: usize,
    },
}

/// How many firings are counted when a long outage is looked back over.
const COUNT_AT_MOST: usize = 1000;

/// What is due at `now` for a schedule handled up to `handled_until`.
pub fn due(
    schedule: &Schedule,
    handled_until: DateTime<Utc>,
    now: DateTime<Utc>,
    missed: MissedPolicy,
    grace_secs: u64,
) -> Due {
    let mut latest = None;
    let mut count = 0;
    let mut cursor = handled_until;
    while let Some(next) = schedule.next_after(cursor).filter(|next| *next <= now) {
        latest = Some(next);
        count += 1;
        cursor = next;
        if count >= COUNT_AT_MOST {
            // Jump to the end of the outage: only the latest firing matters.
            cursor = (now - Duration::seconds(ON_TIME_SECS * 60)).max(cursor);
        }
    }
    let Some(latest) = latest else {
        return Due::Nothing;
    };
    if count == 1 && now - latest <= Duration::seconds(ON_TIME_SECS) {
        return Due::Fire(latest);
    }
    let grace = Duration::seconds(i64::try_from(grace_secs).unwrap_or(i64::MAX / 1000));
    match missed {
        MissedPolicy::RunOnce if now - latest <= grace => Due::RunMissed {
            scheduled: latest,
            missed: count,
        },
        _ => Due::SkipMissed {
            scheduled: latest,
            missed: count,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::cron::tests::at;

    #[test]
    fn fires_at_its_minute_and_missed_firings_follow_the_policy() {
        let daily = Schedule::parse("0 19 * * *", "UTC").unwrap();
        let before = at("2026-11-30T18:59:00Z");
        assert_eq!(
            due(
                &daily,
                before,
                at("2026-11-30T18:59:59Z"),
                MissedPolicy::Skip,
                600
            ),
            Due::Nothing
        );
        assert_eq!(
            due(
                &daily,
                before,
                at("2026-11-30T19:00:01Z"),
                MissedPolicy::Skip,
                600
            ),
            Due::Fire(at("2026-11-30T19:00:00Z"))
        );
        // Down from 18:59 to 19:05: missed.
        let back = at("2026-11-30T19:05:00Z");
        assert_eq!(
            due(&daily, before, back, MissedPolicy::Skip, 600),
            Due::SkipMissed {
                scheduled: at("2026-11-30T19:00:00Z"),
                missed: 1
            }
        );
        assert_eq!(
            due(&daily, before, back, MissedPolicy::RunOnce, 600),
            Due::RunMissed {
                scheduled: at("2026-11-30T19:00:00Z"),
                missed: 1
            }
        );
        // Beyond the grace: skipped even under run_once.
        assert_eq!(
            due(
                &daily,
                before,
                at("2026-11-30T19:20:00Z"),
                MissedPolicy::RunOnce,
                600
            ),
            Due::SkipMissed {
                scheduled: at("2026-11-30T19:00:00Z"),
                missed: 1
            }
        );
        // Three days down: the latest is the one that counts, run once.
        assert_eq!(
            due(
                &daily,
                before,
                at("2026-12-03T19:01:00Z"),
                MissedPolicy::RunOnce,
                600
            ),
            Due::RunMissed {
                scheduled: at("2026-12-03T19:00:00Z"),
                missed: 4
            }
        );
        let every_minute = Schedule::parse("* * * * *", "UTC").unwrap();
        assert!(matches!(
            due(
                &every_minute,
                before,
                at("2027-11-30T19:01:00Z"),
                MissedPolicy::Skip,
                0
            ),
            Due::SkipMissed { .. }
        ));
    }
}
