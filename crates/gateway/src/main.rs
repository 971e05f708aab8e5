//! The `alumio-gateway` binary: reads settings, sets up logging, binds and serves.

use std::process::ExitCode;

use alumio_gateway::access::{self, AccessPolicy};
use alumio_gateway::admin::{self, AdminSettings};
use alumio_gateway::config::UpstreamChoice;
use alumio_gateway::demo::DemoUpstream;
use alumio_gateway::state::upstream_client;
use alumio_gateway::{
    AppState, ConfigError, ServeLimits, Settings, StateSettings, app, app_without_metrics,
    run_with_limits, shutdown_signal, telemetry,
};
use anyhow::Context;

/// `EX_USAGE` from sysexits.h: the configuration is wrong.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|command| command == "hash-key") {
        let result = access::hash_key_command(
            args.get(2..).unwrap_or_default(),
            &mut std::io::stdin().lock(),
            &mut std::io::stdout().lock(),
        );
        return result.map_or_else(|error| usage_error(&error), |()| ExitCode::SUCCESS);
    }
    let settings = match Settings::load(args) {
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
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = settings.worker_threads {
        runtime.worker_threads(threads);
    }
    let runtime = match runtime.enable_all().build() {
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
            eprintln!("alumio-gateway: {error}");
            std::process::exit(i32::from(EXIT_USAGE));
        }
    };
    // Checked after the upstream, so a wrong URL is reported before a missing consumers file.
    let access_and_admin = access::policy_from_settings(&settings)
        .and_then(|access| Ok((access, admin::admin_token_from_settings(&settings)?)));
    let (access, admin_token) = match access_and_admin {
        Ok(both) => both,
        Err(error) => {
            eprintln!("alumio-gateway: {error}");
            std::process::exit(i32::from(EXIT_USAGE));
        }
    };
    let state_settings = StateSettings {
        access: access.clone(),
        ..StateSettings::from(&settings)
    };
    let state = AppState::new(client, &state_settings);
    if let AccessPolicy::Consumers(registry) = &access {
        access::watch_consumers(
            std::sync::Arc::clone(registry),
            state.metrics().access.clone(),
            access::POLL_INTERVAL,
        );
    }
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let admin_listener = match settings.admin_listen {
        Some(admin_address) => {
            let listener = tokio::net::TcpListener::bind(admin_address)
                .await
                .with_context(|| format!("binding the admin listener {admin_address}"))?;
            if !admin_address.ip().is_loopback() {
                tracing::warn!(%admin_address, "the admin API listens beyond loopback; keep it on a private network");
            }
            Some(listener)
        }
        None => None,
    };
    let address = listener.local_addr().context("reading the bound address")?;
    tracing::info!(%address, upstream = %url, "alumio-gateway is serving");
    if let Some(demo) = &demo {
        print_demo_banner(&address, demo);
    }
    // One signal stops both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let consumer_router = if settings.metrics_on_admin {
        app_without_metrics(state.clone())
    } else {
        app(state.clone())
    };
    let serve_admin = async {
        let (Some(listener), Some(token)) = (admin_listener, admin_token) else {
            return Ok(());
        };
        let address = listener.local_addr().context("reading the admin address")?;
        tracing::info!(%address, metrics = settings.metrics_on_admin, "admin API is serving");
        let router = admin::router(
            state,
            AdminSettings {
                token,
                serve_metrics: settings.metrics_on_admin,
            },
        );
        run_with_limits(
            listener,
            router,
            until_stopped(stopped.clone()),
            ServeLimits::from(&settings),
        )
        .await
        .context("serving the admin API")
    };
    let serve_consumers = async {
        run_with_limits(
            listener,
            consumer_router,
            until_stopped(stopped.clone()),
            ServeLimits::from(&settings),
        )
        .await
        .context("serving")
    };
    tokio::try_join!(serve_consumers, serve_admin).map(|_| ())
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
