//! `ConsumerRegistry`: the consumers file in force, swapped whole when the file changes or on
//! SIGHUP. Requests keep the version they started with, so a reload drops none of them, and an
//! invalid file leaves the previous version in force.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::consumers::{Consumer, Consumers};
use super::digest::SecretDigest;
use super::metrics::AccessMetrics;
use crate::config::ConfigError;

/// Largest consumers file read.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// How often the watcher looks at the file when the binary runs it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// The file is the same as last time it was read; nothing changed.
    Unchanged,
    /// A new version is in force, with this many consumers.
    Applied(usize),
}

/// What the file looked like last time it was read, applied or not, so that a broken file is
/// reported once rather than at every look.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LastRead {
    Content([u8; 32]),
    Unreadable(std::io::ErrorKind),
}

/// The consumers in force, and where they come from. Every request reads them, without a
/// lock: a reload swaps the whole set atomically (`arc-swap`), and readers never wait on it.
pub struct ConsumerRegistry {
    path: PathBuf,
    current: ArcSwap<Consumers>,
    last_read: Mutex<Option<LastRead>>,
}

impl std::fmt::Debug for ConsumerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerRegistry")
            .field("path", &self.path)
            .field("consumers", &self.current().len())
            .finish()
    }
}

impl ConsumerRegistry {
    /// Reads the consumers file at `path`; an unreadable or invalid file is an error.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        let registry = Self {
            path: path.into(),
            current: ArcSwap::from_pointee(Consumers::default()),
            last_read: Mutex::new(None),
        };
        registry.reload()?;
        Ok(registry)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The consumers in force now.
    pub fn current(&self) -> Arc<Consumers> {
        self.current.load_full()
    }

    /// The consumer in force whose key has `digest`: the request path's lookup, which takes
    /// neither a lock nor a reference to the whole set.
    pub(crate) fn find(&self, digest: &SecretDigest) -> Option<Arc<Consumer>> {
        self.current.load().find(digest).cloned()
    }

    /// Reads the file again and puts it in force, even when it did not change. On error the
    /// consumers in force stay.
    pub fn reload(&self) -> Result<Reloaded, ConfigError> {
        self.read_and_apply(true)
    }

    /// Reads the file again and puts it in force if it changed since it was last read. A file
    /// that is still the same broken one is `Unchanged`, so it is reported once.
    pub fn reload_if_changed(&self) -> Result<Reloaded, ConfigError> {
        self.read_and_apply(false)
    }

    fn read_and_apply(&self, forced: bool) -> Result<Reloaded, ConfigError> {
        let mut last_read = self
            .last_read
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let text = match read_bounded(&self.path) {
            Ok(text) => text,
            Err(error) => {
                let seen = Some(LastRead::Unreadable(error.kind()));
                if !forced && *last_read == seen {
                    return Ok(Reloaded::Unchanged);
                }
                *last_read = seen;
                return Err(self.invalid(format!("cannot read it: {error}")));
            }
        };
        let seen = Some(LastRead::Content(Sha256::digest(text.as_bytes()).into()));
        if !forced && *last_read == seen {
            return Ok(Reloaded::Unchanged);
        }
        *last_read = seen;
        let previous = self.current();
        let consumers = Consumers::parse(&text, Some(&previous)).map_err(|r| self.invalid(r))?;
        let count = consumers.len();
        self.current.store(Arc::new(consumers));
        Ok(Reloaded::Applied(count))
    }

    fn invalid(&self, reason: String) -> ConfigError {
        ConfigError::Invalid {
            setting: "--consumers",
            reason: format!("{}: {reason}", self.path.display()),
        }
    }
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// Keeps the registry in step with its file: reloads on SIGHUP, and when the file's content
/// changes, looked at every `poll_every`. Logs and counts every reload; runs until aborted.
/// Call it within the Tokio runtime.
pub fn watch_consumers(
    registry: Arc<ConsumerRegistry>,
    metrics: AccessMetrics,
    poll_every: Duration,
) -> JoinHandle<()> {
    // Listening starts before this returns, so a SIGHUP sent from now on reloads rather than
    // ending the process (its default action).
    let mut hangups = hangup_signals();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(poll_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            let forced = tokio::select! {
                _ = ticks.tick() => false,
                Some(()) = next_hangup(&mut hangups) => true,
            };
            let registry = Arc::clone(&registry);
            // File reads block; keep them off the request threads.
            let outcome = tokio::task::spawn_blocking(move || {
                if forced {
                    registry.reload()
                } else {
                    registry.reload_if_changed()
                }
            })
            .await;
            match outcome {
                Ok(Ok(Reloaded::Unchanged)) => {}
                Ok(Ok(Reloaded::Applied(consumers))) => {
                    metrics.record_reload(true);
                    tracing::info!(consumers, forced, "consumers file reloaded");
                }
                Ok(Err(error)) => {
                    metrics.record_reload(false);
                    tracing::warn!(%error, "consumers file not reloaded; the previous consumers stay in force");
                }
                Err(error) => tracing::error!(%error, "reloading the consumers file panicked"),
            }
        }
    })
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangup_signals() -> Hangups {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(signal) => Some(signal),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; the consumers file is still polled");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangup_signals() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    match hangups {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) -> Option<()> {
    std::future::pending().await
}
