//! Secrets as SHA-256 digests: a consumer key or admin token is hashed the moment it arrives,
//! only digests are kept, and digests are compared in constant time.

use std::fmt;

use http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::hex;

/// Shortest secret the gateway accepts as a consumer key (through `hash-key`) or admin token.
pub const MIN_SECRET_LEN: usize = 16;

/// Longest secret the gateway accepts; longer ones are refused rather than hashed.
pub const MAX_SECRET_LEN: usize = 1024;

/// The SHA-256 digest of a secret. Its `Debug` shows nothing of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// The digest of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        Self(Sha256::digest(secret).into())
    }

    /// A digest from its 64 hexadecimal digits (either case).
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
        }
        Some(Self(bytes))
    }

    /// The digest as 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Whether both digests are equal, taking the same time wherever they differ.
    pub fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest(..)")
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Why a secret is not acceptable, in words that never include the secret.
pub(crate) fn secret_problem(secret: &[u8]) -> Option<String> {
    if secret.len() < MIN_SECRET_LEN {
        Some(format!("is shorter than {MIN_SECRET_LEN} bytes"))
    } else if secret.len() > MAX_SECRET_LEN {
        Some(format!("is longer than {MAX_SECRET_LEN} bytes"))
    } else if !secret.iter().all(u8::is_ascii_graphic) {
        Some("must be visible ASCII characters without spaces, to fit in a header".into())
    } else {
        None
    }
}

/// The digest of the request's `Authorization: Bearer <secret>`, or `None` when it carries no
/// usable bearer secret. The scheme is matched without regard to case, as HTTP requires.
pub(crate) fn bearer_digest(headers: &HeaderMap) -> Option<SecretDigest> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let secret = rest.trim_ascii();
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return None;
    }
    Some(SecretDigest::of(secret))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn a_digest_round_trips_through_hex() {
        let digest = SecretDigest::of(b"abc");
        assert_eq!(
            digest.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(SecretDigest::from_hex(&digest.to_hex()), Some(digest));
        assert_eq!(
            SecretDigest::from_hex(&digest.to_hex().to_uppercase()),
            Some(digest)
        );
    }

    #[test]
    fn malformed_hex_is_refused() {
        assert_eq!(SecretDigest::from_hex("abc"), None);
        assert_eq!(SecretDigest::from_hex(&"g".repeat(64)), None);
        assert_eq!(SecretDigest::from_hex(&"é".repeat(32)), None);
    }

    #[test]
    fn debug_output_hides_the_digest() {
        let digest = SecretDigest::of(b"abc");
        assert_eq!(format!("{digest:?}"), "SecretDigest(..)");
    }

    #[test]
    fn only_a_bearer_secret_is_read() {
        let digest_of = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            bearer_digest(&headers)
        };
        let expected = Some(SecretDigest::of(b"key-1234567890abcdef"));
        assert_eq!(digest_of("Bearer key-1234567890abcdef"), expected);
        assert_eq!(digest_of("bearer  key-1234567890abcdef "), expected);
        assert_eq!(digest_of("Basic key-1234567890abcdef"), None);
        assert_eq!(digest_of("Bearer"), None);
        assert_eq!(digest_of("Bearer "), None);
        assert_eq!(bearer_digest(&HeaderMap::new()), None);
    }

    #[test]
    fn short_long_and_spaced_secrets_are_refused() {
        assert!(secret_problem(b"short").is_some());
        assert!(secret_problem(&[b'a'; MAX_SECRET_LEN + 1]).is_some());
        assert!(secret_problem(b"has a space in the middle").is_some());
        assert!(secret_problem(b"a-perfectly-fine-key").is_none());
    }
}
