//! The `alumio-gateway` binary: reads settings, sets up logging, binds and serves.

use std::process::ExitCode;

use alumio_gateway::config::UpstreamChoice;
use alumio_gateway::demo::DemoUpstream;
use alumio_gateway::state::upstream_client;
use alumio_gateway::{
    AppState, ConfigError, Settings, StateSettings, app, run, shutdown_signal, telemetry,
};
use anyhow::Context;

/// `EX_USAGE` from sysexits.h: the configuration is wrong.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let settings = match Settings::load(std::env::args_os()) {
        Ok(settings) => settings,
        Err(ConfigError::CommandLine(error)) if !error.use_stderr() => {
            // --help and --version: clap prints them and they are not errors.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => return usage_error(&error),
    };
    let upstream = match settings.upstream_choice() {
        Ok(choice) => choice,
        Err(error) => return usage_error(&error),
    };
    telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("alumio-gateway: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(settings, upstream)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("alumio-gateway: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(error: &ConfigError) -> ExitCode {
    eprintln!("alumio-gateway: {error}");
    ExitCode::from(EXIT_USAGE)
}

async fn serve(settings: Settings, upstream: UpstreamChoice) -> anyhow::Result<()> {
    let (url, token, demo) = match upstream {
        UpstreamChoice::Alumio { url, token } => (url, token, None),
        UpstreamChoice::Demo => {
            let demo = DemoUpstream::start()
                .await
                .context("starting the demo simulator")?;
            (demo.url.clone(), demo.token.clone(), Some(demo))
        }
    };
    let client = match upstream_client(&url, token, &settings) {
        Ok(client) => client,
        Err(error) => {
            eprintln!("alumio-gateway: invalid setting --upstream: {error}");
            std::process::exit(i32::from(EXIT_USAGE));
        }
    };
    let state = AppState::new(client, &StateSettings::from(&settings));
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%address, upstream = %url, "alumio-gateway is serving");
    if let Some(demo) = &demo {
        print_demo_banner(&address, demo);
    }
    run(
        listener,
        app(state),
        shutdown_signal(),
        settings.shutdown_timeout,
    )
    .await
    .context("serving")
}

#[allow(clippy::print_stdout)] // The banner is for the person who ran --demo.
fn print_demo_banner(address: &std::net::SocketAddr, demo: &DemoUpstream) {
    println!("\nDemo mode: a simulated Alumio answers behind the gateway. Try:\n");
    for (space, task) in demo.examples(3) {
        println!("  curl -si 'http://{address}/api/v1/tasks/{task}?space={space}'");
    }
    println!(
        "\nRun a line twice to see X-Cache: MISS then HIT; add -H 'If-None-Match: <etag>' for a 304.\n"
    );
}
