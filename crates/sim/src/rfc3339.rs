//! Writes instants as RFC 3339 text in the spellings Alumio is seen to use (`Z` or `+00:00`,
//! with or without fractional seconds), so clients are tested against all of them.

use std::fmt::Write as _;

/// How a timestamp is spelled; one is chosen per task, as a real installation is not uniform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    /// `2024-05-01T10:00:00Z`
    Zulu,
    /// `2024-05-01T10:00:00.123Z`
    ZuluMillis,
    /// `2024-05-01T10:00:00+00:00`
    Offset,
    /// `2024-05-01T10:00:00.123456+00:00`
    OffsetMicros,
}

impl Spelling {
    /// Every spelling, for picking one at random.
    pub(crate) const ALL: [Spelling; 4] = [
        Self::Zulu,
        Self::ZuluMillis,
        Self::Offset,
        Self::OffsetMicros,
    ];
}

/// The text of the instant `unix_millis` milliseconds after the Unix epoch, in UTC.
pub(crate) fn format(unix_millis: i64, spelling: Spelling) -> String {
    let seconds = unix_millis.div_euclid(1000);
    let millis = unix_millis.rem_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
    );

    let mut text = String::with_capacity(32);
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
    );
    let _ = match spelling {
        Spelling::Zulu => write!(text, "Z"),
        Spelling::ZuluMillis => write!(text, ".{millis:03}Z"),
        Spelling::Offset => write!(text, "+00:00"),
        // Milliseconds are all the simulation keeps; the last three digits are made up from
        // them so the text has the six digits PHP's DateTime writes.
        Spelling::OffsetMicros => {
            write!(text, ".{millis:03}{:03}+00:00", unix_millis.rem_euclid(997))
        }
    };
    text
}

/// The proleptic Gregorian date of a day number since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use alumio_models::Timestamp;

    use super::*;

    #[test]
    fn each_spelling_is_written_as_expected() {
        let at = 1_714_557_600_250; // 2024-05-01T10:00:00.250Z
        assert_eq!(format(at, Spelling::Zulu), "2024-05-01T10:00:00Z");
        assert_eq!(format(at, Spelling::ZuluMillis), "2024-05-01T10:00:00.250Z");
        assert_eq!(format(at, Spelling::Offset), "2024-05-01T10:00:00+00:00");
        assert!(format(at, Spelling::OffsetMicros).starts_with("2024-05-01T10:00:00.250"));
        assert!(format(at, Spelling::OffsetMicros).ends_with("+00:00"));
    }

    #[test]
    fn written_timestamps_read_back_as_the_same_instant() {
        for millis in [
            0,
            951_782_400_000,
            1_709_251_199_999,
            4_102_444_800_123,
            -86_400_001,
        ] {
            for spelling in Spelling::ALL {
                let text = format(millis, spelling);
                let parsed = Timestamp::new(text.clone()).parse().expect(&text);
                assert_eq!(parsed.unix_seconds, millis.div_euclid(1000), "{text}");
                assert_eq!(parsed.offset_seconds, 0, "{text}");
            }
        }
    }
}
