//! Secrets (OBS passwords, API tokens, webhook secrets): a [`Secret`] never prints, and
//! [`token_matches`] compares a presented token with the configured ones in constant time.
//! A leaf: everything that holds or checks a secret uses it, and it uses nothing of ours.

use std::fmt;

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
}
