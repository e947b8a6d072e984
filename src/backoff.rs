//! Retry delays (OBS reconnects, history writes, webhook deliveries): exponential, capped, with
//! jitter. A leaf.

use std::time::Duration;

use rand::Rng;

/// Doubles from `min` to `max` per failed attempt. Each delay is drawn from the upper half of
/// the current step ("equal jitter"): hubs restarted together do not retry in lockstep, and a
/// delay never collapses to nothing.
#[derive(Clone, Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    step: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            step: 0,
        }
    }

    /// The ceiling of the next delay, before jitter.
    pub fn current_ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.step).unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }

    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self.current_ceiling();
        if ceiling < self.max {
            self.step += 1;
        }
        let half = ceiling / 2;
        half + half.mul_f64(rng.gen::<f64>())
    }

    pub fn reset(&mut self) {
        self.step = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn delays_double_up_to_the_cap_and_stay_within_jitter_bounds() {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let mut rng = StdRng::seed_from_u64(7);
        let ceilings = [250, 500, 1000, 2000, 4000, 5000, 5000, 5000];
        for ceiling in ceilings {
            let ceiling = Duration::from_millis(ceiling);
            assert_eq!(backoff.current_ceiling(), ceiling);
            let delay = backoff.next_delay(&mut rng);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{delay:?} vs {ceiling:?}"
            );
        }
    }

    #[test]
    fn reset_starts_over_and_jitter_varies() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..5 {
            backoff.next_delay(&mut rng);
        }
        backoff.reset();
        assert_eq!(backoff.current_ceiling(), Duration::from_millis(100));
        let mut capped = Backoff::new(Duration::from_secs(5), Duration::from_secs(5));
        let delays: Vec<_> = (0..10).map(|_| capped.next_delay(&mut rng)).collect();
        assert!(delays.windows(2).any(|pair| pair[0] != pair[1]));
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            assert!(backoff.next_delay(&mut rng) <= Duration::from_secs(5));
        }
    }
}
