//! `alumio-gateway`: a caching gateway in front of Alumio's `GET /api/v1/tasks/{identifier}`.
//!
//! The library holds everything but parsing the process's arguments: [`Application::build`]
//! turns [`Settings`] into a gateway with its listeners bound, and
//! [`Application::run_until_stopped`] serves it until a shutdown future completes, letting
//! in-flight requests finish. The binary only reads the settings, sets up logging, and maps a
//! [`StartupError`] to an exit code; the black-box tests start the gateway the same way. See
//! `docs/architecture.md` for the request's path through the layers.
//!
//! ```no_run
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! use alumio_gateway::{Application, Settings, shutdown_signal};
//!
//! let settings = Settings::load([
//!     "alumio-gateway",
//!     "--upstream",
//!     "https://acme.alumio.com/api/v1",
//!     "--token-file",
//!     "/run/secrets/alumio-token",
//!     "--consumers",
//!     "/etc/alumio-gateway/consumers.toml",
//! ])?;
//! let application = Application::build(settings).await?;
//! tracing::info!(address = %application.address(), "serving");
//! application.run_until_stopped(shutdown_signal()).await?;
//! # Ok(()) }
//! ```

pub mod access;
pub mod admin;
pub mod cache;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod entry;
pub mod error;
mod exposition;
pub mod fetch;
pub mod freshness;
mod gcra;
mod hex;
pub mod huge_pages;
pub mod key;
pub mod metrics;
pub mod render;
mod routes;
mod server;
pub mod shared_tier;
mod startup;
pub mod state;
pub mod telemetry;
pub mod upstream;

pub use config::{ConfigError, Settings};
pub use routes::{
    Endpoint, EndpointFuture, HitBody, REQUEST_ID, app, app_without_metrics, endpoint,
    endpoint_without_metrics,
};
pub use server::{ServeLimits, Served, run, run_with_limits, shutdown_signal};
pub use startup::{Application, StartupError};
pub use state::{AppState, StateSettings};
