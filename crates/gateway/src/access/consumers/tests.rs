//! The consumers file's rules, and that its errors never quote a value.

use super::*;

const KEY: &str = "erp-key-0123456789abcdef";

fn hash(key: &str) -> String {
    SecretDigest::of(key.as_bytes()).to_hex()
}

fn one(fields: &str) -> String {
    format!(
        "[[consumer]]\nname = \"erp\"\nkey-sha256 = \"{}\"\n{fields}\n",
        hash(KEY)
    )
}

#[test]
fn a_consumer_is_found_by_its_key_and_reads_only_its_spaces() {
    let consumers = Consumers::parse(&one("spaces = [\"acme-prod\"]"), None).unwrap();
    let erp = consumers.find(&SecretDigest::of(KEY.as_bytes())).unwrap();
    assert_eq!(erp.name(), "erp");
    assert!(erp.may_read(Some("acme-prod")));
    assert!(!erp.may_read(Some("acme-test")));
    assert!(
        !erp.may_read(None),
        "no space is refused by default with a list"
    );
    assert!(erp.rate_limiter().is_none());
    assert!(
        consumers
            .find(&SecretDigest::of(b"another-key-0123456789"))
            .is_none()
    );
}

#[test]
fn a_star_reads_every_space_and_without_space_by_default() {
    let consumers = Consumers::parse(&one("spaces = \"*\""), None).unwrap();
    let erp = consumers.find(&SecretDigest::of(KEY.as_bytes())).unwrap();
    assert!(erp.may_read(Some("anything")));
    assert!(erp.may_read(None));

    let text = one("spaces = \"*\"\nallow-without-space = false");
    let consumers = Consumers::parse(&text, None).unwrap();
    assert!(!consumers.list[0].may_read(None));
}

#[test]
fn the_burst_defaults_to_the_rate() {
    let consumers = Consumers::parse(&one("spaces = []\nrate-per-second = 2.5"), None).unwrap();
    let limit = consumers.list[0].rate_limiter().unwrap().limit();
    assert_eq!(limit.burst, 3);
    assert!((limit.per_second - 2.5).abs() < f64::EPSILON);
}

#[test]
fn a_reload_keeps_the_rate_limiter_of_an_unchanged_consumer() {
    let text = one("spaces = []\nrate-per-second = 5\nburst = 10");
    let first = Consumers::parse(&text, None).unwrap();
    let second = Consumers::parse(&text, Some(&first)).unwrap();
    assert!(Arc::ptr_eq(
        first.list[0].rate.as_ref().unwrap(),
        second.list[0].rate.as_ref().unwrap()
    ));
    let changed = one("spaces = []\nrate-per-second = 6\nburst = 10");
    let third = Consumers::parse(&changed, Some(&second)).unwrap();
    assert!(!Arc::ptr_eq(
        second.list[0].rate.as_ref().unwrap(),
        third.list[0].rate.as_ref().unwrap()
    ));
}

#[test]
fn an_empty_file_has_no_consumers() {
    assert!(Consumers::parse("", None).unwrap().is_empty());
}

#[test]
fn mistakes_are_refused_with_a_reason() {
    let cases = [
        ("spaces = [\"Acme\"]", "spaces[0]"),
        ("spaces = 3", "spaces must be"),
        ("", "spaces is required"),
        ("spaces = []\nrate-per-second = 0", "rate-per-second"),
        ("spaces = []\nrate-per-second = -1", "rate-per-second"),
        ("spaces = []\nburst = 5", "burst needs rate-per-second"),
        (
            "spaces = []\nrate-per-second = 1\nburst = 0",
            "burst must be",
        ),
        (
            "spaces = []\nallow-without-space = \"yes\"",
            "allow-without-space",
        ),
        ("spaces = []\ncolour = \"blue\"", "unknown field 'colour'"),
    ];
    for (fields, expected) in cases {
        let error = Consumers::parse(&one(fields), None).unwrap_err();
        assert!(error.contains(expected), "{fields:?}: {error}");
        assert!(error.contains("consumer #1 ('erp')"), "{error}");
    }
}

#[test]
fn names_and_keys_must_be_unique() {
    let text = format!("{}{}", one("spaces = []"), one("spaces = []"));
    let error = Consumers::parse(&text, None).unwrap_err();
    assert!(error.contains("used twice"), "{error}");

    let other = one("spaces = []").replace("name = \"erp\"", "name = \"crm\"");
    let text = format!("{}{other}", one("spaces = []"));
    let error = Consumers::parse(&text, None).unwrap_err();
    assert!(error.contains("same key"), "{error}");
}

#[test]
fn no_error_quotes_a_value_from_the_file() {
    let secret = "Pasted_Secret_Key_Value_1234";
    let cases = [
        format!("[[consumer]]\nname = \"erp\"\nkey = \"{secret}\"\nspaces = []"),
        format!("[[consumer]]\nname = \"erp\"\nkey-sha256 = \"{secret}\"\nspaces = []"),
        format!(
            "[[consumer]]\nname = \"{secret} x\"\nkey-sha256 = \"{}\"",
            hash(KEY)
        ),
        format!("[[consumer]]\nname = \"erp\"\nkey-sha256 = {secret}\nspaces = []"),
        format!(
            "[[consumer]]\nname = \"erp\"\nkey-sha256 = \"{}\"\nspaces = [\"{secret}\"]",
            hash(KEY)
        ),
        format!("[[consumer]]\nname = \"erp\"\nspaces = \"{secret}\""),
        format!("\"{secret}\n"),
    ];
    for text in cases {
        let error = Consumers::parse(&text, None).unwrap_err();
        assert!(!error.contains(secret), "{error}");
        assert!(!error.contains("Pasted"), "{error}");
    }
}

#[test]
fn a_syntax_error_names_its_line() {
    let error = Consumers::parse("[[consumer]]\nname = \"erp\"\nspaces = [\n", None).unwrap_err();
    assert!(error.starts_with("line "), "{error}");
}
