use super::*;

/// The id of the keys the values in these tests belong to.
const OWNER: &str = "5f0c2a";

fn answer(body: &'static [u8], fresh_for: Duration) -> StoredResponse {
    StoredResponse::new(
        StatusCode::OK,
        Bytes::from_static(body),
        HeaderValue::from_static("application/json; charset=utf-8"),
        EntryKind::SettledTask,
        fresh_for,
    )
    .with_retry_after(Some(HeaderValue::from_static("7")))
}

#[test]
fn an_answer_survives_the_round_trip() {
    let original = answer(br#"{"object":{"id":1}}"#, Duration::from_secs(300));
    let bytes = encode_answer(&original, Duration::from_secs(60), OWNER);
    let decoded = decode(&bytes, OWNER, 1024).unwrap();
    assert_eq!(decoded.stale_window, Duration::from_secs(60));
    let now = Instant::now();
    let back = decoded
        .into_answer(Duration::from_secs(300 + 60 - 20), now)
        .unwrap();
    assert_eq!(back.status(), original.status());
    assert_eq!(back.body(), original.body());
    assert_eq!(back.content_type(), original.content_type());
    assert_eq!(back.etag(), original.etag());
    assert_eq!(back.retry_after(), original.retry_after());
    assert_eq!(back.kind(), original.kind());
    assert_eq!(back.fresh_for(), original.fresh_for());
    assert_eq!(
        back.age_secs(now),
        20,
        "age comes from Redis's remaining TTL"
    );
    assert_eq!(back.remaining_secs(now), 280);
}

#[test]
fn a_value_past_freshness_comes_back_stale_by_the_right_amount() {
    let bytes = encode_answer(
        &answer(b"{}", Duration::from_secs(10)),
        Duration::from_secs(60),
        OWNER,
    );
    let now = Instant::now();
    let back = decode(&bytes, OWNER, 1024)
        .unwrap()
        .into_answer(Duration::from_secs(45), now)
        .unwrap();
    assert!(!back.is_fresh(now));
    assert_eq!(back.stale_for(now), Duration::from_secs(15));
}

#[test]
fn the_stale_window_sits_where_the_lookup_script_reads_it() {
    let bytes = encode_answer(
        &answer(b"{}", Duration::from_secs(1)),
        Duration::from_millis(0x0102_0304),
        OWNER,
    );
    let window = &bytes[STALE_WINDOW_OFFSET..STALE_WINDOW_OFFSET + 8];
    assert_eq!(window, &[0, 0, 0, 0, 1, 2, 3, 4]);
}

#[test]
fn every_flipped_byte_is_refused() {
    let bytes = encode_answer(
        &answer(b"{\"a\":1}", Duration::from_secs(5)),
        Duration::ZERO,
        OWNER,
    );
    for index in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[index] ^= 0x40;
        assert!(decode(&damaged, OWNER, 1024).is_err(), "byte {index}");
    }
    for len in 0..bytes.len() {
        assert!(
            decode(&bytes[..len], OWNER, 1024).is_err(),
            "truncated to {len}"
        );
    }
}

#[test]
fn foreign_values_are_refused() {
    for foreign in [
        &b""[..],
        b"{\"status\":200}",
        b"hello world, not ours at all",
    ] {
        assert!(decode(foreign, OWNER, 1024).is_err());
    }
}

#[test]
fn a_body_over_the_limit_is_refused() {
    let bytes = encode_answer(
        &answer(&[b' '; 100], Duration::from_secs(5)),
        Duration::ZERO,
        OWNER,
    );
    assert_eq!(
        decode(&bytes, OWNER, 99).unwrap_err(),
        Corrupt("body over --upstream-max-body")
    );
    assert!(decode(&bytes, OWNER, 100).is_ok());
}

#[test]
fn failures_round_trip_and_are_never_answers() {
    for failure in [
        SharedFailure::Timeout,
        SharedFailure::Unreachable,
        SharedFailure::BadReply,
    ] {
        let bytes = encode_failure(&failure, OWNER);
        let decoded = decode(&bytes, OWNER, 1024).unwrap();
        let back = decode(&bytes, OWNER, 1024).unwrap().into_failure().unwrap();
        assert_eq!(
            std::mem::discriminant(&back),
            std::mem::discriminant(&failure)
        );
        assert!(
            decoded
                .into_answer(Duration::from_secs(1), Instant::now())
                .is_none()
        );
    }
    let relayed = StoredResponse::new(
        StatusCode::SERVICE_UNAVAILABLE,
        Bytes::from_static(b"{\"status\":503}"),
        HeaderValue::from_static("application/json"),
        EntryKind::Uncacheable,
        Duration::ZERO,
    );
    let bytes = encode_failure(&SharedFailure::Relayed(relayed), OWNER);
    let Some(SharedFailure::Relayed(back)) = decode(&bytes, OWNER, 1024).unwrap().into_failure()
    else {
        panic!("a relayed failure comes back relayed");
    };
    assert_eq!(back.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(back.body(), b"{\"status\":503}");
}

#[test]
fn an_answer_record_is_never_a_failure() {
    let bytes = encode_answer(
        &answer(b"{}", Duration::from_secs(5)),
        Duration::ZERO,
        OWNER,
    );
    assert!(
        decode(&bytes, OWNER, 1024)
            .unwrap()
            .into_failure()
            .is_none()
    );
}

#[test]
fn a_value_read_under_another_tasks_keys_is_refused() {
    let bytes = encode_answer(
        &answer(b"{}", Duration::from_secs(5)),
        Duration::ZERO,
        OWNER,
    );
    assert!(decode(&bytes, OWNER, 1024).is_ok());
    assert_eq!(
        decode(&bytes, "5f0c2b", 1024).unwrap_err(),
        Corrupt("checksum mismatch")
    );
}
