//! The processes a fleet benchmark runs: the simulator and gateway replicas, started from the
//! release binaries as children (pinned with `taskset` when a core is given) and killed when
//! dropped, and the CPU time a process has used, read from `/proc/<pid>/stat`.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http1::AnyError;

/// How long a child may take to answer after it is started.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// What every replica is started with, whether it joins the shared tier or not.
pub(crate) struct FleetSettings {
    pub(crate) gateway: PathBuf,
    /// More arguments for every replica, such as `--redis-command-timeout 200ms`.
    pub(crate) extra_args: Vec<String>,
    pub(crate) upstream: String,
    pub(crate) token_file: PathBuf,
    pub(crate) core: Option<usize>,
    pub(crate) logs: PathBuf,
}

/// A child process, killed and reaped on drop.
pub(crate) struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(
        program: &Path,
        args: &[String],
        core: Option<usize>,
        log: PathBuf,
    ) -> Result<Self, AnyError> {
        let mut command = match core {
            // taskset execs the program, so the child's pid is the program's.
            Some(core) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(core.to_string()).arg(program);
                command
            }
            None => Command::new(program),
        };
        let output = File::create(&log)?;
        let child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", program.display()))?;
        Ok(Self { child, log })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An error naming this process, with the end of its log.
    fn failed(&self, what: &str) -> AnyError {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("{what} ({}):\n{}", self.log.display(), tail.join("\n")).into()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway replica listening on `address`.
pub(crate) struct Replica {
    pub(crate) address: SocketAddr,
    pub(crate) process: Process,
}

impl Replica {
    /// Starts a replica, on the shared tier when `redis_url` is given, and waits until it
    /// serves (and, on the shared tier, until it is connected to Redis).
    pub(crate) async fn start(
        fleet: &FleetSettings,
        name: &str,
        redis_url: Option<&str>,
        control: &reqwest::Client,
    ) -> Result<Self, AnyError> {
        let address = free_address()?;
        let mut args: Vec<String> = [
            "--listen",
            &address.to_string(),
            "--upstream",
            &fleet.upstream,
            "--token-file",
            &fleet.token_file.display().to_string(),
            "--allow-anonymous",
            "--ttl-active",
            "1h",
            "--ttl-settled",
            "1h",
            "--cache-max-bytes",
            "2GiB",
        ]
        .map(str::to_owned)
        .to_vec();
        if let Some(url) = redis_url {
            args.extend(["--redis-url".to_owned(), url.to_owned()]);
        }
        args.extend(fleet.extra_args.iter().cloned());
        let log = fleet.logs.join(format!("{name}.log"));
        let process = Process::spawn(&fleet.gateway, &args, fleet.core, log)?;
        let replica = Self { address, process };
        let ready = if redis_url.is_some() {
            r#""state":"connected""#
        } else {
            r#""state":"disabled""#
        };
        until_answers(control, &format!("http://{address}/readyz"), ready)
            .await
            .map_err(|_| replica.process.failed("the replica did not become ready"))?;
        Ok(replica)
    }

    /// The sum of the metric samples whose line starts with `name`, such as
    /// `alumio_gateway_upstream_requests_total` (all its labels) or
    /// `alumio_gateway_shared_errors_total{kind="timeout"}`.
    pub(crate) async fn metric(
        &self,
        control: &reqwest::Client,
        name: &str,
    ) -> Result<f64, AnyError> {
        let url = format!("http://{}/metrics", self.address);
        let text = control.get(url).send().await?.text().await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }
}

/// Waits until `url` answers 200 with a body containing `expected`.
pub(crate) async fn until_answers(
    control: &reqwest::Client,
    url: &str,
    expected: &str,
) -> Result<(), AnyError> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Ok(response) = control.get(url).send().await
            && response.status() == 200
            && response.text().await?.contains(expected)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not answer within {START_DEADLINE:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback address nothing listens on at the moment.
pub(crate) fn free_address() -> Result<SocketAddr, AnyError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// User plus system CPU time the process has used, all its threads included, in seconds.
pub(crate) fn cpu_seconds(pid: u32, ticks_per_second: f64) -> Result<f64, AnyError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, from the state (field 3) on; utime and stime are the
    // 14th and 15th fields.
    let after_name = stat.rsplit_once(") ").ok_or("unreadable stat")?.1;
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks = |index: usize| -> Result<f64, AnyError> {
        Ok(fields.get(index).ok_or("short stat")?.parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / ticks_per_second)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), 100 when it cannot be asked.
pub(crate) fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}
