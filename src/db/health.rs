//! How persistence is doing, as `GET /api/obs-manager/status/` shows it. The recorder updates
//! it after every batch; readers copy it under a short lock (it never waits on the database).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersistenceState {
    /// The last write succeeded.
    Ok,
    /// Writes fail (full disk, read-only file, locked database...): events wait in memory and
    /// are retried; live status is not affected.
    Degraded,
    /// Started without a database (`OBS_HUB_DATABASE=none`).
    Disabled,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct PersistenceReport {
    pub state: PersistenceState,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// Events accepted but not yet committed (buffered or being retried).
    pub pending_events: u64,
    /// Events committed since the hub started.
    pub written_events: u64,
    /// Write attempts (batches or pruning) that failed.
    pub failed_writes: u64,
    /// Events given up because too many were waiting for a failing database.
    pub dropped_events: u64,
}

/// A change of state worth one log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Degraded(String),
    /// Still degraded, but failing differently.
    ErrorChanged(String),
    Recovered,
}

impl PersistenceReport {
    fn new(state: PersistenceState) -> Self {
        Self {
            state,
            last_error: None,
            last_error_at: None,
            pending_events: 0,
            written_events: 0,
            failed_writes: 0,
            dropped_events: 0,
        }
    }

    pub fn batch_written(&mut self, events: u64) -> Option<Transition> {
        self.written_events += events;
        let recovered = self.state == PersistenceState::Degraded;
        self.state = PersistenceState::Ok;
        recovered.then_some(Transition::Recovered)
    }

    pub fn write_failed(&mut self, error: String, now: DateTime<Utc>) -> Option<Transition> {
        self.failed_writes += 1;
        self.last_error_at = Some(now);
        let transition = match self.state {
            PersistenceState::Degraded if self.last_error.as_deref() == Some(error.as_str()) => {
                None
            }
            PersistenceState::Degraded => Some(Transition::ErrorChanged(error.clone())),
            _ => Some(Transition::Degraded(error.clone())),
        };
        self.state = PersistenceState::Degraded;
        self.last_error = Some(error);
        transition
    }
}

/// The shared cell (cheap to clone).
#[derive(Clone, Debug)]
pub struct PersistenceHealth(Arc<Mutex<PersistenceReport>>);

impl PersistenceHealth {
    pub fn new(enabled: bool) -> Self {
        let state = if enabled {
            PersistenceState::Ok
        } else {
            PersistenceState::Disabled
        };
        Self(Arc::new(Mutex::new(PersistenceReport::new(state))))
    }

    pub fn report(&self) -> PersistenceReport {
        // A poisoned lock only means an updater panicked between two plain field writes.
        match self.0.lock() {
            Ok(report) => report.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut PersistenceReport) -> T) -> T {
        match self.0.lock() {
            Ok(mut report) => change(&mut report),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transition_per_state_change_not_per_failure() {
        let health = PersistenceHealth::new(true);
        let now = Utc::now();
        let fail = |error: &str| health.update(|r| r.write_failed(error.into(), now));
        assert_eq!(
            fail("database is locked"),
            Some(Transition::Degraded("database is locked".into()))
        );
        assert_eq!(fail("database is locked"), None);
        assert_eq!(
            fail("database or disk is full"),
            Some(Transition::ErrorChanged("database or disk is full".into()))
        );
        assert_eq!(
            health.update(|r| r.batch_written(10)),
            Some(Transition::Recovered)
        );
        assert_eq!(health.update(|r| r.batch_written(5)), None);
        let report = health.report();
        assert_eq!(report.state, PersistenceState::Ok);
        assert_eq!(report.failed_writes, 3);
        assert_eq!(report.written_events, 15);
        assert_eq!(
            report.last_error.as_deref(),
            Some("database or disk is full")
        );
        assert_eq!(
            PersistenceHealth::new(false).report().state,
            PersistenceState::Disabled
        );
    }
}
