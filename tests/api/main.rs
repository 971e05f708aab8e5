//! Black-box tests of the gateway: started through `Application::build` as `main` starts it, on
//! a loopback port, in front of a wiremock or simulated Alumio. `TEST_LOG=1` shows the
//! gateway's logs.

// A test that cannot go on should stop loudly where it is; helpers are part of the tests.
#![allow(clippy::unwrap_used)]

mod access;
mod admin;
mod cache_hits;
mod coalescing;
mod fleet;
mod freshness;
mod helpers;
mod hit_path;
mod hostile_input;
mod limits;
mod operations;
mod protection;
mod redis_server;
mod relaying;
mod schema_drift;
mod secrets;
mod shared_tier;
mod shutdown;
mod soak;
mod stale;
mod startup;
mod support;
