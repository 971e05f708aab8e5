//! What the binary's black-box tests share: a clean command for the built gateway, and a guard
//! that stops a running one however a test ends.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

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

impl Running {
    /// Sends SIGTERM and waits, at most 15 s, for the gateway to exit with success.
    pub(crate) fn terminate_cleanly(&mut self) {
        signal(&self.0, "-TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.0.try_wait().expect("the child's status") {
                assert!(status.success(), "exit status after SIGTERM: {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends the signal `name` (such as `-HUP`) to `child`.
pub(crate) fn signal(child: &Child, name: &str) {
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args([name, &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill {name} {pid} failed");
}
