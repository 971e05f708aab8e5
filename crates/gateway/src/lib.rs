//! `alumio-gateway`: a caching gateway in front of Alumio's `GET /api/v1/tasks/{identifier}`.
//!
//! The library holds everything but process start-up: [`app`] builds the consumer-facing
//! router over an [`AppState`], and [`run`] serves it until a shutdown signal, letting
//! in-flight requests finish. The binary only reads [`Settings`], sets up logging and calls
//! these. See `docs/architecture.md` for the request's path through the layers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use alumio_gateway::{AppState, StateSettings, app, run};
//! use alumio_transport::AlumioClient;
//! use secrecy::SecretString;
//!
//! let upstream = AlumioClient::builder("https://acme.alumio.com/api/v1", SecretString::from("token")).build()?;
//! let state = AppState::new(upstream, &StateSettings::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! run(listener, app(state), std::future::pending(), std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```

pub mod access;
pub mod admin;
pub mod cache;
pub mod config;
pub mod demo;
pub mod entry;
pub mod error;
pub mod fetch;
pub mod freshness;
pub mod key;
pub mod metrics;
pub mod render;
mod routes;
mod server;
pub mod state;
pub mod telemetry;
pub mod upstream;

pub use config::{ConfigError, Settings};
pub use routes::{REQUEST_ID, app, app_without_metrics};
pub use server::{ServeLimits, run, run_with_limits, shutdown_signal};
pub use state::{AppState, StateSettings};
