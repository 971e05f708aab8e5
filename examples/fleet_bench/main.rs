//! The fleet benchmark behind `scripts/fleet-bench.sh` and the "Fleet" section of
//! `docs/performance.md`. It starts the simulator and gateway replicas from the release
//! binaries, on a Redis the caller runs, and measures:
//!
//! - **sharing**: upstream calls per key per TTL window for N replicas x M consumers, with
//!   `--redis-url` and without it (see `sharing.rs`);
//! - **latency**: per-request latency and CPU of an L1 hit, an L2 hit and a miss, interleaved
//!   round by round (see `latency.rs`).
//!
//! The tables go to stdout, progress to stderr. Loopback addresses only; every child is killed
//! when the tool ends.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[path = "../support/http1.rs"]
mod http1;
mod latency;
mod processes;
mod report;
mod sharing;
mod simulator;

use http1::AnyError;
use latency::{Batch, Kind, Probes};
use processes::{FleetSettings, Replica};
use report::SharingRow;
use simulator::Simulator;

/// Measures a fleet of gateway replicas on one Redis.
#[derive(Parser)]
struct Args {
    /// The gateway's release binary.
    #[arg(long)]
    gateway: PathBuf,
    /// The simulator's release binary.
    #[arg(long)]
    simulator: PathBuf,
    /// The Redis every replica on the shared tier uses; the tool starts none.
    #[arg(long)]
    redis_url: String,
    /// Redis's process id, to count its CPU time too.
    #[arg(long)]
    redis_pid: Option<u32>,
    /// The core the replicas are pinned to (`taskset`).
    #[arg(long)]
    server_core: Option<usize>,
    /// The core the simulator is pinned to.
    #[arg(long)]
    simulator_core: Option<usize>,
    /// What to measure.
    #[arg(long, value_enum, default_value = "all")]
    part: Part,
    /// Fleet sizes N.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,5")]
    replicas: Vec<usize>,
    /// Concurrent consumers M, spread round-robin over the replicas.
    #[arg(long, value_delimiter = ',', default_value = "10,100,300")]
    consumers: Vec<usize>,
    /// Cold keys per (N, M) and mode; the table shows their mean.
    #[arg(long, default_value_t = 5)]
    keys: usize,
    /// How long the simulator holds each reply during the sharing bursts.
    #[arg(long, default_value_t = 200)]
    delay_ms: u64,
    /// Latency rounds; each round measures every kind once, in the same order.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Requests (distinct keys) per kind and round.
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    /// Keep-alive connections the latency requests are spread over.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// More arguments for every replica, as one space-separated value, such as
    /// "--redis-command-timeout 200ms".
    #[arg(long, allow_hyphen_values = true, default_value = "")]
    replica_args: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    All,
    Sharing,
    Latency,
}

fn main() -> Result<(), AnyError> {
    let args = Args::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> Result<(), AnyError> {
    let work = tempfile::tempdir()?;
    let token_file = work.path().join("token");
    std::fs::write(&token_file, format!("fleet-bench-{}\n", std::process::id()))?;
    let sharing_keys = args.replicas.len() * args.consumers.len() * args.keys * 2;
    let latency_keys = args.rounds * args.requests * 2;
    let mut simulator = Simulator::start(
        &args.simulator,
        &token_file,
        sharing_keys + latency_keys,
        args.simulator_core,
        work.path().join("simulator.log"),
    )
    .await?;
    let fleet = FleetSettings {
        gateway: args.gateway.clone(),
        extra_args: args
            .replica_args
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        upstream: simulator.api_url(),
        token_file,
        core: args.server_core,
        logs: work.path().to_owned(),
    };
    if args.part != Part::Latency {
        let rows = measure_sharing(&args, &fleet, &mut simulator).await?;
        report::sharing(&args, &rows)?;
    }
    if args.part != Part::Sharing {
        let rounds = measure_latency(&args, &fleet, &mut simulator).await?;
        report::latency(&args, &rounds)?;
    }
    Ok(())
}

/// Starts `count` replicas, on the shared tier or each alone.
async fn start_fleet(
    fleet: &FleetSettings,
    simulator: &Simulator,
    count: usize,
    redis_url: Option<&str>,
) -> Result<Vec<Replica>, AnyError> {
    let mut replicas = Vec::with_capacity(count);
    let tier = if redis_url.is_some() {
        "shared"
    } else {
        "alone"
    };
    for index in 0..count {
        let name = format!("replica-{count}-{tier}-{index}");
        replicas.push(Replica::start(fleet, &name, redis_url, simulator.control()).await?);
    }
    Ok(replicas)
}

async fn measure_sharing(
    args: &Args,
    fleet: &FleetSettings,
    simulator: &mut Simulator,
) -> Result<Vec<SharingRow>, AnyError> {
    simulator.set_latency(args.delay_ms).await?;
    let mut rows = Vec::new();
    for &replicas in &args.replicas {
        for redis_url in [Some(args.redis_url.as_str()), None] {
            let started = start_fleet(fleet, simulator, replicas, redis_url).await?;
            for &consumers in &args.consumers {
                let mut keys = Vec::with_capacity(args.keys);
                for path in simulator.cold_paths(args.keys)? {
                    let outcome =
                        sharing::burst_on_cold_key(simulator, &started, consumers, &path).await?;
                    keys.push(outcome);
                }
                eprintln!(
                    "sharing: {replicas} replicas, {consumers} consumers, redis {}: upstream {:?}",
                    redis_url.is_some(),
                    keys.iter().map(|key| key.upstream).collect::<Vec<_>>()
                );
                rows.push(SharingRow {
                    replicas,
                    consumers,
                    shared: redis_url.is_some(),
                    keys,
                });
            }
        }
    }
    simulator.set_latency(0).await?;
    Ok(rows)
}

/// Replicas A and B on the shared tier and C alone. Each round: misses on A (cold keys), L1
/// hits on A and L2 hits on B for those keys, then misses and L1 hits on C.
async fn measure_latency(
    args: &Args,
    fleet: &FleetSettings,
    simulator: &mut Simulator,
) -> Result<Vec<Vec<Batch>>, AnyError> {
    simulator.set_latency(0).await?;
    let shared = start_fleet(fleet, simulator, 2, Some(args.redis_url.as_str())).await?;
    let alone = start_fleet(fleet, simulator, 1, None).await?;
    let probes = Probes {
        ticks_per_second: processes::ticks_per_second(),
        redis_pid: args.redis_pid,
        redis_url: args.redis_url.clone(),
    };
    let mut rounds = Vec::with_capacity(args.rounds);
    for round in 1..=args.rounds {
        let fetched_by_a = simulator.cold_paths(args.requests)?;
        let fetched_by_c = simulator.cold_paths(args.requests)?;
        let plan = [
            (Kind::Miss, &shared[0], &fetched_by_a),
            (Kind::L1Hit, &shared[0], &fetched_by_a),
            (Kind::L2Hit, &shared[1], &fetched_by_a),
            (Kind::MissAlone, &alone[0], &fetched_by_c),
            (Kind::L1HitAlone, &alone[0], &fetched_by_c),
        ];
        let mut batches = Vec::with_capacity(plan.len());
        for (kind, replica, paths) in plan {
            let batch = latency::measure(kind, replica, paths, args.connections, &probes).await?;
            eprintln!(
                "latency round {round}: {} p50 {:.0} µs, p99 {:.0} µs, CPU {:.1} µs/req, {}/{} as meant",
                kind.label(),
                batch.p50_us,
                batch.p99_us,
                batch.cpu_us,
                batch.as_meant,
                batch.requests
            );
            batches.push(batch);
        }
        rounds.push(batches);
    }
    Ok(rounds)
}
