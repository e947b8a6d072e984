//! The hub's sense of time for what waits on the wall clock (rule schedules, held conditions,
//! delays between a rule's actions): one trait, so that tests drive time by hand instead of
//! sleeping. [`SharedClock`] is what settings carry: the system clock unless a test says
//! otherwise.

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// A boxed future answered by [`Clock::sleep_until`].
pub type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Tells the time and waits for a moment.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once [`Clock::now`] has reached `at` (at once if it has).
    fn sleep_until(&self, at: DateTime<Utc>) -> Wait;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Wait {
        let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to ([`ManualClock::advance`]); what sleeps on it wakes
/// when it is moved past their moment.
#[derive(Debug)]
pub struct ManualClock {
    time: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            time: watch::Sender::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.time.send_modify(|now| *now += by);
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.time.send_replace(at);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.time.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Wait {
        let mut time = self.time.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone nothing will move time again.
            let _ = time.wait_for(|now| *now >= at).await;
        })
    }
}

/// The clock settings hand to the parts that need one (cheap to clone).
#[derive(Clone)]
pub struct SharedClock(pub Arc<dyn Clock>);

impl SharedClock {
    pub fn manual(clock: Arc<ManualClock>) -> Self {
        Self(clock)
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self(Arc::new(SystemClock))
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedClock({})", self.0.now())
    }
}

impl std::ops::Deref for SharedClock {
    type Target = dyn Clock;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_only_once_moved_past_their_moment() {
        let start = DateTime::parse_from_rfc3339("2026-11-30T18:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ManualClock::new(start);
        let mut wait = clock.sleep_until(start + chrono::Duration::seconds(60));
        assert!(futures_util::poll!(&mut wait).is_pending());
        clock.advance(Duration::from_secs(59));
        assert!(futures_util::poll!(&mut wait).is_pending());
        clock.advance(Duration::from_secs(1));
        wait.await;
        assert_eq!(clock.now(), start + chrono::Duration::seconds(60));
    }
}
