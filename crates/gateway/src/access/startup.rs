//! The secure default: the binary serves consumers from a consumers file, and serves anyone
//! without a key only when told to (`--allow-anonymous`), or in the demo on loopback.

use std::sync::Arc;

use super::AccessPolicy;
use super::registry::ConsumerRegistry;
use crate::config::{ConfigError, Settings};

/// The access policy the settings ask for, loading the consumers file if there is one. Refuses
/// to serve anonymously unless `--allow-anonymous` is given or `--demo` listens on loopback;
/// warns when anonymous access is served beyond loopback.
pub fn policy_from_settings(settings: &Settings) -> Result<AccessPolicy, ConfigError> {
    let loopback = settings.listen.ip().is_loopback();
    if let Some(path) = &settings.consumers {
        let registry = ConsumerRegistry::load(path)?;
        let consumers = registry.current().len();
        if consumers == 0 {
            tracing::warn!(path = %path.display(), "the consumers file has no consumers: every task request is refused");
        } else {
            tracing::info!(path = %path.display(), consumers, "consumer keys in force");
        }
        return Ok(AccessPolicy::Consumers(Arc::new(registry)));
    }
    if settings.allow_anonymous {
        if !loopback {
            tracing::warn!(
                listen = %settings.listen,
                "--allow-anonymous on a non-loopback address: anyone who reaches it reads every task the gateway's Alumio token can read"
            );
        }
        return Ok(AccessPolicy::Anonymous);
    }
    if settings.demo && loopback {
        return Ok(AccessPolicy::Anonymous);
    }
    Err(ConfigError::Invalid {
        setting: "--consumers",
        reason: if settings.demo {
            "is required when --demo listens beyond loopback (or give --allow-anonymous)".into()
        } else {
            "is required: give a consumers file, or --allow-anonymous to serve anyone without a key"
                .into()
        },
    })
}
