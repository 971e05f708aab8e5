//! A simulated Alumio serving `GET /api/v1/tasks/{identifier}?space=`, so the gateway runs
//! without an Alumio account and tests and benchmarks have a realistic, controllable upstream.
//!
//! - **Tasks** are generated from a seed: for each space, `tasks_per_space` tasks with
//!   ULID-looking identifiers, Magento 2, Shopify, Exact Online or Salesforce entity data,
//!   context, route and meta, about 1.6–1.8 KB of JSON each, built with the `alumio-models`
//!   types.
//! - **Statuses move** with time: a third of the tasks settled long ago; the rest go from
//!   `new` through `processing` (sometimes `retry` or `waiting`) to `finished`, `failed`,
//!   `skipped` or `killed` in the first minutes, and `updatedAt` moves with them. Each form
//!   of a document is rendered once and then served as shared bytes.
//! - **Errors** are Alumio `Error` bodies: `401` for a missing or wrong bearer token, `400`
//!   for a `space` outside `^[a-z0-9-]+$`, `404` for a task not in the space asked for.
//! - **Faults** ([`FaultMode`], latency, error rate) can be switched on at run time through
//!   [`Simulator::faults`] or the unauthenticated `/_sim/fault` endpoint; `/_sim/stats`
//!   counts requests.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use alumio_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::new(SimConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! sim.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod api;
mod auth;
mod catalog;
mod config;
mod control;
mod document;
mod entities;
mod faults;
mod flows;
mod reply;
mod rfc3339;
mod seeded;
mod simulator;
mod stats;
mod timeline;

pub use config::{DEFAULT_SPACES, MAX_TASKS, SimConfig};
pub use faults::{FaultControls, FaultMode, MAX_LATENCY, MAX_OVERSIZED_BYTES};
pub use simulator::Simulator;
pub use stats::SimStats;
