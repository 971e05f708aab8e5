//! The consumers file: who may call the gateway (known by the SHA-256 of their key, never the
//! key), which spaces each may read, and how fast.
//!
//! ```toml
//! [[consumer]]
//! name = "erp"
//! key-sha256 = "…64 hex digits from `alumio-gateway hash-key`…"
//! spaces = ["acme-prod"]        # or "*" for every space the gateway's Alumio user sees
//! allow-without-space = false   # requests without `space`; default: true only with "*"
//! rate-per-second = 50          # optional, with an optional burst (default: the rate)
//! burst = 100
//! ```
//!
//! The file is read field by field rather than through serde, so that no error message can
//! quote a value: a key pasted into the wrong field never reaches a log line.

use std::collections::HashSet;
use std::sync::Arc;

use alumio_models::SpaceIdentifier;
use subtle::ConditionallySelectable;
use toml::Value;

use super::digest::SecretDigest;
use super::rate::{MAX_BURST, MAX_RATE_PER_SECOND, RateLimit, RateLimiter};

/// Most consumers one file may hold; each request compares its key with every one of them.
pub const MAX_CONSUMERS: usize = 10_000;

/// Longest consumer name.
const MAX_NAME_LEN: usize = 64;

const FIELDS: &[&str] = &[
    "name",
    "key-sha256",
    "spaces",
    "allow-without-space",
    "rate-per-second",
    "burst",
];

/// Which spaces a consumer may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceRule {
    /// Every space (`spaces = "*"`).
    Any,
    /// Only these.
    Only(HashSet<SpaceIdentifier>),
}

/// One consumer of the gateway.
#[derive(Debug)]
pub struct Consumer {
    name: Arc<str>,
    digest: SecretDigest,
    spaces: SpaceRule,
    allow_without_space: bool,
    rate: Option<Arc<RateLimiter>>,
}

impl Consumer {
    /// The consumer's name, as logs show it.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// The spaces it may read.
    pub fn spaces(&self) -> &SpaceRule {
        &self.spaces
    }

    /// Whether it may read tasks in `space`, or without a space when `None`.
    pub fn may_read(&self, space: Option<&str>) -> bool {
        match (space, &self.spaces) {
            (None, _) => self.allow_without_space,
            (Some(_), SpaceRule::Any) => true,
            (Some(space), SpaceRule::Only(spaces)) => spaces.contains(space),
        }
    }

    /// Its rate limiter, if the file gives it a rate.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.rate.as_deref()
    }
}

/// Every consumer of one version of the file.
#[derive(Debug, Default)]
pub struct Consumers {
    list: Vec<Arc<Consumer>>,
}

impl Consumers {
    /// How many consumers there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none (every request is then refused).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The consumer whose key has `digest`. Every consumer is compared, in constant time, and
    /// the match is picked without a branch, so the time taken says nothing about which
    /// consumer matched or how closely.
    pub fn find(&self, digest: &SecretDigest) -> Option<&Arc<Consumer>> {
        let mut found = u64::MAX;
        for (index, consumer) in (0u64..).zip(&self.list) {
            found.conditional_assign(&index, consumer.digest.ct_eq(digest));
        }
        usize::try_from(found)
            .ok()
            .and_then(|index| self.list.get(index))
    }

    /// Reads a consumers file's text. Rate limiters of consumers in `previous` with the same
    /// name and limit carry over, so a reload does not hand out fresh bursts. The error says
    /// what is wrong and where, but never quotes a value.
    pub(crate) fn parse(text: &str, previous: Option<&Consumers>) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
            // `message()` is the description alone; the error's `Display` would quote the line.
            match error.span() {
                Some(span) => format!("line {}: {}", line_of(text, span.start), error.message()),
                None => error.message().to_owned(),
            }
        })?;
        if let Some(key) = table.keys().find(|key| *key != "consumer") {
            return Err(format!(
                "unknown top-level key '{key}'; consumers are [[consumer]] tables"
            ));
        }
        let entries = match table.get("consumer") {
            None => &[][..],
            Some(Value::Array(entries)) => entries.as_slice(),
            Some(_) => return Err("'consumer' must be [[consumer]] tables".into()),
        };
        if entries.len() > MAX_CONSUMERS {
            return Err(format!("more than {MAX_CONSUMERS} consumers"));
        }
        let mut list: Vec<Arc<Consumer>> = Vec::with_capacity(entries.len());
        for (number, entry) in (1..).zip(entries) {
            let consumer = parse_consumer(entry, previous).map_err(|reason| {
                let name = entry
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|n| valid_name(n));
                match name {
                    Some(name) => format!("consumer #{number} ('{name}'): {reason}"),
                    None => format!("consumer #{number}: {reason}"),
                }
            })?;
            if let Some(other) = list.iter().find(|c| c.name == consumer.name) {
                return Err(format!("consumer name '{}' is used twice", other.name));
            }
            if let Some(other) = list.iter().find(|c| c.digest == consumer.digest) {
                return Err(format!(
                    "consumers '{}' and '{}' have the same key; give each its own",
                    other.name, consumer.name
                ));
            }
            list.push(Arc::new(consumer));
        }
        Ok(Self { list })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn parse_consumer(entry: &Value, previous: Option<&Consumers>) -> Result<Consumer, String> {
    let Value::Table(fields) = entry else {
        return Err("must be a table".into());
    };
    if let Some(field) = fields.keys().find(|f| !FIELDS.contains(&f.as_str())) {
        let hint = if field == "key" {
            " (store key-sha256 from `alumio-gateway hash-key`, never the key itself)"
        } else {
            ""
        };
        return Err(format!("unknown field '{field}'{hint}"));
    }
    let name = match fields.get("name") {
        Some(Value::String(name)) if valid_name(name) => Arc::<str>::from(name.as_str()),
        Some(_) => {
            return Err(format!(
                "name must be 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, '.', '_' and '-'"
            ));
        }
        None => return Err("name is required".into()),
    };
    let digest = match fields.get("key-sha256") {
        Some(Value::String(hex)) => SecretDigest::from_hex(hex),
        Some(_) => None,
        None => return Err("key-sha256 is required".into()),
    }
    .ok_or("key-sha256 must be 64 hexadecimal digits, as `alumio-gateway hash-key` prints")?;
    let spaces = match fields.get("spaces") {
        Some(Value::String(star)) if star == "*" => SpaceRule::Any,
        Some(Value::Array(items)) => SpaceRule::Only(parse_spaces(items)?),
        Some(_) => return Err("spaces must be a list of space identifiers, or \"*\"".into()),
        None => return Err("spaces is required (a list of space identifiers, or \"*\")".into()),
    };
    let allow_without_space = match fields.get("allow-without-space") {
        Some(Value::Boolean(allow)) => *allow,
        Some(_) => return Err("allow-without-space must be true or false".into()),
        None => spaces == SpaceRule::Any,
    };
    let rate = parse_rate(fields)?.map(|limit| {
        let carried = previous
            .and_then(|previous| previous.list.iter().find(|c| c.name == name))
            .and_then(|c| c.rate.as_ref())
            .filter(|limiter| limiter.limit() == limit);
        carried.map_or_else(|| Arc::new(RateLimiter::new(limit)), Arc::clone)
    });
    Ok(Consumer {
        name,
        digest,
        spaces,
        allow_without_space,
        rate,
    })
}

fn parse_spaces(items: &[Value]) -> Result<HashSet<SpaceIdentifier>, String> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_str()
                .and_then(|text| text.parse::<SpaceIdentifier>().ok())
                .ok_or_else(|| {
                    format!(
                        "spaces[{index}] is not a space identifier (lowercase letters, digits and '-')"
                    )
                })
        })
        .collect()
}

fn parse_rate(fields: &toml::Table) -> Result<Option<RateLimit>, String> {
    let per_second = match fields.get("rate-per-second") {
        None => None,
        #[allow(clippy::cast_precision_loss)] // Rates above 2^53 are refused just below.
        Some(Value::Integer(rate)) => Some(*rate as f64),
        Some(Value::Float(rate)) => Some(*rate),
        Some(_) => return Err("rate-per-second must be a number".into()),
    };
    let burst = match fields.get("burst") {
        None => None,
        Some(Value::Integer(burst)) => Some(
            u32::try_from(*burst)
                .ok()
                .filter(|b| (1..=MAX_BURST).contains(b))
                .ok_or(format!("burst must be from 1 to {MAX_BURST}"))?,
        ),
        Some(_) => return Err("burst must be a whole number".into()),
    };
    let Some(per_second) = per_second else {
        return match burst {
            Some(_) => Err("burst needs rate-per-second".into()),
            None => Ok(None),
        };
    };
    if !(per_second > 0.0 && per_second <= MAX_RATE_PER_SECOND) {
        return Err(format!(
            "rate-per-second must be more than 0 and at most {MAX_RATE_PER_SECOND}"
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // Bounded just above.
    let default_burst = (per_second.ceil() as u32).max(1);
    Ok(Some(RateLimit {
        per_second,
        burst: burst.unwrap_or(default_burst),
    }))
}

#[cfg(test)]
mod tests;
