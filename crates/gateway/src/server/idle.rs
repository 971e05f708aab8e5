//! The request-head deadline, kept per connection by a coarse watch instead of a timer armed for
//! every request.
//!
//! hyper's own `header_read_timeout` boxes and registers a fresh timer each time it starts
//! reading a head, so a keep-alive connection pays a timer-wheel insert and removal per request
//! (visible as `clear_entry`/`reregister` in profiles under load). Here a connection counts its
//! progress (heads read, answers written) in plain counters, and one watch per
//! connection looks at them a few times per deadline: a connection that made no progress for a
//! whole deadline while not answering a request is closed. A client gets at least
//! `header_read_timeout` and at most a quarter more.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};

/// How many times per deadline the watch looks.
const CHECKS_PER_DEADLINE: u32 = 4;

/// What one connection has done so far. Only the connection's own task touches it, so the
/// counters are bumped with plain loads and stores rather than read-modify-write operations.
#[derive(Debug, Default)]
pub(super) struct Progress {
    heads: AtomicU64,
    writes: AtomicU64,
    writes_at_last_head: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl Progress {
    /// A request head was read and handed to the service. hyper reads no further head before
    /// it has written the answer, so until the next write the connection is answering.
    pub(super) fn head_read(&self) {
        bump(&self.heads);
        let writes = self.writes.load(Ordering::Relaxed);
        self.writes_at_last_head.store(writes, Ordering::Relaxed);
    }

    /// Bytes of an answer were written.
    pub(super) fn wrote(&self) {
        bump(&self.writes);
    }

    /// Whether a request is being answered: a head came and no answer was written since.
    fn answering(&self) -> bool {
        self.heads.load(Ordering::Relaxed) > 0
            && self.writes.load(Ordering::Relaxed)
                == self.writes_at_last_head.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> (u64, u64) {
        (
            self.heads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// Completes once the connection behind `progress` has waited `deadline` for a request head
/// without receiving one; the caller then closes it.
pub(super) async fn head_deadline_passed(progress: &Progress, deadline: Duration) {
    let mut ticks = tokio::time::interval(deadline / CHECKS_PER_DEADLINE);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the deadline counts from the accept, which is now.
    ticks.tick().await;
    let mut seen = progress.snapshot();
    let mut quiet_checks = 0;
    loop {
        ticks.tick().await;
        let now = progress.snapshot();
        if now != seen || progress.answering() {
            seen = now;
            quiet_checks = 0;
            continue;
        }
        quiet_checks += 1;
        if quiet_checks >= CHECKS_PER_DEADLINE {
            return;
        }
    }
}

/// A connection's I/O that counts its writes as progress: a client taking in a large answer
/// slowly is not waiting for a head.
pub(super) struct CountedIo<T> {
    inner: T,
    progress: Arc<Progress>,
}

impl<T> CountedIo<T> {
    pub(super) fn new(inner: T, progress: Arc<Progress>) -> Self {
        Self { inner, progress }
    }
}

impl<T: Read + Unpin> Read for CountedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for CountedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf));
        this.progress.wrote();
        Poll::Ready(written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs));
        this.progress.wrote();
        Poll::Ready(written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_quiet_connection_is_closed_after_the_deadline_and_not_before() {
        let progress = Progress::default();
        let started = tokio::time::Instant::now();
        head_deadline_passed(&progress, Duration::from_secs(8)).await;
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(8), "{waited:?}");
        assert!(waited <= Duration::from_secs(10), "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_being_answered_keeps_the_connection_open() {
        let progress = Progress::default();
        progress.head_read();
        let watch = head_deadline_passed(&progress, Duration::from_secs(1));
        let outcome = tokio::time::timeout(Duration::from_secs(60), watch).await;
        assert!(outcome.is_err(), "closed while answering");
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_counts_from_the_last_answer() {
        let progress = Arc::new(Progress::default());
        let started = tokio::time::Instant::now();
        let answering = {
            let progress = Arc::clone(&progress);
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                progress.head_read();
                progress.wrote();
            }
        };
        let ((), ()) = tokio::join!(
            answering,
            head_deadline_passed(&progress, Duration::from_secs(4))
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(7), "{waited:?}");
        assert!(waited <= Duration::from_secs(9), "{waited:?}");
    }
}
