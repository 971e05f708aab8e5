//! `Timestamp::parse` reads every RFC 3339 spelling to the right instant, checked against a
//! naive day count, and keeps the text exactly as given.

use std::time::{Duration, UNIX_EPOCH};

use alumio_models::{ParsedTimestamp, Timestamp};
use proptest::prelude::*;

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date, counted one year and one month at a time.
fn naive_days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    let whole_years: i64 = if year >= 1970 {
        (1970..year)
            .map(|y| if is_leap(y) { 366 } else { 365 })
            .sum()
    } else {
        -(year..1970)
            .map(|y| if is_leap(y) { 366 } else { 365 })
            .sum::<i64>()
    };
    let whole_months: i64 = (1..month).map(|m| i64::from(days_in_month(year, m))).sum();
    whole_years + whole_months + i64::from(day) - 1
}

/// How an offset of `minutes` east of UTC may be spelled; the parser also takes `±HHMM`.
fn offset_spelling(minutes: i32, style: u8) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (hours, rest) = (minutes.abs() / 60, minutes.abs() % 60);
    match style % 4 {
        0 if minutes == 0 => "Z".to_owned(),
        1 if minutes == 0 => "z".to_owned(),
        2 => format!("{sign}{hours:02}{rest:02}"),
        _ => format!("{sign}{hours:02}:{rest:02}"),
    }
}

prop_compose! {
    fn date()(year in 0_i64..=9999, month in 1_u32..=12)
        (year in Just(year), month in Just(month), day in 1..=days_in_month(year, month))
        -> (i64, u32, u32) {
        (year, month, day)
    }
}

proptest! {
    #[test]
    fn every_spelling_parses_to_the_instant_it_names(
        (year, month, day) in date(),
        (hour, minute, second) in (0_i64..24, 0_i64..60, 0_i64..60),
        fraction in "[0-9]{0,12}",
        offset_minutes in prop_oneof![Just(0), -1439_i32..=1439],
        (separator, style) in (prop::sample::select(&['T', 't', ' '][..]), any::<u8>()),
    ) {
        let dot = if fraction.is_empty() { "" } else { "." };
        let offset = offset_spelling(offset_minutes, style);
        let text = format!("{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{dot}{fraction}{offset}");

        let local = naive_days_since_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        let nanosecond = format!("{fraction:0<9}")[..9].parse::<u32>()?;
        let expected = ParsedTimestamp {
            unix_seconds: local - i64::from(offset_minutes) * 60,
            nanosecond,
            offset_seconds: offset_minutes * 60,
        };
        let timestamp = Timestamp::new(text.clone());
        prop_assert_eq!(timestamp.parse(), Ok(expected), "{}", text);
        prop_assert_eq!(timestamp.as_str(), text.as_str());
    }

    #[test]
    fn an_instant_after_the_epoch_converts_to_system_time(seconds in 0_u64..253_402_300_800, nanos in 0_u32..1_000_000_000) {
        let parsed = ParsedTimestamp { unix_seconds: i64::try_from(seconds)?, nanosecond: nanos, offset_seconds: 0 };
        prop_assert_eq!(parsed.to_system_time(), UNIX_EPOCH + Duration::new(seconds, nanos));
    }
}

#[cfg(feature = "proptest")]
proptest! {
    #[test]
    fn every_generated_timestamp_parses(timestamp in alumio_models::strategies::timestamp()) {
        prop_assert!(timestamp.parse().is_ok(), "{}", timestamp);
    }
}
