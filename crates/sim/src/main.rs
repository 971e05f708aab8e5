//! `alumio-sim`: runs the simulated Alumio on a local address until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alumio_models::SpaceIdentifier;
use alumio_sim::{SimConfig, Simulator};
use anyhow::{Context as _, bail};
use clap::Parser;
use secrecy::SecretString;
use tokio::net::TcpListener;

/// The environment variable that can hold the bearer token.
const TOKEN_VARIABLE: &str = "ALUMIO_SIM_TOKEN";
/// The largest token file read.
const TOKEN_FILE_LIMIT: u64 = 64 * 1024;

/// A simulated Alumio task API for demos, tests and benchmarks.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:18080")]
    listen: SocketAddr,
    /// A file holding the bearer token to require (else ALUMIO_SIM_TOKEN; neither: no check).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Latency added to every task reply, such as 20ms.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0ms")]
    latency: Duration,
    /// How many tasks each space holds.
    #[arg(long, default_value_t = 1000)]
    tasks_per_space: usize,
    /// The seed every task is generated from.
    #[arg(long, default_value_t = SimConfig::default().seed)]
    seed: u64,
    /// A space that holds tasks; repeat for several (default: acme-prod, acme-staging, globex).
    #[arg(long = "space", value_name = "SPACE")]
    spaces: Vec<SpaceIdentifier>,
}

/// Where the token came from, for the banner.
fn read_token(file: Option<&Path>) -> anyhow::Result<(Option<SecretString>, &'static str)> {
    if let Some(path) = file {
        let length = std::fs::metadata(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?
            .len();
        if length > TOKEN_FILE_LIMIT {
            bail!(
                "the token file {} is larger than {TOKEN_FILE_LIMIT} bytes",
                path.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        let token = text.trim();
        if token.is_empty() {
            bail!("the token file {} is empty", path.display());
        }
        return Ok((Some(SecretString::from(token)), "the token file"));
    }
    match std::env::var(TOKEN_VARIABLE) {
        Ok(token) if !token.trim().is_empty() => {
            Ok((Some(SecretString::from(token.trim())), TOKEN_VARIABLE))
        }
        _ => Ok((None, "nowhere")),
    }
}

/// Completes on SIGINT or SIGTERM.
// Not the gateway's `shutdown_signal`: the simulator must not depend on the gateway before it.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

fn print_banner(
    sim: &Simulator,
    address: SocketAddr,
    token_source: &str,
    has_token: bool,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let base = format!("http://{address}");
    writeln!(out, "alumio-sim listening on {base}")?;
    if has_token {
        writeln!(out, "bearer token required (from {token_source})")?;
    } else {
        writeln!(
            out,
            "no bearer token required (set {TOKEN_VARIABLE} or --token-file to require one)"
        )?;
    }
    let auth = if has_token {
        " -H \"Authorization: Bearer $TOKEN\""
    } else {
        ""
    };
    for space in sim.spaces() {
        let count = sim.task_identifiers(space).count();
        writeln!(out, "space {space}: {count} tasks")?;
        for identifier in sim.task_identifiers(space).take(2) {
            writeln!(
                out,
                "  curl{auth} '{base}/api/v1/tasks/{identifier}?space={space}'"
            )?;
        }
    }
    writeln!(out, "counters: curl '{base}/_sim/stats'")?;
    writeln!(
        out,
        "faults:   curl -X PUT '{base}/_sim/fault' -d '{{\"mode\":\"down\",\"latencyMs\":0}}'"
    )?;
    out.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (token, token_source) = read_token(args.token_file.as_deref())?;
    let has_token = token.is_some();
    let defaults = SimConfig::default();
    let config = SimConfig {
        token,
        default_space: args
            .spaces
            .first()
            .cloned()
            .unwrap_or(defaults.default_space),
        spaces: if args.spaces.is_empty() {
            defaults.spaces
        } else {
            args.spaces
        },
        tasks_per_space: args.tasks_per_space,
        seed: args.seed,
        latency: args.latency,
    };
    let sim = Simulator::new(config);
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the listening address")?;
    print_banner(&sim, address, token_source, has_token)?;
    sim.serve(listener, shutdown_signal())
        .await
        .context("the server failed")?;
    Ok(())
}
