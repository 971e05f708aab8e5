//! Unit tests for the listener's limits: the canned overload answer, limits from settings, and
//! the pause after failed accepts.

use std::io;
use std::time::Duration;

use super::refusal::{HeadEndFinder, overloaded_answer};
use super::*;

fn settings(args: &[&str]) -> Result<Settings, crate::config::ConfigError> {
    Settings::load(["alumio-gateway", "--demo"].iter().chain(args))
}

#[test]
fn the_overload_answer_is_a_complete_503_in_alumios_error_shape() {
    let answer = overloaded_answer();
    let text = std::str::from_utf8(&answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    assert_eq!(lines.next(), Some("HTTP/1.1 503 Service Unavailable"));
    let headers: Vec<&str> = lines.collect();
    for expected in [
        "Content-Type: application/json",
        "Retry-After: 1",
        "Connection: close",
        "Cache-Control: no-store",
    ] {
        assert!(
            headers.contains(&expected),
            "{expected} missing: {headers:?}"
        );
    }
    assert!(headers.contains(&format!("Content-Length: {}", body.len()).as_str()));
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["status"], "503");
    assert_eq!(error["title"], "Service Unavailable");
    assert!(error["detail"].as_str().unwrap().contains("overloaded"));
}

#[test]
fn default_limits_are_the_documented_ones() {
    let limits = ServeLimits::default();
    assert_eq!(limits.max_connections, 10_000);
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(limits.max_header_bytes, 16 * 1024);
    assert_eq!(limits.drain_timeout, Duration::from_secs(10));
    assert_eq!(ServeLimits::from(&settings(&[]).unwrap()), limits);
}

#[test]
fn limits_come_from_the_settings() {
    let settings = settings(&[
        "--max-connections",
        "7",
        "--header-read-timeout",
        "250ms",
        "--max-header-bytes",
        "32KiB",
        "--shutdown-timeout",
        "3s",
    ])
    .unwrap();
    let limits = ServeLimits::from(&settings);
    assert_eq!(limits.max_connections, 7);
    assert_eq!(limits.header_read_timeout, Duration::from_millis(250));
    assert_eq!(limits.max_header_bytes, 32 * 1024);
    assert_eq!(limits.drain_timeout, Duration::from_secs(3));
}

#[test]
fn limits_the_listener_cannot_keep_are_refused_at_start_up() {
    for (flag, value) in [
        ("--max-connections", "0"),
        ("--header-read-timeout", "0s"),
        ("--max-header-bytes", "4KiB"),
    ] {
        let error = settings(&[flag, value]).unwrap_err().to_string();
        assert!(error.contains(flag), "{flag} {value}: {error}");
    }
}

#[test]
fn a_head_limit_below_hypers_minimum_is_raised_not_a_panic() {
    let limits = ServeLimits {
        max_header_bytes: 0,
        ..ServeLimits::default()
    };
    let _ = http1_builder(&limits);
}

#[test]
fn failed_accepts_pause_longer_each_time_up_to_a_bound() {
    let mut pause = AcceptPause::default();
    assert!(pause.resume_at().is_none());
    let too_many_files = io::Error::from_raw_os_error(24);
    let pauses: Vec<Duration> = (0..10)
        .map(|_| pause.failed(&too_many_files).unwrap())
        .collect();
    assert!(pause.resume_at().is_some());
    assert_eq!(pauses[0], FIRST_ACCEPT_PAUSE);
    assert_eq!(pauses[1], FIRST_ACCEPT_PAUSE * 2);
    assert!(pauses.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!(pauses[9], MAX_ACCEPT_PAUSE);
    pause.succeeded();
    assert!(pause.resume_at().is_none());
    assert_eq!(pause.failed(&too_many_files), Some(FIRST_ACCEPT_PAUSE));
}

#[test]
fn a_connection_failing_before_accept_does_not_pause_the_listener() {
    let mut pause = AcceptPause::default();
    let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
    assert_eq!(pause.failed(&aborted), None);
    assert!(pause.resume_at().is_none());
}

#[test]
fn the_end_of_a_request_head_is_found_across_pieces() {
    let mut finder = HeadEndFinder::default();
    assert!(!finder.found_in(b"GET / HTTP/1.1\r\nHost: x\r"));
    assert!(!finder.found_in(b"\n\r"));
    assert!(finder.found_in(b"\n"));

    let mut finder = HeadEndFinder::default();
    assert!(!finder.found_in(b"a\r\n\nb\r\r\n\r"));
    assert!(finder.found_in(b"\r\n\r\n"));
}
