//! Schedules: five-field cron expressions (`minute hour day-of-month month day-of-week`) read in
//! a named time zone, and the next firing after a moment. Days, not minutes, are walked, so the
//! next firing of a yearly schedule costs a few hundred steps.
//!
//! The syntax is the classic one: `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists
//! `a,b`; month and day names (`JAN`, `MON`); day-of-week 0 and 7 are both Sunday. When both
//! day fields are restricted, a day matching either one fires (as cron does). Local times a
//! daylight-saving change skips fire at the first moment after the gap; repeated ones once.

use chrono::{DateTime, TimeZone, Utc};
use jiff::{civil, tz::TimeZone as Zone};

/// A parsed schedule: the minutes, hours... it fires at, as bit sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    /// Whether the day fields were `*` (then only the other one decides).
    any_day_of_month: bool,
    any_day_of_week: bool,
    zone: Zone,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How many days ahead a firing is looked for (a `29 2 *` schedule in a run of non-leap years
/// is the longest wait: 8 years covers any Gregorian gap).
const HORIZON_DAYS: i32 = 366 * 8 + 2;

impl Schedule {
    /// Reads `expression` in the IANA time zone `time_zone` (`Europe/Berlin`, `UTC`).
    pub fn parse(expression: &str, time_zone: &str) -> Result<Schedule, String> {
        let zone = Zone::get(time_zone).map_err(|_| {
            format!("unknown time zone `{time_zone}` (an IANA name such as Europe/Berlin or UTC)")
        })?;
        let parts: Vec<&str> = expression.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = parts[..] else {
            return Err(format!(
                "`{expression}` has {} fields; a schedule has five: minute hour day-of-month month day-of-week",
                parts.len()
            ));
        };
        let days_of_week = field(dow, "day-of-week", 0, 7, &DAYS)?;
        // 7 is Sunday too.
        let days_of_week = (days_of_week | (days_of_week >> 7)) & 0x7f;
        Ok(Schedule {
            minutes: field(minute, "minute", 0, 59, &[])?,
            hours: field(hour, "hour", 0, 23, &[])?,
            days_of_month: field(dom, "day-of-month", 1, 31, &[])?,
            months: field(month, "month", 1, 12, &MONTHS)?,
            days_of_week,
            any_day_of_month: dom == "*",
            any_day_of_week: dow == "*",
            zone,
        })
    }

    fn day_matches(&self, date: civil::Date) -> bool {
        if !bit(self.months, date.month() as u32) {
            return false;
        }
        let dom = bit(self.days_of_month, date.day() as u32);
        let dow = bit(
            self.days_of_week,
            date.weekday().to_sunday_zero_offset() as u32,
        );
        match (self.any_day_of_month, self.any_day_of_week) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first firing strictly after `after`; None if none within eight years (`30 2 31 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = jiff::Timestamp::from_second(after.timestamp()).ok()?;
        let local = start.to_zoned(self.zone.clone()).datetime();
        let mut date = local.date();
        for day in 0..HORIZON_DAYS {
            if day > 0 {
                date = date.tomorrow().ok()?;
            }
            if !self.day_matches(date) {
                continue;
            }
            for hour in 0..24 {
                if !bit(self.hours, hour) || (day == 0 && (hour as i8) < local.hour()) {
                    continue;
                }
                for minute in 0..60 {
                    if !bit(self.minutes, minute) {
                        continue;
                    }
                    let civil = date.at(hour as i8, minute as i8, 0, 0);
                    let Ok(zoned) = self.zone.to_ambiguous_zoned(civil).compatible() else {
                        continue;
                    };
                    let second = zoned.timestamp().as_second();
                    if second > after.timestamp() {
                        return Utc.timestamp_opt(second, 0).single();
                    }
                }
            }
        }
        None
    }
}

fn bit(set: u64, n: u32) -> bool {
    set & (1 << n) != 0
}

/// One field as a bit set of the values it allows.
fn field(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let mut set = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 =
                    step.parse().ok().filter(|step| *step > 0).ok_or_else(|| {
                        format!("{what} `{item}`: the step must be a number above 0")
                    })?;
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" {
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            (
                value(low, what, min, max, names)?,
                value(high, what, min, max, names)?,
            )
        } else {
            let single = value(range, what, min, max, names)?;
            // `5/15` means from 5 to the end, every 15.
            (single, if item.contains('/') { max } else { single })
        };
        if low > high {
            return Err(format!("{what} `{item}`: the range runs backwards"));
        }
        for n in (low..=high).step_by(step as usize) {
            set |= 1 << n;
        }
    }
    Ok(set)
}

fn value(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let offset = if names.len() == 12 { 1 } else { 0 };
    if let Some(index) = names
        .iter()
        .position(|name| name.eq_ignore_ascii_case(text))
    {
        return Ok(index as u32 + offset);
    }
    text.parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{what} `{text}` is not a value from {min} to {max}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An RFC 3339 instant, in UTC (the schedule tests use it too).
    pub(crate) fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn weekdays_at_seven_pm_in_berlin() {
        let schedule = Schedule::parse("0 19 * * MON-FRI", "Europe/Berlin").unwrap();
        // Monday 30 November 2026, 10:00 UTC (11:00 in Berlin): 19:00 Berlin is 18:00 UTC.
        assert_eq!(
            schedule.next_after(at("2026-11-30T10:00:00Z")),
            Some(at("2026-11-30T18:00:00Z"))
        );
        // Strictly after: from the firing itself, the next one is the next day's.
        assert_eq!(
            schedule.next_after(at("2026-11-30T18:00:00Z")),
            Some(at("2026-12-01T18:00:00Z"))
        );
        // Friday evening: Monday's.
        assert_eq!(
            schedule.next_after(at("2026-12-04T18:00:00Z")),
            Some(at("2026-12-07T18:00:00Z"))
        );
    }

    #[test]
    fn steps_lists_and_the_day_fields_either_way() {
        let schedule = Schedule::parse("*/15 9-10 1,15 * 0", "UTC").unwrap();
        // 1 Dec 2026 is a Tuesday (day 1 matches); 6 Dec a Sunday (weekday matches).
        assert_eq!(
            schedule.next_after(at("2026-11-30T12:00:00Z")),
            Some(at("2026-12-01T09:00:00Z"))
        );
        assert_eq!(
            schedule.next_after(at("2026-12-01T10:45:00Z")),
            Some(at("2026-12-06T09:00:00Z"))
        );
        assert_eq!(
            schedule.next_after(at("2026-12-06T09:07:00Z")),
            Some(at("2026-12-06T09:15:00Z"))
        );
    }

    #[test]
    fn a_skipped_local_time_fires_after_the_gap_and_once() {
        // Berlin skipped 02:00-03:00 on 29 March 2026.
        let schedule = Schedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let fired = schedule.next_after(at("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(fired, at("2026-03-29T01:30:00Z"));
        assert_eq!(schedule.next_after(fired), Some(at("2026-03-30T00:30:00Z")));
    }

    #[test]
    fn mistakes_are_named() {
        for (expression, zone, needle) in [
            ("0 19 * *", "UTC", "has 4 fields"),
            ("60 * * * *", "UTC", "minute `60`"),
            ("0 19 * * FUNDAY", "UTC", "day-of-week `FUNDAY`"),
            ("0 5-1 * * *", "UTC", "runs backwards"),
            ("*/0 * * * *", "UTC", "step"),
            (
                "0 19 * * *",
                "Mars/Olympus",
                "unknown time zone `Mars/Olympus`",
            ),
        ] {
            let error = Schedule::parse(expression, zone).unwrap_err();
            assert!(error.contains(needle), "{expression}: {error}");
        }
        assert_eq!(
            Schedule::parse("0 0 31 2 *", "UTC")
                .unwrap()
                .next_after(at("2026-01-01T00:00:00Z")),
            None
        );
    }
}
