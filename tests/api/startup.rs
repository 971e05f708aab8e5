//! Start-up as `main` goes through it: what fails is reported as a typed error before anything
//! is served, port 0 gives the port the system chose, and one shutdown stops both listeners.

use std::net::SocketAddr;

use alumio_gateway::{ConfigError, StartupError};

use crate::helpers::{build_app, secret_file, spawn_app_with};

/// An address nothing answers on, for gateways that are built but never asked for a task.
const NO_ALUMIO: &str = "http://127.0.0.1:9/api/v1";

const ADMIN_TOKEN: &str = "admin-token-startup-3c9e0a51";

fn loopback_port_zero() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test]
async fn port_zero_reports_the_ports_the_system_chose() {
    let token_file = secret_file(ADMIN_TOKEN);
    let application = build_app(NO_ALUMIO, |settings| {
        settings.admin_listen = Some(loopback_port_zero());
        settings.admin_token_file = Some(token_file.path().to_owned());
    })
    .await
    .unwrap();

    let address = application.address();
    let admin = application.admin_address().expect("the admin API is on");
    assert!(address.ip().is_loopback() && admin.ip().is_loopback());
    assert_ne!(address.port(), 0);
    assert_ne!(admin.port(), 0);
    assert_ne!(address, admin);
    // Bound, not yet served: a connection waits in the backlog rather than being refused.
    tokio::net::TcpStream::connect(address).await.unwrap();
}

#[tokio::test]
async fn an_address_in_use_is_a_bind_error_naming_the_listener_not_a_configuration_error() {
    let taken = tokio::net::TcpListener::bind(loopback_port_zero())
        .await
        .unwrap();
    let taken_address = taken.local_addr().unwrap();

    let Err(error) = build_app(NO_ALUMIO, |settings| settings.listen = taken_address).await else {
        panic!("the gateway started on an address in use");
    };
    match error {
        StartupError::Bind {
            listener, address, ..
        } => {
            assert_eq!(listener, "consumer");
            assert_eq!(address, taken_address);
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_consumers_file_that_cannot_be_read_is_a_configuration_error_naming_the_setting() {
    let Err(error) = build_app(NO_ALUMIO, |settings| {
        settings.allow_anonymous = false;
        settings.consumers = Some("/nonexistent/consumers.toml".into());
    })
    .await
    else {
        panic!("the gateway started without its consumers file");
    };
    assert!(
        matches!(
            error,
            StartupError::Config(ConfigError::Invalid {
                setting: "--consumers",
                ..
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn without_a_consumers_file_or_allow_anonymous_the_gateway_does_not_start() {
    let Err(error) = build_app(NO_ALUMIO, |settings| settings.allow_anonymous = false).await else {
        panic!("the library started an open gateway");
    };
    assert!(
        matches!(
            error,
            StartupError::Config(ConfigError::Invalid {
                setting: "--consumers",
                ..
            })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn one_shutdown_stops_the_consumer_and_the_admin_listener() {
    let token_file = secret_file(ADMIN_TOKEN);
    let app = spawn_app_with(|settings| {
        settings.admin_listen = Some(loopback_port_zero());
        settings.admin_token_file = Some(token_file.path().to_owned());
    })
    .await;
    let (address, admin) = (app.address, app.admin_address.unwrap());
    let stats = app
        .client
        .get(format!("http://{admin}/admin/cache/stats"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stats.status(), 200, "the admin API is served");

    app.shut_down().await.expect("the gateway stops cleanly");

    for stopped in [address, admin] {
        assert!(
            tokio::net::TcpStream::connect(stopped).await.is_err(),
            "{stopped} still accepts connections"
        );
    }
}
