//! Unit tests for reading a `TaskKey` from a request line.

use super::*;

fn key(path: &str, query: Option<&str>) -> Result<TaskKey, GatewayError> {
    TaskKey::from_path_and_query(path, query)
}

fn rejected_parameter(result: Result<TaskKey, GatewayError>) -> &'static str {
    match result {
        Err(GatewayError::InvalidParameter { parameter, .. }) => parameter,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn a_plain_identifier_and_space_make_a_key() {
    let key = key("/api/v1/tasks/01J0ABC", Some("space=acme-prod")).unwrap();
    assert_eq!(key.identifier(), "01J0ABC");
    assert_eq!(key.space().unwrap(), "acme-prod");
}

#[test]
fn a_request_without_space_is_its_own_key() {
    let without = key("/api/v1/tasks/t1", None).unwrap();
    let empty_query = key("/api/v1/tasks/t1", Some("")).unwrap();
    let with = key("/api/v1/tasks/t1", Some("space=a")).unwrap();
    assert_eq!(without, empty_query);
    assert_ne!(without, with);
}

#[test]
fn other_query_parameters_do_not_change_the_key() {
    let plain = key("/api/v1/tasks/t1", Some("space=a")).unwrap();
    let noisy = key("/api/v1/tasks/t1", Some("x=1&space=a&cachebust=2")).unwrap();
    assert_eq!(plain, noisy);
}

#[test]
fn encoded_characters_are_decoded_into_the_identifier() {
    let key = key("/api/v1/tasks/a%2Fb%20c%3F", None).unwrap();
    assert_eq!(key.identifier(), "a/b c?");
}

#[test]
fn a_raw_slash_makes_another_path() {
    assert!(matches!(
        key("/api/v1/tasks/a/b", None),
        Err(GatewayError::NotFound)
    ));
    assert!(matches!(
        key("/api/v1/tasks/", None),
        Err(GatewayError::InvalidParameter { .. })
    ));
    assert!(matches!(
        key("/api/v1/other/x", None),
        Err(GatewayError::NotFound)
    ));
}

#[test]
fn bad_identifiers_are_rejected_naming_the_identifier() {
    assert_eq!(
        rejected_parameter(key("/api/v1/tasks/a%0Ab", None)),
        "identifier"
    );
    assert_eq!(
        rejected_parameter(key("/api/v1/tasks/%FF", None)),
        "identifier"
    );
    assert_eq!(
        rejected_parameter(key("/api/v1/tasks/%2E%2E", None)),
        "identifier"
    );
    assert_eq!(
        rejected_parameter(key("/api/v1/tasks/.", None)),
        "identifier"
    );
    let long = "x".repeat(256);
    assert_eq!(
        rejected_parameter(key(&format!("/api/v1/tasks/{long}"), None)),
        "identifier"
    );
}

#[test]
fn bad_spaces_are_rejected_naming_the_space() {
    for query in [
        "space=Acme",
        "space=",
        "space=a%2Fb",
        "space=a&space=b",
        "space=a&space=a",
    ] {
        assert_eq!(
            rejected_parameter(key("/api/v1/tasks/t", Some(query))),
            "space",
            "{query}"
        );
    }
}

#[test]
fn escaped_and_plain_spellings_make_the_same_key() {
    let plain = key("/api/v1/tasks/t-1", Some("space=acme")).unwrap();
    for (path, query) in [
        ("/api/v1/tasks/%74-1", "space=acme"),
        ("/api/v1/tasks/t-1", "space=%61cme"),
        ("/api/v1/tasks/t-1", "x=a+b&space=acme"),
        ("/api/v1/tasks/t-1", "&&space=acme&"),
    ] {
        assert_eq!(key(path, Some(query)).unwrap(), plain, "{path}?{query}");
    }
    let bare = key("/api/v1/tasks/t-1", Some("space")).map(|k| k.space().is_none());
    assert!(matches!(
        bare,
        Err(GatewayError::InvalidParameter {
            parameter: "space",
            ..
        })
    ));
}

#[test]
fn a_key_read_from_a_request_names_and_hashes_as_the_owned_key() {
    let hash = |key: &dyn Fn(&mut std::hash::DefaultHasher)| {
        let mut hasher = std::hash::DefaultHasher::new();
        key(&mut hasher);
        std::hash::Hasher::finish(&hasher)
    };
    use std::hash::Hash as _;
    for (path, query, identifier, space) in [
        (
            "/api/v1/tasks/a%2Fb",
            Some("space=acme"),
            "a/b",
            Some("acme"),
        ),
        (
            "/api/v1/tasks/t-1",
            Some("x=1&space=acme"),
            "t-1",
            Some("acme"),
        ),
        ("/api/v1/tasks/t-1", None, "t-1", None),
    ] {
        let read = KeyRef::read(path, query).unwrap();
        let owned = TaskKey::new(
            identifier.parse().unwrap(),
            space.map(|space| space.parse().unwrap()),
        );
        assert!(read.names(&owned), "{path}");
        assert_eq!(read.to_key(), owned);
        assert_eq!(owned.key_ref(), read);
        // The cache is asked with the borrowed form, so it must hash as the owned key.
        assert_eq!(hash(&|h| read.hash(h)), hash(&|h| owned.hash(h)), "{path}");
    }
    let other = TaskKey::from_path_and_query("/api/v1/tasks/t-1", Some("space=acmf")).unwrap();
    assert!(
        !KeyRef::read("/api/v1/tasks/t-1", Some("space=acme"))
            .unwrap()
            .names(&other)
    );
}

#[test]
fn a_slash_in_the_identifier_never_moves_the_space_boundary() {
    let with_space = key("/api/v1/tasks/x%2Fy", Some("space=a")).unwrap();
    assert_eq!(with_space.space(), Some("a"));
    assert_eq!(with_space.identifier(), "x/y");
    let without = key("/api/v1/tasks/a%2Fx%2Fy", None).unwrap();
    assert_eq!(without.space(), None);
    assert_eq!(without.identifier(), "a/x/y");
    assert_ne!(
        with_space, without,
        "space 'a' + 'x/y' is not no space + 'a/x/y'"
    );
}

#[test]
fn the_longest_identifier_and_space_make_a_key() {
    let identifier = "i".repeat(alumio_models::MAX_IDENTIFIER_LEN);
    let space = "s".repeat(alumio_models::MAX_IDENTIFIER_LEN);
    let key = key(
        &format!("/api/v1/tasks/{identifier}"),
        Some(&format!("space={space}")),
    )
    .unwrap();
    assert_eq!(key.identifier(), identifier);
    assert_eq!(key.space(), Some(space.as_str()));
}

mod any_key {
    use std::hash::{BuildHasher, RandomState};

    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    use proptest::prelude::*;

    use super::*;

    fn identifier() -> impl Strategy<Value = String> {
        // Any text without control characters, '/' and '%' included; '.' and '..' are refused.
        "[^\\p{Cc}]{1,40}".prop_filter("a dot segment", |id| id != "." && id != "..")
    }

    fn space() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[a-z0-9-]{1,20}")
    }

    fn read(identifier: &str, space: Option<&str>) -> TaskKey {
        let path = format!(
            "/api/v1/tasks/{}",
            utf8_percent_encode(identifier, NON_ALPHANUMERIC)
        );
        let query = space.map(|space| format!("space={space}"));
        TaskKey::from_path_and_query(&path, query.as_deref()).unwrap()
    }

    proptest! {
        /// The borrowed form a hit looks up with finds exactly the key it names.
        #[test]
        fn a_read_key_names_and_hashes_as_its_owned_key_and_no_other(
            (id_a, space_a) in (identifier(), space()),
            (id_b, space_b) in (identifier(), space()),
        ) {
            let a = read(&id_a, space_a.as_deref());
            prop_assert_eq!(a.identifier(), id_a.as_str());
            prop_assert_eq!(a.space(), space_a.as_deref());
            let path = format!("/api/v1/tasks/{}", utf8_percent_encode(&id_a, NON_ALPHANUMERIC));
            let query = space_a.as_ref().map(|space| format!("space={space}"));
            let borrowed = KeyRef::read(&path, query.as_deref()).unwrap();
            let hasher = RandomState::new();
            prop_assert!(borrowed.names(&a));
            prop_assert_eq!(hasher.hash_one(&borrowed), hasher.hash_one(&a));
            let b = read(&id_b, space_b.as_deref());
            let same = id_a == id_b && space_a == space_b;
            prop_assert_eq!(borrowed.names(&b), same);
            prop_assert_eq!(a == b, same);
        }
    }
}
