//! What the shared tier needs to know: where Redis is (a secret), how keys are named, and how
//! long it may take; plus the one redacted form of the URL that may be printed.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

/// The default `--redis-key-prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "alumio-gateway:v1:";

/// Longest accepted key prefix; Redis keys stay short so every command stays cheap.
const MAX_PREFIX_LEN: usize = 128;

/// How to reach Redis and use it.
#[derive(Clone)]
pub struct SharedTierSettings {
    /// One `redis://`/`rediss://` URL, or several comma-separated cluster seeds. It may hold a
    /// password, so it is never printed; [`SharedTierSettings::redacted_urls`] is.
    pub urls: SecretString,
    /// Whether the seeds are a Redis Cluster.
    pub cluster: bool,
    /// Put before every key, so several fleets can share one Redis.
    pub key_prefix: String,
    /// Longest any one Redis command may take before it counts as failed.
    pub command_timeout: Duration,
    /// How long a won lease holds: the longest a fetch may take, plus a margin.
    pub lease_ttl: Duration,
    /// How long past freshness a value is kept for stale-if-error and stale-while-revalidate.
    pub keep_stale_for: Duration,
    /// Largest body a value may carry (`--upstream-max-body`); a larger one is refused.
    pub max_body: usize,
}

impl fmt::Debug for SharedTierSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTierSettings")
            .field("urls", &self.redacted_urls())
            .field("cluster", &self.cluster)
            .field("key_prefix", &self.key_prefix)
            .field("command_timeout", &self.command_timeout)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

/// Why the Redis settings cannot be used. The messages never contain the URL's secret parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The URL list is empty or a URL cannot be read.
    #[error("{0}")]
    Url(String),
    /// The key prefix is unusable.
    #[error("{0}")]
    Prefix(&'static str),
}

impl SharedTierSettings {
    /// The seed URLs, one per comma-separated item.
    pub(crate) fn url_list(&self) -> Vec<String> {
        self.urls
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The URLs with user names and passwords replaced, for logs and `/readyz`.
    pub fn redacted_urls(&self) -> String {
        self.url_list()
            .iter()
            .map(|url| redact_url(url))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Checks the URLs and the prefix without ever quoting a URL's secret parts.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let urls = self.url_list();
        if urls.is_empty() {
            return Err(SettingsError::Url("names no Redis URL".into()));
        }
        if urls.len() > 1 && !self.cluster {
            return Err(SettingsError::Url(
                "names several URLs; add --redis-cluster if they are seeds of one Redis Cluster"
                    .into(),
            ));
        }
        for url in &urls {
            let parsed = url::Url::parse(url).map_err(|error| {
                SettingsError::Url(format!("{} is not a URL: {error}", redact_url(url)))
            })?;
            if !matches!(parsed.scheme(), "redis" | "rediss") {
                return Err(SettingsError::Url(format!(
                    "{} must start with redis:// or rediss://",
                    redact_url(url)
                )));
            }
            if let Err(error) = redis::IntoConnectionInfo::into_connection_info(url.as_str()) {
                // The driver's message is about the URL's shape; its kind alone is safe.
                return Err(SettingsError::Url(format!(
                    "{} cannot be used: {:?}",
                    redact_url(url),
                    error.kind()
                )));
            }
        }
        validate_prefix(&self.key_prefix)
    }
}

/// A prefix may not hold braces, which would change the cluster hash tags of every key, nor
/// spaces or control characters, which make keys hard to type in `redis-cli` and ACL rules.
pub(super) fn validate_prefix(prefix: &str) -> Result<(), SettingsError> {
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(SettingsError::Prefix("must be at most 128 bytes"));
    }
    if prefix.contains(['{', '}']) {
        return Err(SettingsError::Prefix(
            "must not contain '{' or '}', which Redis Cluster reads as a hash tag",
        ));
    }
    if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SettingsError::Prefix(
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// `redis://user:***@host:port/db`: the password (and a user name alone, which with the
/// default user is the password) replaced; anything unparseable becomes `redis://***`.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "redis://***".into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    } else if !parsed.username().is_empty() {
        let _ = parsed.set_username("***");
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(urls: &str, cluster: bool) -> SharedTierSettings {
        SharedTierSettings {
            urls: SecretString::from(urls.to_owned()),
            cluster,
            key_prefix: DEFAULT_KEY_PREFIX.into(),
            command_timeout: Duration::from_millis(50),
            lease_ttl: Duration::from_secs(10),
            keep_stale_for: Duration::from_secs(60),
            max_body: 1024,
        }
    }

    #[test]
    fn the_password_never_survives_redaction() {
        let redacted = redact_url("rediss://gateway:hunter2@redis.internal:6380/3");
        assert_eq!(redacted, "rediss://gateway:***@redis.internal:6380/3");
        assert_eq!(
            redact_url("redis://:hunter2@h:1"),
            "redis://:***@h:1",
            "a password without a user"
        );
        assert!(!redact_url("redis://hunter2@h:1").contains("hunter2"));
        assert_eq!(redact_url("not a url hunter2"), "redis://***");
    }

    #[test]
    fn debug_and_errors_show_only_the_redacted_url() {
        let settings = settings("redis://u:hunter2@h:1,redis://u:hunter2@h:2", false);
        assert!(!format!("{settings:?}").contains("hunter2"));
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("--redis-cluster"), "{error}");
        let bad = self::settings("http://u:hunter2@h:1", false);
        let error = bad.validate().unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("redis://"), "{error}");
    }

    #[test]
    fn several_seeds_make_a_cluster() {
        let seeds = settings(" redis://a:1 , redis://b:2,", true);
        assert_eq!(seeds.url_list(), ["redis://a:1", "redis://b:2"]);
        assert_eq!(seeds.validate(), Ok(()));
        assert!(settings("", false).validate().is_err());
    }

    #[test]
    fn prefixes_that_would_break_hash_tags_are_refused() {
        assert!(validate_prefix(DEFAULT_KEY_PREFIX).is_ok());
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("fleet{a}:").is_err());
        assert!(validate_prefix("a b").is_err());
        assert!(validate_prefix(&"x".repeat(129)).is_err());
    }
}
