//! The sharing rule for one picture: a capture is reused for a window of `1 / N` seconds from
//! the moment it was asked of OBS, so OBS is asked at most N times a second however many
//! viewers there are, and never while nobody asks.

use std::time::{Duration, Instant};

/// The window of a rate of `captures_per_second` (at least 1).
pub fn period(captures_per_second: u32) -> Duration {
    Duration::from_secs(1) / captures_per_second.max(1)
}

/// The last capture of one picture and when it was asked of OBS.
#[derive(Debug)]
pub struct Window<T> {
    period: Duration,
    last: Option<(Instant, T)>,
}

impl<T> Window<T> {
    pub fn new(period: Duration) -> Self {
        Self { period, last: None }
    }

    /// The capture every request at `now` shares, if the window it opened is still running.
    pub fn current(&self, now: Instant) -> Option<&T> {
        self.last
            .as_ref()
            .filter(|(at, _)| now.saturating_duration_since(*at) < self.period)
            .map(|(_, capture)| capture)
    }

    /// Keeps a capture asked of OBS at `asked_at` (its start, so that a slow OBS does not
    /// stretch the rate past N a second).
    pub fn record(&mut self, asked_at: Instant, capture: T) {
        self.last = Some((asked_at, capture));
    }

    /// True when this window can be forgotten: no capture, or one whose window has passed.
    pub fn expired(&self, now: Instant) -> bool {
        self.current(now).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_a_second_divided_by_the_rate() {
        assert_eq!(period(2), Duration::from_millis(500));
        assert_eq!(period(0), Duration::from_secs(1));
    }

    #[test]
    fn a_capture_is_shared_for_one_period_from_when_it_was_asked() {
        let start = Instant::now();
        let mut window = Window::new(Duration::from_millis(500));
        assert_eq!(
            window.current(start),
            None,
            "nothing before the first capture"
        );
        assert!(window.expired(start));
        window.record(start, "first");
        assert_eq!(window.current(start), Some(&"first"));
        assert_eq!(
            window.current(start + Duration::from_millis(499)),
            Some(&"first")
        );
        assert_eq!(window.current(start + Duration::from_millis(500)), None);
        assert!(window.expired(start + Duration::from_millis(500)));
        window.record(start + Duration::from_millis(600), "second");
        assert_eq!(
            window.current(start + Duration::from_millis(700)),
            Some(&"second")
        );
    }

    #[test]
    fn a_clock_read_before_the_capture_still_shares_it() {
        let start = Instant::now();
        let mut window = Window::new(Duration::from_millis(500));
        window.record(start + Duration::from_millis(10), 1);
        assert_eq!(window.current(start), Some(&1));
    }
}
