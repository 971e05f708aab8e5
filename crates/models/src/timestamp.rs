//! `Timestamp`: a date-time kept as its exact original text, with a parsed view on demand.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ModelError;

/// A date-time as Alumio sent it (`createdAt`, `updatedAt`).
///
/// The text is kept exactly, so `Z` and `+00:00`, or `.5` and `.500000`, are written back as they
/// came; [`Timestamp::parse`] reads it as RFC 3339 when a caller needs the instant.
///
/// ```
/// use alumio_models::Timestamp;
///
/// let at = Timestamp::new("2024-05-01T12:30:00.250+02:00");
/// let parsed = at.parse()?;
/// assert_eq!(parsed.unix_seconds, 1_714_559_400);
/// assert_eq!(parsed.nanosecond, 250_000_000);
/// assert_eq!(parsed.offset_seconds, 7_200);
/// assert_eq!(at.as_str(), "2024-05-01T12:30:00.250+02:00");
/// # Ok::<(), alumio_models::ModelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(String);

/// The instant a [`Timestamp`] names, and the UTC offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParsedTimestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before it).
    pub unix_seconds: i64,
    /// Nanoseconds past `unix_seconds`; digits beyond nanoseconds are truncated.
    pub nanosecond: u32,
    /// The offset from UTC the text was written in, in seconds (`Z` is 0).
    pub offset_seconds: i32,
}

impl ParsedTimestamp {
    /// The instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        let magnitude = Duration::new(self.unix_seconds.unsigned_abs(), 0);
        let whole = if self.unix_seconds >= 0 {
            UNIX_EPOCH + magnitude
        } else {
            UNIX_EPOCH - magnitude
        };
        whole + Duration::from_nanos(u64::from(self.nanosecond))
    }
}

impl Timestamp {
    /// Wraps text as a timestamp without checking it; use [`Timestamp::parse`] to check.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text exactly as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the text as an RFC 3339 date-time (`T`, `t` or a space between date and time; `Z`,
    /// `z`, `±HH:MM` or `±HHMM` as the offset; any number of fractional digits).
    pub fn parse(&self) -> Result<ParsedTimestamp, ModelError> {
        parse_rfc3339(self.0.as_bytes())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Timestamp {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

fn invalid(reason: &'static str) -> ModelError {
    ModelError::InvalidTimestamp { reason }
}

fn digits(bytes: &[u8], at: usize, count: usize, what: &'static str) -> Result<u32, ModelError> {
    let field = bytes.get(at..at + count).ok_or(invalid(what))?;
    field.iter().try_fold(0_u32, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + u32::from(b - b'0'))
        } else {
            Err(invalid(what))
        }
    })
}

fn expect(bytes: &[u8], at: usize, allowed: &[u8], what: &'static str) -> Result<(), ModelError> {
    match bytes.get(at) {
        Some(b) if allowed.contains(b) => Ok(()),
        _ => Err(invalid(what)),
    }
}

fn parse_rfc3339(bytes: &[u8]) -> Result<ParsedTimestamp, ModelError> {
    let year = digits(bytes, 0, 4, "year must be four digits")?;
    expect(bytes, 4, b"-", "expected '-' after the year")?;
    let month = digits(bytes, 5, 2, "month must be two digits")?;
    expect(bytes, 7, b"-", "expected '-' after the month")?;
    let day = digits(bytes, 8, 2, "day must be two digits")?;
    expect(bytes, 10, b"Tt ", "expected 'T' between date and time")?;
    let hour = digits(bytes, 11, 2, "hour must be two digits")?;
    expect(bytes, 13, b":", "expected ':' after the hour")?;
    let minute = digits(bytes, 14, 2, "minute must be two digits")?;
    expect(bytes, 16, b":", "expected ':' after the minute")?;
    let second = digits(bytes, 17, 2, "second must be two digits")?;

    if !(1..=12).contains(&month) {
        return Err(invalid("month out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(invalid("day out of range for the month"));
    }
    // 60 is allowed for a leap second, as RFC 3339 does; it reads as the next second.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(invalid("time of day out of range"));
    }

    let mut at = 19;
    let mut nanosecond = 0_u32;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanosecond = nanosecond * 10 + u32::from(bytes[at] - b'0');
            }
            at += 1;
        }
        let count = at - start;
        if count == 0 {
            return Err(invalid("expected digits after '.'"));
        }
        for _ in count..9 {
            nanosecond *= 10;
        }
    }

    let offset_seconds = match bytes.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(bytes, at + 1, 2, "offset hours must be two digits")?;
            let colon = usize::from(bytes.get(at + 3) == Some(&b':'));
            let minutes = digits(
                bytes,
                at + 3 + colon,
                2,
                "offset minutes must be two digits",
            )?;
            if hours > 23 || minutes > 59 {
                return Err(invalid("offset out of range"));
            }
            at += 5 + colon;
            let magnitude = i32::try_from(hours * 3600 + minutes * 60).unwrap_or(0);
            if sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return Err(invalid("expected 'Z' or a '+HH:MM' offset")),
    };
    if at != bytes.len() {
        return Err(invalid("unexpected text after the offset"));
    }

    let days = days_from_civil(i64::from(year), month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Ok(ParsedTimestamp {
        unix_seconds: local - i64::from(offset_seconds),
        nanosecond,
        offset_seconds,
    })
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedTimestamp, ModelError> {
        Timestamp::new(text).parse()
    }

    #[test]
    fn utc_spellings_name_the_same_instant() {
        let zulu = parse("2024-02-29T23:59:59Z").unwrap();
        let offset = parse("2024-02-29T23:59:59+00:00").unwrap();
        let compact = parse("2024-02-29T23:59:59+0000").unwrap();
        assert_eq!(zulu.unix_seconds, 1_709_251_199);
        assert_eq!(zulu, offset);
        assert_eq!(zulu, compact);
    }

    #[test]
    fn offsets_move_the_instant_to_utc() {
        let west = parse("1969-12-31T19:00:00-05:00").unwrap();
        assert_eq!(west.unix_seconds, 0);
        assert_eq!(west.offset_seconds, -18_000);
        assert_eq!(west.to_system_time(), UNIX_EPOCH);
    }

    #[test]
    fn fractional_seconds_of_any_length_are_read() {
        assert_eq!(
            parse("2024-01-01T00:00:00.5Z").unwrap().nanosecond,
            500_000_000
        );
        assert_eq!(
            parse("2024-01-01T00:00:00.123456Z").unwrap().nanosecond,
            123_456_000
        );
        assert_eq!(
            parse("2024-01-01T00:00:00.1234567891Z").unwrap().nanosecond,
            123_456_789
        );
    }

    #[test]
    fn malformed_timestamps_are_rejected_with_a_reason() {
        for bad in [
            "",
            "2024-01-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Z junk",
            "2024-01-01T00:00:00+25:00",
            "２０２４-01-01T00:00:00Z",
        ] {
            let error = parse(bad).expect_err(bad);
            assert!(
                matches!(error, ModelError::InvalidTimestamp { .. }),
                "{bad}: {error}"
            );
        }
    }
}
