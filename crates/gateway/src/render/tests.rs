//! Unit tests for rendering stored answers: validators, conditional requests and cache headers.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::entry::EntryKind;

fn entry(status: StatusCode) -> StoredResponse {
    StoredResponse::new(
        status,
        Bytes::from_static(br#"{"object":{}}"#),
        HeaderValue::from_static("application/json"),
        EntryKind::SettledTask,
        Duration::from_secs(300),
    )
}

fn if_none_match(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn a_hit_carries_the_cache_headers() {
    let response = render(
        &entry(StatusCode::OK),
        CacheOutcome::Hit,
        true,
        &Method::GET,
        &HeaderMap::new(),
    );
    let headers = response.headers();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(headers[X_CACHE], "HIT");
    assert_eq!(headers[CACHE_STATUS], "alumio-gateway; hit");
    assert_eq!(headers[header::AGE], "0");
    assert_eq!(headers[header::CACHE_CONTROL], "max-age=299");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(headers.contains_key(header::ETAG));
}

#[test]
fn a_matching_if_none_match_gets_304_without_a_body() {
    let stored = entry(StatusCode::OK);
    let tag = stored.etag_header().to_str().unwrap().to_owned();
    for value in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".to_owned(),
    ] {
        let response = render(
            &stored,
            CacheOutcome::Hit,
            true,
            &Method::GET,
            &if_none_match(&value),
        );
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{value}");
        assert_eq!(response.headers()[header::ETAG], tag.as_str());
    }
}

#[test]
fn a_different_if_none_match_gets_the_body() {
    let response = render(
        &entry(StatusCode::OK),
        CacheOutcome::Hit,
        true,
        &Method::GET,
        &if_none_match("\"something-else\""),
    );
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn an_uncached_relay_says_no_store() {
    let response = render(
        &entry(StatusCode::FORBIDDEN),
        CacheOutcome::Miss,
        false,
        &Method::GET,
        &if_none_match("*"),
    );
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()[CACHE_STATUS], "alumio-gateway; fwd=miss");
    assert!(!response.headers().contains_key(header::ETAG));
}

#[test]
fn head_sends_the_length_but_no_body() {
    let response = render(
        &entry(StatusCode::OK),
        CacheOutcome::Hit,
        true,
        &Method::HEAD,
        &HeaderMap::new(),
    );
    assert_eq!(response.headers()[header::CONTENT_LENGTH], "13");
}

#[test]
fn prerendered_numbers_match_formatted_ones() {
    assert_eq!(seconds(0), "0");
    assert_eq!(seconds(3600), "3600");
    assert_eq!(seconds(86_400), "86400");
    assert_eq!(max_age(42), "max-age=42");
    assert_eq!(max_age(7200), "max-age=7200");
}

#[test]
fn the_hit_templates_give_the_headers_inserted_one_by_one() {
    let stored = entry(StatusCode::OK);
    let etag = stored.etag_header().to_str().unwrap().to_owned();
    let id = HeaderValue::from_static("req-1");
    for (method, conditional) in [
        (Method::GET, None),
        (Method::HEAD, None),
        (Method::GET, Some(etag.as_str())),
        (Method::GET, Some("\"other\"")),
    ] {
        let headers = conditional.map_or_else(HeaderMap::new, if_none_match);
        let request = RenderRequest {
            method: &method,
            headers: &headers,
            request_id: Some(&id),
        };
        let age = stored.age(Instant::now());
        let not_modified = conditional == Some(etag.as_str());
        let template = fresh_hit_template(&stored, CacheOutcome::Hit, true, &request, not_modified)
            .expect("a template covers a fresh hit");
        let expected = headers_one_by_one(
            age,
            &stored,
            CacheOutcome::Hit,
            true,
            &request,
            not_modified,
        );
        let filled = template.fill(age, &stored, request.request_id);
        let pairs = |map: &HeaderMap| {
            map.iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&filled), pairs(&expected), "{method} {conditional:?}");
        assert_eq!(filled[REQUEST_ID], "req-1");
    }
}

#[test]
fn answers_the_templates_do_not_cover_are_built_one_by_one() {
    let stored = entry(StatusCode::OK);
    let headers = HeaderMap::new();
    let request = RenderRequest {
        method: &Method::GET,
        headers: &headers,
        request_id: None,
    };
    assert!(fresh_hit_template(&stored, CacheOutcome::Hit, true, &request, false).is_none());
    let id = HeaderValue::from_static("x");
    let with_id = RenderRequest {
        request_id: Some(&id),
        ..request
    };
    let stale = CacheOutcome::Stale(StaleReason::Revalidating);
    assert!(fresh_hit_template(&stored, stale, true, &with_id, false).is_none());
    let not_found = entry(StatusCode::NOT_FOUND);
    assert!(fresh_hit_template(&not_found, CacheOutcome::Hit, true, &with_id, false).is_none());
}
