//! One [`Window`] per picture, for every instance: the shell around the sharing rule. A request
//! takes its picture's lock, is served the window's capture if there is one, or asks OBS and
//! keeps the answer; requests that arrive during a capture wait on the lock and are served its
//! bytes. Failures are kept for the window too, so that an OBS that refuses is not asked once
//! per viewer.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Instant,
};

use sha2::{Digest, Sha256};

use super::{
    capture::Screenshot,
    window::{period, Window},
};
use crate::obs::CommandError;

/// A captured image, shared by every request of its window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub bytes: Arc<Vec<u8>>,
    /// A strong ETag (quoted) from the bytes, so equal pictures of different windows match.
    pub etag: String,
}

impl Picture {
    pub fn new(bytes: Vec<u8>) -> Self {
        let digest = Sha256::digest(&bytes);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        );
        Self {
            bytes: Arc::new(bytes),
            etag,
        }
    }
}

/// Which picture: an instance and what is asked of OBS (source, format, size, quality).
pub type Key = (String, Screenshot);

type Capture = Result<Picture, CommandError>;
type Slot = Arc<tokio::sync::Mutex<Window<Capture>>>;

/// Past this many pictures, windows that have passed are forgotten (clients choose sizes, so
/// keys are not bounded by the configuration).
const PRUNE_ABOVE: usize = 256;

pub struct Captures {
    period: std::time::Duration,
    slots: Mutex<HashMap<Key, Slot>>,
}

impl Captures {
    pub fn new(captures_per_second: u32) -> Self {
        Self {
            period: period(captures_per_second),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The picture for `key`: this window's capture, or the one `capture` makes now.
    pub async fn get<F>(&self, key: Key, capture: impl FnOnce() -> F) -> Capture
    where
        F: Future<Output = Result<Vec<u8>, CommandError>>,
    {
        let slot = self.slot(key);
        let mut window = slot.lock().await;
        let asked_at = Instant::now();
        if let Some(shared) = window.current(asked_at) {
            return shared.clone();
        }
        let captured = capture().await.map(Picture::new);
        window.record(asked_at, captured.clone());
        captured
    }

    fn slot(&self, key: Key) -> Slot {
        // A poisoned map only means a panic elsewhere mid-insert; the map itself is whole.
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots.len() > PRUNE_ABOVE {
            let now = Instant::now();
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |window| !window.expired(now))
            });
        }
        slots
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Window::new(self.period))))
            .clone()
    }
}
