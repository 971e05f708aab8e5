//! Configuration: every setting is a flag, an environment variable and a key of the optional
//! TOML file, with precedence flag > environment > file > default.

mod byte_size;
mod file;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use secrecy::SecretString;

use byte_size::{parse_byte_size, parse_duration};

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

/// `alumio-gateway`: a caching gateway in front of Alumio's task API.
///
/// Every setting can also be given as an environment variable (shown below) or as a key of the
/// `--config` TOML file named like the flag without dashes (`ttl-active = "30s"`). Precedence:
/// flag, then environment, then file, then default. The Alumio API token is read from
/// `--token-file` or the ALUMIO_API_TOKEN environment variable, never from a flag or the file.
#[derive(Debug, Clone, Parser)]
#[command(name = "alumio-gateway", version, about, long_about = None)]
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
    #[arg(long, env = "GATEWAY_DEMO")]
    pub demo: bool,

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
    #[arg(long, env = "GATEWAY_CACHE_MAX_BYTES", default_value = "256MiB", value_parser = parse_byte_size)]
    pub cache_max_bytes: u64,

    /// Longest wait for a connection to Alumio.
    #[arg(long, env = "GATEWAY_UPSTREAM_CONNECT_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub upstream_connect_timeout: Duration,

    /// Longest wait for one attempt at an Alumio request.
    #[arg(long, env = "GATEWAY_UPSTREAM_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub upstream_timeout: Duration,

    /// Attempts per Alumio request (1 = no retries); retries only on timeouts, connection
    /// errors, 429 and 502-504.
    #[arg(long, env = "GATEWAY_UPSTREAM_ATTEMPTS", default_value = "2")]
    pub upstream_attempts: u32,

    /// Largest Alumio reply body accepted; a larger one is a 502 and is not cached.
    #[arg(long, env = "GATEWAY_UPSTREAM_MAX_BODY", default_value = "8MiB", value_parser = parse_byte_size)]
    pub upstream_max_body: u64,

    /// Longest a consumer's request may take before the gateway answers 504.
    #[arg(long, env = "GATEWAY_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "GATEWAY_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

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

    fn check(&self) -> Result<(), ConfigError> {
        let positive = |setting: &'static str, value: Duration| {
            if value.is_zero() {
                Err(ConfigError::Invalid {
                    setting,
                    reason: "must be more than zero".into(),
                })
            } else {
                Ok(())
            }
        };
        positive("--upstream-connect-timeout", self.upstream_connect_timeout)?;
        positive("--upstream-timeout", self.upstream_timeout)?;
        positive("--request-timeout", self.request_timeout)?;
        if self.upstream_attempts == 0 || self.upstream_attempts > 10 {
            return Err(ConfigError::Invalid {
                setting: "--upstream-attempts",
                reason: "must be from 1 to 10".into(),
            });
        }
        if self.cache_max_bytes < 1024 * 1024 {
            return Err(ConfigError::Invalid {
                setting: "--cache-max-bytes",
                reason: "must be at least 1MiB".into(),
            });
        }
        if usize::try_from(self.upstream_max_body).is_err() {
            return Err(ConfigError::Invalid {
                setting: "--upstream-max-body",
                reason: "is larger than this machine can hold".into(),
            });
        }
        if self.demo && self.upstream.is_some() {
            return Err(ConfigError::Invalid {
                setting: "--demo",
                reason: "cannot be combined with --upstream".into(),
            });
        }
        Ok(())
    }

    /// Resolves where answers come from, reading the token from its file or the environment.
    pub fn upstream_choice(&self) -> Result<UpstreamChoice, ConfigError> {
        if self.demo {
            return Ok(UpstreamChoice::Demo);
        }
        let url = self.upstream.clone().ok_or(ConfigError::Invalid {
            setting: "--upstream",
            reason: "is required (or ALUMIO_URL), unless --demo is given".into(),
        })?;
        let token = match &self.token_file {
            Some(path) => read_token_file(path)?,
            None => std::env::var("ALUMIO_API_TOKEN").map_err(|_| ConfigError::Invalid {
                setting: "--token-file",
                reason: "no Alumio API token: give --token-file or set ALUMIO_API_TOKEN".into(),
            })?,
        };
        if token.trim().is_empty() {
            return Err(ConfigError::Invalid {
                setting: "--token-file",
                reason: "the Alumio API token is empty".into(),
            });
        }
        Ok(UpstreamChoice::Alumio {
            url,
            token: SecretString::from(token.trim().to_owned()),
        })
    }
}

fn read_token_file(path: &std::path::Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Invalid {
        setting: "--token-file",
        // The path is the operator's own; the error names only the I/O failure, never content.
        reason: format!("cannot read {}: {}", path.display(), error.kind()),
    })?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests;
