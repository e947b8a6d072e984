//! Standard Webhooks signatures (https://www.standardwebhooks.com/): what obs-hub sends and what
//! it accepts on its callback endpoints.
//!
//! - secret: `whsec_` + base64 of the key bytes;
//! - headers: `webhook-id` (unique per message, the same on every retry), `webhook-timestamp`
//!   (unix seconds), `webhook-signature` = space-separated `v1,<base64 HMAC-SHA256>` entries;
//! - signed content: `{id}.{timestamp}.{body}`.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub use crate::secret::WEBHOOK_SECRET_PREFIX as SECRET_PREFIX;
use crate::secret::{webhook_key_bytes, Secret};

/// How far a callback's timestamp may be from now (replay protection).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A new random secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> Secret {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    Secret::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the webhook secret must be `whsec_` followed by base64")]
    MalformedSecret,
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    #[error("`webhook-timestamp` is not a unix time in seconds")]
    BadTimestamp,
    #[error("`webhook-timestamp` is more than 5 minutes away from now")]
    StaleTimestamp,
    #[error("`webhook-signature` has no `v1,<base64 of a SHA-256 MAC>` entry")]
    MalformedSignature,
    #[error("no `webhook-signature` entry matches")]
    Mismatch,
}

/// The key bytes of a secret (see [`webhook_key_bytes`]).
pub fn key_bytes(secret: &Secret) -> Result<Vec<u8>, SignatureError> {
    webhook_key_bytes(secret).ok_or(SignatureError::MalformedSecret)
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` header value for a message.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(key, id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(digest))
}

/// The `v1` MACs of a `webhook-signature` header that can be one (other entries are skipped:
/// the header may carry other schemes).
fn v1_macs(signatures: &str) -> impl Iterator<Item = Vec<u8>> + '_ {
    signatures.split_whitespace().filter_map(|entry| {
        let candidate = STANDARD.decode(entry.strip_prefix("v1,")?).ok()?;
        (candidate.len() == MAC_BYTES).then_some(candidate)
    })
}

const MAC_BYTES: usize = 32;

/// Signature headers that passed [`check_headers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signatures: &'a str,
}

/// What can be checked before the body is in: every header present, the timestamp within
/// tolerance of `now`, and at least one well-formed `v1` entry. A callback failing this is
/// refused without reading its body.
pub fn check_headers<'a>(
    id: Option<&'a str>,
    timestamp: Option<&str>,
    signatures: Option<&'a str>,
    now: i64,
) -> Result<SignatureHeaders<'a>, SignatureError> {
    let id = id
        .filter(|id| !id.trim().is_empty())
        .ok_or(SignatureError::MissingHeader("webhook-id"))?;
    let timestamp_text = timestamp.ok_or(SignatureError::MissingHeader("webhook-timestamp"))?;
    let signatures = signatures.ok_or(SignatureError::MissingHeader("webhook-signature"))?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::StaleTimestamp);
    }
    if v1_macs(signatures).next().is_none() {
        return Err(SignatureError::MalformedSignature);
    }
    Ok(SignatureHeaders {
        id,
        timestamp,
        signatures,
    })
}

/// Checks a received message: [`check_headers`], and one `v1` signature matching (compared in
/// constant time).
pub fn verify(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let headers = check_headers(id, timestamp, signatures, now)?;
    let expected = mac(key, headers.id, headers.timestamp, body)
        .finalize()
        .into_bytes();
    let mut matched = subtle::Choice::from(0);
    for candidate in v1_macs(headers.signatures) {
        matched |= candidate.as_slice().ct_eq(expected.as_slice());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification and its reference libraries.
    #[test]
    fn matches_the_specification_example() {
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let key = key_bytes(&secret).unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        verify(
            &key,
            Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
            Some("1614265330"),
            Some(&format!("v1,bm90LXRoaXM= {signature}")),
            body,
            1614265330 + 10,
        )
        .unwrap();
    }

    #[test]
    fn rejects_tampering_staleness_and_missing_headers() {
        let key = key_bytes(&generate_secret()).unwrap();
        assert_eq!(key.len(), 32);
        let signature = sign(&key, "msg_1", 1000, b"{}");
        let check =
            |id, ts, sig: Option<&str>, body: &[u8], now| verify(&key, id, ts, sig, body, now);
        assert_eq!(
            check(Some("msg_1"), Some("1000"), Some(&signature), b"{}", 1000),
            Ok(())
        );
        assert_eq!(
            check(Some("msg_1"), Some("1000"), Some(&signature), b"{ }", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(Some("msg_2"), Some("1000"), Some(&signature), b"{}", 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(
                Some("msg_1"),
                Some("1000"),
                Some(&signature),
                b"{}",
                1000 + 301
            ),
            Err(SignatureError::StaleTimestamp)
        );
        assert_eq!(
            check(Some("msg_1"), Some("soon"), Some(&signature), b"{}", 1000),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(None, Some("1000"), Some(&signature), b"{}", 1000),
            Err(SignatureError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            key_bytes(&Secret::new("whsec_!!!")),
            Err(SignatureError::MalformedSecret)
        );
    }

    #[test]
    fn headers_are_checked_before_the_body() {
        let signature = sign(b"key", "msg_1", 1000, b"{}");
        assert_eq!(
            check_headers(Some("msg_1"), Some("1000"), Some(&signature), 1000)
                .map(|headers| headers.timestamp),
            Ok(1000)
        );
        for (id, timestamp, signatures, now, error) in [
            (
                None,
                Some("1000"),
                Some(signature.as_str()),
                1000,
                SignatureError::MissingHeader("webhook-id"),
            ),
            (
                Some(" "),
                Some("1000"),
                Some(&signature),
                1000,
                SignatureError::MissingHeader("webhook-id"),
            ),
            (
                Some("msg_1"),
                None,
                Some(&signature),
                1000,
                SignatureError::MissingHeader("webhook-timestamp"),
            ),
            (
                Some("msg_1"),
                Some("1000"),
                None,
                1000,
                SignatureError::MissingHeader("webhook-signature"),
            ),
            (
                Some("msg_1"),
                Some("x"),
                Some(&signature),
                1000,
                SignatureError::BadTimestamp,
            ),
            (
                Some("msg_1"),
                Some("1000"),
                Some(&signature),
                1000 - 301,
                SignatureError::StaleTimestamp,
            ),
            (
                Some("msg_1"),
                Some("1000"),
                Some("v1,bm90LXRoaXM="),
                1000,
                SignatureError::MalformedSignature,
            ),
            (
                Some("msg_1"),
                Some("1000"),
                Some("v2,abc garbage"),
                1000,
                SignatureError::MalformedSignature,
            ),
        ] {
            assert_eq!(
                check_headers(id, timestamp, signatures, now).map(|headers| headers.id),
                Err(error)
            );
        }
    }
}
