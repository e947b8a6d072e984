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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::pictures::capture::Format;

    fn key(source: &str) -> Key {
        (
            "default".to_string(),
            Screenshot {
                source: source.to_string(),
                format: Format::Jpeg,
                width: None,
                height: None,
                quality: None,
            },
        )
    }

    #[actix_web::test]
    async fn concurrent_requests_share_the_one_capture_in_flight() {
        // Rate 1: a one-second window, far longer than this test's requests need.
        let captures = Captures::new(1);
        let asked = AtomicUsize::new(0);
        let (release, released) = tokio::sync::watch::channel(false);
        let requests = (0..100).map(|_| {
            captures.get(key("Scene"), || {
                let mut released = released.clone();
                let asked = &asked;
                async move {
                    asked.fetch_add(1, Ordering::SeqCst);
                    // Held until every request has been started below.
                    let _ = released.wait_for(|open| *open).await;
                    Ok(vec![1, 2, 3])
                }
            })
        });
        let all = futures_util::future::join_all(requests);
        let opened = async {
            release.send_replace(true);
        };
        let (answers, ()) = futures_util::join!(all, opened);
        assert_eq!(
            asked.load(Ordering::SeqCst),
            1,
            "one capture for 100 viewers"
        );
        let first = answers[0].clone().expect("a picture");
        assert!(answers.iter().all(|answer| answer.as_ref() == Ok(&first)));
        // Another picture is captured on its own.
        let other = captures
            .get(key("Live"), || async { Ok(vec![9]) })
            .await
            .expect("a picture");
        assert_ne!(other.etag, first.etag);
    }
}
