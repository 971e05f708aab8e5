//! The `alumio-gateway` binary: reads settings, sets up logging, starts the [`Application`] and
//! turns what went wrong into an exit code.

use std::process::ExitCode;

use alumio_gateway::{
    Application, ConfigError, Settings, StartupError, access, huge_pages, shutdown_signal,
    telemetry,
};

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
    // Before any thread starts: this may replace the process with itself under other tunables.
    let heap_pages = huge_pages::prepare(settings.huge_pages);
    telemetry::init(settings.log_format);
    heap_pages.log();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = settings.worker_threads {
        runtime.worker_threads(threads);
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(serve(settings)),
        Err(error) => failure(anyhow::Error::new(error).context("starting the async runtime")),
    }
}

async fn serve(settings: Settings) -> ExitCode {
    // Listening before start-up, so that a SIGTERM during it is a clean stop.
    let shutdown = shutdown_signal();
    let application = match Application::build(settings).await {
        Ok(application) => application,
        Err(StartupError::Config(error)) => return usage_error(&error),
        Err(error) => return failure(error.into()),
    };
    #[cfg(feature = "demo")]
    if let Some(demo) = application.demo() {
        print_demo_banner(application.address(), demo);
    }
    match application.run_until_stopped(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failure(anyhow::Error::new(error).context("serving")),
    }
}

fn usage_error(error: &ConfigError) -> ExitCode {
    eprintln!("alumio-gateway: {error}");
    ExitCode::from(EXIT_USAGE)
}

/// Reports an error that is not the configuration's, with its causes.
fn failure(error: anyhow::Error) -> ExitCode {
    tracing::error!("{error:#}");
    eprintln!("alumio-gateway: {error:#}");
    ExitCode::FAILURE
}

#[cfg(feature = "demo")]
#[allow(clippy::print_stdout)] // The banner is for the person who ran --demo.
fn print_demo_banner(address: std::net::SocketAddr, demo: &alumio_gateway::demo::DemoUpstream) {
    println!("\nDemo mode: a simulated Alumio answers behind the gateway. Try:\n");
    for (space, task) in demo.examples(3) {
        println!("  curl -si 'http://{address}/api/v1/tasks/{task}?space={space}'");
    }
    println!(
        "\nRun a line twice to see X-Cache: MISS then HIT; add -H 'If-None-Match: <etag>' for a 304.\n"
    );
}
