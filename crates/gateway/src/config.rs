//! Configuration: every setting is a flag, an environment variable and a key of the optional
//! TOML file, with precedence flag > environment > file > default.

mod bounds;
mod byte_size;
mod file;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

pub(crate) use bounds::redis_key_prefix;
use bounds::{
    at_least_one, body_bytes, cache_bytes, header_bytes, positive_duration, positive_rate,
    redis_command_timeout,
};
use byte_size::parse_duration;

/// The default `--redis-key-prefix`: the gateway's name and the version of its key layout.
pub const DEFAULT_REDIS_KEY_PREFIX: &str = "alumio-gateway:v1:";

/// Why the configuration could not be used; start-up stops with this as its one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting has a value the gateway cannot use.
    #[error("invalid setting {setting}: {reason}")]
    Invalid {
        /// The setting's flag name.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The configuration file could not be read or has unknown or malformed keys.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The command line itself is wrong (or asked for help or the version).
    #[error(transparent)]
    CommandLine(#[from] clap::Error),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Whether the gateway puts its heap on transparent huge pages (`huge_pages.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HugePages {
    /// When the kernel hands out huge pages only on request and the libc is glibc: ask.
    Auto,
    /// Leave the heap on the kernel's default pages.
    Off,
}

/// Points to the one subcommand, which `main` runs before reading any setting.
const HASH_KEY_HELP: &str = "To add a consumer: `alumio-gateway hash-key --generate` (or pipe a key to `alumio-gateway hash-key`) prints its key-sha256 line for the --consumers file.";

/// `alumio-gateway`: a caching gateway in front of Alumio's task API.
///
/// Every setting can also be given as an environment variable (shown below) or as a key of the
/// `--config` TOML file named like the flag without dashes (`ttl-active = "30s"`). Precedence:
/// flag, then environment, then file, then default. The Alumio API token is read from
/// `--token-file` or the ALUMIO_API_TOKEN environment variable, never from a flag or the file.
#[derive(Debug, Clone, Parser)]
#[command(name = "alumio-gateway", version, about, long_about = None, after_help = HASH_KEY_HELP)]
pub struct Settings {
    /// TOML file with settings; flags and environment variables win over it.
    #[arg(long, env = "GATEWAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to serve consumers on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Alumio's API base URL, such as https://acme.alumio.com/api/v1.
    #[arg(long, env = "ALUMIO_URL", value_name = "URL")]
    pub upstream: Option<String>,

    /// File whose first line is the Alumio API token (else ALUMIO_API_TOKEN is read).
    #[arg(long, env = "GATEWAY_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Run against a built-in simulated Alumio; no account needed.
    // Hidden rather than absent without the `demo` feature, so that asking a production build
    // for the demo gets an answer that says why there is none.
    #[arg(long, env = "GATEWAY_DEMO", hide = cfg!(not(feature = "demo")))]
    pub demo: bool,

    /// TOML file of consumers: the SHA-256 of each key, its spaces and rate; reloaded on
    /// SIGHUP or change. Without it the gateway needs --allow-anonymous (not --demo on loopback).
    #[arg(long, env = "GATEWAY_CONSUMERS", value_name = "FILE")]
    pub consumers: Option<PathBuf>,

    /// Serve anyone without a consumer key; a warning is logged beyond loopback.
    #[arg(long, env = "GATEWAY_ALLOW_ANONYMOUS")]
    pub allow_anonymous: bool,

    /// Address of the admin API (cache purges and statistics); off unless given. Keep it on
    /// loopback or a private network.
    #[arg(long, env = "GATEWAY_ADMIN_LISTEN", value_name = "ADDR")]
    pub admin_listen: Option<SocketAddr>,

    /// File whose first line is the admin API's bearer token; required with --admin-listen.
    #[arg(long, env = "GATEWAY_ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Serve /metrics on the admin listener, behind the admin token, instead of to consumers.
    #[arg(long, env = "GATEWAY_METRICS_ON_ADMIN")]
    pub metrics_on_admin: bool,

    /// How long tasks still moving (new, processing, retry, waiting, unknown) stay fresh.
    #[arg(long, env = "GATEWAY_TTL_ACTIVE", default_value = "10s", value_parser = parse_duration)]
    pub ttl_active: Duration,

    /// How long settled tasks (finished, failed, resolved, skipped, killed) stay fresh.
    #[arg(long, env = "GATEWAY_TTL_SETTLED", default_value = "5m", value_parser = parse_duration)]
    pub ttl_settled: Duration,

    /// How long Alumio's 404s stay fresh.
    #[arg(long, env = "GATEWAY_TTL_NOT_FOUND", default_value = "5s", value_parser = parse_duration)]
    pub ttl_not_found: Duration,

    /// Most bytes the cache holds, bodies and bookkeeping included.
    #[arg(long, env = "GATEWAY_CACHE_MAX_BYTES", default_value = "256MiB", value_parser = cache_bytes)]
    pub cache_max_bytes: u64,

    /// Longest wait for a connection to Alumio.
    #[arg(long, env = "GATEWAY_UPSTREAM_CONNECT_TIMEOUT", default_value = "2s", value_parser = positive_duration)]
    pub upstream_connect_timeout: Duration,

    /// Longest wait for one attempt at an Alumio request.
    #[arg(long, env = "GATEWAY_UPSTREAM_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub upstream_timeout: Duration,

    /// Attempts per Alumio request (1 = no retries); retries only on timeouts, connection
    /// errors, 429 and 502-504.
    #[arg(long, env = "GATEWAY_UPSTREAM_ATTEMPTS", default_value = "2", value_parser = clap::value_parser!(u32).range(1..=10))]
    pub upstream_attempts: u32,

    /// Largest Alumio reply body accepted; a larger one is a 502 and is not cached.
    #[arg(long, env = "GATEWAY_UPSTREAM_MAX_BODY", default_value = "8MiB", value_parser = body_bytes)]
    pub upstream_max_body: u64,

    /// Longest a consumer's request may take before the gateway answers 504.
    #[arg(long, env = "GATEWAY_REQUEST_TIMEOUT", default_value = "30s", value_parser = positive_duration)]
    pub request_timeout: Duration,

    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "GATEWAY_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Most consumer connections open at once; past it a new connection gets a 503.
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS", default_value = "10000", value_parser = at_least_one)]
    pub max_connections: usize,

    /// Longest a consumer may take to send a request head; also how long an idle
    /// keep-alive connection stays open.
    #[arg(long, env = "GATEWAY_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = positive_duration)]
    pub header_read_timeout: Duration,

    /// Largest request head (request line and headers) accepted; a larger one gets a 431.
    #[arg(long, env = "GATEWAY_MAX_HEADER_BYTES", default_value = "16KiB", value_parser = header_bytes)]
    pub max_header_bytes: u64,

    /// How long past its freshness a cached answer may still be served when Alumio fails.
    #[arg(long, env = "GATEWAY_STALE_IF_ERROR", default_value = "1h", value_parser = parse_duration)]
    pub stale_if_error: Duration,

    /// How long past its freshness a cached answer is served at once while one background
    /// request refreshes it.
    #[arg(long, env = "GATEWAY_STALE_WHILE_REVALIDATE", default_value = "10s", value_parser = parse_duration)]
    pub stale_while_revalidate: Duration,

    /// After a failed fetch, how long the key is left alone at first (doubling per failure).
    #[arg(long, env = "GATEWAY_UPSTREAM_FAILURE_BACKOFF", default_value = "1s", value_parser = parse_duration)]
    pub upstream_failure_backoff: Duration,

    /// The longest a failing key is left alone.
    #[arg(long, env = "GATEWAY_UPSTREAM_FAILURE_BACKOFF_MAX", default_value = "30s", value_parser = parse_duration)]
    pub upstream_failure_backoff_max: Duration,

    /// Consecutive upstream failures that open the circuit breaker.
    #[arg(long, env = "GATEWAY_BREAKER_FAILURES", default_value = "5", value_parser = clap::value_parser!(u32).range(1..))]
    pub breaker_failures: u32,

    /// How long the open breaker refuses requests before one probe is let through.
    #[arg(long, env = "GATEWAY_BREAKER_COOL_DOWN", default_value = "10s", value_parser = positive_duration)]
    pub breaker_cool_down: Duration,

    /// Most requests in flight to Alumio at once.
    #[arg(long, env = "GATEWAY_UPSTREAM_MAX_CONCURRENCY", default_value = "32", value_parser = at_least_one)]
    pub upstream_max_concurrency: usize,

    /// Most requests per second to Alumio (unlimited when not given).
    #[arg(long, env = "GATEWAY_UPSTREAM_RATE", value_name = "PER_SECOND", value_parser = positive_rate)]
    pub upstream_rate: Option<f64>,

    /// Most fetches waiting for an upstream slot; more are answered 503 at once.
    #[arg(long, env = "GATEWAY_UPSTREAM_MAX_QUEUE", default_value = "1024")]
    pub upstream_max_queue: usize,

    /// Longest a fetch waits for an upstream slot before it is answered 503.
    #[arg(long, env = "GATEWAY_UPSTREAM_QUEUE_TIMEOUT", default_value = "2s", value_parser = positive_duration)]
    pub upstream_queue_timeout: Duration,

    /// Threads serving requests (default: one per CPU core the process may use).
    #[arg(long, env = "GATEWAY_WORKER_THREADS", value_name = "N", value_parser = at_least_one)]
    pub worker_threads: Option<usize>,

    /// Transparent huge pages for the heap: `auto` restarts the process once with glibc's
    /// huge-page tunables when the kernel's THP mode is `madvise`; `off` leaves the heap alone.
    #[arg(long, env = "GATEWAY_HUGE_PAGES", value_enum, default_value = "auto")]
    pub huge_pages: HugePages,

    /// Redis (or Valkey) of the shared tier: redis:// or rediss:// (TLS), with user, password
    /// and database number; several comma-separated seeds with --redis-cluster. Without it each
    /// replica caches alone. A secret: never printed, and better given by --redis-url-file.
    #[arg(
        long,
        env = "GATEWAY_REDIS_URL",
        value_name = "URL",
        hide_env_values = true,
        hide_default_value = true,
        value_parser = parse_secret,
        conflicts_with = "redis_url_file"
    )]
    pub redis_url: Option<SecretString>,

    /// File whose first line is the --redis-url value.
    #[arg(long, env = "GATEWAY_REDIS_URL_FILE", value_name = "FILE")]
    pub redis_url_file: Option<PathBuf>,

    /// The Redis URLs are seeds of one Redis Cluster.
    #[arg(long, env = "GATEWAY_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// Put before every Redis key, so several fleets can share one Redis.
    #[arg(long, env = "GATEWAY_REDIS_KEY_PREFIX", default_value = DEFAULT_REDIS_KEY_PREFIX, value_parser = redis_key_prefix)]
    pub redis_key_prefix: String,

    /// Longest one Redis command may take; past it the request goes on local-only, so this
    /// bounds what Redis trouble can add to any request.
    #[arg(long, env = "GATEWAY_REDIS_COMMAND_TIMEOUT", default_value = "50ms", value_parser = redis_command_timeout)]
    pub redis_command_timeout: Duration,

    /// Log line format; the level comes from RUST_LOG (default info).
    #[arg(long, env = "GATEWAY_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

/// Where the gateway gets its answers.
pub enum UpstreamChoice {
    /// A real Alumio.
    Alumio {
        /// API base URL.
        url: String,
        /// The gateway's API token.
        token: SecretString,
    },
    /// The built-in simulator.
    #[cfg(feature = "demo")]
    Demo,
}

impl Settings {
    /// Reads settings from `args` (the first is the program name), the process environment and
    /// the `--config` file, then checks them.
    pub fn load<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut command = Self::command();
        // A first, forgiving pass only to learn where the config file is.
        let config_path = command
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(&args)
            .ok()
            .and_then(|matches| matches.get_one::<PathBuf>("config").cloned());
        if let Some(path) = &config_path {
            command = file::apply_file_defaults(command, path)?;
        }
        let matches = command.try_get_matches_from(&args)?;
        let settings = Self::from_arg_matches(&matches)?;
        settings.check()?;
        Ok(settings)
    }

    /// The rules that span several settings; each setting's own bounds are its value parser's.
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &'static str, reason: &str| {
            Err(ConfigError::Invalid {
                setting,
                reason: reason.into(),
            })
        };
        if self.upstream_failure_backoff > self.upstream_failure_backoff_max {
            return invalid(
                "--upstream-failure-backoff",
                "must not exceed --upstream-failure-backoff-max",
            );
        }
        if self.demo && self.upstream.is_some() {
            return invalid("--demo", "cannot be combined with --upstream");
        }
        if self.consumers.is_some() && self.allow_anonymous {
            return invalid("--allow-anonymous", "cannot be combined with --consumers");
        }
        if self.admin_listen.is_some() && self.admin_token_file.is_none() {
            return invalid("--admin-token-file", "is required with --admin-listen");
        }
        if self.metrics_on_admin && self.admin_listen.is_none() {
            return invalid("--metrics-on-admin", "needs --admin-listen");
        }
        if let Some(admin) = self.admin_listen
            && admin.port() != 0
            && admin == self.listen
        {
            return invalid("--admin-listen", "must differ from --listen");
        }
        // The URL itself is checked when the shared tier is built from these settings, in
        // words that never quote it.
        if self.redis_cluster && self.redis_url.is_none() && self.redis_url_file.is_none() {
            return invalid("--redis-cluster", "needs --redis-url or --redis-url-file");
        }
        Ok(())
    }

    /// Resolves where answers come from, reading the token from its file or the environment.
    pub fn upstream_choice(&self) -> Result<UpstreamChoice, ConfigError> {
        if self.demo {
            #[cfg(feature = "demo")]
            return Ok(UpstreamChoice::Demo);
            #[cfg(not(feature = "demo"))]
            return Err(ConfigError::Invalid {
                setting: "--demo",
                reason: "this gateway was built without the simulator (cargo feature `demo`)"
                    .into(),
            });
        }
        let url = self.upstream.clone().ok_or(ConfigError::Invalid {
            setting: "--upstream",
            reason: UPSTREAM_REQUIRED.into(),
        })?;
        let token = match &self.token_file {
            Some(path) => read_secret_file(path, "--token-file")?,
            None => match std::env::var("ALUMIO_API_TOKEN") {
                Ok(token) => SecretString::from(token.trim()),
                Err(_) => {
                    return Err(ConfigError::Invalid {
                        setting: "--token-file",
                        reason: "no Alumio API token: give --token-file or set ALUMIO_API_TOKEN"
                            .into(),
                    });
                }
            },
        };
        if token.expose_secret().is_empty() {
            return Err(ConfigError::Invalid {
                setting: "--token-file",
                reason: "the Alumio API token is empty".into(),
            });
        }
        Ok(UpstreamChoice::Alumio { url, token })
    }
}

/// Any text is taken as given; checking it happens later, in words that never quote it.
fn parse_secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.to_owned()))
}

/// Why `--upstream` is needed, naming the way around it when this build has one.
const UPSTREAM_REQUIRED: &str = if cfg!(feature = "demo") {
    "is required (or ALUMIO_URL), unless --demo is given"
} else {
    "is required (or ALUMIO_URL)"
};

/// The secret on the first line of the file at `path`, without surrounding whitespace; an
/// unreadable file is an error naming `setting`. The error names only the I/O failure, never
/// the content.
pub(crate) fn read_secret_file(
    path: &Path,
    setting: &'static str,
) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Invalid {
        setting,
        reason: format!("cannot read {}: {}", path.display(), error.kind()),
    })?;
    Ok(SecretString::from(
        text.lines().next().unwrap_or_default().trim(),
    ))
}

#[cfg(test)]
mod tests;
