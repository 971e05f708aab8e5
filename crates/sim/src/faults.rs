//! Faults that can be switched on while the simulator runs: a whole-service mode (down, hanging,
//! rate limited, or answering with broken bodies), extra latency, and a random error rate.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::seeded::{mix, unit_interval};

/// The largest body [`FaultMode::Oversized`] pads to, so a typo cannot exhaust memory.
pub const MAX_OVERSIZED_BYTES: usize = 64 * 1024 * 1024;

/// The longest latency [`FaultControls::set_latency`] accepts; longer values are cut to it.
pub const MAX_LATENCY: Duration = Duration::from_secs(3600);

/// How the simulated task endpoint misbehaves. The `/_sim/` control endpoints are never affected.
///
/// `Down`, `Hang` and `TooManyRequests` answer every task request before the token is checked,
/// as an outage or a rate limiter in front of Alumio would. `Garbage`, `Oversized` and
/// `ResetMidBody` replace the `200` of a request that would have succeeded, so `401`, `400` and
/// `404` are still answered as usual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultMode {
    /// Answers normally.
    #[default]
    Healthy,
    /// `503` with an `Error` body.
    Down,
    /// Never answers, until the simulator shuts down or an hour has passed.
    Hang,
    /// `200`, claiming `application/json`, with a body that is not JSON (`<html>oops</html>`).
    Garbage,
    /// `200` with the task's document padded with an extra property until it is longer than
    /// this many bytes (at most [`MAX_OVERSIZED_BYTES`]).
    Oversized(usize),
    /// `200` with the headers and `Content-Length` of the full document, then half the body,
    /// then the connection is dropped.
    ResetMidBody,
    /// `429` with `Retry-After` and an `Error` body.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
}

/// The mode is packed as a tag in the top byte and its parameter below, so one atomic holds it
/// and a reader never sees one mode's tag with another's parameter.
const PARAMETER_BITS: u32 = 56;
const PARAMETER_MASK: u64 = (1 << PARAMETER_BITS) - 1;

impl FaultMode {
    /// The mode's name as the `/_sim/fault` endpoint spells it: `healthy`, `down`, `hang`,
    /// `garbage`, `oversized`, `reset-mid-body` or `too-many-requests`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Down => "down",
            Self::Hang => "hang",
            Self::Garbage => "garbage",
            Self::Oversized(_) => "oversized",
            Self::ResetMidBody => "reset-mid-body",
            Self::TooManyRequests { .. } => "too-many-requests",
        }
    }

    fn pack(self) -> u64 {
        let (tag, parameter) = match self {
            Self::Healthy => (0, 0),
            Self::Down => (1, 0),
            Self::Hang => (2, 0),
            Self::Garbage => (3, 0),
            Self::Oversized(bytes) => (4, bytes.min(MAX_OVERSIZED_BYTES) as u64),
            Self::ResetMidBody => (5, 0),
            Self::TooManyRequests { retry_after_secs } => (6, retry_after_secs.min(PARAMETER_MASK)),
        };
        (tag << PARAMETER_BITS) | parameter
    }

    fn unpack(packed: u64) -> Self {
        let parameter = packed & PARAMETER_MASK;
        match packed >> PARAMETER_BITS {
            1 => Self::Down,
            2 => Self::Hang,
            3 => Self::Garbage,
            4 => Self::Oversized(usize::try_from(parameter).unwrap_or(MAX_OVERSIZED_BYTES)),
            5 => Self::ResetMidBody,
            6 => Self::TooManyRequests {
                retry_after_secs: parameter,
            },
            _ => Self::Healthy,
        }
    }
}

impl fmt::Display for FaultMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Oversized(bytes) => write!(f, "oversized ({bytes} bytes)"),
            Self::TooManyRequests { retry_after_secs } => {
                write!(f, "too-many-requests (retry after {retry_after_secs} s)")
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The simulator's switchable faults; every setter takes effect for the next request.
pub struct FaultControls {
    mode: AtomicU64,
    latency_micros: AtomicU64,
    error_rate_bits: AtomicU64,
    /// Counts error-rate decisions, so each request draws a new number from the seed.
    decisions: AtomicU64,
    configured_latency: Duration,
    seed: u64,
}

impl FaultControls {
    pub(crate) fn new(latency: Duration, seed: u64) -> Self {
        let controls = Self {
            mode: AtomicU64::new(FaultMode::Healthy.pack()),
            latency_micros: AtomicU64::new(0),
            error_rate_bits: AtomicU64::new(0.0_f64.to_bits()),
            decisions: AtomicU64::new(0),
            configured_latency: latency,
            seed,
        };
        controls.set_latency(latency);
        controls
    }

    /// Switches the task endpoint to `mode`.
    pub fn set_mode(&self, mode: FaultMode) {
        tracing::info!(%mode, "simulated fault mode set");
        self.mode.store(mode.pack(), Ordering::Relaxed);
    }

    /// The current mode.
    pub fn mode(&self) -> FaultMode {
        FaultMode::unpack(self.mode.load(Ordering::Relaxed))
    }

    /// Adds `latency` to every task reply (at most [`MAX_LATENCY`]).
    pub fn set_latency(&self, latency: Duration) {
        let micros = latency.min(MAX_LATENCY).as_micros();
        self.latency_micros
            .store(u64::try_from(micros).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The latency added to every task reply.
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_micros.load(Ordering::Relaxed))
    }

    /// Answers this fraction of task requests (0.0 to 1.0; anything else is clamped, NaN is 0)
    /// with `503`. Which requests fail is pseudo-random but fixed by the seed.
    pub fn set_error_rate(&self, rate: f64) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.error_rate_bits
            .store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The fraction of task requests answered with `503`.
    pub fn error_rate(&self) -> f64 {
        f64::from_bits(self.error_rate_bits.load(Ordering::Relaxed))
    }

    /// Back to healthy, the configured latency and no random errors.
    pub fn reset(&self) {
        self.set_mode(FaultMode::Healthy);
        self.set_latency(self.configured_latency);
        self.set_error_rate(0.0);
    }

    /// Whether the next request falls within the error rate.
    pub(crate) fn next_request_fails(&self) -> bool {
        let rate = self.error_rate();
        if rate <= 0.0 {
            return false;
        }
        let decision = self.decisions.fetch_add(1, Ordering::Relaxed);
        unit_interval(mix(self.seed ^ mix(decision))) < rate
    }
}

impl fmt::Debug for FaultControls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultControls")
            .field("mode", &self.mode())
            .field("latency", &self.latency())
            .field("error_rate", &self.error_rate())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_survives_packing() {
        for mode in [
            FaultMode::Healthy,
            FaultMode::Down,
            FaultMode::Hang,
            FaultMode::Garbage,
            FaultMode::Oversized(123_456),
            FaultMode::ResetMidBody,
            FaultMode::TooManyRequests {
                retry_after_secs: 17,
            },
        ] {
            assert_eq!(FaultMode::unpack(mode.pack()), mode);
        }
        let huge = FaultMode::Oversized(usize::MAX).pack();
        assert_eq!(
            FaultMode::unpack(huge),
            FaultMode::Oversized(MAX_OVERSIZED_BYTES)
        );
    }

    #[test]
    fn the_error_rate_fails_about_that_fraction_of_requests_the_same_way_each_time() {
        let decisions = |seed| {
            let controls = FaultControls::new(Duration::ZERO, seed);
            controls.set_error_rate(0.25);
            (0..4000)
                .map(|_| controls.next_request_fails())
                .collect::<Vec<_>>()
        };
        let first = decisions(9);
        let failures = first.iter().filter(|&&failed| failed).count();
        assert!((800..1200).contains(&failures), "{failures}");
        assert_eq!(first, decisions(9));
        assert_ne!(first, decisions(10));
    }

    #[test]
    fn rates_and_latencies_are_kept_within_bounds() {
        let controls = FaultControls::new(Duration::from_millis(5), 0);
        controls.set_error_rate(f64::NAN);
        assert_eq!(controls.error_rate(), 0.0);
        controls.set_error_rate(7.0);
        assert_eq!(controls.error_rate(), 1.0);
        assert!(controls.next_request_fails());
        controls.set_latency(Duration::from_secs(1_000_000));
        assert_eq!(controls.latency(), MAX_LATENCY);
        controls.set_mode(FaultMode::Down);
        controls.reset();
        assert_eq!(controls.mode(), FaultMode::Healthy);
        assert_eq!(controls.latency(), Duration::from_millis(5));
    }
}
