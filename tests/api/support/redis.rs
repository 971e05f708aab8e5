//! Real Redis for the tests: `RedisServer` (one `redis-server` on a free loopback port, with
//! faults: kill, restart, freeze) and `RedisCluster` (three masters). Every process started here
//! is killed when its handle drops, a panicking test included. This file uses nothing of its
//! test binary, so the gateway binary's tests include it too (`#[path]`).

use std::fmt::Write as _;
use std::io;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long a server may take to answer its first PING, and a cluster to become ok.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a starting server or cluster is asked whether it is ready.
const POLL: Duration = Duration::from_millis(10);
/// How often a free port is drawn again when another process took it first.
const PORT_ATTEMPTS: usize = 5;
/// Clusters started afresh before a test gives up on forming one.
const CLUSTER_ATTEMPTS: usize = 3;

/// The server program, found on PATH.
const SERVER_PROGRAM: &str = "redis-server";

/// The one line a test fails with when Redis is not installed.
pub(crate) const INSTALL_HINT: &str = "redis-server and redis-cli are needed: run scripts/test.sh, which installs them, or apt-get install -y redis-server redis-tools";

/// One `redis-server` on `127.0.0.1`, without persistence, in its own temporary directory.
pub(crate) struct RedisServer {
    port: u16,
    password: Option<String>,
    extra_args: Vec<String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub(crate) async fn start() -> Self {
        Self::launch(None, Vec::new()).await
    }

    /// Starts a server whose default user needs `password` (`requirepass`).
    pub(crate) async fn start_with_password(password: &str) -> Self {
        Self::launch(Some(password.to_owned()), Vec::new()).await
    }

    async fn launch(password: Option<String>, extra_args: Vec<String>) -> Self {
        for _ in 0..PORT_ATTEMPTS {
            let mut server = Self {
                port: free_port(),
                password: password.clone(),
                extra_args: extra_args.clone(),
                dir: tempfile::Builder::new()
                    .prefix("alumio-redis-")
                    .tempdir()
                    .expect("a temporary directory for redis-server"),
                child: None,
            };
            if server.spawn_and_wait().await {
                return server;
            }
            // Another process took the port between drawing and binding it; draw another.
        }
        panic!("redis-server did not start in {PORT_ATTEMPTS} attempts; see its log above");
    }

    /// Spawns the process on `self.port`; false if it exited before answering (port in use).
    async fn spawn_and_wait(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.path().join("redis.log")).expect("a log file");
        let mut command = Command::new(SERVER_PROGRAM);
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(debug_command_args())
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("a log handle")))
            .stderr(Stdio::from(log));
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        self.child = Some(spawn_or_explain(&mut command));
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.ping().await {
                return true;
            }
            if let Some(child) = &mut self.child
                && child.try_wait().expect("the child's status").is_some()
            {
                self.child = None;
                let log = std::fs::read_to_string(self.dir.path().join("redis.log"));
                eprintln!("redis-server exited at start: {}", log.unwrap_or_default());
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
        panic!(
            "redis-server on port {} did not answer PING within {START_TIMEOUT:?}",
            self.port
        );
    }

    /// The server's port on `127.0.0.1`.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `redis://127.0.0.1:port`, with the password when there is one.
    pub(crate) fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Kills the server with SIGKILL and waits for it to be gone: connections are refused.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (empty, as nothing is persisted) and waits
    /// until it answers; kills it first if it still runs.
    pub(crate) async fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn_and_wait().await,
            "redis-server could not start again on port {}",
            self.port
        );
    }

    /// Freezes the server for `duration` with `DEBUG SLEEP` and returns once it has stopped
    /// answering: every command, on any connection, waits until the freeze ends.
    pub(crate) async fn freeze(&self, duration: Duration) {
        let mut stream = self.connect().await.expect("a connection to freeze Redis");
        let seconds = format!("{:.3}", duration.as_secs_f64());
        stream
            .write_all(&encode(&[b"DEBUG", b"SLEEP", seconds.as_bytes()]))
            .await
            .expect("DEBUG SLEEP is sent");
        // The reply comes when the sleep ends; keep the connection open until then.
        tokio::spawn(async move {
            let mut reply = [0_u8; 64];
            let _ = stream.read(&mut reply).await;
        });
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            let answered = tokio::time::timeout(Duration::from_millis(25), self.ping()).await;
            if !matches!(answered, Ok(true)) {
                return;
            }
        }
        panic!("redis-server on port {} did not freeze", self.port);
    }

    /// Runs `redis-cli` against this server with `args` and returns its trimmed output.
    pub(crate) async fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(password) = &self.password {
            command.args(["--no-auth-warning", "-a", password]);
        }
        command.args(args);
        run_cli(command).await
    }

    /// Sends one command (binary-safe arguments) and returns its reply.
    pub(crate) async fn command(&self, args: &[&[u8]]) -> Reply {
        let mut stream = self.connect().await.expect("a connection to Redis");
        stream
            .write_all(&encode(args))
            .await
            .expect("the command is sent");
        read_reply(&mut BufReader::new(&mut stream))
            .await
            .expect("a RESP reply")
    }

    /// Whether the server answers PING now.
    pub(crate) async fn ping(&self) -> bool {
        let Ok(mut stream) = self.connect().await else {
            return false;
        };
        if stream.write_all(&encode(&[b"PING"])).await.is_err() {
            return false;
        }
        let mut line = String::new();
        let mut reader = BufReader::new(&mut stream);
        reader.read_line(&mut line).await.is_ok() && line == "+PONG\r\n"
    }

    /// A connection, authenticated when the server has a password.
    async fn connect(&self) -> io::Result<TcpStream> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await?;
        if let Some(password) = &self.password {
            stream
                .write_all(&encode(&[b"AUTH", password.as_bytes()]))
                .await?;
            let mut line = String::new();
            BufReader::new(&mut stream).read_line(&mut line).await?;
            if line != "+OK\r\n" {
                return Err(io::Error::other("AUTH refused"));
            }
        }
        Ok(stream)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of masters without replicas, each a `RedisServer` with its own bus port.
pub(crate) struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes (at least 3, as Redis requires), joins them with
    /// `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`.
    pub(crate) async fn start(masters: usize) -> Self {
        assert!(masters >= 3, "a Redis Cluster needs at least 3 masters");
        for _ in 0..CLUSTER_ATTEMPTS {
            if let Some(cluster) = Self::try_start(masters).await {
                return cluster;
            }
        }
        panic!("the Redis Cluster did not form in {CLUSTER_ATTEMPTS} attempts");
    }

    async fn try_start(masters: usize) -> Option<Self> {
        let mut nodes = Vec::with_capacity(masters);
        let mut bus_ports = Vec::with_capacity(masters);
        for _ in 0..masters {
            // The bus defaults to port + 10000, which a free port may not have room for.
            let bus_port = free_port();
            let args = vec![
                "--cluster-enabled".to_owned(),
                "yes".to_owned(),
                "--cluster-config-file".to_owned(),
                "nodes.conf".to_owned(),
                "--cluster-node-timeout".to_owned(),
                "2000".to_owned(),
                "--cluster-port".to_owned(),
                bus_port.to_string(),
            ];
            nodes.push(RedisServer::launch(None, args).await);
            bus_ports.push(bus_port);
        }
        let mut command = Command::new("redis-cli");
        command.arg("--cluster").arg("create");
        command.args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)));
        command.args(["--cluster-replicas", "0", "--cluster-yes"]);
        // redis-cli assigns the slots at once, then waits, without a limit, for gossip to
        // spread the join; on a loaded machine that wait was seen to stall for minutes.
        run_cli_within(command, START_TIMEOUT).await;
        // So every node meets every other directly; meeting a known node changes nothing.
        for node in &nodes {
            for (other, bus_port) in nodes.iter().zip(&bus_ports) {
                if other.port != node.port {
                    let (port, bus_port) = (other.port.to_string(), bus_port.to_string());
                    node.cli(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus_port])
                        .await;
                }
            }
        }
        let cluster = Self { nodes };
        cluster.is_ok_within(START_TIMEOUT).await.then_some(cluster)
    }

    async fn wait_until_ok(&self) {
        assert!(
            self.is_ok_within(START_TIMEOUT).await,
            "the Redis Cluster did not become ok"
        );
    }

    /// Whether every node reports `cluster_state:ok` within `limit`.
    async fn is_ok_within(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let mut all_ok = true;
            for node in &self.nodes {
                all_ok &= node
                    .cli(&["CLUSTER", "INFO"])
                    .await
                    .contains("cluster_state:ok");
            }
            if all_ok {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The seed URLs of every node, comma-separated, as `--redis-url` takes them.
    pub(crate) fn seed_urls(&self) -> String {
        let mut urls = String::new();
        for node in &self.nodes {
            if !urls.is_empty() {
                urls.push(',');
            }
            let _ = write!(urls, "{}", node.url());
        }
        urls
    }

    /// The nodes, to run commands on or inject faults into one of them.
    pub(crate) fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Sends a command about one key to the node that owns it (the first not answering MOVED).
    pub(crate) async fn command(&self, args: &[&[u8]]) -> Reply {
        let mut reply = Reply::Error("no node".into());
        for node in &self.nodes {
            reply = node.command(args).await;
            if !matches!(&reply, Reply::Error(error) if error.starts_with("MOVED")) {
                return reply;
            }
        }
        reply
    }

    /// Kills every node with SIGKILL.
    pub(crate) fn kill(&mut self) {
        self.nodes.iter_mut().for_each(RedisServer::kill);
    }

    /// Starts every node again on its ports, from its saved cluster configuration (the data is
    /// gone), and waits until the cluster is ok.
    pub(crate) async fn restart(&mut self) {
        for node in &mut self.nodes {
            node.restart().await;
        }
        self.wait_until_ok().await;
    }

    /// Freezes every node for `duration`, one right after the other.
    pub(crate) async fn freeze(&self, duration: Duration) {
        for node in &self.nodes {
            node.freeze(duration).await;
        }
    }

    /// Runs `redis-cli -c` (following redirections) from the first node.
    pub(crate) async fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.args([
            "-c",
            "-h",
            "127.0.0.1",
            "-p",
            &self.nodes[0].port.to_string(),
        ]);
        command.args(args);
        run_cli(command).await
    }
}

/// Spawns `command`, failing the test with `INSTALL_HINT` when the program is missing.
pub(crate) fn spawn_or_explain(command: &mut Command) -> Child {
    match command.spawn() {
        Ok(child) => child,
        Err(error) => panic!("{}", spawn_failure(command, &error)),
    }
}

/// The one line a failed spawn of a Redis program is reported with.
pub(crate) fn spawn_failure(command: &Command, error: &io::Error) -> String {
    if error.kind() == io::ErrorKind::NotFound {
        INSTALL_HINT.to_owned()
    } else {
        format!(
            "cannot start {}: {error}",
            command.get_program().to_string_lossy()
        )
    }
}

async fn run_cli(mut command: Command) -> String {
    command.stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || {
        let output = command
            .output()
            .map_err(|error| spawn_failure(&command, &error));
        output.unwrap_or_else(|line| panic!("{line}"))
    })
    .await
    .expect("redis-cli runs");
    assert!(
        output.status.success(),
        "redis-cli failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Runs `command` for at most `limit`, then kills it; what it printed is not read.
async fn run_cli_within(mut command: Command, limit: Duration) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("{}", spawn_failure(&command, &error)));
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `--enable-debug-command local` on Redis 7 and later, which refuse `DEBUG` without it;
/// older servers allow `DEBUG` and do not know the option.
fn debug_command_args() -> &'static [&'static str] {
    static ARGS: OnceLock<&'static [&'static str]> = OnceLock::new();
    ARGS.get_or_init(|| {
        let version = Command::new(SERVER_PROGRAM).arg("--version").output();
        let version = version.unwrap_or_else(|error| {
            panic!("{}", spawn_failure(&Command::new(SERVER_PROGRAM), &error))
        });
        let text = String::from_utf8_lossy(&version.stdout);
        let major: u32 = text
            .split("v=")
            .nth(1)
            .and_then(|rest| rest.split('.').next())
            .and_then(|major| major.parse().ok())
            .unwrap_or(7);
        if major >= 7 {
            &["--enable-debug-command", "local"]
        } else {
            &[]
        }
    })
}

/// A port on `127.0.0.1` that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `args` as a RESP array of bulk strings.
fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+OK` and the like.
    Status(String),
    /// `-ERR ...`, `-MOVED ...`.
    Error(String),
    /// `:1`.
    Integer(i64),
    /// A bulk string, `None` for nil.
    Bulk(Option<Vec<u8>>),
    /// An array, `None` for nil.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The bytes of a bulk reply; `None` for nil or any other reply.
    pub(crate) fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Self::Bulk(bytes) => bytes,
            _ => None,
        }
    }

    /// The bulk strings of an array reply, as text.
    pub(crate) fn into_strings(self) -> Vec<String> {
        match self {
            Self::Array(Some(items)) => items
                .into_iter()
                .filter_map(Self::into_bytes)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn read_reply<'a, R: tokio::io::AsyncBufRead + Unpin + Send>(
    reader: &'a mut R,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<Reply>> + Send + 'a>> {
    Box::pin(async move {
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at_checked(1).unwrap_or(("", ""));
        let number = || rest.parse::<i64>().map_err(io::Error::other);
        Ok(match kind {
            "+" => Reply::Status(rest.to_owned()),
            "-" => Reply::Error(rest.to_owned()),
            ":" => Reply::Integer(number()?),
            "$" => match usize::try_from(number()?) {
                Ok(length) => {
                    let mut bytes = vec![0; length + 2];
                    reader.read_exact(&mut bytes).await?;
                    bytes.truncate(length);
                    Reply::Bulk(Some(bytes))
                }
                Err(_) => Reply::Bulk(None),
            },
            "*" => match usize::try_from(number()?) {
                Ok(count) => {
                    let mut items = Vec::with_capacity(count);
                    for _ in 0..count {
                        items.push(read_reply(reader).await?);
                    }
                    Reply::Array(Some(items))
                }
                Err(_) => Reply::Array(None),
            },
            _ => return Err(io::Error::other(format!("not a RESP reply: {line:?}"))),
        })
    })
}
