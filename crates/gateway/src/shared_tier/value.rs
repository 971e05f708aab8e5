//! The binary form of what the shared tier stores: an answer with everything needed to serve
//! it, or a key's remembered failure. Versioned and checksummed, and checked field by field
//! on the way back, so a corrupt or foreign value is refused instead of served.
//!
//! Layout, big-endian: magic `AGST`, version, record, kind, a zero byte, then the stale window,
//! `fresh_for` and stored-at (Unix ms) as u64 ms, the status as u16, content type and ETag as
//! u16-length strings, a Retry-After flag byte and string, the body as u32-length bytes, and
//! the first 8 bytes of a SHA-256 over the owner's id and everything before. The owner is the
//! digest naming the task's keys, so a value copied under another task's key (or under the
//! same task's key of another purge generation) fails its checksum and is never served. The
//! lookup script reads the stale window at bytes 8..16 to tell fresh from stale without a
//! second round trip.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::entry::{EntryKind, StoredResponse};

const MAGIC: &[u8; 4] = b"AGST";
const VERSION: u8 = 1;
const CHECKSUM_LEN: usize = 8;
/// Bytes 8..16 hold the stale window; the Lua lookup relies on this offset.
#[cfg(test)]
pub(crate) const STALE_WINDOW_OFFSET: usize = 8;

/// What a stored record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    Answer = 0,
    RelayedFailure = 1,
    Timeout = 2,
    Unreachable = 3,
    BadReply = 4,
}

/// A key's failure as the fleet remembers it while the key backs off.
#[derive(Debug)]
pub enum SharedFailure {
    /// Alumio answered with an error (5xx, 429) that is relayed as it came.
    Relayed(StoredResponse),
    /// Alumio did not answer in time.
    Timeout,
    /// Alumio could not be reached.
    Unreachable,
    /// Alumio's reply could not be used.
    BadReply,
}

/// Why a stored value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("shared tier value refused: {0}")]
pub struct Corrupt(pub &'static str);

/// A decoded value, before it is placed in time.
#[derive(Debug)]
pub(super) struct Decoded {
    record: Record,
    /// How long past freshness the writer kept the value.
    pub(super) stale_window: Duration,
    /// The answer (for a failure record, the relayed error or an empty placeholder).
    response: StoredResponse,
}

/// Encodes an answer kept `stale_window` past its freshness, for the task whose keys `owner`
/// names.
pub(super) fn encode_answer(
    response: &StoredResponse,
    stale_window: Duration,
    owner: &str,
) -> Vec<u8> {
    encode(Record::Answer, response, stale_window, owner)
}

/// Encodes a remembered failure of the task whose keys `owner` names.
pub(super) fn encode_failure(failure: &SharedFailure, owner: &str) -> Vec<u8> {
    let placeholder;
    let (record, response) = match failure {
        SharedFailure::Relayed(response) => (Record::RelayedFailure, response),
        other => {
            placeholder = empty_response();
            let record = match other {
                SharedFailure::Timeout => Record::Timeout,
                SharedFailure::Unreachable => Record::Unreachable,
                _ => Record::BadReply,
            };
            (record, &placeholder)
        }
    };
    encode(record, response, Duration::ZERO, owner)
}

fn empty_response() -> StoredResponse {
    StoredResponse::new(
        StatusCode::BAD_GATEWAY,
        Bytes::new(),
        HeaderValue::from_static("application/json"),
        EntryKind::Uncacheable,
        Duration::ZERO,
    )
}

fn encode(
    record: Record,
    response: &StoredResponse,
    stale_window: Duration,
    owner: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + response.body().len() + response.content_type().len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[VERSION, record as u8, kind_byte(response.kind()), 0]);
    out.extend_from_slice(&millis(stale_window).to_be_bytes());
    out.extend_from_slice(&millis(response.fresh_for()).to_be_bytes());
    out.extend_from_slice(&unix_millis_now().to_be_bytes());
    out.extend_from_slice(&response.status().as_u16().to_be_bytes());
    put_short(&mut out, response.content_type().as_bytes());
    put_short(&mut out, response.etag());
    match response.retry_after() {
        Some(value) => {
            out.push(1);
            put_short(&mut out, value.as_bytes());
        }
        None => out.push(0),
    }
    let body_len = u32::try_from(response.body().len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&body_len.to_be_bytes());
    out.extend_from_slice(response.body());
    let checksum = checksum(owner, &out);
    out.extend_from_slice(&checksum[..CHECKSUM_LEN]);
    out
}

/// The SHA-256 of `owner`, length-prefixed, then `content`.
fn checksum(owner: &str, content: &[u8]) -> [u8; 32] {
    let owner_len = u16::try_from(owner.len()).unwrap_or(u16::MAX);
    Sha256::new()
        .chain_update(owner_len.to_be_bytes())
        .chain_update(owner.as_bytes())
        .chain_update(content)
        .finalize()
        .into()
}

/// Decodes `bytes` read from the keys `owner` names, refusing anything not written by this
/// version for this owner, or damaged on the way, and bodies over `max_body`.
pub(super) fn decode(bytes: &[u8], owner: &str, max_body: usize) -> Result<Decoded, Corrupt> {
    let (content, checksum) = bytes
        .split_at_checked(bytes.len().saturating_sub(CHECKSUM_LEN))
        .ok_or(Corrupt("too short"))?;
    if checksum.len() != CHECKSUM_LEN || self::checksum(owner, content)[..CHECKSUM_LEN] != *checksum
    {
        return Err(Corrupt("checksum mismatch"));
    }
    let mut reader = Reader { rest: content };
    if reader.take(4)? != MAGIC {
        return Err(Corrupt("not a gateway value"));
    }
    let [version, record, kind, _] = reader.array::<4>()?;
    if version != VERSION {
        return Err(Corrupt("unknown format version"));
    }
    let record = match record {
        0 => Record::Answer,
        1 => Record::RelayedFailure,
        2 => Record::Timeout,
        3 => Record::Unreachable,
        4 => Record::BadReply,
        _ => return Err(Corrupt("unknown record")),
    };
    let kind = match kind {
        0 => EntryKind::ActiveTask,
        1 => EntryKind::SettledTask,
        2 => EntryKind::NotFound,
        3 => EntryKind::Uncacheable,
        _ => return Err(Corrupt("unknown kind")),
    };
    let stale_window = Duration::from_millis(u64::from_be_bytes(reader.array()?));
    let fresh_for = Duration::from_millis(u64::from_be_bytes(reader.array()?));
    let _stored_at_unix_ms = u64::from_be_bytes(reader.array()?);
    let status = StatusCode::from_u16(u16::from_be_bytes(reader.array()?))
        .map_err(|_| Corrupt("invalid status"))?;
    let content_type = header(reader.short()?)?;
    let etag = reader.short()?.to_vec();
    let retry_after = match reader.array::<1>()? {
        [0] => None,
        [1] => Some(header(reader.short()?)?),
        _ => return Err(Corrupt("invalid retry-after flag")),
    };
    let body_len = u32::from_be_bytes(reader.array()?) as usize;
    if body_len > max_body {
        return Err(Corrupt("body over --upstream-max-body"));
    }
    let body = Bytes::copy_from_slice(reader.take(body_len)?);
    if !reader.rest.is_empty() {
        return Err(Corrupt("trailing bytes"));
    }
    let consistent = match record {
        Record::Answer => kind != EntryKind::Uncacheable && !fresh_for.is_zero(),
        _ => kind == EntryKind::Uncacheable,
    };
    if !consistent {
        return Err(Corrupt("kind does not fit the record"));
    }
    let response = StoredResponse::new(status, body, content_type, kind, fresh_for)
        .with_retry_after(retry_after);
    if response.etag() != etag.as_slice() {
        return Err(Corrupt("etag does not match the body"));
    }
    Ok(Decoded {
        record,
        stale_window,
        response,
    })
}

impl Decoded {
    /// The answer placed in this replica's time, given the value's remaining lifetime as
    /// Redis measured it (`PTTL`): the age is `fresh_for` minus what is left of freshness, so
    /// no replica's clock is trusted. `None` for a failure record or an impossible lifetime.
    pub(super) fn into_answer(self, pttl: Duration, now: Instant) -> Option<StoredResponse> {
        if self.record != Record::Answer {
            return None;
        }
        let response = self.response;
        let remaining_fresh = pttl.checked_sub(self.stale_window);
        let age = match remaining_fresh {
            Some(left) => response.fresh_for().checked_sub(left)?,
            // Stale already: by how much the stale window is used up.
            None => response.fresh_for() + (self.stale_window - pttl),
        };
        Some(response.with_stored_at(now.checked_sub(age)?))
    }

    /// The remembered failure, if this is a failure record.
    pub(super) fn into_failure(self) -> Option<SharedFailure> {
        match self.record {
            Record::Answer => None,
            Record::RelayedFailure => Some(SharedFailure::Relayed(self.response)),
            Record::Timeout => Some(SharedFailure::Timeout),
            Record::Unreachable => Some(SharedFailure::Unreachable),
            Record::BadReply => Some(SharedFailure::BadReply),
        }
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], Corrupt> {
        let (taken, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or(Corrupt("truncated"))?;
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Corrupt> {
        self.take(N)?.try_into().map_err(|_| Corrupt("truncated"))
    }

    fn short(&mut self) -> Result<&'a [u8], Corrupt> {
        let len = u16::from_be_bytes(self.array()?);
        self.take(usize::from(len))
    }
}

fn header(bytes: &[u8]) -> Result<HeaderValue, Corrupt> {
    HeaderValue::from_bytes(bytes).map_err(|_| Corrupt("invalid header value"))
}

fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    // Header values the gateway keeps are far shorter; a longer one is cut, and then refused
    // on the way back by its checksum-covered length.
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes[..usize::from(len)]);
}

fn kind_byte(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::ActiveTask => 0,
        EntryKind::SettledTask => 1,
        EntryKind::NotFound => 2,
        EntryKind::Uncacheable => 3,
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unix_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, millis)
}

#[cfg(test)]
mod tests;
