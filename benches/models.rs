//! Parse and write cost of a typical task document (`tests/fixtures/task-typical.json`) as a
//! lossless `DetailedTaskResult`, next to the same work on an untyped `serde_json::Value` and
//! to the lenient reading of the status alone (`read_status`).

use std::hint::black_box;

use alumio_models::{DetailedTaskResult, read_status};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

const TYPICAL: &[u8] = include_bytes!("../tests/fixtures/task-typical.json");

fn typical_task(c: &mut Criterion) {
    let typed: DetailedTaskResult = serde_json::from_slice(TYPICAL).expect("the fixture is a task");
    let untyped: Value = serde_json::from_slice(TYPICAL).expect("the fixture is JSON");

    let mut group = c.benchmark_group("task-typical");
    group.throughput(Throughput::Bytes(TYPICAL.len() as u64));
    group.bench_function("parse/DetailedTaskResult", |b| {
        b.iter(|| serde_json::from_slice::<DetailedTaskResult>(black_box(TYPICAL)));
    });
    group.bench_function("read_status", |b| {
        b.iter(|| read_status(black_box(TYPICAL)));
    });
    group.bench_function("parse/Value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(TYPICAL)));
    });
    group.bench_function("write/DetailedTaskResult", |b| {
        b.iter(|| serde_json::to_vec(black_box(&typed)));
    });
    group.bench_function("write/Value", |b| {
        b.iter(|| serde_json::to_vec(black_box(&untyped)));
    });
    group.finish();
}

criterion_group!(benches, typical_task);
criterion_main!(benches);
