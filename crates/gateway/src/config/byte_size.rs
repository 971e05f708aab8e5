//! Byte sizes with human units (`256MiB`, `8MB`, `4096`), for size settings.

/// Parses a byte count with an optional unit: `B`, `KB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024), case-insensitive, optional space before the unit.
pub(crate) fn parse_byte_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a byte size such as 256MiB"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit '{other}', use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses a duration with human units (`10s`, `5m`, `250ms`), rejecting zero-less garbage.
pub(crate) fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|error| format!("'{text}' is not a duration such as 10s: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_byte_size("256MiB"), Ok(256 * 1024 * 1024));
        assert_eq!(parse_byte_size("8 MB"), Ok(8_000_000));
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        assert_eq!(parse_byte_size("1gib"), Ok(1 << 30));
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(
            parse_byte_size("lots")
                .unwrap_err()
                .contains("not a byte size")
        );
        assert!(
            parse_byte_size("5 parsecs")
                .unwrap_err()
                .contains("unknown size unit")
        );
        assert!(
            parse_byte_size("99999999999999GiB")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_byte_size("-1").is_err());
    }

    #[test]
    fn durations_take_human_units() {
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("5m"),
            Ok(std::time::Duration::from_secs(300))
        );
        assert!(parse_duration("soon").is_err());
    }
}
