//! Value parsers for settings with bounds of their own, so that clap refuses a value out of
//! range whichever source it came from (flag, environment or file), naming the setting.
//! `Settings::check` keeps only the rules that span several settings.

use std::time::Duration;

use super::byte_size::{parse_byte_size, parse_duration};

/// A duration longer than zero.
pub(super) fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(duration)
}

/// A count of at least one.
pub(super) fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(count) => Ok(count),
        Err(error) => Err(format!("'{text}' is not a count: {error}")),
    }
}

/// A byte size of at least 8KiB: hyper cannot read a request head with a smaller buffer.
pub(super) fn header_bytes(text: &str) -> Result<u64, String> {
    at_least(text, 8 * 1024, "8KiB")
}

/// A byte size of at least 1MiB, for the cache.
pub(super) fn cache_bytes(text: &str) -> Result<u64, String> {
    at_least(text, 1024 * 1024, "1MiB")
}

/// A byte size this machine can hold in memory.
pub(super) fn body_bytes(text: &str) -> Result<u64, String> {
    let bytes = parse_byte_size(text)?;
    if usize::try_from(bytes).is_err() {
        return Err("is larger than this machine can hold".into());
    }
    Ok(bytes)
}

/// A finite rate above zero.
pub(super) fn positive_rate(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err("must be a positive number of requests per second".into()),
    }
}

/// A Redis command timeout: more than zero, and at most 10s, since it bounds what Redis
/// trouble may add to every request.
pub(super) fn redis_command_timeout(text: &str) -> Result<Duration, String> {
    let duration = positive_duration(text)?;
    if duration > Duration::from_secs(10) {
        return Err("must be at most 10s".into());
    }
    Ok(duration)
}

/// A Redis key prefix: at most 128 bytes, without braces, which Redis Cluster would read as a
/// hash tag and so move keys between slots, and without spaces or control characters, which
/// make keys hard to type in `redis-cli` and in ACL rules.
pub(crate) fn redis_key_prefix(text: &str) -> Result<String, String> {
    if text.len() > 128 {
        return Err("must be at most 128 bytes".into());
    }
    if text.contains(['{', '}']) {
        return Err("must not contain '{' or '}', which Redis Cluster reads as a hash tag".into());
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    Ok(text.to_owned())
}

fn at_least(text: &str, min: u64, min_text: &str) -> Result<u64, String> {
    let bytes = parse_byte_size(text)?;
    if bytes < min {
        return Err(format!("must be at least {min_text}"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_refuse_what_is_out_of_range_and_keep_the_rest() {
        assert_eq!(
            positive_duration("0s"),
            Err("must be more than zero".into())
        );
        assert_eq!(positive_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(at_least_one("0"), Err("must be at least 1".into()));
        assert_eq!(at_least_one("3"), Ok(3));
        assert!(at_least_one("-1").is_err());
        assert_eq!(header_bytes("4KiB"), Err("must be at least 8KiB".into()));
        assert_eq!(header_bytes("16KiB"), Ok(16 * 1024));
        assert_eq!(cache_bytes("1000KB"), Err("must be at least 1MiB".into()));
        assert_eq!(
            positive_rate("0"),
            Err("must be a positive number of requests per second".into())
        );
        assert!(positive_rate("inf").is_err());
        assert_eq!(positive_rate("0.5"), Ok(0.5));
    }
}
