//! Shutdown stops accepting but lets the request in flight finish.

use std::time::Duration;

use crate::helpers::{alumio_serves, spawn_app, task_bytes, task_reply};

#[tokio::test]
async fn shutdown_drains_an_in_flight_request() {
    let app = spawn_app().await;
    alumio_serves(
        &app,
        "slow",
        task_reply("slow", "finished").set_delay(Duration::from_millis(500)),
    )
    .await;

    let client = app.client.clone();
    let url = app.url("/api/v1/tasks/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(150)).await;

    let address = app.address;
    app.shut_down().await.expect("the server stops cleanly");

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.bytes().await.unwrap(),
        task_bytes("slow", "finished")
    );
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "no new connections after shutdown"
    );
}
