//! The last ten minutes of figures per instance, kept in memory so a page shows full charts the
//! moment it opens (`GET /api/stats/history`).
//!
//! [`StatsRecorder`] subscribes to the status manager and keeps a sample per `stats_updated`
//! change; handlers read [`StatsHistory`] directly (a lock held for a copy), never an actor.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use actix::prelude::*;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::status::{Change, ChangeEvent, StatusChanged};

/// How far back the history goes.
pub const WINDOW_SECONDS: i64 = 600;
/// Samples kept per instance at most, whatever the poll interval (10 minutes at 4 a second).
const MAX_SAMPLES: usize = 2400;

/// One poll's figures.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct StatsSample {
    pub at: DateTime<Utc>,
    pub stream_active: bool,
    pub stream_kbits_per_sec: f64,
    pub stream_skipped_frames: u32,
    pub stream_total_frames: u32,
    pub stream_congestion: f64,
    pub record_active: bool,
    pub record_bytes: u64,
    pub cpu_usage: Option<f64>,
    pub memory_usage_mb: Option<f64>,
    pub available_disk_space_mb: Option<f64>,
    pub active_fps: Option<f64>,
    pub average_frame_render_time_ms: Option<f64>,
    pub render_skipped_frames: Option<u32>,
    pub output_skipped_frames: Option<u32>,
}

/// The sample a change carries, if it is a stats update.
pub fn sample_of(event: &ChangeEvent) -> Option<StatsSample> {
    let Change::StatsUpdated {
        stats,
        stream,
        record,
    } = &event.change
    else {
        return None;
    };
    Some(StatsSample {
        at: event.at,
        stream_active: stream.active,
        stream_kbits_per_sec: stream.kbits_per_sec,
        stream_skipped_frames: stream.skipped_frames,
        stream_total_frames: stream.total_frames,
        stream_congestion: stream.congestion,
        record_active: record.active,
        record_bytes: record.bytes,
        cpu_usage: stats.as_ref().map(|s| s.cpu_usage),
        memory_usage_mb: stats.as_ref().map(|s| s.memory_usage_mb),
        available_disk_space_mb: stats.as_ref().map(|s| s.available_disk_space_mb),
        active_fps: stats.as_ref().map(|s| s.active_fps),
        average_frame_render_time_ms: stats.as_ref().map(|s| s.average_frame_render_time_ms),
        render_skipped_frames: stats.as_ref().map(|s| s.render_skipped_frames),
        output_skipped_frames: stats.as_ref().map(|s| s.output_skipped_frames),
    })
}

/// The samples of every instance, shared between the recorder and the handlers.
#[derive(Clone, Debug, Default)]
pub struct StatsHistory {
    samples: Arc<Mutex<BTreeMap<String, VecDeque<StatsSample>>>>,
}

impl StatsHistory {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, VecDeque<StatsSample>>) -> R) -> R {
        // A poisoned lock means a panic mid-push of a sample: the data is still sound.
        let mut guard = match self.samples.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Adds a sample and forgets those older than the window.
    pub fn record(&self, instance: &str, sample: StatsSample) {
        let oldest = sample.at - Duration::seconds(WINDOW_SECONDS);
        self.with(|all| {
            let samples = all.entry(instance.to_string()).or_default();
            samples.push_back(sample);
            while samples
                .front()
                .is_some_and(|first| first.at < oldest || samples.len() > MAX_SAMPLES)
            {
                samples.pop_front();
            }
        });
    }

    /// The samples of the last ten minutes before `now`, oldest first.
    pub fn recent(&self, instance: &str, now: DateTime<Utc>) -> Vec<StatsSample> {
        let oldest = now - Duration::seconds(WINDOW_SECONDS);
        self.with(|all| {
            all.get(instance)
                .map(|samples| {
                    samples
                        .iter()
                        .filter(|sample| sample.at >= oldest)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

/// Keeps [`StatsHistory`] fed from the status manager's changes.
pub struct StatsRecorder {
    history: StatsHistory,
}

impl StatsRecorder {
    pub fn new(history: StatsHistory) -> Self {
        Self { history }
    }
}

impl Actor for StatsRecorder {
    type Context = Context<Self>;
}

impl Handler<StatusChanged> for StatsRecorder {
    type Result = ();

    fn handle(&mut self, event: StatusChanged, _: &mut Self::Context) {
        if let Some(sample) = sample_of(&event) {
            self.history.record(&event.instance, sample);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{
        model::{ObsStats, RecordFigures, StreamFigures},
        update::Source,
    };

    fn stats_event(at: DateTime<Utc>, kbps: f64) -> ChangeEvent {
        ChangeEvent {
            cluster: None,
            seq: 1,
            instance: "studio".into(),
            at,
            source: Source::Poll,
            change: Change::StatsUpdated {
                stats: Some(ObsStats {
                    active_fps: 30.0,
                    ..ObsStats::default()
                }),
                stream: StreamFigures {
                    active: true,
                    kbits_per_sec: kbps,
                    ..StreamFigures::default()
                },
                record: RecordFigures::default(),
            },
        }
    }

    #[test]
    fn keeps_ten_minutes_per_instance_oldest_first() {
        let history = StatsHistory::default();
        let start = Utc::now();
        for second in 0..700 {
            let event = stats_event(start + Duration::seconds(second), second as f64);
            history.record("studio", sample_of(&event).unwrap());
        }
        let now = start + Duration::seconds(699);
        let samples = history.recent("studio", now);
        assert_eq!(samples.len(), 601, "the last 600 s, both ends included");
        assert_eq!(samples[0].stream_kbits_per_sec, 99.0);
        assert_eq!(samples[600].stream_kbits_per_sec, 699.0);
        assert_eq!(samples[0].active_fps, Some(30.0));
        assert!(history.recent("booth", now).is_empty());
        // Read later without new samples: the window moves on.
        let later = history.recent("studio", now + Duration::seconds(300));
        assert_eq!(later.len(), 301);
    }

    #[test]
    fn only_stats_changes_make_samples() {
        let mut event = stats_event(Utc::now(), 1.0);
        event.change = Change::SceneListChanged {
            scenes: vec![],
            scene_details: vec![],
        };
        assert!(sample_of(&event).is_none());
    }
}
