//! The bearer-token check. Only a SHA-256 digest of the configured token is kept, and digests
//! are compared in constant time, so neither memory dumps nor timing reveal the token.

use http::HeaderMap;
use http::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Who may call the task endpoint.
pub(crate) struct BearerCheck {
    /// The digest of the expected token; `None` lets every request through.
    expected: Option<[u8; 32]>,
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl BearerCheck {
    pub(crate) fn new(token: Option<&SecretString>) -> Self {
        Self {
            expected: token.map(|token| digest(token.expose_secret().as_bytes())),
        }
    }

    /// Whether the request's `Authorization: Bearer <token>` header carries the right token.
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.expected else {
            return true;
        };
        let Some(value) = headers.get(AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let Some((scheme, token)) = value.split_at_checked(6) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") || token.first() != Some(&b' ') {
            return false;
        }
        let token = token.trim_ascii();
        let presented = digest(token);
        // Every byte is compared whatever the earlier ones were.
        let difference = presented
            .iter()
            .zip(expected)
            .fold(0, |acc, (a, b)| acc | (a ^ b));
        difference == 0
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        headers
    }

    #[test]
    fn only_the_right_bearer_token_is_allowed() {
        let check = BearerCheck::new(Some(&SecretString::from("s3cret")));
        assert!(check.allows(&headers("Bearer s3cret")));
        assert!(check.allows(&headers("bearer s3cret")));
        assert!(!check.allows(&headers("Bearer s3cret2")));
        assert!(!check.allows(&headers("Bearer")));
        assert!(!check.allows(&headers("Basic s3cret")));
        assert!(!check.allows(&headers("Bearers3cret")));
        assert!(!check.allows(&HeaderMap::new()));
    }

    #[test]
    fn without_a_token_every_request_is_allowed() {
        assert!(BearerCheck::new(None).allows(&HeaderMap::new()));
    }
}
