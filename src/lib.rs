//! Holder package for the workspace's black-box tests (`tests/`) and benchmarks (`benches/`); it has no code of its own.
