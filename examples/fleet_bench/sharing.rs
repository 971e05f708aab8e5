//! Upstream calls per key per TTL window: M consumers spread round-robin over N replicas ask
//! for one cold key at the same moment, while the simulator holds every reply for a while so
//! the requests overlap, and the simulator's own counter says how many reached Alumio.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::http1::{AnyError, Connection, Reply};
use crate::processes::Replica;
use crate::simulator::Simulator;

/// The longest one burst may take.
const BURST_DEADLINE: Duration = Duration::from_secs(60);
/// Alumio requests as each replica counts them.
const UPSTREAM_REQUESTS: &str = "alumio_gateway_upstream_requests_total";
/// Redis commands that failed, which make a replica go on alone.
const SHARED_ERRORS: &str = "alumio_gateway_shared_errors_total";
const SHARED_TIMEOUTS: &str = r#"alumio_gateway_shared_errors_total{kind="timeout"}"#;

/// What one burst on one key came to.
pub(crate) struct KeyOutcome {
    /// Requests the simulator received for the key.
    pub(crate) upstream: u64,
    /// The same, as the replicas count it in `alumio_gateway_upstream_requests_total`.
    pub(crate) upstream_by_metrics: f64,
    /// 200s with as many body bytes as the first 200.
    pub(crate) ok: usize,
    /// Answers served from the shared tier (`Cache-Status: ...; detail=shared`).
    pub(crate) shared_hits: usize,
    /// Shared-tier errors the replicas counted during the burst, and how many were timeouts.
    pub(crate) shared_errors: u64,
    pub(crate) shared_timeouts: u64,
}

/// Sends one burst of `consumers` requests for `path` and counts what reached the simulator.
pub(crate) async fn burst_on_cold_key(
    simulator: &Simulator,
    replicas: &[Replica],
    consumers: usize,
    path: &str,
) -> Result<KeyOutcome, AnyError> {
    let addresses: Vec<SocketAddr> = replicas.iter().map(|replica| replica.address).collect();
    let control = simulator.control();
    let upstream_before = simulator.requests().await?;
    let metrics_before = fleet_total(control, replicas, UPSTREAM_REQUESTS).await?;
    let errors_before = fleet_total(control, replicas, SHARED_ERRORS).await?;
    let timeouts_before = fleet_total(control, replicas, SHARED_TIMEOUTS).await?;
    let replies = burst(&addresses, consumers, path).await?;
    let upstream = simulator.requests().await? - upstream_before;
    let upstream_by_metrics =
        fleet_total(control, replicas, UPSTREAM_REQUESTS).await? - metrics_before;
    let shared_errors = count(
        fleet_total(control, replicas, SHARED_ERRORS).await?,
        errors_before,
    );
    let shared_timeouts = count(
        fleet_total(control, replicas, SHARED_TIMEOUTS).await?,
        timeouts_before,
    );
    let first_len = replies
        .iter()
        .find(|reply| reply.status == 200)
        .map(|reply| reply.body_len);
    Ok(KeyOutcome {
        upstream,
        upstream_by_metrics,
        ok: replies
            .iter()
            .filter(|reply| reply.status == 200 && Some(reply.body_len) == first_len)
            .count(),
        shared_hits: replies
            .iter()
            .filter(|reply| {
                reply
                    .cache_status
                    .as_deref()
                    .is_some_and(|status| status.contains("detail=shared"))
            })
            .count(),
        shared_errors,
        shared_timeouts,
    })
}

/// How much a counter grew.
fn count(after: f64, before: f64) -> u64 {
    (after - before).max(0.0) as u64
}

/// A metric summed over the replicas.
async fn fleet_total(
    control: &reqwest::Client,
    replicas: &[Replica],
    name: &str,
) -> Result<f64, AnyError> {
    let mut total = 0.0;
    for replica in replicas {
        total += replica.metric(control, name).await?;
    }
    Ok(total)
}

/// Opens one connection per consumer (consumer i on replica i mod N), then sends one request
/// for `path` on every connection at once; answers the replies.
async fn burst(
    replicas: &[SocketAddr],
    consumers: usize,
    path: &str,
) -> Result<Vec<Reply>, AnyError> {
    let (go_tx, go_rx) = watch::channel(false);
    let path: Arc<str> = path.into();
    let mut connections = Vec::with_capacity(consumers);
    for consumer in 0..consumers {
        connections.push(Connection::open(replicas[consumer % replicas.len()]).await?);
    }
    let mut requests = JoinSet::new();
    for mut connection in connections {
        let mut go = go_rx.clone();
        let path = Arc::clone(&path);
        requests.spawn(async move {
            go.wait_for(|&go| go).await?;
            connection.send(&path).await?;
            connection.receive().await
        });
    }
    go_tx.send_replace(true);
    let deadline = Instant::now() + BURST_DEADLINE;
    let mut replies = Vec::with_capacity(consumers);
    while let Some(joined) = tokio::time::timeout_at(deadline.into(), requests.join_next())
        .await
        .map_err(|_| "the burst did not finish within its deadline")?
    {
        replies.push(joined??);
    }
    Ok(replies)
}
