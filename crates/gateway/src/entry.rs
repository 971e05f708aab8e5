//! `StoredResponse`: an upstream answer as the gateway keeps it, body and headers rendered once
//! when it is stored so that a hit only copies reference-counted bytes.

use std::sync::{Arc, LazyLock};
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
/// A million of these may be held at once, inside moka's own record of each entry, so the struct
/// is a cheap handle of 56 bytes that moka clones on every lookup: the body and its validator
/// share one reference-counted block, the headers that are almost always absent or the same
/// (`Retry-After`, a `Content-Type` other than JSON) cost a pointer until they are present, the
/// moment it was stored is eight bytes and the freshness lifetime four.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    /// The body, then its `ETAG_LEN`-byte validator.
    block: Bytes,
    rare: Option<Arc<RareHeaders>>,
    stored_at: Moment,
    fresh_for: CompactDuration,
    status: StatusCode,
    kind: EntryKind,
}

/// The headers few answers carry, stored out of line.
#[derive(Debug, Default, Clone)]
struct RareHeaders {
    content_type: Option<HeaderValue>,
    retry_after: Option<HeaderValue>,
}

/// A moment in eight bytes, where an `Instant` takes sixteen: nanoseconds from the first moment
/// the process took, signed so that a copy another replica stored before this process started
/// keeps its age. It reaches 292 years either way.
#[derive(Debug, Clone, Copy)]
struct Moment(i64);

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

impl Moment {
    fn of(instant: Instant) -> Self {
        let epoch = *EPOCH;
        let nanos = |duration: Duration| i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        match instant.checked_duration_since(epoch) {
            Some(after) => Self(nanos(after)),
            None => Self(-nanos(epoch.duration_since(instant))),
        }
    }

    fn instant(self) -> Instant {
        let epoch = *EPOCH;
        let offset = Duration::from_nanos(self.0.unsigned_abs());
        let moment = if self.0 >= 0 {
            epoch.checked_add(offset)
        } else {
            epoch.checked_sub(offset)
        };
        moment.unwrap_or(epoch)
    }

    /// How long after `self` `later` is (zero if it is not later).
    fn until(self, later: Instant) -> Duration {
        let elapsed = Self::of(later).0.saturating_sub(self.0);
        Duration::from_nanos(u64::try_from(elapsed).unwrap_or(0))
    }
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

/// Bookkeeping bytes an entry costs beyond its body, validator, content type and key: moka's
/// per-entry records (the value entry that holds this struct, entry info, deque node, hash
/// bucket), the body's shared header, the key's allocation and the allocator's headers and
/// fragmentation. Measured, not guessed (docs/performance.md, `examples/entry_footprint.rs` and
/// the load benchmark's Zipf fill: 562 bytes above the body at a million entries, of which the
/// validator and key are 70), and rounded up, so `--cache-max-bytes` bounds resident memory,
/// not just bodies.
const ENTRY_OVERHEAD_BYTES: usize = 520;

impl StoredResponse {
    /// Stores `body` with its validator computed now.
    pub fn new(
        status: StatusCode,
        body: Bytes,
        content_type: HeaderValue,
        kind: EntryKind,
        fresh_for: Duration,
    ) -> Self {
        let rare = (content_type != JSON).then(|| {
            Arc::new(RareHeaders {
                content_type: Some(compact_header(&content_type)),
                retry_after: None,
            })
        });
        Self {
            block: body_with_etag(&body),
            rare,
            stored_at: Moment::of(Instant::now()),
            fresh_for: CompactDuration::new(fresh_for),
            status,
            kind,
        }
    }

    /// The same answer relaying Alumio's `Retry-After` (uncacheable errors such as a 429).
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<HeaderValue>) -> Self {
        if let Some(value) = retry_after {
            let rare = self.rare.get_or_insert_default();
            Arc::make_mut(rare).retry_after = Some(compact_header(&value));
        }
        self
    }

    /// The same answer as received at `stored_at` rather than now, for a copy that another
    /// replica stored first.
    #[must_use]
    pub fn with_stored_at(mut self, stored_at: Instant) -> Self {
        self.stored_at = Moment::of(stored_at);
        self
    }

    /// The status Alumio answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body exactly as Alumio sent it.
    pub fn body(&self) -> &[u8] {
        &self.block[..self.body_len()]
    }

    /// The body as a handle on the stored bytes, to send without copying them.
    pub fn shared_body(&self) -> Bytes {
        self.block.slice(..self.body_len())
    }

    fn body_len(&self) -> usize {
        self.block.len() - ETAG_LEN
    }

    /// `Content-Type` to send.
    pub fn content_type(&self) -> &HeaderValue {
        self.rare
            .as_ref()
            .and_then(|rare| rare.content_type.as_ref())
            .unwrap_or(&JSON)
    }

    /// A strong validator computed from the body, as it is sent.
    pub fn etag(&self) -> &[u8] {
        &self.block[self.body_len()..]
    }

    /// The validator as a header value sharing the stored bytes.
    pub fn etag_header(&self) -> HeaderValue {
        HeaderValue::from_maybe_shared(self.block.slice(self.body_len()..))
            .unwrap_or(HeaderValue::from_static("\"0\""))
    }

    /// Alumio's `Retry-After`, relayed with uncacheable errors such as a 429.
    pub fn retry_after(&self) -> Option<&HeaderValue> {
        self.rare.as_ref()?.retry_after.as_ref()
    }

    /// When the answer was received.
    pub fn stored_at(&self) -> Instant {
        self.stored_at.instant()
    }

    /// How long after `stored_at` the answer is fresh.
    pub fn fresh_for(&self) -> Duration {
        self.fresh_for.get()
    }

    /// What the answer is.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// How long ago the answer was received, at `now`. Reading it costs about a hundred
    /// instructions, so a hit reads it once and asks the rest of its questions of the age.
    pub fn age(&self, now: Instant) -> Duration {
        self.stored_at.until(now)
    }

    /// Whether an answer `age` old may still be served as fresh.
    pub fn is_fresh_at_age(&self, age: Duration) -> bool {
        age < self.fresh_for()
    }

    /// Whether this entry may still be served as fresh at `now`.
    pub fn is_fresh(&self, now: Instant) -> bool {
        self.is_fresh_at_age(self.age(now))
    }

    /// How long ago freshness ended at `now` (zero while fresh).
    pub fn stale_for(&self, now: Instant) -> Duration {
        self.age(now).saturating_sub(self.fresh_for())
    }

    /// Whole seconds since the answer was received.
    pub fn age_secs(&self, now: Instant) -> u64 {
        self.age(now).as_secs()
    }

    /// Whole seconds of freshness left at `now`.
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        self.age_and_remaining_secs(self.age(now)).1
    }

    /// `Age` and `max-age` in whole seconds for an answer `age` old.
    pub fn age_and_remaining_secs(&self, age: Duration) -> (u64, u64) {
        (
            age.as_secs(),
            self.fresh_for().saturating_sub(age).as_secs(),
        )
    }

    /// What this entry costs the cache's byte budget, key included.
    pub fn weight(&self, key_len: usize) -> u32 {
        let rare = self.rare.as_ref().map_or(0, |rare| {
            let len = |value: &Option<HeaderValue>| value.as_ref().map_or(0, HeaderValue::len);
            RARE_HEADERS_BYTES + len(&rare.content_type) + len(&rare.retry_after)
        });
        let bytes = self.block.len() + rare + key_len;
        u32::try_from(bytes + ENTRY_OVERHEAD_BYTES).unwrap_or(u32::MAX)
    }
}

/// What the out-of-line headers cost besides their bytes: the box and their own allocations.
const RARE_HEADERS_BYTES: usize = 160;

/// The body and its validator, copied into one allocation of their own. What the HTTP client
/// hands over is often a slice of its whole read buffer; storing the slice would pin that
/// buffer, several times the body's size, for as long as the entry lives.
fn body_with_etag(body: &[u8]) -> Bytes {
    let mut block = Vec::with_capacity(body.len() + ETAG_LEN);
    block.extend_from_slice(body);
    write_strong_etag(body, &mut block);
    Bytes::from(block)
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
        assert!(a.etag().starts_with(b"\""));
        assert!(a.etag().ends_with(b"\""));
        assert_eq!(a.etag_header().as_bytes(), a.etag());
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
        assert_eq!(entry.body(), &read_buffer[0..100]);
        assert_eq!(entry.shared_body(), read_buffer.slice(0..100));
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
    fn an_entry_is_a_handle_of_at_most_56_bytes() {
        assert!(std::mem::size_of::<StoredResponse>() <= 56);
    }

    #[test]
    fn an_entry_keeps_the_moment_it_was_stored_even_before_the_process_began() {
        let now = Instant::now();
        for age in [
            Duration::ZERO,
            Duration::from_millis(1500),
            Duration::from_secs(7200),
        ] {
            let Some(then) = now.checked_sub(age) else {
                continue;
            };
            let entry = stored(b"{}", Duration::from_secs(60)).with_stored_at(then);
            assert_eq!(entry.stored_at(), then);
            assert_eq!(entry.age_secs(now), age.as_secs());
            assert_eq!(entry.is_fresh(now), age < Duration::from_secs(60));
            assert_eq!(
                entry.stale_for(now),
                age.saturating_sub(Duration::from_secs(60))
            );
        }
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
