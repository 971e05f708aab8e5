//! What the binary's black-box tests share: a clean command for the built gateway, and a guard
//! that stops a running one however a test ends.

use std::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_alumio-gateway");

/// The gateway binary with no `GATEWAY_*` or `ALUMIO_*` variable inherited, since the tests
/// decide every setting, and quiet logs.
pub(crate) fn gateway() -> Command {
    let mut command = Command::new(BINARY);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("GATEWAY_") || name.starts_with("ALUMIO_") {
            command.env_remove(name);
        }
    }
    command.env("RUST_LOG", "warn");
    command
}

/// Kills the child when the test ends, however it ends.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
