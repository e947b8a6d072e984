//! One HTTP delivery attempt: the signed POST, bounded in time, and what it came to in words.
//! The engine decides what to send and what follows; this only sends.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use awc::http::header;
use chrono::Utc;

use crate::webhooks::{outbox::AttemptResult, schedule::parse_retry_after, signing};

/// Response bytes read at most (so the connection can be reused; never kept); more is not
/// waited for.
const RESPONSE_READ_LIMIT: usize = 64 * 1024;

/// One HTTP attempt: everything it needs, so the future owns its data.
pub(super) struct Attempt {
    pub client: awc::Client,
    pub url: String,
    pub key: Option<Arc<[u8]>>,
    pub id: Arc<str>,
    pub body: Arc<str>,
    pub timeout: Duration,
}

impl Attempt {
    pub async fn send(self) -> AttemptResult {
        let started = Instant::now();
        // Signed per attempt: receivers refuse timestamps older than 5 minutes.
        let timestamp = Utc::now().timestamp();
        let mut request = self
            .client
            .post(self.url.as_str())
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header(("webhook-id", &*self.id))
            .insert_header(("webhook-timestamp", timestamp.to_string()));
        if let Some(key) = &self.key {
            let signature = signing::sign(key, &self.id, timestamp, self.body.as_bytes());
            request = request.insert_header(("webhook-signature", signature));
        }
        let body = awc::body::BoxBody::new(self.body.as_bytes().to_vec());
        // awc bounds the time to the response head; this bounds the whole attempt.
        let outcome = actix::clock::timeout(self.timeout + Duration::from_secs(1), async {
            let mut response = request.send_body(body).await.map_err(describe_send_error)?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(parse_retry_after);
            // Read (bounded) so the connection can be reused, and dropped: what a receiver
            // answers is not ours to keep, nor to show through the delivery log.
            let _ = response.body().limit(RESPONSE_READ_LIMIT).await;
            Ok::<_, String>((status, retry_after))
        })
        .await;
        let latency = started.elapsed();
        match outcome {
            Ok(Ok((status, retry_after))) => AttemptResult {
                status: Some(status),
                retry_after,
                latency,
                error: (!(200..300).contains(&status)).then(|| describe_status(status)),
            },
            Ok(Err(error)) => AttemptResult {
                status: None,
                retry_after: None,
                latency,
                error: Some(error),
            },
            Err(_) => AttemptResult {
                status: None,
                retry_after: None,
                latency,
                error: Some(format!("no answer within {} s", self.timeout.as_secs_f32())),
            },
        }
    }
}

fn describe_send_error(error: awc::error::SendRequestError) -> String {
    use awc::error::SendRequestError;
    match error {
        SendRequestError::Timeout => "no answer within the timeout".to_string(),
        SendRequestError::Connect(error) => format!("cannot connect: {error}"),
        other => other.to_string(),
    }
}

/// A failed answer in words: its status code, the standard reason phrase and what redirects
/// mean here. Never the body, nor the receiver's own reason phrase: they are the receiver's
/// words, readable back through the delivery log by anyone with API access.
fn describe_status(status: u16) -> String {
    let reason = awc::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason());
    let mut text = match reason {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    };
    if (300..400).contains(&status) {
        text.push_str(" (redirects are not followed: give the final URL)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_answers_are_described_by_their_status_only() {
        assert_eq!(describe_status(500), "HTTP 500 Internal Server Error");
        assert_eq!(describe_status(599), "HTTP 599");
        assert!(describe_status(302).contains("redirects are not followed"));
    }
}
