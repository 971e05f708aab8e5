//! `--demo`: a simulated Alumio started in this process on a loopback port, so the gateway runs
//! on a fresh machine with no Alumio account.

use std::io;

use alumio_models::{SpaceIdentifier, TaskIdentifier};
use alumio_sim::{SimConfig, Simulator};
use secrecy::SecretString;
use tokio::net::TcpListener;

/// A running simulator and how to reach it.
pub struct DemoUpstream {
    /// Its API base URL.
    pub url: String,
    /// The token it expects.
    pub token: SecretString,
    /// The simulator, for picking example tasks.
    pub simulator: Simulator,
}

impl DemoUpstream {
    /// Starts a simulator on `127.0.0.1` with a fresh random token; it runs until the process ends.
    pub async fn start() -> io::Result<Self> {
        let token = random_token();
        let simulator = Simulator::new(SimConfig {
            token: Some(SecretString::from(token.clone())),
            ..SimConfig::default()
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let serving = simulator.clone();
        tokio::spawn(async move {
            if let Err(error) = serving.serve(listener, std::future::pending()).await {
                tracing::error!(%error, "the demo simulator stopped");
            }
        });
        Ok(Self {
            url: format!("http://{address}/api/v1"),
            token: SecretString::from(token),
            simulator,
        })
    }

    /// A few (space, task) pairs that exist, for the start-up banner.
    pub fn examples(&self, count: usize) -> Vec<(SpaceIdentifier, TaskIdentifier)> {
        self.simulator
            .spaces()
            .iter()
            .flat_map(|space| {
                self.simulator
                    .task_identifiers(space)
                    .take(count)
                    .map(move |task| (space.clone(), task))
            })
            .take(count)
            .collect()
    }
}

fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    // Each RandomState is seeded from the OS; two of them give 128 unpredictable bits.
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("demo-{:016x}{:016x}", half(), half())
}
