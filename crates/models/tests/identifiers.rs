//! The identifier types accept exactly their documented sets and name the first thing wrong:
//! task identifiers are 1–255 bytes without control characters, space identifiers match
//! `^[a-z0-9-]+$` in at most 255 bytes.

use alumio_models::{
    IdentifierKind, MAX_IDENTIFIER_LEN, ModelError, SpaceIdentifier, TaskIdentifier,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn text_of(chars: Vec<char>) -> String {
    chars.into_iter().collect()
}

/// Text a task identifier allows, from one character to exactly the byte limit.
fn allowed_task_text() -> impl Strategy<Value = String> {
    let at_the_limit = "[^\\p{Cc}]{64,255}".prop_map(|mut text: String| {
        while text.len() > MAX_IDENTIFIER_LEN {
            text.pop();
        }
        text
    });
    prop_oneof![
        4 => "[^\\p{Cc}]{1,63}",
        1 => "[ -~]{255}",
        1 => at_the_limit,
    ]
}

/// A character a space identifier does not allow.
fn disallowed_space_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        "[A-Z_. /é]".prop_map(|text: String| text.chars().next().unwrap_or('A')),
    ]
    .prop_filter("outside [a-z0-9-]", |c| {
        !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
    })
}

/// Every way to make a task identifier agrees with `validate`, and keeps the text exactly.
fn check_task_constructors(text: &str) -> Result<(), TestCaseError> {
    let expected = TaskIdentifier::validate(text);
    let parsed = text.parse::<TaskIdentifier>();
    prop_assert_eq!(
        parsed
            .as_ref()
            .map(TaskIdentifier::as_str)
            .map_err(Clone::clone),
        expected.clone().map(|()| text)
    );
    prop_assert_eq!(TaskIdentifier::try_from(text.to_owned()), parsed.clone());
    prop_assert_eq!(TaskIdentifier::try_from(text), parsed.clone());
    let deserialized = serde_json::from_value::<TaskIdentifier>(serde_json::Value::from(text));
    match (&deserialized, &parsed) {
        (Ok(read), Ok(id)) => prop_assert_eq!(read, id),
        (Err(read), Err(error)) => prop_assert_eq!(read.to_string(), error.to_string()),
        _ => {
            let message = format!("serde and FromStr disagree: {deserialized:?} vs {parsed:?}");
            return Err(TestCaseError::fail(message));
        }
    }
    Ok(())
}

fn check_space_constructors(text: &str) -> Result<(), TestCaseError> {
    let expected = SpaceIdentifier::validate(text);
    let parsed = text.parse::<SpaceIdentifier>();
    prop_assert_eq!(
        parsed
            .as_ref()
            .map(SpaceIdentifier::as_str)
            .map_err(Clone::clone),
        expected.clone().map(|()| text)
    );
    prop_assert_eq!(SpaceIdentifier::try_from(text.to_owned()), parsed.clone());
    prop_assert_eq!(SpaceIdentifier::try_from(text), parsed.clone());
    let deserialized = serde_json::from_value::<SpaceIdentifier>(serde_json::Value::from(text));
    match (&deserialized, &parsed) {
        (Ok(read), Ok(id)) => prop_assert_eq!(read, id),
        (Err(read), Err(error)) => prop_assert_eq!(read.to_string(), error.to_string()),
        _ => {
            let message = format!("serde and FromStr disagree: {deserialized:?} vs {parsed:?}");
            return Err(TestCaseError::fail(message));
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn every_allowed_task_identifier_is_accepted_as_is(text in allowed_task_text()) {
        prop_assert_eq!(TaskIdentifier::validate(&text), Ok(()));
        check_task_constructors(&text)?;
    }

    #[test]
    fn a_task_identifier_with_a_control_character_is_rejected_at_its_offset(
        prefix in "[^\\p{Cc}]{0,40}",
        control in "\\p{Cc}",
        suffix in vec(any::<char>(), 0..20).prop_map(text_of),
    ) {
        let text = format!("{prefix}{control}{suffix}");
        let expected = ModelError::ControlCharacter { kind: IdentifierKind::Task, position: prefix.len() };
        prop_assert_eq!(TaskIdentifier::validate(&text), Err(expected));
        check_task_constructors(&text)?;
    }

    #[test]
    fn any_task_identifier_over_255_bytes_is_too_long(text in vec(any::<char>(), 256..400).prop_map(text_of)) {
        let expected = ModelError::IdentifierTooLong { kind: IdentifierKind::Task, len: text.len(), max: 255 };
        prop_assert_eq!(TaskIdentifier::validate(&text), Err(expected));
        check_task_constructors(&text)?;
    }

    #[test]
    fn every_allowed_space_identifier_is_accepted_as_is(text in "[a-z0-9-]{1,255}") {
        prop_assert_eq!(SpaceIdentifier::validate(&text), Ok(()));
        check_space_constructors(&text)?;
    }

    #[test]
    fn a_space_identifier_with_a_disallowed_character_is_rejected_at_its_offset(
        prefix in "[a-z0-9-]{0,100}",
        bad in disallowed_space_char(),
        suffix in vec(any::<char>(), 0..20).prop_map(text_of),
    ) {
        let text = format!("{prefix}{bad}{suffix}");
        let expected = ModelError::InvalidSpaceCharacter {
            kind: IdentifierKind::Space,
            character: bad,
            position: prefix.len(),
        };
        prop_assert_eq!(SpaceIdentifier::validate(&text), Err(expected));
        check_space_constructors(&text)?;
    }

    #[test]
    fn any_space_identifier_over_255_bytes_is_too_long(text in "[a-z0-9-]{256,600}|[A-Za-z ]{256,300}") {
        let expected = ModelError::IdentifierTooLong { kind: IdentifierKind::Space, len: text.len(), max: 255 };
        prop_assert_eq!(SpaceIdentifier::validate(&text), Err(expected));
        check_space_constructors(&text)?;
    }
}

#[test]
fn an_empty_identifier_is_rejected_for_both_kinds() {
    assert_eq!(
        TaskIdentifier::validate(""),
        Err(ModelError::EmptyIdentifier {
            kind: IdentifierKind::Task
        })
    );
    assert_eq!(
        SpaceIdentifier::validate(""),
        Err(ModelError::EmptyIdentifier {
            kind: IdentifierKind::Space
        })
    );
    assert!(serde_json::from_str::<TaskIdentifier>(r#""""#).is_err());
}

#[test]
fn the_byte_limit_counts_bytes_not_characters() {
    let at_limit = "a".repeat(255);
    assert!(TaskIdentifier::validate(&at_limit).is_ok());
    assert!(SpaceIdentifier::validate(&at_limit).is_ok());
    let over = format!("{}é", "a".repeat(254));
    let expected = ModelError::IdentifierTooLong {
        kind: IdentifierKind::Task,
        len: 256,
        max: 255,
    };
    assert_eq!(TaskIdentifier::validate(&over), Err(expected));
    assert!(TaskIdentifier::validate(&"é".repeat(127)).is_ok());
    assert!(TaskIdentifier::validate(&"é".repeat(128)).is_err());
}

#[test]
fn control_characters_are_exactly_c0_delete_and_c1() {
    let task_error = |text: &str| TaskIdentifier::validate(text).err();
    for (text, position) in [
        ("\u{0}", 0),
        ("a\u{1f}", 1),
        ("ab\u{7f}", 2),
        ("é\u{85}", 2),
        ("\u{9f}", 0),
    ] {
        let expected = ModelError::ControlCharacter {
            kind: IdentifierKind::Task,
            position,
        };
        assert_eq!(task_error(text), Some(expected), "{text:?}");
    }
    for allowed in [
        "\u{a0}", "\u{200b}", "\u{feff}", "\u{2028}", "a b", "../x", "%2F?#",
    ] {
        assert_eq!(task_error(allowed), None, "{allowed:?}");
    }
}

#[test]
fn space_identifiers_reject_the_near_misses() {
    for (text, character, position) in [
        ("Acme", 'A', 0),
        ("acme_prod", '_', 4),
        ("acmé", 'é', 3),
        ("acme prod", ' ', 4),
        ("ａ", 'ａ', 0),
    ] {
        let expected = ModelError::InvalidSpaceCharacter {
            kind: IdentifierKind::Space,
            character,
            position,
        };
        assert_eq!(SpaceIdentifier::validate(text), Err(expected), "{text:?}");
    }
    for allowed in ["-", "0", "a--b", "acme-prod-2"] {
        assert_eq!(SpaceIdentifier::validate(allowed), Ok(()), "{allowed:?}");
    }
}
