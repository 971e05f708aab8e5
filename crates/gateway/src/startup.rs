//! `Application`: the one way to start a gateway from its [`Settings`], used by the binary and
//! by the black-box tests alike.
//!
//! [`Application::build`] does everything that can fail before the first request (the upstream
//! and its client, the access policy, the admin token, both listeners), so a misconfigured
//! gateway stops before it serves anyone; [`Application::run_until_stopped`] then serves both
//! listeners until one shutdown future completes and lets in-flight requests finish.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use alumio_transport::{AlumioClient, RetryPolicy, TransportError};
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::access::{self, AccessPolicy};
use crate::admin::{self, AdminSettings, AdminToken};
use crate::config::{ConfigError, Settings, UpstreamChoice};
#[cfg(feature = "demo")]
use crate::demo::DemoUpstream;
use crate::routes::{Endpoint, endpoint, endpoint_without_metrics};
use crate::server::{ServeLimits, run_with_limits};
use crate::shared_tier::SharedTierSettings;
use crate::state::{AppState, StateSettings};

/// Why a gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// The settings cannot be used; the binary exits with `EX_USAGE` (64).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not be bound.
    #[error("binding the {listener} listener {address}")]
    Bind {
        /// `consumer` or `admin`.
        listener: &'static str,
        /// The address asked for.
        address: SocketAddr,
        /// Why binding failed.
        #[source]
        source: io::Error,
    },
    /// The simulated Alumio of `--demo` did not start.
    #[cfg(feature = "demo")]
    #[error("starting the demo simulator")]
    Demo(#[source] io::Error),
}

/// A gateway whose listeners are bound, ready to serve.
pub struct Application {
    state: AppState,
    upstream_url: String,
    limits: ServeLimits,
    consumers: BoundEndpoint,
    admin: Option<BoundEndpoint>,
    serve_metrics_on_admin: bool,
    consumers_watch: Option<AbortOnDrop>,
    #[cfg(feature = "demo")]
    demo: Option<DemoUpstream>,
}

/// What a listener serves (the hit path and router, or the admin router), and the listener.
struct BoundEndpoint {
    listener: TcpListener,
    address: SocketAddr,
    endpoint: Endpoint,
}

/// Where answers come from: Alumio, or the simulator started for `--demo`.
struct Upstream {
    url: String,
    token: SecretString,
    #[cfg(feature = "demo")]
    demo: Option<DemoUpstream>,
}

impl Application {
    /// Builds the gateway the settings describe, as [`Settings::load`] returns them: starts the
    /// simulator for `--demo`, builds the Alumio client, the access policy (the secure default:
    /// consumers file, `--allow-anonymous`, or the demo on loopback) and the admin token, and
    /// binds both listeners. Call it within a Tokio runtime; it starts the consumers file's
    /// watcher.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let upstream = Upstream::start(&settings).await?;
        let client = upstream_client(&upstream.url, upstream.token, &settings)?;
        // Checked after the upstream, so a wrong URL is reported before a missing consumers file.
        let access = access::policy_from_settings(&settings)?;
        let admin_token = admin::admin_token_from_settings(&settings)?;
        let state_settings = StateSettings {
            shared_tier: SharedTierSettings::from_settings(&settings)?,
            ..StateSettings::from(&settings)
        };
        // With --redis-url this starts connecting in the background and never waits for Redis.
        let state = AppState::new(client, &state_settings, access.clone());
        let consumers_watch = watch_consumers_file(&access, &state);
        // Fresh hits are answered by the hit path in front of the consumer router.
        let consumer_endpoint = if settings.metrics_on_admin {
            endpoint_without_metrics(state.clone())
        } else {
            endpoint(state.clone())
        };
        let consumers = BoundEndpoint::bind("consumer", settings.listen, consumer_endpoint).await?;
        let admin = match (settings.admin_listen, admin_token) {
            (Some(address), Some(token)) => {
                Some(bind_admin(address, token, settings.metrics_on_admin, &state).await?)
            }
            _ => None,
        };
        Ok(Self {
            state,
            upstream_url: upstream.url,
            limits: ServeLimits::from(&settings),
            consumers,
            admin,
            serve_metrics_on_admin: settings.metrics_on_admin,
            consumers_watch,
            #[cfg(feature = "demo")]
            demo: upstream.demo,
        })
    }

    /// Where consumers reach the gateway: the bound address, so a `--listen` port of 0 shows
    /// the port the system chose.
    pub fn address(&self) -> SocketAddr {
        self.consumers.address
    }

    /// Where the admin API listens, when `--admin-listen` is given.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.address)
    }

    /// The state both routers share, for looking inside (tests, embedding).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The simulator behind the gateway, when `--demo` is given.
    #[cfg(feature = "demo")]
    pub fn demo(&self) -> Option<&DemoUpstream> {
        self.demo.as_ref()
    }

    /// Serves consumers, and the admin API if it is on, until `shutdown` completes; then both
    /// listeners stop accepting and in-flight requests get `--shutdown-timeout` to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> io::Result<()> {
        let Self {
            upstream_url,
            limits,
            consumers,
            admin,
            serve_metrics_on_admin,
            consumers_watch,
            ..
        } = self;
        // One shutdown stops both listeners.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };
        let forward_shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
            Ok::<(), io::Error>(())
        };
        tracing::info!(address = %consumers.address, upstream = %upstream_url, "alumio-gateway is serving");
        let serve_consumers = run_with_limits(
            consumers.listener,
            consumers.endpoint,
            until_stopped(),
            limits,
        );
        let serve_admin = async {
            let Some(admin) = admin else {
                return Ok(());
            };
            tracing::info!(address = %admin.address, metrics = serve_metrics_on_admin, "admin API is serving");
            run_with_limits(admin.listener, admin.endpoint, until_stopped(), limits).await
        };
        tokio::try_join!(forward_shutdown, serve_consumers, serve_admin)?;
        drop(consumers_watch);
        Ok(())
    }
}

/// Keeps the consumers file, if there is one, in force as it changes or on SIGHUP.
fn watch_consumers_file(access: &AccessPolicy, state: &AppState) -> Option<AbortOnDrop> {
    let AccessPolicy::Consumers(registry) = access else {
        return None;
    };
    Some(AbortOnDrop(access::watch_consumers(
        Arc::clone(registry),
        state.metrics().access.clone(),
        access::POLL_INTERVAL,
    )))
}

/// The admin router over `state`, bound to `address`.
async fn bind_admin(
    address: SocketAddr,
    token: AdminToken,
    serve_metrics: bool,
    state: &AppState,
) -> Result<BoundEndpoint, StartupError> {
    let router = admin::router(
        state.clone(),
        AdminSettings {
            token,
            serve_metrics,
        },
    );
    let admin = BoundEndpoint::bind("admin", address, router).await?;
    if !address.ip().is_loopback() {
        tracing::warn!(admin_address = %admin.address, "the admin API listens beyond loopback; keep it on a private network");
    }
    Ok(admin)
}

impl BoundEndpoint {
    async fn bind(
        listener: &'static str,
        address: SocketAddr,
        endpoint: impl Into<Endpoint>,
    ) -> Result<Self, StartupError> {
        let bind_error = |source| StartupError::Bind {
            listener,
            address,
            source,
        };
        let bound = TcpListener::bind(address).await.map_err(bind_error)?;
        let address = bound.local_addr().map_err(bind_error)?;
        Ok(Self {
            listener: bound,
            address,
            endpoint: endpoint.into(),
        })
    }
}

impl Upstream {
    /// Resolves where answers come from, starting the simulator for `--demo`.
    async fn start(settings: &Settings) -> Result<Self, StartupError> {
        match settings.upstream_choice()? {
            UpstreamChoice::Alumio { url, token } => Ok(Self {
                url,
                token,
                #[cfg(feature = "demo")]
                demo: None,
            }),
            #[cfg(feature = "demo")]
            UpstreamChoice::Demo => {
                let demo = DemoUpstream::start().await.map_err(StartupError::Demo)?;
                Ok(Self {
                    url: demo.url.clone(),
                    token: demo.token.clone(),
                    demo: Some(demo),
                })
            }
        }
    }
}

/// The Alumio client the settings describe, for the API at `url` with `token`; a URL or
/// setting the client refuses is a configuration error naming `--upstream`.
fn upstream_client(
    url: &str,
    token: SecretString,
    settings: &Settings,
) -> Result<AlumioClient, ConfigError> {
    let retry = RetryPolicy {
        max_attempts: settings.upstream_attempts,
        overall_deadline: settings.upstream_timeout * settings.upstream_attempts
            + settings.upstream_connect_timeout,
        ..RetryPolicy::default()
    };
    AlumioClient::builder(url, token)
        .connect_timeout(settings.upstream_connect_timeout)
        .request_timeout(settings.upstream_timeout)
        .retry_policy(retry)
        .max_body_bytes(usize::try_from(settings.upstream_max_body).unwrap_or(usize::MAX))
        .user_agent_suffix(concat!("alumio-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error: TransportError| ConfigError::Invalid {
            setting: "--upstream",
            reason: error.to_string(),
        })
}

/// Stops a background task when the application that started it ends, so that it does not
/// outlive the gateway (in tests, several run in one process).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
