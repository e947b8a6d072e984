//! When to try a webhook delivery again, and what a response means.

use std::time::Duration;

use rand::Rng;

/// Delay before attempt N+1 after attempt N failed (a setting's default, so it lives with
/// the settings).
pub use crate::config::webhook_settings::RETRY_DELAYS;

/// A `Retry-After` longer than this is not waited for: the schedule's own last step is as
/// patient as the hub gets.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// How one attempt ended, from the receiver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again (network error, timeout, 5xx, 429, 3xx — redirects are not followed).
    Retry {
        retry_after: Option<Duration>,
    },
    /// 410 Gone: the receiver asks never to be called again; the endpoint is disabled.
    Gone,
    /// Another 4xx: the receiver rejects this message; retrying will not help... but the
    /// receiver may be mid-deploy, so it is retried like any failure, on the same schedule.
    Rejected,
}

/// Classifies an HTTP status (None = no response: connection error or timeout).
pub fn verdict(status: Option<u16>, retry_after: Option<Duration>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(410) => Verdict::Gone,
        Some(429 | 503) => Verdict::Retry { retry_after },
        Some(400..=499) => Verdict::Rejected,
        _ => Verdict::Retry { retry_after: None },
    }
}

/// The delay before the next attempt after `attempts_made` failed attempts, or None when the
/// delivery is given up. Jitter of ±10 % spreads retries of many deliveries that failed together.
pub fn next_delay(
    attempts_made: u32,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Option<Duration> {
    next_delay_in(&RETRY_DELAYS, attempts_made, retry_after, rng)
}

/// [`next_delay`] on another list of delays (tests run the schedule in milliseconds).
pub fn next_delay_in(
    delays: &[Duration],
    attempts_made: u32,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Option<Duration> {
    let index = usize::try_from(attempts_made.checked_sub(1)?).ok()?;
    let base = *delays.get(index)?;
    let jittered = base.mul_f64(rng.gen_range(0.9..=1.1));
    Some(match retry_after {
        Some(asked) => jittered.max(asked.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// Parses `Retry-After` in its seconds form (the HTTP-date form is rare for webhooks and is
/// treated as absent).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn responses_mean_what_the_issue_says() {
        assert_eq!(verdict(Some(204), None), Verdict::Delivered);
        assert_eq!(
            verdict(Some(302), None),
            Verdict::Retry { retry_after: None }
        );
        assert_eq!(verdict(Some(410), None), Verdict::Gone);
        let later = Some(Duration::from_secs(120));
        assert_eq!(
            verdict(Some(429), later),
            Verdict::Retry { retry_after: later }
        );
        assert_eq!(
            verdict(Some(503), later),
            Verdict::Retry { retry_after: later }
        );
        assert_eq!(
            verdict(Some(500), later),
            Verdict::Retry { retry_after: None }
        );
        assert_eq!(verdict(Some(404), None), Verdict::Rejected);
        assert_eq!(verdict(None, None), Verdict::Retry { retry_after: None });
    }

    #[test]
    fn the_schedule_runs_out_after_seven_attempts() {
        let mut rng = StdRng::seed_from_u64(9);
        let first = next_delay(1, None, &mut rng).unwrap();
        assert!(first >= Duration::from_millis(4500) && first <= Duration::from_millis(5500));
        let last = next_delay(6, None, &mut rng).unwrap();
        assert!(last >= Duration::from_secs(54 * 60) && last <= Duration::from_secs(66 * 60));
        assert_eq!(next_delay(7, None, &mut rng), None);
        assert_eq!(next_delay(0, None, &mut rng), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_an_hour() {
        let mut rng = StdRng::seed_from_u64(2);
        let asked = next_delay(1, Some(Duration::from_secs(90)), &mut rng).unwrap();
        assert_eq!(asked, Duration::from_secs(90));
        let capped = next_delay(1, Some(Duration::from_secs(86_400)), &mut rng).unwrap();
        assert_eq!(capped, MAX_RETRY_AFTER);
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
