//! A small HTTP/1.1 load client for `scripts/load-bench.sh`, for the two jobs `wrk` cannot do:
//!
//! - `fill ADDRESS PATHS_FILE [CONNECTIONS]`: requests every path of the file once, over
//!   keep-alive connections, to load a cache; prints the count, errors, body bytes and rate.
//! - `burst ADDRESS PATH CONCURRENCY UPSTREAM_DELAY_MS`: opens CONCURRENCY connections, then
//!   sends one request for PATH on each at the same moment; prints the latency percentiles,
//!   the time added over the upstream's delay and how the gateway said it answered.
//! - `zipf ADDRESS PATHS_FILE CONNECTIONS SECONDS EXPONENT`: for SECONDS, keeps CONNECTIONS
//!   keep-alive connections busy asking for the file's paths, the k-th with probability
//!   proportional to 1/k^EXPONENT; prints requests per second and latency percentiles. The
//!   draws and the request bytes are prepared beforehand, so one path or a million cost the
//!   client the same.
//!
//! Every phase ends within `DEADLINE`; loopback addresses are the only intended targets.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

#[path = "support/http1.rs"]
mod http1;
use http1::{AnyError, Connection};

/// The longest any phase may take.
const DEADLINE: Duration = Duration::from_secs(900);
/// Connections opened at once while setting up a burst.
const CONNECT_PARALLELISM: usize = 256;

/// Requests every path once over `connections` keep-alive connections.
async fn fill(address: SocketAddr, paths: Vec<String>, connections: usize) -> Result<(), AnyError> {
    let paths = Arc::new(paths);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..connections.max(1) {
        let paths = Arc::clone(&paths);
        let next = Arc::clone(&next);
        workers.spawn(async move {
            let mut connection = Connection::open(address).await?;
            let (mut ok, mut errors, mut bytes) = (0u64, 0u64, 0u64);
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(index) else {
                    return Ok::<_, AnyError>((ok, errors, bytes));
                };
                connection.send(path).await?;
                let reply = connection.receive().await?;
                if reply.status == 200 {
                    ok += 1;
                    bytes += reply.body_len as u64;
                } else {
                    errors += 1;
                }
            }
        });
    }
    let (mut ok, mut errors, mut bytes) = (0u64, 0u64, 0u64);
    let mut failed_connections = 0u64;
    let gathered = tokio::time::timeout(DEADLINE, async {
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok(Ok((o, e, b))) => {
                    ok += o;
                    errors += e;
                    bytes += b;
                }
                _ => failed_connections += 1,
            }
        }
    })
    .await;
    if gathered.is_err() {
        return Err("fill did not finish within the deadline".into());
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "requests={} ok={ok} errors={errors} failed_connections={failed_connections} \
         body_bytes={bytes} seconds={seconds:.2} rate={:.0}",
        ok + errors,
        (ok + errors) as f64 / seconds
    )?;
    Ok(())
}

/// How many Zipf draws are prepared; the sequence repeats after that.
const ZIPF_DRAWS: usize = 1 << 20;

/// Indices into `count` items, the k-th (from 0) drawn with probability proportional to
/// 1/(k+1)^exponent, from a fixed-seed generator so every run asks for the same sequence.
fn zipf_draws(count: usize, exponent: f64) -> Vec<u32> {
    let mut cumulative = Vec::with_capacity(count);
    let mut total = 0.0;
    for k in 1..=count {
        total += 1.0 / (k as f64).powf(exponent);
        cumulative.push(total);
    }
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..ZIPF_DRAWS)
        .map(|_| {
            // xorshift64*: plenty for choosing keys.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let unit =
                (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
            let index = cumulative.partition_point(|&c| c < unit * total);
            u32::try_from(index.min(count - 1)).unwrap_or(0)
        })
        .collect()
}

/// Keeps `connections` connections busy for `duration` with Zipf-chosen paths.
async fn zipf(
    address: SocketAddr,
    paths: Vec<String>,
    connections: usize,
    duration: Duration,
    exponent: f64,
) -> Result<(), AnyError> {
    if paths.is_empty() {
        return Err("no paths".into());
    }
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        paths
            .iter()
            .map(|path| format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes())
            .collect(),
    );
    let draws = Arc::new(zipf_draws(paths.len(), exponent));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + duration.min(DEADLINE);
    let mut workers = JoinSet::new();
    for _ in 0..connections.max(1) {
        let (requests, draws, next) =
            (Arc::clone(&requests), Arc::clone(&draws), Arc::clone(&next));
        workers.spawn(async move {
            let mut connection = Connection::open(address).await?;
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            while Instant::now() < until {
                let draw = draws[next.fetch_add(1, Ordering::Relaxed) % draws.len()];
                let sent = Instant::now();
                connection.send_bytes(&requests[draw as usize]).await?;
                let reply = connection.receive().await?;
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                if reply.status != 200 {
                    errors += 1;
                }
            }
            Ok::<_, AnyError>((latencies, errors))
        });
    }
    let mut latencies = Vec::new();
    let (mut errors, mut failed_connections) = (0u64, 0u64);
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok((mut more, e))) => {
                latencies.append(&mut more);
                errors += e;
            }
            _ => failed_connections += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| -> u32 {
        if latencies.is_empty() {
            return 0;
        }
        let rank = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "requests={} errors={errors} failed_connections={failed_connections} keys={} \
         seconds={seconds:.2} rps={:.0} p50_us={} p99_us={}",
        latencies.len(),
        paths.len(),
        latencies.len() as f64 / seconds,
        percentile(0.50),
        percentile(0.99),
    )?;
    Ok(())
}

/// Opens `concurrency` connections, then sends one request for `path` on each at once.
async fn burst(
    address: SocketAddr,
    path: String,
    concurrency: usize,
    upstream_delay: Duration,
) -> Result<(), AnyError> {
    let permits = Arc::new(Semaphore::new(CONNECT_PARALLELISM));
    let (go_tx, go_rx) = watch::channel(None::<Instant>);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(concurrency.max(1));
    let path = Arc::new(path);
    let mut requests = JoinSet::new();
    for _ in 0..concurrency {
        let permits = Arc::clone(&permits);
        let mut go = go_rx.clone();
        let ready = ready_tx.clone();
        let path = Arc::clone(&path);
        requests.spawn(async move {
            let connection = {
                let _permit = permits.acquire().await?;
                Connection::open(address).await
            };
            let _ = ready.send(()).await;
            let mut connection = connection?;
            let released = *go.wait_for(Option::is_some).await?;
            let sent = Instant::now();
            connection.send(&path).await?;
            let reply = connection.receive().await?;
            let done = Instant::now();
            Ok::<_, AnyError>((released, sent, done, reply))
        });
    }
    drop(ready_tx);
    let connected = tokio::time::timeout(DEADLINE, async {
        let mut count = 0;
        while ready_rx.recv().await.is_some() {
            count += 1;
            if count == concurrency {
                break;
            }
        }
    })
    .await;
    if connected.is_err() {
        return Err("connections were not all open within the deadline".into());
    }
    let released = Instant::now();
    go_tx.send_replace(Some(released));

    let mut latencies = Vec::with_capacity(concurrency);
    let mut last_done = released;
    let (mut ok, mut other_status, mut failed) = (0u64, 0u64, 0u64);
    let (mut hits, mut misses, mut collapsed) = (0u64, 0u64, 0u64);
    let gathered = tokio::time::timeout(DEADLINE, async {
        while let Some(joined) = requests.join_next().await {
            let Ok(Ok((_, sent, done, reply))) = joined else {
                failed += 1;
                continue;
            };
            latencies.push(done - sent);
            last_done = last_done.max(done);
            if reply.status == 200 {
                ok += 1;
            } else {
                other_status += 1;
            }
            match reply.cache_status.as_deref() {
                Some(status) if status.contains("collapsed") => collapsed += 1,
                Some(status) if status.contains("hit") => hits += 1,
                _ => misses += 1,
            }
        }
    })
    .await;
    if gathered.is_err() {
        return Err("the burst did not finish within the deadline".into());
    }
    latencies.sort_unstable();
    let percentile = |p: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
        latencies[rank - 1]
    };
    let millis = |d: Duration| d.as_secs_f64() * 1000.0;
    let added = |d: Duration| millis(d) - millis(upstream_delay);
    let span = last_done - released;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "requests={concurrency} ok={ok} other_status={other_status} failed={failed} \
         hit={hits} miss={misses} collapsed={collapsed} \
         p50_ms={:.2} p99_ms={:.2} max_ms={:.2} added_p50_ms={:.2} added_p99_ms={:.2} \
         added_max_ms={:.2} span_ms={:.2} added_span_ms={:.2}",
        millis(percentile(0.50)),
        millis(percentile(0.99)),
        millis(percentile(1.0)),
        added(percentile(0.50)),
        added(percentile(0.99)),
        added(percentile(1.0)),
        millis(span),
        added(span),
    )?;
    Ok(())
}

fn usage() -> AnyError {
    "usage: gateway_load_client fill ADDRESS PATHS_FILE [CONNECTIONS] | \
     burst ADDRESS PATH CONCURRENCY UPSTREAM_DELAY_MS | \
     zipf ADDRESS PATHS_FILE CONNECTIONS SECONDS EXPONENT"
        .into()
}

fn read_paths(file: &str) -> Result<Vec<String>, AnyError> {
    let text = std::fs::read_to_string(file)?;
    Ok(text
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect())
}

fn main() -> Result<(), AnyError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["fill", address, paths_file, rest @ ..] => {
            let connections = match rest.first() {
                Some(n) => n.parse()?,
                None => 64,
            };
            let paths = read_paths(paths_file)?;
            runtime.block_on(fill(address.parse()?, paths, connections))
        }
        ["burst", address, path, concurrency, delay_ms] => runtime.block_on(burst(
            address.parse()?,
            (*path).to_owned(),
            concurrency.parse()?,
            Duration::from_millis(delay_ms.parse()?),
        )),
        ["zipf", address, paths_file, connections, seconds, exponent] => {
            let paths = read_paths(paths_file)?;
            runtime.block_on(zipf(
                address.parse()?,
                paths,
                connections.parse()?,
                Duration::from_secs_f64(seconds.parse()?),
                exponent.parse()?,
            ))
        }
        _ => Err(usage()),
    }
}
