//! Serving: accept connections within limits until shutdown is asked for, then let in-flight
//! requests finish within a bound.
//!
//! Each connection is HTTP/1.1 with keep-alive, served by hyper directly so that the listener
//! can enforce what `axum::serve` cannot: a deadline for the request head (which also ends idle
//! keep-alive connections; `idle.rs`), a cap on its size, and a cap on open connections, past
//! which a new connection gets a canned 503 instead of waiting in the kernel's backlog. What a
//! connection is answered by is any hyper service; the gateway's is the `Endpoint` of `routes`,
//! the hit path in front of the router, which this module knows nothing of.

mod idle;
mod refusal;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::Settings;
use idle::{CountedIo, Progress, head_deadline_passed};
use refusal::Refusals;

/// The smallest head limit hyper works with; a smaller one is raised to it.
const MIN_HEADER_BYTES: usize = 8 * 1024;

/// The first pause after a failed `accept`; it doubles up to [`MAX_ACCEPT_PAUSE`].
const FIRST_ACCEPT_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause after failed `accept`s in a row (such as running out of file descriptors).
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);

/// How often, at most, refused connections are reported at `warn`.
const REFUSAL_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// What the listener allows its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Most connections served at once; past it a new connection gets a 503 and is closed.
    /// At least 1.
    pub max_connections: usize,
    /// Longest a client may take to send a request head, counted from when the gateway starts
    /// waiting for it; this also ends idle keep-alive connections.
    pub header_read_timeout: Duration,
    /// Largest request head, request line and headers, in bytes; a larger one gets a 431 and
    /// the connection is closed. At least 8KiB (hyper's minimum).
    pub max_header_bytes: usize,
    /// After shutdown is asked for, how long in-flight requests may take to finish.
    pub drain_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

impl From<&Settings> for ServeLimits {
    fn from(settings: &Settings) -> Self {
        Self {
            max_connections: settings.max_connections,
            header_read_timeout: settings.header_read_timeout,
            max_header_bytes: usize::try_from(settings.max_header_bytes).unwrap_or(usize::MAX),
            drain_timeout: settings.shutdown_timeout,
        }
    }
}

/// Serves `service` (such as [`crate::endpoint`], or `Endpoint::from(router)`) on `listener`
/// with the default [`ServeLimits`] until `shutdown` completes, then stops accepting and waits
/// up to `drain_timeout` for in-flight requests before returning.
pub async fn run<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Duration,
) -> io::Result<()>
where
    S: Served<B>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limits = ServeLimits {
        drain_timeout,
        ..ServeLimits::default()
    };
    run_with_limits(listener, service, shutdown, limits).await
}

/// What a listener can serve: a hyper service, cloned for each connection, that never fails.
pub trait Served<B>:
    hyper::service::Service<
        Request<Incoming>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S, B> Served<B> for S where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `service` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting, lets in-flight requests finish within `limits.drain_timeout`, closes whatever is
/// still open and returns.
pub async fn run_with_limits<S, B>(
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
) -> io::Result<()>
where
    S: Served<B>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let http = http1_builder(&limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Refusals::new();
    let graceful = GracefulShutdown::new();
    // Every connection and refusal runs here, so none outlives `run` and each is reaped as it
    // ends; their number is bounded by the two semaphores.
    let mut tasks = JoinSet::new();
    let mut accept_pause = AcceptPause::default();
    let mut last_refusal_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let resume_at = accept_pause.resume_at();
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(ended) = tasks.join_next() => {
                if let Err(error) = ended {
                    tracing::error!(%error, "a connection task failed");
                }
            }
            accepted = async {
                if let Some(resume_at) = resume_at {
                    tokio::time::sleep_until(resume_at).await;
                }
                listener.accept().await
            } => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) => {
                        accept_pause.failed(&error);
                        continue;
                    }
                };
                accept_pause.succeeded();
                // Small responses must not wait for Nagle's algorithm.
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "could not set TCP_NODELAY");
                }
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    warn_of_refusals(&mut last_refusal_warning, limits.max_connections);
                    refusals.refuse(stream, &mut tasks);
                    continue;
                };
                let progress = Arc::new(Progress::default());
                let io = CountedIo::new(TokioIo::new(stream), Arc::clone(&progress));
                let counted = Counted {
                    inner: service.clone(),
                    progress: Arc::clone(&progress),
                };
                let connection = graceful.watch(http.serve_connection(io, counted));
                let head_deadline = limits.header_read_timeout;
                tasks.spawn(async move {
                    tokio::select! {
                        served = connection => if let Err(error) = served {
                            // Oversized heads and clients hanging up land here.
                            tracing::debug!(%error, "connection ended with an error");
                        },
                        () = head_deadline_passed(&progress, head_deadline) => {
                            tracing::debug!("closing a connection that sent no request head in time");
                        }
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        // Idle connections close at once, busy ones after their response.
        graceful.shutdown().await;
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            drain_timeout = ?limits.drain_timeout,
            "in-flight requests did not finish in time; closing their connections"
        );
        tasks.shutdown().await;
    }
    Ok(())
}

/// One connection's service, with each request head counted as progress.
struct Counted<S> {
    inner: S,
    progress: Arc<Progress>,
}

impl<S> hyper::service::Service<Request<Incoming>> for Counted<S>
where
    S: hyper::service::Service<Request<Incoming>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.progress.head_read();
        self.inner.call(request)
    }
}

/// The HTTP/1.1 settings every connection is served with. No timer is given to hyper: its
/// head deadline arms a timer per request, and `idle.rs` keeps the deadline instead.
fn http1_builder(limits: &ServeLimits) -> http1::Builder {
    let head_limit = limits.max_header_bytes.max(MIN_HEADER_BYTES);
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .max_header_size(head_limit)
        // The read buffer never needs more than a head: the gateway reads no request bodies.
        .max_buf_size(head_limit);
    builder
}

/// Logs refused connections at `warn` at most once per [`REFUSAL_WARNING_INTERVAL`], so an
/// overload does not also flood the logs.
fn warn_of_refusals(last_warning: &mut Option<Instant>, max_connections: usize) {
    let now = Instant::now();
    if last_warning.is_none_or(|last| now.duration_since(last) >= REFUSAL_WARNING_INTERVAL) {
        *last_warning = Some(now);
        tracing::warn!(
            max_connections,
            "connection limit reached; refusing new connections with 503"
        );
    } else {
        tracing::debug!("connection limit reached; refusing a connection with 503");
    }
}

/// How long to wait before the next `accept` after failures, so that a persistent error such
/// as running out of file descriptors does not spin the loop.
#[derive(Debug, Default)]
struct AcceptPause {
    next: Option<Duration>,
    resume_at: Option<Instant>,
}

impl AcceptPause {
    /// When the next `accept` may be tried, if not at once.
    fn resume_at(&self) -> Option<Instant> {
        self.resume_at
    }

    fn succeeded(&mut self) {
        self.next = None;
        self.resume_at = None;
    }

    /// Notes a failed `accept` and returns the pause it earned, if any.
    fn failed(&mut self, error: &io::Error) -> Option<Duration> {
        if is_connection_error(error) {
            // The one connection failed before it was accepted; the listener is fine.
            tracing::debug!(%error, "a connection failed before it was accepted");
            return None;
        }
        let pause = self.next.unwrap_or(FIRST_ACCEPT_PAUSE);
        tracing::warn!(%error, ?pause, "cannot accept connections; pausing");
        self.resume_at = Some(Instant::now() + pause);
        self.next = Some((pause * 2).min(MAX_ACCEPT_PAUSE));
        Some(pause)
    }
}

/// Errors about one incoming connection rather than the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are in place from the call on, not
/// from the first poll, so a signal that comes while the gateway is still starting stops it
/// cleanly once it serves, instead of killing it. Call it inside the runtime.
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &'static str| {
        signal(kind)
            .inspect_err(|error| tracing::error!(%error, "cannot listen for {name}"))
            .ok()
    };
    let terminate = listen(SignalKind::terminate(), "SIGTERM");
    let interrupt = listen(SignalKind::interrupt(), "SIGINT");
    async move {
        let received = |signal: Option<tokio::signal::unix::Signal>| async move {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = received(terminate) => {}
            () = received(interrupt) => {}
        }
    }
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests;
