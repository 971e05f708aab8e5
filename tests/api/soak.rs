//! A bounded soak: steady load on warmed keys while Alumio cycles through every kind of
//! failure. Consumers of warmed keys must never see a 5xx, and memory must stay bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alumio_sim::FaultMode;

use crate::helpers::{get, simulated_task_paths, spawn_app_with_simulator};

const SOAK: Duration = Duration::from_secs(8);
const WORKERS: usize = 16;

/// Resident memory of this test process, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_with_toggled_faults_never_fails_a_warmed_key_and_memory_stays_bounded() {
    let app = Arc::new(
        spawn_app_with_simulator(|settings| {
            settings.ttl_active = Duration::from_millis(300);
            settings.ttl_settled = Duration::from_millis(300);
            settings.stale_while_revalidate = Duration::from_secs(1);
            settings.request_timeout = Duration::from_millis(500);
        })
        .await,
    );
    let simulator = app.simulator.clone().unwrap();
    let paths = Arc::new(simulated_task_paths(&app, 20));
    for path in paths.iter() {
        assert_eq!(get(&app, path).await.0, 200);
    }
    let memory_before = resident_kib();
    let deadline = Instant::now() + SOAK;

    let toggler = tokio::spawn(async move {
        let modes = [
            FaultMode::Down,
            FaultMode::Hang,
            FaultMode::Garbage,
            FaultMode::ResetMidBody,
            FaultMode::TooManyRequests {
                retry_after_secs: 1,
            },
            FaultMode::Healthy,
        ];
        for mode in modes.iter().cycle() {
            if Instant::now() >= deadline {
                break;
            }
            simulator.faults().set_mode(*mode);
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        simulator.faults().set_mode(FaultMode::Healthy);
    });

    let served = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..WORKERS {
        let (app, paths, served) = (Arc::clone(&app), Arc::clone(&paths), Arc::clone(&served));
        workers.spawn(async move {
            let mut failures = Vec::new();
            let mut n = worker;
            while Instant::now() < deadline {
                let path = &paths[n % paths.len()];
                let (status, x_cache, _) = get(&app, path).await;
                if status >= 500 {
                    failures.push((status, x_cache));
                }
                served.fetch_add(1, Ordering::Relaxed);
                n += 7;
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(result) = workers.join_next().await {
        failures.extend(result.unwrap());
    }
    toggler.await.unwrap();

    let served = served.load(Ordering::Relaxed);
    assert!(
        served > 1000,
        "the soak put real load on the gateway: {served} requests"
    );
    assert!(
        failures.is_empty(),
        "{} of {served} warmed requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let growth_kib = resident_kib().saturating_sub(memory_before);
    assert!(
        growth_kib < 64 * 1024,
        "resident memory grew by {growth_kib} KiB"
    );
}
