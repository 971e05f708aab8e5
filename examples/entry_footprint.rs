//! Resident memory per cached entry, in process and in seconds: N task-sized answers stored in
//! the gateway's moka tier the way a miss stores them, with the process's RSS read before and
//! after. It isolates what an entry costs from what a full gateway fill adds (connections,
//! upstream buffers), which `SCENARIOS=zipf scripts/load-bench.sh` measures.
//!
//! ```text
//! entry_footprint [N] [BODY_BYTES]      # defaults: 200000 entries of 1731 bytes
//! valgrind --tool=dhat entry_footprint 20000   # where the bytes of an entry are
//! ```

use std::error::Error;
use std::time::Duration;

use alumio_gateway::cache::{MokaResponseCache, ResponseCache};
use alumio_gateway::entry::{EntryKind, StoredResponse};
use alumio_gateway::key::TaskKey;
use bytes::{BufMut, BytesMut};
use http::{HeaderValue, StatusCode};

/// What the HTTP client's read buffer for one upstream answer holds at least.
const READ_BUFFER_BYTES: usize = 8 * 1024;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(200_000), |n| n.parse())?;
    let body_bytes: usize = args.next().map_or(Ok(1731), |n| n.parse())?;
    let cache = MokaResponseCache::new(6 << 30, Duration::from_secs(3600));
    let before = rss_bytes()?;
    for i in 0..n {
        // Like a miss: the body is a slice of a larger read buffer, and differs per task.
        let mut buffer = BytesMut::with_capacity(READ_BUFFER_BYTES);
        buffer.put_slice(format!("{{\"identifier\":\"{i:026}\",\"data\":\"").as_bytes());
        buffer.resize(body_bytes.saturating_sub(2), b'x');
        buffer.put_slice(b"\"}");
        let body = buffer.freeze().slice(..body_bytes.min(READ_BUFFER_BYTES));
        let identifier = format!("01J{i:023}");
        let space = format!("space=bench-{:03}", i % 100);
        let key =
            TaskKey::from_path_and_query(&format!("/api/v1/tasks/{identifier}"), Some(&space))?;
        let entry = StoredResponse::new(
            StatusCode::OK,
            body,
            HeaderValue::from_static("application/json"),
            EntryKind::SettledTask,
            Duration::from_secs(3600),
        );
        cache.insert(key, entry);
    }
    let usage = cache.usage();
    let after = rss_bytes()?;
    let per_entry = (after.saturating_sub(before)) / n.max(1) as u64;
    eprintln!(
        "entries={} rss_per_entry={per_entry} body={body_bytes} overhead={} weighed_per_entry={}",
        usage.entries,
        per_entry.saturating_sub(body_bytes as u64),
        usage.bytes / usage.entries.max(1),
    );
    Ok(())
}

/// The process's resident set, from `/proc/self/statm` (pages of 4 KiB on this platform).
fn rss_bytes() -> Result<u64, Box<dyn Error>> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or("statm has no resident field")?
        .parse()?;
    Ok(pages * 4096)
}
