//! What stands between the gateway's misses and Alumio, so that Alumio is never stormed:
//! a circuit breaker for the whole upstream, a failure backoff per key, and a budget of
//! concurrent and per-second requests with a bounded queue.

mod backoff;
mod breaker;
mod budget;

pub use backoff::{FailureBackoff, KeyBackoff, RememberedAnswer};
pub use breaker::{BreakerSettings, BreakerState, BreakerTicket, CircuitBreaker, Transition};
pub use budget::{BudgetSettings, ShedReason, UpstreamBudget, UpstreamPermit};
