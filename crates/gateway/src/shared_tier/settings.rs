//! What the shared tier needs to know: where Redis is (a secret), how keys are named, and how
//! long it may take; plus the one redacted form of the URL that may be printed.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::{ConfigError, Settings, read_secret_file};

/// The margin a fetch lease holds beyond the longest a fetch may take.
const LEASE_MARGIN: Duration = Duration::from_secs(1);

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
    Prefix(String),
}

impl SharedTierSettings {
    /// The shared tier `settings` ask for, reading `--redis-url-file` if given; `None` without
    /// a Redis URL. The lease holds for the longest one fetch may take (a wait for an upstream
    /// slot, every attempt, the connection) plus a margin.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, ConfigError> {
        let urls = match (&settings.redis_url, &settings.redis_url_file) {
            (Some(urls), _) => urls.clone(),
            (None, Some(path)) => read_secret_file(path, "--redis-url-file")?,
            (None, None) => return Ok(None),
        };
        let longest_fetch = settings.upstream_queue_timeout
            + settings.upstream_timeout * settings.upstream_attempts
            + settings.upstream_connect_timeout;
        let shared = Self {
            urls,
            cluster: settings.redis_cluster,
            key_prefix: settings.redis_key_prefix.clone(),
            command_timeout: settings.redis_command_timeout,
            lease_ttl: longest_fetch + LEASE_MARGIN,
            keep_stale_for: settings.stale_if_error.max(settings.stale_while_revalidate),
            max_body: usize::try_from(settings.upstream_max_body).unwrap_or(usize::MAX),
        };
        shared.validate().map_err(|error| ConfigError::Invalid {
            setting: match error {
                SettingsError::Prefix(_) => "--redis-key-prefix",
                SettingsError::Url(_) => "--redis-url",
            },
            reason: error.to_string(),
        })?;
        Ok(Some(shared))
    }

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

    /// `message` (a driver error, say) with every URL's password and user name replaced, in
    /// case the driver ever quotes them.
    pub(crate) fn redact_message(&self, message: &str) -> String {
        let mut redacted = message.to_owned();
        for url in self.url_list() {
            redacted = redacted.replace(&url, &redact_url(&url));
            if let Ok(parsed) = url::Url::parse(&url) {
                let secrets = [parsed.password().unwrap_or_default(), parsed.username()];
                for secret in secrets.into_iter().filter(|secret| !secret.is_empty()) {
                    redacted = redacted.replace(secret, "***");
                }
            }
        }
        redacted
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
            if parsed.fragment().is_some() {
                return Err(SettingsError::Url(format!(
                    "{} has a #fragment; none is accepted (TLS certificates are always verified)",
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

/// The prefix rule is `--redis-key-prefix`'s own, so settings built in code obey it too.
fn validate_prefix(prefix: &str) -> Result<(), SettingsError> {
    crate::config::redis_key_prefix(prefix)
        .map(drop)
        .map_err(SettingsError::Prefix)
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
    use std::io::Write as _;

    use super::*;

    fn load(args: &[&str]) -> Result<Option<SharedTierSettings>, ConfigError> {
        let settings =
            Settings::load(std::iter::once("alumio-gateway").chain(args.iter().copied()))?;
        SharedTierSettings::from_settings(&settings)
    }

    #[test]
    fn without_a_redis_url_there_is_no_shared_tier() {
        assert!(load(&["--demo"]).unwrap().is_none());
        let settings = Settings::load(["alumio-gateway", "--demo"]).unwrap();
        assert_eq!(settings.redis_key_prefix, "alumio-gateway:v1:");
        assert_eq!(settings.redis_command_timeout, Duration::from_millis(50));
    }

    #[test]
    fn the_redis_url_is_read_from_its_file_and_the_lease_outlasts_a_fetch() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "redis://gateway:hunter2@127.0.0.1:6379/2").unwrap();
        let path = file.path().to_str().unwrap();
        let shared = load(&["--demo", "--redis-url-file", path])
            .unwrap()
            .unwrap();
        assert_eq!(
            shared.url_list(),
            ["redis://gateway:hunter2@127.0.0.1:6379/2"]
        );
        assert_eq!(
            shared.redacted_urls(),
            "redis://gateway:***@127.0.0.1:6379/2"
        );
        // Queue timeout 2s + 2 attempts x 10s + connect 2s, plus the 1s margin.
        assert_eq!(shared.lease_ttl, Duration::from_secs(25));
        assert_eq!(shared.keep_stale_for, Duration::from_secs(3600));
    }

    #[test]
    fn a_bad_redis_url_is_refused_without_quoting_its_password() {
        for url in [
            "http://gateway:hunter2@h:1",
            "redis://gateway:hunter2@h:notaport",
        ] {
            let error = load(&["--demo", "--redis-url", url])
                .unwrap_err()
                .to_string();
            assert!(error.contains("--redis-url"), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
        let prefix = [
            "--demo",
            "--redis-url",
            "redis://h:1",
            "--redis-key-prefix",
            "a{b}",
        ];
        let error = load(&prefix).unwrap_err().to_string();
        assert!(error.contains("--redis-key-prefix"), "{error}");
    }

    fn settings(urls: &str, cluster: bool) -> SharedTierSettings {
        SharedTierSettings {
            urls: SecretString::from(urls.to_owned()),
            cluster,
            key_prefix: crate::config::DEFAULT_REDIS_KEY_PREFIX.into(),
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
        let insecure = self::settings("rediss://u:hunter2@h:1/#insecure", false);
        assert!(
            insecure
                .validate()
                .unwrap_err()
                .to_string()
                .contains("verified")
        );
        let bad = self::settings("http://u:hunter2@h:1", false);
        let error = bad.validate().unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("redis://"), "{error}");
    }

    #[test]
    fn driver_messages_lose_the_secrets_they_quote() {
        let settings = settings("redis://gateway:hunter2@h:1", false);
        let message = settings.redact_message("failed for redis://gateway:hunter2@h:1 (hunter2)");
        assert!(!message.contains("hunter2"), "{message}");
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
        assert!(validate_prefix(crate::config::DEFAULT_REDIS_KEY_PREFIX).is_ok());
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("fleet{a}:").is_err());
        assert!(validate_prefix("a b").is_err());
        assert!(validate_prefix(&"x".repeat(129)).is_err());
    }
}
