//! Proptest strategies for statuses, timestamps, identifiers, JSON and whole task documents.
//!
//! Three families of documents. *Typed* strategies ([`detailed_task_result`], [`api_error`], ...)
//! build model values that must survive `to_vec` then `from_slice` unchanged. *Wire* strategies
//! ([`wire_task_document`], [`wire_error_document`]) build `serde_json::Value`s directly, the way
//! an Alumio server could send them, so parsing is tested on JSON this crate did not write.
//! *Drifting* ones ([`drifting_task_document`]) are text whose known properties may hold any
//! JSON, for readers that must take whatever Alumio sends ([`crate::read_status`]).
//!
//! ```
//! use alumio_models::{strategies, DetailedTaskResult};
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let document = strategies::wire_task_document().new_tree(&mut runner).unwrap().current();
//! let parsed: DetailedTaskResult = serde_json::from_value(document.clone())?;
//! assert_eq!(serde_json::to_value(&parsed)?, document);
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Statuses, timestamps and identifiers are here; JSON values are in `json`, typed documents in
//! `typed`, schema-conforming ones in `conforming`, wire documents in `wire` and drifting ones in
//! `drifting`.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use crate::{MAX_IDENTIFIER_LEN, SpaceIdentifier, TaskIdentifier, TaskStatus, Timestamp};

mod conforming;
mod drifting;
mod json;
mod typed;
mod wire;

pub use conforming::{conforming_api_error, conforming_detailed_task_result};
pub use drifting::drifting_task_document;
pub use json::{exact_f64, json_object, json_text, json_value, order_entity};
pub use typed::{
    api_error, detailed_task, detailed_task_result, task_meta, task_meta_data_item, violation,
};
pub use wire::{wire_error_document, wire_task_document};

/// Plausible statuses a newer Alumio might add, and near misses of known ones.
const UNKNOWN_STATUS_EXAMPLES: &[&str] = &[
    "archived",
    "cancelled",
    "queued",
    "scheduled",
    "paused",
    "Finished",
    "FAILED",
    " new",
    "new ",
    "",
    "re-try",
    "killed\n",
    "proces\u{0}sing",
    "Статус",
    "✅",
];

/// Task identifiers that are valid but would break a URL built by string concatenation.
const TRICKY_TASK_IDENTIFIERS: &[&str] = &[
    "../etc/passwd",
    "a/b",
    "%2F",
    "?space=other",
    "#fragment",
    " padded ",
    "ünïcödé",
    "🎉",
    "\u{200b}",
    "\u{feff}",
    "a%00b",
    "..",
];

fn is_known_status(text: &str) -> bool {
    TaskStatus::KNOWN.iter().any(|known| known.as_str() == text)
}

/// Status text outside the schema's enum: plausible new statuses, near misses of known ones
/// (other case, padding, control characters) and arbitrary text; never exactly a known status.
pub fn unknown_status_text() -> BoxedStrategy<String> {
    let known_uppercase =
        select(TaskStatus::KNOWN.to_vec()).prop_map(|s| s.as_str().to_uppercase());
    prop_oneof![
        3 => select(UNKNOWN_STATUS_EXAMPLES).prop_map(str::to_owned),
        1 => known_uppercase,
        2 => "[a-z_-]{0,12}",
        1 => vec(any::<char>(), 0..12).prop_map(String::from_iter),
    ]
    .prop_filter("a known status is not unknown", |text| {
        !is_known_status(text)
    })
    .boxed()
}

/// One of the nine statuses the schema names.
pub fn conforming_task_status() -> BoxedStrategy<TaskStatus> {
    select(TaskStatus::KNOWN.to_vec()).boxed()
}

/// A known status three times in four, otherwise a [`TaskStatus::Other`] from
/// [`unknown_status_text`].
pub fn task_status() -> BoxedStrategy<TaskStatus> {
    prop_oneof![
        3 => conforming_task_status(),
        1 => unknown_status_text().prop_map(TaskStatus::from),
    ]
    .boxed()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A UTC offset as RFC 3339 spells it: `Z`, `z`, `+00:00`, `-00:00`, `-05:30`, `+05:45`, or any
/// `±HH:MM` up to `±23:59`.
fn utc_offset() -> BoxedStrategy<String> {
    let any_offset = (select(&['+', '-'][..]), 0_u32..24, 0_u32..60)
        .prop_map(|(sign, hours, minutes)| format!("{sign}{hours:02}:{minutes:02}"));
    prop_oneof![
        4 => Just("Z".to_owned()),
        1 => Just("z".to_owned()),
        2 => select(&["+00:00", "-00:00", "-05:30", "+05:45", "+14:00", "-12:00"][..])
            .prop_map(str::to_owned),
        2 => any_offset,
    ]
    .boxed()
}

/// The text of a valid RFC 3339 date-time in any of its spellings: `T` or `t`, no fraction or
/// 1–9 fractional digits, and the offsets of `utc_offset`. Years run from 0000 to 9999, mostly
/// 1970–2099; seconds stop at 59 (a leap second is valid only at 23:59:60 UTC).
pub fn timestamp_text() -> BoxedStrategy<String> {
    let year = prop_oneof![4 => 1970_u32..2100, 1 => 0_u32..=9999];
    let date = (year, 1_u32..=12)
        .prop_flat_map(|(year, month)| (Just(year), Just(month), 1..=days_in_month(year, month)));
    let separator = prop_oneof![4 => Just('T'), 1 => Just('t')];
    let fraction = option::of("[0-9]{1,9}").prop_map(|digits| match digits {
        Some(digits) => format!(".{digits}"),
        None => String::new(),
    });
    (date, separator, (0_u32..24, 0_u32..60, 0_u32..60), fraction, utc_offset()).prop_map(
        |((year, month, day), separator, (hour, minute, second), fraction, offset)| {
            format!(
                "{year:04}-{month:02}-{day:02}{separator}{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
            )
        },
    ).boxed()
}

/// A [`Timestamp`] holding [`timestamp_text`].
pub fn timestamp() -> BoxedStrategy<Timestamp> {
    timestamp_text().prop_map(Timestamp::new).boxed()
}

/// Cuts `text` to at most `max` bytes without splitting a character.
fn truncate_to_bytes(mut text: String, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Text that [`TaskIdentifier`] accepts: ULIDs, UUIDs, numbers, arbitrary printable text,
/// identifiers full of URL syntax, and identifiers right at the 255-byte limit.
pub fn task_identifier_text() -> BoxedStrategy<String> {
    let near_the_limit =
        "[^\\p{Cc}]{200,255}".prop_map(|text: String| truncate_to_bytes(text, MAX_IDENTIFIER_LEN));
    prop_oneof![
        3 => "[0-9A-HJKMNP-TV-Z]{26}",
        2 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        1 => "[1-9][0-9]{0,11}",
        2 => "[^\\p{Cc}]{1,40}",
        1 => select(TRICKY_TASK_IDENTIFIERS).prop_map(str::to_owned),
        1 => near_the_limit,
    ]
    .boxed()
}

/// A valid [`TaskIdentifier`] made from [`task_identifier_text`].
pub fn task_identifier() -> BoxedStrategy<TaskIdentifier> {
    task_identifier_text()
        .prop_filter_map("task identifier rules", |text| text.try_into().ok())
        .boxed()
}

/// Text that [`SpaceIdentifier`] accepts: `^[a-z0-9-]+$`, up to 255 bytes.
pub fn space_identifier_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-z0-9-]{1,32}",
        1 => "[a-z0-9-]{1,255}",
        1 => select(&["acme-prod", "acme-staging-2", "-", "0", "a--b"][..]).prop_map(str::to_owned),
    ]
    .boxed()
}

/// A valid [`SpaceIdentifier`] made from [`space_identifier_text`].
pub fn space_identifier() -> BoxedStrategy<SpaceIdentifier> {
    space_identifier_text()
        .prop_filter_map("space identifier rules", |text| text.try_into().ok())
        .boxed()
}
