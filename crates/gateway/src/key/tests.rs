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
    assert_eq!(key.identifier().as_str(), "01J0ABC");
    assert_eq!(key.space().unwrap().as_str(), "acme-prod");
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
    assert_eq!(key.identifier().as_str(), "a/b c?");
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
