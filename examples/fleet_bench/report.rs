//! The fleet benchmark's tables, written to stdout: medians over rounds, and ratios as the
//! median of per-round ratios, as `/work/shared/benchmarking.md` asks.

use std::fmt::Display;
use std::io::Write as _;

use crate::Args;
use crate::http1::AnyError;
use crate::latency::{Batch, Kind};
use crate::sharing::KeyOutcome;

/// The bursts of one (N, M, tier).
pub(crate) struct SharingRow {
    pub(crate) replicas: usize,
    pub(crate) consumers: usize,
    pub(crate) shared: bool,
    pub(crate) keys: Vec<KeyOutcome>,
}

fn line(text: impl Display) -> Result<(), AnyError> {
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

pub(crate) fn sharing(args: &Args, rows: &[SharingRow]) -> Result<(), AnyError> {
    line(format_args!(
        "Upstream calls per key per TTL window: M consumers round-robin over N replicas ask for \
         one cold key at once; simulator delay {} ms; mean (min-max) over {} keys",
        args.delay_ms, args.keys
    ))?;
    line(format_args!(
        "{:>8} {:>9} {:>18} {:>18}",
        "replicas", "consumers", "with --redis-url", "without Redis"
    ))?;
    let calls = |shared: bool, replicas: usize, consumers: usize| {
        rows.iter()
            .find(|row| {
                row.shared == shared && row.replicas == replicas && row.consumers == consumers
            })
            .map_or_else(|| "-".to_owned(), |row| summary(&row.keys))
    };
    for &replicas in &args.replicas {
        for &consumers in &args.consumers {
            line(format_args!(
                "{replicas:>8} {consumers:>9} {:>18} {:>18}",
                calls(true, replicas, consumers),
                calls(false, replicas, consumers)
            ))?;
        }
    }
    let keys: Vec<(&SharingRow, &KeyOutcome)> = rows
        .iter()
        .flat_map(|row| row.keys.iter().map(move |key| (row, key)))
        .collect();
    let answers: usize = keys.iter().map(|(row, _)| row.consumers).sum();
    let ok: usize = keys.iter().map(|(_, key)| key.ok).sum();
    let agreed = keys
        .iter()
        .filter(|(_, key)| key.upstream_by_metrics == key.upstream as f64)
        .count();
    let shared_hits: usize = keys.iter().map(|(_, key)| key.shared_hits).sum();
    let shared_keys = keys.iter().filter(|(row, _)| row.shared);
    let more_than_one: Vec<&KeyOutcome> = shared_keys
        .clone()
        .filter(|(_, key)| key.upstream > 1)
        .map(|(_, key)| *key)
        .collect();
    let errors: u64 = shared_keys.map(|(_, key)| key.shared_errors).sum();
    line(format_args!(
        "checks: {ok} of {answers} answers were 200s of the same length; the replicas' \
         alumio_gateway_upstream_requests_total agreed with the simulator's count on {agreed} of \
         {} keys; {shared_hits} answers came from the shared tier (detail=shared)",
        keys.len()
    ))?;
    line(format_args!(
        "with --redis-url: {} keys reached Alumio more than once; the replicas counted {errors} \
         shared-tier errors over all bursts, {} of them (timeouts: {}) in those keys' bursts\n",
        more_than_one.len(),
        more_than_one
            .iter()
            .map(|key| key.shared_errors)
            .sum::<u64>(),
        more_than_one
            .iter()
            .map(|key| key.shared_timeouts)
            .sum::<u64>(),
    ))
}

/// "mean (min-max)" of the upstream calls of some keys.
fn summary(keys: &[KeyOutcome]) -> String {
    let calls: Vec<u64> = keys.iter().map(|key| key.upstream).collect();
    let mean = calls.iter().sum::<u64>() as f64 / calls.len().max(1) as f64;
    let (min, max) = (calls.iter().min(), calls.iter().max());
    match (min, max) {
        (Some(min), Some(max)) => format!("{mean:.2} ({min}-{max})"),
        _ => "-".to_owned(),
    }
}

pub(crate) fn latency(args: &Args, rounds: &[Vec<Batch>]) -> Result<(), AnyError> {
    line(format_args!(
        "Latency and CPU per request: {} rounds x {} distinct keys per kind over {} keep-alive \
         connection(s); medians over rounds; ratios are medians of per-round ratios to the L1 hit \
         on the shared tier",
        args.rounds, args.requests, args.connections
    ))?;
    line(format_args!(
        "{:<20} {:>8} {:>8} {:>10} {:>11} {:>11} {:>9} {:>9} {:>13}",
        "kind",
        "p50 µs",
        "p99 µs",
        "CPU µs/req",
        "Redis CPU µs",
        "Redis cmds",
        "p50 ×L1",
        "CPU ×L1",
        "as meant"
    ))?;
    let Some(first) = rounds.first() else {
        return Ok(());
    };
    for kind in first.iter().map(|batch| batch.kind) {
        let of_kind: Vec<&Batch> = rounds
            .iter()
            .filter_map(|round| find(round, kind))
            .collect();
        let column = |value: fn(&Batch) -> Option<f64>| {
            median(of_kind.iter().filter_map(|batch| value(batch)).collect())
        };
        let ratio = |value: fn(&Batch) -> f64| {
            median(
                rounds
                    .iter()
                    .filter_map(|round| {
                        Some(value(find(round, kind)?) / value(find(round, Kind::L1Hit)?))
                    })
                    .collect(),
            )
        };
        let as_meant: usize = of_kind.iter().map(|batch| batch.as_meant).sum();
        let requests: usize = of_kind.iter().map(|batch| batch.requests).sum();
        line(format_args!(
            "{:<20} {:>8} {:>8} {:>10} {:>11} {:>11} {:>9} {:>9} {:>13}",
            kind.label(),
            fixed(column(|batch| Some(batch.p50_us)), 0),
            fixed(column(|batch| Some(batch.p99_us)), 0),
            fixed(column(|batch| Some(batch.cpu_us)), 1),
            fixed(column(|batch| batch.redis_cpu_us), 1),
            fixed(column(|batch| batch.redis_commands), 2),
            fixed(ratio(|batch| batch.p50_us), 2),
            fixed(ratio(|batch| batch.cpu_us), 2),
            format!("{as_meant}/{requests}"),
        ))?;
    }
    line("")
}

fn find(round: &[Batch], kind: Kind) -> Option<&Batch> {
    round.iter().find(|batch| batch.kind == kind)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_unstable_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[middle]),
        _ => Some(f64::midpoint(values[middle - 1], values[middle])),
    }
}

fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.decimals$}"))
}
