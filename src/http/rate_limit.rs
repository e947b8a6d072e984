//! Rate limits on commands, per token (issue 19): a token bucket each, so that one runaway
//! script cannot flood OBS. Reads are not limited: they are answered from the hub's cache and
//! never reach OBS.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// One token's allowance: `level` requests may go now; it refills at `rate` per second up to
/// `burst`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    pub fn full(burst: u32, now: Instant) -> Self {
        Self {
            level: f64::from(burst),
            at: now,
        }
    }

    /// Takes one request's worth, or answers how long until one is there.
    pub fn take(&mut self, rate: u32, burst: u32, now: Instant) -> Result<(), Duration> {
        let rate = f64::from(rate.max(1));
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.level = (self.level + elapsed * rate).min(f64::from(burst.max(1)));
        self.at = now;
        if self.level >= 1.0 {
            self.level -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.level) / rate))
        }
    }
}

/// Every token's bucket. `rate` 0 turns the limit off.
pub struct RateLimits {
    rate: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimits {
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate,
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// One command of `who`: Ok, or the whole seconds to wait (at least 1) for `Retry-After`.
    pub fn check(&self, who: &str, now: Instant) -> Result<(), u64> {
        if self.rate == 0 {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets
            .entry(who.to_string())
            .or_insert_with(|| Bucket::full(self.burst, now));
        bucket
            .take(self.rate, self.burst, now)
            .map_err(|wait| wait.as_secs_f64().ceil().max(1.0) as u64)
    }

    /// Forgets a revoked token's bucket.
    pub fn forget(&self, who: &str) {
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.remove(who);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_goes_then_the_rate_refills() {
        let start = Instant::now();
        let mut bucket = Bucket::full(3, start);
        for _ in 0..3 {
            assert_eq!(bucket.take(2, 3, start), Ok(()));
        }
        let wait = bucket.take(2, 3, start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Half a second later, one more at 2 per second.
        let later = start + Duration::from_millis(500);
        assert_eq!(bucket.take(2, 3, later), Ok(()));
        assert!(bucket.take(2, 3, later).is_err());
        // Long idle refills only up to the burst.
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(bucket.take(2, 3, much_later), Ok(()));
        }
        assert!(bucket.take(2, 3, much_later).is_err());
    }

    #[test]
    fn tokens_have_their_own_buckets_and_zero_turns_the_limit_off() {
        let now = Instant::now();
        let limits = RateLimits::new(1, 1);
        assert_eq!(limits.check("token:a", now), Ok(()));
        assert_eq!(limits.check("token:a", now), Err(1));
        assert_eq!(limits.check("token:b", now), Ok(()));
        limits.forget("token:a");
        assert_eq!(limits.check("token:a", now), Ok(()));
        let off = RateLimits::new(0, 1);
        for _ in 0..100 {
            assert_eq!(off.check("token:a", now), Ok(()));
        }
    }
}
