//! One password throttle per OBS: however many links the hub opens to one OBS (the status link
//! and the hub's own session, or two instance names for the same address), a refused password is
//! tried again by all of them together at most once per retry interval (a minute by default),
//! because each refused login pops an alert on the OBS machine.
//!
//! Keyed by `host:port` as configured. Links to one OBS log in one at a time through its gate,
//! which holds when that OBS last refused a password: a link that finds a refusal younger than
//! the interval fails at once without asking OBS; a successful login clears it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// When one OBS last refused a password (None: not since the last good login).
pub type Gate = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// The gates, one per OBS address: one throttle per hub, held by its connection supervisor and
/// shared by every connection it starts.
#[derive(Debug, Default)]
pub struct AuthThrottle {
    gates: Mutex<HashMap<String, Gate>>,
}

impl AuthThrottle {
    /// The gate of the OBS at `key` (see [`key`]).
    pub fn gate(&self, key: &str) -> Gate {
        self.gates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

/// None: a link may try to log in now. Some(wait): OBS refused a password less than `interval`
/// before `now`; the next try is due after `wait`.
pub fn wait_left(
    refused_at: Option<Instant>,
    interval: Duration,
    now: Instant,
) -> Option<Duration> {
    let since = now.saturating_duration_since(refused_at?);
    (since < interval).then(|| interval - since)
}

/// The throttle's key for an OBS.
pub fn key(host: &str, port: u16) -> String {
    format!("{}:{port}", host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_quiets_an_obs_for_one_interval() {
        let start = Instant::now();
        let minute = Duration::from_secs(60);
        assert_eq!(wait_left(None, minute, start), None, "never refused");
        let later = start + Duration::from_secs(20);
        assert_eq!(
            wait_left(Some(start), minute, later),
            Some(Duration::from_secs(40))
        );
        assert_eq!(wait_left(Some(start), minute, start + minute), None);
    }

    #[test]
    fn one_gate_per_obs_address() {
        let throttle = AuthThrottle::default();
        let a = throttle.gate(&key("LocalHost", 4455));
        assert!(Arc::ptr_eq(&a, &throttle.gate(&key("localhost", 4455))));
        assert!(!Arc::ptr_eq(&a, &throttle.gate(&key("localhost", 4456))));
    }
}
