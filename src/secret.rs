//! Secrets (OBS passwords, API tokens, webhook secrets): a [`Secret`] never prints,
//! [`token_matches`] compares a presented token with the configured ones in constant time, and
//! [`webhook_key_bytes`] reads the Standard Webhooks form of a signing secret (`whsec_` + base64).
//! A leaf: everything that holds or checks a secret uses it, and it uses nothing of ours.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A value that must never be printed: OBS passwords, tokens and webhook secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value; grep for it to audit where secrets go.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// True when `presented` equals one of `tokens`. Both sides are hashed first so the comparison
/// takes the same time whatever the lengths, and every token is compared (no early exit), so
/// timing reveals neither which token nor how much of it matched.
pub fn token_matches(presented: &str, tokens: &[Secret]) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let mut matched = subtle::Choice::from(0);
    for token in tokens {
        matched |= Sha256::digest(token.expose().as_bytes()).ct_eq(&presented);
    }
    matched.into()
}

/// The prefix of a Standard Webhooks signing secret.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// Shortest key accepted for a given secret (Standard Webhooks recommends 24 to 64 bytes).
pub const MIN_WEBHOOK_KEY_BYTES: usize = 16;

/// The key bytes of a signing secret, None when it is not base64 or holds nothing. Secrets
/// without the prefix are taken as base64 too, as the official libraries do.
pub fn webhook_key_bytes(secret: &Secret) -> Option<Vec<u8>> {
    let encoded = secret
        .expose()
        .strip_prefix(WEBHOOK_SECRET_PREFIX)
        .unwrap_or(secret.expose());
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// A signing secret someone gave: Standard Webhooks form (`whsec_` + base64), long enough. The
/// error never repeats the value.
pub fn check_webhook_secret(secret: &Secret) -> Result<(), String> {
    let key = webhook_key_bytes(secret).ok_or_else(|| {
        format!(
            "must be `{WEBHOOK_SECRET_PREFIX}` followed by base64 (leave it out to get one \
             generated)"
        )
    })?;
    if key.len() < MIN_WEBHOOK_KEY_BYTES {
        return Err(format!(
            "must hold at least {MIN_WEBHOOK_KEY_BYTES} bytes of key (base64 of 24 to 64 random \
             bytes is usual)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_exactly() {
        let tokens = [Secret::new("alpha-token"), Secret::new("beta-token")];
        assert!(token_matches("alpha-token", &tokens));
        assert!(token_matches("beta-token", &tokens));
        assert!(!token_matches("alpha-toke", &tokens));
        assert!(!token_matches("alpha-token ", &tokens));
        assert!(!token_matches("", &tokens));
        assert!(!token_matches("anything", &[]));
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn webhook_secrets_must_be_standard_webhooks_keys_and_are_never_echoed() {
        let good = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert!(check_webhook_secret(&good).is_ok());
        assert_eq!(webhook_key_bytes(&good).map(|key| key.len()), Some(24));
        let short = Secret::new("whsec_c2hvcnQ=");
        assert!(check_webhook_secret(&short)
            .unwrap_err()
            .contains("16 bytes"));
        let garbage = Secret::new("my password!");
        let error = check_webhook_secret(&garbage).unwrap_err();
        assert!(!error.contains("my password"), "{error}");
        assert_eq!(webhook_key_bytes(&Secret::new("whsec_")), None);
    }
}
