//! Per-request latency and CPU of an L1 hit, an L2 hit and a miss, each request a key of its
//! own: an L2 hit is a key only another replica has fetched, so it is never an L1 hit yet.
//! CPU is the target replica's (and Redis's) user + system time over the requests served.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::task::JoinSet;

use crate::http1::{AnyError, Connection};
use crate::processes::{Replica, cpu_seconds};

/// What a request is meant to be, told from the `Cache-Status` it is answered with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A miss on a replica on the shared tier: L2 miss, lease, fetch, both tiers stored.
    Miss,
    L1Hit,
    L2Hit,
    /// A miss on a replica without Redis.
    MissAlone,
    /// An L1 hit on a replica without Redis.
    L1HitAlone,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Miss => "miss, shared tier",
            Self::L1Hit => "L1 hit, shared tier",
            Self::L2Hit => "L2 hit",
            Self::MissAlone => "miss, no Redis",
            Self::L1HitAlone => "L1 hit, no Redis",
        }
    }

    fn answered_as_meant(self, cache_status: &str) -> bool {
        match self {
            Self::L1Hit | Self::L1HitAlone => cache_status == "alumio-gateway; hit",
            Self::L2Hit => cache_status.ends_with("detail=shared"),
            Self::Miss | Self::MissAlone => cache_status.contains("fwd=miss"),
        }
    }
}

/// Where CPU and Redis commands are read from.
pub(crate) struct Probes {
    pub(crate) ticks_per_second: f64,
    pub(crate) redis_pid: Option<u32>,
    pub(crate) redis_url: String,
}

/// One batch of requests of one kind.
pub(crate) struct Batch {
    pub(crate) kind: Kind,
    pub(crate) requests: usize,
    /// Requests answered 200 with the `Cache-Status` their kind means.
    pub(crate) as_meant: usize,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) cpu_us: f64,
    pub(crate) redis_cpu_us: Option<f64>,
    pub(crate) redis_commands: Option<f64>,
}

/// Asks `replica` for every path once over `connections` keep-alive connections.
pub(crate) async fn measure(
    kind: Kind,
    replica: &Replica,
    paths: &[String],
    connections: usize,
    probes: &Probes,
) -> Result<Batch, AnyError> {
    let pid = replica.process.pid();
    let cpu_before = cpu_seconds(pid, probes.ticks_per_second)?;
    let redis_cpu_before = redis_cpu(probes);
    let commands_before = redis_commands(&probes.redis_url);
    let (mut latencies, as_meant) = closed_loop(kind, replica, paths, connections).await?;
    let requests = paths.len() as f64;
    let cpu_us = (cpu_seconds(pid, probes.ticks_per_second)? - cpu_before) * 1e6 / requests;
    let redis_cpu_us = redis_cpu_before
        .zip(redis_cpu(probes))
        .map(|(before, after)| (after - before) * 1e6 / requests);
    // The difference includes the first INFO command itself.
    let redis_commands = commands_before
        .zip(redis_commands(&probes.redis_url))
        .map(|(before, after)| (after - before - 1.0) / requests);
    latencies.sort_unstable_by(f64::total_cmp);
    Ok(Batch {
        kind,
        requests: paths.len(),
        as_meant,
        p50_us: percentile(&latencies, 0.50),
        p99_us: percentile(&latencies, 0.99),
        cpu_us,
        redis_cpu_us,
        redis_commands,
    })
}

/// Each connection sends its next path as soon as its previous reply is read; answers the
/// latencies in microseconds and how many replies were what `kind` means.
async fn closed_loop(
    kind: Kind,
    replica: &Replica,
    paths: &[String],
    connections: usize,
) -> Result<(Vec<f64>, usize), AnyError> {
    let paths: Arc<[String]> = paths.into();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..connections.max(1) {
        let (paths, next, address) = (Arc::clone(&paths), Arc::clone(&next), replica.address);
        workers.spawn(async move {
            let mut connection = Connection::open(address).await?;
            let (mut latencies, mut as_meant) = (Vec::new(), 0);
            while let Some(path) = paths.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                connection.send(path).await?;
                let reply = connection.receive().await?;
                latencies.push(sent.elapsed().as_secs_f64() * 1e6);
                let status = reply.cache_status.as_deref().unwrap_or_default();
                if reply.status == 200 && reply.body_len > 0 && kind.answered_as_meant(status) {
                    as_meant += 1;
                }
            }
            Ok::<_, AnyError>((latencies, as_meant))
        });
    }
    let (mut latencies, mut as_meant) = (Vec::with_capacity(paths.len()), 0);
    while let Some(joined) = workers.join_next().await {
        let (more, meant) = joined??;
        latencies.extend(more);
        as_meant += meant;
    }
    Ok((latencies, as_meant))
}

fn redis_cpu(probes: &Probes) -> Option<f64> {
    cpu_seconds(probes.redis_pid?, probes.ticks_per_second).ok()
}

/// Commands Redis has processed since it started (`INFO stats`), through `redis-cli`; the
/// commands a Lua script runs count one by one, as Redis counts them.
fn redis_commands(url: &str) -> Option<f64> {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", url, "info", "stats"])
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text
        .lines()
        .find(|line| line.starts_with("total_commands_processed:"))?;
    line.split_once(':')?.1.trim().parse().ok()
}

/// The nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
