//! `StoredResponse`: an upstream answer as the gateway keeps it, body and headers rendered once
//! when it is stored so that a hit only copies reference-counted bytes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::hex;
use crate::metrics::MetricLabel;

/// What kind of answer an entry holds; it chose the entry's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A task whose status is still moving, or unknown to the gateway.
    ActiveTask,
    /// A task the route is done with.
    SettledTask,
    /// Alumio's 404: no such task (or pruned).
    NotFound,
    /// An Alumio error that is relayed once and never stored.
    Uncacheable,
}

/// One upstream answer, ready to be sent to any number of consumers.
///
/// A million of these may be held at once, so the struct is kept within 104 bytes (one
/// 128-byte block with its `Arc`): the body and its validator share one allocation, the headers
/// that are almost always absent or the same (`Retry-After`, a `Content-Type` other than JSON)
/// cost a pointer until they are present, and the freshness lifetime is four bytes.
#[derive(Debug)]
pub struct StoredResponse {
    body: Bytes,
    etag: HeaderValue,
    rare: Option<Box<RareHeaders>>,
    stored_at: Instant,
    fresh_for: CompactDuration,
    status: StatusCode,
    kind: EntryKind,
}

/// The headers few answers carry, stored out of line.
#[derive(Debug, Default)]
struct RareHeaders {
    content_type: Option<HeaderValue>,
    retry_after: Option<HeaderValue>,
}

/// A duration in four bytes: milliseconds up to about 24 days, whole seconds beyond (up to
/// 68 years), which is as precise as a time to live needs to be.
#[derive(Debug, Clone, Copy)]
struct CompactDuration(u32);

impl CompactDuration {
    const IN_SECONDS: u32 = 1 << 31;

    fn new(duration: Duration) -> Self {
        match u32::try_from(duration.as_millis()) {
            Ok(millis) if millis < Self::IN_SECONDS => Self(millis),
            _ => {
                let secs = u32::try_from(duration.as_secs()).unwrap_or(u32::MAX);
                Self(Self::IN_SECONDS | secs.min(Self::IN_SECONDS - 1))
            }
        }
    }

    fn get(self) -> Duration {
        if self.0 & Self::IN_SECONDS == 0 {
            Duration::from_millis(u64::from(self.0))
        } else {
            Duration::from_secs(u64::from(self.0 & !Self::IN_SECONDS))
        }
    }
}

/// The usual `Content-Type`, which entries do not store.
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// How the gateway came by the answer it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Served from the cache while fresh.
    Hit,
    /// Served fresh from the shared tier, stored there by another replica.
    SharedHit,
    /// Fetched from Alumio for this request, and stored if it may be.
    Miss,
    /// Joined a fetch another request had already started for the same key.
    Collapsed,
    /// Served a copy past its freshness.
    Stale(StaleReason),
}

/// Why a stale copy was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleReason {
    /// Within stale-while-revalidate: a refresh runs in the background.
    Revalidating,
    /// Alumio failed (or the gateway is protecting it) and this is the last good answer.
    UpstreamFailed,
}

impl MetricLabel for StaleReason {
    const NAME: &'static str = "reason";
    const ALL: &'static [Self] = &[Self::Revalidating, Self::UpstreamFailed];

    fn as_str(self) -> &'static str {
        match self {
            Self::Revalidating => "revalidating",
            Self::UpstreamFailed => "upstream-failed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl CacheOutcome {
    /// The outcome as a lowercase word for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit | Self::SharedHit => "hit",
            Self::Miss => "miss",
            Self::Collapsed => "collapsed",
            Self::Stale(_) => "stale",
        }
    }
}

/// Bookkeeping bytes an entry costs beyond its body, validator, content type and key: the
/// struct in its `Arc`, the key's allocation, moka's per-entry records (entry info, deque
/// node, hash bucket) and the allocator's headers and fragmentation. Measured, not guessed
/// (docs/performance.md, `examples/entry_footprint.rs` and the load benchmark's Zipf fill:
/// 648 bytes above the body at a million entries, of which the validator and key are 70), and
/// rounded up, so `--cache-max-bytes` bounds resident memory, not just bodies.
const ENTRY_OVERHEAD_BYTES: usize = 600;

impl StoredResponse {
    /// Stores `body` with its validator computed now.
    pub fn new(
        status: StatusCode,
        body: Bytes,
        content_type: HeaderValue,
        kind: EntryKind,
        fresh_for: Duration,
    ) -> Self {
        let (body, etag) = body_with_etag(&body);
        let rare = (content_type != JSON).then(|| {
            Box::new(RareHeaders {
                content_type: Some(compact_header(&content_type)),
                retry_after: None,
            })
        });
        Self {
            body,
            etag,
            rare,
            stored_at: Instant::now(),
            fresh_for: CompactDuration::new(fresh_for),
            status,
            kind,
        }
    }

    /// The same answer relaying Alumio's `Retry-After` (uncacheable errors such as a 429).
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<HeaderValue>) -> Self {
        if let Some(value) = retry_after {
            self.rare.get_or_insert_default().retry_after = Some(compact_header(&value));
        }
        self
    }

    /// The same answer as received at `stored_at` rather than now, for a copy that another
    /// replica stored first.
    #[must_use]
    pub fn with_stored_at(mut self, stored_at: Instant) -> Self {
        self.stored_at = stored_at;
        self
    }

    /// The status Alumio answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body exactly as Alumio sent it.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// `Content-Type` to send.
    pub fn content_type(&self) -> &HeaderValue {
        self.rare
            .as_ref()
            .and_then(|rare| rare.content_type.as_ref())
            .unwrap_or(&JSON)
    }

    /// A strong validator computed from the body.
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// Alumio's `Retry-After`, relayed with uncacheable errors such as a 429.
    pub fn retry_after(&self) -> Option<&HeaderValue> {
        self.rare.as_ref()?.retry_after.as_ref()
    }

    /// When the answer was received.
    pub fn stored_at(&self) -> Instant {
        self.stored_at
    }

    /// How long after `stored_at` the answer is fresh.
    pub fn fresh_for(&self) -> Duration {
        self.fresh_for.get()
    }

    /// What the answer is.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// Whether this entry may still be served as fresh at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.stored_at) < self.fresh_for()
    }

    /// How long ago freshness ended at `now` (zero while fresh).
    pub fn stale_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.stored_at + self.fresh_for())
    }

    /// Whole seconds since the answer was received.
    pub fn age_secs(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.stored_at).as_secs()
    }

    /// Whole seconds of freshness left at `now`.
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        (self.stored_at + self.fresh_for())
            .saturating_duration_since(now)
            .as_secs()
    }

    /// What this entry costs the cache's byte budget, key included.
    pub fn weight(&self, key_len: usize) -> u32 {
        let rare = self.rare.as_ref().map_or(0, |rare| {
            let len = |value: &Option<HeaderValue>| value.as_ref().map_or(0, HeaderValue::len);
            RARE_HEADERS_BYTES + len(&rare.content_type) + len(&rare.retry_after)
        });
        let bytes = self.body.len() + self.etag.len() + rare + key_len;
        u32::try_from(bytes + ENTRY_OVERHEAD_BYTES).unwrap_or(u32::MAX)
    }
}

/// What the out-of-line headers cost besides their bytes: the box and their own allocations.
const RARE_HEADERS_BYTES: usize = 160;

/// The body and its validator, copied into one allocation of their own. What the HTTP client
/// hands over is often a slice of its whole read buffer; storing the slice would pin that
/// buffer, several times the body's size, for as long as the entry lives.
fn body_with_etag(body: &[u8]) -> (Bytes, HeaderValue) {
    let mut block = Vec::with_capacity(body.len() + ETAG_LEN);
    block.extend_from_slice(body);
    write_strong_etag(body, &mut block);
    let block = Bytes::from(block);
    let etag = HeaderValue::from_maybe_shared(block.slice(body.len()..))
        .unwrap_or(HeaderValue::from_static("\"0\""));
    (block.slice(..body.len()), etag)
}

/// A copy of a header value that does not pin the response head it was sliced from.
fn compact_header(value: &HeaderValue) -> HeaderValue {
    HeaderValue::from_bytes(value.as_bytes())
        .unwrap_or(HeaderValue::from_static("application/json"))
}

/// `"` + 32 hex digits + `"`.
const ETAG_LEN: usize = 34;

/// Appends `"` + the first 128 bits of the body's SHA-256 in hex + `"`: the same bytes always
/// give the same tag, on every replica of the gateway.
fn write_strong_etag(body: &[u8], out: &mut Vec<u8>) {
    let digest = Sha256::digest(body);
    let start = out.len();
    out.resize(start + ETAG_LEN, b'"');
    hex::encode_into(&digest[..16], &mut out[start + 1..start + ETAG_LEN - 1]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &'static [u8], fresh_for: Duration) -> StoredResponse {
        StoredResponse::new(
            StatusCode::OK,
            Bytes::from_static(body),
            HeaderValue::from_static("application/json"),
            EntryKind::SettledTask,
            fresh_for,
        )
    }

    #[test]
    fn the_etag_depends_only_on_the_body() {
        let a = stored(b"{\"a\":1}", Duration::from_secs(1));
        let again = stored(b"{\"a\":1}", Duration::from_secs(9));
        let b = stored(b"{\"a\":2}", Duration::from_secs(1));
        assert_eq!(a.etag(), again.etag());
        assert_ne!(a.etag(), b.etag());
        assert_eq!(a.etag().len(), 34);
        assert!(a.etag().to_str().unwrap().starts_with('"'));
        assert!(a.etag().to_str().unwrap().ends_with('"'));
    }

    #[test]
    fn the_stored_body_does_not_pin_the_buffer_it_was_cut_from() {
        let read_buffer = Bytes::from(vec![b'x'; 64 * 1024]);
        let entry = StoredResponse::new(
            StatusCode::OK,
            read_buffer.slice(0..100),
            HeaderValue::from_static("application/json"),
            EntryKind::SettledTask,
            Duration::ZERO,
        );
        assert_eq!(entry.body().len(), 100);
        assert_eq!(entry.body(), &read_buffer.slice(0..100));
        assert!(
            read_buffer.is_unique(),
            "the read buffer is no longer shared"
        );
    }

    #[test]
    fn freshness_ends_after_fresh_for() {
        let entry = stored(b"{}", Duration::from_secs(10));
        let start = entry.stored_at();
        assert!(entry.is_fresh(start + Duration::from_secs(9)));
        assert!(!entry.is_fresh(start + Duration::from_secs(10)));
        assert_eq!(entry.remaining_secs(start + Duration::from_millis(2500)), 7);
        assert_eq!(entry.age_secs(start + Duration::from_millis(2500)), 2);
    }

    #[test]
    fn an_entry_stays_within_one_small_block() {
        assert!(std::mem::size_of::<StoredResponse>() <= 104);
    }

    #[test]
    fn rare_headers_are_kept_when_present() {
        let plain = stored(b"{}", Duration::ZERO);
        assert_eq!(plain.content_type(), "application/json");
        assert_eq!(plain.retry_after(), None);
        let entry = StoredResponse::new(
            StatusCode::TOO_MANY_REQUESTS,
            Bytes::from_static(b"{}"),
            HeaderValue::from_static("application/problem+json"),
            EntryKind::Uncacheable,
            Duration::ZERO,
        )
        .with_retry_after(Some(HeaderValue::from_static("30")));
        assert_eq!(entry.content_type(), "application/problem+json");
        assert_eq!(entry.retry_after().unwrap(), "30");
        assert!(entry.weight(0) > plain.weight(0));
    }

    #[test]
    fn lifetimes_keep_millisecond_precision_and_long_ones_whole_seconds() {
        for (given, kept) in [
            (Duration::from_millis(300), Duration::from_millis(300)),
            (Duration::from_secs(3600), Duration::from_secs(3600)),
            (
                Duration::from_secs(30 * 86_400) + Duration::from_millis(5),
                Duration::from_secs(30 * 86_400),
            ),
            (Duration::MAX, Duration::from_secs(u64::from(u32::MAX >> 1))),
        ] {
            assert_eq!(stored(b"{}", given).fresh_for(), kept, "{given:?}");
        }
    }

    #[test]
    fn the_weight_counts_the_body() {
        let small = stored(b"{}", Duration::ZERO).weight(10);
        let large = stored(&[b' '; 4096], Duration::ZERO).weight(10);
        assert_eq!(large - small, 4094);
    }
}
