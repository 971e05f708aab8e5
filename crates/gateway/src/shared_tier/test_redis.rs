//! A `redis-server` of the unit tests' own, on a free loopback port, killed on drop. The
//! black-box tests use `tests/api/support/redis.rs` instead; the lib's unit tests cannot use a
//! test binary's module, so they keep this one.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One throwaway Redis.
pub(super) struct TestRedis {
    child: Option<Child>,
    port: u16,
}

impl TestRedis {
    /// Starts `redis-server` and waits until it answers `PING`. A missing binary fails the
    /// test with one line naming what to install.
    pub(super) fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let mut redis = Self { child: None, port };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot run redis-server ({error}): install redis-server and redis-tools")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).trim() != "PONG" {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub(super) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server and returns its output.
    pub(super) fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap_or_else(|error| {
                panic!("cannot run redis-cli ({error}): install redis-server and redis-tools")
            });
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Stops the server.
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the process in its tracks (`SIGSTOP`), as a Redis stuck in a long command or a
    /// frozen VM would be: connections stay open and nothing answers. `thaw` resumes it.
    pub(super) fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen server.
    pub(super) fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .expect("a running server")
            .id()
            .to_string();
        let status = Command::new("kill").args([signal, &pid]).status();
        assert!(
            status.is_ok_and(|status| status.success()),
            "kill {signal} {pid}"
        );
    }

    /// Starts it again on the same port, empty.
    pub(super) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three `redis-server`s made one Redis Cluster of three masters.
pub(super) struct TestCluster {
    nodes: Vec<TestRedis>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// Starts three cluster-enabled servers and joins them with `redis-cli --cluster create`.
    pub(super) fn start() -> Self {
        let dir = tempfile::tempdir().expect("a directory for the cluster's files");
        let nodes: Vec<TestRedis> = (0..3)
            .map(|index| {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .expect("a free loopback port")
                    .port();
                let config = dir.path().join(format!("nodes-{index}.conf"));
                let child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no", "--cluster-enabled", "yes"])
                    .arg("--cluster-config-file")
                    .arg(&config)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|error| {
                        panic!("cannot run redis-server ({error}): install redis-server and redis-tools")
                    });
                let node = TestRedis {
                    child: Some(child),
                    port,
                };
                let deadline = Instant::now() + Duration::from_secs(10);
                while node.cli(&["PING"]).trim() != "PONG" {
                    assert!(Instant::now() < deadline, "a cluster node did not answer PING");
                    std::thread::sleep(Duration::from_millis(20));
                }
                node
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        nodes[0].cli(&create);
        let cluster = Self { nodes, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !cluster
            .nodes
            .iter()
            .all(|node| node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        cluster
    }

    /// The seeds, comma-separated.
    pub(super) fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(TestRedis::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}
