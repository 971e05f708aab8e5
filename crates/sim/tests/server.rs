//! The simulator on a real loopback listener, read with reqwest: a task over HTTP, a body cut
//! off mid-way, and a shutdown that is not held up by a hanging request.

mod common;

use std::time::Duration;

use alumio_models::DetailedTaskResult;
use alumio_sim::{FaultMode, Simulator};
use common::{TOKEN, first_task, simulator};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running simulator: its address, the trigger that stops it, and its server task.
struct Running {
    base: String,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

async fn start(sim: &Simulator) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("a local address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(sim.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    Running { base, stop, server }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        let served = tokio::time::timeout(Duration::from_secs(10), self.server).await;
        let outcome = served.expect("the server stopped in time");
        outcome
            .expect("the server task ran")
            .expect("the server served");
    }
}

#[tokio::test]
async fn a_real_client_reads_a_task_over_http() {
    let sim = simulator();
    let running = start(&sim).await;
    let id = first_task(&sim, "acme-staging");
    let response = client()
        .get(format!("{}/api/v1/tasks/{id}", running.base))
        .query(&[("space", "acme-staging")])
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let result: DetailedTaskResult =
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        result.object.unwrap().identifier.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(sim.stats().with_status(200), 1);
    running.stop().await;
}

#[tokio::test]
async fn a_reset_mid_body_is_an_error_for_a_real_client_after_the_headers() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::ResetMidBody);
    let running = start(&sim).await;
    let id = first_task(&sim, "acme-prod");
    let response = client()
        .get(format!(
            "{}/api/v1/tasks/{id}?space=acme-prod",
            running.base
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the headers arrive");
    assert_eq!(response.status(), 200);
    assert!(
        response
            .content_length()
            .is_some_and(|length| length > 1000)
    );
    let body = response.bytes().await;
    assert!(body.is_err(), "the body was read in full");
    running.stop().await;
}

#[tokio::test]
async fn shutting_down_releases_a_hanging_request() {
    let sim = simulator();
    sim.faults().set_mode(FaultMode::Hang);
    let running = start(&sim).await;
    let id = first_task(&sim, "acme-prod");
    let url = format!("{}/api/v1/tasks/{id}?space=acme-prod", running.base);
    let hanging = tokio::spawn(async move { client().get(url).bearer_auth(TOKEN).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!hanging.is_finished(), "a hanging simulator answered");
    running.stop().await;
    let answer = hanging.await.unwrap().unwrap();
    assert_eq!(answer.status(), 503);
}

#[tokio::test]
async fn an_external_process_can_switch_faults_over_http() {
    let sim = simulator();
    let running = start(&sim).await;
    let response = client()
        .put(format!("{}/_sim/fault", running.base))
        .body(r#"{"mode":"down"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(sim.faults().mode(), FaultMode::Down);
    let id = first_task(&sim, "acme-prod");
    let status = client()
        .get(format!("{}/api/v1/tasks/{id}", running.base))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 503);
    running.stop().await;
}
