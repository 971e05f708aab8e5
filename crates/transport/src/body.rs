//! Reading a reply's body chunk by chunk under a byte limit, so an oversized body is never
//! buffered whole.

use bytes::{Bytes, BytesMut};

/// Why a body could not be read.
pub(crate) enum BodyError {
    /// The body is longer than the limit (announced or seen).
    TooLarge,
    /// The connection failed mid-body.
    Read(reqwest::Error),
}

/// Reads the whole body of `response`, failing as soon as more than `limit` bytes are
/// announced by `Content-Length` or received.
pub(crate) async fn read_limited(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    // A single-chunk body, the common case, is returned without a copy.
    let Some(first) = response.chunk().await.map_err(BodyError::Read)? else {
        return Ok(Bytes::new());
    };
    if first.len() > limit {
        return Err(BodyError::TooLarge);
    }
    let Some(second) = response.chunk().await.map_err(BodyError::Read)? else {
        return Ok(first);
    };
    // The announced length is at most `limit`, so reserving it is bounded.
    let expected = announced.and_then(|length| usize::try_from(length).ok());
    let mut body = BytesMut::with_capacity(expected.unwrap_or(first.len() + second.len()));
    let mut chunk = Some(second);
    body.extend_from_slice(&first);
    while let Some(next) = chunk {
        if body.len() + next.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&next);
        chunk = response.chunk().await.map_err(BodyError::Read)?;
    }
    Ok(body.freeze())
}
