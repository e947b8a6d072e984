//! Reads OBS state through obws and converts it into the hub's own types.

use std::time::Duration;

use obws::{responses::StatusCode, Client};

use super::events::Translators;
use crate::status::{
    model::{ObsStats, SceneInfo},
    update::{PollReading, RecordReading, StreamReading},
};

/// OBS answers 207 NotReady for a moment after connecting; these are the retries we allow.
const NOT_READY_RETRIES: u32 = 10;
const NOT_READY_DELAY: Duration = Duration::from_millis(200);

/// The scene list in OBS's UI order (top first) and the current program scene.
pub async fn read_scenes(
    client: &Client,
) -> Result<(Vec<SceneInfo>, Option<String>), obws::error::Error> {
    let mut list = client.scenes().list().await?;
    // GetSceneList numbers scenes from the bottom of OBS's list; show them as OBS does.
    list.scenes
        .sort_by_key(|scene| std::cmp::Reverse(scene.index));
    let scenes = list
        .scenes
        .into_iter()
        .map(|scene| SceneInfo {
            name: scene.id.name,
            uuid: Some(scene.id.uuid.to_string()),
        })
        .collect();
    Ok((scenes, list.current_program_scene.map(|scene| scene.name)))
}

/// Stream, record, stats and current scene, then each capability's slice (replay buffer,
/// virtual camera, studio...): what the periodic poll reconciles.
pub async fn read_poll(
    client: &Client,
    capabilities: &Translators,
) -> Result<PollReading, obws::error::Error> {
    let stream = client.streaming().status().await?;
    let record = client.recording().status().await?;
    let stats = client.general().stats().await?;
    let current_scene = client.scenes().current_program_scene().await?;
    let mut reading = PollReading {
        current_scene: Some(current_scene.id.name),
        stream: StreamReading {
            active: stream.active,
            reconnecting: stream.reconnecting,
            timecode: format_timecode(stream.timecode),
            duration_ms: whole_millis(stream.duration),
            bytes: stream.bytes,
            skipped_frames: stream.skipped_frames,
            total_frames: stream.total_frames,
            congestion: f64::from(stream.congestion),
        },
        record: RecordReading {
            active: record.active,
            paused: record.paused,
            timecode: format_timecode(record.timecode),
            duration_ms: whole_millis(record.duration),
            bytes: record.bytes,
        },
        stats: ObsStats {
            cpu_usage: stats.cpu_usage,
            memory_usage_mb: stats.memory_usage,
            available_disk_space_mb: stats.available_disk_space,
            active_fps: stats.active_fps,
            average_frame_render_time_ms: stats.average_frame_render_time,
            render_skipped_frames: stats.render_skipped_frames,
            render_total_frames: stats.render_total_frames,
            output_skipped_frames: stats.output_skipped_frames,
            output_total_frames: stats.output_total_frames,
        },
        ..PollReading::default()
    };
    for read in capabilities.poll_readers() {
        read(client, &mut reading).await?;
    }
    Ok(reading)
}

/// Everything, read after (re)connecting, retrying while OBS says it is not ready yet.
pub async fn read_snapshot(
    client: &Client,
    capabilities: &Translators,
) -> Result<(Vec<SceneInfo>, PollReading), obws::error::Error> {
    let mut attempt = 0;
    loop {
        let result = async {
            let (scenes, _) = read_scenes(client).await?;
            let mut reading = read_poll(client, capabilities).await?;
            for read in capabilities.snapshot_readers() {
                read(client, &mut reading).await?;
            }
            Ok((scenes, reading))
        }
        .await;
        match result {
            Err(obws::error::Error::Api {
                code: StatusCode::NotReady,
                ..
            }) if attempt < NOT_READY_RETRIES => {
                attempt += 1;
                tokio::time::sleep(NOT_READY_DELAY).await;
            }
            other => return other,
        }
    }
}

fn whole_millis(duration: time::Duration) -> u64 {
    u64::try_from(duration.whole_milliseconds()).unwrap_or(0)
}

/// `HH:MM:SS.mmm`, the format OBS itself shows.
pub fn format_timecode(duration: time::Duration) -> String {
    let total_ms = whole_millis(duration);
    let (hours, rest) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);
    format!("{hours:02}:{minutes:02}:{seconds:02}.{millis:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecode_matches_obs_format() {
        assert_eq!(format_timecode(time::Duration::ZERO), "00:00:00.000");
        assert_eq!(
            format_timecode(time::Duration::milliseconds(3_723_045)),
            "01:02:03.045"
        );
        assert_eq!(
            format_timecode(time::Duration::milliseconds(-5)),
            "00:00:00.000"
        );
    }
}
