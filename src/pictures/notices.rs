//! "Picture updated": the pictures' producer on the lossy channel (`status::lossy`).
//!
//! While a picture topic (`picture:program`, `picture:source/Cam?width=320`...) has a watcher,
//! the producer asks for that picture every `1 / max_captures_per_second` through the shared
//! captures ([`super::cache`]), so OBS is asked no more often than by HTTP viewers, and the
//! captures of watchers and viewers of the same picture are one. When the bytes change (a new
//! ETag) it publishes a small notice, never the image:
//!
//! ```json
//! {"type":"notice","instance":"default","topic":"picture:program",
//!  "data":{"etag":"\"5f1c…\"","url":"/api/instances/default/screenshot/program?exp=…&sig=…",
//!          "expires_at":"…"}}
//! ```
//!
//! `url` is a signed URL (see `http::signed_url`) that loads exactly that picture without the
//! API token, so a page can put it in an `<img>`. The notice is repeated with a fresh `url`
//! (same `etag`) once half its life is gone, so the latest notice, which a new watcher gets at
//! once, always carries a URL that works. A picture that cannot be had is announced once, as
//! `{"error": code, "message": ..}` (e.g. `studio_mode_off`, `obs_not_connected`).
//!
//! [`Announcement`] and [`due`] are the pure rule; [`PictureNotices`] the actor shell.

use std::{collections::HashMap, time::Duration};

use actix::prelude::*;
use actix_web::web;
use serde_json::json;

use super::{
    cache::Captures,
    names::{self, Picture},
    routes::{picture_of, sign, PictureQuery},
    window::period,
};
use crate::{
    http::{signed_url::MAX_AGE_SECS, AppState},
    status::lossy::{LossyHub, Publish, RegisterProducer, TopicKey, WatchChanged},
};

/// What was last announced of a picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Announcement {
    Picture {
        etag: String,
        at: i64,
    },
    Failed {
        error: &'static str,
        message: String,
    },
}

/// Whether `next` must be announced after `last` at `now` (unix seconds): new bytes, a new
/// failure, or the last URL past half its life.
pub fn due(last: Option<&Announcement>, next: &Announcement, now: i64) -> bool {
    match (last, next) {
        (
            Some(Announcement::Picture { etag: last, at }),
            Announcement::Picture { etag: next, .. },
        ) => last != next || now - at >= MAX_AGE_SECS / 2,
        (last, next) => last != Some(next),
    }
}

struct Watched {
    picture: Picture,
    query: PictureQuery,
    timer: SpawnHandle,
    /// A capture is under way: the next tick does not start another.
    busy: bool,
    last: Option<Announcement>,
}

/// The producer of the `picture` family.
pub struct PictureNotices {
    state: web::Data<AppState>,
    /// The same shared captures the picture routes serve from.
    captures: web::Data<Captures>,
    hub: Addr<LossyHub>,
    watched: HashMap<TopicKey, Watched>,
}

impl PictureNotices {
    pub fn new(
        state: web::Data<AppState>,
        captures: web::Data<Captures>,
        hub: Addr<LossyHub>,
    ) -> Self {
        Self {
            state,
            captures,
            hub,
            watched: HashMap::new(),
        }
    }

    fn tick(&mut self, key: TopicKey, ctx: &mut Context<Self>) {
        let Some(watched) = self.watched.get_mut(&key) else {
            return;
        };
        if watched.busy {
            return;
        }
        watched.busy = true;
        let (picture, query) = (watched.picture.clone(), watched.query);
        let (state, captures) = (self.state.clone(), self.captures.clone());
        let instance = key.instance.clone();
        let capture =
            async move { picture_of(&state, &captures, &instance, &picture, query).await };
        ctx.spawn(capture.into_actor(self).map(move |result, producer, _| {
            producer.captured(key, result.map(|picture| picture.etag))
        }));
    }

    fn captured(&mut self, key: TopicKey, result: Result<String, crate::error::ApiError>) {
        let Some(watched) = self.watched.get_mut(&key) else {
            return; // nobody watches any more
        };
        watched.busy = false;
        let now = chrono::Utc::now().timestamp();
        let next = match result {
            Ok(etag) => Announcement::Picture { etag, at: now },
            Err(error) => Announcement::Failed {
                error: error.code(),
                message: error.to_string(),
            },
        };
        if !due(watched.last.as_ref(), &next, now) {
            return;
        }
        let data = match &next {
            Announcement::Picture { etag, .. } => {
                let expires_at = now + MAX_AGE_SECS;
                json!({
                    "etag": etag,
                    "url": sign(&self.state, &key.instance, &watched.picture, watched.query, expires_at),
                    "expires_at": chrono::DateTime::from_timestamp(expires_at, 0),
                })
            }
            Announcement::Failed { error, message } => {
                json!({ "error": error, "message": message })
            }
        };
        watched.last = Some(next);
        self.hub.do_send(Publish { key, data });
    }
}

impl Actor for PictureNotices {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.hub.do_send(RegisterProducer {
            family: names::FAMILY,
            check: names::check_topic,
            producer: ctx.address().recipient(),
        });
    }
}

impl Handler<WatchChanged> for PictureNotices {
    type Result = ();

    fn handle(&mut self, change: WatchChanged, ctx: &mut Self::Context) {
        if !change.watched {
            if let Some(watched) = self.watched.remove(&change.key) {
                ctx.cancel_future(watched.timer);
            }
            return;
        }
        // The hub checked the topic; a topic that still does not parse is ignored.
        let Ok((picture, query)) = names::parse_topic(&change.key.topic) else {
            return;
        };
        let every: Duration = period(self.state.settings.pictures.max_captures_per_second);
        let key = change.key;
        let timer = ctx.run_interval(every, {
            let key = key.clone();
            move |producer, ctx| producer.tick(key.clone(), ctx)
        });
        self.watched.insert(
            key.clone(),
            Watched {
                picture,
                query,
                timer,
                busy: false,
                last: None,
            },
        );
        self.tick(key, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(etag: &str, at: i64) -> Announcement {
        Announcement::Picture {
            etag: etag.into(),
            at,
        }
    }

    #[test]
    fn new_bytes_are_announced_the_same_bytes_are_not() {
        assert!(due(None, &picture("a", 0), 0));
        assert!(!due(Some(&picture("a", 0)), &picture("a", 10), 10));
        assert!(due(Some(&picture("a", 0)), &picture("b", 10), 10));
    }

    #[test]
    fn the_same_bytes_are_announced_again_with_a_fresh_url_at_half_its_life() {
        let half = MAX_AGE_SECS / 2;
        assert!(!due(
            Some(&picture("a", 0)),
            &picture("a", half - 1),
            half - 1
        ));
        assert!(due(Some(&picture("a", 0)), &picture("a", half), half));
    }

    #[test]
    fn a_failure_is_announced_once_and_a_recovery_at_once() {
        let failed = Announcement::Failed {
            error: "studio_mode_off",
            message: "no preview".into(),
        };
        assert!(due(Some(&picture("a", 0)), &failed, 1));
        assert!(!due(Some(&failed), &failed.clone(), 500));
        assert!(due(Some(&failed), &picture("a", 2), 2));
    }
}
