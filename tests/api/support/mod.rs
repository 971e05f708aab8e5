//! Processes the black-box tests start besides the gateway: Redis servers and clusters.

pub(crate) mod redis;
