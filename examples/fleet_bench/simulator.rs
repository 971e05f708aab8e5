//! The simulated Alumio every replica fetches from, run as a child process and driven through
//! its `/_sim/` control endpoints: its request counter, its added latency, and the task
//! identifiers it holds, handed out as cold keys one at a time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::http1::AnyError;
use crate::processes::{Process, free_address, until_answers};

/// Tasks per space; the simulator lists at most this many identifiers of a space.
const TASKS_PER_SPACE: usize = 10_000;

/// A running simulator and the task paths it holds, of which those from `next_path` on have
/// not been handed out.
pub(crate) struct Simulator {
    address: SocketAddr,
    control: reqwest::Client,
    paths: Vec<String>,
    next_path: usize,
    _process: Process,
}

impl Simulator {
    /// Starts a simulator holding at least `keys` tasks, requiring the token in `token_file`.
    pub(crate) async fn start(
        program: &Path,
        token_file: &Path,
        keys: usize,
        core: Option<usize>,
        log: PathBuf,
    ) -> Result<Self, AnyError> {
        let address = free_address()?;
        let spaces: Vec<String> = (0..keys.div_ceil(TASKS_PER_SPACE).max(1))
            .map(|index| format!("fleet-{index:03}"))
            .collect();
        let mut args = vec![
            "--listen".to_owned(),
            address.to_string(),
            "--token-file".to_owned(),
            token_file.display().to_string(),
            "--tasks-per-space".to_owned(),
            TASKS_PER_SPACE.to_string(),
        ];
        for space in &spaces {
            args.extend(["--space".to_owned(), space.clone()]);
        }
        let process = Process::spawn(program, &args, core, log)?;
        let control = reqwest::Client::new();
        until_answers(&control, &format!("http://{address}/_sim/stats"), "{").await?;
        let mut paths = Vec::with_capacity(spaces.len() * TASKS_PER_SPACE);
        for space in &spaces {
            let url = format!("http://{address}/_sim/tasks?space={space}&limit={TASKS_PER_SPACE}");
            let listed: serde_json::Value = control.get(url).send().await?.json().await?;
            let identifiers = listed["identifiers"]
                .as_array()
                .ok_or("the simulator listed no identifiers")?;
            paths.extend(
                identifiers
                    .iter()
                    .filter_map(|id| Some(format!("/api/v1/tasks/{}?space={space}", id.as_str()?))),
            );
        }
        Ok(Self {
            address,
            control,
            paths,
            next_path: 0,
            _process: process,
        })
    }

    /// The base URL replicas are given as `--upstream`.
    pub(crate) fn api_url(&self) -> String {
        format!("http://{}/api/v1", self.address)
    }

    /// The client used for control requests, to replicas as well.
    pub(crate) fn control(&self) -> &reqwest::Client {
        &self.control
    }

    /// `count` task paths nobody has asked for.
    pub(crate) fn cold_paths(&mut self, count: usize) -> Result<Vec<String>, AnyError> {
        let end = self.next_path + count;
        let paths = self
            .paths
            .get(self.next_path..end)
            .ok_or("the simulator has no more unused tasks")?;
        self.next_path = end;
        Ok(paths.to_vec())
    }

    /// Task requests received since the start.
    pub(crate) async fn requests(&self) -> Result<u64, AnyError> {
        let url = format!("http://{}/_sim/stats", self.address);
        let stats: serde_json::Value = self.control.get(url).send().await?.json().await?;
        stats["totalRequests"]
            .as_u64()
            .ok_or_else(|| "the simulator's stats have no totalRequests".into())
    }

    /// Makes every task reply wait `millis` milliseconds.
    pub(crate) async fn set_latency(&self, millis: u64) -> Result<(), AnyError> {
        let url = format!("http://{}/_sim/fault", self.address);
        let body = serde_json::json!({ "latencyMs": millis });
        let response = self.control.put(url).json(&body).send().await?;
        if !response.status().is_success() {
            return Err(format!("the simulator refused the latency: {}", response.status()).into());
        }
        Ok(())
    }
}
